//! First boot of an installed node: turn a freshly installed Proxmox VE
//! machine into a TAPPaaS cluster member.
//!
//! [`run`] reads the install plan the installer left on the node, then, one
//! journaled step at a time: waits for Proxmox's cluster filesystem,
//! creates the cluster (first node) or joins it through a peer (later
//! nodes), registers `tank1`/`tank2` as Proxmox storages for this node,
//! writes a root-only summary, and removes the first-boot marker.
//!
//! Every step decides what is left to do by reading Proxmox's state
//! (`cluster_status`, `storages`), never by matching error text, so a run
//! after a failure, a power cut or by hand continues where it stopped and
//! never makes a second cluster or storage or joins twice.
//!
//! On the first node, with a firewall in the plan, it then makes the
//! service VM template, deploys the OPNsense firewall (VM, configuration
//! through its serial console, the node's default route) and the planned
//! services in dependency order (see docs/first-boot.md).
//!
//! [`status`] tells what the cluster looks like and what first boot has
//! done on this node.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

pub mod backup;
mod backup_server;
mod cluster;
mod config;
mod dependant;
mod deploy;
mod error;
mod firewall;
mod host;
pub mod lock;
mod private_file;
mod run;
mod service;
mod services_cmd;
mod status;
mod storage;
mod summary;
mod vm;
mod wait;

pub use config::Config;
pub use deploy::{
    load_records, snippet, Outcome as ServiceOutcome, Record as ServiceRecord, Records,
    FIREWALL_NAME, TEMPLATE_NAME, TEMPLATE_VMID,
};
pub use error::FirstbootError;
pub use firewall::zone_dhcp;
pub use host::{
    probe, replace_gateway, Host, PeerFingerprint, SystemHost, PEER_PASSWORD_NAME, QEMU_SOCKETS,
};
pub use run::{load_plan, run, step_list, Outcome, PlannedStep};
pub use services_cmd::{
    deploy_services, render_service_list, service_state, service_user_data, services_list, UserData,
};
pub use status::status;

/// The Proxmox client, so that a caller needs no second dependency to
/// build one.
pub use tappaas_proxmox as proxmox;

/// Exit status when Proxmox VE is not installed on this node (the `test`
/// flavour of the ISO): nothing was done, and that is not a crash.
pub const EXIT_NO_PROXMOX: u8 = 3;

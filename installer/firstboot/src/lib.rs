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
//! [`status`] tells what the cluster looks like and what first boot has
//! done on this node.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod cluster;
mod config;
mod error;
mod host;
mod run;
mod status;
mod storage;
mod summary;
mod wait;

pub use config::Config;
pub use error::FirstbootError;
pub use host::{Host, PeerFingerprint, SystemHost, PEER_PASSWORD_NAME};
pub use run::{load_plan, run, step_list, Outcome, PlannedStep};
pub use status::status;

/// The Proxmox client, so that a caller needs no second dependency to
/// build one.
pub use tappaas_proxmox as proxmox;

/// Exit status when Proxmox VE is not installed on this node (the `test`
/// flavour of the ISO): nothing was done, and that is not a crash.
pub const EXIT_NO_PROXMOX: u8 = 3;

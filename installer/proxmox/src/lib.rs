//! The one way the TAPPaaS installer talks to Proxmox VE.
//!
//! - [`schema`]: checks any request against the public Proxmox VE API
//!   schema, so calls are verified without a Proxmox node.
//! - [`client`]: the [`Api`] transport trait and the typed layer
//!   [`Proxmox`] with the calls first boot needs.
//! - [`pvesh`]: the transport used on a node (`pvesh` with JSON output).
//! - `sim` (feature `sim`, tests only): a stateful simulator of a group of
//!   Proxmox machines.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]
// Unit tests may unwrap: a panic there is a test failure with a location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod client;
pub mod formats;
pub mod pvesh;
pub mod request;
pub mod schema;
#[cfg(feature = "sim")]
pub mod sim;
pub mod utc;

pub use client::{Api, ApiError, Proxmox};
pub use pvesh::{
    CommandOutput, CommandRunner, EffectsRunner, Invocation, Limits, PveshApi, SystemRunner,
};
pub use request::{Method, Request};
pub use schema::{Rule, Schema, SchemaError, SchemaLoadError};
#[cfg(feature = "sim")]
pub use sim::{FailWhen, GuestBoot, MachineSpec, SimExec, SimNode, SimVm, Simulator};

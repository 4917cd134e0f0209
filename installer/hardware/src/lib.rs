//! The machine profile: what the installer knows about the hardware.
//!
//! A profile is plain data. `probe` builds one from a live system (or a
//! recorded sysroot), and everything downstream (the planner, the wizard)
//! only ever reads a profile, so it can be tested on recorded machines.

pub mod probe;
mod profile;
pub mod render;

pub use probe::{probe, resolve_disk, ProbeError, ResolvedDisk, INSTALLER_MEDIUM_LABEL};
pub use profile::*;
pub use render::render_text;

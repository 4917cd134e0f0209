//! Seeded mutation fuzzers for what the installer reads from outside:
//!
//! - `answer`: answer files (parse, validate, save, plan);
//! - `machine`: recorded machines with odd `/sys`, `/proc` and udev values
//!   (probe a changed copy of a fixture's sysroot, then plan);
//! - `console`: what OPNsense's serial console prints (the console driver
//!   against a played console whose output is cut, garbled or silent);
//! - `proxmox`: what `pvesh` prints for every call of the typed client.
//!
//! Stable Rust only: each case comes from a small seeded generator
//! ([`rng::Rng`]) that mutates the project's own fixtures, runs under
//! `catch_unwind`, and a case that panics is saved as a file that
//! `tappaas-fuzz replay` runs again. `scripts/fuzz` runs a million cases
//! per target; `tests/smoke.rs` a few thousand, so the fuzzers cannot rot.
//! See docs/performance.md.

pub mod mutate;
pub mod rng;
pub mod run;
pub mod target;
pub mod targets;

pub use run::{fuzz, replay, Report};
pub use target::{Outcome, Target};
pub use targets::{target_by_name, TARGET_NAMES};

//! Test harness for the TAPPaaS installer ISO: start a QEMU VM (BIOS or
//! UEFI, disks with serials, NICs, the ISO as CD or USB stick), then drive
//! its serial console expect-style: wait for a regex, then send. Used by the
//! boot tests in `tests/` and meant for the install tests that follow
//! (boot, answer the wizard, check the disks).

pub mod console;
pub mod qemu;

use std::path::PathBuf;

pub use console::{Console, ExpectError, Matched};
pub use qemu::{Disk, DiskBus, Firmware, Medium, NetBackend, Nic, Vm, VmConfig};

/// Environment variable naming the ISO under test.
pub const ISO_ENV: &str = "TAPPAAS_ISO";

/// The ISO to test, or `None` (with a printed reason) when `TAPPAAS_ISO` is
/// unset or names no file: the caller then skips its test.
pub fn iso_under_test(test: &str) -> Option<PathBuf> {
    match std::env::var_os(ISO_ENV) {
        None => {
            println!(
                "SKIPPED {test}: set {ISO_ENV} to an ISO (scripts/vm-tests builds one and sets it)"
            );
            None
        }
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_file() {
                Some(p)
            } else {
                println!("SKIPPED {test}: {ISO_ENV}={} does not exist", p.display());
                None
            }
        }
    }
}

/// A fresh working directory for one VM: `$TAPPAAS_VM_WORK/<name>` when set,
/// else under the system's temporary directory.
pub fn work_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("TAPPAAS_VM_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tappaas-vmtests"));
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

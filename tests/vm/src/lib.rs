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

/// Runs a host tool the test needs (qemu-img, xorriso, ...) and returns
/// its standard output; fails the test with its standard error.
pub fn host_command(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (run scripts/setup-host)"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A machine to install on: 3 GiB, `disks`, one virtio NIC per MAC, the
/// ISO as a CD when given, and no reboot (a reboot ends QEMU, so the test
/// sees it).
pub fn install_vm(
    name: &str,
    dir: &std::path::Path,
    disks: &[Disk],
    macs: &[&str],
    firmware: Firmware,
    iso: Option<&std::path::Path>,
) -> Vm {
    let mut c = VmConfig::new(name, dir.join(name))
        .firmware(firmware)
        .memory_mib(3072)
        .no_reboot();
    c.disks = disks.to_vec();
    for m in macs {
        c = c.nic(m);
    }
    if let Some(iso) = iso {
        c = c.boot_from(Medium::Cdrom, iso);
    }
    c.spawn().unwrap_or_else(|e| panic!("{name}: {e}"))
}

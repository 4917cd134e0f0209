//! Test harness for the TAPPaaS installer ISO: start a QEMU VM (BIOS or
//! UEFI, disks with serials, NICs, the ISO as CD or USB stick), then drive
//! its serial console expect-style: wait for a regex, then send. Used by the
//! boot tests in `tests/` and meant for the install tests that follow
//! (boot, answer the wizard, check the disks).

pub mod console;
pub mod node;
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
    let nics: Vec<Nic> = macs
        .iter()
        .map(|m| Nic {
            mac: m.to_string(),
            model: "virtio-net-pci".into(),
            backend: NetBackend::User,
        })
        .collect();
    install_vm_with_nics(name, dir, disks, &nics, firmware, iso)
}

/// [`install_vm`] with these NICs (e.g. one linked to another VM).
pub fn install_vm_with_nics(
    name: &str,
    dir: &std::path::Path,
    disks: &[Disk],
    nics: &[Nic],
    firmware: Firmware,
    iso: Option<&std::path::Path>,
) -> Vm {
    let mut c = VmConfig::new(name, dir.join(name))
        .firmware(firmware)
        .memory_mib(3072)
        .no_reboot();
    c.disks = disks.to_vec();
    c.nics = nics.to_vec();
    if let Some(iso) = iso {
        c = c.boot_from(Medium::Cdrom, iso);
    }
    c.spawn().unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs a shell command on a console that has a root shell (a logged-in
/// node, a debug shell) and returns what it printed, between markers so
/// that the typed command's echo and the prompt are left out.
pub fn shell_output(
    console: &mut Console,
    command: &str,
    timeout: std::time::Duration,
) -> Result<String, ExpectError> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    console.send_line(&format!(
        "echo BEGIN-{id}; {command}; echo END-{id} status=$?"
    ))?;
    let pattern = format!(r"(?s)\nBEGIN-{id}\r?\n(.*?)END-{id} status=(\d+)");
    let m = console.expect(&pattern, timeout)?;
    Ok(m.groups
        .get(1)
        .cloned()
        .flatten()
        .unwrap_or_default()
        .replace('\r', ""))
}

/// Copies one file out of an ISO image (xorriso), e.g. the live system's
/// kernel for a boot without GRUB.
pub fn iso_extract(iso: &std::path::Path, inside: &str, out: &std::path::Path) {
    let _ = std::fs::remove_file(out);
    host_command(
        "xorriso",
        &[
            "-osirrox",
            "on",
            "-indev",
            &iso.display().to_string(),
            "-extract",
            inside,
            &out.display().to_string(),
        ],
    );
}

/// Boots the ISO's live kernel and initramfs directly (no firmware menu,
/// no GRUB) with `cmdline`, the ISO still attached so that live-boot finds
/// its medium: the same kernel, the command line under the test's control.
pub fn boot_live_kernel(
    config: VmConfig,
    iso: &std::path::Path,
    dir: &std::path::Path,
    cmdline: &str,
) -> VmConfig {
    std::fs::create_dir_all(dir).expect("work dir");
    let kernel = dir.join("vmlinuz");
    let initrd = dir.join("initrd.img");
    iso_extract(iso, "/live/vmlinuz", &kernel);
    iso_extract(iso, "/live/initrd.img", &initrd);
    // The CD on the port a boot CD would use, without a boot index: QEMU
    // gives the kernel it loads index 0.
    config
        .arg("-drive")
        .arg(&format!(
            "if=none,id=live,media=cdrom,readonly=on,format=raw,file={}",
            iso.display()
        ))
        .arg("-device")
        .arg("ide-cd,drive=live,bus=ide.0")
        .arg("-kernel")
        .arg(&kernel.display().to_string())
        .arg("-initrd")
        .arg(&initrd.display().to_string())
        .arg("-append")
        .arg(cmdline)
}

/// Waits for a root shell on the console (systemd's debug shell, which
/// drops what was typed before it started: so ask again, every second, until
/// it answers). The match's time is when the shell answered, within a second.
pub fn wait_for_shell(
    console: &mut Console,
    timeout: std::time::Duration,
) -> Result<Matched, ExpectError> {
    let started = std::time::Instant::now();
    loop {
        console.send_line("echo SHELL-$((6*7))")?;
        match console.expect(r"SHELL-42", std::time::Duration::from_secs(1)) {
            Ok(m) => return Ok(m),
            Err(ExpectError::Timeout { .. }) if started.elapsed() < timeout => {}
            Err(e) => return Err(e),
        }
    }
}

/// One step of an install as the engine reports it on the console:
/// `[ 7/12] bootloader: done in 79.1 s`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTime {
    pub id: String,
    pub seconds: f64,
}

/// The steps the install engine reported done in `output`, in order.
pub fn step_times(output: &str) -> Vec<StepTime> {
    let re =
        regex::Regex::new(r"\[\s*\d+/\d+\] ([A-Za-z0-9_.-]+): done in ([0-9]+(?:\.[0-9]+)?) s")
            .expect("valid pattern");
    re.captures_iter(output)
        .filter_map(|c| {
            Some(StepTime {
                id: c.get(1)?.as_str().to_string(),
                seconds: c.get(2)?.as_str().parse().ok()?,
            })
        })
        .collect()
}

/// One command of a step with the time until the next one started (or the
/// step ended), from the engine's log (`[   12.3] line`, a step starting
/// with `== step ID: ...`, a command's output indented).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTime {
    pub command: String,
    pub seconds: f64,
}

pub fn command_times(log: &str, step: &str) -> Vec<CommandTime> {
    let re = regex::Regex::new(r"^\[\s*([0-9]+(?:\.[0-9]+)?)\] (.*)$").expect("valid pattern");
    let header = format!("== step {step}:");
    let mut inside = false;
    let mut open: Option<(String, f64)> = None;
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(c) = re.captures(line) else { continue };
        let (Some(stamp), Some(text)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let Ok(stamp) = stamp.as_str().parse::<f64>() else {
            continue;
        };
        let text = text.as_str();
        if text.starts_with(&header) {
            inside = true;
            continue;
        }
        if !inside || text.starts_with("  ") {
            continue;
        }
        if let Some((command, began)) = open.take() {
            out.push(CommandTime {
                command,
                seconds: stamp - began,
            });
        }
        // The next step, a failure or the end closes this step.
        if text.starts_with("== step ") || text.starts_with("!! ") || text.contains(" finished in ")
        {
            break;
        }
        open = Some((text.to_string(), stamp));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_times_are_read_from_the_engine_lines() {
        let out =
            "[ 6/12] Copy the test system onto rpool ...\n[ 6/12] install-system: done in 57.2 s\n\
                   noise [ 1/3] x: done in s\n[12/12] finish: done in 3 s\n";
        assert_eq!(
            step_times(out),
            vec![
                StepTime {
                    id: "install-system".into(),
                    seconds: 57.2
                },
                StepTime {
                    id: "finish".into(),
                    seconds: 3.0
                },
            ]
        );
    }

    #[test]
    fn command_times_run_to_the_next_command_or_step() {
        let log = "[   1.0] == step configure: Configure\n[   1.5] ssh-keygen -A\n\
                   [   2.0] == step bootloader: Make the node bootable\n[   2.0] mount /dev\n\
                   [   2.5] update-initramfs -u -k all\n[  40.5]   update-initramfs: Generating\n\
                   [  52.5] update-grub\n[  60.0] == step pool-tank1: Create\n[  61.0] zpool create\n";
        let got = command_times(log, "bootloader");
        assert_eq!(
            got,
            vec![
                CommandTime {
                    command: "mount /dev".into(),
                    seconds: 0.5
                },
                CommandTime {
                    command: "update-initramfs -u -k all".into(),
                    seconds: 50.0
                },
                CommandTime {
                    command: "update-grub".into(),
                    seconds: 7.5
                },
            ]
        );
    }
}

//! The installer ISO boots in QEMU (TCG) by legacy BIOS and by UEFI, from a
//! CD and from a USB stick; the installer comes up on the serial console and
//! lists the VM's disks (by the serials given to QEMU) and NICs (by MAC).
//! Skipped unless TAPPAAS_ISO names an ISO (scripts/vm-tests sets it).
//! And `scripts/try`, as a newcomer runs it, shows the wizard on the
//! terminal with no key pressed.

use std::sync::Mutex;
use std::time::Duration;

use tappaas_vmtests::{
    boot_live_kernel, iso_under_test, shell_output, wait_for_shell, work_dir, Firmware, Medium,
    VmConfig,
};

/// One VM at a time: TCG on two cores is slow enough already.
static ONE_VM: Mutex<()> = Mutex::new(());

const SERIALS: [&str; 4] = [
    "TAPPAAS-DISK1",
    "TAPPAAS-DISK2",
    "TAPPAAS-DISK3",
    "TAPPAAS-DISK4",
];
/// A screen is drawn once the guest has been silent this long.
const QUIET: Duration = Duration::from_millis(1500);
const MACS: [&str; 2] = ["52:54:00:7a:00:01", "52:54:00:7a:00:02"];

fn boot_to_installer(name: &str, firmware: Firmware, medium: Medium) {
    let Some(iso) = iso_under_test(name) else {
        return;
    };
    let _one = ONE_VM.lock().unwrap_or_else(|p| p.into_inner());
    // 4 GiB: below 2 GiB the installer reports an error on the hardware page.
    let mut config = VmConfig::new(name, work_dir(name))
        .firmware(firmware)
        .memory_mib(4096)
        .boot_from(medium, &iso);
    for s in SERIALS {
        config = config.disk(s, "8G");
    }
    for m in MACS {
        config = config.nic(m);
    }
    let mut vm = config.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let c = &mut vm.console;

    // GRUB's menu, drawn on the serial port too; pick the serial entry by
    // its hotkey instead of waiting for the timeout.
    let menu = c
        .expect(
            r"TAPPaaS installer \(serial console\)",
            Duration::from_secs(240),
        )
        .unwrap_or_else(|e| panic!("{name}: no GRUB menu: {e}\nQEMU said: {}", vm.qemu_stderr()));
    println!("{name}: GRUB menu after {:.1}s", menu.at.as_secs_f64());
    vm.console
        .send("s")
        .unwrap_or_else(|e| panic!("{name}: {e}"));

    // The live system starts the installer (the wizard) on ttyS0.
    let c = &mut vm.console;
    // The launcher says so when the installer exits: fail at once then.
    let outcome = c
        .wait_screen(
            "the installer's first screen",
            Duration::from_secs(600),
            |screen| {
                if screen.contains("The installer exited") {
                    Some(Err(screen.to_string()))
                } else if screen.contains("TAPPaaS installer - step ") {
                    Some(Ok(()))
                } else {
                    None
                }
            },
        )
        .unwrap_or_else(|e| panic!("{name}: the installer did not come up: {e}"));
    if let Err(screen) = outcome {
        panic!("{name}: the installer stopped instead of showing the wizard:\n{screen}\nserial log: {}", c.log_path().display());
    }
    println!(
        "{name}: installer on screen after {:.1}s from power-on",
        c.elapsed().as_secs_f64()
    );

    // Go forward (Enter) to the hardware check, which lists what the probe
    // found; scroll (PgDn) if it does not fit. Nothing is written to any
    // disk before the summary, several steps later.
    let wanted: Vec<&str> = SERIALS.iter().chain(MACS.iter()).copied().collect();
    let mut seen: Vec<&str> = Vec::new();
    let mut moves = 0;
    loop {
        // Let the wizard finish drawing before reading the screen.
        c.wait_quiet(QUIET, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{name}: the screen never settled: {e}"));
        let screen = c.screen();
        for w in &wanted {
            if screen.contains(w) && !seen.contains(w) {
                seen.push(w);
            }
        }
        if seen.len() == wanted.len() {
            break;
        }
        moves += 1;
        assert!(
            moves <= 6,
            "{name}: the installer never showed all of {wanted:?} (saw {seen:?}); screen:\n{screen}\nserial log: {}",
            c.log_path().display()
        );
        let on_hardware = screen.contains("Hardware") || !seen.is_empty();
        c.send(if on_hardware { "\x1b[6~" } else { "\r" })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Wait for the screen to change rather than for a fixed time.
        let before = screen;
        let changed = c.wait_screen("the screen to change", Duration::from_secs(60), |now| {
            (now != before).then_some(())
        });
        if let Err(e) = changed {
            if !on_hardware {
                panic!("{name}: no reaction to Enter: {e}");
            }
        }
    }
    println!(
        "{name}: disks {SERIALS:?} and NICs {MACS:?} listed after {:.1}s; serial log {}",
        c.elapsed().as_secs_f64(),
        c.log_path().display()
    );
}

#[test]
fn bios_cdrom_boots_to_installer() {
    boot_to_installer("bios-cdrom", Firmware::Bios, Medium::Cdrom);
}

#[test]
fn uefi_cdrom_boots_to_installer() {
    boot_to_installer("uefi-cdrom", Firmware::Uefi, Medium::Cdrom);
}

// From a USB stick: the hybrid image written as is, on an xHCI port.
#[test]
fn uefi_usb_boots_to_installer() {
    boot_to_installer("uefi-usb", Firmware::Uefi, Medium::Usb);
}

#[test]
fn bios_usb_boots_to_installer() {
    boot_to_installer("bios-usb", Firmware::Bios, Medium::Usb);
}

/// The README's first command: `scripts/try` boots the ISO with the serial
/// port on the terminal, and the wizard must come up there by itself (the
/// VM's screen is not shown). Nothing is sent to the VM.
#[test]
fn scripts_try_shows_the_wizard_with_no_key_pressed() {
    let name = "scripts-try";
    let Some(iso) = iso_under_test(name) else {
        return;
    };
    let _one = ONE_VM.lock().unwrap_or_else(|p| p.into_inner());
    let dir = work_dir(name);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/try");
    let args = [
        "--iso".to_string(),
        iso.display().to_string(),
        "--work".to_string(),
        dir.join("disks").display().to_string(),
    ];
    let mut vm = VmConfig::new(name, &dir)
        .spawn_command(&script.display().to_string(), &args)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let c = &mut vm.console;
    // GRUB tells which entry it boots when its timeout runs out: the
    // serial-console one, chosen by the SMBIOS OEM string scripts/try gives.
    let booting = c
        .expect(r"Booting `([^'\r\n]*)'", Duration::from_secs(240))
        .unwrap_or_else(|e| panic!("{name}: GRUB booted nothing: {e}"));
    assert_eq!(
        booting.groups.get(1).cloned().flatten().as_deref(),
        Some("TAPPaaS installer (serial console)"),
        "{name}: GRUB's default entry must be the serial one under scripts/try"
    );
    println!(
        "{name}: GRUB booted the serial entry after {:.1}s",
        booting.at.as_secs_f64()
    );
    let outcome = c
        .wait_screen(
            "the installer's first screen",
            Duration::from_secs(600),
            |screen| {
                if screen.contains("The installer exited") {
                    Some(Err(screen.to_string()))
                } else if screen.contains("TAPPaaS installer - step ") {
                    Some(Ok(()))
                } else {
                    None
                }
            },
        )
        .unwrap_or_else(|e| panic!("{name}: the wizard did not come up on the terminal: {e}"));
    if let Err(screen) = outcome {
        panic!("{name}: the installer stopped instead of showing the wizard:\n{screen}");
    }
    println!(
        "{name}: the wizard's first screen on the terminal after {:.1}s, no key pressed",
        c.elapsed().as_secs_f64()
    );
}

/// Power-on to the installer and where the time goes, against a minimal
/// live boot of the same kernel: both boot the ISO's kernel and initramfs
/// directly (firmware and GRUB left out; the tests above measure the whole
/// way through GRUB) in the same VM as the tests above.
/// 1. minimal: live-boot mounts the live system and runs `/bin/sh` as init
///    (no systemd): the floor of any live boot with this kernel;
/// 2. full: the live system as it boots for the installer, the installer on
///    the screen (tty1) and a root shell on the serial console, which reads
///    `systemd-analyze` (kernel, initramfs, user space), the chain to the
///    installer's unit and the slowest units.
///
/// Prints figures (docs/performance.md has them); asserts only that both
/// booted.
#[test]
#[ignore = "extended set, a benchmark: scripts/vm-tests --extended -- bench_boot"]
fn bench_boot_to_installer_against_a_minimal_boot() {
    let name = "bench-boot";
    let Some(iso) = iso_under_test(name) else {
        return;
    };
    let _one = ONE_VM.lock().unwrap_or_else(|p| p.into_inner());
    let dir = work_dir(name);
    let vm_config = |vm: &str| {
        let mut config = VmConfig::new(vm, dir.join(vm)).memory_mib(4096);
        for s in SERIALS {
            config = config.disk(s, "8G");
        }
        for m in MACS {
            config = config.nic(m);
        }
        config
    };

    let minimal = boot_live_kernel(
        vm_config("minimal"),
        &iso,
        &dir,
        "boot=live quiet loglevel=3 console=ttyS0,115200 init=/bin/sh",
    );
    let mut vm = minimal.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let shell = wait_for_shell(&mut vm.console, Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{name}: the minimal boot gave no shell: {e}"));
    let minimal_s = shell.at.as_secs_f64();
    vm.kill();
    drop(vm);

    let full = boot_live_kernel(
        vm_config("full"),
        &iso,
        &dir,
        "boot=live quiet loglevel=3 console=tty1 tappaas.console=tty1 systemd.debug_shell=ttyS0",
    );
    let mut vm = full.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let shell = wait_for_shell(&mut vm.console, Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{name}: the full boot gave no shell: {e}"));
    let c = &mut vm.console;
    let mut sh = |command: &str| {
        shell_output(c, command, Duration::from_secs(600))
            .unwrap_or_else(|e| panic!("{name}: `{command}`: {e}"))
    };
    sh("export PAGER=cat SYSTEMD_PAGER=cat TERM=dumb SYSTEMD_COLORS=0; systemctl is-system-running --wait; true");
    let startup = sh("systemd-analyze");
    let chain = sh("systemd-analyze critical-chain --no-pager tappaas-installer@tty1.service");
    let blame = sh("systemd-analyze blame --no-pager | head -n 12");
    let installer = sh(
        "systemctl show -p ActiveEnterTimestampMonotonic --value tappaas-installer@tty1.service; \
                        systemctl show -p UserspaceTimestampMonotonic --value",
    );
    vm.kill();

    // Monotonic microseconds since the kernel started: the installer's unit
    // running, and user space (systemd) starting.
    let micros: Vec<f64> = installer
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok())
        .collect();
    println!("{name}: minimal boot (kernel, initramfs, live-boot, init=/bin/sh): shell after {minimal_s:.1} s from power-on");
    println!(
        "{name}: full boot: root shell on the serial console after {:.1} s from power-on",
        shell.at.as_secs_f64()
    );
    if let [unit, userspace] = micros[..] {
        println!(
            "{name}: full boot: the installer's unit running {:.1} s after the kernel started (user space began at {:.1} s)",
            unit / 1e6,
            userspace / 1e6
        );
    }
    for (what, text) in [
        ("systemd-analyze", &startup),
        ("critical chain", &chain),
        ("blame", &blame),
    ] {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            println!("{name}: {what}: {line}");
        }
    }
}

//! The installer ISO boots in QEMU (TCG) by legacy BIOS and by UEFI, from a
//! CD and from a USB stick; the installer comes up on the serial console and
//! lists the VM's disks (by the serials given to QEMU) and NICs (by MAC).
//! Skipped unless TAPPAAS_ISO names an ISO (scripts/vm-tests sets it).

use std::sync::Mutex;
use std::time::Duration;

use tappaas_vmtests::{iso_under_test, work_dir, Firmware, Medium, VmConfig};

/// One VM at a time: TCG on two cores is slow enough already.
static ONE_VM: Mutex<()> = Mutex::new(());

const SERIALS: [&str; 4] = ["TAPPAAS-DISK1", "TAPPAAS-DISK2", "TAPPAAS-DISK3", "TAPPAAS-DISK4"];
const MACS: [&str; 2] = ["52:54:00:7a:00:01", "52:54:00:7a:00:02"];

fn boot_to_installer(name: &str, firmware: Firmware, medium: Medium) {
    let Some(iso) = iso_under_test(name) else { return };
    let _one = ONE_VM.lock().unwrap_or_else(|p| p.into_inner());
    let mut config = VmConfig::new(name, work_dir(name)).firmware(firmware).boot_from(medium, &iso);
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
        .expect(r"TAPPaaS installer \(serial console\)", Duration::from_secs(240))
        .unwrap_or_else(|e| panic!("{name}: no GRUB menu: {e}\nQEMU said: {}", vm.qemu_stderr()));
    println!("{name}: GRUB menu after {:.1}s", menu.at.as_secs_f64());
    vm.console.send("s").unwrap_or_else(|e| panic!("{name}: {e}"));

    // The live system starts the installer on ttyS0: its banner, then the
    // hardware it found.
    let c = &mut vm.console;
    let banner = c
        .expect(r"TAPPaaS installer v?\d+\.\d+", Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{name}: the installer did not come up: {e}"));
    println!("{name}: installer banner after {:.1}s from power-on", banner.at.as_secs_f64());
    let mut wanted: Vec<&str> = vec![r"Disks \(\d+\):", r"NICs \(\d+\):"];
    wanted.extend(SERIALS);
    wanted.extend(MACS);
    let listed = c
        .expect_all(&wanted, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{name}: the installer did not list the VM's disks and NICs: {e}"));
    println!(
        "{name}: disks {SERIALS:?} and NICs {MACS:?} listed after {:.1}s; serial log {}",
        listed.as_secs_f64(),
        vm.serial_log().display()
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

#[test]
fn uefi_usb_boots_to_installer() {
    boot_to_installer("uefi-usb", Firmware::Uefi, Medium::Usb);
}

#[test]
fn bios_usb_boots_to_installer() {
    boot_to_installer("bios-usb", Firmware::Bios, Medium::Usb);
}

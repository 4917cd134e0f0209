//! An installed node driven through its serial console: the answer on a
//! FAT disk, the unattended install from the ISO, logging in, running and
//! checking commands. Shared by the VM tests that install nodes
//! (tests/install.rs, tests/replication.rs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{host_command, shell_output, Disk, DiskBus, Vm};

/// TCG on two cores: generous, since waits end on events, not on time.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(45 * 60);
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The checkout's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The answer file `answer` (relative to the checkout) on a FAT disk
/// labelled TAPPAAS-AIS, as a user would put it on a USB stick; as qcow2
/// for the harness.
pub fn answer_disk(dir: &Path, answer: &str) -> PathBuf {
    let raw = dir.join("answer.img");
    let qcow = dir.join("answer.qcow2");
    let _ = std::fs::remove_file(&raw);
    host_command(
        "mkfs.vfat",
        &["-C", "-n", "TAPPAAS-AIS", path(&raw), "4096"],
    );
    let answer = repo().join(answer);
    host_command(
        "mcopy",
        &["-i", path(&raw), path(&answer), "::/answer.toml"],
    );
    to_qcow2(&raw, &qcow);
    qcow
}

/// The harness attaches qcow2 images.
pub fn to_qcow2(raw: &Path, qcow: &Path) {
    host_command(
        "qemu-img",
        &[
            "convert",
            "-q",
            "-f",
            "raw",
            "-O",
            "qcow2",
            path(raw),
            path(qcow),
        ],
    );
}

/// A disk with its image; `tappaas-boot-0` is first in the boot order.
pub fn disk(serial: &str, bus: DiskBus, size: &str, image: PathBuf) -> Disk {
    Disk {
        boot: serial == "tappaas-boot-0",
        serial: serial.into(),
        size: size.into(),
        bus,
        image: Some(image),
    }
}

/// Blank qcow2 images for `disks`.
pub fn create_blank(disks: &[Disk]) {
    for d in disks {
        let img = d.image.clone().expect("image");
        host_command(
            "qemu-img",
            &["create", "-q", "-f", "qcow2", path(&img), &d.size],
        );
    }
}

pub fn fail(vm: &Vm, what: &str, e: impl std::fmt::Display) -> ! {
    panic!(
        "{}: {what}: {e}\nserial log: {}\nQEMU said: {}",
        vm.config.name,
        vm.serial_log().display(),
        vm.qemu_stderr()
    )
}

/// Boot the ISO and choose the unattended entry on the serial console.
/// Returns when the install started (console clock): the launcher's
/// "Unattended install with answer file" line, printed just before it
/// runs `tappaas-installer install`.
pub fn start_unattended(vm: &mut Vm) -> Duration {
    if let Err(e) = vm.console.expect(
        r"unattended install \(serial console\)",
        Duration::from_secs(300),
    ) {
        fail(vm, "no GRUB menu", e);
    }
    if let Err(e) = vm.console.send("a") {
        fail(vm, "sending the menu hotkey", e);
    }
    match vm.console.expect(
        r"Unattended install with answer file",
        Duration::from_secs(900),
    ) {
        Ok(m) => m.at,
        Err(e) => fail(vm, "the unattended install did not start", e),
    }
}

/// Waits for the end of the install of `fqdn` that `start_unattended`
/// saw start and prints its time: the figure docs/performance.md
/// compares, so measured from the install's start, whatever the test
/// waited for in between.
pub fn wait_installed(vm: &mut Vm, started: Duration, fqdn: &str) {
    let done = match vm.console.expect(
        &format!(r"({} is installed)|(FAILED)", regex::escape(fqdn)),
        INSTALL_TIMEOUT,
    ) {
        Ok(m) if m.groups.get(1).is_some_and(Option::is_some) => m.at,
        Ok(_) => {
            let _ = vm
                .console
                .expect(r"run the installer again", Duration::from_secs(30));
            fail(
                vm,
                "the install failed",
                vm.console
                    .output()
                    .lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        }
        Err(e) => fail(vm, "the install did not finish", e),
    };
    println!(
        "{}: installed in {:.0} s (from the launcher's \"Unattended install\" line to \"is installed\" on the console)",
        vm.config.name,
        done.saturating_sub(started).as_secs_f64()
    );
    for s in crate::step_times(&vm.console.output()) {
        println!("{}:   step {}: {:.1} s", vm.config.name, s.id, s.seconds);
    }
    // -no-reboot: the reboot at the end ends QEMU.
    if vm.wait_exit(Duration::from_secs(300)).is_none() {
        fail(vm, "QEMU did not stop at the reboot", "timeout");
    }
}

/// Log in as root with `password` on the serial console of the booted
/// node `hostname`.
pub fn login(vm: &mut Vm, hostname: &str, password: &str) {
    let t = Instant::now();
    if let Err(e) = vm
        .console
        .expect(&format!(r"{hostname} login:"), BOOT_TIMEOUT)
    {
        fail(vm, "the installed node did not boot to a login prompt", e);
    }
    println!(
        "{}: login prompt after {:.0} s",
        vm.config.name,
        t.elapsed().as_secs_f64()
    );
    let prompt = format!(r"root@{hostname}:~#");
    let steps: [(&str, &str); 2] = [("root", r"Password:"), (password, &prompt)];
    for (send, want) in steps {
        if let Err(e) = vm.console.send_line(send) {
            fail(vm, "typing on the console", e);
        }
        if let Err(e) = vm.console.expect(want, Duration::from_secs(120)) {
            fail(vm, "logging in", e);
        }
    }
    // Kernel messages must not interleave with what the checks print.
    run(
        vm,
        "dmesg -n 1; export PAGER=cat SYSTEMD_PAGER=cat TERM=dumb",
        Duration::from_secs(30),
    );
}

/// Run a shell command on the node; returns what it printed.
pub fn run(vm: &mut Vm, command: &str, timeout: Duration) -> String {
    match shell_output(&mut vm.console, command, timeout) {
        Ok(out) => out,
        Err(e) => fail(vm, &format!("running `{command}`"), e),
    }
}

/// Run `command` and fail the test unless `want` accepts what it printed.
pub fn check(vm: &mut Vm, what: &str, command: &str, want: impl Fn(&str) -> bool) {
    let out = run(vm, command, Duration::from_secs(600));
    if !want(&out) {
        fail(
            vm,
            &format!("{what}: `{command}` printed"),
            format!("\n{out}"),
        );
    }
    println!("{}: ok: {what}", vm.config.name);
}

//! The install, proven in a VM (issue: install engine):
//! 1. an unattended install from the test ISO, killed in the middle (after
//!    rpool exists) and started again, which finishes the job;
//! 2. a canary disk not named in the answer is byte-identical afterwards;
//! 3. the installed disk boots (UEFI) and the node is checked on its serial
//!    console: root on rpool, tank1 a healthy mirror, tank2 healthy, the
//!    bridges with the management address, hostname, password hash and SSH
//!    key, no clear-text password anywhere, the first-boot unit ran;
//! 4. data is written to tank1 and the node is installed again with the
//!    same answer, which keeps tank1 and tank2;
//! 5. the node boots by legacy BIOS this time, tank1's data is there and
//!    every check of step 3 passes again.
//!
//! One test, not two: a second full install would cost CI a quarter hour.
//!
//! Skipped unless TAPPAAS_ISO names a test-flavour ISO (scripts/vm-tests).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tappaas_vmtests::node::{
    answer_disk, check, create_blank, disk, fail, login, path, repo, run, start_unattended,
    to_qcow2, wait_installed, BOOT_TIMEOUT, INSTALL_TIMEOUT,
};
use tappaas_vmtests::{
    boot_live_kernel, command_times, host_command, install_vm, iso_under_test, step_times,
    wait_for_shell, work_dir, Disk, DiskBus, Firmware, Vm, VmConfig,
};

#[path = "install/backup.rs"]
mod backup;

use backup::check_snapshots;

const PASSWORD: &str = "vm-test-Root-Pw-7d1f";
const ANSWER: &str = "tests/fixtures/vm/install-answer.toml";
const SSH_KEY_COMMENT: &str = "vm-test@tappaas";
const MACS: [&str; 2] = ["52:54:00:7b:00:01", "52:54:00:7b:00:02"];
const FQDN: &str = "tappaas1.home.lan";

fn sh(program: &str, args: &[&str]) {
    host_command(program, args);
}

/// A disk full of random bytes that the install must not touch.
fn canary_disk(dir: &Path) -> (PathBuf, PathBuf) {
    let raw = dir.join("canary.raw");
    let qcow = dir.join("canary.qcow2");
    let mut bytes = vec![0u8; 64 * 1024 * 1024];
    // Deterministic noise (xorshift) is enough: any write changes it.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&raw, &bytes).expect("write canary");
    to_qcow2(&raw, &qcow);
    (raw, qcow)
}

/// The node's disks, the same images for every VM of the test.
fn node_disks(dir: &Path, answer: &Path, canary: &Path) -> Vec<Disk> {
    vec![
        disk(
            "tappaas-boot-0",
            DiskBus::Virtio,
            "16G",
            dir.join("boot.qcow2"),
        ),
        disk(
            "tappaas-tank1-a",
            DiskBus::Virtio,
            "8G",
            dir.join("tank1-a.qcow2"),
        ),
        disk(
            "tappaas-tank1-b",
            DiskBus::Virtio,
            "8G",
            dir.join("tank1-b.qcow2"),
        ),
        disk(
            "tappaas-tank2",
            DiskBus::Sata,
            "8G",
            dir.join("tank2.qcow2"),
        ),
        disk(
            "tappaas-canary",
            DiskBus::Virtio,
            "64M",
            canary.to_path_buf(),
        ),
        disk(
            "tappaas-answer",
            DiskBus::Virtio,
            "4M",
            answer.to_path_buf(),
        ),
    ]
}

/// The canary disk (not named in the answer) is byte-identical to the
/// random bytes it was made from; no VM may hold it open.
fn canary_unchanged(raw: &Path, qcow: &Path) {
    sh(
        "qemu-img",
        &[
            "compare",
            "-q",
            "-f",
            "raw",
            "-F",
            "qcow2",
            path(raw),
            path(qcow),
        ],
    );
}

fn vm(name: &str, dir: &Path, disks: &[Disk], firmware: Firmware, iso: Option<&Path>) -> Vm {
    install_vm(name, dir, disks, &MACS, firmware, iso)
}

/// The node's host id (/etc/hostid, as hex), never empty.
fn hostid(vm: &mut Vm) -> String {
    let id = run(vm, "od -An -tx4 /etc/hostid", Duration::from_secs(60))
        .trim()
        .to_string();
    if id.is_empty() || id.contains(' ') {
        fail(vm, "reading /etc/hostid", format!("`{id}`"));
    }
    id
}

fn check_node(vm: &mut Vm) {
    check(vm, "root is on rpool", "findmnt -n -o SOURCE /", |o| {
        o.trim() == "rpool/ROOT/pve-1"
    });
    check(
        vm,
        "pools are healthy",
        "zpool list -H -o name,health",
        |o| {
            ["rpool\tONLINE", "tank1\tONLINE", "tank2\tONLINE"]
                .iter()
                .all(|p| o.contains(p))
        },
    );
    check(
        vm,
        "tank1 is a mirror of the two disks",
        "zpool status tank1",
        |o| {
            o.contains("mirror-0")
                && o.contains("virtio-tappaas-tank1-a")
                && o.contains("virtio-tappaas-tank1-b")
        },
    );
    check(vm, "tank2 is the SATA disk", "zpool status -P tank2", |o| {
        o.contains("ata-QEMU_HARDDISK_tappaas-tank2")
    });
    check(
        vm,
        "bridge lan has the management address",
        "ip -4 -o addr show dev lan",
        |o| o.contains("inet 10.0.0.10/24"),
    );
    check(
        vm,
        "bridge lan is VLAN-aware",
        "cat /sys/class/net/lan/bridge/vlan_filtering",
        |o| o.trim() == "1",
    );
    check(
        vm,
        "bridge wan has the second NIC",
        "ls /sys/class/net/wan/brif",
        |o| !o.trim().is_empty(),
    );
    // The module is loaded in the initramfs: this proves the initramfs
    // carries the node's files (its host id comes with them).
    check(
        vm,
        "the ZFS module has the node's options from the initramfs",
        "grep -o 'zfs_arc_max=[0-9]*' /etc/modprobe.d/zfs.conf | cut -d= -f2; cat /sys/module/zfs/parameters/zfs_arc_max",
        |o| {
            let v: Vec<&str> = o.split_whitespace().collect();
            v.len() == 2 && v[0] == v[1] && v[0] != "0"
        },
    );
    check(vm, "hostname", "hostname", |o| o.trim() == "tappaas1");
    check(
        vm,
        "the hostname resolves to the management address",
        "getent hosts tappaas1",
        |o| o.starts_with("10.0.0.10 "),
    );
    check(
        vm,
        "root's password is a hash",
        "grep '^root:' /etc/shadow | cut -d: -f2 | cut -c1-3",
        |o| matches!(o.trim(), "$y$" | "$6$" | "$5$"),
    );
    check(
        vm,
        "root's SSH key",
        "cat /root/.ssh/authorized_keys",
        |o| o.contains(SSH_KEY_COMMENT),
    );
    check(
        vm,
        "no clear-text password anywhere on the node",
        &format!(
            "grep -rsl -F '{PASSWORD}' / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=run; true"
        ),
        |o| o.trim().is_empty(),
    );
    check(
        vm,
        "the answer copy is redacted",
        "grep -c '<redacted>' /etc/tappaas/answer.toml",
        |o| o.trim() != "0",
    );
    check(
        vm,
        "the install log is on the node",
        "tail -n 1 /var/log/tappaas/install.log",
        |o| !o.is_empty(),
    );
    check(
        vm,
        "the first-boot unit ran and said why it stopped",
        "systemctl show -p ExecMainStatus --value tappaas-firstboot; journalctl -b -u tappaas-firstboot --no-pager | tail -n 5",
        |o| o.starts_with("3\n") && o.contains("Proxmox VE is not installed"),
    );
}

/// Steps 1 to 3; returns the work folder, the ISO, the canary and the
/// node's disks, with the node logged in on its console.
fn install_and_check(name: &str) -> Option<(PathBuf, PathBuf, PathBuf, PathBuf, Vec<Disk>, Vm)> {
    let iso = iso_under_test(name)?;
    let dir = work_dir(name);
    std::fs::create_dir_all(&dir).expect("work dir");
    let answer = answer_disk(&dir, ANSWER);
    let (canary_raw, canary) = canary_disk(&dir);
    let disks = node_disks(&dir, &answer, &canary);
    create_blank(&disks[..4]);

    // 1. Install, and kill the VM once rpool exists and the system is
    // being copied onto it.
    let mut first = vm("install-killed", &dir, &disks, Firmware::Bios, Some(&iso));
    start_unattended(&mut first);
    if let Err(e) = first.console.expect(
        r"\] Copy the test system onto rpool \.\.\.",
        INSTALL_TIMEOUT,
    ) {
        fail(&first, "the install did not reach the copy step", e);
    }
    first.kill();
    drop(first);
    println!("install-killed: killed while copying the system");

    // 2. Boot the ISO again: the install continues where it stopped.
    let mut second = vm("install-resumed", &dir, &disks, Firmware::Bios, Some(&iso));
    let started = start_unattended(&mut second);
    if let Err(e) = second.console.expect(
        r"stopped after \d+ of \d+ steps; it continues",
        Duration::from_secs(600),
    ) {
        fail(&second, "the interrupted install was not resumed", e);
    }
    wait_installed(&mut second, started, FQDN);
    drop(second);

    canary_unchanged(&canary_raw, &canary);
    println!("canary disk unchanged");

    // 3. The node boots by UEFI and is what the answer asked for.
    let mut node = vm("node-uefi", &dir, &disks, Firmware::Uefi, None);
    login(&mut node, "tappaas1", PASSWORD);
    check_node(&mut node);
    check_snapshots(&mut node);
    Some((dir, iso, canary_raw, canary, disks, node))
}

#[test]
fn unattended_install_resumes_after_a_kill_boots_and_reinstalls_keeping_tank1() {
    let Some((dir, iso, canary_raw, canary, disks, mut node)) = install_and_check("install") else {
        return;
    };

    let first_hostid = hostid(&mut node);

    // 4. Data on tank1, then install again with the same answer: tank1
    // and tank2 are kept (the answer says `existing = "keep"` by default).
    run(
        &mut node,
        "zfs create tank1/keep && echo precious > /tank1/keep/data && sync",
        Duration::from_secs(120),
    );
    let _ = node.console.send_line("poweroff");
    if node.wait_exit(Duration::from_secs(300)).is_none() {
        fail(&node, "the node did not power off", "timeout");
    }
    drop(node);

    let mut again = vm("reinstall", &dir, &disks, Firmware::Uefi, Some(&iso));
    let started = start_unattended(&mut again);
    if let Err(e) = again
        .console
        .expect(r"Keep and check the ZFS pool tank1", INSTALL_TIMEOUT)
    {
        fail(&again, "the re-install does not keep tank1", e);
    }
    wait_installed(&mut again, started, FQDN);
    drop(again);

    // 5. This time the node boots by legacy BIOS (the boot disk first in
    // the firmware's order), and tank1's data is still there.
    let mut node = vm("node-bios", &dir, &disks, Firmware::Bios, None);
    login(&mut node, "tappaas1", PASSWORD);
    check(
        &mut node,
        "tank1's data survived the re-install",
        "cat /tank1/keep/data",
        |o| o.trim() == "precious",
    );
    check_node(&mut node);
    // Every install makes its own host id (one ISO would otherwise give
    // every node the same one).
    let second_hostid = hostid(&mut node);
    if second_hostid == first_hostid {
        fail(
            &node,
            "the re-install kept the host id",
            format!("{first_hostid} both times"),
        );
    }
    println!("node-bios: ok: a new host id {second_hostid} (was {first_hostid})");
    // The canary is compared with no VM holding it.
    drop(node);
    canary_unchanged(&canary_raw, &canary);
    println!("canary disk unchanged after the re-install");
}

/// Seconds between two `date +%s.%N` stamps a command printed as
/// `NAME START END`.
fn stamped(out: &str, name: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.starts_with(name))?;
    let mut w = line.split_whitespace().skip(1);
    let start: f64 = w.next()?.parse().ok()?;
    let end: f64 = w.next()?.parse().ok()?;
    Some(end - start)
}

/// The install's time per step against the copy floor: the live system
/// (booted from the ISO's kernel with a root shell on the serial console)
/// runs the same unattended install as the test above, then unpacks the
/// same squashfs image alone onto a new dataset of the rpool it made, in
/// the same VM. Prints figures; asserts only that both ran.
/// docs/performance.md has the figures and how to read them.
#[test]
#[ignore = "extended set, a benchmark: scripts/vm-tests --extended -- bench_install"]
fn bench_install_steps_against_the_copy_floor() {
    let name = "bench-install";
    let Some(iso) = iso_under_test(name) else {
        return;
    };
    let dir = work_dir(name);
    std::fs::create_dir_all(&dir).expect("work dir");
    let answer = answer_disk(&dir, ANSWER);
    let (_, canary) = canary_disk(&dir);
    let disks = node_disks(&dir, &answer, &canary);
    create_blank(&disks[..4]);
    // The installer stays on the screen (tty1, unused); the serial console
    // is a root shell.
    let mut config = VmConfig::new(name, dir.join(name))
        .firmware(Firmware::Bios)
        .memory_mib(3072);
    config.disks = disks;
    for m in MACS {
        config = config.nic(m);
    }
    let config = boot_live_kernel(
        config,
        &iso,
        &dir,
        "boot=live quiet loglevel=3 console=tty1 tappaas.console=tty1 systemd.debug_shell=ttyS0",
    );
    let mut vm = config.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Err(e) = wait_for_shell(&mut vm.console, BOOT_TIMEOUT) {
        fail(&vm, "no root shell on the serial console", e);
    }
    run(
        &mut vm,
        "export PAGER=cat SYSTEMD_PAGER=cat TERM=dumb; systemctl is-system-running --wait; true",
        BOOT_TIMEOUT,
    );

    // The install, as the launcher runs it (without the reboot).
    let out = run(
        &mut vm,
        "mkdir -p /run/bench && mount -o ro LABEL=TAPPAAS-AIS /run/bench && cp /run/bench/answer.toml /run/answer.toml && umount /run/bench \
         && s=$(date +%s.%N) && tappaas-installer install --answer /run/answer.toml --yes --no-reboot 2>&1 | cat; \
         echo INSTALL $s $(date +%s.%N)",
        INSTALL_TIMEOUT,
    );
    let steps = step_times(&out);
    if !out.contains("tappaas1.home.lan is installed") || steps.is_empty() {
        fail(&vm, "the install did not finish", out);
    }
    let install = stamped(&out, "INSTALL").unwrap_or(f64::NAN);
    let log = run(
        &mut vm,
        "cat /run/tappaas/install.log",
        Duration::from_secs(120),
    );

    // The copy floor: the same image, the same kind of target (a dataset
    // of the new rpool, its properties inherited), cold caches, then the
    // sync the engine does after every step.
    let out = run(
        &mut vm,
        "img=$(ls /run/live/medium/.tappaas/target-*.squashfs | head -n 1) \
         && zpool import -N -R /floor rpool && zfs create -o mountpoint=/copy rpool/bench-copy \
         && sync && echo 3 > /proc/sys/vm/drop_caches \
         && s=$(date +%s.%N) && unsquashfs -f -no-progress -d /floor/copy \"$img\" >/dev/null && sync -f /floor/copy \
         && echo FLOOR $s $(date +%s.%N); zfs destroy rpool/bench-copy; zpool export rpool",
        INSTALL_TIMEOUT,
    );
    let Some(floor) = stamped(&out, "FLOOR") else {
        fail(&vm, "the copy floor was not measured", out);
    };
    vm.kill();

    let total: f64 = steps.iter().map(|s| s.seconds).sum();
    println!(
        "{name}: the install command ran {install:.1} s (probe, plan and {} steps)",
        steps.len()
    );
    for s in &steps {
        println!("{name}:   step {:<22} {:>6.1} s", s.id, s.seconds);
    }
    println!("{name}:   steps in all           {total:>6.1} s");
    for c in command_times(&log, "bootloader") {
        println!("{name}:     bootloader {:>6.1} s  {}", c.seconds, c.command);
    }
    println!(
        "{name}: copy floor (unsquashfs of the same image onto a new rpool dataset, then sync): {floor:.1} s"
    );
    println!(
        "{name}: install / copy floor = {:.2} (steps in all / copy floor = {:.2})",
        install / floor,
        total / floor
    );
}

//! Replication across nodes, proven on two booted test-flavour nodes
//! (issue 12; docs/backup.md, "Replication across nodes"):
//! 1. two nodes, tappaas1 and tappaas2, are installed from the ISO one
//!    after the other (unattended), their management NICs linked to each
//!    other (a QEMU socket link, 10.0.0.10 and 10.0.0.11);
//! 2. both boot; each publishes its replication record and the test
//!    carries it to the other; after a run on each, each trusts the
//!    other's key;
//! 3. data written to tappaas1's tank1 and snapshotted by sanoid is on
//!    tappaas2's tank2/replica/tappaas1/tank1 after `backup replicate`
//!    (same snapshot guid, same bytes through a read-only clone), never
//!    mounted;
//! 4. a change and a new snapshot: the second run sends only the change;
//!    then tappaas2's tank2 is full (a quota): the run fails saying so,
//!    tank1 and the replica are untouched, and with room made the next
//!    run copies on;
//! 5. tappaas2 powered off: tappaas1's run fails within seconds (exit 1,
//!    recorded) and `backup status` shows the target lagging, overdue two
//!    periods on; tappaas2 back: the run succeeds and status is clean;
//! 6. the receive guard on tappaas2 refuses what is not a receive (with
//!    tappaas1's key), and tappaas2's replica is intact;
//! 7. the ring's other half: tappaas2's tank1 reaches tappaas1.
//!
//! Outside CI's time budget (two installs): the extended set,
//! `scripts/vm-tests --extended -- replication`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tappaas_vmtests::node::{
    answer_disk, check, create_blank, disk, fail, login, run, start_unattended, wait_installed,
};
use tappaas_vmtests::{
    install_vm_with_nics, iso_under_test, work_dir, Disk, DiskBus, Firmware, NetBackend, Nic, Vm,
};

const PASSWORD: &str = "vm-test-Root-Pw-7d1f";
/// A copy (syncoid under TCG, two VMs on two cores) takes a minute or two.
const COPY_TIMEOUT: Duration = Duration::from_secs(900);
const MEMBERS: &str = "/etc/pve/priv/tappaas-replication";
const REPLICA: &str = "tank2/replica/tappaas1/tank1";

/// One of the two nodes.
struct Node {
    host: &'static str,
    address: &'static str,
    answer: &'static str,
    /// The management NIC (linked to the other node), then wan's.
    macs: [&'static str; 2],
}

const A: Node = Node {
    host: "tappaas1",
    address: "10.0.0.10",
    answer: "tests/fixtures/vm/replication-a.toml",
    macs: ["52:54:00:7c:01:01", "52:54:00:7c:01:02"],
};
const B: Node = Node {
    host: "tappaas2",
    address: "10.0.0.11",
    answer: "tests/fixtures/vm/replication-b.toml",
    macs: ["52:54:00:7c:02:01", "52:54:00:7c:02:02"],
};

impl Node {
    fn fqdn(&self) -> String {
        format!("{}.home.lan", self.host)
    }

    /// Boot, tank1 and tank2 (small: the test copies a few MB), then
    /// the answer disk: it stays attached after the install, as the
    /// install test's does, since the NICs' names (enp0sN, which the
    /// node's network configuration uses) follow the PCI slots after it.
    fn disks(&self, dir: &Path) -> Vec<Disk> {
        let image = |role: &str| dir.join(format!("{}-{role}.qcow2", self.host));
        vec![
            disk("tappaas-boot-0", DiskBus::Virtio, "16G", image("boot")),
            disk("tappaas-tank1", DiskBus::Virtio, "4G", image("tank1")),
            disk("tappaas-tank2", DiskBus::Virtio, "4G", image("tank2")),
            disk("tappaas-answer", DiskBus::Virtio, "4M", image("answer")),
        ]
    }

    fn nics(&self, link: NetBackend) -> Vec<Nic> {
        let nic = |mac: &str, backend| Nic {
            mac: mac.into(),
            model: "virtio-net-pci".into(),
            backend,
        };
        vec![nic(self.macs[0], link), nic(self.macs[1], NetBackend::User)]
    }

    /// Install from the ISO with the node's answer, unattended. The link
    /// is user-mode here: the other node is not running yet.
    fn install(&self, dir: &Path, iso: &Path) {
        let answer_dir = dir.join(format!("{}-answer", self.host));
        std::fs::create_dir_all(&answer_dir).expect("answer dir");
        let answer = answer_disk(&answer_dir, self.answer);
        let all = self.disks(dir);
        std::fs::rename(&answer, all[3].image.as_ref().expect("image")).expect("the answer disk");
        create_blank(&all[..3]);
        let name = format!("{}-install", self.host);
        let mut vm = install_vm_with_nics(
            &name,
            dir,
            &all,
            &self.nics(NetBackend::User),
            Firmware::Bios,
            Some(iso),
        );
        let started = start_unattended(&mut vm);
        wait_installed(&mut vm, started, &self.fqdn());
    }

    /// Boot the installed node with its management NIC on `link`.
    fn start(&self, dir: &Path, name: &str, link: NetBackend) -> Vm {
        install_vm_with_nics(
            name,
            dir,
            &self.disks(dir),
            &self.nics(link),
            Firmware::Bios,
            None,
        )
    }

    /// Log in and stop the timers: the test decides when snapshots and
    /// copies happen (runs the timers started at boot are waited for).
    fn ready(&self, vm: &mut Vm) {
        login(vm, self.host, PASSWORD);
        run(
            vm,
            "systemctl stop sanoid.timer tappaas-replication.timer tappaas-node-config.timer; \
             while systemctl is-active -q sanoid.service tappaas-replication.service \
             tappaas-node-config.service; do sleep 1; done",
            Duration::from_secs(600),
        );
    }
}

/// `backup replicate` on `vm`: its exit status and what it printed.
fn replicate(vm: &mut Vm) -> (u8, String) {
    let out = run(
        vm,
        "tappaas-installer backup replicate 2>&1; echo \"rc=$?\"",
        COPY_TIMEOUT,
    );
    let rc = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("rc="))
        .and_then(|v| v.trim().parse().ok());
    match rc {
        Some(rc) => (rc, out),
        None => fail(vm, "backup replicate printed no exit status", out),
    }
}

fn replicate_ok(vm: &mut Vm, what: &str) -> String {
    let (rc, out) = replicate(vm);
    if rc != 0 {
        fail(vm, &format!("{what}: backup replicate exited {rc}"), out);
    }
    println!("{}: ok: {what}", vm.config.name);
    out
}

/// The first line of `command`'s output, trimmed.
fn value(vm: &mut Vm, command: &str) -> String {
    let out = run(vm, command, Duration::from_secs(120));
    out.lines().next().unwrap_or("").trim().to_string()
}

/// Take a snapshot of tank1 and its children as sanoid names them (sanoid
/// takes no second snapshot of a period within that period, so a change a
/// minute after its run would wait up to 15 minutes for the next);
/// returns its name.
fn snapshot(vm: &mut Vm) -> String {
    let name = value(
        vm,
        "s=autosnap_$(date -u +%Y-%m-%d_%H:%M:%S)_frequently; sync; zfs snapshot -r tank1@$s && echo $s",
    );
    if !name.starts_with("autosnap_") {
        fail(vm, "zfs snapshot", name);
    }
    name
}

/// The guid of `dataset@snap` (equal on both sides: the same snapshot).
fn guid(vm: &mut Vm, dataset: &str, snap: &str) -> String {
    let g = value(vm, &format!("zfs get -H -o value guid {dataset}@{snap}"));
    if g.is_empty() || !g.chars().all(|c| c.is_ascii_digit()) {
        fail(vm, &format!("the guid of {dataset}@{snap}"), g);
    }
    g
}

/// The replica has `snap`, the same snapshot as tank1's on tappaas1.
fn same_snapshot(a: &mut Vm, b: &mut Vm, snap: &str) {
    let source = guid(a, "tank1", snap);
    let copy = guid(b, REPLICA, snap);
    if source != copy {
        fail(
            b,
            &format!("{REPLICA}@{snap} is not tank1@{snap}"),
            format!("guid {copy}, tank1's {source}"),
        );
    }
    println!(
        "{}: ok: {REPLICA}@{snap} is tank1@{snap} (guid {copy})",
        b.config.name
    );
}

/// What a file of the replica's snapshot holds, read through a read-only
/// clone (the replica itself is never mounted).
fn read_replica(b: &mut Vm, snap: &str, command: &str) -> String {
    run(
        b,
        &format!(
            "zfs clone -o readonly=on -o mountpoint=/mnt/replica-check {REPLICA}@{snap} tank2/replica-check \
             && (cd /mnt/replica-check && {command}); zfs destroy tank2/replica-check"
        ),
        Duration::from_secs(300),
    )
}

/// Each node's record, carried to the other node's members folder. On a
/// Proxmox node this folder is in /etc/pve, the cluster file system, the
/// same on every node; the test flavour has no Proxmox, so no pmxcfs: the
/// serial consoles stand in for it.
fn exchange_records(a: &mut Vm, b: &mut Vm) {
    let records: Vec<(String, String)> = [(&mut *a, A.host), (&mut *b, B.host)]
        .into_iter()
        .map(|(vm, host)| {
            let encoded = value(vm, &format!("base64 -w0 {MEMBERS}/{host}.json"));
            if encoded.is_empty() {
                fail(vm, "this node published no replication record", host);
            }
            (host.to_string(), encoded)
        })
        .collect();
    for ((host, encoded), vm) in records.iter().zip([&mut *b, &mut *a]) {
        run(
            vm,
            &format!(
                "mkdir -p {MEMBERS} && echo {encoded} | base64 -d > {MEMBERS}/{host}.json \
                 && chmod 600 {MEMBERS}/{host}.json"
            ),
            Duration::from_secs(60),
        );
        println!("{}: carried {host}'s record", vm.config.name);
    }
}

/// The receive guard refused nothing since the node booted: every
/// request syncoid made of it was on its list.
fn no_refusals(vm: &mut Vm, what: &str) {
    check(
        vm,
        what,
        "journalctl -b -q -t tappaas-receive-guard --no-pager | grep -c refused",
        |o| o.trim() == "0",
    );
}

/// The sizes syncoid says it sends (`(~ 8.1 MB)`), for the record.
fn sent(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.contains("Sending"))
        .map(str::trim)
        .collect()
}

fn work(name: &str) -> Option<(PathBuf, PathBuf)> {
    let iso = iso_under_test(name)?;
    let dir = work_dir(name);
    std::fs::create_dir_all(&dir).expect("work dir");
    Some((dir, iso))
}

#[test]
#[ignore = "extended set: scripts/vm-tests --extended -- replication"]
fn replication_copies_tank1_to_the_other_node_incrementally_and_survives_it_being_down() {
    let Some((dir, iso)) = work("replication") else {
        return;
    };
    let t = Instant::now();

    // 1. Two nodes, one after the other.
    A.install(&dir, &iso);
    B.install(&dir, &iso);
    println!(
        "both nodes installed after {:.0} s",
        t.elapsed().as_secs_f64()
    );

    // 2. Both booted, linked: tappaas1 listens, tappaas2 connects.
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    // Both boot at once (the second while the first is waited for).
    let mut a = A.start(&dir, A.host, NetBackend::SocketListen(port));
    let mut b = B.start(&dir, B.host, NetBackend::SocketConnect(port));
    A.ready(&mut a);
    B.ready(&mut b);
    check(
        &mut a,
        "the management bridge is on the NIC linked to tappaas2",
        "cat /sys/class/net/$(ls /sys/class/net/lan/brif)/address",
        |o| o.trim() == A.macs[0],
    );
    check(
        &mut a,
        "tappaas2's SSH port answers over the link",
        &format!(
            "timeout 60 bash -c 'until </dev/tcp/{}/22; do sleep 1; done' && echo open",
            B.address
        ),
        |o| o.trim_end().ends_with("open"),
    );
    for vm in [&mut a, &mut b] {
        check(
            vm,
            "the first run makes the key and publishes the record; alone, it copies nothing",
            "tappaas-installer backup replicate 2>&1; echo \"rc=$?\"; stat -c '%a' /root/.ssh/tappaas-replication",
            |o| o.contains("a single-node cluster") && o.contains("rc=0\n") && o.trim_end().ends_with("600"),
        );
    }
    exchange_records(&mut a, &mut b);
    // tappaas2 first: it now trusts tappaas1's key; its own copy fails,
    // as tappaas1 does not trust tappaas2's key until its run below.
    let (rc, out) = replicate(&mut b);
    println!("{}: first run with both records: exit {rc}\n{out}", B.host);
    check(
        &mut b,
        "tappaas1's key is accepted, only through the receive guard, from the management network",
        "cat /etc/tappaas/replication-authorized-keys",
        |o| {
            o.lines().any(|l| {
                l.starts_with("restrict,from=\"10.0.0.0/24\",command=\"/usr/bin/tappaas-installer backup receive-guard --source tappaas1\" ssh-ed25519 ")
            })
        },
    );

    // 3. Data on tappaas1's tank1, snapshotted by sanoid, then copied.
    // The node configuration archive first: its dataset is a child of
    // tank1, copied too, and `backup status` wants an archive.
    run(
        &mut a,
        "tappaas-installer backup config >/dev/null 2>&1",
        Duration::from_secs(300),
    );
    let source_sum = value(
        &mut a,
        "zfs list -H -t snapshot -o name -r tank1 | xargs -r -n 1 zfs destroy; \
         dd if=/dev/urandom of=/tank1/payload.bin bs=1M count=8 status=none; \
         echo family-photo-1 > /tank1/note.txt; sync; \
         sanoid --take-snapshots --force-update >/dev/null 2>&1; \
         sha256sum /tank1/payload.bin | cut -d' ' -f1",
    );
    let first = value(
        &mut a,
        "zfs list -H -t snapshot -o name -s creation -d 1 tank1 | tail -n 1 | cut -d@ -f2",
    );
    if !first.starts_with("autosnap_") {
        fail(&a, "sanoid took no snapshot of tank1", first);
    }
    let out = replicate_ok(&mut a, "the first copy to tappaas2");
    let full = sent(&out);
    println!("{}: first copy: {full:?}", A.host);
    same_snapshot(&mut a, &mut b, &first);
    check(
        &mut b,
        "tank1 and its children are replicas on tank2, none of them mounted",
        "zfs get -H -t filesystem -o name,property,value -r mounted,canmount tank2/replica/tappaas1",
        |o| {
            let rows: Vec<Vec<&str>> = o.lines().map(|l| l.split('\t').collect()).collect();
            o.contains(&format!("{REPLICA}\tmounted\tno"))
                && o.contains(&format!(
                    "{REPLICA}/tappaas/node-config/tappaas1\tcanmount\toff"
                ))
                && rows
                    .iter()
                    .filter(|r| r.first() != Some(&"tank2/replica/tappaas1"))
                    .all(|r| matches!(r.as_slice(), [_, "mounted", "no"] | [_, "canmount", "off"]))
        },
    );
    let data = read_replica(&mut b, &first, "cat note.txt; sha256sum payload.bin");
    if !(data.contains("family-photo-1") && data.contains(&source_sum)) {
        fail(&b, "the replica's data differs from tank1's", data);
    }
    println!(
        "{}: ok: the replica's note.txt and payload.bin are tank1's",
        B.host
    );

    // 4. A change, a snapshot, and a second run sends only the change.
    run(
        &mut a,
        "echo family-photo-2 >> /tank1/note.txt",
        Duration::from_secs(60),
    );
    let second = snapshot(&mut a);
    let out = replicate_ok(&mut a, "the second copy");
    let incremental = sent(&out);
    println!("{}: second copy: {incremental:?}", A.host);
    if !out.contains("incremental") || out.contains("full snapshot") {
        fail(&a, "the second copy is not incremental", out);
    }
    same_snapshot(&mut a, &mut b, &second);
    let written: u64 = value(
        &mut b,
        &format!("zfs get -Hp -o value written {REPLICA}@{second}"),
    )
    .parse()
    .unwrap_or(u64::MAX);
    let referenced: u64 = value(
        &mut b,
        &format!("zfs get -Hp -o value referenced {REPLICA}@{first}"),
    )
    .parse()
    .unwrap_or(0);
    if !(written < 1024 * 1024 && referenced > 4 * 1024 * 1024) {
        fail(
            &b,
            "the second copy is not only the change",
            format!("{written} bytes written by it, the first snapshot references {referenced}"),
        );
    }
    println!(
        "{}: ok: the second copy wrote {written} bytes on the replica (the first snapshot references {referenced})",
        B.host
    );
    let data = read_replica(&mut b, &second, "cat note.txt");
    if !data.contains("family-photo-2") {
        fail(&b, "the change is not in the replica", data);
    }

    no_refusals(
        &mut b,
        "the receive guard refused nothing of syncoid's (a full and an incremental copy)",
    );

    // 4b. tappaas2's tank2 full (a quota on what it keeps for tappaas1):
    // the copy fails and says why, tank1 and the replica are untouched,
    // and the next run after room is made copies on.
    let used: u64 = value(&mut b, "zfs get -Hp -o value used tank2/replica/tappaas1")
        .parse()
        .unwrap_or(0);
    if used == 0 {
        fail(&b, "the replica's space used", "not a number");
    }
    run(
        &mut b,
        &format!(
            "zfs set quota={} tank2/replica/tappaas1",
            used + 4 * 1024 * 1024
        ),
        Duration::from_secs(60),
    );
    let big_sum = value(
        &mut a,
        "dd if=/dev/urandom of=/tank1/big.bin bs=1M count=16 status=none; sync; \
         sha256sum /tank1/big.bin | cut -d' ' -f1",
    );
    let big = snapshot(&mut a);
    let (rc, out) = replicate(&mut a);
    if rc != 1 || !out.contains("quota exceeded") {
        fail(
            &a,
            &format!(
                "into a full tank2 the run exited {rc} (want 1, saying the quota is exceeded)"
            ),
            out,
        );
    }
    println!("{}: ok: into a full tank2 the run failed (exit 1)", A.host);
    check(
        &mut a,
        "status names the full tank2 on tappaas2 and what to do",
        "tappaas-installer backup status 2>&1",
        |o| o.contains("    cause: cannot receive") && o.contains("tappaas2's tank2 is full"),
    );
    check(
        &mut a,
        "tank1 is untouched by the failed copy: its snapshot and data are there",
        &format!("zfs list -H -o name tank1@{big} && sha256sum /tank1/big.bin | cut -d' ' -f1"),
        |o| o.starts_with(&format!("tank1@{big}\n")) && o.contains(&big_sum),
    );
    check(
        &mut b,
        "the replica still ends at the last good snapshot",
        &format!("zfs list -H -t snapshot -o name -s creation -d 1 {REPLICA} | tail -n 1"),
        |o| o.trim() == format!("{REPLICA}@{second}"),
    );
    run(
        &mut b,
        "zfs set quota=none tank2/replica/tappaas1",
        Duration::from_secs(60),
    );
    replicate_ok(&mut a, "the copy once tappaas2's tank2 has room again");
    same_snapshot(&mut a, &mut b, &big);
    let data = read_replica(&mut b, &big, "sha256sum big.bin");
    if !data.contains(&big_sum) {
        fail(
            &b,
            "the copy after the full tank2 differs from tank1's",
            data,
        );
    }
    println!(
        "{}: ok: with room again the copy went on and the replica's big.bin is tank1's",
        B.host
    );

    // 5. tappaas2 down: tappaas1's run fails, fast, and says so.
    let _ = b.console.send_line("poweroff");
    if b.wait_exit(Duration::from_secs(300)).is_none() {
        fail(&b, "tappaas2 did not power off", "timeout");
    }
    drop(b);
    run(
        &mut a,
        "echo family-photo-3 >> /tank1/note.txt",
        Duration::from_secs(60),
    );
    let third = snapshot(&mut a);
    let started = Instant::now();
    let (rc, out) = replicate(&mut a);
    let took = started.elapsed();
    if rc != 1 || took > Duration::from_secs(90) {
        fail(
            &a,
            &format!(
                "with tappaas2 down, the run exited {rc} after {:.0} s (want 1, within seconds)",
                took.as_secs_f64()
            ),
            out,
        );
    }
    println!(
        "{}: ok: with tappaas2 down the run failed (exit 1) in {:.0} s",
        A.host,
        took.as_secs_f64()
    );
    check(
        &mut a,
        "the failure is recorded, and status shows it",
        "grep -c last-error /var/lib/tappaas/replication-state.json; tappaas-installer backup status 2>&1",
        |o| {
            o.starts_with("1\n")
                && o.contains(&format!("to tappaas2 ({REPLICA}): last copy"))
                && o.contains("last attempt failed")
                && o.contains("(tappaas2 cannot be reached")
        },
    );
    check(
        &mut a,
        "two periods on, status says the target is overdue and exits 4",
        "date -s @$(( $(date +%s) + 3 * 3600 )) >/dev/null; tappaas-installer backup status 2>&1; echo \"rc=$?\"; \
         date -s @$(( $(date +%s) - 3 * 3600 )) >/dev/null",
        |o| {
            o.lines().any(|l| l.contains("to tappaas2 (") && l.contains("OVERDUE"))
                && o.trim_end().ends_with("rc=4")
        },
    );

    // tappaas2 back: the next run catches up, and status is clean.
    let mut b = B.start(&dir, "tappaas2-again", NetBackend::SocketConnect(port));
    B.ready(&mut b);
    check(
        &mut b,
        "after the reboot, no replica is mounted",
        "zfs get -H -t filesystem -o value -r mounted tank2/replica | sort -u",
        |o| o.trim() == "no",
    );
    replicate_ok(&mut a, "with tappaas2 back, the copy catches up");
    same_snapshot(&mut a, &mut b, &third);
    check(
        &mut a,
        "backup status is clean again",
        "sanoid --take-snapshots >/dev/null 2>&1; tappaas-installer backup status 2>&1; echo \"rc=$?\"",
        |o| {
            o.lines().any(|l| l.contains("to tappaas2 (") && l.ends_with(", ok"))
                && !o.contains("last attempt failed")
                && o.trim_end().ends_with("rc=0")
        },
    );

    no_refusals(
        &mut b,
        "the receive guard refused nothing of syncoid's (the copy that caught up)",
    );

    // 6. tappaas1's key does nothing but receive.
    let snapshots = format!("zfs list -H -t snapshot -o name -r {REPLICA} | wc -l");
    let before = value(&mut b, &snapshots);
    let ssh = format!(
        "ssh -i /root/.ssh/tappaas-replication -o BatchMode=yes -o ConnectTimeout=10 root@{}",
        B.address
    );
    check(
        &mut a,
        "the receive guard refuses a destroy, a receive into tank1 and a shell",
        &format!(
            "{ssh} zfs destroy -r {REPLICA} 2>&1; echo \"rc=$?\"; \
             {ssh} zfs receive -u -o canmount=off -F tank1/x </dev/null 2>&1; echo \"rc=$?\"; \
             {ssh} sh -c id 2>&1; echo \"rc=$?\""
        ),
        |o| o.matches("refused").count() == 3 && o.matches("rc=0").count() == 0,
    );
    let after = value(&mut b, &snapshots);
    if before != after || before == "0" {
        fail(
            &b,
            "the replica changed",
            format!("{before} snapshots before, {after} after"),
        );
    }
    check(
        &mut b,
        "the refusals are in the journal",
        "journalctl -b -q -t tappaas-receive-guard --no-pager | grep -c 'refused from node tappaas1'",
        |o| o.trim() == "3",
    );

    // 7. The ring's other half: tappaas2's tank1 to tappaas1.
    run(
        &mut b,
        "sanoid --take-snapshots --force-update >/dev/null 2>&1",
        Duration::from_secs(300),
    );
    replicate_ok(&mut b, "tappaas2's tank1 to tappaas1");
    check(
        &mut a,
        "tappaas2's tank1 is a replica on tappaas1's tank2",
        "zfs get -H -o value mounted tank2/replica/tappaas2/tank1",
        |o| o.trim() == "no",
    );
    println!(
        "replication test: {:.0} s in all",
        t.elapsed().as_secs_f64()
    );
}

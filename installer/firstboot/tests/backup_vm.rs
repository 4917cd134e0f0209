//! `tappaas-installer backup` for the VMs (docs/backup.md "The backup
//! command"): each guest's last backup on the Proxmox Backup Server and
//! the result of its last run in `status`, every guest backed up by
//! `run`, a VM restored to a new id by `restore --vm`; on the simulator,
//! after first boot wired the backup server in, with a fixed clock.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::site::*;
use common::*;
use tappaas_firstboot::backup::{
    self, parse_policy, BackupError, GuestBackup, Status, Timer, VmBackups, VmRestore, Waiting,
};
use tappaas_firstboot::proxmox::{Method, Proxmox, SimNode, Simulator};
use tappaas_firstboot::Outcome;

const PBS_VMID: u32 = 270;
/// 2026-12-07 02:30:00 UTC.
const T0: u64 = 1_796_610_600;
const HOUR: i64 = 3600;

fn now_waiting() -> Waiting {
    Waiting {
        poll: Duration::ZERO,
        report: Duration::from_secs(3600),
        limit: Duration::from_secs(5),
    }
}

fn firewall() -> u32 {
    deploy_plan().firewall.unwrap().vmid
}

/// First boot on node 1 with the backup server: storage and job in place.
fn wired() -> (Simulator, Site) {
    let mut plan = deploy_plan();
    plan.services = vec!["backup-server".into()];
    let (sim, site) = deployment(&plan);
    let (_, ran) = run(&sim, &site);
    assert!(
        matches!(ran.result, Ok(Outcome::Finished { .. })),
        "{:?}",
        ran.result
    );
    (sim, site)
}

fn px(sim: &Simulator) -> Proxmox<SimNode> {
    client(sim, "tappaas1")
}

fn run_now(sim: &Simulator) -> Vec<backup::NodeRun> {
    let mut lines = Vec::new();
    let runs = backup::run_vm_backups(&mut px(sim), now_waiting(), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("backing up every VM to tappaas-pbs")),
        "{lines:?}"
    );
    runs
}

/// A snapshot status with nothing overdue, to add the VMs to.
fn zfs_ok(now: i64) -> Status {
    let policy = parse_policy(Path::new("sanoid.conf"), "").unwrap();
    let timer = Timer {
        unit: "sanoid.timer".into(),
        enabled: true,
        state: "enabled".into(),
    };
    let s = backup::evaluate(&policy, &[], &[], timer, now);
    assert!(s.ok, "{s:?}");
    s
}

fn status_at(sim: &Simulator, now: i64) -> (Status, VmBackups, Vec<GuestBackup>) {
    let (vms, guests) = backup::vm_status(&mut px(sim), now).unwrap();
    (
        zfs_ok(now).with_vms(vms.clone(), guests.clone()),
        vms,
        guests,
    )
}

fn guest(guests: &[GuestBackup], vmid: u32) -> &GuestBackup {
    guests.iter().find(|g| g.vmid == vmid).unwrap()
}

#[test]
fn status_lists_each_guest_with_its_last_backup_and_flags_old_and_failed_ones() {
    let (sim, _site) = wired();
    let fw = firewall();
    // Only first boot's first backup of each guest, long before T0:
    // every guest is overdue.
    let (s, vms, guests) = status_at(&sim, T0 as i64);
    assert_eq!(vms.storage.as_deref(), Some("tappaas-pbs"));
    assert_eq!(vms.job.as_ref().unwrap().id, "tappaas-vms");
    assert_eq!(vms.job.as_ref().unwrap().period_seconds, Some(86_400));
    assert_eq!(vms.overdue_after_seconds, 2 * 86_400);
    assert!(!s.ok && s.overdue);
    assert!(
        guest(&guests, fw)
            .problem
            .as_deref()
            .is_some_and(|p| p.starts_with("the newest backup is ")),
        "{:?}",
        guest(&guests, fw)
    );

    sim.set_time(T0);
    let runs = run_now(&sim);
    assert!(runs.iter().all(|r| r.ok()), "{runs:?}");
    // An hour later: every guest has its backup, the run was good.
    let (s, _, guests) = status_at(&sim, T0 as i64 + HOUR);
    assert!(s.ok, "{:#?}", s.guests);
    let mut ids: Vec<u32> = guests.iter().map(|g| g.vmid).collect();
    ids.sort();
    let mut all = sim.vm_ids("tappaas1");
    all.sort();
    assert_eq!(ids, all);
    let g = guest(&guests, fw);
    let b = g.last_backup.as_ref().unwrap();
    assert!(
        b.volid
            .starts_with(&format!("tappaas-pbs:backup/vm/{fw}/2026-12-07T02:30:0")),
        "{b:?}"
    );
    assert!(b.size.unwrap() > 0 && b.age_seconds >= 3590, "{b:?}");
    assert_eq!(g.last_task.as_ref().unwrap().result, "ok");
    let text = backup::render_status(&s);
    assert!(
        text.contains("VM backups to tappaas-pbs by job 'tappaas-vms' at 02:30"),
        "{text}"
    );

    // Three days on without a run: older than twice a day, overdue.
    let three_days = T0 as i64 + 3 * 24 * HOUR;
    let (s, _, guests) = status_at(&sim, three_days);
    assert!(!s.ok && s.overdue);
    let g = guest(&guests, PBS_VMID);
    assert!(g.overdue, "{g:?}");
    assert!(
        g.problem
            .as_deref()
            .unwrap()
            .starts_with("the newest backup is 2d 23h old, more than 2d 0h"),
        "{g:?}"
    );

    // A run in which the firewall's backup fails: the backup server's VM
    // is fine again, the firewall is overdue for its failed run.
    sim.set_time(three_days as u64);
    sim.fail_backups_of(fw, Some("backup write data failed: no space left"));
    let runs = run_now(&sim);
    assert_eq!(runs[0].exitstatus, "job errors");
    let (s, _, guests) = status_at(&sim, three_days + HOUR);
    assert!(!guest(&guests, PBS_VMID).overdue);
    let g = guest(&guests, fw);
    assert!(g.overdue, "{g:?}");
    assert_eq!(g.last_task.as_ref().unwrap().result, "failed");
    assert!(
        g.problem
            .as_deref()
            .unwrap()
            .contains("ended with 'job errors'"),
        "{g:?}"
    );
    assert!(!s.ok);
    let text = backup::render_status(&s);
    assert!(
        text.contains(&format!("VM {fw} 'opnsense' on tappaas1: OVERDUE")),
        "{text}"
    );
    assert!(
        text.contains("last backup run: job errors (failed)"),
        "{text}"
    );
    // The snapshots are fine: their overdue note is not shown.
    assert!(!text.contains("no snapshot within"), "{text}");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn status_json_gains_a_guests_array_with_stable_keys() {
    let (sim, _site) = wired();
    sim.set_time(T0);
    run_now(&sim);
    let (s, _, _) = status_at(&sim, T0 as i64 + HOUR);
    let v = serde_json::to_value(&s).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v["vm_backups"]),
        ["job", "overdue_after_seconds", "problem", "storage"]
    );
    assert_eq!(
        keys(&v["vm_backups"]["job"]),
        ["id", "period_seconds", "schedule"]
    );
    let g = &v["guests"][0];
    assert_eq!(
        keys(g),
        [
            "covered",
            "last_backup",
            "last_task",
            "name",
            "node",
            "overdue",
            "problem",
            "vmid"
        ]
    );
    assert_eq!(
        keys(&g["last_backup"]),
        ["age_seconds", "created", "size", "volid"]
    );
    assert_eq!(
        keys(&g["last_task"]),
        ["result", "started", "status", "upid"]
    );
    assert_eq!(g["last_task"]["status"], "OK");
}

#[test]
fn without_a_backup_server_status_says_so_and_is_not_failed_by_it() {
    let sim = world();
    let (vms, guests) = backup::vm_status(&mut px(&sim), T0 as i64).unwrap();
    assert!(vms.storage.is_none() && guests.is_empty());
    let s = zfs_ok(T0 as i64).with_vms(vms, guests);
    assert!(s.ok);
    let text = backup::render_status(&s);
    assert!(
        text.contains("no Proxmox Backup Server storage is registered")
            && text.contains("tappaas-installer services deploy backup-server"),
        "{text}"
    );
    // run and restore refuse, saying the same.
    let e = backup::run_vm_backups(&mut px(&sim), now_waiting(), &mut |_| {}).unwrap_err();
    assert!(
        matches!(e, BackupError::Refused(ref m) if m.contains("services deploy backup-server")),
        "{e}"
    );
}

#[test]
fn run_backs_up_every_guest_the_firewall_and_a_vm_deployed_later_included() {
    let (sim, site) = wired();
    let mut h = host(&sim, &site);
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px(&sim),
        &mut h,
        &["uptime-kuma".to_string()],
        None,
        &mut |_| {},
    )
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    // The VM deployed after first boot has no backup until a run.
    let (_, guests) = backup::vm_status(&mut px(&sim), T0 as i64).unwrap();
    assert_eq!(
        guest(&guests, 260).problem.as_deref(),
        Some("no backup yet")
    );
    sim.set_time(T0);
    let runs = run_now(&sim);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].ok() && runs[0].upid.is_some(), "{runs:?}");
    // The call vzdump's API takes, as the job would run it.
    let calls = sim.calls();
    let (_, req) = calls
        .iter()
        .find(|(_, r)| r.method == Method::Post && r.path == "/nodes/tappaas1/vzdump")
        .unwrap();
    assert_eq!(req.get_param("all"), Some("1"));
    assert_eq!(req.get_param("storage"), Some("tappaas-pbs"));
    assert_eq!(req.get_param("mode"), Some("snapshot"));
    let items = px(&sim)
        .storage_content(
            &tappaas_firstboot::proxmox::client::NodeName::new("tappaas1").unwrap(),
            &tappaas_firstboot::proxmox::client::StorageId::new("tappaas-pbs").unwrap(),
            Some(tappaas_firstboot::proxmox::client::Content::Backup),
        )
        .unwrap();
    // This run's backups (first boot made the first ones, before T0).
    let mut backed: Vec<u32> = items
        .iter()
        .filter(|i| i.ctime.is_some_and(|t| t >= T0 as i64))
        .filter_map(|i| i.vmid)
        .collect();
    backed.sort();
    let mut all = sim.vm_ids("tappaas1");
    all.sort();
    assert_eq!(backed, all);
    for id in [firewall(), PBS_VMID, 260] {
        assert!(backed.contains(&id), "{id} not backed up: {backed:?}");
    }
    assert!(items
        .iter()
        .all(|i| i.format == "pbs-vm" && i.ctime.is_some()));
    // A task of the run, as `GET /nodes/{node}/tasks` lists it.
    let tasks = px(&sim)
        .node_tasks(
            &tappaas_firstboot::proxmox::client::NodeName::new("tappaas1").unwrap(),
            "vzdump",
            10,
        )
        .unwrap();
    // First boot's run, and this one, newest first.
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    assert_eq!(tasks[0].status.as_deref(), Some("OK"));
    assert_eq!(tasks[0].starttime, T0 as i64);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

/// Config without what a restore makes anew: disk volume names and sizes
/// stay, MAC addresses are new beside the original.
fn comparable(config: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    config
        .iter()
        .filter(|(k, _)| *k != "smbios1")
        .map(|(k, v)| {
            let v = if k.starts_with("net") {
                v.split(',').skip(1).collect::<Vec<_>>().join(",")
            } else {
                v.split(',')
                    .map(|p| {
                        p.split_once(':')
                            .filter(|(s, vol)| !s.contains('=') && vol.contains("vm-"))
                            .map(|(s, _)| format!("{s}:VOLUME"))
                            .unwrap_or_else(|| p.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            (k.clone(), v)
        })
        .collect()
}

fn restore(sim: &Simulator, ask: VmRestore) -> Result<backup::RestoredVm, BackupError> {
    backup::restore_vm(&mut px(sim), &ask, now_waiting(), &mut |_| {})
}

#[test]
fn restore_makes_a_new_vm_with_the_originals_config_and_leaves_the_original_alone() {
    let (sim, _site) = wired();
    let fw = firewall();
    sim.set_time(T0);
    run_now(&sim);
    let original = sim.vm("tappaas1", fw).unwrap();
    let volumes_before = sim.volumes("tappaas1");
    let free = px(&sim).next_vmid(None).unwrap().get();

    let r = restore(
        &sim,
        VmRestore {
            vm: fw,
            backup: None,
            to: None,
            force: false,
        },
    )
    .unwrap();
    assert_eq!(r.vmid, free);
    assert!(
        r.from.starts_with(&format!("tappaas-pbs:backup/vm/{fw}/")),
        "{r:?}"
    );
    // The original is untouched, its disks too.
    assert_eq!(sim.vm("tappaas1", fw).unwrap(), original);
    for v in &volumes_before {
        assert!(sim.volumes("tappaas1").contains(v), "{v:?} is gone");
    }
    let new = sim.vm("tappaas1", free).unwrap();
    assert!(!new.running, "a restored VM is not started");
    assert_eq!(comparable(&new.config), comparable(&original.config));
    // Its own disks, and new MACs beside the running original.
    assert!(
        new.config["scsi0"].contains(&format!("vm-{free}-disk-")),
        "{new:?}"
    );
    assert_ne!(new.config["net0"], original.config["net0"]);
    let calls = sim.calls();
    let (_, req) = calls
        .iter()
        .find(|(_, r)| r.method == Method::Post && r.get_param("archive").is_some())
        .unwrap();
    assert_eq!(req.path, "/nodes/tappaas1/qemu");
    assert_eq!(req.get_param("vmid"), Some(free.to_string().as_str()));
    assert_eq!(req.get_param("unique"), Some("1"));
    assert_eq!(req.get_param("force"), None);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn restore_over_the_existing_vm_needs_force_and_a_stopped_vm() {
    let (sim, _site) = wired();
    let fw = firewall();
    sim.set_time(T0);
    run_now(&sim);
    let before = sim.snapshot();
    let over = |force| VmRestore {
        vm: fw,
        backup: None,
        to: Some(fw),
        force,
    };
    let restores = |sim: &Simulator| {
        sim.calls()
            .iter()
            .filter(|(_, r)| r.get_param("archive").is_some())
            .count()
    };
    let e = restore(&sim, over(false)).unwrap_err();
    assert!(
        matches!(&e, BackupError::Refused(m) if m.contains("exists") && m.contains("--force")),
        "{e}"
    );
    // Running: refused even with --force, saying how to stop it.
    assert!(sim.vm("tappaas1", fw).unwrap().running);
    let e = restore(&sim, over(true)).unwrap_err();
    assert!(
        matches!(&e, BackupError::Refused(m) if m.contains("is running") && m.contains(&format!("qm shutdown {fw}"))),
        "{e}"
    );
    assert_eq!(restores(&sim), 0);
    assert!(
        sim.snapshot() == before,
        "a refused restore changed something"
    );

    // Stopped, with --force: the VM is replaced by its backup, MACs kept.
    let original = sim.vm("tappaas1", fw).unwrap();
    let mut p = px(&sim);
    let node = tappaas_firstboot::proxmox::client::NodeName::new("tappaas1").unwrap();
    let id = tappaas_firstboot::proxmox::client::VmId::new(fw).unwrap();
    p.stop_vm(&node, id).unwrap();
    let r = restore(&sim, over(true)).unwrap();
    assert_eq!(r.vmid, fw);
    let back = sim.vm("tappaas1", fw).unwrap();
    assert!(!back.running);
    assert_eq!(back.config["net0"], original.config["net0"]);
    assert_eq!(comparable(&back.config), comparable(&original.config));
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn the_simulator_refuses_a_restore_onto_an_existing_or_running_vm() {
    let (sim, _site) = wired();
    let fw = firewall();
    sim.set_time(T0);
    run_now(&sim);
    let volid = backup::vm_status(&mut px(&sim), T0 as i64 + 60)
        .unwrap()
        .1
        .into_iter()
        .find(|g| g.vmid == fw)
        .unwrap()
        .last_backup
        .unwrap()
        .volid;
    let mut api = sim.client("tappaas1");
    let post = |force: bool| {
        let r = tappaas_firstboot::proxmox::Request::post("/nodes/tappaas1/qemu")
            .param("vmid", fw.to_string())
            .param("archive", volid.clone());
        if force {
            r.param("force", "1")
        } else {
            r
        }
    };
    use tappaas_firstboot::proxmox::Api;
    let e = api.call(&post(false)).unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "unable to restore VM {fw} - VM {fw} already exists"
        )),
        "{e}"
    );
    let e = api.call(&post(true)).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("unable to restore VM {fw} - vm is running")),
        "{e}"
    );
}

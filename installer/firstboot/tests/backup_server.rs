//! The Proxmox Backup Server wired in (docs/backup.md): first boot and
//! `services deploy backup-server` register the backup server VM as the
//! cluster's `pbs` storage with the fingerprint read from the VM, make one
//! backup job of every guest, and set the datastore's own schedules; a VM
//! made later is covered, a re-run changes nothing, and a fingerprint that
//! is not one stops before anything is registered.

#![allow(clippy::unwrap_used)]

mod common;

use common::site::*;
use common::*;
use tappaas_firstboot::proxmox::client::{Retention, StorageConfig};
use tappaas_firstboot::proxmox::{Method, SimExec, Simulator};
use tappaas_firstboot::Outcome;

const STORAGE: &str = "tappaas-pbs";
const JOB: &str = "tappaas-vms";
const PBS_VMID: u32 = 270;

/// The first node's plan with the backup server as its only service.
fn backup_plan() -> tappaas_plan::Plan {
    let mut plan = deploy_plan();
    plan.services = vec!["backup-server".into()];
    plan
}

fn pbs_storage(sim: &Simulator) -> Option<StorageConfig> {
    storages(sim, "tappaas1")
        .into_iter()
        .find(|s| s.storage == STORAGE)
}

/// The backup server VM's address, from its `ipconfig0`.
fn pbs_address(sim: &Simulator) -> String {
    let vm = sim.vm("tappaas1", PBS_VMID).unwrap();
    // `ip=ADDR/PREFIX,gw=GATEWAY`: the first property is a typed CIDR.
    let ip = vm.config["ipconfig0"].strip_prefix("ip=").unwrap();
    let cidr: tappaas_answer::Cidr = ip.split(',').next().unwrap().parse().unwrap();
    cidr.addr.to_string()
}

/// How many times the backup server storage was added (`POST /storage`
/// with type pbs; the ZFS pools are added with the same call).
fn pbs_adds(sim: &Simulator) -> usize {
    sim.calls()
        .iter()
        .filter(|(_, r)| {
            r.method == Method::Post && r.path == "/storage" && r.get_param("type") == Some("pbs")
        })
        .count()
}

fn summary_of(ran: &Ran) -> String {
    match &ran.result {
        Ok(Outcome::Finished { summary }) => summary.clone(),
        other => panic!("first boot did not finish: {other:?}\n{:#?}", ran.events),
    }
}

#[test]
fn the_backup_server_is_registered_with_the_fingerprint_read_from_its_vm() {
    let (sim, site) = deployment(&backup_plan());
    let (_, ran) = run(&sim, &site);
    let summary = summary_of(&ran);

    let st = pbs_storage(&sim).expect("the backup server is a storage");
    assert_eq!(st.storage_type, "pbs");
    assert_eq!(st.server.as_deref(), Some(pbs_address(&sim).as_str()));
    assert_eq!(st.datastore.as_deref(), Some("tappaas"));
    assert_eq!(st.username.as_deref(), Some("tappaas@pbs"));
    assert_eq!(st.content, ["backup"]);
    // What the VM showed, in Proxmox's form.
    assert_eq!(
        st.fingerprint.as_deref(),
        Some(PBS_FINGERPRINT.to_ascii_uppercase().as_str())
    );
    assert_eq!(
        sim.storage_password("tappaas1", STORAGE).unwrap(),
        secret(&site, "backup-server", "backup-password")
    );
    // Read through the guest agent before the storage was added.
    let commands = sim.guest_commands("tappaas1", PBS_VMID);
    assert_eq!(commands[0], ["proxmox-backup-manager", "cert", "info"]);
    let calls = sim.calls();
    let at = |m: Method, p: &str| {
        calls
            .iter()
            .position(|(_, r)| r.method == m && r.path == p)
            .unwrap()
    };
    assert!(
        at(
            Method::Post,
            &format!("/nodes/tappaas1/qemu/{PBS_VMID}/agent/exec")
        ) < calls
            .iter()
            .position(|(_, r)| r.path == "/storage" && r.get_param("type") == Some("pbs"))
            .unwrap()
    );
    // The datastore's own prune, GC and verify schedules, with the
    // retention of the job.
    assert_eq!(
        commands[1],
        [
            "/usr/local/sbin/tappaas-pbs-schedules",
            "03:30",
            "04:00",
            "sun 05:00",
            "7",
            "4",
            "6"
        ]
    );
    for line in [
        "Backups of the VMs (Proxmox Backup Server)",
        &format!("storage:      {STORAGE} (server {}", pbs_address(&sim)),
        "every VM, including ones made later, daily at 02:30 (snapshot mode)",
        "keeps:        7 daily, 4 weekly, 6 monthly backups",
        "prune 03:30, garbage collection 04:00, verify sun 05:00",
    ] {
        assert!(summary.contains(line), "{line}\n{summary}");
    }
    let file = std::fs::read_to_string(&site.node.config.summary).unwrap();
    assert_eq!(file, summary);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn one_job_backs_up_every_guest_nightly_with_the_retention() {
    let (sim, site) = deployment(&backup_plan());
    let (_, ran) = run(&sim, &site);
    summary_of(&ran);
    let mut px = client(&sim, "tappaas1");
    let jobs = px.backup_jobs().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let j = &jobs[0];
    assert_eq!(j.id, JOB);
    assert!(j.all && j.enabled, "{j:?}");
    assert_eq!(j.schedule.as_deref(), Some("02:30"));
    assert_eq!(j.storage.as_deref(), Some(STORAGE));
    assert_eq!(j.mode.as_deref(), Some("snapshot"));
    assert_eq!(
        j.retention(),
        Some(Retention {
            daily: 7,
            weekly: 4,
            monthly: 6
        })
    );
    // Every guest, the firewall included.
    let firewall = deploy_plan().firewall.unwrap().vmid;
    let mut guests = px.backup_job_guests(JOB).unwrap();
    guests.sort();
    let mut all = sim.vm_ids("tappaas1");
    all.sort();
    assert_eq!(guests, all);
    assert!(guests.contains(&firewall) && guests.contains(&PBS_VMID));
}

#[test]
fn a_vm_deployed_later_is_covered_without_being_added() {
    let (sim, site) = deployment(&backup_plan());
    summary_of(&run(&sim, &site).1);
    let job_before = client(&sim, "tappaas1").backup_jobs().unwrap();
    assert!(!client(&sim, "tappaas1")
        .backup_job_guests(JOB)
        .unwrap()
        .contains(&260));

    let mut px = client(&sim, "tappaas1");
    let mut h = host(&sim, &site);
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut h,
        &["uptime-kuma".to_string()],
        None,
        &mut |_| {},
    )
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert!(sim.vm("tappaas1", 260).unwrap().running);
    assert!(px.backup_job_guests(JOB).unwrap().contains(&260));
    // Nothing was changed to get there.
    assert_eq!(px.backup_jobs().unwrap(), job_before);
    assert_eq!(count(&sim, "tappaas1", Method::Post, "/cluster/backup"), 1);
    assert_eq!(
        count(
            &sim,
            "tappaas1",
            Method::Put,
            &format!("/cluster/backup/{JOB}")
        ),
        0
    );
}

#[test]
fn a_rerun_changes_nothing() {
    let (sim, site) = deployment(&backup_plan());
    summary_of(&run(&sim, &site).1);
    let after_first = sim.end_state();
    // First boot again (the marker back), then services deploy of the
    // backup server, which is kept and wired in again.
    write(&site.node.config.marker, "pending\n");
    std::fs::remove_file(&site.node.config.journal).unwrap();
    let (_, ran) = run(&sim, &site);
    summary_of(&ran);
    let mut px = client(&sim, "tappaas1");
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut host(&sim, &site),
        &["backup-server".to_string()],
        None,
        &mut |_| {},
    )
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(sim.end_state(), after_first);
    assert_eq!(pbs_adds(&sim), 1);
    assert_eq!(
        count(
            &sim,
            "tappaas1",
            Method::Put,
            &format!("/storage/{STORAGE}")
        ),
        0
    );
    assert_eq!(count(&sim, "tappaas1", Method::Post, "/cluster/backup"), 1);
    assert_eq!(px.backup_jobs().unwrap().len(), 1);
    // The fingerprint was read again each time, never remembered.
    let reads = sim
        .guest_commands("tappaas1", PBS_VMID)
        .iter()
        .filter(|c| c[0] == "proxmox-backup-manager")
        .count();
    assert_eq!(reads, 3);
}

#[test]
fn a_fingerprint_that_is_not_one_stops_and_registers_nothing() {
    for (case, shown) in [
        (
            "too short",
            pbs_cert_info("3d:a1:5e:07:9c:42:b8:10:6f:e2:d4:83:0b:77:c9:5a"),
        ),
        ("not hex", pbs_cert_info(&["zz"; 32].join(":"))),
        (
            "no fingerprint line",
            SimExec {
                out_data: "Subject: CN=backup-server\n".into(),
                ..SimExec::default()
            },
        ),
        (
            "the command failed",
            SimExec::exit(1, "proxmox-backup-manager: command not found"),
        ),
    ] {
        let (sim, site) = deployment(&backup_plan());
        sim.guest_program(PBS_VMID, "proxmox-backup-manager", shown);
        let (_, ran) = run(&sim, &site);
        let (step, failure) = failed_step(&ran);
        assert_eq!(step, "finish", "{case}");
        assert!(
            failure.message.contains("backup-server"),
            "{case}: {failure:?}"
        );
        let said = actions(&ran.events).join("\n");
        assert!(said.contains("FAILED: backup-server"), "{case}: {said}");
        match case {
            "too short" | "not hex" => {
                assert!(
                    said.contains("is not a SHA-256 fingerprint"),
                    "{case}: {said}"
                )
            }
            "no fingerprint line" => assert!(
                said.contains("printed no 'Fingerprint (sha256):' line"),
                "{case}: {said}"
            ),
            _ => assert!(said.contains("exit code 1"), "{case}: {said}"),
        }
        assert!(pbs_storage(&sim).is_none(), "{case}");
        assert_eq!(pbs_adds(&sim), 0, "{case}");
        assert!(
            client(&sim, "tappaas1").backup_jobs().unwrap().is_empty(),
            "{case}"
        );
        assert_eq!(
            sim.guest_commands("tappaas1", PBS_VMID).len(),
            1,
            "{case}: no schedules set"
        );
    }
}

/// Through the command-line tools: the storage's password goes to pvesm
/// on stdin, never on a command line.
#[test]
fn the_storage_password_is_never_on_a_command_line() {
    let (sim, site) = deployment(&backup_plan());
    let mut px = over_pvesh(&sim, "tappaas1");
    let mut h = host(&sim, &site);
    let r = tappaas_firstboot::run(&site.node.config, &mut px, &mut h, &mut |_| {});
    h.finish_consoles();
    assert!(matches!(r, Ok(Outcome::Finished { .. })), "{r:?}");
    let password = secret(&site, "backup-server", "backup-password");
    let runner = px.api().runner();
    let at = runner
        .argv
        .iter()
        .position(|a| a[..2] == ["pvesm", "add"])
        .expect("pvesm add ran");
    assert_eq!(
        runner.argv[at][2..4],
        ["pbs", STORAGE],
        "{:?}",
        runner.argv[at]
    );
    assert_eq!(runner.argv[at].last().unwrap(), "--password");
    assert_eq!(
        runner.inputs[at].as_deref(),
        Some(format!("{password}\n").as_bytes())
    );
    for argv in &runner.argv {
        assert!(
            !argv.iter().any(|w| w.contains(&password)),
            "{}",
            argv.join(" ")
        );
    }
    assert_eq!(sim.storage_password("tappaas1", STORAGE).unwrap(), password);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

fn outputs(ran: &Ran) -> Vec<String> {
    ran.events
        .iter()
        .filter_map(|e| match e {
            tappaas_exec::Event::Action { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn vzdumps(sim: &Simulator) -> usize {
    count(sim, "tappaas1", Method::Post, "/nodes/tappaas1/vzdump")
}

#[test]
fn the_first_backup_of_every_guest_starts_at_the_end_of_first_boot_once() {
    let (sim, site) = deployment(&backup_plan());
    let ran = run(&sim, &site).1;
    summary_of(&ran);
    assert_eq!(vzdumps(&sim), 1);
    let said = outputs(&ran);
    assert!(
        said.iter().any(|l| l
            .contains("the first backup of every guest on tappaas1 runs now (task UPID:tappaas1:")
            && l.ends_with("); `tappaas-installer backup status` shows its result")),
        "{said:#?}"
    );
    // It is the job's run to the backup server: every guest of the node
    // has a backup there (the simulator runs the task at once).
    let mut px = client(&sim, "tappaas1");
    let (_, guests) = tappaas_firstboot::backup::vm_status(&mut px, i64::MAX / 2).unwrap();
    assert!(!guests.is_empty());
    assert!(
        guests.iter().all(|g| g.last_backup.is_some()),
        "{guests:#?}"
    );

    // First boot again: a backup exists, none is started.
    write(&site.node.config.marker, "pending\n");
    std::fs::remove_file(&site.node.config.journal).unwrap();
    let ran = run(&sim, &site).1;
    summary_of(&ran);
    assert_eq!(vzdumps(&sim), 1);
    assert!(
        outputs(&ran)
            .iter()
            .any(|l| l
                .starts_with("no first backup started: a guest of tappaas1 has a backup already")),
        "{:#?}",
        outputs(&ran)
    );
}

#[test]
fn without_a_backup_server_no_first_backup_is_started() {
    let mut plan = deploy_plan();
    plan.services.retain(|s| s != "backup-server");
    let (sim, site) = deployment(&plan);
    let ran = run(&sim, &site).1;
    summary_of(&ran);
    assert_eq!(vzdumps(&sim), 0);
    assert!(outputs(&ran)
        .iter()
        .any(|l| l == "no first backup started: no backup server is registered"));
}

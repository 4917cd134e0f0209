//! The simulator's backup runs and restores: `POST /nodes/{node}/vzdump`
//! as pve-manager's VZDump.pm runs it (the guests of that node, `OK`
//! without a task when a list names none there), the backups as
//! pve-storage's PBSPlugin lists them, the tasks as Tasks.pm lists them,
//! and a restore as qemu-server's create takes `archive`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{client, ip, storage, world};
use tappaas_proxmox::client::{
    Content, Fingerprint, NodeName, Password, PbsStorage, StorageId, VmId, Vzdump,
};
use tappaas_proxmox::{Api, Request};

fn node() -> NodeName {
    NodeName::new("tappaas1").unwrap()
}

fn run(id: &str) -> Vzdump {
    Vzdump {
        storage: StorageId::new(id).unwrap(),
        mode: "snapshot".into(),
        exclude: Vec::new(),
        job_id: None,
    }
}

/// Node 1 with a pbs storage `backup` and two VMs, 100 and 101.
fn setup() -> tappaas_proxmox::Simulator {
    let sim = world();
    let mut c = client(&sim, "tappaas1");
    c.add_pbs_storage(&PbsStorage {
        id: StorageId::new("backup").unwrap(),
        server: ip("10.2.0.170"),
        datastore: "tappaas".into(),
        username: "tappaas@pbs".into(),
        password: Password::new("pw"),
        fingerprint: Fingerprint::parse(&["ab"; 32].join(":")).unwrap(),
    })
    .unwrap();
    for (id, name) in [(100, "one"), (101, "two")] {
        c.api_mut()
            .call(
                &Request::post("/nodes/tappaas1/qemu")
                    .param("vmid", id.to_string())
                    .param("name", name)
                    .param("memory", "1024"),
            )
            .unwrap();
    }
    sim.set_time(1_796_610_600);
    sim
}

#[test]
fn a_run_backs_up_the_nodes_guests_as_pbs_lists_them_with_one_task() {
    let sim = setup();
    let mut c = client(&sim, "tappaas1");
    let upid = c.vzdump(&node(), &run("backup")).unwrap().unwrap();
    assert!(upid.contains(":vzdump::"), "{upid}");
    let items = c
        .storage_content(&node(), &storage("backup"), Some(Content::Backup))
        .unwrap();
    let volids: Vec<&str> = items.iter().map(|i| i.volid.as_str()).collect();
    assert_eq!(
        volids,
        [
            "backup:backup/vm/100/2026-12-07T02:30:00Z",
            "backup:backup/vm/101/2026-12-07T02:30:01Z"
        ]
    );
    assert!(items.iter().all(|i| i.format == "pbs-vm"));
    assert_eq!(items[1].ctime, Some(1_796_610_601));
    let tasks = c.node_tasks(&node(), "vzdump", 10).unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].upid.as_str(), tasks[0].id.as_str()),
        (upid.as_str(), "")
    );
    assert_eq!(tasks[0].status.as_deref(), Some("OK"));
    // Not a vzdump task: not listed under that type.
    assert!(c.node_tasks(&node(), "qmcreate", 10).unwrap().len() == 2);
}

#[test]
fn a_failing_guest_ends_the_run_with_job_errors_and_the_others_are_backed_up() {
    let sim = setup();
    sim.fail_backups_of(100, Some("no space left on device"));
    let mut c = client(&sim, "tappaas1");
    let upid = c.vzdump(&node(), &run("backup")).unwrap().unwrap();
    assert_eq!(
        c.task_status(&node(), &upid).unwrap().exitstatus.as_deref(),
        Some("job errors")
    );
    let items = c
        .storage_content(&node(), &storage("backup"), Some(Content::Backup))
        .unwrap();
    assert_eq!(
        items.iter().map(|i| i.vmid).collect::<Vec<_>>(),
        [Some(101)]
    );
}

#[test]
fn vzdump_refuses_what_proxmox_refuses() {
    let sim = setup();
    sim.set_panic_on_invalid(false);
    let mut c = client(&sim, "tappaas1");
    // A list of guests none of which is on this node: OK, no task.
    let r = c
        .api_mut()
        .call(
            &Request::post("/nodes/tappaas1/vzdump")
                .param("vmid", "999")
                .param("storage", "backup"),
        )
        .unwrap();
    assert_eq!(r, serde_json::json!("OK"));
    let e = c
        .api_mut()
        .call(
            &Request::post("/nodes/tappaas1/vzdump")
                .param("all", "1")
                .param("vmid", "100")
                .param("storage", "backup"),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("conflicts with option 'vmid'"),
        "{e}"
    );
    // `local` holds backups, but the simulator keeps them on pbs only.
    let e = c.vzdump(&node(), &run("local")).unwrap_err();
    assert!(e.to_string().contains("pbs storages only"), "{e}");
}

#[test]
fn a_restore_refuses_drives_beside_the_archive_and_a_missing_backup() {
    let sim = setup();
    let mut c = client(&sim, "tappaas1");
    c.vzdump(&node(), &run("backup")).unwrap();
    let e = c
        .api_mut()
        .call(
            &Request::post("/nodes/tappaas1/qemu")
                .param("vmid", "300")
                .param("archive", "backup:backup/vm/100/2026-12-07T02:30:00Z")
                .param("scsi0", "tank1:8"),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("scsi0: option conflicts with option 'archive'"),
        "{e}"
    );
    let e = c
        .restore_vm(
            &node(),
            &tappaas_proxmox::client::RestoreVm {
                vmid: VmId::new(300).unwrap(),
                archive: "backup:backup/vm/100/2020-01-01T00:00:00Z".into(),
                force: false,
                unique: true,
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    // The backup's configuration comes back under the new id, not started.
    c.restore_vm(
        &node(),
        &tappaas_proxmox::client::RestoreVm {
            vmid: VmId::new(300).unwrap(),
            archive: "backup:backup/vm/100/2026-12-07T02:30:00Z".into(),
            force: false,
            unique: true,
        },
    )
    .unwrap();
    let vm = sim.vm("tappaas1", 300).unwrap();
    assert_eq!(vm.config["name"], "one");
    assert!(!vm.running);
}

//! The simulator's backup storages and jobs: a `pbs` storage as
//! pve-storage keeps it (duplicate ids refused, server and datastore
//! fixed, the password never shown), and `/cluster/backup` as pve-manager's
//! Backup.pm keeps its jobs (generated ids, duplicates refused, updates,
//! deletes, the guests a job covers).

#![allow(clippy::unwrap_used)]

mod common;

use common::{client, ip, storage, world};
use tappaas_proxmox::client::{BackupJob, Fingerprint, Password, PbsStorage, Retention, StorageId};
use tappaas_proxmox::{Api, Method, Request};

fn pbs(id: &str) -> PbsStorage {
    PbsStorage {
        id: StorageId::new(id).unwrap(),
        server: ip("10.2.0.170"),
        datastore: "tappaas".into(),
        username: "tappaas@pbs".into(),
        password: Password::new("s3cret-backup-password"),
        fingerprint: Fingerprint::parse(&["ab"; 32].join(":")).unwrap(),
    }
}

fn job(id: &str) -> BackupJob {
    BackupJob {
        id: id.into(),
        schedule: "02:30".into(),
        storage: storage("backup"),
        retention: Retention {
            daily: 7,
            weekly: 4,
            monthly: 6,
        },
        comment: "nightly".into(),
    }
}

#[test]
fn a_pbs_storage_is_kept_and_a_duplicate_id_is_refused() {
    let sim = world();
    let mut c = client(&sim, "tappaas1");
    c.add_pbs_storage(&pbs("backup")).unwrap();
    let st = c.storage(&storage("backup")).unwrap();
    assert_eq!(st.storage_type, "pbs");
    assert_eq!(st.server.as_deref(), Some("10.2.0.170"));
    assert_eq!(
        st.fingerprint.as_deref(),
        Some(["AB"; 32].join(":").as_str())
    );
    assert_eq!(st.content, ["backup"]);
    // The password is kept, never shown.
    assert_eq!(
        sim.storage_password("tappaas1", "backup").as_deref(),
        Some("s3cret-backup-password")
    );
    let raw = c.api_mut().call(&Request::get("/storage/backup")).unwrap();
    assert!(raw.get("password").is_none(), "{raw}");

    let before = sim.snapshot();
    let e = c.add_pbs_storage(&pbs("backup")).unwrap_err();
    assert!(
        e.to_string()
            .contains("storage ID 'backup' already defined"),
        "{e}"
    );
    assert_eq!(sim.snapshot(), before);
    // A new fingerprint is taken; the server is fixed.
    let new = Fingerprint::parse(&["cd"; 32].join(":")).unwrap();
    c.set_storage_fingerprint(&storage("backup"), &new).unwrap();
    assert_eq!(
        c.storage(&storage("backup"))
            .unwrap()
            .fingerprint
            .as_deref(),
        Some(new.as_str())
    );
    let e = c
        .api_mut()
        .call(&Request::put("/storage/backup").param("server", "10.2.0.171"))
        .unwrap_err();
    assert!(e.to_string().contains("fixed parameter 'server'"), "{e}");
}

#[test]
fn backup_jobs_are_kept_like_pve_manager_keeps_them() {
    let sim = world();
    let mut c = client(&sim, "tappaas1");
    c.create_backup_job(&job("nightly")).unwrap();
    let jobs = c.backup_jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, "nightly");
    assert!(jobs[0].all && jobs[0].enabled);
    assert_eq!(jobs[0].retention(), Some(job("nightly").retention));

    // A duplicate id is refused and changes nothing.
    let before = sim.snapshot();
    let e = c.create_backup_job(&job("nightly")).unwrap_err();
    assert!(
        e.to_string().contains("Job 'nightly' already exists"),
        "{e}"
    );
    assert_eq!(sim.snapshot(), before);

    // Without an id, a UUID is made, as Backup.pm's UUID::uuid().
    let api = c.api_mut();
    api.call(
        &Request::post("/cluster/backup")
            .param("all", "1")
            .param("schedule", "sun 01:00")
            .param("storage", "local"),
    )
    .unwrap();
    let ids: Vec<String> = c.backup_jobs().unwrap().into_iter().map(|j| j.id).collect();
    let made = ids.iter().find(|i| *i != "nightly").unwrap();
    let groups: Vec<usize> = made.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{made}");
    assert!(made.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));

    // No schedule, or no guests: refused as Backup.pm refuses them.
    let e = c
        .api_mut()
        .call(&Request::post("/cluster/backup").param("all", "1"))
        .unwrap_err();
    assert!(
        e.to_string().contains("neither 'starttime' nor 'schedule'"),
        "{e}"
    );
    let e = c
        .api_mut()
        .call(&Request::post("/cluster/backup").param("schedule", "02:00"))
        .unwrap_err();
    assert!(e.to_string().contains("vmid: property is missing"), "{e}");

    // Updated, then deleted.
    let mut changed = job("nightly");
    changed.schedule = "03:15".into();
    c.update_backup_job(&changed).unwrap();
    let j = c
        .backup_jobs()
        .unwrap()
        .into_iter()
        .find(|j| j.id == "nightly")
        .unwrap();
    assert_eq!(j.schedule.as_deref(), Some("03:15"));
    c.api_mut()
        .call(&Request::new(Method::Delete, "/cluster/backup/nightly"))
        .unwrap();
    assert_eq!(c.backup_jobs().unwrap().len(), 1);
    let e = c.update_backup_job(&changed).unwrap_err();
    assert!(e.to_string().contains("no such vzdump job"), "{e}");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn a_job_lists_the_guests_it_covers() {
    let sim = world();
    let mut c = client(&sim, "tappaas1");
    c.create_backup_job(&job("nightly")).unwrap();
    assert!(c.backup_job_guests("nightly").unwrap().is_empty());
    // A job of chosen guests lists those, known or not.
    c.api_mut()
        .call(
            &Request::post("/cluster/backup")
                .param("id", "chosen")
                .param("vmid", "101,102")
                .param("schedule", "02:00"),
        )
        .unwrap();
    assert_eq!(c.backup_job_guests("chosen").unwrap(), [101, 102]);
    let e = c.backup_job_guests("other").unwrap_err();
    assert!(e.to_string().contains("No such job 'other'"), "{e}");
}

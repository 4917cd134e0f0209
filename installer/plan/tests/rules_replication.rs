//! Replication across nodes (`[backup.replication]`): the timer with the
//! answer's schedule, the job's settings, sshd's keys file, the replicas'
//! retention in sanoid.conf, and a node without tank2.

mod common;

use common::rules::*;
use tappaas_plan::{Plan, REPLICATION_CONF, SANOID_CONF};

fn enables_replication(p: &Plan) -> bool {
    p.commands().any(|c| {
        c.argv
            == [
                "systemctl",
                "--root=/target",
                "enable",
                "tappaas-replication.timer",
            ]
    })
}

#[test]
fn the_timer_runs_the_job_on_the_answers_schedule() {
    let p = ok(
        &home_server(),
        &with("[backup.replication]\nschedule = \"*-*-* *:00/30\"\ntarget = 2\n\n[backup.replication.retention]\ndaily = 7\n"),
    );
    let timer = file(&p, "/etc/systemd/system/tappaas-replication.timer");
    assert!(
        timer.contains("\nOnCalendar=*-*-* *:00/30\nPersistent=true\n"),
        "{timer}"
    );
    let service = file(&p, "/etc/systemd/system/tappaas-replication.service");
    assert!(
        service.contains("\nExecStart=/usr/bin/tappaas-installer backup replicate\n"),
        "{service}"
    );
    assert!(enables_replication(&p));
    let conf: serde_json::Value = serde_json::from_str(&file(&p, REPLICATION_CONF)).expect("json");
    assert_eq!(conf["period-seconds"], 1800);
    assert_eq!(conf["target"], 2);
    assert_eq!(conf["retention"]["daily"], 7);
    assert_eq!(conf["retention"]["hourly"], 24);
    assert_eq!(
        (conf["sends"].clone(), conf["receives"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(conf["allow-from"], "10.0.0.0/24");
    assert!(p
        .files()
        .any(|f| f.path == REPLICATION_CONF && f.mode == "0600"));
    let sshd = file(&p, "/etc/ssh/sshd_config.d/tappaas-replication.conf");
    assert!(sshd.contains("AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /etc/tappaas/replication-authorized-keys"), "{sshd}");
    // The replicas are pruned to their own retention, never snapshotted.
    let sanoid = file(&p, SANOID_CONF);
    assert!(
        sanoid.contains("[tank2/replica]\n\tuse_template = replica\n\trecursive = yes\n"),
        "{sanoid}"
    );
    assert!(
        sanoid.contains("[template_replica]\n\tfrequently = 0\n\thourly = 24\n\tdaily = 7\n"),
        "{sanoid}"
    );
    assert!(sanoid.contains("\tautosnap = no\n"), "{sanoid}");
}

#[test]
fn replication_off_lays_nothing() {
    let p = ok(
        &home_server(),
        &with("[backup.replication]\nenabled = false\n"),
    );
    assert_eq!(p.replication, None);
    assert!(p.files().all(|f| !f.path.contains("replication")));
    assert!(!enables_replication(&p));
    assert!(!file(&p, SANOID_CONF).contains("replica"));
}

#[test]
fn a_node_without_tank2_is_refused_when_replication_is_asked_for() {
    let (m, answer) = (one_disk_node(), ONE_DISK);
    let errors = err(
        &m,
        &format!("{answer}\n[backup.replication]\nschedule = \"daily\"\n"),
    );
    assert!(
        has_error(&errors, "backup.replication", "no tank2 to receive"),
        "{errors:?}"
    );
    // Left at its defaults, the node copies what it has and receives none.
    let p = ok(&m, answer);
    let r = p.replication.as_ref().expect("on by default");
    assert!(!r.receives && !r.sends);
    assert!(file(&p, REPLICATION_CONF).contains("\"receives\": false"));
}

//! The backups' health in brief (`backup status --brief`, the "Backups"
//! part of `tappaas-installer status`, the hourly check): one line per
//! problem, from the same facts as `backup status`, and none exactly when
//! that status is ok.

use std::path::Path;

use tappaas_firstboot::backup::replication::TargetStatus;
use tappaas_firstboot::backup::{
    self, evaluate, parse_datasets, parse_policy, parse_snapshots, vms, GuestBackup, Status, Timer,
};

const NOW: i64 = 2_000_000_000;

const POLICY: &str = "\
[tank1]
  use_template = data
  recursive = yes
[template_data]
  frequently = 4
  hourly = 24
";

/// tank1 snapshotted `age` seconds ago; the timer enabled or not.
fn status(age: i64, enabled: bool) -> Status {
    let policy = parse_policy(Path::new("sanoid.conf"), POLICY).expect("policy");
    let datasets = parse_datasets("tank1\t/tank1").expect("datasets");
    let snapshots = parse_snapshots(&format!(
        "tank1@autosnap_2033-05-18_03:00:00_frequently\t{}",
        NOW - age
    ))
    .expect("snapshots");
    let timer = Timer {
        unit: "sanoid.timer".into(),
        enabled,
        state: if enabled { "enabled" } else { "disabled" }.into(),
    };
    evaluate(&policy, &datasets, &snapshots, timer, NOW)
}

fn target(overdue: bool) -> TargetStatus {
    TargetStatus {
        target: "tappaas2".into(),
        dataset: "tank2/replica/tappaas1/tank1".into(),
        last_success: Some(NOW - 3 * 3600),
        lag_seconds: Some(3 * 3600),
        overdue_after_seconds: 2 * 3600,
        overdue,
        last_error: Some(
            "`syncoid ...` failed (exit status 2): cannot receive: out of space".into(),
        ),
    }
}

fn guest(problem: Option<&str>) -> GuestBackup {
    GuestBackup {
        vmid: 100,
        name: Some("firewall".into()),
        node: "tappaas1".into(),
        covered: true,
        last_backup: None,
        last_task: None,
        overdue: problem.is_some(),
        problem: problem.map(String::from),
    }
}

#[test]
fn all_current_is_one_line_and_no_problem() {
    let s = status(600, true);
    let p = backup::problems(&s, &[target(false)]);
    assert!(s.ok && p.is_empty(), "{p:?}");
    assert_eq!(
        backup::render_brief(&p),
        "backups: every snapshot, archive, VM backup and replica is current\n"
    );
}

#[test]
fn each_overdue_or_failing_part_is_one_line_naming_it() {
    let s = status(3600, false).with_vms(
        vms::unknown("Proxmox VE does not answer".into()),
        vec![guest(Some(
            "the last backup run (UPID:x) ended with 'error'",
        ))],
    );
    assert!(!s.ok);
    let p = backup::problems(&s, &[target(true)]);
    assert_eq!(
        p,
        [
            "sanoid.timer is not enabled (disabled): no snapshot is taken",
            "snapshots of tank1: the newest snapshot is 1h 0m old, more than 30m",
            "VM backups: could not ask Proxmox about the VM backups: Proxmox VE does not answer",
            "backup of VM 100 (firewall): the last backup run (UPID:x) ended with 'error'",
            "replication to tappaas2 (tank2/replica/tappaas1/tank1): last copy 3h 0m ago, \
             more than 2h 0m; last attempt: `syncoid ...` failed (exit status 2): cannot receive: out of space",
        ]
    );
    let text = backup::render_brief(&p);
    assert!(
        text.starts_with("backups: 5 problem(s)\n  sanoid.timer"),
        "{text}"
    );
    assert!(text.ends_with("`tappaas-installer backup status` has the details (docs/backup.md)\n"));
}

#[test]
fn a_replica_that_is_only_lagging_within_its_limit_is_no_problem() {
    // Its last attempt failed (the target was down once), but the last
    // copy is within twice the schedule: not yet a problem.
    assert!(backup::problems(&status(600, true), &[target(false)]).is_empty());
}

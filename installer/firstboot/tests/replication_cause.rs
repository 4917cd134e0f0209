//! Why a copy failed, as `backup status` and the hourly check say it: the
//! line of syncoid's output that names the cause, with what to do. The
//! outputs are syncoid 2.2.0's, as recorded on the VM replication test's
//! two nodes (tests/vm/tests/replication.rs).

use tappaas_answer::Retention;
use tappaas_firstboot::backup::replication::{failure_cause, render, TargetStatus};
use tappaas_firstboot::backup::replication::{ReplicationState, TargetState};
use tappaas_plan::ReplicationPlan;

const NOW: i64 = 2_000_000_000;

/// A copy into a full tank2 (tank2/replica's quota reached on tappaas2),
/// as `run_checked` records it: the command, then the output's tail.
const QUOTA: &str = "`syncoid --recursive tank1 root@10.0.0.11:tank2/replica/tappaas1/tank1` failed (exit status 2):
NEWEST SNAPSHOT: autosnap_2026-12-07_22:44:20_frequently
Sending incremental tank1@autosnap_2026-12-07_22:18:57_frequently ... autosnap_2026-12-07_22:44:20_frequently (~ 40.1 MB):
cannot receive incremental stream: destination tank2/replica/tappaas1/tank1 space quota exceeded.
mbuffer: error: outputThread: error writing to <stdout> at offset 0xf5a000: Broken pipe
CRITICAL ERROR:  zfs send  -I 'tank1'@'a' 'tank1'@'b' | mbuffer | ssh root@10.0.0.11 ' mbuffer | zfs receive -u -s tank2/replica/tappaas1/tank1 2>&1' failed: 256 at /usr/sbin/syncoid line 889.
NEWEST SNAPSHOT: autosnap_2026-12-07_22:44:20_frequently";

const DOWN: &str = "`syncoid --recursive tank1 root@10.0.0.11:tank2/replica/tappaas1/tank1` failed (exit status 2):
ssh: connect to host 10.0.0.11 port 22: No route to host
CRITICAL ERROR: ssh connection echo test failed for root@10.0.0.11 with exit code 255 at /usr/sbin/syncoid line 1714.";

const UNTRUSTED: &str = "`syncoid --recursive tank1 root@10.0.0.11:tank2/replica/tappaas1/tank1` failed (exit status 2):
root@10.0.0.11: Permission denied (publickey).
CRITICAL ERROR: ssh connection echo test failed for root@10.0.0.11 with exit code 255 at /usr/sbin/syncoid line 1714.";

#[test]
fn a_full_tank2_is_named_with_what_to_do() {
    let cause = failure_cause(QUOTA, "tappaas2");
    assert_eq!(
        cause,
        "cannot receive incremental stream: destination tank2/replica/tappaas1/tank1 space quota exceeded. \
         (tappaas2's tank2 is full: free space there or raise the quota of its tank2/replica; \
         the next run goes on from the last snapshot copied)"
    );
}

#[test]
fn an_unreachable_or_untrusting_target_is_named_with_what_to_do() {
    assert_eq!(
        failure_cause(DOWN, "tappaas2"),
        "ssh: connect to host 10.0.0.11 port 22: No route to host \
         (tappaas2 cannot be reached: is it on, and its management network up?)"
    );
    assert!(
        failure_cause(UNTRUSTED, "tappaas2").starts_with(
            "root@10.0.0.11: Permission denied (publickey). (tappaas2 does not trust this node's key yet"
        ),
        "{}",
        failure_cause(UNTRUSTED, "tappaas2")
    );
}

#[test]
fn an_unknown_failure_is_its_first_line() {
    let error = "`syncoid tank1 x` failed (killed by a signal):\nsomething else";
    assert_eq!(
        failure_cause(error, "tappaas2"),
        "`syncoid tank1 x` failed (killed by a signal):"
    );
}

#[test]
fn status_shows_the_cause_under_the_failed_attempt_and_the_brief_keeps_one_line() {
    let conf = ReplicationPlan {
        schedule: "hourly".into(),
        period_seconds: 3600,
        retention: Retention::REPLICA_DEFAULT,
        target: None,
        sends: true,
        receives: true,
        allow_from: None,
    };
    let mut state = ReplicationState::default();
    state.targets.insert(
        "tappaas2".into(),
        TargetState {
            dataset: "tank2/replica/tappaas1/tank1".into(),
            last_attempt: NOW,
            last_success: Some(NOW - 3 * 3600),
            last_error: Some(QUOTA.into()),
        },
    );
    let rows: Vec<TargetStatus> =
        tappaas_firstboot::backup::replication::evaluate(&conf, &state, NOW);
    let text = render(Some(&conf), &state, &rows);
    assert!(
        text.contains(
            "    last attempt failed: `syncoid --recursive tank1 root@10.0.0.11:tank2/replica/tappaas1/tank1` failed (exit status 2):\n    \
             cause: cannot receive incremental stream: destination tank2/replica/tappaas1/tank1 space quota exceeded. (tappaas2's tank2 is full"
        ),
        "{text}"
    );
    let problems = tappaas_firstboot::backup::problems(&status_ok(), &rows);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].ends_with("; last attempt: cannot receive incremental stream: destination tank2/replica/tappaas1/tank1 space quota exceeded. (tappaas2's tank2 is full: free space there or raise the quota of its tank2/replica; the next run goes on from the last snapshot copied)"),
        "{}",
        problems[0]
    );
    assert!(!problems[0].contains('\n'), "one line: {}", problems[0]);
}

/// Snapshots current and their timer on: only the replica is a problem.
fn status_ok() -> tappaas_firstboot::backup::Status {
    use tappaas_firstboot::backup::{
        evaluate, parse_datasets, parse_policy, parse_snapshots, Timer,
    };
    let policy = parse_policy(
        std::path::Path::new("sanoid.conf"),
        "[tank1]\n  use_template = data\n[template_data]\n  hourly = 24\n",
    )
    .expect("policy");
    let datasets = parse_datasets("tank1\t/tank1").expect("datasets");
    let snapshots = parse_snapshots(&format!(
        "tank1@autosnap_2033-05-18_03:00:00_hourly\t{}",
        NOW - 600
    ))
    .expect("snapshots");
    let timer = Timer {
        unit: "sanoid.timer".into(),
        enabled: true,
        state: "enabled".into(),
    };
    evaluate(&policy, &datasets, &snapshots, timer, NOW)
}

//! Replication across nodes on the recording fake: who sends to whom, the
//! syncoid command line, a target that is down, the state and the lag
//! `backup status` shows, the restricted keys and the receive guard.

use std::path::Path;

use tappaas_answer::{ReplicationTarget, Retention};
use tappaas_effects::{Answer, Call, Recorder};
use tappaas_firstboot::backup::replication::{
    assign, evaluate, render, replicate, save_state, syncoid_args, Assignment, Job, Member,
    ReplicationPaths, ReplicationState, TargetState, COPY_LIMIT,
};
use tappaas_firstboot::backup::replication_guard::{decide, Allowed};
use tappaas_firstboot::backup::replication_keys::authorized_keys;
use tappaas_plan::ReplicationPlan;

const NOW: i64 = 2_000_000_000;
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtappaasreplicationkeyxx tappaas-replication@tappaas1";

fn node(number: u8, receives: bool) -> Member {
    Member {
        number,
        hostname: format!("tappaas{number}"),
        address: Some(format!("10.0.0.{}", 9 + number)),
        receives,
        key: KEY.replace("tappaas1", &format!("tappaas{number}")),
    }
}

fn conf(target: Option<ReplicationTarget>) -> ReplicationPlan {
    ReplicationPlan {
        schedule: "hourly".into(),
        period_seconds: 3600,
        retention: Retention::REPLICA_DEFAULT,
        target,
        sends: true,
        receives: true,
        allow_from: Some("10.0.0.0/24".parse().expect("cidr")),
    }
}

fn to(a: Assignment) -> Option<u8> {
    match a {
        Assignment::To(m) => Some(m.number),
        Assignment::Nowhere(_) => None,
    }
}

#[test]
fn the_ring_sends_each_tank1_to_the_next_node_by_number() {
    let one = [node(1, true)];
    match assign(&one, 1, None) {
        Assignment::Nowhere(why) => assert!(why.contains("single-node"), "{why}"),
        other => panic!("a single node replicated: {other:?}"),
    }
    let two = [node(2, true), node(1, true)];
    assert_eq!(
        [1, 2].map(|n| to(assign(&two, n, None))),
        [Some(2), Some(1)]
    );
    let three = [node(3, true), node(1, true), node(2, true)];
    assert_eq!(
        [1, 2, 3].map(|n| to(assign(&three, n, None))),
        [Some(2), Some(3), Some(1)]
    );
    // Node 2 has no tank2: node 1 skips it, and node 2 still sends.
    let no_tank2 = [node(1, true), node(2, false), node(3, true)];
    assert_eq!(
        [1, 2, 3].map(|n| to(assign(&no_tank2, n, None))),
        [Some(3), Some(3), Some(1)]
    );
}

#[test]
fn an_explicit_target_wins_by_number_or_name() {
    let three = [node(1, true), node(2, true), node(3, true)];
    assert_eq!(
        to(assign(&three, 1, Some(&ReplicationTarget::Number(3)))),
        Some(3)
    );
    assert_eq!(
        to(assign(
            &three,
            2,
            Some(&ReplicationTarget::Name("TAPPAAS1".into()))
        )),
        Some(1)
    );
    // Not (yet) in the cluster: nothing, said.
    match assign(&three, 1, Some(&ReplicationTarget::Name("tappaas9".into()))) {
        Assignment::Nowhere(why) => assert!(why.contains("tappaas9"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn syncoid_copies_tank1_into_the_replica_dataset_with_the_key_file_only() {
    let members = [node(1, true), node(2, true)];
    let key = Path::new("/root/.ssh/tappaas-replication");
    let mut fx = Recorder::new();
    let state = replicate(
        &mut fx,
        Job {
            conf: &conf(None),
            members: &members,
            me: &members[0],
            key,
        },
        ReplicationState::default(),
        NOW,
        &mut |_| {},
    );
    let calls = fx.calls();
    let [Call::Run {
        command,
        input,
        limit,
    }] = calls.as_slice()
    else {
        panic!("{calls:?}")
    };
    assert_eq!(
        command,
        "syncoid --recursive --no-sync-snap --no-rollback --compress=zstd-fast \
         --recvoptions=u o canmount=off --sshkey=/root/.ssh/tappaas-replication \
         --sshoption=ConnectTimeout=10 --sshoption=BatchMode=yes \
         --sshoption=StrictHostKeyChecking=accept-new tank1 root@10.0.0.11:tank2/replica/tappaas1/tank1"
    );
    // The key travels as a path: no key material on the command line.
    assert!(!command.contains("AAAA"), "{command}");
    assert_eq!((input, *limit), (&None, COPY_LIMIT));
    let t = &state.targets["tappaas2"];
    assert_eq!(t.last_success, Some(NOW));
    assert_eq!(t.dataset, "tank2/replica/tappaas1/tank1");
    assert_eq!(t.last_error, None);
    assert_eq!(
        syncoid_args(&members[1], &members[0], key)
            .last()
            .map(String::as_str),
        Some("root@10.0.0.10:tank2/replica/tappaas2/tank1")
    );
}

#[test]
fn a_target_that_is_down_fails_alone_and_shows_its_lag() {
    let members = [node(1, true), node(2, true), node(3, true)];
    let mut fx = Recorder::new().answer(
        "syncoid",
        Answer::prints(
            &["ssh: connect to host 10.0.0.11 port 22: Connection timed out"],
            2,
        ),
    );
    // tappaas3 was copied to before the ring changed; tappaas2 two hours ago.
    let mut before = ReplicationState::default();
    for (name, at) in [("tappaas2", NOW - 7200), ("tappaas3", NOW - 600)] {
        before.targets.insert(
            name.into(),
            TargetState {
                dataset: "tank2/replica/tappaas1/tank1".into(),
                last_success: Some(at),
                last_attempt: at,
                last_error: None,
            },
        );
    }
    let state = replicate(
        &mut fx,
        Job {
            conf: &conf(None),
            members: &members,
            me: &members[0],
            key: Path::new("/k"),
        },
        before,
        NOW,
        &mut |_| {},
    );
    let down = &state.targets["tappaas2"];
    assert_eq!(
        down.last_success,
        Some(NOW - 7200),
        "a failure keeps the last success"
    );
    assert_eq!(down.last_attempt, NOW);
    assert!(
        down.last_error
            .as_deref()
            .is_some_and(|e| e.contains("Connection timed out")),
        "{down:?}"
    );
    assert_eq!(
        state.targets["tappaas3"].last_error, None,
        "the other target is untouched"
    );

    // An hour later it is still down: more than 2 x hourly without a copy.
    let rows = evaluate(&conf(None), &state, NOW + 3600);
    let row = rows.iter().find(|r| r.target == "tappaas2").expect("row");
    assert_eq!(row.lag_seconds, Some(3 * 3600));
    assert!(row.overdue);
    assert!(
        !rows
            .iter()
            .find(|r| r.target == "tappaas3")
            .expect("row")
            .overdue
    );
    let text = render(Some(&conf(None)), &state, &rows);
    assert!(text.contains("to tappaas2 (tank2/replica/tappaas1/tank1): last copy 3h 0m ago, OVERDUE (more than 2h 0m)"), "{text}");
    assert!(text.contains("last attempt failed: `syncoid"), "{text}");
    let json = serde_json::to_value(&rows).expect("json");
    assert_eq!(json[0]["lag_seconds"], 3 * 3600);
    assert_eq!(json[0]["overdue"], true);

    // B is back: the next run succeeds and the lag is gone.
    let mut fx = Recorder::new();
    let state = replicate(
        &mut fx,
        Job {
            conf: &conf(None),
            members: &members,
            me: &members[0],
            key: Path::new("/k"),
        },
        state,
        NOW + 3700,
        &mut |_| {},
    );
    let rows = evaluate(&conf(None), &state, NOW + 3700);
    let row = rows.iter().find(|r| r.target == "tappaas2").expect("row");
    assert_eq!(
        (row.lag_seconds, row.overdue, row.last_error.clone()),
        (Some(0), false, None)
    );
}

#[test]
fn the_state_is_written_root_only_where_status_reads_it() {
    let paths = ReplicationPaths::under(Path::new("/node"));
    let state = ReplicationState {
        idle: Some("a single-node cluster: no other node to copy to".into()),
        ..ReplicationState::default()
    };
    let mut fx = Recorder::new();
    save_state(&mut fx, &paths, &state).expect("saved");
    let calls = fx.calls();
    let [Call::Write {
        path,
        mode,
        content,
    }] = calls.as_slice()
    else {
        panic!("{calls:?}")
    };
    assert_eq!(
        (path.as_path(), *mode),
        (
            Path::new("/node/var/lib/tappaas/replication-state.json"),
            0o600
        )
    );
    let back: ReplicationState = serde_json::from_slice(content).expect("json");
    assert_eq!(back, state);
    assert!(render(Some(&conf(None)), &back, &[])
        .contains("nothing to replicate: a single-node cluster"));
}

#[test]
fn each_other_node_key_is_restricted_to_the_guard_and_the_network() {
    let mut bad = node(3, true);
    bad.key = format!("{KEY}\nssh-ed25519 AAAAinjected");
    let members = [node(1, true), node(2, true), bad];
    let mut said = Vec::new();
    let text = authorized_keys(&members, 1, &conf(None), &mut |l| said.push(l.to_string()));
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [format!(
            "restrict,from=\"10.0.0.0/24\",command=\"/usr/bin/tappaas-installer backup receive-guard --source tappaas2\" {}",
            node(2, true).key
        )]
    );
    assert!(said.iter().any(|l| l.contains("tappaas3")), "{said:?}");
    // A node without tank2 accepts no key at all.
    let mut no_tank2 = conf(None);
    no_tank2.receives = false;
    let text = authorized_keys(&members, 1, &no_tank2, &mut |_| {});
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
}

/// What syncoid sends to the receiving side, as SSH_ORIGINAL_COMMAND,
/// with the flags of `syncoid_args` (read from syncoid's source).
const SYNCOID_SENDS: &[&str] = &[
    "command -v zstd",
    "command -v mbuffer",
    "zpool get -o value -H feature@extensible_dataset 'tank2'",
    "ps -Ao args=",
    "zfs get -H -t snapshot",
    "zfs get -H createtxg",
    "zfs get -H name 'tank2/replica/tappaas1/tank1'",
    "zfs get -H receive_resume_token 'tank2/replica/tappaas1/tank1'",
    "zfs get -Hpd 1 -t snapshot guid,creation,createtxg 'tank2/replica/tappaas1/tank1'",
    "zfs get -H -p used 'tank2/replica/tappaas1/tank1/photos'",
    "zfs receive -A 'tank2/replica/tappaas1/tank1'",
    " mbuffer  -q -s 128k -m 16M | zstd -dc | zfs receive -u -o canmount=off  -s 'tank2/replica/tappaas1/tank1' 2>&1",
    " zfs receive -u -o canmount=off  -s 'tank2/replica/tappaas1/tank1/photos' 2>&1",
];

#[test]
fn the_guard_lets_through_exactly_what_syncoid_sends() {
    for request in SYNCOID_SENDS {
        assert!(
            decide("tappaas1", request).is_ok(),
            "{request}: {:?}",
            decide("tappaas1", request)
        );
    }
    assert_eq!(
        decide("tappaas1", "command -v zstd"),
        Ok(Allowed::CommandV("zstd".into()))
    );
    // The pipeline is run as three programs, stderr of the last merged,
    // after the replica's parent is made (not mounted).
    assert_eq!(
        decide("tappaas1", SYNCOID_SENDS[11]),
        Ok(Allowed::Run {
            prepare: Some(
                [
                    "zfs",
                    "create",
                    "-p",
                    "-o",
                    "canmount=off",
                    "tank2/replica/tappaas1"
                ]
                .map(String::from)
                .to_vec()
            ),
            stages: vec![
                ["mbuffer", "-q", "-s", "128k", "-m", "16M"]
                    .map(String::from)
                    .to_vec(),
                ["zstd", "-dc"].map(String::from).to_vec(),
                [
                    "zfs",
                    "receive",
                    "-u",
                    "-o",
                    "canmount=off",
                    "-s",
                    "tank2/replica/tappaas1/tank1"
                ]
                .map(String::from)
                .to_vec(),
            ],
            merge_stderr: true,
        })
    );
    // A probe without a dataset is asked of this node's subtree only.
    let Ok(Allowed::Run { stages, .. }) = decide("tappaas1", "zfs get -H createtxg") else {
        panic!()
    };
    assert_eq!(
        stages[0].last().map(String::as_str),
        Some("tank2/replica/tappaas1/tank1")
    );
}

/// syncoid (2.2.0, Debian's) opens its SSH master connection with `exit`
/// and stops the copy ("ssh connection echo test failed", exit 2) unless
/// `echo -n` over it succeeds: both come before any other request.
#[test]
fn the_guard_answers_syncoids_connection_setup() {
    for request in ["exit", "echo -n"] {
        assert_eq!(
            decide("tappaas1", request),
            Ok(Allowed::Nothing),
            "{request}"
        );
    }
    for request in ["echo hello", "echo -n; reboot", "exit 0 | sh", "echo"] {
        assert!(decide("tappaas1", request).is_err(), "allowed: {request:?}");
    }
}

#[test]
fn the_guard_refuses_everything_else() {
    for request in [
        "zfs destroy -r 'tank2/replica/tappaas1/tank1'",
        "zfs rollback 'tank2/replica/tappaas1/tank1@x'",
        "zfs set mountpoint=/ 'tank2/replica/tappaas1/tank1'",
        "sh",
        "bash -c 'zfs destroy tank1'",
        "/bin/sh -c id",
        "",
        // Outside the subtree, or another node's replica.
        "zfs receive -u -o canmount=off -s 'tank1'",
        "zfs receive -u -o canmount=off -s 'tank2/replica/tappaas2/tank1'",
        "zfs receive -u -o canmount=off -s 'tank2/replica/tappaas1/tank1/../../x'",
        "zfs get -H name 'tank2'",
        "zpool get -o value -H feature@extensible_dataset 'rpool'",
        // A receive that would mount, or roll back.
        "zfs receive -s 'tank2/replica/tappaas1/tank1'",
        "zfs receive -u -o canmount=off -F 'tank2/replica/tappaas1/tank1'",
        "zfs receive -u -o mountpoint=/etc -o canmount=off 'tank2/replica/tappaas1/tank1'",
        // Tricks around an allowed command.
        "zfs get -H name 'tank2/replica/tappaas1/tank1'; zfs destroy tank1",
        "zfs get -H name 'tank2/replica/tappaas1/tank1' && reboot",
        "zfs get -H name 'tank2/replica/tappaas1/tank1' || reboot",
        "ps -Ao args= | sh",
        "cat /etc/shadow | zfs receive -u -o canmount=off 'tank2/replica/tappaas1/tank1'",
        "zfs receive -u -o canmount=off 'tank2/replica/tappaas1/tank1' > /etc/passwd",
        "zfs get -H name \"$(reboot)\"",
        "zfs get -H name `reboot`",
        "zfs get -H name 'tank2/replica/tappaas1/tank1'\nreboot",
        "command -v sh",
        "ps -Ao args= 2>&1 2>&1",
    ] {
        assert!(decide("tappaas1", request).is_err(), "allowed: {request:?}");
    }
    // A key whose --source is not a plain name guards nothing.
    assert!(decide("../x", "ps -Ao args=").is_err());
}

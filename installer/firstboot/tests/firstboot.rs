//! First boot against the Proxmox simulator (which checks every request
//! against the API schema and panics on an invalid one): a first node
//! creates the cluster, later nodes join, every node registers its pools,
//! and every way a step can fail leaves a state that a re-run completes.

// Tests may unwrap: a panic is a failure with a location.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use tappaas_exec::Event;
use tappaas_firstboot::proxmox::{FailWhen, Method, Simulator};
use tappaas_firstboot::{status, FirstbootError, Outcome};

/// Node 1 creates, then nodes 2 and 3 join through it.
fn three_nodes(sim: &Simulator) -> [Node; 3] {
    let n1 = Node::new(1, &plan(1, None));
    run_ok(sim, &n1);
    let fp = confirmed(sim);
    let n2 = Node::new(2, &plan(2, Some(&fp)));
    run_ok(sim, &n2);
    let n3 = Node::new(3, &plan(3, Some(&fp)));
    run_ok(sim, &n3);
    [n1, n2, n3]
}

#[test]
fn first_node_creates_the_cluster_and_registers_its_pools() {
    let sim = world();
    let n1 = Node::new(1, &plan(1, None));
    let summary = run_ok(&sim, &n1);

    let (name, members) = sim.cluster_of("tappaas1").unwrap();
    assert_eq!(name, "tappaas");
    assert_eq!(members, ["tappaas1"]);
    for id in ["tank1", "tank2"] {
        assert_eq!(storage_nodes(&sim, "tappaas1", id).unwrap(), ["tappaas1"]);
        let s = storages(&sim, "tappaas1")
            .into_iter()
            .find(|s| s.storage == id)
            .unwrap();
        assert_eq!(s.storage_type, "zfspool");
        assert_eq!(s.pool.as_deref(), Some(id));
        assert_eq!(s.content, ["images", "rootdir"]);
    }
    // The create used the management address as corosync link 0.
    let create = sim
        .calls()
        .into_iter()
        .find(|(_, r)| r.method == Method::Post && r.path == "/cluster/config")
        .unwrap()
        .1;
    assert_eq!(create.get_param("clustername"), Some("tappaas"));
    assert_eq!(create.get_param("link0"), Some("address=10.0.0.10"));

    assert!(
        !n1.config.marker.exists(),
        "the marker goes when first boot has finished"
    );
    let mode = std::fs::metadata(&n1.config.summary)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the summary is root-only");
    let written = std::fs::read_to_string(&n1.config.summary).unwrap();
    assert_eq!(written, summary);
    for needle in [
        "https://10.0.0.10:8006",
        "Cluster 'tappaas': 1 node(s), quorate",
        "tank1",
        "tank2",
        "Add a node",
        &sim.fingerprint("tappaas1").unwrap(),
    ] {
        assert!(
            summary.contains(needle),
            "summary lacks {needle:?}:\n{summary}"
        );
    }
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn later_nodes_join_once_and_are_added_to_the_existing_storages() {
    let sim = world();
    let [_, n2, n3] = three_nodes(&sim);

    for n in ["tappaas1", "tappaas2", "tappaas3"] {
        let (name, mut members) = sim.cluster_of(n).unwrap();
        members.sort();
        assert_eq!(name, "tappaas");
        assert_eq!(members, ["tappaas1", "tappaas2", "tappaas3"]);
    }
    assert_eq!(
        storage_nodes(&sim, "tappaas3", "tank1").unwrap(),
        ["tappaas1", "tappaas2", "tappaas3"]
    );
    // tappaas3 has no tank2: it is not added there.
    assert_eq!(
        storage_nodes(&sim, "tappaas3", "tank2").unwrap(),
        ["tappaas1", "tappaas2"]
    );
    let ids: Vec<String> = storages(&sim, "tappaas1")
        .into_iter()
        .map(|s| s.storage)
        .collect();
    assert_eq!(ids, ["local", "tank1", "tank2"]);

    // One create in the whole cluster, one join per later node, two
    // storages added (by the first node), the rest updates.
    assert_eq!(count(&sim, "tappaas1", Method::Post, "/cluster/config"), 1);
    for n in ["tappaas2", "tappaas3"] {
        assert_eq!(count(&sim, n, Method::Post, "/cluster/config/join"), 1);
        assert_eq!(count(&sim, n, Method::Post, "/storage"), 0);
    }
    let join = sim
        .calls()
        .into_iter()
        .find(|(n, r)| n == "tappaas2" && r.path == "/cluster/config/join")
        .unwrap()
        .1;
    assert_eq!(join.get_param("hostname"), Some("10.0.0.10"));
    assert_eq!(join.get_param("link0"), Some("address=10.0.0.11"));
    assert_eq!(count(&sim, "tappaas2", Method::Put, "/storage/tank1"), 1);
    assert_eq!(count(&sim, "tappaas2", Method::Put, "/storage/tank2"), 1);

    for n in [&n2, &n3] {
        assert!(
            !n.config.peer_password_credential.exists(),
            "the credential is deleted after the join"
        );
        assert!(!n.config.marker.exists());
    }
    let summary = std::fs::read_to_string(&n3.config.summary).unwrap();
    assert!(summary.contains("https://10.0.0.12:8006"), "{summary}");
    assert!(summary.contains("3 node(s)"), "{summary}");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn running_again_after_success_changes_nothing() {
    let sim = world();
    let [n1, n2, _] = three_nodes(&sim);
    let before = sim.snapshot();
    let writes_before = (writes(&sim, "tappaas1"), writes(&sim, "tappaas2"));
    run_ok(&sim, &n1);
    run_ok(&sim, &n2);
    // A node whose journal is lost still decides from Proxmox's state.
    std::fs::remove_file(&n2.config.journal).unwrap();
    run_ok(&sim, &n2);
    assert_eq!(sim.snapshot(), before);
    assert_eq!(
        (writes(&sim, "tappaas1"), writes(&sim, "tappaas2")),
        writes_before
    );
}

#[test]
fn a_wrong_fingerprint_stops_the_join_and_changes_nothing() {
    let wrong = vec!["AB"; 32].join(":");
    // Seen by first boot itself (the peer's certificate is readable from
    // the node), and seen only by Proxmox during the join.
    for sees_peer in [true, false] {
        let sim = world();
        let n1 = Node::new(1, &plan(1, None));
        run_ok(&sim, &n1);
        let n2 = Node::new(2, &plan(2, Some(&wrong)));
        let before = sim.snapshot();
        let mut host = TestHost::new(&sim);
        host.sees_peer = sees_peer;
        let ran = run_node(&sim, &n2, &mut host);
        let Err(FirstbootError::Step { step, failure }) = ran.result else {
            panic!("the join must stop: {:?}", ran.result);
        };
        assert_eq!(step, "cluster-join");
        assert!(
            failure.message.contains("Nothing was changed")
                || failure.message.contains("nothing was changed"),
            "{}",
            failure.message
        );
        if sees_peer {
            assert!(failure.message.contains(&wrong), "{}", failure.message);
            assert!(
                failure.message.contains(&confirmed(&sim)),
                "{}",
                failure.message
            );
            assert_eq!(
                host.password_reads, 0,
                "no password is read for a peer that is not the one confirmed"
            );
            assert_eq!(
                count(&sim, "tappaas2", Method::Post, "/cluster/config/join"),
                0
            );
        } else {
            assert!(
                failure
                    .output_tail
                    .iter()
                    .any(|l| l.contains("fingerprint")),
                "{failure:?}"
            );
        }
        assert!(matches!(ran.events.last(), Some(Event::Failed { .. })));
        assert_eq!(sim.snapshot(), before, "a refused join changes nothing");
        assert!(sim.cluster_of("tappaas2").is_none());
        assert!(
            n2.config.marker.exists(),
            "the marker stays until first boot succeeds"
        );
        assert!(
            n2.config.peer_password_credential.exists(),
            "the credential stays for a re-run"
        );
        assert!(!n2.config.summary.exists());
    }
}

/// Where a failure can strike, on which node (1 creates, 2 joins), and
/// whether the first run may still finish (a failure that a look at the
/// state, or a retry while waiting, absorbs).
const FAILURES: &[(u8, Method, &str)] = &[
    (1, Method::Get, "/version"),
    (1, Method::Get, "/cluster/status"),
    (1, Method::Post, "/cluster/config"),
    (1, Method::Get, "/nodes/tappaas1/disks/zfs"),
    (1, Method::Get, "/storage"),
    (1, Method::Post, "/storage"),
    (1, Method::Get, "/nodes"),
    (2, Method::Get, "/cluster/status"),
    (2, Method::Post, "/cluster/config/join"),
    (2, Method::Get, "/nodes/tappaas2/disks/zfs"),
    (2, Method::Get, "/storage"),
    (2, Method::Put, "/storage/tank1"),
    (2, Method::Put, "/storage/tank2"),
    (2, Method::Get, "/nodes"),
];

#[test]
fn a_failure_in_any_step_is_completed_by_a_rerun() {
    for &(n, method, path) in FAILURES {
        for when in [FailWhen::Before, FailWhen::After] {
            let case = format!("{method} {path} failing {when:?} on tappaas{n}");
            let sim = world();
            let n1 = Node::new(1, &plan(1, None));
            if n == 2 {
                run_ok(&sim, &n1);
            }
            let node = if n == 1 {
                n1
            } else {
                Node::new(2, &plan(2, Some(&confirmed(&sim))))
            };

            sim.fail_next(method, path, when, "injected failure");
            let first = run_node(&sim, &node, &mut TestHost::new(&sim));
            assert_eq!(
                sim.pending_failures(),
                0,
                "{case}: the failure never struck"
            );
            // Waiting retries the status calls; a write whose answer was
            // lost is recognised from the state; everything else stops the
            // run, to be completed by the next.
            let retried = path == "/version" || path == "/cluster/status";
            let stops = !retried && (when == FailWhen::Before || method == Method::Get);
            assert_eq!(first.result.is_err(), stops, "{case}: {:?}", first.result);
            match &first.result {
                Ok(Outcome::Finished { .. }) => {
                    assert!(!node.config.marker.exists(), "{case}");
                }
                Err(FirstbootError::Step { .. }) => {
                    assert!(
                        node.config.marker.exists(),
                        "{case}: marker removed after a failure"
                    );
                    assert!(
                        matches!(first.events.last(), Some(Event::Failed { .. })),
                        "{case}"
                    );
                    let again = run_node(&sim, &node, &mut TestHost::new(&sim));
                    assert!(
                        matches!(again.result, Ok(Outcome::Finished { .. })),
                        "{case}: the re-run did not finish: {:?}\n{:#?}",
                        again.result,
                        again.events
                    );
                    assert!(!node.config.marker.exists(), "{case}");
                }
                other => panic!("{case}: {other:?}"),
            }
            if n == 2 {
                // The second node joins exactly once: a second attempt
                // only follows a join that was refused before it happened.
                let joins = count(&sim, "tappaas2", Method::Post, "/cluster/config/join");
                let expected = if path == "/cluster/config/join" && when == FailWhen::Before {
                    2
                } else {
                    1
                };
                assert_eq!(joins, expected, "{case}");
                assert!(!node.config.peer_password_credential.exists(), "{case}");
            }
            let creates = count(&sim, "tappaas1", Method::Post, "/cluster/config");
            let expected = if path == "/cluster/config" && when == FailWhen::Before {
                2
            } else {
                1
            };
            assert_eq!(creates, expected, "{case}");

            let (name, mut members) = sim.cluster_of("tappaas1").unwrap();
            members.sort();
            assert_eq!(name, "tappaas", "{case}");
            let want: Vec<String> = (1..=n).map(|i| format!("tappaas{i}")).collect();
            assert_eq!(members, want, "{case}");
            let ids: Vec<String> = storages(&sim, "tappaas1")
                .into_iter()
                .map(|s| s.storage)
                .collect();
            assert_eq!(ids, ["local", "tank1", "tank2"], "{case}");
            for id in ["tank1", "tank2"] {
                assert_eq!(
                    storage_nodes(&sim, "tappaas1", id).unwrap(),
                    want,
                    "{case}: {id}"
                );
            }
            assert!(
                sim.violations().is_empty(),
                "{case}: {:?}",
                sim.violations()
            );
        }
    }
}

#[test]
fn a_lost_create_answer_is_not_retried() {
    let sim = world();
    let n1 = Node::new(1, &plan(1, None));
    sim.fail_next(
        Method::Post,
        "/cluster/config",
        FailWhen::After,
        "connection reset",
    );
    let ran = run_node(&sim, &n1, &mut TestHost::new(&sim));
    assert!(
        matches!(ran.result, Ok(Outcome::Finished { .. })),
        "{:?}",
        ran.result
    );
    let said = ran.events.iter().any(
        |e| matches!(e, Event::Action { text, .. } if text.contains("the create took effect")),
    );
    assert!(said, "{:#?}", ran.events);
}

#[test]
fn the_test_flavour_reports_and_changes_nothing() {
    let sim = world();
    let mut p = plan(1, None);
    p.node.flavour = tappaas_plan::Flavour::Test;
    let n1 = Node::new(1, &p);
    assert!(!n1.config.pvesh.exists());
    let before = sim.snapshot();
    let ran = run_node(&sim, &n1, &mut TestHost::new(&sim));
    let Ok(Outcome::NoProxmox { message }) = ran.result else {
        panic!("expected NoProxmox: {:?}", ran.result);
    };
    assert!(
        message.starts_with("Proxmox VE is not installed on this node (test flavour): "),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(ran.events.is_empty());
    assert!(sim.calls().is_empty());
    assert_eq!(sim.snapshot(), before);
    assert!(n1.config.marker.exists());
    assert!(!n1.config.journal.exists(), "not even a journal is written");
    assert!(!n1.config.summary.exists());

    let report = status(&n1.config, &mut client(&sim, "tappaas1"));
    assert!(
        report.contains("Proxmox VE is not installed on this node (test flavour)"),
        "{report}"
    );
    assert!(sim.calls().is_empty());
}

#[test]
fn a_join_without_the_password_stops_before_joining() {
    let sim = world();
    run_ok(&sim, &Node::new(1, &plan(1, None)));
    let n2 = Node::new(2, &plan(2, Some(&confirmed(&sim))));
    std::fs::remove_file(&n2.config.peer_password_credential).unwrap();
    let before = sim.snapshot();
    let ran = run_node(&sim, &n2, &mut TestHost::new(&sim));
    let Err(FirstbootError::Step { failure, .. }) = ran.result else {
        panic!("{:?}", ran.result);
    };
    assert!(
        failure.message.contains("systemd-creds encrypt"),
        "{}",
        failure.message
    );
    assert_eq!(sim.snapshot(), before);
}

#[test]
fn a_missing_pool_stops_with_advice() {
    let sim = world();
    sim.set_pool("tappaas1", "tank2", None);
    let n1 = Node::new(1, &plan(1, None));
    let ran = run_node(&sim, &n1, &mut TestHost::new(&sim));
    let Err(FirstbootError::Step { step, failure }) = ran.result else {
        panic!("{:?}", ran.result);
    };
    assert_eq!(step, "storage-tank2");
    assert!(
        failure.message.contains("'tank2' is not imported"),
        "{}",
        failure.message
    );
    assert_eq!(
        step_ids(&ran.events),
        ["proxmox-ready", "cluster-create", "storage-tank1"]
    );
    assert!(n1.config.marker.exists());
    // The pool comes back (imported by hand): the re-run skips what is done.
    sim.set_pool("tappaas1", "tank2", Some(4000 * GIB));
    let again = run_node(&sim, &n1, &mut TestHost::new(&sim));
    assert!(matches!(again.result, Ok(Outcome::Finished { .. })));
    let skipped: Vec<&str> = again
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StepSkipped { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, ["cluster-create", "storage-tank1"]);
}

#[test]
fn a_storage_of_that_name_on_another_pool_is_left_alone() {
    let sim = world();
    // Someone registered pool tank2 under the id tank1.
    let n1 = Node::new(1, &plan(1, None));
    let mut p = client(&sim, "tappaas1");
    use tappaas_firstboot::proxmox::client::{NodeName, PoolName, StorageId, ZfsPoolStorage};
    p.add_zfspool_storage(
        &ZfsPoolStorage::new(
            StorageId::new("tank1").unwrap(),
            PoolName::new("tank2").unwrap(),
            vec![NodeName::new("tappaas1").unwrap()],
        )
        .unwrap(),
    )
    .unwrap();
    let ran = run_node(&sim, &n1, &mut TestHost::new(&sim));
    let Err(FirstbootError::Step { step, failure }) = ran.result else {
        panic!("{:?}", ran.result);
    };
    assert_eq!(step, "storage-tank1");
    assert!(
        failure.message.contains("does not add a second storage"),
        "{}",
        failure.message
    );
}

#[test]
fn a_node_in_another_cluster_is_not_changed() {
    let sim = world();
    let mut p = plan(1, None);
    p.node.cluster = tappaas_plan::ClusterPlan::Create {
        name: "other".into(),
    };
    run_ok(&sim, &Node::new(1, &p));
    let before = sim.snapshot();
    let n1 = Node::new(1, &plan(1, None));
    let ran = run_node(&sim, &n1, &mut TestHost::new(&sim));
    let Err(FirstbootError::Step { failure, .. }) = ran.result else {
        panic!("{:?}", ran.result);
    };
    assert!(
        failure
            .message
            .contains("already a member of cluster 'other'"),
        "{}",
        failure.message
    );
    assert_eq!(sim.snapshot(), before);
}

#[test]
fn status_tells_the_cluster_the_storages_and_the_steps() {
    let sim = world();
    let [_, n2, _] = three_nodes(&sim);
    let report = status(&n2.config, &mut client(&sim, "tappaas2"));
    for needle in [
        "Proxmox VE 9.1.3",
        "Cluster 'tappaas': 3 node(s), quorate",
        "tappaas2         10.0.0.11        online  (this node)",
        "tank1",
        "nodes tappaas1,tappaas2,tappaas3",
        "Proxmox web UI: https://10.0.0.11:8006",
        "state:      finished",
        "[done] Join the Proxmox cluster through 10.0.0.10",
        "[done] Register ZFS pool tank2 as Proxmox storage",
    ] {
        assert!(
            report.contains(needle),
            "status lacks {needle:?}:\n{report}"
        );
    }
    let writes_before = writes(&sim, "tappaas2");
    let _ = status(&n2.config, &mut client(&sim, "tappaas2"));
    assert_eq!(writes(&sim, "tappaas2"), writes_before, "status only reads");

    // Before first boot has run at all.
    let n1 = Node::new(1, &plan(1, None));
    let fresh = world();
    let report = status(&n1.config, &mut client(&fresh, "tappaas1"));
    assert!(report.contains("no step has run yet"), "{report}");
    assert!(report.contains("Cluster: none"), "{report}");
    assert!(!n1.config.journal.exists(), "status writes no journal");
}

#[test]
fn a_node_installed_again_is_told_to_leave_the_cluster_first() {
    let sim = world();
    let [_, n2, _] = three_nodes(&sim);
    // Installed again: standalone, but the cluster still lists it.
    sim.reinstall("tappaas2");
    let again = Node::new(2, &plan(2, Some(&confirmed(&sim))));
    let before = sim.snapshot();
    let ran = run_node(&sim, &again, &mut TestHost::new(&sim));
    let Err(FirstbootError::Step { step, failure }) = ran.result else {
        panic!("{:?}", ran.result);
    };
    assert_eq!(step, "cluster-join");
    assert!(
        failure.message.contains("pvecm delnode tappaas2"),
        "{}",
        failure.message
    );
    assert_eq!(sim.snapshot(), before);
    drop(n2);
}

#[test]
fn an_address_from_dhcp_is_taken_from_proxmox() {
    let sim = world();
    let mut p = plan(1, None);
    p.network.address = tappaas_plan::Address::FromDhcp;
    let n1 = Node::new(1, &p);
    let summary = run_ok(&sim, &n1);
    let create = sim
        .calls()
        .into_iter()
        .find(|(_, r)| r.path == "/cluster/config" && r.method == Method::Post)
        .unwrap()
        .1;
    assert_eq!(create.get_param("link0"), Some("address=10.0.0.10"));
    assert!(summary.contains("https://10.0.0.10:8006"), "{summary}");
}

#[test]
fn the_last_steps_fail_on_the_node_s_own_files_and_resume() {
    let sim = world();
    let n1 = Node::new(1, &plan(1, None));
    // The summary's folder cannot be made: a file is in the way.
    let root_home = n1.config.summary.parent().unwrap().to_path_buf();
    write(&root_home, "not a folder");
    let ran = run_node(&sim, &n1, &mut TestHost::new(&sim));
    assert!(
        matches!(&ran.result, Err(FirstbootError::Step { step, .. }) if step == "summary"),
        "{:?}",
        ran.result
    );
    assert!(n1.config.marker.exists());
    std::fs::remove_file(&root_home).unwrap();

    // The marker cannot be removed (it became a folder with something in it).
    std::fs::remove_file(&n1.config.marker).unwrap();
    std::fs::create_dir_all(n1.config.marker.join("x")).unwrap();
    let ran = run_node(&sim, &n1, &mut TestHost::new(&sim));
    assert!(
        matches!(&ran.result, Err(FirstbootError::Step { step, .. }) if step == "finish"),
        "{:?}",
        ran.result
    );
    assert!(n1.config.summary.exists(), "the summary step ran this time");
    std::fs::remove_dir_all(&n1.config.marker).unwrap();
    write(&n1.config.marker, "pending\n");

    let writes_before = writes(&sim, "tappaas1");
    run_ok(&sim, &n1);
    assert!(!n1.config.marker.exists());
    assert_eq!(
        writes(&sim, "tappaas1"),
        writes_before,
        "the cluster and storages were done already"
    );
}

/// The step runner's journal policy, through first boot: a journal that
/// can no longer be written stops first boot at the step it could not
/// record; nothing after it runs and the marker stays.
#[test]
fn a_journal_that_cannot_be_written_stops_first_boot() {
    let sim = world();
    let n1 = Node::new(1, &plan(1, None));
    let journal = n1.config.journal.clone();
    let mut px = client(&sim, &n1.name);
    let mut events = Vec::new();
    let result = tappaas_firstboot::run(&n1.config, &mut px, &mut TestHost::new(&sim), &mut |e| {
        // As the cluster step starts, a folder takes the journal's
        // place: nothing, not even root, can append to it.
        if matches!(e, Event::StepStarted { index: 1, .. }) {
            std::fs::remove_file(&journal).unwrap();
            std::fs::create_dir(&journal).unwrap();
        }
        events.push(e.clone());
    });
    match result {
        Err(FirstbootError::Step { step, failure }) => {
            assert_eq!(step, "cluster-create");
            assert!(failure.what.contains("journal"), "{failure:?}");
        }
        other => panic!("a journal error must stop first boot: {other:?}\n{events:#?}"),
    }
    assert!(
        matches!(events.last(), Some(Event::Failed { index: 1, .. })),
        "{events:#?}"
    );
    assert_eq!(
        sim.cluster_of("tappaas1"),
        None,
        "the cluster step did not run"
    );
    assert!(n1.config.marker.exists(), "first boot is not finished");
}

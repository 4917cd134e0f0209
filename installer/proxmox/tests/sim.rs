//! The simulator, driven through the typed client the way first boot will
//! drive it: create on node 1, nodes 2 and 3 join, storages per node, and
//! each way this can go wrong.

// Tests may unwrap: a panic is a failure with a location.
#![allow(clippy::unwrap_used)]

mod common;

use common::{client, ip, node, password, world, GIB};
use tappaas_proxmox::client::{
    ClusterName, CreateCluster, Fingerprint, JoinCluster, Link, Password, PoolName, StorageId,
    ZfsPoolStorage,
};
use tappaas_proxmox::{Api, ApiError, FailWhen, Method, Request, Simulator};

fn create(sim: &Simulator) {
    let mut c = client(sim, "tappaas1");
    let upid = c
        .create_cluster(&CreateCluster {
            name: ClusterName::new("tappaas").unwrap(),
            link0: Link::new(ip("10.0.0.10")),
        })
        .unwrap()
        .expect("cluster create runs as a task");
    assert!(c.task_status(&node("tappaas1"), &upid).unwrap().succeeded());
}

/// Join node `n` through tappaas1 with the fingerprint the user confirmed.
fn join_request(n: u32, fingerprint: &str) -> JoinCluster {
    JoinCluster::new(
        "10.0.0.10",
        Fingerprint::parse(fingerprint).unwrap(),
        Password::new(password(1)),
        Link::new(ip(&format!("10.0.0.{}", 9 + n))),
    )
    .unwrap()
}

fn join(sim: &Simulator, n: u32) -> Result<Option<String>, ApiError> {
    let fp = sim.fingerprint("tappaas1").unwrap();
    client(sim, &format!("tappaas{n}")).join_cluster(&join_request(n, &fp))
}

fn zfspool(id: &str, nodes: &[&str]) -> ZfsPoolStorage {
    ZfsPoolStorage::new(
        StorageId::new(id).unwrap(),
        PoolName::new(id).unwrap(),
        nodes.iter().map(|n| node(n)).collect(),
    )
    .unwrap()
}

fn storage_nodes(sim: &Simulator, on: &str, id: &str) -> Option<Vec<String>> {
    client(sim, on)
        .storage(&StorageId::new(id).unwrap())
        .unwrap()
        .nodes
}

fn refusal(e: ApiError) -> String {
    match e {
        ApiError::Refused { message, .. } => message,
        other => panic!("expected a refusal, got {other}"),
    }
}

#[test]
fn three_nodes_form_a_cluster_with_storages_per_node() {
    let sim = world();

    // Before: standalone, only the default storage.
    let mut c1 = client(&sim, "tappaas1");
    let st = c1.cluster_status().unwrap();
    assert!(!st.is_clustered());
    assert_eq!(st.local_node().unwrap().name, "tappaas1");
    assert_eq!(c1.version().unwrap().release, "9.1");
    let pools: Vec<String> = c1
        .zfs_pools(&node("tappaas1"))
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(pools, ["rpool", "tank1", "tank2"]);

    create(&sim);
    let st = c1.cluster_status().unwrap();
    let cl = st.cluster.clone().unwrap();
    assert_eq!(
        (cl.name.as_str(), cl.nodes, cl.quorate),
        ("tappaas", 1, true)
    );
    c1.add_zfspool_storage(&zfspool("tank1", &["tappaas1"]))
        .unwrap();
    c1.add_zfspool_storage(&zfspool("tank2", &["tappaas1"]))
        .unwrap();

    // The joining node learns the fingerprint from the join info, the user
    // confirms it, and the join goes through node 1.
    let info = client(&sim, "tappaas1").join_info(None).unwrap();
    let shown = info.preferred_fingerprint().unwrap().to_string();
    assert_eq!(shown, sim.fingerprint("tappaas1").unwrap());
    let fp2_before = sim.fingerprint("tappaas2").unwrap();
    let upid = join(&sim, 2).unwrap().unwrap();
    // The join re-issues node 2's certificate under the cluster's CA.
    let fp2 = sim.fingerprint("tappaas2").unwrap();
    assert_ne!(fp2, fp2_before);
    let info = client(&sim, "tappaas1").join_info(None).unwrap();
    let listed = info.nodelist.iter().find(|n| n.name == "tappaas2").unwrap();
    assert_eq!(listed.pve_fp, fp2);
    let mut c2 = client(&sim, "tappaas2");
    assert!(c2
        .task_status(&node("tappaas2"), &upid)
        .unwrap()
        .succeeded());

    let st = c2.cluster_status().unwrap();
    let cl = st.cluster.clone().unwrap();
    assert_eq!((cl.nodes, cl.quorate, cl.version), (2, true, 2));
    assert_eq!(st.local_node().unwrap().name, "tappaas2");
    assert_eq!(st.local_node().unwrap().nodeid, Some(2));

    // Storage ids are cluster-wide: node 2 is added to the existing ones.
    for id in ["tank1", "tank2"] {
        let id = StorageId::new(id).unwrap();
        c2.set_storage_nodes(&id, &[node("tappaas1"), node("tappaas2")])
            .unwrap();
    }

    join(&sim, 3).unwrap();
    let mut c3 = client(&sim, "tappaas3");
    c3.set_storage_nodes(
        &StorageId::new("tank1").unwrap(),
        &[node("tappaas1"), node("tappaas2"), node("tappaas3")],
    )
    .unwrap();
    // tappaas3 has no tank2, so tank2 stays on nodes 1 and 2.
    let e = c3
        .set_storage_nodes(
            &StorageId::new("tank2").unwrap(),
            &[node("tappaas1"), node("tappaas2"), node("tappaas3")],
        )
        .unwrap_err();
    assert!(refusal(e).contains("'tank2' does not exist on node 'tappaas3'"));

    // Everyone sees the same cluster.
    for n in ["tappaas1", "tappaas2", "tappaas3"] {
        let mut c = client(&sim, n);
        let st = c.cluster_status().unwrap();
        assert_eq!(st.cluster.as_ref().unwrap().nodes, 3, "seen from {n}");
        assert!(st.cluster.as_ref().unwrap().quorate);
        assert_eq!(st.nodes.len(), 3);
        let mut members = c.cluster_config_nodes().unwrap();
        members.sort();
        assert_eq!(members, ["tappaas1", "tappaas2", "tappaas3"]);
        assert_eq!(
            storage_nodes(&sim, n, "tank1").unwrap(),
            ["tappaas1", "tappaas2", "tappaas3"]
        );
        assert_eq!(
            storage_nodes(&sim, n, "tank2").unwrap(),
            ["tappaas1", "tappaas2"]
        );
    }
    let nodes = c3.nodes().unwrap();
    assert_eq!(nodes.len(), 3);
    for n in &nodes {
        assert_eq!(n.status, "online");
        assert_eq!(n.ssl_fingerprint, sim.fingerprint(&n.node));
    }

    // Storage restricted to nodes: tappaas3 does not get tank2.
    let on3: Vec<String> = c1
        .node_storages(&node("tappaas3"))
        .unwrap()
        .into_iter()
        .map(|s| s.storage)
        .collect();
    assert_eq!(on3, ["local", "tank1"]);
    let on2 = c1.node_storages(&node("tappaas2")).unwrap();
    let tank2 = on2.iter().find(|s| s.storage == "tank2").unwrap();
    assert!(tank2.active && tank2.enabled);
    assert_eq!(tank2.total, Some(4000 * GIB));
    assert_eq!(tank2.content, ["images", "rootdir"]);

    // The whole run sent only valid requests (the simulator would have
    // panicked otherwise), and tells who sent what.
    assert!(sim.violations().is_empty());
    assert!(sim
        .calls()
        .iter()
        .any(|(n, r)| n == "tappaas3" && r.path == "/cluster/config/join"));
}

#[test]
fn create_works_once() {
    let sim = world();
    create(&sim);
    let mut c1 = client(&sim, "tappaas1");
    let again = CreateCluster {
        name: ClusterName::new("other").unwrap(),
        link0: Link::new(ip("10.0.0.10")),
    };
    let before = sim.snapshot();
    let e = c1.create_cluster(&again).unwrap_err();
    assert!(refusal(e).contains("cluster config '/etc/pve/corosync.conf' already exists"));
    assert_eq!(sim.snapshot(), before);

    // A member cannot found another cluster either.
    join(&sim, 2).unwrap();
    let mut again2 = again.clone();
    again2.link0 = Link::new(ip("10.0.0.11"));
    let e = client(&sim, "tappaas2")
        .create_cluster(&again2)
        .unwrap_err();
    assert!(refusal(e).contains("already exists"));
}

#[test]
fn create_needs_a_local_link_address() {
    let sim = world();
    let e = client(&sim, "tappaas1")
        .create_cluster(&CreateCluster {
            name: ClusterName::new("tappaas").unwrap(),
            link0: Link::new(ip("10.0.0.99")),
        })
        .unwrap_err();
    assert!(refusal(e).contains("must be configured exactly once on local node"));
    assert!(sim.cluster_of("tappaas1").is_none());
}

#[test]
fn wrong_fingerprint_stops_the_join_and_changes_nothing() {
    let sim = world();
    create(&sim);
    let before = sim.snapshot();
    // Node 3's certificate, not node 1's: what a man in the middle shows.
    let wrong = sim.fingerprint("tappaas3").unwrap();
    let e = client(&sim, "tappaas2")
        .join_cluster(&join_request(2, &wrong))
        .unwrap_err();
    assert!(refusal(e).contains("does not match fingerprint"));
    assert_eq!(sim.snapshot(), before);
    assert!(sim.cluster_of("tappaas2").is_none());
    assert_eq!(sim.cluster_of("tappaas1").unwrap().1, ["tappaas1"]);
}

#[test]
fn wrong_password_stops_the_join_and_changes_nothing() {
    let sim = world();
    create(&sim);
    let before = sim.snapshot();
    let mut j = join_request(2, &sim.fingerprint("tappaas1").unwrap());
    j.password = Password::new(password(2));
    let e = client(&sim, "tappaas2").join_cluster(&j).unwrap_err();
    assert_eq!(refusal(e), "authentication failure");
    assert_eq!(sim.snapshot(), before);
}

#[test]
fn fingerprint_case_does_not_matter() {
    let sim = world();
    create(&sim);
    let lower = sim.fingerprint("tappaas1").unwrap().to_lowercase();
    client(&sim, "tappaas2")
        .join_cluster(&join_request(2, &lower))
        .unwrap();
}

#[test]
fn a_node_joins_only_once() {
    let sim = world();
    create(&sim);
    join(&sim, 2).unwrap();
    let before = sim.snapshot();
    let e = join(&sim, 2).unwrap_err();
    assert!(refusal(e).contains("already exists"));
    assert_eq!(sim.snapshot(), before);
    // Not through another member either.
    join(&sim, 3).unwrap();
    let fp3 = sim.fingerprint("tappaas3").unwrap();
    let mut via3 = join_request(2, &fp3);
    via3.peer = "tappaas3".to_string();
    via3.password = Password::new(password(3));
    assert!(client(&sim, "tappaas2").join_cluster(&via3).is_err());
    let (_, members) = sim.cluster_of("tappaas1").unwrap();
    assert_eq!(members, ["tappaas1", "tappaas2", "tappaas3"]);
}

#[test]
fn node_names_are_unique_in_a_cluster() {
    let sim = world();
    create(&sim);
    join(&sim, 2).unwrap();
    // tappaas2 is reinstalled (new certificate, standalone) while the
    // cluster still lists it: Proxmox refuses the name until the old entry
    // is removed.
    sim.reinstall("tappaas2");
    let before = sim.snapshot();
    let e = join(&sim, 2).unwrap_err();
    assert_eq!(refusal(e), "can't add existing node 'tappaas2'");
    assert_eq!(sim.snapshot(), before);
    let st = client(&sim, "tappaas1").cluster_status().unwrap();
    assert_eq!(st.cluster.unwrap().nodes, 2);
}

#[test]
fn join_needs_a_clustered_reachable_peer() {
    let sim = world();
    // Node 1 is still standalone.
    let e = join(&sim, 2).unwrap_err();
    assert!(refusal(e).contains("not in a cluster"));
    create(&sim);
    sim.set_online("tappaas1", false);
    let e = join(&sim, 2).unwrap_err();
    assert!(refusal(e).contains("unable to connect"));
    sim.set_online("tappaas1", true);
    // Unknown peer.
    let mut j = join_request(2, &sim.fingerprint("tappaas1").unwrap());
    j.peer = "10.0.0.99".to_string();
    assert!(
        refusal(client(&sim, "tappaas2").join_cluster(&j).unwrap_err())
            .contains("unable to connect")
    );
    // The joining node's own link address must be its own.
    let mut j = join_request(2, &sim.fingerprint("tappaas1").unwrap());
    j.link0 = Link::new(ip("10.0.0.12"));
    assert!(refusal(client(&sim, "tappaas2").join_cluster(&j).unwrap_err()).contains("local node"));
}

#[test]
fn storages_added_before_the_join_are_replaced_by_the_clusters() {
    // Proxmox overwrites the joining node's /etc/pve with the cluster's:
    // first boot must register storages after the join, not before.
    let sim = world();
    create(&sim);
    let mut c2 = client(&sim, "tappaas2");
    c2.add_zfspool_storage(&zfspool("tank2", &["tappaas2"]))
        .unwrap();
    join(&sim, 2).unwrap();
    let ids: Vec<String> = c2
        .storages()
        .unwrap()
        .into_iter()
        .map(|s| s.storage)
        .collect();
    assert_eq!(ids, ["local"]);
}

#[test]
fn duplicate_storage_id_is_refused() {
    let sim = world();
    create(&sim);
    let mut c1 = client(&sim, "tappaas1");
    c1.add_zfspool_storage(&zfspool("tank1", &["tappaas1"]))
        .unwrap();
    let before = sim.snapshot();
    let e = c1
        .add_zfspool_storage(&zfspool("tank1", &["tappaas1"]))
        .unwrap_err();
    assert_eq!(refusal(e), "storage ID 'tank1' already defined");
    assert_eq!(sim.snapshot(), before);
    // Also from another member: the id is cluster-wide.
    join(&sim, 2).unwrap();
    let e = client(&sim, "tappaas2")
        .add_zfspool_storage(&zfspool("tank1", &["tappaas2"]))
        .unwrap_err();
    assert_eq!(refusal(e), "storage ID 'tank1' already defined");
}

#[test]
fn pool_must_exist_on_every_listed_node() {
    let sim = world();
    create(&sim);
    join(&sim, 3).unwrap();
    let before = sim.snapshot();
    // Local node without the pool: Proxmox's own activation error.
    let e = client(&sim, "tappaas3")
        .add_zfspool_storage(&zfspool("tank2", &["tappaas3"]))
        .unwrap_err();
    assert!(refusal(e).contains("cannot import 'tank2': no such pool available"));
    // Another node without it: the simulator's stricter check.
    let e = client(&sim, "tappaas1")
        .add_zfspool_storage(&zfspool("tank2", &["tappaas1", "tappaas3"]))
        .unwrap_err();
    assert!(refusal(e).contains("does not exist on node 'tappaas3'"));
    // A node outside the cluster.
    let e = client(&sim, "tappaas1")
        .add_zfspool_storage(&zfspool("tank1", &["tappaas1", "tappaas2"]))
        .unwrap_err();
    assert!(refusal(e).contains("not a cluster member"));
    assert_eq!(sim.snapshot(), before);
    // A pool that vanishes later shows the storage inactive there.
    client(&sim, "tappaas1")
        .add_zfspool_storage(&zfspool("tank1", &["tappaas1", "tappaas3"]))
        .unwrap();
    sim.set_pool("tappaas3", "tank1", None);
    let on3 = client(&sim, "tappaas1")
        .node_storages(&node("tappaas3"))
        .unwrap();
    assert!(!on3.iter().find(|s| s.storage == "tank1").unwrap().active);
}

#[test]
fn injected_failure_then_retry_succeeds() {
    let sim = world();
    create(&sim);
    let mut c1 = client(&sim, "tappaas1");
    sim.fail_next(Method::Post, "/storage", FailWhen::Before, "got timeout");
    let before = sim.snapshot();
    let e = c1
        .add_zfspool_storage(&zfspool("tank1", &["tappaas1"]))
        .unwrap_err();
    assert_eq!(refusal(e), "got timeout");
    assert_eq!(sim.snapshot(), before);
    assert_eq!(sim.pending_failures(), 0);
    // Once only: the retry goes through.
    c1.add_zfspool_storage(&zfspool("tank1", &["tappaas1"]))
        .unwrap();
    assert!(storage_nodes(&sim, "tappaas1", "tank1").is_some());
}

#[test]
fn failure_after_the_effect_needs_a_check_before_retrying() {
    // The join happens but its answer is lost: a blind retry is refused,
    // so a re-run must look at the cluster status first.
    let sim = world();
    create(&sim);
    sim.fail_next(
        Method::Post,
        "/cluster/config/join",
        FailWhen::After,
        "connection reset",
    );
    assert_eq!(refusal(join(&sim, 2).unwrap_err()), "connection reset");
    assert!(refusal(join(&sim, 2).unwrap_err()).contains("already exists"));
    let st = client(&sim, "tappaas2").cluster_status().unwrap();
    assert_eq!(st.cluster.unwrap().nodes, 2);
}

#[test]
fn injected_failure_only_hits_its_path() {
    let sim = world();
    create(&sim);
    sim.fail_next(Method::Put, "/storage/tank1", FailWhen::Before, "boom");
    let mut c1 = client(&sim, "tappaas1");
    c1.add_zfspool_storage(&zfspool("tank1", &["tappaas1"]))
        .unwrap();
    assert_eq!(sim.pending_failures(), 1);
    join(&sim, 2).unwrap();
    let id = StorageId::new("tank1").unwrap();
    let both = [node("tappaas1"), node("tappaas2")];
    assert!(c1.set_storage_nodes(&id, &both).is_err());
    c1.set_storage_nodes(&id, &both).unwrap();
}

#[test]
fn writes_need_quorum() {
    let sim = world();
    create(&sim);
    join(&sim, 2).unwrap();
    join(&sim, 3).unwrap();
    sim.set_online("tappaas2", false);
    let mut c1 = client(&sim, "tappaas1");
    assert!(c1.cluster_status().unwrap().cluster.unwrap().quorate);
    sim.set_online("tappaas3", false);
    let st = c1.cluster_status().unwrap();
    assert!(!st.cluster.unwrap().quorate);
    assert_eq!(st.nodes.iter().filter(|n| n.online).count(), 1);
    let e = c1
        .add_zfspool_storage(&zfspool("tank1", &["tappaas1"]))
        .unwrap_err();
    assert_eq!(refusal(e), "cluster not ready - no quorum?");
    let e = c1.node_status(&node("tappaas2")).unwrap_err();
    assert!(refusal(e).contains("offline"));
}

#[test]
fn node_status_only_for_known_nodes() {
    let sim = world();
    let mut c1 = client(&sim, "tappaas1");
    assert!(c1
        .node_status(&node("tappaas1"))
        .unwrap()
        .pveversion
        .is_some());
    // Standalone: the other machines are not cluster nodes.
    let e = c1.node_status(&node("tappaas2")).unwrap_err();
    assert_eq!(refusal(e), "no such cluster node 'tappaas2'");
}

#[test]
#[should_panic(expected = "invalid request POST /storage to the simulator")]
fn an_invalid_call_fails_the_test_even_if_the_error_is_ignored() {
    let sim = world();
    let mut raw = sim.client("tappaas1");
    let bad = Request::post("/storage")
        .param("type", "zfspool")
        .param("storage", "tank1")
        .param("sparse", "yes");
    let _ = raw.call(&bad);
}

#[test]
fn invalid_calls_can_be_inspected_without_panicking() {
    let sim = world();
    sim.set_panic_on_invalid(false);
    let before = sim.snapshot();
    let mut raw = sim.client("tappaas1");
    let e = raw.call(&Request::get("/cluster/nothing")).unwrap_err();
    assert!(matches!(e, ApiError::Invalid { .. }), "{e}");
    assert_eq!(sim.violations().len(), 1);
    assert_eq!(sim.snapshot(), before);
}

#[test]
fn the_typed_layer_refuses_before_sending() {
    let sim = world();
    let mut c1 = client(&sim, "tappaas1");
    let e = c1
        .call(&Request::post("/cluster/config").param("clustername", "x_y"))
        .unwrap_err();
    assert!(matches!(e, ApiError::Invalid { .. }), "{e}");
    assert!(sim.calls().is_empty(), "the simulator must not see it");
}

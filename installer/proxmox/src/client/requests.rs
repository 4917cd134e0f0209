//! The requests the typed layer sends, as pure functions. Each names the
//! schema path and method it relies on.

use super::*;

// The VM calls' builders live with their types.
pub use super::backup::requests::*;
pub use super::vm::requests::*;
pub use super::vzdump::requests::*;

/// `GET /version`
pub fn version() -> Request {
    Request::get("/version")
}

/// `GET /cluster/status`: the cluster entry (if any) and every node.
pub fn cluster_status() -> Request {
    Request::get("/cluster/status")
}

/// `GET /cluster/config/join`: what a joining node needs to know
/// (members, their addresses and certificate fingerprints).
pub fn join_info(node: Option<&NodeName>) -> Request {
    let r = Request::get("/cluster/config/join");
    match node {
        Some(n) => r.param("node", n.as_str()),
        None => r,
    }
}

/// `GET /cluster/config/nodes`: the corosync node list.
pub fn cluster_config_nodes() -> Request {
    Request::get("/cluster/config/nodes")
}

/// `POST /cluster/config` (`pvecm create`).
pub fn create_cluster(c: &CreateCluster) -> Request {
    Request::post("/cluster/config")
        .param("clustername", c.name.as_str())
        .param("link0", c.link0.to_property_string())
}

/// `POST /cluster/config/join` (`pvecm add`), sent to the joining node.
pub fn join_cluster(j: &JoinCluster) -> Request {
    Request::post("/cluster/config/join")
        .param("hostname", j.peer.as_str())
        .param("fingerprint", j.fingerprint.as_str())
        .param("password", j.password.expose())
        .param("link0", j.link0.to_property_string())
}

/// `GET /storage` (`pvesm status` without the usage numbers).
pub fn storages() -> Request {
    Request::get("/storage")
}

/// `GET /storage/{storage}`
pub fn storage(id: &StorageId) -> Request {
    Request::get(format!("/storage/{id}"))
}

/// `POST /storage` with `type=zfspool` (`pvesm add zfspool`).
pub fn add_zfspool_storage(s: &ZfsPoolStorage) -> Request {
    Request::post("/storage")
        .param("type", "zfspool")
        .param("storage", s.id.as_str())
        .param("pool", s.pool.as_str())
        .param(
            "content",
            join_names(&s.content.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
        )
        .param("nodes", join_names(&s.nodes))
        .param("sparse", if s.sparse { "1" } else { "0" })
}

/// `PUT /storage/{storage}` with `nodes` (`pvesm set ID --nodes ...`):
/// storage ids are cluster-wide, so a later node that has the same pool
/// is added to the existing storage's node list.
pub fn set_storage_nodes(id: &StorageId, nodes: &[NodeName]) -> Request {
    Request::put(format!("/storage/{id}")).param("nodes", join_names(nodes))
}

/// `GET /nodes`
pub fn nodes() -> Request {
    Request::get("/nodes")
}

/// `GET /nodes/{node}/status`
pub fn node_status(node: &NodeName) -> Request {
    Request::get(format!("/nodes/{node}/status"))
}

/// `GET /nodes/{node}/storage`: the storages usable on that node.
pub fn node_storages(node: &NodeName) -> Request {
    Request::get(format!("/nodes/{node}/storage"))
}

/// `GET /nodes/{node}/disks/zfs`: the node's imported ZFS pools.
pub fn zfs_pools(node: &NodeName) -> Request {
    Request::get(format!("/nodes/{node}/disks/zfs"))
}

/// `GET /nodes/{node}/tasks/{upid}/status`: cluster create and join run
/// as background tasks; this says whether one has finished and how.
pub fn task_status(node: &NodeName, upid: &str) -> Request {
    Request::get(format!("/nodes/{node}/tasks/{upid}/status"))
}

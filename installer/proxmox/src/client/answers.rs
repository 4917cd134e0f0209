//! The typed answers of the cluster, node, storage and task calls.

use super::*;

/// `GET /version`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub version: String,
    pub release: String,
    pub repoid: String,
}

/// `GET /cluster/status`, split into the cluster entry and the node entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterStatus {
    /// `None` on a standalone node.
    pub cluster: Option<ClusterSummary>,
    pub nodes: Vec<NodeMembership>,
}

impl ClusterStatus {
    pub fn is_clustered(&self) -> bool {
        self.cluster.is_some()
    }

    /// The node that answered.
    pub fn local_node(&self) -> Option<&NodeMembership> {
        self.nodes.iter().find(|n| n.local)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSummary {
    pub name: String,
    pub nodes: u64,
    pub quorate: bool,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeMembership {
    pub name: String,
    pub nodeid: Option<u64>,
    pub ip: Option<String>,
    pub online: bool,
    pub local: bool,
}

/// `GET /cluster/config/join`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinInfo {
    pub preferred_node: String,
    pub config_digest: String,
    pub nodelist: Vec<JoinNode>,
}

impl JoinInfo {
    /// The fingerprint of the preferred node, the one to show the user.
    pub fn preferred_fingerprint(&self) -> Option<&str> {
        self.nodelist
            .iter()
            .find(|n| n.name == self.preferred_node)
            .map(|n| n.pve_fp.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinNode {
    pub name: String,
    pub nodeid: Option<u64>,
    pub pve_addr: String,
    pub pve_fp: String,
    pub quorum_votes: u64,
    pub ring0_addr: Option<String>,
}

/// One entry of `GET /storage` (the storage configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    pub storage: String,
    pub storage_type: String,
    pub content: Vec<String>,
    pub pool: Option<String>,
    /// `None`: available on every node.
    pub nodes: Option<Vec<String>>,
    pub sparse: bool,
    pub disable: bool,
    /// A `pbs` storage's server, datastore, user and pinned certificate
    /// fingerprint.
    pub server: Option<String>,
    pub datastore: Option<String>,
    pub username: Option<String>,
    pub fingerprint: Option<String>,
}

impl StorageConfig {
    pub fn available_on(&self, node: &str) -> bool {
        match &self.nodes {
            None => true,
            Some(list) => list.iter().any(|n| n == node),
        }
    }
}

/// One entry of `GET /nodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub node: String,
    pub status: String,
    pub ssl_fingerprint: Option<String>,
}

/// `GET /nodes/{node}/status`, the fields first boot looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    pub pveversion: Option<String>,
    pub kversion: Option<String>,
    pub uptime: Option<u64>,
    pub raw: Value,
}

/// One entry of `GET /nodes/{node}/storage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStorage {
    pub storage: String,
    pub storage_type: String,
    pub content: Vec<String>,
    pub active: bool,
    pub enabled: bool,
    pub total: Option<u64>,
    pub avail: Option<u64>,
}

/// One entry of `GET /nodes/{node}/disks/zfs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZfsPool {
    pub name: String,
    pub size: u64,
    pub alloc: u64,
    pub free: u64,
    pub health: String,
}

/// `GET /nodes/{node}/tasks/{upid}/status`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskStatus {
    pub running: bool,
    /// `OK` on success, else the error; `None` while running.
    pub exitstatus: Option<String>,
}

impl TaskStatus {
    pub fn succeeded(&self) -> bool {
        !self.running && self.exitstatus.as_deref() == Some("OK")
    }
}

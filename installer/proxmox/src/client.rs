//! The transport trait [`Api`] and the typed layer [`Proxmox`] with the
//! calls that first boot makes.
//!
//! Every request is built by a pure function in [`requests`], so tests can
//! enumerate them and check each against the schema; [`Proxmox`] checks
//! them again at run time (when built with a schema) before any transport
//! sees them.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::formats;
use crate::request::{Method, Request};
use crate::schema::{format_errors, Schema, SchemaError};

/// A way to send one request to Proxmox and get its JSON answer back
/// (`data` of the HTTP API, or what `pvesh --output-format json` prints).
pub trait Api {
    fn call(&mut self, req: &Request) -> Result<Value, ApiError>;
}

impl<A: Api + ?Sized> Api for &mut A {
    fn call(&mut self, req: &Request) -> Result<Value, ApiError> {
        (**self).call(req)
    }
}

impl<A: Api + ?Sized> Api for Box<A> {
    fn call(&mut self, req: &Request) -> Result<Value, ApiError> {
        (**self).call(req)
    }
}

/// Everything that can go wrong with a Proxmox call. Callers branch on
/// `Refused` (Proxmox said no: the message says why) versus the rest
/// (the call itself is broken, or the transport failed).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request does not fit the API schema; it was not sent.
    #[error("{method} {path} does not fit the Proxmox API schema:\n{}", format_errors(.errors))]
    Invalid {
        method: Method,
        path: String,
        errors: Vec<SchemaError>,
    },
    /// Proxmox answered with an error.
    #[error("Proxmox refused {method} {path}: {message}")]
    Refused {
        method: Method,
        path: String,
        message: String,
    },
    /// The transport's command ran and failed. `command` has secrets
    /// redacted; `stderr` is the tail of its error output.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// The transport's command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    /// The answer does not have the shape the schema promises.
    #[error("unexpected answer to {method} {path}: {message}")]
    Decode {
        method: Method,
        path: String,
        message: String,
    },
    /// A typed argument was rejected before any request was built.
    #[error("invalid {what} '{value}': {message}")]
    Input {
        what: &'static str,
        value: String,
        message: String,
    },
}

impl ApiError {
    /// What Proxmox said when it refused the call: the answer's message, or
    /// what pvesh printed on stderr before exiting non-zero. `None` for
    /// every other failure. For showing the user; decide by reading state,
    /// not by matching this text.
    pub fn refusal(&self) -> Option<&str> {
        match self {
            ApiError::Refused { message, .. } => Some(message),
            ApiError::Command { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

fn input(what: &'static str, value: &str, message: &str) -> ApiError {
    ApiError::Input {
        what,
        value: value.to_string(),
        message: message.to_string(),
    }
}

macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:path, $rule:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<$name, ApiError> {
                let s = s.into();
                if $check(&s) {
                    Ok($name(s))
                } else {
                    Err(input($what, &s, $rule))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

checked_name!(
    /// A Proxmox node name (a host name label, e.g. `tappaas1`).
    NodeName,
    "node name",
    formats::is_node_name,
    "letters, digits and inner hyphens"
);
checked_name!(
    /// A storage id (`tank1`).
    StorageId,
    "storage id",
    formats::is_storage_id,
    "a letter, then letters, digits, '-', '_', '.', ending in a letter or digit"
);
checked_name!(
    /// A cluster name: a node-name-like word of at most 15 characters.
    ClusterName,
    "cluster name",
    formats::is_cluster_name,
    "letters, digits and inner hyphens, at most 15 characters"
);
checked_name!(
    /// A ZFS pool or dataset name (`tank1`, `tank1/vm`).
    PoolName,
    "ZFS pool name",
    is_pool_name,
    "a ZFS pool or dataset name"
);

fn is_pool_name(s: &str) -> bool {
    !s.is_empty()
        && s.as_bytes()[0].is_ascii_alphabetic()
        && !s.ends_with('/')
        && !s.contains("//")
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':' | b'/'))
}

/// The SHA-256 fingerprint of a node's TLS certificate, in Proxmox's form:
/// 32 upper-case hex pairs joined by colons.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Accepts either case, with colons or as 64 bare hex digits (the user
    /// may type what another tool printed), and normalises.
    pub fn parse(s: &str) -> Result<Fingerprint, ApiError> {
        let hex: String = s.trim().chars().filter(|c| *c != ':').collect();
        let colon_form_ok = !s.contains(':') || formats::is_fingerprint(s.trim());
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) || !colon_form_ok {
            return Err(input(
                "certificate fingerprint",
                s,
                "expected a SHA-256 fingerprint: 32 hex pairs separated by ':'",
            ));
        }
        let pairs: Vec<String> = hex
            .to_ascii_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        Ok(Fingerprint(pairs.join(":")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compare ignoring case, as Proxmox does.
    pub fn matches(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.trim())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A root password. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }

    /// The clear text, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A corosync link (`link0`): the address this node uses for cluster
/// traffic, and an optional knet priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub address: IpAddr,
    pub priority: Option<u8>,
}

impl Link {
    pub fn new(address: IpAddr) -> Link {
        Link {
            address,
            priority: None,
        }
    }

    /// The property string Proxmox takes: `address=IP[,priority=N]`.
    pub fn to_property_string(&self) -> String {
        match self.priority {
            Some(p) => format!("address={},priority={p}", self.address),
            None => format!("address={}", self.address),
        }
    }
}

/// What a storage may hold. A zfspool can hold only VM disks (`images`) and
/// container volumes (`rootdir`); a directory storage can hold all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Content {
    Images,
    Rootdir,
    /// ISO images (`template/iso/` on a directory storage).
    Iso,
    /// Cloud-init and hook files (`snippets/`), for `cicustom`.
    Snippets,
    /// Disk images to import from (`import/`), for `import-from`.
    Import,
    /// Container templates (`template/cache/`).
    Vztmpl,
    /// Backups (`dump/`).
    Backup,
}

impl Content {
    pub fn as_str(self) -> &'static str {
        match self {
            Content::Images => "images",
            Content::Rootdir => "rootdir",
            Content::Iso => "iso",
            Content::Snippets => "snippets",
            Content::Import => "import",
            Content::Vztmpl => "vztmpl",
            Content::Backup => "backup",
        }
    }
}

/// `pvecm create`: make this node the first member of a new cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateCluster {
    pub name: ClusterName,
    /// The management address, as corosync link 0.
    pub link0: Link,
}

/// `pvecm add`: join this node to the cluster that `peer` belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinCluster {
    /// Host name or IP address of an existing cluster member.
    pub peer: String,
    /// The peer's certificate fingerprint, as confirmed by the user.
    pub fingerprint: Fingerprint,
    /// The peer's root password.
    pub password: Password,
    /// This node's own management address as corosync link 0.
    pub link0: Link,
}

impl JoinCluster {
    pub fn new(
        peer: impl Into<String>,
        fingerprint: Fingerprint,
        password: Password,
        link0: Link,
    ) -> Result<JoinCluster, ApiError> {
        let peer = peer.into();
        if peer.parse::<IpAddr>().is_err() && !formats::is_dns_name(&peer) {
            return Err(input("peer", &peer, "expected a host name or IP address"));
        }
        Ok(JoinCluster {
            peer,
            fingerprint,
            password,
            link0,
        })
    }
}

/// A `zfspool` storage: a ZFS pool registered as Proxmox storage for the
/// nodes that have it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZfsPoolStorage {
    pub id: StorageId,
    pub pool: PoolName,
    pub content: Vec<Content>,
    /// The nodes that have the pool; never empty (an empty list would mean
    /// "all nodes" to Proxmox, including ones without the pool).
    pub nodes: Vec<NodeName>,
    /// Thin-provisioned zvols.
    pub sparse: bool,
}

impl ZfsPoolStorage {
    /// Content `images,rootdir`, sparse, for the given nodes.
    pub fn new(
        id: StorageId,
        pool: PoolName,
        nodes: Vec<NodeName>,
    ) -> Result<ZfsPoolStorage, ApiError> {
        if nodes.is_empty() {
            return Err(input(
                "storage node list",
                "",
                "name at least one node (an empty list means every node)",
            ));
        }
        Ok(ZfsPoolStorage {
            id,
            pool,
            content: vec![Content::Images, Content::Rootdir],
            nodes,
            sparse: true,
        })
    }
}

// The VM calls: types, request builders and typed calls (a child module so
// it shares this module's answer readers and name checks).
mod vm;
pub use vm::*;

fn join_names<T: AsRef<str>>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.as_ref())
        .collect::<Vec<_>>()
        .join(",")
}

/// The requests the typed layer sends, as pure functions. Each names the
/// schema path and method it relies on.
pub mod requests {
    use super::*;

    // The VM calls' builders live with their types.
    pub use super::vm::requests::*;

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
}

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

/// The typed client. Built with a schema, it refuses (as
/// [`ApiError::Invalid`]) any request that does not fit the schema before
/// the transport sees it.
pub struct Proxmox<A> {
    api: A,
    schema: Option<Arc<Schema>>,
}

impl<A: Api> Proxmox<A> {
    /// With validation on: the normal way, and the only way tests build it.
    pub fn new(api: A, schema: Arc<Schema>) -> Proxmox<A> {
        Proxmox {
            api,
            schema: Some(schema),
        }
    }

    /// Without validation, for a node where the schema file is not shipped.
    pub fn without_validation(api: A) -> Proxmox<A> {
        Proxmox { api, schema: None }
    }

    pub fn api(&self) -> &A {
        &self.api
    }

    pub fn api_mut(&mut self) -> &mut A {
        &mut self.api
    }

    pub fn into_api(self) -> A {
        self.api
    }

    /// Check `req` against the schema (when on), then send it. Public so
    /// that a call not wrapped below still goes through the same check.
    pub fn call(&mut self, req: &Request) -> Result<Value, ApiError> {
        if let Some(schema) = &self.schema {
            schema
                .validate_request(req)
                .map_err(|errors| ApiError::Invalid {
                    method: req.method,
                    path: req.path.clone(),
                    errors,
                })?;
        }
        self.api.call(req)
    }

    pub fn version(&mut self) -> Result<Version, ApiError> {
        let req = requests::version();
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        Ok(Version {
            version: o.string("version")?,
            release: o.string("release")?,
            repoid: o.string("repoid")?,
        })
    }

    pub fn cluster_status(&mut self) -> Result<ClusterStatus, ApiError> {
        let req = requests::cluster_status();
        let v = self.call(&req)?;
        let mut status = ClusterStatus {
            cluster: None,
            nodes: Vec::new(),
        };
        for item in list(&req, &v)? {
            let o = Obj::new(&req, item)?;
            match o.string("type")?.as_str() {
                "cluster" => {
                    status.cluster = Some(ClusterSummary {
                        name: o.string("name")?,
                        nodes: o.opt_u64("nodes")?.unwrap_or(0),
                        quorate: o.flag("quorate"),
                        version: o.opt_u64("version")?.unwrap_or(0),
                    })
                }
                "node" => status.nodes.push(NodeMembership {
                    name: o.string("name")?,
                    nodeid: o.opt_u64("nodeid")?,
                    ip: o.opt_string("ip"),
                    online: o.flag("online"),
                    local: o.flag("local"),
                }),
                other => return Err(o.bad(&format!("unknown entry type '{other}'"))),
            }
        }
        Ok(status)
    }

    pub fn join_info(&mut self, node: Option<&NodeName>) -> Result<JoinInfo, ApiError> {
        let req = requests::join_info(node);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        let mut nodelist = Vec::new();
        for item in list(&req, o.get("nodelist").unwrap_or(&Value::Null))? {
            let n = Obj::new(&req, item)?;
            nodelist.push(JoinNode {
                name: n.string("name")?,
                nodeid: n.opt_u64("nodeid")?,
                pve_addr: n.string("pve_addr")?,
                pve_fp: n.string("pve_fp")?,
                quorum_votes: n.opt_u64("quorum_votes")?.unwrap_or(1),
                ring0_addr: n.opt_string("ring0_addr"),
            });
        }
        Ok(JoinInfo {
            preferred_node: o.string("preferred_node")?,
            config_digest: o.opt_string("config_digest").unwrap_or_default(),
            nodelist,
        })
    }

    /// The corosync member names.
    pub fn cluster_config_nodes(&mut self) -> Result<Vec<String>, ApiError> {
        let req = requests::cluster_config_nodes();
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| Obj::new(&req, i)?.string("node"))
            .collect()
    }

    /// Returns the task id (UPID) when Proxmox runs it as a task.
    pub fn create_cluster(&mut self, c: &CreateCluster) -> Result<Option<String>, ApiError> {
        let v = self.call(&requests::create_cluster(c))?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Returns the task id (UPID) when Proxmox runs it as a task.
    pub fn join_cluster(&mut self, j: &JoinCluster) -> Result<Option<String>, ApiError> {
        let v = self.call(&requests::join_cluster(j))?;
        Ok(v.as_str().map(str::to_string))
    }

    pub fn storages(&mut self) -> Result<Vec<StorageConfig>, ApiError> {
        let req = requests::storages();
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| storage_config(&req, i))
            .collect()
    }

    pub fn storage(&mut self, id: &StorageId) -> Result<StorageConfig, ApiError> {
        let req = requests::storage(id);
        let v = self.call(&req)?;
        storage_config(&req, &v)
    }

    pub fn add_zfspool_storage(&mut self, s: &ZfsPoolStorage) -> Result<(), ApiError> {
        self.call(&requests::add_zfspool_storage(s)).map(drop)
    }

    pub fn set_storage_nodes(
        &mut self,
        id: &StorageId,
        nodes: &[NodeName],
    ) -> Result<(), ApiError> {
        if nodes.is_empty() {
            return Err(input(
                "storage node list",
                id.as_str(),
                "name at least one node (an empty list means every node)",
            ));
        }
        self.call(&requests::set_storage_nodes(id, nodes)).map(drop)
    }

    pub fn nodes(&mut self) -> Result<Vec<NodeInfo>, ApiError> {
        let req = requests::nodes();
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| {
                let o = Obj::new(&req, i)?;
                Ok(NodeInfo {
                    node: o.string("node")?,
                    status: o.string("status")?,
                    ssl_fingerprint: o.opt_string("ssl_fingerprint"),
                })
            })
            .collect()
    }

    pub fn node_status(&mut self, node: &NodeName) -> Result<NodeStatus, ApiError> {
        let req = requests::node_status(node);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        Ok(NodeStatus {
            pveversion: o.opt_string("pveversion"),
            kversion: o.opt_string("kversion"),
            uptime: o.opt_u64("uptime")?,
            raw: v.clone(),
        })
    }

    pub fn node_storages(&mut self, node: &NodeName) -> Result<Vec<NodeStorage>, ApiError> {
        let req = requests::node_storages(node);
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| {
                let o = Obj::new(&req, i)?;
                Ok(NodeStorage {
                    storage: o.string("storage")?,
                    storage_type: o.string("type")?,
                    content: formats::split_list(&o.opt_string("content").unwrap_or_default())
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    active: o.flag("active"),
                    enabled: o.flag("enabled"),
                    total: o.opt_u64("total")?,
                    avail: o.opt_u64("avail")?,
                })
            })
            .collect()
    }

    pub fn zfs_pools(&mut self, node: &NodeName) -> Result<Vec<ZfsPool>, ApiError> {
        let req = requests::zfs_pools(node);
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| {
                let o = Obj::new(&req, i)?;
                Ok(ZfsPool {
                    name: o.string("name")?,
                    size: o.opt_u64("size")?.unwrap_or(0),
                    alloc: o.opt_u64("alloc")?.unwrap_or(0),
                    free: o.opt_u64("free")?.unwrap_or(0),
                    health: o.opt_string("health").unwrap_or_default(),
                })
            })
            .collect()
    }

    pub fn task_status(&mut self, node: &NodeName, upid: &str) -> Result<TaskStatus, ApiError> {
        let req = requests::task_status(node, upid);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        Ok(TaskStatus {
            running: o.string("status")? == "running",
            exitstatus: o.opt_string("exitstatus"),
        })
    }
}

fn storage_config(req: &Request, v: &Value) -> Result<StorageConfig, ApiError> {
    let o = Obj::new(req, v)?;
    Ok(StorageConfig {
        storage: o.string("storage")?,
        storage_type: o.string("type")?,
        content: formats::split_list(&o.opt_string("content").unwrap_or_default())
            .into_iter()
            .map(str::to_string)
            .collect(),
        pool: o.opt_string("pool"),
        nodes: o.opt_string("nodes").map(|n| {
            formats::split_list(&n)
                .into_iter()
                .map(str::to_string)
                .collect()
        }),
        sparse: o.flag("sparse"),
        disable: o.flag("disable"),
    })
}

fn list<'v>(req: &Request, v: &'v Value) -> Result<&'v Vec<Value>, ApiError> {
    v.as_array().ok_or_else(|| ApiError::Decode {
        method: req.method,
        path: req.path.clone(),
        message: format!("expected a list, got {}", short(v)),
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

/// Read fields from one JSON object of an answer, leniently where Proxmox
/// is loose: booleans come as 0/1 (pvesh prints Perl's numbers), and
/// numbers sometimes as strings.
struct Obj<'a> {
    req: &'a Request,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(req: &'a Request, v: &'a Value) -> Result<Obj<'a>, ApiError> {
        match v.as_object() {
            Some(map) => Ok(Obj { req, map }),
            None => Err(ApiError::Decode {
                method: req.method,
                path: req.path.clone(),
                message: format!("expected an object, got {}", short(v)),
            }),
        }
    }

    fn bad(&self, message: &str) -> ApiError {
        ApiError::Decode {
            method: self.req.method,
            path: self.req.path.clone(),
            message: message.to_string(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn opt_string(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn string(&self, key: &str) -> Result<String, ApiError> {
        self.opt_string(key)
            .ok_or_else(|| self.bad(&format!("field '{key}' is missing")))
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or_else(|| self.bad(&format!("field '{key}' is not a count: {n}"))),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.bad(&format!("field '{key}' is not a count: {s}"))),
            Some(other) => Err(self.bad(&format!("field '{key}' is not a count: {other}"))),
        }
    }

    /// Missing means false, as in Proxmox's answers.
    fn flag(&self, key: &str) -> bool {
        match self.map.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::String(s)) => s == "1",
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_normalises() {
        let lower = vec!["ab"; 32].join(":");
        let fp = Fingerprint::parse(&lower).unwrap();
        assert_eq!(fp.as_str(), vec!["AB"; 32].join(":"));
        assert_eq!(Fingerprint::parse(&"ab".repeat(32)).unwrap(), fp);
        assert!(fp.matches(&lower));
        assert!(Fingerprint::parse("AB:CD").is_err());
        assert!(Fingerprint::parse(&"abc".repeat(21)).is_err());
        assert!(Fingerprint::parse(&lower.replacen(":", "", 1)).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(NodeName::new("tappaas1").is_ok());
        assert!(NodeName::new("tappaas_1").is_err());
        assert!(StorageId::new("tank1").is_ok());
        assert!(ClusterName::new("tappaas-cluster-x").is_err());
        assert!(PoolName::new("tank1/vm").is_ok());
        assert!(PoolName::new("/tank1").is_err());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::new("hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn link_property_string() {
        let mut l = Link::new("10.0.0.10".parse().unwrap());
        assert_eq!(l.to_property_string(), "address=10.0.0.10");
        l.priority = Some(5);
        assert_eq!(l.to_property_string(), "address=10.0.0.10,priority=5");
    }
}

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
// A backup server as a storage, and the backup jobs.
mod backup;
pub use backup::*;
// Backing up and restoring guests now.
mod vzdump;
pub use vzdump::*;

fn join_names<T: AsRef<str>>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.as_ref())
        .collect::<Vec<_>>()
        .join(",")
}

pub mod requests;

// The typed answers (`Version`, `ClusterStatus`, ...).
mod answers;
pub use answers::*;
// The answer readers the typed calls share.
mod read;
use read::{list, short, storage_config, Obj};

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

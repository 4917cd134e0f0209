//! One catalog entry: the data of one service VM (see docs/services.md).

use std::fmt;

use serde::{Deserialize, Serialize};

/// VM ids of base services: 200 to 299.
pub const VMID_BASE: std::ops::RangeInclusive<u32> = 200..=299;
/// VM ids of optional services: 300 to 354. The top is where the address
/// rule (host part = VM id - 100) reaches .254 of a /24 zone.
pub const VMID_OPTIONAL: std::ops::RangeInclusive<u32> = 300..=354;

/// A service of the catalog, as written in `catalog/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Entry {
    /// Catalog name, equal to the file's name without `.toml`.
    pub name: String,
    /// Short human name, e.g. "Identity (Authentik)".
    pub title: String,
    pub description: String,
    /// Base services are false: deployed unless the answer leaves them out.
    pub optional: bool,
    /// Where the service is listed (the wizard's services screen, the
    /// answer file's default `deploy`): base services first, then the
    /// optional ones, each group by position. The answer crate's build
    /// reads it from the built-in catalog; a node's own extra services
    /// leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// False for a system that cannot be deployed yet; `reason` says why.
    #[serde(default = "yes")]
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub vmid: u32,
    pub cores: u32,
    pub memory_mib: u32,
    pub disk_gib: u32,
    pub pool: Pool,
    /// Zone name (`[[zones]]` of the answer), e.g. "srv".
    pub zone: String,
    #[serde(default)]
    pub depends: Vec<String>,
    /// Capability words, e.g. "database", "identity".
    #[serde(default)]
    pub provides: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// URL templates shown to the user, e.g. "https://{{ address }}:9443/".
    #[serde(default)]
    pub urls: Vec<String>,
    /// Credentials generated for this service at plan time.
    #[serde(default)]
    pub secrets: Vec<SecretSpec>,
    /// Secrets every service that depends on this one must declare; this
    /// entry's template sees them in `dependants` (PostgreSQL creates a
    /// role with each dependant's `db-password`).
    #[serde(default)]
    pub dependant_secrets: Vec<String>,
    /// What the node does in this service's VM for a dependant deployed
    /// after the VM was made (its user-data knew only the dependants
    /// planned then). Required with `dependant-secrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_dependant: Option<AddDependant>,
    /// Cloud-config template (minijinja). Required when `available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

fn yes() -> bool {
    true
}

/// The "add a dependant" action of a service (PostgreSQL: make the new
/// dependant's role and database). The node writes `files` into the
/// service's running VM and runs `command` there, both through the QEMU
/// guest agent. Every string is a template that sees the service's own
/// variables (as in `user-data`) and `dependant` (`name`, `ident`,
/// `address`, `fqdn`, and the `secrets` of `dependant-secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AddDependant {
    /// Written first, each replaced whole; a new file is root-only. The
    /// place for a secret: a command is shown in messages, a file is not.
    #[serde(default)]
    pub files: Vec<GuestFile>,
    /// The program (an absolute path) and its arguments, run without a
    /// shell; exit code 0 is success. It must be safe to run again.
    pub command: Vec<String>,
}

/// One file of an [`AddDependant`] action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GuestFile {
    /// Absolute path in the VM (its directory must exist there).
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// Redundant pool: services whose data has no other copy.
    Tank1,
    /// Pool without redundancy: backups and services with their own.
    Tank2,
}

impl Pool {
    pub fn as_str(self) -> &'static str {
        match self {
            Pool::Tank1 => "tank1",
            Pool::Tank2 => "tank2",
        }
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to tell that a deployed service is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Health {
    /// A TCP connection to the port succeeds.
    Tcp { port: u16 },
    /// A GET of the path answers with `expect-status`.
    Http {
        port: u16,
        path: String,
        #[serde(rename = "expect-status", default = "ok")]
        expect_status: u16,
        /// HTTPS with the service's own self-signed certificate: the
        /// checker must not verify it (there is no CA yet).
        #[serde(default)]
        tls: bool,
    },
}

fn ok() -> u16 {
    200
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Charset {
    /// Letters and digits: safe unquoted in YAML, shell, SQL and URLs.
    #[default]
    Alnum,
    /// Lower-case hex digits (Garage's `rpc_secret` is 32 bytes in hex).
    Hex,
}

/// A credential generated for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SecretSpec {
    /// kebab-case, e.g. "admin-password"; templates read it as
    /// `secrets["admin-password"]`.
    pub name: String,
    pub length: usize,
    #[serde(default)]
    pub charset: Charset,
}

/// Allowed secret lengths.
pub const SECRET_LENGTH: std::ops::RangeInclusive<usize> = 16..=128;

impl Entry {
    /// The VM id range this entry's kind must use.
    pub fn vmid_range(&self) -> std::ops::RangeInclusive<u32> {
        if self.optional {
            VMID_OPTIONAL
        } else {
            VMID_BASE
        }
    }
}

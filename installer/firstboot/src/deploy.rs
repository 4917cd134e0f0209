//! What the firewall and service steps share: the catalog and the
//! resolved services, the template context filled from the plan and the
//! node, the generated credentials, and the record of each service's
//! outcome.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tappaas_answer::Zone;
use tappaas_plan::{FirewallPlan, Plan};
use tappaas_services::{resolve, Catalog, Charset, Context, Resolved, SecretSpec, Secrets};

use crate::error::StepError;
use crate::Config;

/// The VM id of the service template: far above the services' 200-354 so
/// that `next_vmid` and the catalog never meet it.
pub const TEMPLATE_VMID: u32 = 9000;
pub const TEMPLATE_NAME: &str = "tappaas-template";
/// The firewall VM's name and host name.
pub const FIREWALL_NAME: &str = "opnsense";
/// Where the firewall's generated root password is kept in the
/// credentials file (`[opnsense] root-password`).
pub const FIREWALL_SECRET_OWNER: &str = "opnsense";
pub const FIREWALL_PASSWORD: &str = "root-password";
/// The node storage that holds cloud-init snippets, and its directory.
pub const SNIPPET_STORAGE: &str = "local";
pub const SNIPPETS_DIR: &str = "/var/lib/vz/snippets";

/// The snippet of service `name`: its volume id and its path on the node.
pub fn snippet(name: &str) -> (String, String) {
    (
        format!("{SNIPPET_STORAGE}:snippets/tappaas-{name}.yaml"),
        format!("{SNIPPETS_DIR}/tappaas-{name}.yaml"),
    )
}

/// The firewall's root password: 24 letters and digits.
pub fn firewall_password_spec() -> SecretSpec {
    SecretSpec {
        name: FIREWALL_PASSWORD.into(),
        length: 24,
        charset: Charset::Alnum,
    }
}

/// Everything needed to render and deploy the services.
pub(crate) struct Deployment {
    pub catalog: Catalog,
    /// Every service of the plan (and of a later `services deploy`), in
    /// order: the context for addresses and dependants.
    pub resolved: Resolved,
    pub context: Context,
    /// Services that cannot be deployed on this node, and why (a value
    /// the template needs is missing).
    pub blocked: BTreeMap<String, String>,
    /// Secrets (service, name) generated for the context but not saved
    /// ([`NewSecrets::InMemory`]): values no service has.
    pub unsaved: Vec<(String, String)>,
}

/// What happens to the secrets that have no value yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewSecrets {
    /// Generated and written to the credentials file before any use: for
    /// deploying.
    Save,
    /// Generated for rendering only, never written: for showing what a
    /// service would get, without changing the node.
    InMemory,
}

/// The catalog: the built-in entries and any in `config.catalog_dir`.
pub(crate) fn catalog(config: &Config) -> Result<Catalog, StepError> {
    let result = if config.catalog_dir.is_dir() {
        Catalog::embedded_and_dir(&config.catalog_dir)
    } else {
        Catalog::embedded()
    };
    result.map_err(|e| {
        StepError::new(
            format!(
                "read the service catalog ({})",
                config.catalog_dir.display()
            ),
            e.to_string(),
        )
    })
}

/// The credentials file as it is (none yet: no secrets).
fn read_credentials(config: &Config) -> Result<Secrets, StepError> {
    let path = &config.credentials;
    let what = || format!("read {}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => Secrets::from_file_text(&path.display().to_string(), &text).map_err(|e| {
            StepError::new(what(), e.to_string()).hint(
                "The file was changed by hand and no longer parses; fix it (it is TOML) \
                 rather than deleting it: the running VMs use these values.",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Secrets::default()),
        Err(e) => Err(StepError::new(what(), e.to_string())),
    }
}

/// Load the credentials file, generate what is missing (the firewall's
/// password, every resolved service's secrets), and write it back
/// root-only before anything uses a new value.
pub(crate) fn credentials(
    config: &Config,
    resolved: Option<&Resolved>,
    note: &mut dyn FnMut(String),
) -> Result<Secrets, StepError> {
    let path = &config.credentials;
    let what = || format!("update {}", path.display());
    let mut secrets = read_credentials(config)?;
    let mut made = Vec::new();
    if secrets
        .ensure(FIREWALL_SECRET_OWNER, &firewall_password_spec())
        .map_err(|e| StepError::new(what(), e.to_string()))?
    {
        made.push(format!("{FIREWALL_SECRET_OWNER}.{FIREWALL_PASSWORD}"));
    }
    if let Some(r) = resolved {
        let new = secrets
            .fill_missing(r)
            .map_err(|e| StepError::new(what(), e.to_string()))?;
        made.extend(new.into_iter().map(|(s, n)| format!("{s}.{n}")));
    }
    if !made.is_empty() || !path.exists() {
        crate::private_file::write_private(path, &secrets.to_file_text())
            .map_err(|e| StepError::new(what(), e.to_string()))?;
        note(format!(
            "generated {} credential(s) into {} (root only): {}",
            made.len(),
            path.display(),
            made.join(", ")
        ));
    }
    Ok(secrets)
}

/// root's SSH public keys, one per line, comments and blanks left out.
pub(crate) fn ssh_keys(config: &Config) -> Result<Vec<String>, StepError> {
    let path = &config.authorized_keys;
    let text = std::fs::read_to_string(path).map_err(|e| {
        StepError::new(
            format!("read {}", path.display()),
            format!("{e}: the firewall and the service VMs are reached with root's SSH keys; the installer writes them from the answer's ssh-keys"),
        )
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// The plan's zones as the catalog's templates see them.
pub(crate) fn zones(plan: &Plan) -> Result<Vec<Zone>, StepError> {
    plan.network
        .zones
        .iter()
        .map(|z| {
            Ok(Zone {
                name: z.name.clone(),
                vlan: z.vlan,
                cidr: z.cidr,
            })
        })
        .collect()
}

/// The domain of the firewall and the services: the node's, else the
/// domain reserved for home networks (RFC 8375).
pub(crate) fn domain(plan: &Plan) -> String {
    plan.node
        .domain
        .clone()
        .unwrap_or_else(|| "home.arpa".into())
}

/// The firewall's LAN address.
pub(crate) fn firewall_ip(fw: &FirewallPlan) -> Result<Ipv4Addr, StepError> {
    let IpAddr::V4(ip) = fw.lan.addr else {
        return Err(StepError::new(
            "read the plan's firewall",
            format!("lan '{}' is not an IPv4 CIDR", fw.lan),
        ));
    };
    Ok(ip)
}

/// The base URI of Proxmox's repository as the node's own APT sources
/// name it (the part before `/pve`), in one-line or deb822 form.
pub(crate) fn proxmox_repository(dir: &Path) -> Option<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    files.sort_by_key(|e| e.file_name());
    for f in files {
        let Ok(text) = std::fs::read_to_string(f.path()) else {
            continue;
        };
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            for word in line.split_whitespace() {
                if let Some(base) = word
                    .strip_suffix("/pve")
                    .filter(|b| b.starts_with("http://") || b.starts_with("https://"))
                {
                    return Some(base.to_string());
                }
            }
        }
    }
    None
}

/// Resolve `wanted` and fill the templates' context from the plan and the
/// node. Services whose templates need a value this node lacks are listed
/// in `blocked`, not refused: the others still deploy.
pub(crate) fn prepare(
    config: &Config,
    plan: &Plan,
    wanted: &[String],
    container_registry: Option<&str>,
    new_secrets: NewSecrets,
    note: &mut dyn FnMut(String),
) -> Result<Deployment, StepError> {
    let catalog = catalog(config)?;
    let resolved = resolve(&catalog, wanted)
        .map_err(|e| StepError::new("resolve the planned services", e.to_string()))?;
    let (secrets, unsaved) = match new_secrets {
        NewSecrets::Save => (credentials(config, Some(&resolved), note)?, Vec::new()),
        NewSecrets::InMemory => {
            let mut secrets = read_credentials(config)?;
            let made = secrets
                .fill_missing(&resolved)
                .map_err(|e| StepError::new("generate the services' secrets", e.to_string()))?;
            (secrets, made)
        }
    };
    let zones = zones(plan)?;
    let fw = plan.firewall.as_ref().ok_or_else(|| {
        StepError::new(
            "read the plan",
            "the plan deploys no firewall, and the services live in its zones",
        )
    })?;
    // The VMs ask the firewall for names: its address in the servers'
    // zone (each VM's own nameserver is its zone's firewall address).
    let dns = zones
        .iter()
        .find(|z| z.name == "srv")
        .or(zones.first())
        .map(|z| z.cidr.addr)
        .unwrap_or(IpAddr::V4(firewall_ip(fw)?));
    let repository = proxmox_repository(&config.apt_sources);
    let key = std::fs::read(&config.proxmox_keyring)
        .ok()
        .map(|k| base64::engine::general_purpose::STANDARD.encode(k));
    let mut blocked = BTreeMap::new();
    for e in &resolved.order {
        let source = e.user_data.as_deref().unwrap_or_default();
        let mut missing = Vec::new();
        if source.contains("proxmox_repository") && repository.is_none() {
            missing.push(format!(
                "Proxmox's repository (none found in {})",
                config.apt_sources.display()
            ));
        }
        if source.contains("proxmox_archive_key_b64") && key.is_none() {
            missing.push(format!(
                "Proxmox's archive key ({} is missing)",
                config.proxmox_keyring.display()
            ));
        }
        if !missing.is_empty() {
            blocked.insert(e.name.clone(), format!("needs {}", missing.join(" and ")));
        }
    }
    let context = Context {
        node_hostname: plan.node.hostname.clone(),
        domain: domain(plan),
        timezone: plan.node.timezone.clone(),
        ssh_authorized_keys: ssh_keys(config)?,
        dns_server: dns,
        zones,
        proxmox_repository: repository.unwrap_or_default(),
        proxmox_archive_key_b64: key.unwrap_or_default(),
        container_registry: container_registry.map(str::to_string),
        secrets,
    };
    Ok(Deployment {
        catalog,
        resolved,
        context,
        blocked,
        unsaved,
    })
}

/// How a service ended up, as recorded on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Healthy,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    pub outcome: Outcome,
    pub vmid: u32,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    /// The services this VM has given what they need from it (PostgreSQL:
    /// a role): those its user-data named when the VM was made, and those
    /// added since by its `add-dependant` action. Its action runs for a
    /// dependant not in this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependants: Vec<String>,
}

/// The services' records by name (`config.services_state`).
pub type Records = BTreeMap<String, Record>;

/// The records; none when the file does not exist yet. A file that
/// cannot be read or parsed is refused, never taken as empty: the next
/// save would replace it with an empty one and lose what it said (which
/// dependants a database has been given, above all).
pub fn load_records(path: &Path) -> Result<Records, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Records::new()),
        Err(e) => {
            return Err(format!(
                "cannot read the service records {}: {e}",
                path.display()
            ))
        }
    };
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "the service records {p} are not readable ({e}); the file is kept as it is. \
             Repair it, or move it aside (`mv {p} {p}.broken`) to start the records afresh: \
             a run then looks at each service's VM again, and a database runs its \
             add-dependant action once more for the services already given one (which is \
             safe). Then run again.",
            p = path.display()
        )
    })
}

/// [`load_records`] for a step.
pub(crate) fn records(config: &Config) -> Result<Records, StepError> {
    let path = &config.services_state;
    load_records(path).map_err(|e| StepError::new(format!("read {}", path.display()), e))
}

pub(crate) fn save_record(config: &Config, name: &str, record: Record) -> Result<(), StepError> {
    let mut all = records(config)?;
    all.insert(name.to_string(), record);
    save_records(config, &all)
}

fn save_records(config: &Config, all: &Records) -> Result<(), StepError> {
    let path = &config.services_state;
    let text = serde_json::to_string_pretty(all).unwrap_or_default();
    crate::private_file::write_private(path, &text)
        .map_err(|e| StepError::new(format!("write {}", path.display()), e.to_string()))
}

/// The dependants that service `name`'s VM (`vmid`) has been given, by
/// its record (none without one).
pub(crate) fn given_dependants(
    config: &Config,
    name: &str,
    vmid: u32,
) -> Result<Vec<String>, StepError> {
    Ok(records(config)?
        .get(name)
        .filter(|r| r.vmid == vmid)
        .map(|r| r.dependants.clone())
        .unwrap_or_default())
}

/// Note in service `name`'s record that its VM has given `dependant` what
/// it needs. Without a record of that VM nothing is noted: the action then
/// runs again next time, which is safe.
pub(crate) fn add_given_dependant(
    config: &Config,
    name: &str,
    vmid: u32,
    dependant: &str,
) -> Result<(), StepError> {
    let mut all = records(config)?;
    match all.get_mut(name).filter(|r| r.vmid == vmid) {
        Some(r) if !r.dependants.iter().any(|d| d == dependant) => {
            r.dependants.push(dependant.to_string());
            save_records(config, &all)
        }
        _ => Ok(()),
    }
}

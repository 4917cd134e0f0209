//! Filling an entry's templates from the context.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use tappaas_answer::Secret;

use crate::catalog::Catalog;
use crate::context::{place, Context, Placement};
use crate::error::Error;
use crate::model::{Entry, Health};
use crate::resolve::Resolved;

/// The first line cloud-init needs to take user-data as cloud-config.
pub const CLOUD_CONFIG_HEADER: &str = "#cloud-config";

/// An entry made concrete for one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub entry: Entry,
    pub placement: Placement,
    /// Cloud-config, starting with `#cloud-config`. Holds secrets: store
    /// it root-only (a Proxmox snippet) and never log it.
    pub user_data: String,
    pub health: HealthCheck,
    pub urls: Vec<String>,
}

impl Rendered {
    /// Proxmox's `ipconfig0` value for the VM, e.g.
    /// `ip=10.2.0.110/24,gw=10.2.0.1`.
    pub fn ipconfig0(&self) -> String {
        format!(
            "ip={}/{},gw={}",
            self.placement.address, self.placement.prefix, self.placement.gateway
        )
    }
}

/// The health check with the service's address filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    Tcp {
        address: SocketAddr,
    },
    /// `tls`: the certificate is self-signed, do not verify it.
    Http {
        url: String,
        expect_status: u16,
        tls: bool,
    },
}

/// Renders every resolved service, in order.
pub fn render_all(
    catalog: &Catalog,
    resolved: &Resolved,
    context: &Context,
) -> Result<Vec<Rendered>, Error> {
    resolved
        .order
        .iter()
        .map(|e| render(catalog, resolved, &e.name, context))
        .collect()
}

/// Renders service `name` of `resolved`: its dependencies and dependants
/// are taken from `resolved` (pass everything deployed, not just the new
/// service, so that their addresses are known).
pub fn render(
    catalog: &Catalog,
    resolved: &Resolved,
    name: &str,
    context: &Context,
) -> Result<Rendered, Error> {
    let entry = resolved.get(name).ok_or_else(|| Error::Unknown {
        name: name.to_string(),
        known: resolved.names().iter().map(|n| n.to_string()).collect(),
    })?;
    let file = catalog.file_of(name).to_string();
    let placements = placements(resolved, context)?;
    let placement = placements
        .get(name)
        .copied()
        .ok_or_else(|| address_error(name, "no placement".into()))?;
    let vars = Value::from_serialize(variables(entry, resolved, context, &placements)?);
    let render_one = |template: &str, source: &str| -> Result<String, Error> {
        fill(name, &file, template, source, &vars, context)
    };

    let source = entry.user_data.as_deref().ok_or_else(|| Error::Render {
        service: name.to_string(),
        file: file.clone(),
        template: "user-data".into(),
        message: "the entry has no user-data".into(),
    })?;
    let user_data = render_one("user-data", source)?;
    if !user_data.starts_with(CLOUD_CONFIG_HEADER) {
        return Err(Error::Render {
            service: name.to_string(),
            file,
            template: "user-data".into(),
            message: format!("the rendered text must start with '{CLOUD_CONFIG_HEADER}' (cloud-init ignores it otherwise)"),
        });
    }
    let urls = entry
        .urls
        .iter()
        .enumerate()
        .map(|(i, url)| render_one(&format!("urls[{i}]"), url))
        .collect::<Result<Vec<_>, _>>()?;
    let health = match &entry.health {
        Some(Health::Tcp { port }) => HealthCheck::Tcp {
            address: SocketAddr::new(IpAddr::V4(placement.address), *port),
        },
        Some(Health::Http {
            port,
            path,
            expect_status,
            tls,
        }) => HealthCheck::Http {
            url: format!(
                "{}://{}:{port}{path}",
                if *tls { "https" } else { "http" },
                placement.address
            ),
            expect_status: *expect_status,
            tls: *tls,
        },
        None => {
            return Err(Error::Render {
                service: name.to_string(),
                file,
                template: "health".into(),
                message: "the entry has no health check".into(),
            })
        }
    };
    Ok(Rendered {
        entry: entry.clone(),
        placement,
        user_data,
        health,
        urls,
    })
}

/// The template function `image("NAMESPACE/NAME:TAG")`: the reference a
/// VM's Docker pulls. Without a registry it stays as written and Docker
/// takes it from its default registry; with one (a mirror serving the same
/// namespaces) it is prefixed. A catalog reference that names a host of
/// its own is refused, so that the answer's registry decides every pull.
pub fn container_image(
    registry: Option<&str>,
    reference: &str,
) -> Result<String, minijinja::Error> {
    let invalid = |why: &str| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("image(\"{reference}\"): {why}"),
        )
    };
    let first = reference.split('/').next().unwrap_or_default();
    if reference.is_empty() || reference.contains(char::is_whitespace) {
        return Err(invalid("not an image reference"));
    }
    if !reference.contains('/') {
        return Err(invalid(
            "write the namespace too, e.g. library/NAME for an official image",
        ));
    }
    if first.contains('.') || first.contains(':') || first == "localhost" {
        return Err(invalid(
            "names a registry host; write NAMESPACE/NAME:TAG (the registry comes from services.container-registry)",
        ));
    }
    Ok(match registry.map(|r| r.trim_end_matches('/')) {
        Some(r) if !r.is_empty() => format!("{r}/{reference}"),
        _ => reference.to_string(),
    })
}

/// Renders one template of entry `service` (from `file`) with `vars` and
/// the functions (`image`) that `context` decides; `template` names it in
/// errors (`user-data`, `urls[0]`, ...).
fn fill(
    service: &str,
    file: &str,
    template: &str,
    source: &str,
    vars: &Value,
    context: &Context,
) -> Result<String, Error> {
    let fail = |message: String| Error::Render {
        service: service.to_string(),
        file: file.to_string(),
        template: template.to_string(),
        message,
    };
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    let registry = context.container_registry.clone();
    env.add_function("image", move |reference: &str| {
        container_image(registry.as_deref(), reference)
    });
    let label = format!("{service}:{template}");
    let tmpl = env
        .template_from_named_str(&label, source)
        .map_err(|e| fail(describe(&e, source, None)))?;
    tmpl.render(vars)
        .map_err(|e| fail(describe(&e, source, Some((&tmpl, vars)))))
}

/// A service's `add-dependant` action made concrete for one dependant:
/// what the node writes into the service's VM and runs there.
#[derive(Clone, PartialEq, Eq)]
pub struct DependantAction {
    /// The service whose VM it runs in (e.g. `postgresql`), and its VM id.
    pub service: String,
    pub vmid: u32,
    /// The service that depends on it (e.g. `grafana`).
    pub dependant: String,
    /// Absolute paths in the VM and their content (which may hold
    /// secrets: `Debug` shows the paths only).
    pub files: Vec<(String, Secret)>,
    /// The program and its arguments; never holds a secret (checked), so
    /// it may be shown.
    pub command: Vec<String>,
}

impl std::fmt::Debug for DependantAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DependantAction")
            .field("service", &self.service)
            .field("vmid", &self.vmid)
            .field("dependant", &self.dependant)
            .field(
                "files",
                &self.files.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("command", &self.command)
            .finish()
    }
}

/// Renders the `add-dependant` action of `service` for `dependant` (both
/// in `resolved`, the dependant depending on the service). `None` when the
/// service has no such action. A rendered command or path that holds a
/// secret, an empty program or a relative path is an error: commands are
/// shown in messages, secrets go in files.
pub fn render_add_dependant(
    catalog: &Catalog,
    resolved: &Resolved,
    service: &str,
    dependant: &str,
    context: &Context,
) -> Result<Option<DependantAction>, Error> {
    let unknown = |name: &str| Error::Unknown {
        name: name.to_string(),
        known: resolved.names().iter().map(|n| n.to_string()).collect(),
    };
    let entry = resolved.get(service).ok_or_else(|| unknown(service))?;
    let Some(action) = &entry.add_dependant else {
        return Ok(None);
    };
    let d = resolved.get(dependant).ok_or_else(|| unknown(dependant))?;
    let file = catalog.file_of(service).to_string();
    let fail = |template: String, message: String| Error::Render {
        service: service.to_string(),
        file: file.clone(),
        template,
        message,
    };
    if !d.depends.contains(&entry.name) {
        return Err(fail(
            "add-dependant".into(),
            format!("'{dependant}' does not depend on '{service}'"),
        ));
    }
    let placements = placements(resolved, context)?;
    let base = variables(entry, resolved, context, &placements)?;
    let shown = own_secrets(d, Some(&entry.dependant_secrets), context)?;
    // Every secret these templates can reach: none may end up in a
    // command or a path.
    let mut secret_values: Vec<&str> = shown.values().copied().collect();
    secret_values.extend(base.secrets.values().copied());
    let vars = Value::from_serialize(ActionVars {
        base: &base,
        dependant: peer(d, shown, &placements, context)?,
    });
    let holds_secret = |text: &str| {
        secret_values
            .iter()
            .any(|v| !v.is_empty() && text.contains(v))
    };
    let mut files = Vec::new();
    for (i, f) in action.files.iter().enumerate() {
        let key = format!("add-dependant.files[{i}]");
        let path = fill(
            service,
            &file,
            &format!("{key}.path"),
            &f.path,
            &vars,
            context,
        )?;
        if !path.starts_with('/') {
            return Err(fail(
                format!("{key}.path"),
                format!("'{path}' is not an absolute path"),
            ));
        }
        if holds_secret(&path) {
            return Err(fail(
                format!("{key}.path"),
                "holds a secret; a path is shown in messages: put secrets in the content".into(),
            ));
        }
        let content = fill(
            service,
            &file,
            &format!("{key}.content"),
            &f.content,
            &vars,
            context,
        )?;
        files.push((path, Secret::new(content)));
    }
    let mut command = Vec::new();
    for (i, arg) in action.command.iter().enumerate() {
        let key = format!("add-dependant.command[{i}]");
        let value = fill(service, &file, &key, arg, &vars, context)?;
        if holds_secret(&value) {
            return Err(fail(
                key,
                "holds a secret; the command is shown in messages: write the secret into a file (add-dependant.files) and pass its path".into(),
            ));
        }
        if i == 0 && !value.starts_with('/') {
            return Err(fail(
                key,
                format!("the program '{value}' is not an absolute path (the guest agent runs it without a shell)"),
            ));
        }
        command.push(value);
    }
    if command.is_empty() {
        return Err(fail(
            "add-dependant.command".into(),
            "is empty: give the program and its arguments".into(),
        ));
    }
    Ok(Some(DependantAction {
        service: service.to_string(),
        vmid: entry.vmid,
        dependant: dependant.to_string(),
        files,
        command,
    }))
}

fn address_error(service: &str, message: String) -> Error {
    Error::Address {
        service: service.to_string(),
        message,
    }
}

/// Every resolved service's address, checked for collisions with each
/// other, the zone's gateway and the DNS server.
fn placements(
    resolved: &Resolved,
    context: &Context,
) -> Result<BTreeMap<String, Placement>, Error> {
    let mut out = BTreeMap::new();
    let mut taken: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    if let IpAddr::V4(dns) = context.dns_server {
        taken.insert(dns, "the DNS server".into());
    }
    for entry in &resolved.order {
        let zone = context.zone(&entry.zone).ok_or_else(|| {
            address_error(
                &entry.name,
                format!(
                    "zone '{}' is not in the plan (it has {}): add it to [[zones]]",
                    entry.zone,
                    context
                        .zones
                        .iter()
                        .map(|z| z.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let p = place(entry, zone).map_err(|m| address_error(&entry.name, m))?;
        if let Some(other) = taken.insert(p.address, entry.name.clone()) {
            return Err(address_error(
                &entry.name,
                format!(
                    "its address {} (VM id {} - {}) is already {other}",
                    p.address,
                    entry.vmid,
                    crate::context::HOST_OFFSET
                ),
            ));
        }
        out.insert(entry.name.clone(), p);
    }
    Ok(out)
}

#[derive(Serialize)]
struct ZoneVars<'a> {
    name: &'a str,
    vlan: u16,
    /// e.g. "10.2.0.0/24"
    network: String,
    prefix: u8,
}

#[derive(Serialize)]
struct PeerVars<'a> {
    name: &'a str,
    /// The name with '-' as '_': a database or role name.
    ident: String,
    address: String,
    fqdn: String,
    /// Only the secrets this service may see (see `dependant-secrets`).
    secrets: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct Vars<'a> {
    name: &'a str,
    ident: String,
    hostname: &'a str,
    fqdn: String,
    domain: &'a str,
    timezone: &'a str,
    node_hostname: &'a str,
    vmid: u32,
    cores: u32,
    memory_mib: u32,
    disk_gib: u32,
    ssh_authorized_keys: &'a [String],
    dns_server: String,
    address: String,
    prefix: u8,
    gateway: String,
    zone: ZoneVars<'a>,
    secrets: BTreeMap<&'a str, &'a str>,
    deps: BTreeMap<&'a str, PeerVars<'a>>,
    dependants: Vec<PeerVars<'a>>,
    proxmox_repository: &'a str,
    proxmox_archive_key_b64: &'a str,
}

/// The variables of an `add-dependant` template: the service's own, and
/// the dependant.
#[derive(Serialize)]
struct ActionVars<'a> {
    #[serde(flatten)]
    base: &'a Vars<'a>,
    dependant: PeerVars<'a>,
}

fn placement_of(placements: &BTreeMap<String, Placement>, name: &str) -> Result<Placement, Error> {
    placements
        .get(name)
        .copied()
        .ok_or_else(|| address_error(name, "not placed".into()))
}

/// The values of `e`'s secrets; with `only`, just those named there.
fn own_secrets<'a>(
    e: &'a Entry,
    only: Option<&[String]>,
    context: &'a Context,
) -> Result<BTreeMap<&'a str, &'a str>, Error> {
    let mut out = BTreeMap::new();
    for spec in &e.secrets {
        if only.is_some_and(|names| !names.contains(&spec.name)) {
            continue;
        }
        let value = context.secrets.get(&e.name, &spec.name).ok_or_else(|| {
            Error::Secrets(format!(
                "no value for secret '{}' of service '{}': generate them (Secrets::fill_missing) before rendering",
                spec.name, e.name
            ))
        })?;
        out.insert(spec.name.as_str(), value.expose());
    }
    Ok(out)
}

/// Another service as a template sees it.
fn peer<'a>(
    e: &'a Entry,
    secrets: BTreeMap<&'a str, &'a str>,
    placements: &BTreeMap<String, Placement>,
    context: &Context,
) -> Result<PeerVars<'a>, Error> {
    Ok(PeerVars {
        name: &e.name,
        ident: e.name.replace('-', "_"),
        address: placement_of(placements, &e.name)?.address.to_string(),
        fqdn: format!("{}.{}", e.name, context.domain),
        secrets,
    })
}

fn variables<'a>(
    entry: &'a Entry,
    resolved: &'a Resolved,
    context: &'a Context,
    placements: &BTreeMap<String, Placement>,
) -> Result<Vars<'a>, Error> {
    let p = placement_of(placements, &entry.name)?;
    let mut deps = BTreeMap::new();
    for dep in &entry.depends {
        let d = resolved.get(dep).ok_or_else(|| Error::Unknown {
            name: dep.clone(),
            known: resolved.names().iter().map(|n| n.to_string()).collect(),
        })?;
        deps.insert(
            d.name.as_str(),
            peer(d, BTreeMap::new(), placements, context)?,
        );
    }
    let mut dependants = Vec::new();
    for d in resolved
        .order
        .iter()
        .filter(|d| d.depends.contains(&entry.name))
    {
        let shown = own_secrets(d, Some(&entry.dependant_secrets), context)?;
        dependants.push(peer(d, shown, placements, context)?);
    }
    let zone = context.zone(&entry.zone).ok_or_else(|| {
        address_error(
            &entry.name,
            format!("zone '{}' is not in the plan", entry.zone),
        )
    })?;
    Ok(Vars {
        name: &entry.name,
        ident: entry.name.replace('-', "_"),
        hostname: &entry.name,
        fqdn: format!("{}.{}", entry.name, context.domain),
        domain: &context.domain,
        timezone: &context.timezone,
        node_hostname: &context.node_hostname,
        vmid: entry.vmid,
        cores: entry.cores,
        memory_mib: entry.memory_mib,
        disk_gib: entry.disk_gib,
        ssh_authorized_keys: &context.ssh_authorized_keys,
        dns_server: context.dns_server.to_string(),
        address: p.address.to_string(),
        prefix: p.prefix,
        gateway: p.gateway.to_string(),
        zone: ZoneVars {
            name: &zone.name,
            vlan: zone.vlan,
            network: format!("{}/{}", p.network, p.prefix),
            prefix: p.prefix,
        },
        secrets: own_secrets(entry, None, context)?,
        deps,
        dependants,
        proxmox_repository: &context.proxmox_repository,
        proxmox_archive_key_b64: &context.proxmox_archive_key_b64,
    })
}

/// A minijinja error as one line: the template line, its text, and for an
/// undefined value the variables of the template that the context lacks.
fn describe(
    err: &minijinja::Error,
    source: &str,
    rendered: Option<(&minijinja::Template, &Value)>,
) -> String {
    let mut msg = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    if let (minijinja::ErrorKind::UndefinedError, Some((tmpl, root))) = (err.kind(), rendered) {
        let mut missing: Vec<String> = tmpl
            .undeclared_variables(true)
            .into_iter()
            .filter(|path| !defined(root, path))
            .collect();
        missing.sort();
        if !missing.is_empty() {
            msg = format!("undefined variable {}", missing.join(", "));
        }
    }
    if let Some(line) = err.line() {
        let text = source
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim();
        msg = format!("template line {line} `{text}`: {msg}");
    }
    msg
}

/// Whether a dotted path (`deps.postgresql.address`) leads to a value.
fn defined(root: &Value, path: &str) -> bool {
    let mut value = root.clone();
    for part in path.split('.') {
        match value.get_attr(part) {
            Ok(v) if !v.is_undefined() => value = v,
            _ => return false,
        }
    }
    true
}

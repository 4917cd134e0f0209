//! The service template and the service VMs cloned from it.

use std::net::IpAddr;
use std::time::Instant;

use tappaas_plan::SERVICE_TEMPLATE_ON_NODE;
use tappaas_proxmox::client::{
    BootDevice, BridgeName, CiCustom, CloneVm, ConfigUpdate, Content, CreateVm, DiskResize,
    DiskSlot, DiskSpec, ImportSource, IpConfig, NetDevice, NodeName, OsType, ScsiHw, SshKeys,
    StorageId, VmId, VmName, VmSettings, VmState, VolumeId,
};
use tappaas_proxmox::{Api, Proxmox};
use tappaas_services::{render, Rendered};

use crate::deploy::{self, Deployment, Outcome, Record, TEMPLATE_NAME, TEMPLATE_VMID};
use crate::error::StepError;
use crate::vm;
use crate::{Config, Host};

/// Where the template's disk goes (and where a service goes whose pool
/// this node has not registered).
pub const TEMPLATE_STORAGE: &str = "tank1";

fn storage(s: &str) -> Result<StorageId, StepError> {
    StorageId::new(s).map_err(|e| StepError::api("name the storage", &e))
}

fn api(what: String) -> impl FnOnce(tappaas_proxmox::ApiError) -> StepError {
    move |e| StepError::api(what, &e)
}

/// The template every service VM is cloned from: the Debian cloud image
/// with a cloud-init drive, a serial console and the guest agent.
pub(crate) fn ensure_template<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let id = vm::vmid(TEMPLATE_VMID)?;
    if let Some(existing) = vm::find(px, node, id)? {
        vm::check_owner(&existing, TEMPLATE_NAME)?;
        if existing.template {
            note(format!(
                "template {id} '{TEMPLATE_NAME}' exists: nothing to do"
            ));
            return Ok(());
        }
        // Made, but the conversion did not happen (a crash in between).
        note(format!("VM {id} exists but is not a template yet"));
    } else {
        let tank = storage(TEMPLATE_STORAGE)?;
        let what = format!("POST /nodes/{node}/qemu");
        let image =
            ImportSource::path(SERVICE_TEMPLATE_ON_NODE).map_err(|e| StepError::api(&what, &e))?;
        let name = VmName::new(TEMPLATE_NAME).map_err(|e| StepError::api(&what, &e))?;
        let lan = BridgeName::new("lan").map_err(|e| StepError::api(&what, &e))?;
        let settings = VmSettings::new()
            .name(&name)
            .description(
                "TAPPaaS service template (Debian, cloud-init, guest agent), made by first boot",
            )
            .ostype(OsType::L26)
            .scsihw(ScsiHw::VirtioScsiSingle)
            .net(0, &NetDevice::virtio(lan))
            .disk(DiskSlot::scsi0(), &DiskSpec::import(tank.clone(), image))
            .disk(DiskSlot::ide2(), &DiskSpec::cloudinit(tank))
            .serial_socket(0)
            .vga_serial(0)
            .agent(true)
            .boot_order(&[BootDevice::Disk(DiskSlot::scsi0())]);
        note(format!(
            "import {SERVICE_TEMPLATE_ON_NODE} into VM {id} '{TEMPLATE_NAME}' on {TEMPLATE_STORAGE}"
        ));
        let upid = px
            .create_vm(node, &CreateVm::new(id, settings))
            .map_err(|e| {
                StepError::api(&what, &e).hint(&format!(
                    "Check that {SERVICE_TEMPLATE_ON_NODE} exists (the installer copies it from the ISO)."
                ))
            })?;
        vm::task(px, config, node, &upid)?;
    }
    vm::wait_unlocked(px, config, node, id)?;
    note(format!("convert VM {id} into a template"));
    let upid = px
        .convert_to_template(node, id)
        .map_err(api(format!("POST /nodes/{node}/qemu/{id}/template")))?;
    vm::task(px, config, node, &upid)
}

/// Let `local` hold snippets (the services' cloud-init user-data), keeping
/// what it already holds.
fn ensure_snippets<A: Api>(
    px: &mut Proxmox<A>,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let id = storage(deploy::SNIPPET_STORAGE)?;
    let current = px.storage(&id).map_err(api(format!("GET /storage/{id}")))?;
    if current.content.iter().any(|c| c == "snippets") {
        return Ok(());
    }
    let all = [
        Content::Images,
        Content::Rootdir,
        Content::Iso,
        Content::Snippets,
        Content::Import,
        Content::Vztmpl,
        Content::Backup,
    ];
    let mut content: Vec<Content> = all
        .into_iter()
        .filter(|c| current.content.iter().any(|k| k == c.as_str()))
        .collect();
    content.push(Content::Snippets);
    let list: Vec<&str> = content.iter().map(|c| c.as_str()).collect();
    note(format!(
        "let storage '{id}' hold snippets: content {}",
        list.join(",")
    ));
    px.set_storage_content(&id, &content)
        .map_err(api(format!("PUT /storage/{id}")))
}

/// What one service's step came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceResult {
    Healthy,
    /// Not attempted, and why.
    Skipped(String),
}

/// Deploy service `name` of `dep`: clone, configure, start, wait for its
/// agent and its health check. An existing VM of that name is kept and
/// completed (see docs/first-boot.md, "Re-runs").
pub(crate) fn deploy<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    dep: &Deployment,
    name: &str,
    host: &mut dyn Host,
    note: &mut dyn FnMut(String),
) -> Result<ServiceResult, StepError> {
    if let Some(reason) = dep.blocked.get(name) {
        return Ok(ServiceResult::Skipped(reason.clone()));
    }
    let r = render(&dep.catalog, &dep.resolved, name, &dep.context)
        .map_err(|e| StepError::new(format!("render service {name}"), e.to_string()))?;
    // What it needs from services deployed before it, first: if that
    // fails, nothing of it is made.
    crate::dependant::ensure(px, config, node, dep, name, note)?;
    let e = &r.entry;
    let id = vm::vmid(e.vmid)?;
    let records = deploy::records(config)?;
    let known_healthy = records
        .get(name)
        .is_some_and(|rec| rec.outcome == Outcome::Healthy && rec.vmid == e.vmid);
    let existing = vm::find(px, node, id)?;
    // The dependants this VM gives what they need: a new VM those its
    // user-data names (cloud-init runs it at the first start); one made
    // before what its record says, since the user-data it ran may have
    // named fewer.
    let given = match &existing {
        Some(_) => deploy::given_dependants(config, name, e.vmid)?,
        None => dep
            .resolved
            .order
            .iter()
            .filter(|d| d.depends.iter().any(|x| x == name))
            .map(|d| d.name.clone())
            .collect(),
    };
    let running = match &existing {
        Some(v) => {
            vm::check_owner(v, name)?;
            if v.template {
                return Err(StepError::new(
                    format!("deploy {name}"),
                    format!(
                        "VM {id} '{name}' is a template, not a service VM; remove it and run again"
                    ),
                ));
            }
            let status = vm::wait_unlocked(px, config, node, id)?;
            if known_healthy && status.status == VmState::Running {
                note(format!(
                    "VM {id} '{name}' is deployed and was healthy: kept"
                ));
                finish(config, host, &r, given, note)?;
                return provide(px, config, node, dep, name, note);
            }
            note(format!(
                "VM {id} '{name}' exists ({}): completing it",
                if status.status == VmState::Running {
                    "running"
                } else {
                    "stopped"
                }
            ));
            status.status == VmState::Running
        }
        None => {
            clone(px, config, node, &r, note)?;
            false
        }
    };
    if !running {
        configure(px, config, node, dep, &r, host, note)?;
        note(format!("start VM {id}"));
        let upid = px
            .start_vm(node, id)
            .map_err(api(format!("POST /nodes/{node}/qemu/{id}/status/start")))?;
        vm::task(px, config, node, &upid)?;
    }
    wait_agent(px, config, node, id, note)?;
    finish(config, host, &r, given, note)?;
    provide(px, config, node, dep, name, note)
}

/// What a healthy service provides to the cluster, made real: a backup
/// server becomes its backup storage and job (see `backup_server`).
fn provide<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    dep: &Deployment,
    name: &str,
    note: &mut dyn FnMut(String),
) -> Result<ServiceResult, StepError> {
    crate::backup_server::wire(px, config, node, dep, name, note)?;
    Ok(ServiceResult::Healthy)
}

/// A full clone of the template onto the service's pool (a linked clone
/// would tie every service to the template's pool and to the template).
fn clone<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    r: &Rendered,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let e = &r.entry;
    let id = vm::vmid(e.vmid)?;
    let pool = e.pool.as_str();
    let target = {
        let storages = px.storages().map_err(api("GET /storage".into()))?;
        if storages
            .iter()
            .any(|s| s.storage == pool && s.available_on(node.as_str()))
        {
            pool
        } else {
            note(format!(
                "storage {pool} is not on this node: {} goes on {TEMPLATE_STORAGE}",
                e.name
            ));
            TEMPLATE_STORAGE
        }
    };
    let name = VmName::new(e.name.as_str()).map_err(|x| StepError::api("name the VM", &x))?;
    let mut c = CloneVm::new(id, name);
    c.full = Some(true);
    c.storage = Some(storage(target)?);
    c.description = Some(format!(
        "TAPPaaS service {} ({}), made by first boot",
        e.name, e.title
    ));
    note(format!(
        "clone template {TEMPLATE_VMID} into VM {id} '{}' on {target}",
        e.name
    ));
    let upid = px
        .clone_vm(node, vm::vmid(TEMPLATE_VMID)?, &c)
        .map_err(api(format!(
            "POST /nodes/{node}/qemu/{TEMPLATE_VMID}/clone"
        )))?;
    vm::task(px, config, node, &upid)?;
    vm::wait_unlocked(px, config, node, id).map(drop)
}

/// The snippet and the VM's settings, then the disk size: all of it
/// idempotent, so a VM left stopped by a crash is simply completed.
fn configure<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    dep: &Deployment,
    r: &Rendered,
    host: &mut dyn Host,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let e = &r.entry;
    let id = vm::vmid(e.vmid)?;
    ensure_snippets(px, note)?;
    let (volume, path) = deploy::snippet(&e.name);
    host.write_node_file(&path, &r.user_data)
        .map_err(|x| StepError::new(format!("write {path}"), x))?;
    note(format!("wrote the cloud-init user-data {path} (root only)"));

    let what = format!("PUT /nodes/{node}/qemu/{id}/config");
    let p = &r.placement;
    let lan = BridgeName::new("lan").map_err(|x| StepError::api(&what, &x))?;
    let net = NetDevice::virtio(lan)
        .with_tag(p.vlan)
        .map_err(|x| StepError::api(&what, &x))?;
    let ip = IpConfig::static_v4(p.address, p.prefix, Some(p.gateway))
        .map_err(|x| StepError::api(&what, &x))?;
    let keys = SshKeys::new(dep.context.ssh_authorized_keys.clone())
        .map_err(|x| StepError::api(&what, &x))?;
    let snippet = VolumeId::new(volume.as_str()).map_err(|x| StepError::api(&what, &x))?;
    let cores = u16::try_from(e.cores).unwrap_or(u16::MAX);
    let settings = VmSettings::new()
        .cores(cores)
        .memory_mib(e.memory_mib)
        .net(0, &net)
        .ipconfig(0, &ip)
        .nameservers(&[IpAddr::V4(p.gateway)])
        .searchdomain(&dep.context.domain)
        .sshkeys(&keys)
        .cicustom(&CiCustom::user(snippet))
        .agent(true)
        .onboot(true);
    note(format!(
        "configure VM {id}: {cores} core(s), {} MiB, lan tag {}, {}, user-data {volume}",
        e.memory_mib,
        p.vlan,
        r.ipconfig0()
    ));
    px.set_vm_config(node, id, &ConfigUpdate::set(settings))
        .map_err(|x| StepError::api(&what, &x))?;
    let cfg = px
        .vm_config(node, id)
        .map_err(api(format!("GET /nodes/{node}/qemu/{id}/config")))?;
    let have = vm::disk_gib(&cfg, DiskSlot::scsi0()).unwrap_or(0);
    if have < u64::from(e.disk_gib) {
        note(format!("grow its disk from {have} to {} GiB", e.disk_gib));
        let upid = px
            .resize_disk(
                node,
                id,
                DiskSlot::scsi0(),
                DiskResize::To { gib: e.disk_gib },
            )
            .map_err(api(format!("PUT /nodes/{node}/qemu/{id}/resize")))?;
        vm::task(px, config, node, &upid)?;
    }
    Ok(())
}

/// Until the guest agent answers, or `config.guest_timeout`.
fn wait_agent<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    id: VmId,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let deadline = Instant::now() + config.guest_timeout;
    loop {
        match px.agent_ping(node, id) {
            Ok(()) => {
                note(format!("VM {id}'s guest agent answers"));
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(
                    StepError::api(format!("POST /nodes/{node}/qemu/{id}/agent/ping"), &e).hint(
                        &format!(
                            "The guest did not come up within {} s. Look at its console \
                     (`qm terminal {id}`) and at cloud-init's log in it; run first boot again \
                     to continue.",
                            config.guest_timeout.as_secs()
                        ),
                    ),
                )
            }
            Err(_) => std::thread::sleep(config.poll_interval),
        }
    }
}

/// The health check, then the record.
fn finish(
    config: &Config,
    host: &mut dyn Host,
    r: &Rendered,
    dependants: Vec<String>,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let passed = host.health(&r.health, config.health_timeout).map_err(|x| {
        StepError::new(format!("health check of {}", r.entry.name), x).hint(
            "The VM runs, but the service does not answer yet: cloud-init may still be \
                 installing it. Run first boot again to check again.",
        )
    })?;
    note(format!("healthy: {passed}"));
    deploy::save_record(
        config,
        &r.entry.name,
        Record {
            outcome: Outcome::Healthy,
            vmid: r.entry.vmid,
            reason: None,
            urls: r.urls.clone(),
            dependants,
        },
    )
}

/// Record a failure or a skip (for the summary and `services list`).
pub(crate) fn record_not_healthy(
    config: &Config,
    dep: &Deployment,
    name: &str,
    outcome: Outcome,
    reason: &str,
) -> Result<(), StepError> {
    let vmid = dep.resolved.get(name).map(|e| e.vmid).unwrap_or(0);
    deploy::save_record(
        config,
        name,
        Record {
            outcome,
            vmid,
            reason: Some(reason.to_string()),
            urls: Vec::new(),
            // Its VM, if any, still gave them what they needed.
            dependants: deploy::given_dependants(config, name, vmid)?,
        },
    )
}

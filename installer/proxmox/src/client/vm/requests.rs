//! The VM calls' request builders, re-exported in
//! [`crate::client::requests`].

use super::*;

// The guest agent calls' builders live with their types.
pub use super::agent::requests::*;

/// `GET /cluster/nextid`: the lowest free VM id; with `check`, that id
/// if it is free (Proxmox refuses otherwise).
pub fn next_vmid(check: Option<VmId>) -> Request {
    let r = Request::get("/cluster/nextid");
    match check {
        Some(id) => r.param("vmid", id.to_string()),
        None => r,
    }
}

/// `GET /nodes/{node}/qemu`: the VMs on one node.
pub fn node_vms(node: &NodeName) -> Request {
    Request::get(format!("/nodes/{node}/qemu"))
}

/// `GET /cluster/resources` with `type=vm`: every VM in the cluster
/// with the node it is on.
pub fn cluster_vms() -> Request {
    Request::get("/cluster/resources").param("type", "vm")
}

/// `POST /nodes/{node}/qemu`: create a VM (a task).
pub fn create_vm(node: &NodeName, c: &CreateVm) -> Request {
    let mut r = Request::post(format!("/nodes/{node}/qemu")).param("vmid", c.vmid.to_string());
    for (k, v) in c.settings.params() {
        r = r.param(k.clone(), v.clone());
    }
    if c.template {
        r = r.param("template", "1");
    }
    r
}

/// `GET /nodes/{node}/qemu/{vmid}/config`
pub fn vm_config(node: &NodeName, vmid: VmId) -> Request {
    Request::get(format!("{}/config", qemu(node, vmid)))
}

/// `PUT /nodes/{node}/qemu/{vmid}/config`: set and delete keys
/// (synchronous; `POST` would run it as a task).
pub fn set_vm_config(node: &NodeName, vmid: VmId, u: &ConfigUpdate) -> Request {
    let mut r = Request::put(format!("{}/config", qemu(node, vmid)));
    for (k, v) in u.settings.params() {
        r = r.param(k.clone(), v.clone());
    }
    if !u.delete.is_empty() {
        r = r.param("delete", u.delete.join(","));
    }
    if let Some(d) = &u.digest {
        r = r.param("digest", d.clone());
    }
    r
}

/// `POST /nodes/{node}/qemu/{vmid}/clone` (a task).
pub fn clone_vm(node: &NodeName, vmid: VmId, c: &CloneVm) -> Request {
    let mut r =
        Request::post(format!("{}/clone", qemu(node, vmid))).param("newid", c.newid.to_string());
    if let Some(name) = &c.name {
        r = r.param("name", name.as_str());
    }
    if let Some(full) = c.full {
        r = r.param("full", flag(full));
    }
    if let Some(s) = &c.storage {
        r = r.param("storage", s.as_str());
    }
    if let Some(t) = &c.target {
        r = r.param("target", t.as_str());
    }
    if let Some(d) = &c.description {
        r = r.param("description", d.clone());
    }
    r
}

/// `POST /nodes/{node}/qemu/{vmid}/template`: turn a stopped VM into a
/// template (a task).
pub fn convert_to_template(node: &NodeName, vmid: VmId) -> Request {
    Request::post(format!("{}/template", qemu(node, vmid)))
}

/// `PUT /nodes/{node}/qemu/{vmid}/resize` (a task).
pub fn resize_disk(node: &NodeName, vmid: VmId, disk: DiskSlot, size: DiskResize) -> Request {
    Request::put(format!("{}/resize", qemu(node, vmid)))
        .param("disk", disk.to_string())
        .param("size", size.as_param())
}

/// `POST /nodes/{node}/qemu/{vmid}/status/start` (a task).
pub fn start_vm(node: &NodeName, vmid: VmId) -> Request {
    Request::post(format!("{}/status/start", qemu(node, vmid)))
}

/// `POST /nodes/{node}/qemu/{vmid}/status/shutdown`: ask the guest
/// (ACPI or agent) to power off, waiting up to `timeout` seconds;
/// `force_stop` stops it hard after that (a task).
pub fn shutdown_vm(node: &NodeName, vmid: VmId, timeout: Option<u32>, force_stop: bool) -> Request {
    let mut r = Request::post(format!("{}/status/shutdown", qemu(node, vmid)));
    if let Some(t) = timeout {
        r = r.param("timeout", t.to_string());
    }
    if force_stop {
        r = r.param("forceStop", "1");
    }
    r
}

/// `POST /nodes/{node}/qemu/{vmid}/status/stop`: power off at once
/// (a task).
pub fn stop_vm(node: &NodeName, vmid: VmId) -> Request {
    Request::post(format!("{}/status/stop", qemu(node, vmid)))
}

/// `GET /nodes/{node}/qemu/{vmid}/status/current`
pub fn vm_status(node: &NodeName, vmid: VmId) -> Request {
    Request::get(format!("{}/status/current", qemu(node, vmid)))
}

/// `POST /nodes/{node}/qemu/{vmid}/agent/ping`: does the guest agent
/// answer?
pub fn agent_ping(node: &NodeName, vmid: VmId) -> Request {
    Request::post(format!("{}/agent/ping", qemu(node, vmid)))
}

/// `DELETE /nodes/{node}/qemu/{vmid}`: remove a stopped VM and its
/// disks; `purge` also removes it from backup jobs and HA (a task).
pub fn destroy_vm(node: &NodeName, vmid: VmId, purge: bool) -> Request {
    let r = Request::new(Method::Delete, qemu(node, vmid)).param("destroy-unreferenced-disks", "1");
    if purge {
        r.param("purge", "1")
    } else {
        r
    }
}

/// `GET /nodes/{node}/storage/{storage}/content`, optionally of one
/// content type.
pub fn storage_content(node: &NodeName, storage: &StorageId, content: Option<Content>) -> Request {
    let r = Request::get(format!("/nodes/{node}/storage/{storage}/content"));
    match content {
        Some(c) => r.param("content", c.as_str()),
        None => r,
    }
}

/// `PUT /storage/{storage}` with `content`: what the storage may hold
/// (e.g. `local` with `iso,vztmpl,backup,snippets,import`).
pub fn set_storage_content(id: &StorageId, content: &[Content]) -> Request {
    let c: Vec<&str> = content.iter().map(|c| c.as_str()).collect();
    Request::put(format!("/storage/{id}")).param("content", c.join(","))
}

//! The typed VM calls: each sends its request builder's request and
//! reads the answer into the types of `vm`.

use super::*;
use crate::client::short;

fn upid(req: &Request, v: &Value) -> Result<String, ApiError> {
    match v.as_str() {
        Some(s) if s.starts_with("UPID:") => Ok(s.to_string()),
        _ => Err(ApiError::Decode {
            method: req.method,
            path: req.path.clone(),
            message: format!("expected a task id (UPID), got {}", short(v)),
        }),
    }
}

fn vmid_of(o: &Obj<'_>, key: &str) -> Result<VmId, ApiError> {
    let n = o
        .opt_u64(key)?
        .ok_or_else(|| o.bad(&format!("field '{key}' is missing")))?;
    u32::try_from(n)
        .ok()
        .and_then(|n| VmId::new(n).ok())
        .ok_or_else(|| o.bad(&format!("field '{key}' is not a VM id: {n}")))
}

impl<A: Api> Proxmox<A> {
    /// The lowest free VM id, or `check` itself when it is free (Proxmox
    /// refuses with "VM N already exists" when it is not).
    pub fn next_vmid(&mut self, check: Option<VmId>) -> Result<VmId, ApiError> {
        let req = requests::next_vmid(check);
        let v = self.call(&req)?;
        // Proxmox answers this integer as a JSON string.
        let s = match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        VmId::parse(&s).map_err(|_| ApiError::Decode {
            method: req.method,
            path: req.path.clone(),
            message: format!("expected a VM id, got {}", short(&v)),
        })
    }

    pub fn node_vms(&mut self, node: &NodeName) -> Result<Vec<VmSummary>, ApiError> {
        let req = requests::node_vms(node);
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| {
                let o = Obj::new(&req, i)?;
                Ok(VmSummary {
                    vmid: vmid_of(&o, "vmid")?,
                    name: o.opt_string("name"),
                    status: VmState::parse(&req, &o.string("status")?)?,
                    template: o.flag("template"),
                    lock: o.opt_string("lock"),
                    tags: formats::split_list(&o.opt_string("tags").unwrap_or_default())
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                })
            })
            .collect()
    }

    pub fn cluster_vms(&mut self) -> Result<Vec<ClusterVm>, ApiError> {
        let req = requests::cluster_vms();
        let v = self.call(&req)?;
        let mut out = Vec::new();
        for i in list(&req, &v)? {
            let o = Obj::new(&req, i)?;
            // `type=vm` covers containers (`lxc`) too.
            if o.string("type")? != "qemu" {
                continue;
            }
            out.push(ClusterVm {
                vmid: vmid_of(&o, "vmid")?,
                node: o.string("node")?,
                name: o.opt_string("name"),
                status: o.opt_string("status").unwrap_or_default(),
                template: o.flag("template"),
                lock: o.opt_string("lock"),
            });
        }
        Ok(out)
    }

    /// Returns the task id.
    pub fn create_vm(&mut self, node: &NodeName, c: &CreateVm) -> Result<String, ApiError> {
        let req = requests::create_vm(node, c);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    pub fn vm_config(&mut self, node: &NodeName, vmid: VmId) -> Result<VmConfig, ApiError> {
        let req = requests::vm_config(node, vmid);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        let mut values = BTreeMap::new();
        for k in o.map.keys() {
            if let Some(s) = o.opt_string(k) {
                values.insert(k.clone(), s);
            }
        }
        let digest = values.remove("digest");
        Ok(VmConfig { values, digest })
    }

    pub fn set_vm_config(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        u: &ConfigUpdate,
    ) -> Result<(), ApiError> {
        self.call(&requests::set_vm_config(node, vmid, u)).map(drop)
    }

    /// Returns the task id.
    pub fn clone_vm(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        c: &CloneVm,
    ) -> Result<String, ApiError> {
        let req = requests::clone_vm(node, vmid, c);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn convert_to_template(&mut self, node: &NodeName, vmid: VmId) -> Result<String, ApiError> {
        let req = requests::convert_to_template(node, vmid);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn resize_disk(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        disk: DiskSlot,
        size: DiskResize,
    ) -> Result<String, ApiError> {
        let req = requests::resize_disk(node, vmid, disk, size);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn start_vm(&mut self, node: &NodeName, vmid: VmId) -> Result<String, ApiError> {
        let req = requests::start_vm(node, vmid);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id; the task fails if the guest does not power
    /// off within `timeout` and `force_stop` is off.
    pub fn shutdown_vm(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        timeout: Option<u32>,
        force_stop: bool,
    ) -> Result<String, ApiError> {
        let req = requests::shutdown_vm(node, vmid, timeout, force_stop);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn stop_vm(&mut self, node: &NodeName, vmid: VmId) -> Result<String, ApiError> {
        let req = requests::stop_vm(node, vmid);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    pub fn vm_status(&mut self, node: &NodeName, vmid: VmId) -> Result<VmStatus, ApiError> {
        let req = requests::vm_status(node, vmid);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        Ok(VmStatus {
            vmid: vmid_of(&o, "vmid")?,
            status: VmState::parse(&req, &o.string("status")?)?,
            qmpstatus: o.opt_string("qmpstatus"),
            name: o.opt_string("name"),
            lock: o.opt_string("lock"),
            agent: o.flag("agent"),
            template: o.flag("template"),
            uptime: o.opt_u64("uptime")?,
        })
    }

    /// `Ok` when the guest agent answered; a refusal while the guest is
    /// still booting (or has no agent) is `ApiError::Refused`. Callers
    /// wait by retrying this, with their own deadline.
    pub fn agent_ping(&mut self, node: &NodeName, vmid: VmId) -> Result<(), ApiError> {
        self.call(&requests::agent_ping(node, vmid)).map(drop)
    }

    /// Returns the task id.
    pub fn destroy_vm(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        purge: bool,
    ) -> Result<String, ApiError> {
        let req = requests::destroy_vm(node, vmid, purge);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    pub fn storage_content(
        &mut self,
        node: &NodeName,
        storage: &StorageId,
        content: Option<Content>,
    ) -> Result<Vec<StorageItem>, ApiError> {
        let req = requests::storage_content(node, storage, content);
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| {
                let o = Obj::new(&req, i)?;
                Ok(StorageItem {
                    volid: o.string("volid")?,
                    format: o.string("format")?,
                    size: o.opt_u64("size")?.unwrap_or(0),
                    content: o.opt_string("content"),
                    vmid: o.opt_u64("vmid")?.and_then(|n| u32::try_from(n).ok()),
                    ctime: o.opt_u64("ctime")?.and_then(|n| i64::try_from(n).ok()),
                })
            })
            .collect()
    }

    /// Set what a storage may hold. The list replaces the old one: read
    /// it first ([`Proxmox::storage`]) and add to it.
    pub fn set_storage_content(
        &mut self,
        id: &StorageId,
        content: &[Content],
    ) -> Result<(), ApiError> {
        if content.is_empty() {
            return Err(input(
                "storage content list",
                id.as_str(),
                "name at least one content type",
            ));
        }
        self.call(&requests::set_storage_content(id, content))
            .map(drop)
    }
}

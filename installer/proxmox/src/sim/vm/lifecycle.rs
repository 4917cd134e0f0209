//! The simulated VM lifecycle: create, configure, template, clone, resize,
//! start, shut down, ping the agent, destroy.

use super::*;

impl State {
    pub(super) fn create(
        &mut self,
        local: &str,
        node: &str,
        req: &Request,
    ) -> Result<Value, String> {
        if req.get_param("archive").is_some() {
            return self.restore(local, node, req);
        }
        self.need_quorum(local)?;
        let vmid: u32 = req
            .get_param("vmid")
            .and_then(|v| v.parse().ok())
            .ok_or("missing vmid")?;
        self.vmid_free(local, vmid)?;
        let mut vm = Vm::default();
        for (k, v) in &req.params {
            let value = if is_disk_key(k) {
                self.allocate_drive(local, node, vmid, k, v)?
            } else if is_net_key(k) {
                self.net_value(node, vmid, k, v, None)?
            } else if k == "vmid" {
                continue;
            } else {
                v.clone()
            };
            vm.config.insert(k.clone(), value);
        }
        vm.config
            .entry("smbios1".into())
            .or_insert_with(|| format!("uuid=00000000-0000-4000-8000-{vmid:012}"));
        let unlock = self.task_lock(node, vmid);
        vm.lock = (!unlock.is_empty()).then(|| "create".to_string());
        let template = vm.is_template();
        self.machine_mut(node)?.vms.insert(vmid, vm);
        if template {
            self.rename_to_base(local, node, vmid)?;
        }
        Ok(json!(self.new_vm_task(
            node,
            "qmcreate",
            &vmid.to_string(),
            "OK",
            unlock
        )))
    }

    pub(super) fn set_config(
        &mut self,
        local: &str,
        node: &str,
        vmid: u32,
        req: &Request,
    ) -> Result<Value, String> {
        self.need_quorum(local)?;
        let vm = self.unlocked(node, vmid)?.clone();
        if let Some(d) = req.get_param("digest") {
            if d != config_digest(&vm.config) {
                return Err(
                    "detected modified configuration - file changed by other user? Try again."
                        .into(),
                );
            }
        }
        let mut config = vm.config.clone();
        let mut unused = Vec::new();
        for key in split_list(req.get_param("delete").unwrap_or_default()) {
            if req.params.contains_key(key) {
                return Err(format!("cannot set and delete '{key}' at the same time"));
            }
            match config.remove(key) {
                Some(old) if is_disk_key(key) => unused.push(split_drive(&old).0),
                Some(old) if key.starts_with("unused") => self.drop_volume(local, node, &old)?,
                _ => {}
            }
        }
        for (k, v) in &req.params {
            if k == "delete" || k == "digest" {
                continue;
            }
            let value = if is_disk_key(k) {
                let new = self.allocate_drive(local, node, vmid, k, v)?;
                if let Some(old) = config.get(k) {
                    let old_vol = split_drive(old).0;
                    if old_vol != split_drive(&new).0 {
                        unused.push(old_vol);
                    }
                }
                new
            } else if is_net_key(k) {
                self.net_value(node, vmid, k, v, config.get(k).map(String::as_str))?
            } else {
                v.clone()
            };
            config.insert(k.clone(), value);
        }
        // A disk taken out of a slot stays as `unusedN`, as in Proxmox.
        for vol in unused {
            let n = (0..)
                .find(|n| !config.contains_key(&format!("unused{n}")))
                .unwrap_or(0);
            config.insert(format!("unused{n}"), vol);
        }
        self.vm_mut(node, vmid)?.config = config;
        Ok(Value::Null)
    }

    /// Disk volumes referenced by a configuration.
    pub(super) fn disks_of(config: &BTreeMap<String, String>) -> Vec<(String, String)> {
        config
            .iter()
            .filter(|(k, _)| is_disk_key(k) || k.starts_with("unused"))
            .map(|(k, v)| (k.clone(), split_drive(v).0))
            .filter(|(_, vol)| vol.contains(':'))
            .collect()
    }

    pub(super) fn rename_to_base(
        &mut self,
        local: &str,
        node: &str,
        vmid: u32,
    ) -> Result<(), String> {
        let config = self.vm(node, vmid)?.config.clone();
        let mut new_config = config.clone();
        for (key, vol) in Self::disks_of(&config) {
            if vol.contains("-cloudinit") {
                continue;
            }
            let from = format!("vm-{vmid}-disk-");
            if !vol.contains(&from) {
                continue;
            }
            let to_vol = vol.replace(&from, &format!("base-{vmid}-disk-"));
            let (size, _) = self.volume(local, node, &vol)?;
            let s = self
                .storage_cfg(local)?
                .get(vol.split(':').next().unwrap_or_default())
                .cloned();
            self.drop_volume(local, node, &vol)?;
            let path = s
                .filter(|s| s.kind == "dir")
                .and_then(|s| {
                    dir_path(
                        &s,
                        to_vol.split_once(':').map(|(_, v)| v).unwrap_or_default(),
                    )
                })
                .map(|(p, _)| p);
            self.put_volume(node, &to_vol, path, size)?;
            if let Some(v) = new_config.get_mut(&key) {
                *v = v.replacen(&vol, &to_vol, 1);
            }
        }
        new_config.insert("template".into(), "1".into());
        self.vm_mut(node, vmid)?.config = new_config;
        Ok(())
    }

    pub(super) fn make_template(
        &mut self,
        local: &str,
        node: &str,
        vmid: u32,
    ) -> Result<Value, String> {
        let vm = self.unlocked(node, vmid)?;
        if vm.running {
            return Err(format!(
                "VM {vmid} is running - you can't convert a running VM to a template"
            ));
        }
        if vm.is_template() {
            return Err(format!(
                "simulator (stricter than Proxmox): VM {vmid} is already a template; read vm_config first"
            ));
        }
        self.rename_to_base(local, node, vmid)?;
        Ok(json!(self.new_vm_task(
            node,
            "qmtemplate",
            &vmid.to_string(),
            "OK",
            Vec::new()
        )))
    }

    pub(super) fn clone_vm(
        &mut self,
        local: &str,
        node: &str,
        vmid: u32,
        req: &Request,
    ) -> Result<Value, String> {
        self.need_quorum(local)?;
        let src = self.unlocked(node, vmid)?.clone();
        let template = src.is_template();
        if src.running && !template {
            return Err(format!(
                "simulator (stricter than Proxmox): VM {vmid} is running; clone a template or a stopped VM"
            ));
        }
        let newid: u32 = req
            .get_param("newid")
            .and_then(|v| v.parse().ok())
            .ok_or("missing newid")?;
        self.vmid_free(local, newid)?;
        if let Some(target) = req.get_param("target").filter(|t| *t != node) {
            self.reachable_node(local, target)?;
            return Err(format!(
                "can't clone VM to node '{target}' (VM uses local storage)"
            ));
        }
        let full = match req.get_param("full") {
            Some(f) => f == "1",
            None => !template,
        };
        if !full && !template {
            return Err("Linked clone feature is only available for templates; set full=1".into());
        }
        let target_storage = req.get_param("storage");
        if target_storage.is_some() && !full {
            return Err("parameter 'storage' not allowed for linked clones".into());
        }
        let mut config = BTreeMap::new();
        for (k, v) in &src.config {
            if k == "template" || k.starts_with("unused") || k == "lock" {
                continue;
            }
            let value = if is_disk_key(k) {
                let (file, rest) = split_drive(v);
                if !file.contains(':') {
                    v.clone()
                } else {
                    let sid = target_storage
                        .unwrap_or_else(|| file.split(':').next().unwrap_or_default())
                        .to_string();
                    let s = self.image_storage(local, node, &sid)?;
                    let cloudinit = file.contains("-cloudinit");
                    let (size, _) = self.volume(local, node, &file)?;
                    let (volid, path) = if cloudinit || full {
                        self.new_volume(node, &s, newid, cloudinit)?
                    } else if s.kind == "zfspool" {
                        let (base_storage, base) = file.split_once(':').unwrap_or_default();
                        let disk = (0..)
                            .map(|n| format!("{base_storage}:{base}/vm-{newid}-disk-{n}"))
                            .find(|v| {
                                !self
                                    .machines
                                    .get(node)
                                    .is_some_and(|m| m.zvols.contains_key(v))
                            })
                            .ok_or("no free disk name")?;
                        (disk, None)
                    } else {
                        return Err(format!(
                            "Linked clone feature is not supported for drive '{k}' (raw image on a directory storage)"
                        ));
                    };
                    self.put_volume(node, &volid, path, size)?;
                    join_drive(&volid, &rest)
                }
            } else if is_net_key(k) {
                // A clone gets new MAC addresses.
                let mut parts: Vec<&str> = v.split(',').collect();
                let model = parts[0].split('=').next().unwrap_or("virtio").to_string();
                self.clock += 1;
                let first = format!("{model}={}", make_mac(newid, k, self.clock));
                parts[0] = &first;
                parts.join(",")
            } else {
                v.clone()
            };
            config.insert(k.clone(), value);
        }
        for key in ["name", "description"] {
            if let Some(v) = req.get_param(key) {
                config.insert(key.into(), v.to_string());
            }
        }
        let mut unlock = self.task_lock(node, newid);
        unlock.extend(self.task_lock(node, vmid));
        let locked = !unlock.is_empty();
        let m = self.machine_mut(node)?;
        m.vms.insert(
            newid,
            Vm {
                config,
                running: false,
                lock: locked.then(|| "clone".to_string()),
                pings: 0,
                // A clone's guest starts from the template's disk: nothing
                // written through an agent is modelled to carry over.
                guest: agent::Guest::default(),
            },
        );
        if locked {
            if let Some(s) = m.vms.get_mut(&vmid) {
                s.lock = Some("clone".into());
            }
        }
        Ok(json!(self.new_vm_task(
            node,
            "qmclone",
            &vmid.to_string(),
            "OK",
            unlock
        )))
    }

    pub(super) fn resize(
        &mut self,
        local: &str,
        node: &str,
        vmid: u32,
        req: &Request,
    ) -> Result<Value, String> {
        let vm = self.unlocked(node, vmid)?.clone();
        let disk = req.get_param("disk").unwrap_or_default();
        let value = vm
            .config
            .get(disk)
            .ok_or_else(|| format!("disk '{disk}' does not exist"))?;
        if vm.is_template() {
            return Err("you can't resize a disk of a template".into());
        }
        let (file, mut rest) = split_drive(value);
        let (size, _) = self.volume(local, node, &file)?;
        let want = req.get_param("size").unwrap_or_default();
        let (relative, bytes) = parse_size(want).ok_or_else(|| format!("invalid size '{want}'"))?;
        let new = if relative { size + bytes } else { bytes };
        if new < size {
            return Err(format!(
                "shrinking disks is not supported ({} < {})",
                human_size(new),
                human_size(size)
            ));
        }
        let s = self
            .storage_cfg(local)?
            .get(file.split(':').next().unwrap_or_default())
            .cloned();
        let path = s
            .filter(|s| s.kind == "dir")
            .and_then(|s| dir_path(&s, file.split_once(':').map(|(_, v)| v).unwrap_or_default()))
            .map(|(p, _)| p);
        self.put_volume(node, &file, path, new)?;
        rest.retain(|(k, _)| k != "size");
        rest.push(("size".into(), human_size(new)));
        let value = join_drive(&file, &rest);
        self.vm_mut(node, vmid)?
            .config
            .insert(disk.to_string(), value);
        Ok(json!(self.new_vm_task(
            node,
            "resize",
            &vmid.to_string(),
            "OK",
            Vec::new()
        )))
    }

    pub(super) fn start(&mut self, local: &str, node: &str, vmid: u32) -> Result<Value, String> {
        let vm = self.vm(node, vmid)?.clone();
        if vm.is_template() {
            return Err("you can't start a vm if it's a template".into());
        }
        if let Some(l) = &vm.lock {
            return Err(format!("VM is locked ({l})"));
        }
        if vm.running {
            return Err(format!("VM {vmid} already running"));
        }
        for (_, vol) in Self::disks_of(&vm.config) {
            self.volume(local, node, &vol)?;
        }
        let bridges = &self.machine(node)?.bridges;
        for (k, v) in vm.config.iter().filter(|(k, _)| is_net_key(k)) {
            let bridge = v
                .split(',')
                .find_map(|p| p.strip_prefix("bridge="))
                .unwrap_or_default();
            if !bridges.iter().any(|b| b == bridge) {
                return Err(format!("{k}: bridge '{bridge}' does not exist"));
            }
        }
        if let Some(ci) = vm.config.get("cicustom") {
            for part in ci.split(',') {
                let vol = part.split_once('=').map(|(_, v)| v).unwrap_or(part);
                let (_, content) = self.volume(local, node, vol)?;
                let sid = vol.split(':').next().unwrap_or_default();
                let snippets_on = self
                    .storage_cfg(local)?
                    .get(sid)
                    .is_some_and(|s| s.content.iter().any(|c| c == "snippets"));
                if content != "snippets" || !snippets_on {
                    return Err(format!(
                        "cicustom: volume '{vol}' is not a snippet on a storage with 'snippets' content"
                    ));
                }
            }
        }
        let vm = self.vm_mut(node, vmid)?;
        vm.running = true;
        vm.pings = 0;
        Ok(json!(self.new_vm_task(
            node,
            "qmstart",
            &vmid.to_string(),
            "OK",
            Vec::new()
        )))
    }

    pub(super) fn shutdown(&mut self, node: &str, vmid: u32, force: bool) -> Result<Value, String> {
        let never = self.guests.get(&vmid) == Some(&GuestBoot::Never);
        let vm = self.vm_mut(node, vmid)?;
        if let Some(l) = &vm.lock {
            return Err(format!("VM is locked ({l})"));
        }
        if !vm.running {
            return Err(format!("VM {vmid} not running"));
        }
        // A guest that never came up ignores the power button.
        let status = if never && !force {
            "VM quit/powerdown failed - got timeout"
        } else {
            vm.running = false;
            "OK"
        };
        Ok(json!(self.new_vm_task(
            node,
            "qmshutdown",
            &vmid.to_string(),
            status,
            Vec::new()
        )))
    }

    pub(super) fn ping(&mut self, node: &str, vmid: u32) -> Result<Value, String> {
        let counted = self
            .vm_mut(node, vmid)
            .map(|vm| vm.running)
            .unwrap_or(false);
        match self.agent_guest(node, vmid, true) {
            Ok(_) => Ok(json!({})),
            Err(e) => {
                // A refused ping of a running VM still counted.
                self.keep_on_error = counted;
                Err(e)
            }
        }
    }

    pub(super) fn destroy(&mut self, local: &str, node: &str, vmid: u32) -> Result<Value, String> {
        self.need_quorum(local)?;
        let vm = self.unlocked(node, vmid)?.clone();
        if vm.running {
            return Err(format!("VM {vmid} is running - destroy failed"));
        }
        let volumes = Self::disks_of(&vm.config);
        // A template's base volumes are shared by its linked clones.
        let m = self.machine(node)?;
        for (_, vol) in &volumes {
            let prefix = format!("{vol}/");
            if let Some((other, _)) = m.vms.iter().find(|(id, o)| {
                **id != vmid
                    && Self::disks_of(&o.config)
                        .iter()
                        .any(|(_, v)| v.starts_with(&prefix))
            }) {
                return Err(format!(
                    "base volume '{vol}' is still in use by linked cloned VM {other}"
                ));
            }
        }
        for (_, vol) in volumes {
            self.drop_volume(local, node, &vol)?;
        }
        self.machine_mut(node)?.vms.remove(&vmid);
        Ok(json!(self.new_vm_task(
            node,
            "qmdestroy",
            &vmid.to_string(),
            "OK",
            Vec::new()
        )))
    }
}

//! Simulated backups to a Proxmox Backup Server storage and restores
//! from them.
//!
//! - `POST /nodes/{node}/vzdump` as pve-manager's `PVE/API2/VZDump.pm`:
//!   the guests of that node only (`all`, less `exclude`, or the listed
//!   ones that are there), one `vzdump` task whose id is the guest's when
//!   there is one, `OK` instead of a task when a list names none of them;
//!   a guest that cannot be backed up makes the task end `job errors`
//!   while the others are still backed up. Snapshot mode only.
//! - The backups live in the server's datastore (shared by every storage
//!   that names it), as pve-storage's `PBSPlugin.pm` lists them: volid
//!   `STORAGE:backup/vm/ID/YYYY-MM-DDTHH:MM:SSZ`, format `pbs-vm`, the
//!   guest's configuration and disk sizes recorded.
//! - `POST /nodes/{node}/qemu` with `archive`, as qemu-server's create:
//!   drives beside `archive` refused, an existing id refused without
//!   `force`, and with it while the VM runs; the disks come back as new
//!   volumes on their storages, `unique` gives new MAC addresses, unused
//!   disks are not part of a backup. The VM is not started.

use super::*;

/// One backup in a datastore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::sim) struct PbsBackup {
    vmid: u32,
    time: u64,
    /// The guest's configuration when it was backed up.
    config: BTreeMap<String, String>,
    /// Each backed-up drive's size in bytes, by configuration key.
    disks: BTreeMap<String, u64>,
}

impl PbsBackup {
    fn size(&self) -> u64 {
        self.disks.values().sum::<u64>().max(1)
    }
}

/// A datastore's key in the state: the server and the datastore's name.
fn datastore_key(s: &Storage) -> Option<String> {
    s.pbs
        .as_ref()
        .map(|p| format!("{}/{}", p.server, p.datastore))
}

/// `2026-12-07T02:30:00Z`, as `strftime("%FT%TZ", gmtime(t))`.
pub(in crate::sim) fn backup_time(t: u64) -> String {
    let (days, secs) = (t / 86_400, t % 86_400);
    let (y, m, d) = crate::utc::civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

impl Simulator {
    /// The wall clock (seconds since the epoch) from now on: task start
    /// times and backup times; each guest backed up takes one second.
    pub fn set_time(&self, epoch: u64) {
        lock(&self.shared.state).wall = Some(epoch);
    }

    /// Backups of VM `vmid` fail with `message` from now on (`None`: they
    /// work again), as with a full datastore or a lost connection.
    pub fn fail_backups_of(&self, vmid: u32, message: Option<&str>) {
        let mut st = lock(&self.shared.state);
        match message {
            Some(m) => st.backup_failures.insert(vmid, m.to_string()),
            None => st.backup_failures.remove(&vmid),
        };
    }
}

impl State {
    /// The time now (a task's start); each call moves it on a second.
    pub(in crate::sim) fn now(&mut self) -> u64 {
        self.clock += 1;
        match &mut self.wall {
            Some(w) => {
                *w += 1;
                *w - 1
            }
            None => 1_700_000_000 + self.clock,
        }
    }

    /// Move the time on by `seconds` (a task that took that long).
    fn advance(&mut self, seconds: u64) {
        match &mut self.wall {
            Some(w) => *w += seconds,
            None => self.clock += seconds,
        }
    }

    fn pbs_storage(&self, local: &str, id: &str) -> Result<(Storage, String), String> {
        let s = self
            .storage_cfg(local)?
            .get(id)
            .cloned()
            .ok_or_else(|| format!("storage '{id}' does not exist"))?;
        if !s.content.iter().any(|c| c == "backup") {
            return Err(format!(
                "storage '{id}' does not support backups (content type 'backup')"
            ));
        }
        let key = datastore_key(&s).ok_or_else(|| {
            format!(
                "simulator: backups are simulated to pbs storages only, '{id}' is {}",
                s.kind
            )
        })?;
        Ok((s, key))
    }

    pub(in crate::sim) fn vzdump(
        &mut self,
        local: &str,
        node: &str,
        req: &Request,
    ) -> Result<Value, String> {
        self.reachable_node(local, node)?;
        let p = |k: &str| req.get_param(k);
        let all = p("all") == Some("1");
        let ids = |k: &str| -> Vec<u32> {
            split_list(p(k).unwrap_or_default())
                .into_iter()
                .filter_map(|v| v.parse().ok())
                .collect()
        };
        // PVE::VZDump::verify_vzdump_parameters.
        if all && p("vmid").is_some() {
            return Err("all: option conflicts with option 'vmid'".into());
        }
        if p("exclude").is_some() && p("vmid").is_some() {
            return Err("exclude: option conflicts with option 'vmid'".into());
        }
        if !all && p("vmid").is_none() {
            return Err("vmid: property is missing".into());
        }
        if p("pool").is_some() {
            return Err("simulator: vzdump with 'pool' is not simulated".into());
        }
        let mode = p("mode").unwrap_or("snapshot");
        if mode != "snapshot" {
            return Err(format!(
                "simulator: vzdump mode '{mode}' is not simulated (snapshot only)"
            ));
        }
        let storage = p("storage").ok_or(
            "simulator: vzdump without 'storage' (to the node's default) is not simulated",
        )?;
        let (_, key) = self.pbs_storage(local, storage)?;
        let here: Vec<u32> = self.machine(node)?.vms.keys().copied().collect();
        let guests: Vec<u32> = if all {
            let exclude = ids("exclude");
            here.into_iter().filter(|v| !exclude.contains(v)).collect()
        } else {
            ids("vmid")
                .into_iter()
                .filter(|v| here.contains(v))
                .collect()
        };
        if guests.is_empty() && !all {
            return Ok(json!("OK"));
        }
        let start = self.now();
        let mut errors = 0;
        for (n, vmid) in guests.iter().enumerate() {
            let vm = self.vm(node, *vmid)?;
            let failure = self.backup_failures.get(vmid).cloned().or_else(|| {
                vm.lock
                    .as_ref()
                    .map(|l| format!("VM {vmid} is locked ({l})"))
            });
            if failure.is_some() {
                errors += 1;
                continue;
            }
            let mut disks = BTreeMap::new();
            for (k, vol) in Self::disks_of(&vm.config) {
                if k.starts_with("unused") || vol.contains("cloudinit") {
                    continue;
                }
                if let Ok((size, _)) = self.volume(local, node, &vol) {
                    disks.insert(k, size);
                }
            }
            let time = start + n as u64;
            let backup = PbsBackup {
                vmid: *vmid,
                time,
                config: vm.config.clone(),
                disks,
            };
            let volname = format!("vm/{vmid}/{}", backup_time(time));
            self.datastores
                .entry(key.clone())
                .or_default()
                .insert(volname, backup);
        }
        self.advance(guests.len() as u64);
        let id = match guests.as_slice() {
            [one] => one.to_string(),
            _ => String::new(),
        };
        let status = if errors == 0 { "OK" } else { "job errors" };
        Ok(json!(self.task_at(
            node,
            "vzdump",
            &id,
            status,
            start,
            0,
            Vec::new()
        )))
    }

    /// `GET /nodes/{node}/tasks`, as pve-manager's `Tasks.pm`: newest
    /// first, finished ones by default (`source=archive`), running ones
    /// with `active` or `all` (status `RUNNING`).
    pub(in crate::sim) fn node_tasks(
        &self,
        local: &str,
        node: &str,
        req: &Request,
    ) -> Result<Value, String> {
        self.reachable_node(local, node)?;
        let p = |k: &str| req.get_param(k);
        let source = p("source").unwrap_or("archive");
        let limit: usize = p("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
        let since: u64 = p("since").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut tasks: Vec<(&String, &super::super::Task)> =
            self.tasks.iter().filter(|(_, t)| t.node == node).collect();
        tasks.sort_by(|a, b| (b.1.starttime, b.0).cmp(&(a.1.starttime, a.0)));
        let mut out = Vec::new();
        for (upid, t) in tasks {
            let id = upid.split(':').nth(6).unwrap_or_default();
            let running = t.polls_left > 0;
            let wanted = match source {
                "active" => running,
                "all" => true,
                _ => !running,
            };
            if !wanted
                || p("typefilter").is_some_and(|f| f != t.kind)
                || p("vmid").is_some_and(|v| v != id)
                || t.starttime < since
            {
                continue;
            }
            let mut v = json!({
                "upid": upid, "node": t.node, "pid": 1000, "pstart": 1,
                "starttime": t.starttime, "type": t.kind, "id": id, "user": "root@pam",
            });
            if running {
                v["status"] = json!("RUNNING");
            } else {
                v["status"] = json!(t.exitstatus);
                v["endtime"] = json!(t.starttime);
            }
            out.push(v);
            if out.len() >= limit {
                break;
            }
        }
        Ok(Value::Array(out))
    }

    /// `GET .../content` of a pbs storage: the datastore's backups.
    pub(in crate::sim) fn pbs_content(
        &self,
        s: &Storage,
        only: Option<&str>,
    ) -> Result<Value, String> {
        if only.is_some_and(|o| o != "backup") {
            return Ok(json!([]));
        }
        let Some(store) = datastore_key(s).and_then(|k| self.datastores.get(&k)) else {
            return Ok(json!([]));
        };
        Ok(Value::Array(
            store
                .values()
                .map(|b| {
                    json!({
                        "volid": format!("{}:backup/vm/{}/{}", s.id, b.vmid, backup_time(b.time)),
                        "format": "pbs-vm", "size": b.size(), "content": "backup",
                        "vmid": b.vmid, "ctime": b.time, "subtype": "qemu",
                    })
                })
                .collect(),
        ))
    }

    /// The backup a volid names.
    fn backup_of(&self, local: &str, volid: &str) -> Result<PbsBackup, String> {
        let (sid, volname) = volid
            .split_once(':')
            .ok_or_else(|| format!("unable to parse volume ID '{volid}'"))?;
        let (_, key) = self.pbs_storage(local, sid)?;
        let name = volname
            .strip_prefix("backup/")
            .ok_or_else(|| format!("unable to parse PBS volume name '{volname}'"))?;
        self.datastores
            .get(&key)
            .and_then(|d| d.get(name))
            .cloned()
            .ok_or_else(|| format!("volume '{volid}' does not exist"))
    }

    pub(super) fn restore(
        &mut self,
        local: &str,
        node: &str,
        req: &Request,
    ) -> Result<Value, String> {
        self.need_quorum(local)?;
        let vmid: u32 = req
            .get_param("vmid")
            .and_then(|v| v.parse().ok())
            .ok_or("missing vmid")?;
        if let Some(k) = req.params.keys().find(|k| is_disk_key(k)) {
            return Err(format!("{k}: option conflicts with option 'archive'"));
        }
        let archive = req.get_param("archive").unwrap_or_default();
        let backup = self.backup_of(local, archive)?;
        let emsg = format!("unable to restore VM {vmid} -");
        let force = req.get_param("force") == Some("1");
        match self.cluster_vmids(local)?.get(&vmid) {
            None => {}
            Some(on) if !force => {
                return Err(format!("{emsg} VM {vmid} already exists on node '{on}'"))
            }
            Some(on) if on != node => {
                return Err(format!("{emsg} {}", no_such_vm(node, vmid)));
            }
            Some(_) => {
                let old = self.unlocked(node, vmid)?.clone();
                if old.running {
                    return Err(format!("{emsg} vm is running"));
                }
                for (_, vol) in Self::disks_of(&old.config) {
                    self.drop_volume(local, node, &vol)?;
                }
                self.machine_mut(node)?.vms.remove(&vmid);
            }
        }
        let unique = req.get_param("unique") == Some("1");
        let mut config = BTreeMap::new();
        for (k, v) in &backup.config {
            if k.starts_with("unused") || k == "lock" {
                continue;
            }
            let value = if let Some(size) = backup.disks.get(k) {
                let (file, mut rest) = split_drive(v);
                let storage = file.split(':').next().unwrap_or_default();
                let s = self.image_storage(local, node, storage)?;
                let (volid, path) = self.new_volume(node, &s, vmid, false)?;
                self.put_volume(node, &volid, path, *size)?;
                rest.retain(|(k, _)| k != "size");
                rest.push(("size".into(), human_size(*size)));
                join_drive(&volid, &rest)
            } else if is_disk_key(k) && split_drive(v).0.contains("cloudinit") {
                let storage = split_drive(v).0;
                let storage = storage.split(':').next().unwrap_or_default();
                self.allocate_drive(local, node, vmid, k, &format!("{storage}:cloudinit"))?
            } else if is_net_key(k) && unique {
                let mut parts: Vec<&str> = v.split(',').collect();
                let model = parts[0].split('=').next().unwrap_or("virtio");
                parts[0] = model;
                let fresh = parts.join(",");
                self.net_value(node, vmid, k, &fresh, None)?
            } else {
                v.clone()
            };
            config.insert(k.clone(), value);
        }
        let vm = Vm {
            config,
            ..Vm::default()
        };
        self.machine_mut(node)?.vms.insert(vmid, vm);
        Ok(json!(self.new_vm_task(
            node,
            "qmrestore",
            &vmid.to_string(),
            "OK",
            Vec::new()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_times_are_utc_iso() {
        assert_eq!(backup_time(0), "1970-01-01T00:00:00Z");
        // 2026-12-07 02:30:00 UTC
        assert_eq!(backup_time(1_796_610_600), "2026-12-07T02:30:00Z");
        assert_eq!(backup_time(951_782_400), "2000-02-29T00:00:00Z");
    }
}

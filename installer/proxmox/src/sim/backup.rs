//! The simulated backup jobs (`/cluster/backup`), kept like pve-manager's
//! `PVE/API2/Backup.pm` keeps them in `/etc/pve/jobs.cfg`: cluster-wide,
//! an id given or generated (a UUID, as `UUID::uuid()` makes it), a
//! duplicate id refused, `schedule` required on create, `enabled` 1 unless
//! given, and exactly one way of choosing the guests (`all`, `vmid` or
//! `pool`). `included_volumes` lists the guests a job covers now.

use super::*;

/// One job: its options as given (`id` not among them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Job {
    pub(super) options: BTreeMap<String, String>,
}

/// The options this simulator keeps; any other valid one is refused
/// with a message that says so rather than silently dropped.
const KEPT: &[&str] = &[
    "all",
    "comment",
    "enabled",
    "exclude",
    "mode",
    "prune-backups",
    "repeat-missed",
    "schedule",
    "storage",
    "vmid",
];

impl Simulator {
    /// The password a storage keeps in its private file (Proxmox never
    /// shows it), for tests that check it arrived.
    pub fn storage_password(&self, node: &str, id: &str) -> Option<String> {
        let st = lock(&self.shared.state);
        st.storage_cfg(node)
            .ok()?
            .get(id)?
            .pbs
            .as_ref()?
            .password
            .clone()
    }
}

impl State {
    fn jobs(&self, local: &str) -> Result<&BTreeMap<String, Job>, String> {
        Ok(match self.cluster_idx(local)? {
            Some(c) => &self.clusters[c].jobs,
            None => &self.machine(local)?.jobs,
        })
    }

    fn jobs_mut(&mut self, local: &str) -> Result<&mut BTreeMap<String, Job>, String> {
        match self.cluster_idx(local)? {
            Some(c) => Ok(&mut self.clusters[c].jobs),
            None => self
                .machines
                .get_mut(local)
                .map(|m| &mut m.jobs)
                .ok_or_else(|| format!("no such machine '{local}'")),
        }
    }

    pub(super) fn handle_backup(
        &mut self,
        local: &str,
        req: &Request,
        id: Option<&str>,
    ) -> Result<Value, String> {
        match (req.method, id) {
            (Method::Get, None) => Ok(Value::Array(
                self.jobs(local)?
                    .iter()
                    .map(|(id, j)| job_json(id, j))
                    .collect(),
            )),
            (Method::Get, Some(id)) => self
                .jobs(local)?
                .get(id)
                .map(|j| job_json(id, j))
                .ok_or_else(|| format!("No such job '{id}'")),
            (Method::Post, None) => self.create_job(local, req),
            (Method::Put, Some(id)) => self.update_job(local, id, req),
            (Method::Delete, Some(id)) => {
                self.need_quorum(local)?;
                self.jobs_mut(local)?
                    .remove(id)
                    .map(|_| Value::Null)
                    .ok_or_else(|| format!("No such job '{id}'"))
            }
            (method, _) => Err(format!("{method} /cluster/backup is not simulated")),
        }
    }

    fn create_job(&mut self, local: &str, req: &Request) -> Result<Value, String> {
        self.need_quorum(local)?;
        if req.get_param("schedule").is_none() {
            return Err("schedule: neither 'starttime' nor 'schedule' were set".into());
        }
        let id = match req.get_param("id") {
            Some(id) => id.to_string(),
            None => {
                self.clock += 1;
                uuid(self.clock)
            }
        };
        if self.jobs(local)?.contains_key(&id) {
            return Err(format!("Job '{id}' already exists"));
        }
        let mut job = Job::default();
        apply(&mut job, req, &[])?;
        job.options
            .entry("enabled".into())
            .or_insert_with(|| "1".into());
        verify(&job)?;
        self.jobs_mut(local)?.insert(id, job);
        Ok(Value::Null)
    }

    fn update_job(&mut self, local: &str, id: &str, req: &Request) -> Result<Value, String> {
        self.need_quorum(local)?;
        let mut job = self
            .jobs(local)?
            .get(id)
            .cloned()
            .ok_or("no such vzdump job")?;
        let delete: Vec<String> = split_list(req.get_param("delete").unwrap_or_default())
            .into_iter()
            .map(str::to_string)
            .collect();
        let given = |k: &str| req.get_param(k).is_some();
        if req.params.keys().all(|k| k == "id" || k == "delete") && delete.is_empty() {
            return Err("no options specified".into());
        }
        apply(&mut job, req, &delete)?;
        // As Backup.pm: choosing guests one way drops the other ways.
        if given("vmid") {
            for k in ["all", "exclude", "pool"] {
                job.options.remove(k);
            }
        } else if req.get_param("all") == Some("1") {
            job.options.remove("vmid");
        }
        verify(&job)?;
        self.jobs_mut(local)?.insert(id.to_string(), job);
        Ok(Value::Null)
    }

    /// `included_volumes`: every guest of the cluster for `all` (less
    /// `exclude`), else the listed ones; a listed guest that does not
    /// exist is `unknown`, as in Proxmox.
    pub(super) fn job_guests(&self, local: &str, id: &str) -> Result<Value, String> {
        let job = self
            .jobs(local)?
            .get(id)
            .ok_or_else(|| format!("No such job '{id}'"))?;
        let list = |k: &str| -> Vec<u32> {
            split_list(job.options.get(k).map(String::as_str).unwrap_or_default())
                .into_iter()
                .filter_map(|v| v.parse().ok())
                .collect()
        };
        let vms = self.cluster_vmids(local)?;
        let ids: Vec<u32> = if job.options.get("all").map(String::as_str) == Some("1") {
            let exclude = list("exclude");
            vms.keys()
                .copied()
                .filter(|v| !exclude.contains(v))
                .collect()
        } else {
            list("vmid")
        };
        let children: Vec<Value> = ids
            .into_iter()
            .map(|vmid| match vms.get(&vmid) {
                Some(node) => {
                    let mut g = json!({ "id": vmid, "type": "qemu" });
                    if let Some(name) = self.vm_name(node, vmid) {
                        g["name"] = json!(name);
                    }
                    g
                }
                None => json!({ "id": vmid, "type": "unknown" }),
            })
            .collect();
        Ok(json!({ "children": children }))
    }
}

/// Set the given options, delete those named in `delete`.
fn apply(job: &mut Job, req: &Request, delete: &[String]) -> Result<(), String> {
    for k in delete {
        if !KEPT.contains(&k.as_str()) {
            return Err(format!("delete: unknown option '{k}'"));
        }
        job.options.remove(k);
    }
    for (k, v) in &req.params {
        if k == "id" || k == "delete" {
            continue;
        }
        if !KEPT.contains(&k.as_str()) {
            return Err(format!(
                "simulator: the backup job option '{k}' is valid but not simulated; extend sim/backup.rs"
            ));
        }
        job.options.insert(k.clone(), v.clone());
    }
    Ok(())
}

/// PVE::VZDump::verify_vzdump_parameters with `check_missing`.
fn verify(job: &Job) -> Result<(), String> {
    let has = |k: &str| job.options.contains_key(k);
    let on = |k: &str| job.options.get(k).is_some_and(|v| v == "1");
    for k in ["all", "exclude", "pool"] {
        if (if k == "all" { on(k) } else { has(k) }) && has("vmid") {
            return Err(format!("{k}: option conflicts with option 'vmid'"));
        }
    }
    if !(on("all") || has("pool") || has("vmid")) {
        return Err("vmid: property is missing".into());
    }
    Ok(())
}

/// A job as `GET /cluster/backup` shows it: `prune-backups` as an object,
/// the id and type injected.
fn job_json(id: &str, job: &Job) -> Value {
    let mut v = json!({ "id": id, "type": "vzdump" });
    for (k, val) in &job.options {
        v[k.as_str()] = match k.as_str() {
            "prune-backups" => Value::Object(
                split_list(val)
                    .into_iter()
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, n)| (k.to_string(), json!(n.parse::<u64>().unwrap_or(0))))
                    .collect(),
            ),
            "all" | "enabled" | "repeat-missed" => json!(u8::from(val == "1")),
            _ => json!(val),
        };
    }
    v
}

/// A UUID-formatted id from a counter (UUID::uuid() is random; the
/// simulator is deterministic).
fn uuid(n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n.wrapping_mul(0x9e37_79b9) & 0xffff_ffff,
        n & 0xffff,
        (n >> 4) & 0xfff,
        (n >> 8) & 0xfff,
        n
    )
}

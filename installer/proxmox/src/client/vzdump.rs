//! Backing up and restoring guests now: a backup run (`POST
//! /nodes/{node}/vzdump`, what a scheduled job runs), the node's vzdump
//! tasks, and a VM restored from a backup volume (`POST /nodes/{node}/qemu`
//! with `archive`).

use super::*;

/// A backup run on one node, as pve-manager's `PVE/API2/VZDump.pm` takes
/// it: `all` backs up every guest on that node (a run per node covers the
/// cluster), less `exclude`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vzdump {
    pub storage: StorageId,
    /// `snapshot`, `suspend` or `stop`.
    pub mode: String,
    /// Guest ids to leave out (a job's `exclude`).
    pub exclude: Vec<u32>,
    /// The job this run is for (notifications name it).
    pub job_id: Option<String>,
}

/// One task of `GET /nodes/{node}/tasks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    pub upid: String,
    pub node: String,
    /// `vzdump`, `qmrestore`...
    pub kind: String,
    /// The guest id, for a task of one guest; empty for a run of several.
    pub id: String,
    pub starttime: i64,
    pub endtime: Option<i64>,
    /// `OK`, `WARNINGS: n`, the error (`job errors`), or `RUNNING`.
    pub status: Option<String>,
}

impl TaskInfo {
    pub fn running(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == "RUNNING")
    }
}

/// A VM restored from a backup volume: a new VM `vmid` (or, with
/// `force`, over the stopped VM of that id), with new MAC addresses when
/// `unique` (the original may still be running beside it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreVm {
    pub vmid: VmId,
    /// A backup volume (`STORAGE:backup/vm/ID/TIME` on a `pbs` storage).
    pub archive: String,
    pub force: bool,
    pub unique: bool,
}

pub mod requests {
    use super::*;

    /// `POST /nodes/{node}/vzdump` with `all` (a task; "OK" instead of a
    /// task when nothing is to be done there).
    pub fn vzdump(node: &NodeName, v: &Vzdump) -> Request {
        let mut r = Request::post(format!("/nodes/{node}/vzdump"))
            .param("all", "1")
            .param("storage", v.storage.as_str())
            .param("mode", v.mode.as_str());
        if !v.exclude.is_empty() {
            let ids: Vec<String> = v.exclude.iter().map(u32::to_string).collect();
            r = r.param("exclude", ids.join(","));
        }
        if let Some(job) = &v.job_id {
            r = r.param("job-id", job.as_str());
        }
        r
    }

    /// `GET /nodes/{node}/tasks` of one type, running ones included,
    /// newest first.
    pub fn node_tasks(node: &NodeName, kind: &str, limit: u32) -> Request {
        Request::get(format!("/nodes/{node}/tasks"))
            .param("typefilter", kind)
            .param("source", "all")
            .param("limit", limit.to_string())
    }

    /// `POST /nodes/{node}/qemu` with `archive`: a restore (a task).
    pub fn restore_vm(node: &NodeName, r: &RestoreVm) -> Request {
        let mut req = Request::post(format!("/nodes/{node}/qemu"))
            .param("vmid", r.vmid.to_string())
            .param("archive", r.archive.as_str());
        if r.force {
            req = req.param("force", "1");
        }
        if r.unique {
            req = req.param("unique", "1");
        }
        req
    }
}

impl<A: Api> Proxmox<A> {
    /// Start a backup run on `node`: its task id, or `None` when Proxmox
    /// answered that there was nothing to do there.
    pub fn vzdump(&mut self, node: &NodeName, v: &Vzdump) -> Result<Option<String>, ApiError> {
        let req = requests::vzdump(node, v);
        let v = self.call(&req)?;
        match v.as_str() {
            Some(s) if s.starts_with("UPID:") => Ok(Some(s.to_string())),
            Some("OK") => Ok(None),
            _ => Err(ApiError::Decode {
                method: req.method,
                path: req.path.clone(),
                message: format!("expected a task id (UPID), got {}", short(&v)),
            }),
        }
    }

    /// The newest `limit` tasks of type `kind` on `node`, newest first.
    pub fn node_tasks(
        &mut self,
        node: &NodeName,
        kind: &str,
        limit: u32,
    ) -> Result<Vec<TaskInfo>, ApiError> {
        let req = requests::node_tasks(node, kind, limit);
        let v = self.call(&req)?;
        let time = |o: &Obj<'_>, k: &str| -> Result<Option<i64>, ApiError> {
            Ok(o.opt_u64(k)?.and_then(|n| i64::try_from(n).ok()))
        };
        list(&req, &v)?
            .iter()
            .map(|t| {
                let o = Obj::new(&req, t)?;
                Ok(TaskInfo {
                    upid: o.string("upid")?,
                    node: o.string("node")?,
                    kind: o.string("type")?,
                    id: o.opt_string("id").unwrap_or_default(),
                    starttime: time(&o, "starttime")?
                        .ok_or_else(|| o.bad("a task without 'starttime'"))?,
                    endtime: time(&o, "endtime")?,
                    status: o.opt_string("status"),
                })
            })
            .collect()
    }

    /// Restore a VM from a backup volume; returns the task id.
    pub fn restore_vm(&mut self, node: &NodeName, r: &RestoreVm) -> Result<String, ApiError> {
        let req = requests::restore_vm(node, r);
        let v = self.call(&req)?;
        match v.as_str() {
            Some(s) if s.starts_with("UPID:") => Ok(s.to_string()),
            _ => Err(ApiError::Decode {
                method: req.method,
                path: req.path.clone(),
                message: format!("expected a task id (UPID), got {}", short(&v)),
            }),
        }
    }
}

//! The VMs' side of `backup`, through the project's Proxmox client: the
//! status of each guest's backups on the Proxmox Backup Server storage,
//! a backup run of every guest now (what the scheduled job runs), and a
//! VM restored from a backup to a new VM id.

use std::time::{Duration, Instant};

use tappaas_proxmox::client::{
    ClusterVm, Content, NodeName, RestoreVm, StorageId, StorageItem, TaskInfo, VmId, Vzdump,
};
use tappaas_proxmox::{Api, ApiError, Proxmox};

use super::vms::{self, Facts, GuestBackup, VmBackups};
use super::BackupError;
use crate::backup_server::{JOB_ID, STORAGE_ID};

/// How many vzdump tasks of each node are read for the status.
const TASKS_READ: u32 = 50;

fn api(call: &str) -> impl Fn(ApiError) -> BackupError + '_ {
    move |e| BackupError::Failed(format!("{call}: {e}"))
}

/// The node `px` talks to.
pub fn local_node<A: Api>(px: &mut Proxmox<A>) -> Result<NodeName, BackupError> {
    let status = px.cluster_status().map_err(api("GET /cluster/status"))?;
    let name = status
        .local_node()
        .map(|n| n.name.clone())
        .ok_or_else(|| BackupError::Failed("GET /cluster/status names no local node".into()))?;
    NodeName::new(name).map_err(api("GET /cluster/status"))
}

/// The backup server's storage: the one first boot registers, else any
/// `pbs` storage.
fn pbs_storage<A: Api>(px: &mut Proxmox<A>) -> Result<Option<StorageId>, BackupError> {
    let storages = px.storages().map_err(api("GET /storage"))?;
    let pbs: Vec<_> = storages
        .iter()
        .filter(|s| s.storage_type == "pbs")
        .collect();
    let id = pbs
        .iter()
        .find(|s| s.storage == STORAGE_ID)
        .or_else(|| pbs.first())
        .map(|s| s.storage.clone());
    id.map(|id| StorageId::new(id).map_err(api("GET /storage")))
        .transpose()
}

fn not_registered() -> BackupError {
    BackupError::refused(
        "no Proxmox Backup Server storage is registered, so there are no VM backups. Deploy \
         the backup server (`tappaas-installer services deploy backup-server`); first boot \
         then registers it as storage 'tappaas-pbs' with a nightly job of every VM.",
    )
}

/// The backups on `storage`.
fn backups<A: Api>(
    px: &mut Proxmox<A>,
    node: &NodeName,
    storage: &StorageId,
) -> Result<Vec<StorageItem>, BackupError> {
    px.storage_content(node, storage, Some(Content::Backup))
        .map_err(api(&format!("GET /nodes/{node}/storage/{storage}/content")))
}

/// The nodes that are online.
fn online_nodes<A: Api>(px: &mut Proxmox<A>) -> Result<Vec<NodeName>, BackupError> {
    px.nodes()
        .map_err(api("GET /nodes"))?
        .into_iter()
        .filter(|n| n.status == "online")
        .map(|n| NodeName::new(n.node).map_err(api("GET /nodes")))
        .collect()
}

/// `backup status`'s VM part, at `now` (seconds since the epoch).
pub fn vm_status<A: Api>(
    px: &mut Proxmox<A>,
    now: i64,
) -> Result<(VmBackups, Vec<GuestBackup>), BackupError> {
    let Some(storage) = pbs_storage(px)? else {
        return Ok((vms::no_storage(), Vec::new()));
    };
    let node = local_node(px)?;
    let jobs = px.backup_jobs().map_err(api("GET /cluster/backup"))?;
    let mut covered = std::collections::BTreeMap::new();
    for j in &jobs {
        let ids = px.backup_job_guests(&j.id).map_err(api(&format!(
            "GET /cluster/backup/{}/included_volumes",
            j.id
        )))?;
        covered.insert(j.id.clone(), ids);
    }
    let guests = px.cluster_vms().map_err(api("GET /cluster/resources"))?;
    let backups = backups(px, &node, &storage)?;
    let mut tasks: Vec<TaskInfo> = Vec::new();
    for n in online_nodes(px)? {
        tasks.extend(
            px.node_tasks(&n, "vzdump", TASKS_READ)
                .map_err(api(&format!("GET /nodes/{n}/tasks")))?,
        );
    }
    let covered_by = |id: &str| covered.get(id).cloned().unwrap_or_default();
    Ok(vms::evaluate(
        &Facts {
            storage: storage.as_str(),
            jobs: &jobs,
            covered: &covered_by,
            guests: &guests,
            backups: &backups,
            tasks: &tasks,
            now,
        },
        JOB_ID,
    ))
}

/// How a backup run or a restore waits for its tasks.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    pub poll: Duration,
    /// A progress line this often.
    pub report: Duration,
    pub limit: Duration,
}

impl Waiting {
    pub fn node() -> Waiting {
        Waiting {
            poll: Duration::from_secs(2),
            report: Duration::from_secs(30),
            limit: Duration::from_secs(12 * 3600),
        }
    }
}

/// Wait for task `upid` on `node` to end; its exit status.
fn wait_task<A: Api>(
    px: &mut Proxmox<A>,
    node: &NodeName,
    upid: &str,
    w: Waiting,
    line: &mut dyn FnMut(&str),
) -> Result<String, BackupError> {
    let start = Instant::now();
    let mut reported = start;
    loop {
        let s = px
            .task_status(node, upid)
            .map_err(api(&format!("GET /nodes/{node}/tasks/{upid}/status")))?;
        if !s.running {
            return Ok(s.exitstatus.unwrap_or_else(|| "no exit status".into()));
        }
        if start.elapsed() >= w.limit {
            return Err(BackupError::Failed(format!(
                "task {upid} on {node} still runs after {} s; `pvenode task log {upid}` shows it",
                w.limit.as_secs()
            )));
        }
        if reported.elapsed() >= w.report {
            reported = Instant::now();
            line(&format!(
                "  {node}: still running ({} s)",
                start.elapsed().as_secs()
            ));
        }
        std::thread::sleep(w.poll);
    }
}

/// One node's backup run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRun {
    pub node: String,
    /// `None`: Proxmox had nothing to do there.
    pub upid: Option<String>,
    pub exitstatus: String,
}

impl NodeRun {
    pub fn ok(&self) -> bool {
        self.exitstatus == "OK" || self.exitstatus.starts_with("WARNINGS")
    }
}

/// vzdump's mode when the job does not say (as Proxmox's default): the
/// guests keep running.
const SNAPSHOT: &str = "snapshot";

/// The run job [`JOB_ID`] makes to `storage` (its mode, its id); `None`
/// when that job does not write there.
fn job_run<A: Api>(
    px: &mut Proxmox<A>,
    storage: &StorageId,
) -> Result<Option<Vzdump>, BackupError> {
    let jobs = px.backup_jobs().map_err(api("GET /cluster/backup"))?;
    Ok(jobs
        .iter()
        .find(|j| j.id == JOB_ID && j.storage.as_deref() == Some(storage.as_str()))
        .map(|j| Vzdump {
            storage: storage.clone(),
            mode: j.mode.clone().unwrap_or_else(|| SNAPSHOT.into()),
            exclude: Vec::new(),
            job_id: Some(j.id.clone()),
        }))
}

/// `backup run`'s VM part: the job's backup of every guest, now, on every
/// node that is online (vzdump backs up the guests of the node it runs
/// on), one after the other; each task's result. No backup server: refused.
pub fn run_vm_backups<A: Api>(
    px: &mut Proxmox<A>,
    w: Waiting,
    line: &mut dyn FnMut(&str),
) -> Result<Vec<NodeRun>, BackupError> {
    let storage = pbs_storage(px)?.ok_or_else(not_registered)?;
    let run = job_run(px, &storage)?.unwrap_or_else(|| Vzdump {
        storage: storage.clone(),
        mode: SNAPSHOT.into(),
        exclude: Vec::new(),
        job_id: None,
    });
    let mut out = Vec::new();
    for node in online_nodes(px)? {
        line(&format!(
            "{node}: backing up every VM to {storage} ({} mode)",
            run.mode
        ));
        let upid = px
            .vzdump(&node, &run)
            .map_err(api(&format!("POST /nodes/{node}/vzdump")))?;
        let exitstatus = match &upid {
            Some(upid) => wait_task(px, &node, upid, w, line)?,
            None => "OK".to_string(),
        };
        line(&format!("{node}: {exitstatus}"));
        out.push(NodeRun {
            node: node.to_string(),
            upid,
            exitstatus,
        });
    }
    Ok(out)
}

/// What first boot's first backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstBackup {
    /// vzdump of every guest on this node started: its task (`None`:
    /// Proxmox had nothing to do).
    Started(Option<String>),
    /// Not started, and why (no backup server, a backup exists or runs).
    Skipped(String),
}

/// First boot, at its end: the job's backup of every guest on `node`
/// started now, not waited for, so the VMs are protected from the first
/// hour rather than from the job's first night. Only when the backup
/// server is registered with the job, no vzdump runs on the node, and no
/// guest of the node has a backup yet (a re-run starts nothing).
pub fn start_first_backup<A: Api>(
    px: &mut Proxmox<A>,
    node: &NodeName,
) -> Result<FirstBackup, BackupError> {
    let Some(storage) = pbs_storage(px)? else {
        return Ok(FirstBackup::Skipped(
            "no backup server is registered".into(),
        ));
    };
    let Some(run) = job_run(px, &storage)? else {
        return Ok(FirstBackup::Skipped(format!(
            "no backup job {JOB_ID} writes to {storage}"
        )));
    };
    let tasks = px
        .node_tasks(node, "vzdump", TASKS_READ)
        .map_err(api(&format!("GET /nodes/{node}/tasks")))?;
    if let Some(t) = tasks.iter().find(|t| t.running()) {
        return Ok(FirstBackup::Skipped(format!(
            "a backup runs already ({})",
            t.upid
        )));
    }
    let mine: Vec<u32> = px
        .cluster_vms()
        .map_err(api("GET /cluster/resources"))?
        .iter()
        .filter(|v| v.node == node.as_str())
        .map(|v| v.vmid.get())
        .collect();
    if let Some(b) = backups(px, node, &storage)?
        .iter()
        .find(|b| b.vmid.is_some_and(|id| mine.contains(&id)))
    {
        return Ok(FirstBackup::Skipped(format!(
            "a guest of {node} has a backup already ({})",
            b.volid
        )));
    }
    let upid = px
        .vzdump(node, &run)
        .map_err(api(&format!("POST /nodes/{node}/vzdump")))?;
    Ok(FirstBackup::Started(upid))
}

/// What `backup restore --vm` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmRestore {
    pub vm: u32,
    /// A backup volume; `None`: the newest of the VM.
    pub backup: Option<String>,
    /// The VM id to restore to; `None`: the next free one.
    pub to: Option<u32>,
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredVm {
    pub from: String,
    pub vmid: u32,
    pub node: String,
}

fn find(vms: &[ClusterVm], id: u32) -> Option<&ClusterVm> {
    vms.iter().find(|v| v.vmid.get() == id)
}

/// `backup restore --vm`: the VM as its backup has it, as a new VM on
/// this node (not started); over an existing VM only with `force`, and
/// only while that VM is stopped.
pub fn restore_vm<A: Api>(
    px: &mut Proxmox<A>,
    ask: &VmRestore,
    w: Waiting,
    line: &mut dyn FnMut(&str),
) -> Result<RestoredVm, BackupError> {
    let storage = pbs_storage(px)?.ok_or_else(not_registered)?;
    let node = local_node(px)?;
    let mut mine: Vec<StorageItem> = backups(px, &node, &storage)?
        .into_iter()
        .filter(|b| b.vmid == Some(ask.vm))
        .collect();
    mine.sort_by_key(|b| b.ctime);
    let from = match &ask.backup {
        Some(volid) => mine.iter().find(|b| &b.volid == volid).ok_or_else(|| {
            BackupError::refused(format!(
                "{volid} is not a backup of VM {} on {storage}; its backups: {}",
                ask.vm,
                listing(&mine)
            ))
        })?,
        None => mine.last().ok_or_else(|| {
            BackupError::refused(format!(
                "VM {} has no backup on {storage}; `tappaas-installer backup status` lists the VMs' backups",
                ask.vm
            ))
        })?,
    }
    .volid
    .clone();
    let vms = px.cluster_vms().map_err(api("GET /cluster/resources"))?;
    let target = match ask.to {
        Some(id) => VmId::new(id).map_err(|e| BackupError::refused(e.to_string()))?,
        None => px.next_vmid(None).map_err(api("GET /cluster/nextid"))?,
    };
    let existing = find(&vms, target.get());
    if let Some(v) = existing {
        let name = v
            .name
            .as_deref()
            .map(|n| format!(" '{n}'"))
            .unwrap_or_default();
        if !ask.force {
            return Err(BackupError::refused(format!(
                "VM {target}{name} exists on node {}: restoring over it replaces its disks and \
                 configuration. Leave out --to to restore to a new VM id, or give --force \
                 (with the VM stopped) to replace it.",
                v.node
            )));
        }
        if v.status != "stopped" {
            return Err(BackupError::refused(format!(
                "VM {target}{name} is {}: it is only replaced while stopped. Stop it \
                 (`qm shutdown {target}`), then run the restore again.",
                v.status
            )));
        }
        if v.node != node.as_str() {
            return Err(BackupError::refused(format!(
                "VM {target}{name} is on node {}: run the restore there.",
                v.node
            )));
        }
    }
    // Beside the original (still there), new MAC addresses; in its place
    // or when it is gone, the ones it had (DHCP reservations still fit).
    let unique = target.get() != ask.vm && find(&vms, ask.vm).is_some();
    line(&format!("restoring {from} to VM {target} on {node}"));
    let upid = px
        .restore_vm(
            &node,
            &RestoreVm {
                vmid: target,
                archive: from.clone(),
                force: existing.is_some(),
                unique,
            },
        )
        .map_err(|e| match e.refusal() {
            Some(why) => BackupError::refused(format!("Proxmox refused the restore: {why}")),
            None => api(&format!("POST /nodes/{node}/qemu"))(e),
        })?;
    let exitstatus = wait_task(px, &node, &upid, w, line)?;
    if exitstatus != "OK" {
        return Err(BackupError::Failed(format!(
            "the restore task {upid} ended with '{exitstatus}'; `pvenode task log {upid}` shows why"
        )));
    }
    Ok(RestoredVm {
        from,
        vmid: target.get(),
        node: node.to_string(),
    })
}

fn listing(items: &[StorageItem]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(|b| b.volid.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

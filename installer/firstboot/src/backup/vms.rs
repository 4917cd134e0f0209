//! The VMs' backups on the Proxmox Backup Server, decided from data: the
//! storage, the backup jobs, the guests, the backups the storage lists and
//! the nodes' vzdump tasks, all passed in.
//!
//! A guest is overdue when its newest backup is older than twice the
//! period of the job that writes to the storage (one missed night is
//! tolerated, two are not), when it has none, or when the last backup run
//! that covered it failed and left no backup of it.

use std::fmt::Write as _;

use serde::Serialize;
use tappaas_proxmox::client::{BackupJobInfo, ClusterVm, StorageItem, TaskInfo};

use super::{human_age, OVERDUE_PERIODS};

const DAY: u64 = 86_400;

/// The backup job and what it means for the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmBackups {
    /// The `pbs` storage the backups are on; `None`: no backup server is
    /// registered (not an error: it is an optional service).
    pub storage: Option<String>,
    /// The enabled job that writes to the storage.
    pub job: Option<Job>,
    /// A guest is overdue once its newest backup is older than this.
    pub overdue_after_seconds: u64,
    /// What is wrong with the whole (no job, Proxmox did not answer).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: String,
    pub schedule: String,
    /// The job's period as read from its schedule; `None`: not a schedule
    /// TAPPaaS writes (it is checked as a daily one).
    pub period_seconds: Option<u64>,
}

/// One guest of the cluster and its last backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestBackup {
    pub vmid: u32,
    pub name: Option<String>,
    pub node: String,
    /// The job backs it up (its `included_volumes` list it).
    pub covered: bool,
    pub last_backup: Option<LastBackup>,
    pub last_task: Option<LastTask>,
    pub overdue: bool,
    /// Why it is overdue, in words.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastBackup {
    /// `STORAGE:backup/vm/ID/TIME`: what `backup restore --backup` takes.
    pub volid: String,
    pub created: i64,
    pub age_seconds: u64,
    /// Bytes; `None` when the storage does not say.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastTask {
    pub upid: String,
    pub started: i64,
    /// What Proxmox says: `OK`, `WARNINGS: n`, `job errors`, an error,
    /// `RUNNING`.
    pub status: String,
    /// `ok`, `failed` (for this guest: no backup of it came from the run)
    /// or `running`.
    pub result: String,
}

/// What Proxmox was asked, for [`evaluate`].
pub struct Facts<'a> {
    pub storage: &'a str,
    pub jobs: &'a [BackupJobInfo],
    /// The guests each job covers, by job id.
    pub covered: &'a dyn Fn(&str) -> Vec<u32>,
    pub guests: &'a [ClusterVm],
    pub backups: &'a [StorageItem],
    /// vzdump tasks of every node that answered.
    pub tasks: &'a [TaskInfo],
    pub now: i64,
}

/// The period of a schedule this project writes: `HH:MM` (or
/// `*-*-* HH:MM`) is daily, `DAY HH:MM` (one weekday) weekly. Any other
/// calendar event is `None`.
pub fn schedule_period(schedule: &str) -> Option<u64> {
    let is_time = |t: &str| {
        t.split_once(':').is_some_and(|(h, m)| {
            h.parse::<u8>().is_ok_and(|h| h < 24)
                && m.len() == 2
                && m.parse::<u8>().is_ok_and(|m| m < 60)
        })
    };
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    match schedule.split_whitespace().collect::<Vec<_>>().as_slice() {
        [t] if is_time(t) => Some(DAY),
        ["*-*-*", t] if is_time(t) => Some(DAY),
        [d, t] if days.contains(&d.to_ascii_lowercase().as_str()) && is_time(t) => Some(7 * DAY),
        _ => None,
    }
}

/// The job whose status counts: the enabled job writing to `storage`
/// named `preferred`, else the one with the shortest period.
fn pick_job<'a>(
    jobs: &'a [BackupJobInfo],
    storage: &str,
    preferred: &str,
) -> Option<&'a BackupJobInfo> {
    let mine: Vec<&BackupJobInfo> = jobs
        .iter()
        .filter(|j| j.enabled && j.storage.as_deref() == Some(storage))
        .collect();
    mine.iter()
        .find(|j| j.id == preferred)
        .or_else(|| {
            mine.iter().min_by_key(|j| {
                j.schedule
                    .as_deref()
                    .and_then(schedule_period)
                    .unwrap_or(DAY)
            })
        })
        .copied()
}

/// When no backup server storage is registered.
pub fn no_storage() -> VmBackups {
    VmBackups {
        storage: None,
        job: None,
        overdue_after_seconds: OVERDUE_PERIODS * DAY,
        problem: None,
    }
}

/// When Proxmox could not be asked: the status cannot tell.
pub fn unknown(why: String) -> VmBackups {
    VmBackups {
        problem: Some(format!("could not ask Proxmox about the VM backups: {why}")),
        ..no_storage()
    }
}

/// The VM part of the status; `preferred` is the job first boot makes.
pub fn evaluate(f: &Facts<'_>, preferred: &str) -> (VmBackups, Vec<GuestBackup>) {
    let job = pick_job(f.jobs, f.storage, preferred);
    let period = job
        .and_then(|j| j.schedule.as_deref())
        .and_then(schedule_period);
    let limit = OVERDUE_PERIODS * period.unwrap_or(DAY);
    let covered = job.map(|j| (f.covered)(&j.id)).unwrap_or_default();
    let mut guests: Vec<GuestBackup> = f
        .guests
        .iter()
        .map(|g| guest(f, g, covered.contains(&g.vmid.get()), limit))
        .collect();
    guests.sort_by_key(|g| g.vmid);
    let problem = job.is_none().then(|| {
        format!(
            "no enabled backup job writes to storage '{}': no VM is backed up on a schedule",
            f.storage
        )
    });
    (
        VmBackups {
            storage: Some(f.storage.to_string()),
            job: job.map(|j| Job {
                id: j.id.clone(),
                schedule: j.schedule.clone().unwrap_or_default(),
                period_seconds: period,
            }),
            overdue_after_seconds: limit,
            problem,
        },
        guests,
    )
}

fn guest(f: &Facts<'_>, g: &ClusterVm, covered: bool, limit: u64) -> GuestBackup {
    let vmid = g.vmid.get();
    let age = |t: i64| u64::try_from(f.now - t).unwrap_or(0);
    let last_backup = f
        .backups
        .iter()
        .filter(|b| b.vmid == Some(vmid))
        .filter_map(|b| b.ctime.map(|t| (t, b)))
        .max_by_key(|(t, _)| *t)
        .map(|(t, b)| LastBackup {
            volid: b.volid.clone(),
            created: t,
            age_seconds: age(t),
            // pve-storage shows 1 for a backup whose size PBS did not say.
            size: (b.size > 1).then_some(b.size),
        });
    // A run of one guest has its id; a run of a whole node (the job's)
    // has none and covers every guest there.
    let last_task = f
        .tasks
        .iter()
        .filter(|t| t.node == g.node && (t.id.is_empty() || t.id == vmid.to_string()))
        .max_by_key(|t| (t.starttime, t.upid.clone()))
        .map(|t| {
            let status = t.status.clone().unwrap_or_else(|| "RUNNING".into());
            let succeeded = status == "OK" || status.starts_with("WARNINGS");
            let backed_up_since = last_backup
                .as_ref()
                .is_some_and(|b| b.created >= t.starttime);
            let result = if t.running() {
                "running"
            } else if succeeded || backed_up_since {
                "ok"
            } else {
                "failed"
            };
            LastTask {
                upid: t.upid.clone(),
                started: t.starttime,
                status,
                result: result.into(),
            }
        });
    let problem = if !covered {
        None
    } else if let Some(t) = last_task.as_ref().filter(|t| t.result == "failed") {
        Some(format!(
            "the last backup run ({}) ended with '{}'",
            t.upid, t.status
        ))
    } else {
        match &last_backup {
            None => Some("no backup yet".to_string()),
            Some(b) if b.age_seconds > limit => Some(format!(
                "the newest backup is {} old, more than {}",
                human_age(b.age_seconds),
                human_age(limit)
            )),
            Some(_) => None,
        }
    };
    GuestBackup {
        vmid,
        name: g.name.clone(),
        node: g.node.clone(),
        covered,
        last_backup,
        last_task,
        overdue: problem.is_some(),
        problem,
    }
}

/// `1.2 GiB`, `300 MiB`: a size as the status shows it.
fn human_size(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.0} MiB", (b / MIB).max(1.0))
    }
}

/// The VM part of the status as text.
pub fn render(v: &VmBackups, guests: &[GuestBackup]) -> String {
    let mut out = String::new();
    let Some(storage) = &v.storage else {
        if let Some(p) = &v.problem {
            let _ = writeln!(out, "VM backups: PROBLEM: {p}");
            return out;
        }
        let _ = writeln!(
            out,
            "VM backups: no Proxmox Backup Server storage is registered, so the VMs are not \
             backed up. Deploy the backup server to get them: \
             `tappaas-installer services deploy backup-server`."
        );
        return out;
    };
    match &v.job {
        Some(j) => {
            let how = match j.period_seconds {
                Some(_) => String::new(),
                None => " (not a schedule TAPPaaS writes: checked as daily)".into(),
            };
            let _ = writeln!(
                out,
                "VM backups to {storage} by job '{}' at {}{how}",
                j.id, j.schedule
            );
        }
        None => {
            let _ = writeln!(out, "VM backups to {storage}");
        }
    }
    if let Some(p) = &v.problem {
        let _ = writeln!(out, "  PROBLEM: {p}");
    }
    for g in guests {
        let name = g
            .name
            .as_deref()
            .map(|n| format!(" '{n}'"))
            .unwrap_or_default();
        let state = match (&g.problem, g.covered) {
            (Some(p), _) => format!("OVERDUE: {p}"),
            (None, false) => "not in the backup job".into(),
            (None, true) => "ok".into(),
        };
        let _ = writeln!(out, "VM {}{name} on {}: {state}", g.vmid, g.node);
        match &g.last_backup {
            Some(b) => {
                let size = b
                    .size
                    .map(|s| format!(", {}", human_size(s)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  last backup {} ({} ago{size})",
                    b.volid,
                    human_age(b.age_seconds)
                );
            }
            None => {
                let _ = writeln!(out, "  no backup on {storage}");
            }
        }
        if let Some(t) = &g.last_task {
            let _ = writeln!(out, "  last backup run: {} ({})", t.status, t.result);
        }
    }
    if guests.iter().any(|g| g.overdue) {
        let _ = writeln!(
            out,
            "Overdue: no good backup within {OVERDUE_PERIODS} times the job's period. \
             `tappaas-installer backup run` backs every VM up now; the failed run's log is \
             `pvenode task log UPID`."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_of_the_schedules_tappaas_writes() {
        assert_eq!(schedule_period("02:30"), Some(DAY));
        assert_eq!(schedule_period("2:30"), Some(DAY));
        assert_eq!(schedule_period("*-*-* 02:30"), Some(DAY));
        assert_eq!(schedule_period("sun 05:00"), Some(7 * DAY));
        // Calendar events TAPPaaS does not write: checked as daily.
        for other in [
            "mon..fri 02:30",
            "*/4:00",
            "hourly",
            "25:00",
            "sun,wed 01:00",
            "",
        ] {
            assert_eq!(schedule_period(other), None, "{other}");
        }
    }
}

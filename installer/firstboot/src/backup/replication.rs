//! `backup replicate`: this node's tank1 copied by syncoid to another
//! node's tank2 (`tank2/replica/<this node>/tank1`), and what `backup
//! status` says about it. docs/backup.md, "Replication across nodes".
//!
//! Who sends to whom is a pure function of the cluster's members (each
//! published a [`Member`] record at first boot): the next node by number
//! that has a tank2, unless the answer named a target. Each run's outcome
//! is kept in a root-only state file, so a target that was down shows as
//! lagging until a later run reaches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tappaas_answer::ReplicationTarget;
use tappaas_effects::Effects;
use tappaas_plan::{ReplicationPlan, REPLICATION_CONF, REPLICA_ROOT};

use super::status::human_age;
use super::{run_checked, BackupError};

/// The dataset every node copies.
pub const SOURCE: &str = "tank1";
/// How long ssh waits for a target to answer: a node that is down fails
/// its run after this, not after the copy's limit.
pub const CONNECT_TIMEOUT_SECONDS: u32 = 10;
/// One target's copy, however large: the next run resumes it.
pub const COPY_LIMIT: Duration = Duration::from_secs(6 * 3600);
/// How many schedule periods may pass without a copy before a target is
/// overdue.
pub const OVERDUE_PERIODS: u64 = 2;

/// Where replication finds things on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationPaths {
    /// The job's settings, written by the install.
    pub conf: PathBuf,
    /// This job's private key (its `.pub` beside it).
    pub key: PathBuf,
    /// The cluster-wide folder (pmxcfs, root-only) where each node
    /// publishes its [`Member`] record.
    pub members: PathBuf,
    /// The other nodes' restricted keys, read by sshd.
    pub authorized_keys: PathBuf,
    /// The outcome of each target's last runs.
    pub state: PathBuf,
    /// The install's plan: this node's name, number and address.
    pub plan: PathBuf,
}

impl ReplicationPaths {
    pub fn node() -> ReplicationPaths {
        ReplicationPaths::under(Path::new("/"))
    }

    pub fn under(root: &Path) -> ReplicationPaths {
        let rel = |p: &str| root.join(p.trim_start_matches('/'));
        ReplicationPaths {
            conf: rel(REPLICATION_CONF),
            key: rel("/root/.ssh/tappaas-replication"),
            members: rel("/etc/pve/priv/tappaas-replication"),
            authorized_keys: rel("/etc/tappaas/replication-authorized-keys"),
            state: rel("/var/lib/tappaas/replication-state.json"),
            plan: rel("/etc/tappaas/plan.json"),
        }
    }
}

/// A node of the cluster as it published itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Member {
    pub number: u8,
    pub hostname: String,
    /// Its management address; `None`: reached by its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// It has a tank2 and takes the others' replicas.
    pub receives: bool,
    /// Its replication public key (`ssh-ed25519 AAAA... comment`).
    pub key: String,
}

impl Member {
    /// The dataset on a target that holds `source`'s tank1.
    pub fn replica_dataset(&self) -> String {
        format!("{REPLICA_ROOT}/{}/{SOURCE}", self.hostname)
    }

    /// How ssh reaches it.
    pub fn ssh_host(&self) -> &str {
        self.address.as_deref().unwrap_or(&self.hostname)
    }
}

/// Where this node's tank1 goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    To(Member),
    /// Nothing to do, and why (a single node, no node with a tank2, the
    /// named target not in the cluster).
    Nowhere(String),
}

/// Which node receives `me`'s tank1: the one `target` names, else the
/// next member by number that receives (a ring).
pub fn assign(members: &[Member], me: u8, target: Option<&ReplicationTarget>) -> Assignment {
    let mut sorted: Vec<&Member> = members.iter().collect();
    sorted.sort_by_key(|m| m.number);
    sorted.dedup_by_key(|m| m.number);
    if let Some(target) = target {
        let found = sorted.iter().find(|m| match target {
            ReplicationTarget::Number(n) => m.number == *n,
            ReplicationTarget::Name(name) => m.hostname.eq_ignore_ascii_case(name),
        });
        return match found {
            Some(m) if m.number == me => {
                Assignment::Nowhere(format!("the target {target} is this node itself"))
            }
            Some(m) => Assignment::To((*m).clone()),
            None => Assignment::Nowhere(format!(
                "the target {target} has not joined the cluster (no record in the members folder)"
            )),
        };
    }
    let Some(at) = sorted.iter().position(|m| m.number == me) else {
        return Assignment::Nowhere(format!("node {me} has not published its record yet"));
    };
    if sorted.len() == 1 {
        return Assignment::Nowhere("a single-node cluster: no other node to copy to".into());
    }
    (1..sorted.len())
        .map(|i| sorted[(at + i) % sorted.len()])
        .find(|m| m.receives)
        .map_or_else(
            || Assignment::Nowhere("no other node of the cluster has a tank2".into()),
            |m| Assignment::To(m.clone()),
        )
}

/// syncoid's arguments for copying `me`'s tank1 to `target` with `key`.
///
/// `--no-sync-snap`: send sanoid's own snapshots, take none of syncoid's
/// (nothing to prune on either side). `--no-rollback`: no `-F` on the
/// receive, so a target is never rolled back (nothing changes there: the
/// replicas are not mounted). `--recvoptions=u o canmount=off`: a replica
/// is never mounted on the target. No `--force-delete`: a target without
/// a common snapshot fails loudly instead of being destroyed.
/// `--compress=zstd-fast` names the one helper the receiving side's
/// guard lets through. The key is a file path, never key material.
pub fn syncoid_args(me: &Member, target: &Member, key: &Path) -> Vec<String> {
    vec![
        "--recursive".into(),
        "--no-sync-snap".into(),
        "--no-rollback".into(),
        "--compress=zstd-fast".into(),
        "--recvoptions=u o canmount=off".into(),
        format!("--sshkey={}", key.display()),
        format!("--sshoption=ConnectTimeout={CONNECT_TIMEOUT_SECONDS}"),
        "--sshoption=BatchMode=yes".into(),
        "--sshoption=StrictHostKeyChecking=accept-new".into(),
        SOURCE.into(),
        format!("root@{}:{}", target.ssh_host(), me.replica_dataset()),
    ]
}

/// What is remembered of one target between runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetState {
    pub dataset: String,
    /// When a copy last succeeded (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<i64>,
    /// When the job last tried.
    pub last_attempt: i64,
    /// Why the last attempt failed; `None` after a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The state file: per target hostname, and what the last run decided.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReplicationState {
    #[serde(default)]
    pub targets: BTreeMap<String, TargetState>,
    /// Why the last run copied nothing, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
}

/// The job's settings, as the install wrote them (`None`: replication is
/// off, the file does not exist).
pub fn load_conf(paths: &ReplicationPaths) -> Result<Option<ReplicationPlan>, BackupError> {
    match std::fs::read_to_string(&paths.conf) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            BackupError::Failed(format!(
                "{}: {e}; the file is written by the install",
                paths.conf.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BackupError::Failed(format!(
            "{}: {e}",
            paths.conf.display()
        ))),
    }
}

/// The state file; absent is empty (no run yet).
pub fn load_state(paths: &ReplicationPaths) -> Result<ReplicationState, BackupError> {
    match std::fs::read_to_string(&paths.state) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| BackupError::Failed(format!("{}: {e}", paths.state.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ReplicationState::default()),
        Err(e) => Err(BackupError::Failed(format!(
            "{}: {e}",
            paths.state.display()
        ))),
    }
}

/// Every member record in the members folder, sorted by number.
pub fn load_members(paths: &ReplicationPaths) -> Result<Vec<Member>, BackupError> {
    let dir = &paths.members;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::Failed(format!("{}: {e}", dir.display()))),
    };
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| BackupError::Failed(format!("{}: {e}", path.display())))?;
        let member: Member = serde_json::from_str(&text).map_err(|e| {
            BackupError::Failed(format!(
                "{}: {e}; remove it, the node rewrites it on its next run",
                path.display()
            ))
        })?;
        members.push(member);
    }
    members.sort_by_key(|m| m.number);
    Ok(members)
}

/// One node's job: its settings, the cluster's members, itself, and the
/// path of its key.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub conf: &'a ReplicationPlan,
    pub members: &'a [Member],
    pub me: &'a Member,
    pub key: &'a Path,
}

/// One run: copy `me`'s tank1 to its target, and the state to keep. A
/// failed copy is recorded, not returned: the caller writes the state
/// either way and says the outcome.
pub fn replicate(
    fx: &mut dyn Effects,
    job: Job<'_>,
    mut state: ReplicationState,
    now: i64,
    line: &mut dyn FnMut(&str),
) -> ReplicationState {
    let Job {
        conf,
        members,
        me,
        key,
    } = job;
    let assigned = if conf.sends {
        assign(members, me.number, conf.target.as_ref())
    } else {
        Assignment::Nowhere("this node has no tank1 to copy".into())
    };
    let target = match assigned {
        Assignment::To(t) => t,
        Assignment::Nowhere(why) => {
            line(&format!("nothing to replicate: {why}"));
            state.idle = Some(why);
            return state;
        }
    };
    state.idle = None;
    let args = syncoid_args(me, &target, key);
    line(&format!(
        "replicating {SOURCE} to {}:{}",
        target.hostname,
        me.replica_dataset()
    ));
    let outcome = run_checked(fx, "syncoid", &args, COPY_LIMIT, line);
    let entry = state.targets.entry(target.hostname.clone()).or_default();
    entry.dataset = me.replica_dataset();
    entry.last_attempt = now;
    match outcome {
        Ok(()) => {
            entry.last_success = Some(now);
            entry.last_error = None;
        }
        Err(e) => entry.last_error = Some(e.to_string()),
    }
    state
}

/// Write the state, root-only, replacing the old file whole.
pub fn save_state(
    fx: &mut dyn Effects,
    paths: &ReplicationPaths,
    state: &ReplicationState,
) -> Result<(), BackupError> {
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| BackupError::Failed(format!("the replication state: {e}")))?;
    fx.write_file(&paths.state, 0o600, format!("{text}\n").as_bytes())
        .map_err(|e| BackupError::Failed(format!("{}: {e}", paths.state.display())))
}

/// One target as `backup status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub dataset: String,
    pub last_success: Option<i64>,
    /// Seconds since the last successful copy (`None`: never).
    pub lag_seconds: Option<u64>,
    pub overdue_after_seconds: u64,
    pub overdue: bool,
    pub last_error: Option<String>,
}

/// Each target of the state at `now`: overdue when its last success is
/// older than twice the schedule's longest gap, or there was none and
/// the first attempt is that old.
pub fn evaluate(conf: &ReplicationPlan, state: &ReplicationState, now: i64) -> Vec<TargetStatus> {
    let limit = OVERDUE_PERIODS * conf.period_seconds;
    state
        .targets
        .iter()
        .map(|(name, t)| {
            let age = |at: i64| u64::try_from(now - at).unwrap_or(0);
            let lag = t.last_success.map(age);
            let overdue = match lag {
                Some(lag) => lag > limit,
                // Never copied: a failure is overdue at once.
                None => t.last_error.is_some(),
            };
            TargetStatus {
                target: name.clone(),
                dataset: t.dataset.clone(),
                last_success: t.last_success,
                lag_seconds: lag,
                overdue_after_seconds: limit,
                overdue,
                last_error: t.last_error.clone(),
            }
        })
        .collect()
}

/// The replication part of `backup status` as text.
pub fn render(
    conf: Option<&ReplicationPlan>,
    state: &ReplicationState,
    rows: &[TargetStatus],
) -> String {
    let Some(conf) = conf else {
        return "Replication: off (backup.replication.enabled = false)\n".into();
    };
    let mut out = format!("Replication of {SOURCE} ({}):\n", conf.schedule);
    if let Some(why) = &state.idle {
        out.push_str(&format!("  nothing to replicate: {why}\n"));
    }
    if rows.is_empty() && state.idle.is_none() {
        out.push_str("  no run yet (tappaas-replication.timer)\n");
    }
    for r in rows {
        let lag = r.lag_seconds.map_or("never copied".to_string(), |l| {
            format!("last copy {} ago", human_age(l))
        });
        let verdict = if r.overdue {
            format!("OVERDUE (more than {})", human_age(r.overdue_after_seconds))
        } else {
            "ok".into()
        };
        out.push_str(&format!(
            "  to {} ({}): {lag}, {verdict}\n",
            r.target, r.dataset
        ));
        if let Some(e) = &r.last_error {
            let first = e.lines().next().unwrap_or("");
            out.push_str(&format!("    last attempt failed: {first}\n"));
            let cause = failure_cause(e, &r.target);
            if cause != first {
                out.push_str(&format!("    cause: {cause}\n"));
            }
        }
    }
    if rows.iter().any(|r| r.overdue) {
        out.push_str(
            "  A target that is down is retried at every run; `journalctl -u tappaas-replication` says why a copy failed.\n",
        );
    }
    out
}

/// Why a copy to `target` failed, in one line: the line of syncoid's
/// output that names the cause (zfs's "cannot ...", ssh's), with what to
/// do where that is known; else the error's first line.
pub fn failure_cause(error: &str, target: &str) -> String {
    let lines: Vec<&str> = error.lines().map(str::trim).collect();
    let telling = lines
        .iter()
        .find(|l| l.starts_with("cannot "))
        .or_else(|| lines.iter().find(|l| l.starts_with("ssh: ")))
        .or_else(|| {
            lines.iter().find(|l| {
                l.contains("Permission denied") || l.contains("Host key verification failed")
            })
        });
    let Some(line) = telling else {
        return lines.first().copied().unwrap_or("").to_string();
    };
    let hint = if line.contains("quota exceeded") || line.contains("out of space") {
        format!(
            "{target}'s tank2 is full: free space there or raise the quota of its tank2/replica; \
             the next run goes on from the last snapshot copied"
        )
    } else if [
        "No route to host",
        "Connection refused",
        "timed out",
        "Could not resolve",
    ]
    .iter()
    .any(|w| line.contains(w))
    {
        format!("{target} cannot be reached: is it on, and its management network up?")
    } else if line.contains("Permission denied") || line.contains("Host key verification") {
        format!(
            "{target} does not trust this node's key yet: it takes the key in at its own next replication run"
        )
    } else {
        return line.to_string();
    };
    format!("{line} ({hint})")
}

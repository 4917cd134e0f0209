//! `backup status` decided from data: the policy, the datasets and
//! snapshots ZFS lists, the timer's state and the time now, all passed in.
//!
//! A dataset is overdue when its newest snapshot is older than twice the
//! smallest period its policy takes snapshots for (one missed run is
//! tolerated, two are not), or when it has no snapshot at all.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::policy::{Period, Policy};
use super::vms::{GuestBackup, VmBackups};
use super::zfs::{Dataset, Snapshot};

// Shared with the VMs' status (`vms`), so they live in the parent.
pub use super::{human_age, OVERDUE_PERIODS};

/// The timer that runs sanoid.
pub const TIMER: &str = "sanoid.timer";

/// Everything `backup status` says; `--json` prints exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The policy file read.
    pub policy: String,
    pub timer: Timer,
    /// The time the ages are counted to (seconds since the epoch).
    pub now: i64,
    pub datasets: Vec<DatasetStatus>,
    /// The VMs' backups on the Proxmox Backup Server (`None`: not asked).
    pub vm_backups: Option<VmBackups>,
    /// Each guest of the cluster and its last backup.
    pub guests: Vec<GuestBackup>,
    /// Some dataset or guest is overdue.
    pub overdue: bool,
    /// Nothing overdue, the timer enabled and the VM backups without a
    /// problem (the exit status is 0).
    pub ok: bool,
    /// The node configuration archive (`backup config`), where its timer
    /// is laid; an overdue archive makes `ok` false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_config: Option<NodeConfigStatus>,
}

impl Status {
    /// The status with the VMs' backups added.
    pub fn with_vms(mut self, vms: VmBackups, guests: Vec<GuestBackup>) -> Status {
        self.overdue |= guests.iter().any(|g| g.overdue);
        self.ok = self.ok && !self.overdue && vms.problem.is_none();
        self.vm_backups = Some(vms);
        self.guests = guests;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timer {
    pub unit: String,
    /// `systemctl is-enabled` said `enabled`.
    pub enabled: bool,
    /// What it said (`enabled`, `disabled`, `not-found`...).
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetStatus {
    pub name: String,
    /// The policy section that decides for it (itself or a recursive
    /// ancestor).
    pub policy_section: String,
    /// ZFS lists it.
    pub exists: bool,
    /// Sanoid takes its snapshots here (`autosnap`).
    pub autosnap: bool,
    /// How many of each period the policy keeps.
    pub keep: BTreeMap<Period, u32>,
    /// How many sanoid snapshots of each period there are.
    pub count: BTreeMap<Period, u32>,
    /// Its newest sanoid snapshot.
    pub newest: Option<Newest>,
    /// Overdue once the newest snapshot is older than this (`None`: not
    /// checked: autosnap is off or no period is kept).
    pub overdue_after_seconds: Option<u64>,
    pub overdue: bool,
    /// Why it is overdue, in words.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Newest {
    /// `dataset@autosnap_...`.
    pub snapshot: String,
    pub created: i64,
    pub age_seconds: u64,
}

/// The status of every dataset the policy covers: each section's dataset
/// (unless `process_children_only`) and, for a recursive section, every
/// descendant ZFS lists.
pub fn evaluate(
    policy: &Policy,
    datasets: &[Dataset],
    snapshots: &[Snapshot],
    timer: Timer,
    now: i64,
) -> Status {
    let mut names: Vec<&str> = policy
        .datasets
        .iter()
        .filter(|d| !d.children_only)
        .map(|d| d.dataset.as_str())
        .collect();
    names.extend(
        datasets
            .iter()
            .map(|d| d.name.as_str())
            .filter(|n| policy.covering(n).is_some()),
    );
    names.sort_unstable();
    names.dedup();
    let rows: Vec<DatasetStatus> = names
        .into_iter()
        .filter_map(|name| {
            let section = policy.covering(name)?;
            let keep: BTreeMap<Period, u32> = section.keep.clone();
            let mut count: BTreeMap<Period, u32> = Period::ALL.iter().map(|p| (*p, 0)).collect();
            let mut newest: Option<&Snapshot> = None;
            for s in snapshots.iter().filter(|s| s.dataset == name) {
                let Some(period) = s.period else { continue };
                *count.entry(period).or_default() += 1;
                if newest.is_none_or(|n| s.created > n.created) {
                    newest = Some(s);
                }
            }
            let exists = datasets.iter().any(|d| d.name == name);
            let limit = section
                .smallest_period()
                .map(|p| OVERDUE_PERIODS * p.seconds(section.frequent_minutes));
            let newest = newest.map(|s| Newest {
                snapshot: s.full_name(),
                created: s.created,
                age_seconds: u64::try_from(now - s.created).unwrap_or(0),
            });
            let problem = match (&newest, limit) {
                (_, None) => None,
                _ if !exists => Some("the dataset does not exist".to_string()),
                (None, Some(_)) => Some("no snapshot yet".to_string()),
                (Some(n), Some(limit)) if n.age_seconds > limit => Some(format!(
                    "the newest snapshot is {} old, more than {}",
                    human_age(n.age_seconds),
                    human_age(limit)
                )),
                _ => None,
            };
            Some(DatasetStatus {
                name: name.to_string(),
                policy_section: section.dataset.clone(),
                exists,
                autosnap: section.autosnap,
                keep,
                count,
                newest,
                overdue_after_seconds: limit,
                overdue: problem.is_some(),
                problem,
            })
        })
        .collect();
    let overdue = rows.iter().any(|d| d.overdue);
    Status {
        policy: policy.file.display().to_string(),
        ok: !overdue && timer.enabled,
        timer,
        now,
        datasets: rows,
        vm_backups: None,
        guests: Vec::new(),
        overdue,
        node_config: None,
    }
}

/// The status as text: the timer, then one block per dataset.
pub fn render_status(s: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Snapshots by sanoid, policy {}; {}: {}",
        s.policy,
        s.timer.unit,
        if s.timer.enabled {
            "enabled".to_string()
        } else {
            format!("NOT ENABLED ({})", s.timer.state)
        }
    );
    for d in &s.datasets {
        let state = match (&d.problem, d.overdue_after_seconds) {
            (Some(p), _) => format!("OVERDUE: {p}"),
            (None, None) if !d.autosnap => "not snapshotted here (autosnap = no)".into(),
            (None, None) => "no period is kept".into(),
            (None, Some(_)) => "ok".into(),
        };
        let _ = writeln!(out, "{}: {state}", d.name);
        match &d.newest {
            Some(n) => {
                let _ = writeln!(
                    out,
                    "  newest {} ({} ago)",
                    n.snapshot,
                    human_age(n.age_seconds)
                );
            }
            None => {
                let _ = writeln!(out, "  no snapshot by sanoid");
            }
        }
        let counts: Vec<String> = Period::ALL
            .iter()
            .filter(|p| d.keep.get(p).copied().unwrap_or(0) > 0 || d.count[p] > 0)
            .map(|p| format!("{p} {}/{}", d.count[p], d.keep.get(p).copied().unwrap_or(0)))
            .collect();
        if !counts.is_empty() {
            let _ = writeln!(out, "  snapshots (have/keep): {}", counts.join(", "));
        }
    }
    if let Some(n) = &s.node_config {
        out.push_str(&render_node_config(n));
    }
    if !s.timer.enabled {
        let _ = writeln!(
            out,
            "No snapshot is taken while {} is not enabled: `systemctl enable --now {}`.",
            s.timer.unit, s.timer.unit
        );
    }
    if s.datasets.iter().any(|d| d.overdue) {
        let _ = writeln!(
            out,
            "Overdue: no snapshot within {OVERDUE_PERIODS} times its shortest period. \
             `tappaas-installer backup run` takes them now; `journalctl -u sanoid` says why they failed."
        );
    }
    if let Some(v) = &s.vm_backups {
        out.push_str(&super::vms::render(v, &s.guests));
    }
    out
}

/// The node configuration archive's state (`backup config`, made in
/// [`super::node_config`]) as `backup status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeConfigStatus {
    /// The timer that makes it.
    pub timer: String,
    pub dataset: Option<String>,
    /// The newest archive (its path on the node).
    pub newest: Option<String>,
    pub age_seconds: Option<u64>,
    /// How many archives there are.
    pub count: usize,
    pub overdue_after_seconds: u64,
    pub overdue: bool,
    pub problem: Option<String>,
}

/// The archive's lines of `backup status`.
pub fn render_node_config(s: &NodeConfigStatus) -> String {
    let mut out = format!(
        "Node configuration archive ({}, daily): {}\n",
        s.timer,
        match &s.problem {
            Some(p) => format!("OVERDUE: {p}"),
            None => "ok".to_string(),
        }
    );
    if let (Some(n), Some(age)) = (&s.newest, s.age_seconds) {
        out.push_str(&format!(
            "  newest {n} ({} ago), {} kept here\n",
            human_age(age),
            s.count
        ));
    }
    if s.overdue {
        let unit = tappaas_plan::NODE_CONFIG_SERVICE.trim_end_matches(".service");
        out.push_str(&format!(
            "  `tappaas-installer backup config` makes one now; `journalctl -u {unit}` says why it failed.\n"
        ));
    }
    out
}

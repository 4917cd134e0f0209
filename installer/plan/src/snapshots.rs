//! The node's snapshot policy (the answer's `[backup]`): which datasets
//! sanoid snapshots with which retention, and its configuration file.
//! `tappaas-installer backup status` reads that file back, so it keeps
//! sanoid's own format: `[template_NAME]` sections with the retention, and
//! one `[pool/dataset]` section per covered dataset with `use_template` and
//! `recursive = yes`.

use serde::{Deserialize, Serialize};
use tappaas_answer::{Answer, Retention};

use crate::{Plan, PoolPlan};

/// sanoid's configuration on the node.
pub const SANOID_CONF: &str = "/etc/sanoid/sanoid.conf";
/// The unit that runs sanoid every 15 minutes (shipped by its package).
pub const SANOID_TIMER: &str = "sanoid.timer";

/// What sanoid snapshots on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotPolicy {
    /// Only templates that cover a dataset of this node.
    pub templates: Vec<SnapshotTemplate>,
}

/// One retention and the datasets (each with its children) it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotTemplate {
    /// The answer's table (`data`, `tank2`); sanoid's `template_NAME`.
    pub name: String,
    pub retention: Retention,
    pub datasets: Vec<String>,
    /// sanoid takes snapshots here; `false` for the replicas, which get
    /// theirs from the source node and are only pruned here.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub autosnap: bool,
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// The policy for the pools the plan has; `None` with `snapshots = false`.
pub(crate) fn plan_snapshots(answer: &Answer, pools: &[PoolPlan]) -> Option<SnapshotPolicy> {
    let backup = &answer.backup;
    if !backup.snapshots {
        return None;
    }
    let has = |name: &str| pools.iter().any(|p| p.name == name);
    let mut data = Vec::new();
    if has("rpool") {
        data.extend(["rpool/ROOT".to_string(), "rpool/data".to_string()]);
    }
    if has("tank1") {
        data.push("tank1".to_string());
    }
    let tank2 = if has("tank2") {
        vec!["tank2".to_string()]
    } else {
        Vec::new()
    };
    // The other nodes' replicas on tank2 keep their own retention, and
    // sanoid must not snapshot them: a snapshot taken here would stop the
    // next incremental receive.
    let replica = if !tank2.is_empty() && backup.replication.enabled {
        vec![crate::REPLICA_ROOT.to_string()]
    } else {
        Vec::new()
    };
    let templates = [
        ("data", backup.data_retention(), data, true),
        ("tank2", backup.tank2_retention(), tank2, true),
        ("replica", backup.replication.retention(), replica, false),
    ]
    .into_iter()
    .filter(|(_, _, datasets, _)| !datasets.is_empty())
    .map(|(name, retention, datasets, autosnap)| SnapshotTemplate {
        name: name.to_string(),
        retention,
        datasets,
        autosnap,
    })
    .collect();
    Some(SnapshotPolicy { templates })
}

impl SnapshotPolicy {
    /// `/etc/sanoid/sanoid.conf` for this policy.
    pub fn sanoid_conf(&self) -> String {
        let mut out = String::from(
            "# Written by the TAPPaaS installer from the answer's [backup] section\n\
             # (docs/backup.md). sanoid.timer runs sanoid every 15 minutes: it takes\n\
             # the snapshots below and prunes those older than the retention keeps.\n",
        );
        for t in &self.templates {
            for ds in &t.datasets {
                out.push_str(&format!(
                    "\n[{ds}]\n\tuse_template = {}\n\trecursive = yes\n",
                    t.name
                ));
            }
        }
        for t in &self.templates {
            out.push_str(&format!("\n[template_{}]\n", t.name));
            for (period, count) in t.retention.periods() {
                out.push_str(&format!("\t{period} = {count}\n"));
            }
            let autosnap = if t.autosnap { "yes" } else { "no" };
            out.push_str(&format!("\tautosnap = {autosnap}\n\tautoprune = yes\n"));
        }
        out
    }
}

impl Plan {
    /// Replication across nodes as people read it (the printed plan).
    pub fn replication_line(&self) -> String {
        format!("replication: {}", self.replication_summary())
    }

    /// Where tank1 is copied and how often, or that it is not (the
    /// printed plan and the first-boot summary).
    pub fn replication_summary(&self) -> String {
        match &self.replication {
            Some(r) => r.summary(),
            None => "off (backup.replication.enabled = false)".to_string(),
        }
    }

    /// The snapshot policy as people read it, one line per template (the
    /// printed plan and the wizard's summary); each dataset is covered with
    /// its children, by sanoid every 15 minutes, except the other nodes'
    /// replicas, which sanoid only prunes.
    pub fn snapshot_lines(&self) -> Vec<String> {
        match &self.snapshots {
            None => vec!["none (backup.snapshots = false)".to_string()],
            Some(p) if p.templates.is_empty() => vec!["none (no pool to cover)".to_string()],
            Some(p) => p
                .templates
                .iter()
                .map(|t| {
                    let whose = if t.autosnap {
                        ""
                    } else {
                        " (other nodes' replicas, pruned only)"
                    };
                    format!("{}{whose}: keep {}", t.datasets.join(", "), t.retention)
                })
                .collect(),
        }
    }
}

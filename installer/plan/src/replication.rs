//! Replication across nodes (the answer's `[backup.replication]`): what
//! the install lays for it. Every node gets the timer that runs
//! `tappaas-installer backup replicate`, the job's settings in
//! [`REPLICATION_CONF`], and sshd's drop-in that reads the other nodes'
//! restricted keys. Who sends to whom is decided at run time from the
//! cluster's members (docs/backup.md).

use serde::{Deserialize, Serialize};
use tappaas_answer::{schedule_period, Answer, Cidr, ReplicationTarget, Retention};

use crate::error::Section;
use crate::{Address, FileContent, FileSpec, NetworkPlan, PlanError, PoolPlan};

/// The job's settings on the node, read by `backup replicate`.
pub const REPLICATION_CONF: &str = "/etc/tappaas/replication.json";
pub const REPLICATION_SERVICE: &str = "tappaas-replication.service";
pub const REPLICATION_TIMER: &str = "tappaas-replication.timer";
/// Where the replicas of the other nodes live on a node's tank2.
pub const REPLICA_ROOT: &str = "tank2/replica";

const SERVICE_TEXT: &str =
    include_str!("../../../overlays/node/etc/systemd/system/tappaas-replication.service");
const SSHD_DROP_IN_TEXT: &str =
    include_str!("../../../overlays/node/etc/ssh/sshd_config.d/tappaas-replication.conf");
const SSHD_DROP_IN: &str = "/etc/ssh/sshd_config.d/tappaas-replication.conf";

/// The job's settings, as written to [`REPLICATION_CONF`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReplicationPlan {
    /// systemd OnCalendar expression.
    pub schedule: String,
    /// The longest time between two runs; a target is overdue after
    /// twice this.
    pub period_seconds: u64,
    /// How many copied snapshots a target keeps (its sanoid.conf).
    pub retention: Retention,
    /// The answer's target; `None`: the next node by number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ReplicationTarget>,
    /// This node has a tank1 to copy.
    pub sends: bool,
    /// This node has a tank2 and takes the other nodes' replicas.
    pub receives: bool,
    /// The management network the other nodes' keys are accepted from
    /// (`None`: the address comes from DHCP; each key is then accepted
    /// from its node's own address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Cidr>,
}

/// The job for this node; `None` with `enabled = false` or an invalid
/// schedule (validation has said so). A node without tank2 receives no
/// replicas; an answer that asks for replication in so many words is
/// refused on such a node, since the ring expects every node to receive.
pub(crate) fn plan_replication(
    answer: &Answer,
    pools: &[PoolPlan],
    network: &NetworkPlan,
    errors: &mut Vec<PlanError>,
) -> Option<ReplicationPlan> {
    let rep = &answer.backup.replication;
    if !rep.enabled {
        return None;
    }
    let receives = pools.iter().any(|p| p.name == "tank2");
    if !receives && !rep.is_default() {
        errors.push(PlanError::at(
            Section::Backup,
            "[backup.replication] is set, but this node has no tank2 to receive the other nodes' replicas",
            "give the node a tank2 ([tank2], or boot-remainder = true), or set backup.replication.enabled = false",
        ));
    }
    let period_seconds = schedule_period(&rep.schedule).ok()?;
    Some(ReplicationPlan {
        schedule: rep.schedule.clone(),
        period_seconds,
        retention: rep.retention(),
        target: rep.target.clone(),
        sends: pools.iter().any(|p| p.name == "tank1"),
        receives,
        allow_from: match &network.address {
            Address::Static(cidr) => Some(cidr.network()),
            Address::FromDhcp => None,
        },
    })
}

impl ReplicationPlan {
    /// The timer: the answer's schedule; a run missed while the node was
    /// off is made up at boot.
    pub fn timer_unit(&self) -> String {
        format!(
            "[Unit]\nDescription=TAPPaaS: replicate tank1 to another node ({})\n\n\
             [Timer]\nOnCalendar={}\nPersistent=true\nRandomizedDelaySec=120\n\n\
             [Install]\nWantedBy=timers.target\n",
            self.schedule, self.schedule
        )
    }

    /// The files the install writes for it.
    pub(crate) fn files(&self) -> Vec<FileSpec> {
        let text = |path: &str, mode: &str, content: String| FileSpec {
            path: path.into(),
            mode: mode.into(),
            content: FileContent::Text(content),
        };
        // The plan serialises; a failure here is a bug, shown in the file.
        let conf = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        vec![
            text(REPLICATION_CONF, "0600", format!("{conf}\n")),
            text(
                &format!("/etc/systemd/system/{REPLICATION_SERVICE}"),
                "0644",
                SERVICE_TEXT.to_string(),
            ),
            text(
                &format!("/etc/systemd/system/{REPLICATION_TIMER}"),
                "0644",
                self.timer_unit(),
            ),
            text(SSHD_DROP_IN, "0644", SSHD_DROP_IN_TEXT.to_string()),
        ]
    }

    /// As people read it (the printed plan and the wizard's summary).
    pub fn summary(&self) -> String {
        format!(
            "{} ({}), target keeps {}{}",
            match (&self.target, self.sends) {
                (_, false) => "no tank1 to copy".to_string(),
                (Some(t), true) => format!("tank1 to {t}'s tank2"),
                (None, true) => "tank1 to the next node's tank2".to_string(),
            },
            self.schedule,
            self.retention,
            if self.receives {
                "; this node's tank2 receives the others' replicas"
            } else {
                "; this node has no tank2 and receives none"
            }
        )
    }
}

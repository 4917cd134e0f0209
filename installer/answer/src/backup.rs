//! `[backup]`: the node's snapshot policy (sanoid) and replication across
//! nodes, see docs/backup.md.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Backup {
    /// Snapshots of rpool/ROOT, rpool/data, tank1 and tank2, taken and
    /// pruned by sanoid's timer. `false`: no policy is installed.
    #[serde(default = "Backup::default_snapshots")]
    pub snapshots: bool,
    /// Retention of rpool/ROOT, rpool/data and tank1 (`[backup.data]`).
    #[serde(default, skip_serializing_if = "RetentionKeys::is_empty")]
    pub data: RetentionKeys,
    /// Retention of tank2, the pool without redundancy that holds copies
    /// (`[backup.tank2]`).
    #[serde(default, skip_serializing_if = "RetentionKeys::is_empty")]
    pub tank2: RetentionKeys,
    /// tank1 copied to another node's tank2 (`[backup.replication]`).
    #[serde(default, skip_serializing_if = "Replication::is_default")]
    pub replication: Replication,
}

impl Backup {
    fn default_snapshots() -> bool {
        true
    }

    pub fn is_default(&self) -> bool {
        *self == Backup::default()
    }

    /// `[backup.data]` with its defaults filled in.
    pub fn data_retention(&self) -> Retention {
        self.data.or(Retention::DATA_DEFAULT)
    }

    /// `[backup.tank2]` with its defaults filled in.
    pub fn tank2_retention(&self) -> Retention {
        self.tank2.or(Retention::TANK2_DEFAULT)
    }
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            snapshots: true,
            data: RetentionKeys::default(),
            tank2: RetentionKeys::default(),
            replication: Replication::default(),
        }
    }
}

/// How many snapshots of each period are kept, in sanoid's names (a
/// frequent snapshot is taken every 15 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Retention {
    pub frequently: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Retention {
    /// The node's own data: an hour of quarter-hours, a day of hours, a
    /// month of days, two months of weeks, a year of months.
    pub const DATA_DEFAULT: Retention = Retention {
        frequently: 4,
        hourly: 24,
        daily: 30,
        weekly: 8,
        monthly: 12,
    };

    /// tank2 holds copies (backups, replicas) that carry their own
    /// history: a week of days and a month of weeks guard against a
    /// mistaken delete without doubling what the copies take.
    pub const TANK2_DEFAULT: Retention = Retention {
        frequently: 0,
        hourly: 0,
        daily: 7,
        weekly: 4,
        monthly: 0,
    };

    /// Each period with its count, in sanoid's order.
    pub fn periods(&self) -> [(&'static str, u32); 5] {
        [
            ("frequently", self.frequently),
            ("hourly", self.hourly),
            ("daily", self.daily),
            ("weekly", self.weekly),
            ("monthly", self.monthly),
        ]
    }

    /// Whether no period keeps a snapshot.
    pub fn keeps_nothing(&self) -> bool {
        self.periods().iter().all(|(_, n)| *n == 0)
    }
}

impl fmt::Display for Retention {
    /// The periods that keep something: `4 frequently, 24 hourly, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept: Vec<String> = self
            .periods()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        if kept.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&kept.join(", "))
        }
    }
}

/// A retention table as written: a period left out keeps its class's
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RetentionKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequently: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<u32>,
}

impl RetentionKeys {
    pub fn is_empty(&self) -> bool {
        *self == RetentionKeys::default()
    }

    /// These keys over `defaults`.
    pub fn or(&self, defaults: Retention) -> Retention {
        Retention {
            frequently: self.frequently.unwrap_or(defaults.frequently),
            hourly: self.hourly.unwrap_or(defaults.hourly),
            daily: self.daily.unwrap_or(defaults.daily),
            weekly: self.weekly.unwrap_or(defaults.weekly),
            monthly: self.monthly.unwrap_or(defaults.monthly),
        }
    }
}

/// `[backup.replication]`: tank1 of every node copied to another node's
/// tank2 by syncoid on a systemd timer, see docs/backup.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Replication {
    /// Each node's tank1 is copied to another node's tank2.
    #[serde(default = "Replication::default_enabled")]
    pub enabled: bool,
    /// When the copy runs: a systemd OnCalendar expression.
    #[serde(default = "Replication::default_schedule")]
    pub schedule: String,
    /// How many of the copied snapshots the target keeps (sanoid's keys;
    /// `frequently` is not copied often enough to keep).
    #[serde(default, skip_serializing_if = "RetentionKeys::is_empty")]
    pub retention: RetentionKeys,
    /// The node that receives this node's tank1: a hostname or a node
    /// number of the cluster. Absent: the next node by number (a ring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ReplicationTarget>,
}

/// A node of the cluster, by name or by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReplicationTarget {
    Number(u8),
    Name(String),
}

impl std::fmt::Display for ReplicationTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplicationTarget::Number(n) => write!(f, "node {n}"),
            ReplicationTarget::Name(name) => f.write_str(name),
        }
    }
}

impl Replication {
    fn default_enabled() -> bool {
        true
    }

    fn default_schedule() -> String {
        "hourly".into()
    }

    /// The replicas' retention with its defaults filled in.
    pub fn retention(&self) -> Retention {
        self.retention.or(Retention::REPLICA_DEFAULT)
    }

    pub fn is_default(&self) -> bool {
        *self == Replication::default()
    }
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            enabled: true,
            schedule: Replication::default_schedule(),
            retention: RetentionKeys::default(),
            target: None,
        }
    }
}

impl Retention {
    /// Replicas on the target: a day of hours, a month of days, two
    /// months of weeks, a year of months (the source's own periods
    /// without the quarter-hours, which an hourly copy cannot carry).
    pub const REPLICA_DEFAULT: Retention = Retention {
        frequently: 0,
        hourly: 24,
        daily: 30,
        weekly: 8,
        monthly: 12,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_left_out_keeps_its_class_default() {
        let keys = RetentionKeys {
            daily: Some(60),
            ..RetentionKeys::default()
        };
        let data = keys.or(Retention::DATA_DEFAULT);
        assert_eq!((data.daily, data.hourly), (60, 24));
        let tank2 = keys.or(Retention::TANK2_DEFAULT);
        assert_eq!((tank2.daily, tank2.hourly, tank2.weekly), (60, 0, 4));
    }

    #[test]
    fn retention_reads_as_the_periods_it_keeps() {
        assert_eq!(
            Retention::DATA_DEFAULT.to_string(),
            "4 frequently, 24 hourly, 30 daily, 8 weekly, 12 monthly"
        );
        assert_eq!(Retention::TANK2_DEFAULT.to_string(), "7 daily, 4 weekly");
        assert!(!Retention::TANK2_DEFAULT.keeps_nothing());
        assert!(RetentionKeys {
            frequently: Some(0),
            hourly: Some(0),
            daily: Some(0),
            weekly: Some(0),
            monthly: Some(0),
        }
        .or(Retention::DATA_DEFAULT)
        .keeps_nothing());
    }
}

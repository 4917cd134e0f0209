//! `[backup.replication]`: a schedule systemd would refuse (or whose gap
//! between runs cannot be told), a retention that keeps nothing, and a
//! target that is this node itself are refused here, with key and line.

use super::{KeyPath, Rules};
use crate::{schedule_period, Answer, Fqdn, ReplicationTarget};

pub(super) fn replication(r: &mut Rules, a: &Answer) {
    let rep = &a.backup.replication;
    let p = KeyPath::of("backup.replication");
    if let Err(e) = schedule_period(&rep.schedule) {
        r.err(
            p.key("schedule"),
            format!(
                "'{}' is not a schedule: {e} (a systemd OnCalendar expression, docs/backup.md)",
                rep.schedule
            ),
        );
    }
    if rep.retention().keeps_nothing() {
        r.err(
            p.key("retention"),
            "keeps no replica (every period is 0, counting the defaults of the periods left out): keep at least one period, e.g. daily = 7; to copy nothing set backup.replication.enabled = false",
        );
    }
    if let Some(target) = &rep.target {
        let number = a.node.number;
        // The same name the plan gives the node.
        let hostname = match &a.global.fqdn {
            Fqdn::Name(fqdn) => fqdn.split('.').next().unwrap_or(fqdn).to_string(),
            Fqdn::FromDhcp(_) => format!("tappaas{number}"),
        };
        let is_self = match target {
            ReplicationTarget::Number(n) => *n == number,
            ReplicationTarget::Name(name) => name.eq_ignore_ascii_case(&hostname),
        };
        if is_self {
            r.err(
                p.key("target"),
                format!(
                    "{target} is this node itself (node {number}, {hostname}): a copy on the same disks protects nothing; name another node of the cluster, or leave target out for the next node by number"
                ),
            );
        }
        if let ReplicationTarget::Name(name) = target {
            if name.contains('.') || crate::checks::domain(name).is_err() {
                r.err(
                    p.key("target"),
                    format!("'{name}' is not a node name: a hostname (e.g. tappaas2) or a node number (e.g. 2)"),
                );
            }
        }
    }
}

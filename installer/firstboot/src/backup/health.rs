//! The backups' health in a few lines: what `backup status --brief`
//! prints, what `tappaas-installer status` shows under "Backups", and what
//! `tappaas-backup-check.service` logs when it fails (docs/backup.md,
//! "Health check"). Decided from the same facts as `backup status`, so
//! the two never disagree.

use super::replication::{failure_cause, TargetStatus};
use super::status::{human_age, Status};

/// One line per thing that is overdue or failing, each naming what and
/// why; empty when every backup is current.
pub fn problems(status: &Status, replication: &[TargetStatus]) -> Vec<String> {
    let mut out = Vec::new();
    if !status.timer.enabled {
        out.push(format!(
            "{} is not enabled ({}): no snapshot is taken",
            status.timer.unit, status.timer.state
        ));
    }
    for d in &status.datasets {
        if let Some(p) = &d.problem {
            out.push(format!("snapshots of {}: {p}", d.name));
        }
    }
    if let Some(n) = &status.node_config {
        if let Some(p) = n.problem.as_ref().filter(|_| n.overdue) {
            out.push(format!("node configuration archive: {p}"));
        }
    }
    if let Some(p) = status.vm_backups.as_ref().and_then(|v| v.problem.as_ref()) {
        out.push(format!("VM backups: {p}"));
    }
    for g in &status.guests {
        if let Some(p) = &g.problem {
            let name = g
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            out.push(format!("backup of VM {}{name}: {p}", g.vmid));
        }
    }
    for t in replication.iter().filter(|t| t.overdue) {
        let since = match t.lag_seconds {
            Some(lag) => format!("last copy {} ago", human_age(lag)),
            None => "never copied".to_string(),
        };
        let error = t
            .last_error
            .as_deref()
            .map(|e| format!("; last attempt: {}", failure_cause(e, &t.target)))
            .unwrap_or_default();
        out.push(format!(
            "replication to {} ({}): {since}, more than {}{error}",
            t.target,
            t.dataset,
            human_age(t.overdue_after_seconds)
        ));
    }
    out
}

/// `problems` as the brief text: a line saying all is well, or the
/// problems and where to look.
pub fn render_brief(problems: &[String]) -> String {
    if problems.is_empty() {
        return "backups: every snapshot, archive, VM backup and replica is current\n".into();
    }
    let mut s = format!("backups: {} problem(s)\n", problems.len());
    for p in problems {
        s.push_str("  ");
        s.push_str(p);
        s.push('\n');
    }
    s.push_str("  `tappaas-installer backup status` has the details (docs/backup.md)\n");
    s
}

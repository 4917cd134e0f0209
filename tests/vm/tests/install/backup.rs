//! The install test's checks of the node's backups: sanoid's timer and
//! policy, the node configuration archive, `backup status` and its
//! hourly health check, a file restored from a snapshot, pruning.

use std::time::Duration;

use tappaas_answer::Retention;
use tappaas_vmtests::Vm;

use super::{check, repo, run, ANSWER};

/// The snapshot policy the answer asked for, read with the installer's
/// own answer code: (rpool/ROOT, rpool/data and tank1; tank2).
fn snapshot_policy() -> (Retention, Retention) {
    let text = std::fs::read_to_string(repo().join(ANSWER)).expect("the VM answer");
    let answer = tappaas_answer::parse(&text).expect("the VM answer parses");
    (
        answer.backup.data_retention(),
        answer.backup.tank2_retention(),
    )
}

/// sanoid's timer is on, a run as the timer's takes a snapshot of every
/// dataset of the policy, and pruning keeps the counts of the policy.
pub(super) fn check_snapshots(vm: &mut Vm) {
    let (data, tank2) = snapshot_policy();
    check(
        vm,
        "sanoid's timer is enabled",
        "systemctl is-enabled sanoid.timer",
        |o| o.trim() == "enabled",
    );
    check(
        vm,
        "sanoid.conf covers rpool/ROOT, rpool/data, tank1 and tank2, and prunes the replicas tank2 receives",
        "grep '^\\[' /etc/sanoid/sanoid.conf",
        |o| {
            let sections: Vec<&str> = o.lines().map(str::trim).collect();
            // Replication is on by default: tank2/replica, pruned only.
            sections
                == [
                    "[rpool/ROOT]",
                    "[rpool/data]",
                    "[tank1]",
                    "[tank2]",
                    "[tank2/replica]",
                    "[template_data]",
                    "[template_tank2]",
                    "[template_replica]",
                ]
        },
    );
    check(
        vm,
        "the node configuration archive's timer is enabled",
        "systemctl is-enabled tappaas-node-config.timer",
        |o| o.trim() == "enabled",
    );
    // The timers must not run in the middle of these checks, nor while the
    // clock is moved below; runs they started are waited for.
    run(
        vm,
        "systemctl stop sanoid.timer tappaas-node-config.timer; \
         while systemctl is-active -q sanoid.service tappaas-node-config.service; do sleep 1; done",
        Duration::from_secs(300),
    );
    // Before the snapshots: the archive's dataset is made on first use,
    // and `backup status` wants a snapshot of every dataset and an
    // archive.
    check(
        vm,
        "backup config archives the node's configuration, root-only, and says /etc/pve is missing here",
        "tappaas-installer backup config 2>&1; echo \"rc=$?\"; \
         stat -c '%a %U %n' /tank1/tappaas/node-config/tappaas1 \
         /tank1/tappaas/node-config/tappaas1/node-config-tappaas1-*.tar.gz",
        |o| {
            let archive = "/tank1/tappaas/node-config/tappaas1/node-config-tappaas1-";
            // stat's lines of the archives (`archived ... to ARCHIVE (N
            // bytes)` ends otherwise).
            let modes: Vec<&str> = o
                .lines()
                .filter(|l| l.contains(archive) && l.ends_with(".tar.gz"))
                .collect();
            o.contains("rc=0\n")
                && o.contains("/etc/pve is absent or empty")
                && o.contains(&format!(" to {archive}"))
                && o.lines()
                    .any(|l| l == "700 root /tank1/tappaas/node-config/tappaas1")
                && !modes.is_empty()
                && modes.iter().all(|l| l.starts_with("600 root "))
        },
    );
    // Replicas (tank2/replica, once another node sends) get their
    // snapshots from the sending node, not from sanoid here. The timer may
    // already have taken this hour's snapshots of tank1 at boot, before the
    // file below existed, and sanoid takes no second one in the same
    // period: those are dropped, so the run below takes the snapshots the
    // restore must find the file in.
    check(
        vm,
        "sanoid (as its timer runs it) snapshots every dataset of the policy",
        "zfs list -H -t snapshot -o name -d 1 tank1 | xargs -r -n 1 zfs destroy; \
         echo family-photo > /tank1/restore-check.txt && sync; \
         sanoid --take-snapshots --force-update 2>&1 | tail -n 3; \
         for d in $(zfs list -H -o name -r rpool/ROOT rpool/data tank1 tank2 | grep -v '^tank2/replica'); do \
         zfs list -H -t snapshot -o name -d 1 \"$d\" | grep -q \"^$d@autosnap_\" || echo \"no snapshot of $d\"; \
         done; echo checked",
        |o| o.trim_end().ends_with("checked") && !o.contains("no snapshot of"),
    );
    check(
        vm,
        "backup status finds nothing overdue",
        "tappaas-installer backup status; echo \"rc=$?\"",
        |o| o.trim_end().ends_with("rc=0"),
    );
    check(
        vm,
        "the hourly health check is enabled and finds every backup current",
        "systemctl is-enabled tappaas-backup-check.timer; \
         systemctl start tappaas-backup-check.service; echo \"rc=$?\"; \
         journalctl -b -u tappaas-backup-check.service --no-pager -o cat | grep '^backups:'",
        |o| {
            o.starts_with("enabled\n")
                && o.contains("rc=0\n")
                && o.contains("backups: every snapshot, archive, VM backup and replica is current")
        },
    );
    // The proof: a file deleted from tank1 comes back from its
    // newest snapshot.
    check(
        vm,
        "a file deleted from tank1 is restored by backup restore",
        "rm /tank1/restore-check.txt && tappaas-installer backup restore --file /tank1/restore-check.txt \
         && echo \"restored: $(cat /tank1/restore-check.txt)\"",
        |o| o.contains("restored: family-photo"),
    );
    // sanoid prunes a snapshot only when there are more of its period than
    // the policy keeps and it is older than they cover: more hourly ones of
    // tank1 than it keeps, then the clock two days on for the pruning.
    let extra = data.hourly + 6;
    run(
        vm,
        &format!(
            "n=$(date +%s); s=; for i in $(seq 1 {extra}); do s=\"$s tank1@autosnap_${{n}}_prunetest${{i}}_hourly\"; done; \
             zfs snapshot $s; \
             date -s @$(( $(date +%s) + 172800 )) >/dev/null; \
             sanoid --prune-snapshots --force-update 2>&1 | tail -n 3; \
             date -s @$(( $(date +%s) - 172800 )) >/dev/null; \
             systemctl start sanoid.timer tappaas-node-config.timer"
        ),
        Duration::from_secs(600),
    );
    let keeps = |dataset: &str, period: &str| {
        let retention = if dataset.starts_with("tank2") {
            tank2
        } else {
            data
        };
        retention
            .periods()
            .iter()
            .find(|(name, _)| *name == period)
            .map(|(_, n)| *n)
    };
    check(
        vm,
        "after pruning, every dataset keeps at most the policy's count of each period, tank1 its newest hourly one at least",
        "zfs list -H -t snapshot -o name | sed -n 's/^\\([^@]*\\)@autosnap_.*_\\([a-z]*ly\\)$/\\1 \\2/p' | sort | uniq -c",
        |o| {
            let counts: Vec<(u32, &str, &str)> = o
                .lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    Some((w.next()?.parse().ok()?, w.next()?, w.next()?))
                })
                .collect();
            // tank1 had more hourly snapshots than the policy keeps: at most
            // the policy's count is left, and never none (the newest stays).
            !counts.is_empty()
                && counts
                    .iter()
                    .all(|(n, ds, period)| keeps(ds, period).is_some_and(|k| *n <= k))
                && counts
                    .iter()
                    .any(|(n, ds, period)| *ds == "tank1" && *period == "hourly" && *n >= 1)
        },
    );
}

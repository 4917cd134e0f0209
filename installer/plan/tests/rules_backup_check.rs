//! The hourly backup health check: its timer and service are laid and
//! the timer enabled with the snapshot policy, and not without it.

mod common;

use common::rules::*;
use tappaas_plan::{BACKUP_CHECK_SERVICE, BACKUP_CHECK_TIMER};

#[test]
fn the_check_runs_backup_status_brief_hourly() {
    let p = ok(&home_server(), &with(""));
    let service = file(&p, &format!("/etc/systemd/system/{BACKUP_CHECK_SERVICE}"));
    assert!(
        service.contains("Type=oneshot\n")
            && service.contains("ExecStart=/usr/bin/tappaas-installer backup status --brief\n"),
        "{service}"
    );
    let timer = file(&p, &format!("/etc/systemd/system/{BACKUP_CHECK_TIMER}"));
    assert!(
        timer.contains("OnUnitActiveSec=1h\n") && timer.contains("WantedBy=timers.target\n"),
        "{timer}"
    );
    assert!(enables(&p, BACKUP_CHECK_TIMER));
}

#[test]
fn snapshots_off_lays_no_check() {
    let p = ok(&home_server(), &with("[backup]\nsnapshots = false\n"));
    assert!(p.files().all(|f| !f.path.contains("tappaas-backup-check")));
    assert!(!enables(&p, BACKUP_CHECK_TIMER));
}

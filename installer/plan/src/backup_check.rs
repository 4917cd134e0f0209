//! The hourly backup health check (`tappaas-installer backup status
//! --brief`, docs/backup.md "Health check"): its units, which the install
//! lays and enables with the snapshot policy.

/// The oneshot that checks, and the timer that runs it hourly.
pub const BACKUP_CHECK_SERVICE: &str = "tappaas-backup-check.service";
pub const BACKUP_CHECK_TIMER: &str = "tappaas-backup-check.timer";

pub(crate) const BACKUP_CHECK_SERVICE_TEXT: &str =
    include_str!("../../../overlays/node/etc/systemd/system/tappaas-backup-check.service");
pub(crate) const BACKUP_CHECK_TIMER_TEXT: &str =
    include_str!("../../../overlays/node/etc/systemd/system/tappaas-backup-check.timer");

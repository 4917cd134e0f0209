//! `[backup]`: a retention that keeps no snapshot at all is a mistake
//! (snapshots taken and pruned at once); switching them off has its own key.

use super::{KeyPath, Rules};
use crate::Backup;

pub(super) fn backup(r: &mut Rules, b: &Backup) {
    for (class, retention) in [("data", b.data_retention()), ("tank2", b.tank2_retention())] {
        if retention.keeps_nothing() {
            r.err(
                KeyPath::of("backup").key(class),
                "keeps no snapshot (every period is 0, counting the defaults of the periods left out): keep at least one period, e.g. daily = 7; to take no snapshots at all set backup.snapshots = false",
            );
        }
    }
}

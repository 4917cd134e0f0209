//! The daily archive of the node's own configuration (`tappaas-installer
//! backup config`, docs/backup.md): its units, which the install lays on
//! the node with the snapshot policy, and the dataset it is kept in.

use crate::Plan;

/// The oneshot that makes the archive, and the timer that runs it daily.
pub const NODE_CONFIG_SERVICE: &str = "tappaas-node-config.service";
pub const NODE_CONFIG_TIMER: &str = "tappaas-node-config.timer";

pub(crate) const NODE_CONFIG_SERVICE_TEXT: &str =
    include_str!("../../../overlays/node/etc/systemd/system/tappaas-node-config.service");
pub(crate) const NODE_CONFIG_TIMER_TEXT: &str =
    include_str!("../../../overlays/node/etc/systemd/system/tappaas-node-config.timer");

/// The dataset the archives of node `hostname` go to: below tank1 when the
/// node has it (its data pool, replicated), else below rpool/data. Both
/// are covered by the snapshot policy with their children.
pub fn node_config_dataset(has_tank1: bool, hostname: &str) -> String {
    let parent = if has_tank1 { "tank1" } else { "rpool/data" };
    format!("{parent}/tappaas/node-config/{hostname}")
}

impl Plan {
    /// Where this node's configuration archives go; `None` when the
    /// install lays no archive timer (`backup.snapshots = false`: the
    /// archive would land in a dataset nothing snapshots).
    pub fn node_config_dataset(&self) -> Option<String> {
        self.snapshots.as_ref()?;
        let has_tank1 = self.pools.iter().any(|p| p.name == "tank1");
        Some(node_config_dataset(has_tank1, &self.node.hostname))
    }
}

//! Where first boot finds and keeps its files, and how long it waits.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every path first boot reads or writes, and its time limits. On a node
/// [`Config::node`]; tests use [`Config::under`] a temporary folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The install plan (`/etc/tappaas/plan.json`), written by the installer.
    pub plan: PathBuf,
    /// First boot's journal (JSON lines, one record per step event).
    pub journal: PathBuf,
    /// Present until first boot has finished; the unit runs only while it
    /// exists.
    pub marker: PathBuf,
    /// The root-only summary: addresses, URLs, cluster, storages.
    pub summary: PathBuf,
    /// The encrypted peer password for a join; deleted after the join.
    pub peer_password_credential: PathBuf,
    /// Proxmox's CLI: when it is absent, Proxmox VE is not installed.
    pub pvesh: PathBuf,
    /// How long Proxmox may take to answer (after boot, after a join), and
    /// how long a create or join task may run.
    pub wait_timeout: Duration,
    /// Pause between two looks while waiting.
    pub poll_interval: Duration,
}

impl Config {
    /// The paths on an installed node.
    pub fn node() -> Config {
        Config::under(Path::new("/"))
    }

    /// The node's layout below `root` (tests, or a node's disk mounted
    /// elsewhere).
    pub fn under(root: &Path) -> Config {
        let at = |p: &str| root.join(p.trim_start_matches('/'));
        Config {
            plan: at("/etc/tappaas/plan.json"),
            journal: at("/var/lib/tappaas/firstboot-journal.jsonl"),
            marker: at("/etc/tappaas/firstboot-pending"),
            summary: at("/root/tappaas-node.txt"),
            peer_password_credential: at(tappaas_plan::PEER_PASSWORD_CREDENTIAL),
            pvesh: at("/usr/bin/pvesh"),
            // pve-cluster starts within seconds on a healthy node; after a
            // join it restarts with the cluster's files. Five minutes
            // covers slow disks without hanging a boot forever.
            wait_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_secs(2),
        }
    }

    /// Whether Proxmox VE is installed here: its CLI is the transport, so
    /// without it nothing can be done.
    pub fn proxmox_installed(&self) -> bool {
        self.pvesh.is_file()
    }
}

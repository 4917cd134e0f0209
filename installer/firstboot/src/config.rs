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
    /// `services deploy`'s journal (the same format, its own steps).
    pub services_journal: PathBuf,
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
    /// Generated credentials (the firewall's root password, the services'
    /// secrets), root-only; the only place they are kept in clear.
    pub credentials: PathBuf,
    /// What happened to each service (healthy, failed, skipped), for the
    /// summary and `services list`; holds no secret.
    pub services_state: PathBuf,
    /// root's SSH keys: the firewall's root and the service VMs' user get
    /// them.
    pub authorized_keys: PathBuf,
    /// Extra catalog entries (`<name>.toml`), next to the built-in ones.
    pub catalog_dir: PathBuf,
    /// Where Proxmox's own APT sources are (the backup server VM uses the
    /// same repository).
    pub apt_sources: PathBuf,
    /// Proxmox's archive signing key.
    pub proxmox_keyring: PathBuf,
    /// How long a new VM's guest agent may take to answer.
    pub guest_timeout: Duration,
    /// How long a service may take to pass its health check once its
    /// guest runs (cloud-init installs its packages first).
    pub health_timeout: Duration,
    /// How long the firewall may take to answer on its LAN address after
    /// its configuration is applied, and the outside after the route move.
    pub firewall_timeout: Duration,
    /// The firewall console's waits (its boot, each prompt, the reload).
    pub console: tappaas_opnsense::ConsoleTimeouts,
    /// The lock one run at a time holds (first boot, by hand, `services
    /// deploy`), in a root-only directory.
    pub lock: PathBuf,
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
            services_journal: at("/var/lib/tappaas/services-deploy-journal.jsonl"),
            marker: at("/etc/tappaas/firstboot-pending"),
            summary: at("/root/tappaas-node.txt"),
            peer_password_credential: at(tappaas_plan::PEER_PASSWORD_CREDENTIAL),
            pvesh: at("/usr/bin/pvesh"),
            // pve-cluster starts within seconds on a healthy node; after a
            // join it restarts with the cluster's files. Five minutes
            // covers slow disks without hanging a boot forever.
            wait_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_secs(2),
            credentials: at("/root/tappaas-credentials.txt"),
            services_state: at("/var/lib/tappaas/services-state.json"),
            authorized_keys: at("/root/.ssh/authorized_keys"),
            catalog_dir: at("/etc/tappaas/catalog"),
            apt_sources: at("/etc/apt/sources.list.d"),
            proxmox_keyring: at("/usr/share/keyrings/proxmox-archive-keyring.gpg"),
            // A Debian guest boots in well under a minute; five covers a
            // busy node.
            guest_timeout: Duration::from_secs(300),
            // cloud-init installs packages and pulls images first.
            health_timeout: Duration::from_secs(1800),
            firewall_timeout: Duration::from_secs(300),
            console: tappaas_opnsense::ConsoleTimeouts::default(),
            lock: at("/run/tappaas/firstboot.lock"),
        }
    }

    /// Whether Proxmox VE is installed here: its CLI is the transport, so
    /// without it nothing can be done.
    pub fn proxmox_installed(&self) -> bool {
        self.pvesh.is_file()
    }
}

//! The node summary: what the person who installed the node needs next
//! (addresses, the Proxmox URL, the cluster, the storages), kept in a
//! root-only file and shown on the console.

use std::fmt::Write as _;
use std::net::IpAddr;

use tappaas_plan::Plan;
use tappaas_proxmox::client::{BackupJobInfo, ClusterStatus, NodeInfo, StorageConfig};

/// What Proxmox said, read just before the summary is written.
pub(crate) struct Facts {
    /// What happened to each service (the services-state file).
    pub records: crate::deploy::Records,
    pub address: Option<IpAddr>,
    pub status: ClusterStatus,
    pub nodes: Vec<NodeInfo>,
    pub storages: Vec<StorageConfig>,
    pub backup_jobs: Vec<BackupJobInfo>,
}

/// `https://ADDRESS:8006`, with IPv6 in brackets.
pub(crate) fn ui_url(address: IpAddr) -> String {
    match address {
        IpAddr::V4(a) => format!("https://{a}:8006"),
        IpAddr::V6(a) => format!("https://[{a}]:8006"),
    }
}

pub(crate) fn render(plan: &Plan, facts: &Facts) -> String {
    let node = &plan.node;
    let net = &plan.network;
    let mut s = String::new();
    let _ = writeln!(s, "TAPPaaS node {} (node {})", node.fqdn(), node.number);
    let _ = writeln!(
        s,
        "Written by first boot; root-only, as it names the cluster's addresses."
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Addresses");
    match facts.address {
        Some(a) => {
            let _ = writeln!(
                s,
                "  management:   {a} (bridge lan, NIC {})",
                net.management_nic
            );
        }
        None => {
            let _ = writeln!(s, "  management:   unknown (NIC {})", net.management_nic);
        }
    }
    let _ = writeln!(
        s,
        "  gateway:      {}",
        net.gateway
            .map_or_else(|| "none".to_string(), |g| g.to_string())
    );
    let _ = writeln!(
        s,
        "  DNS:          {}",
        net.dns
            .map_or_else(|| "none".to_string(), |d| d.to_string())
    );
    let _ = writeln!(
        s,
        "  WAN port:     {}",
        net.wan_nic
            .as_deref()
            .unwrap_or("none (bridge wan has no port)")
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Proxmox VE");
    match facts.address {
        Some(a) => {
            let _ = writeln!(
                s,
                "  web UI:       {} (user root, realm Linux PAM)",
                ui_url(a)
            );
        }
        None => {
            let _ = writeln!(s, "  web UI:       https://<this node's address>:8006");
        }
    }
    let local = facts.status.local_node().map(|n| n.name.clone());
    if let Some(fp) = facts
        .nodes
        .iter()
        .find(|n| Some(&n.node) == local.as_ref())
        .and_then(|n| n.ssl_fingerprint.as_deref())
    {
        let _ = writeln!(s, "  certificate:  {fp}");
        let _ = writeln!(
            s,
            "                (SHA-256; confirm it when a new node joins through this one)"
        );
    }
    let _ = writeln!(s);
    cluster_lines(&mut s, &facts.status);
    let _ = writeln!(s);
    let _ = writeln!(s, "Storages");
    for st in &facts.storages {
        let _ = writeln!(s, "  {}", storage_line(st));
    }
    let _ = writeln!(s);
    if let Some(fw) = &plan.firewall {
        let _ = writeln!(s, "Firewall (OPNsense, VM {})", fw.vmid);
        let ip = fw.lan.addr;
        let _ = writeln!(
            s,
            "  web UI:       https://{ip}/ (user root; password in the credentials file)"
        );
        let _ = writeln!(s, "  WAN:          {}", fw.wan);
        let _ = writeln!(s);
    }
    if !plan.services.is_empty() {
        let _ = writeln!(s, "Services");
        for line in service_lines(&plan.services, &facts.records) {
            let _ = writeln!(s, "  {line}");
        }
        let _ = writeln!(
            s,
            "  Credentials:  /root/tappaas-credentials.txt (root only)"
        );
        let _ = writeln!(s, "  More later:   tappaas-installer services deploy NAME");
        let _ = writeln!(s);
    }
    protection_lines(&mut s, plan, facts);
    backup_lines(&mut s, facts);
    let _ = writeln!(s, "What comes next");
    let peer = facts
        .address
        .map(|a| a.to_string())
        .unwrap_or_else(|| "this node's address".into());
    let _ = writeln!(
        s,
        "  Add a node: boot the TAPPaaS installer on the new machine, choose"
    );
    let _ = writeln!(
        s,
        "  \"join\", give {peer} as the existing node, check that the wizard shows"
    );
    let _ = writeln!(
        s,
        "  the certificate fingerprint above, confirm, install, reboot."
    );
    let _ = writeln!(s, "  Status at any time: tappaas-installer status");
    s
}

/// What is protected and how often: the snapshot policy the install laid
/// (the plan's), the daily archive of the node's configuration, where
/// tank1 is replicated, and whether the VMs are backed up (the next
/// section says how).
fn protection_lines(s: &mut String, plan: &Plan, facts: &Facts) {
    use crate::backup::node_config::KEEP;
    use crate::backup_server::STORAGE_ID;
    let pbs = facts.storages.iter().any(|st| st.storage == STORAGE_ID);
    let _ = writeln!(s, "What is protected");
    for (i, line) in plan.snapshot_lines().iter().enumerate() {
        let label = if i == 0 { "snapshots:" } else { "" };
        let _ = writeln!(s, "  {label:<14}{line}");
    }
    match plan.node_config_dataset() {
        Some(dataset) => {
            let _ = writeln!(
                s,
                "  node config:  /etc/pve, /etc/tappaas, network, SSH host keys: daily ({}),",
                tappaas_plan::NODE_CONFIG_TIMER
            );
            let _ = writeln!(
                s,
                "                into {dataset} (last {KEEP} kept, and its snapshots){}",
                if pbs {
                    format!(" and to {STORAGE_ID}")
                } else {
                    String::new()
                }
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  node config:  not archived (backup.snapshots = false); `tappaas-installer backup config` by hand"
            );
        }
    }
    let _ = writeln!(s, "  replication:  {}", plan.replication_summary());
    let _ = match pbs {
        true => writeln!(
            s,
            "  VMs:          to the Proxmox Backup Server, daily at {} (below)",
            crate::backup_server::POLICY.backup
        ),
        false => writeln!(
            s,
            "  VMs:          not backed up: no Proxmox Backup Server (`tappaas-installer services deploy backup-server`)"
        ),
    };
    let _ = writeln!(s, "  Check:        tappaas-installer backup status");
    let _ = writeln!(s);
}

/// The VMs' backups to the backup server: where, when, how many kept;
/// nothing when no backup server is registered.
fn backup_lines(s: &mut String, facts: &Facts) {
    use crate::backup_server::{JOB_ID, POLICY, STORAGE_ID};
    let Some(st) = facts.storages.iter().find(|st| st.storage == STORAGE_ID) else {
        return;
    };
    let _ = writeln!(s, "Backups of the VMs (Proxmox Backup Server)");
    let _ = writeln!(
        s,
        "  storage:      {STORAGE_ID} (server {}, datastore {})",
        st.server.as_deref().unwrap_or("?"),
        st.datastore.as_deref().unwrap_or("?")
    );
    match facts.backup_jobs.iter().find(|j| j.id == JOB_ID) {
        Some(j) => {
            let guests = if j.all {
                "every VM, including ones made later"
            } else {
                "chosen VMs"
            };
            let schedule = j.schedule.as_deref().unwrap_or("?");
            // A bare time is every day at that time.
            let when = if schedule.contains(':') && !schedule.contains(' ') {
                format!("daily at {schedule}")
            } else {
                format!("on schedule '{schedule}'")
            };
            let _ = writeln!(
                s,
                "  job {JOB_ID}: {guests}, {when} ({} mode)",
                j.mode.as_deref().unwrap_or("?")
            );
            match j.retention() {
                Some(r) => {
                    let _ = writeln!(
                        s,
                        "  keeps:        {} daily, {} weekly, {} monthly backups",
                        r.daily, r.weekly, r.monthly
                    );
                }
                None => {
                    let _ = writeln!(s, "  keeps:        as the job's own retention says");
                }
            }
        }
        None => {
            let _ = writeln!(s, "  job {JOB_ID}: MISSING (run first boot again)");
        }
    }
    let _ = writeln!(
        s,
        "  on the server: prune {}, garbage collection {}, verify {}",
        POLICY.prune, POLICY.gc, POLICY.verify
    );
    let _ = writeln!(s);
}

/// `tank1  zfspool  pool tank1, content images,rootdir, nodes a,b`
pub(crate) fn storage_line(st: &StorageConfig) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &st.pool {
        parts.push(format!("pool {p}"));
    }
    if !st.content.is_empty() {
        parts.push(format!("content {}", st.content.join(",")));
    }
    parts.push(match &st.nodes {
        Some(list) => format!("nodes {}", list.join(",")),
        None => "all nodes".to_string(),
    });
    format!(
        "{:<10} {:<8} {}",
        st.storage,
        st.storage_type,
        parts.join(", ")
    )
}

/// The cluster and its nodes, as the summary and `status` show them.
pub(crate) fn cluster_lines(s: &mut String, status: &ClusterStatus) {
    match &status.cluster {
        Some(c) => {
            let _ = writeln!(
                s,
                "Cluster '{}': {} node(s), {}",
                c.name,
                c.nodes,
                if c.quorate { "quorate" } else { "NOT quorate" }
            );
        }
        None => {
            let _ = writeln!(s, "Cluster: none (this node is on its own)");
        }
    }
    for n in &status.nodes {
        let _ = writeln!(
            s,
            "  {:<16} {:<16} {}{}",
            n.name,
            n.ip.as_deref().unwrap_or("-"),
            if n.online { "online" } else { "offline" },
            if n.local { "  (this node)" } else { "" }
        );
    }
}

/// One line per service with its state and URLs: the planned ones, then
/// any recorded since (deployed with `services deploy`).
pub(crate) fn service_lines(planned: &[String], records: &crate::deploy::Records) -> Vec<String> {
    use crate::deploy::Outcome;
    let mut names: Vec<&str> = planned.iter().map(String::as_str).collect();
    for n in records.keys() {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .map(|n| match records.get(n) {
            Some(r) => {
                let state = match r.outcome {
                    Outcome::Healthy => "healthy".to_string(),
                    Outcome::Failed => format!("FAILED ({})", r.reason.as_deref().unwrap_or("?")),
                    Outcome::Skipped => {
                        format!("skipped ({})", r.reason.as_deref().unwrap_or("?"))
                    }
                };
                let urls = if r.urls.is_empty() {
                    String::new()
                } else {
                    format!("  {}", r.urls.join(" "))
                };
                format!("{n:<14} VM {:<4} {state}{urls}", r.vmid)
            }
            None => format!("{n:<14} not deployed yet"),
        })
        .collect()
}

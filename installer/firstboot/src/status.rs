//! `tappaas-installer status`: the cluster, its nodes, the storages, and
//! what first boot has done here. Reads only; never waits long.

use std::fmt::Write as _;

use tappaas_exec::{plan_digest, Journal};
use tappaas_proxmox::{Api, Proxmox};

use crate::run::{load_plan, management_address, no_proxmox_message, step_list};
use crate::summary::{cluster_lines, storage_line, ui_url};
use crate::Config;

/// A report for people, also when Proxmox is absent or not answering.
pub fn status<A: Api>(config: &Config, proxmox: &mut Proxmox<A>) -> String {
    let mut s = String::new();
    let plan = load_plan(&config.plan);

    let _ = writeln!(s, "TAPPaaS node status");
    match &plan {
        Ok(p) => {
            let _ = writeln!(
                s,
                "  node:       {} (node {})",
                p.node.fqdn(),
                p.node.number
            );
        }
        Err(e) => {
            let _ = writeln!(s, "  plan:       {e}");
        }
    }
    let _ = writeln!(s);

    let mut status = None;
    if !config.proxmox_installed() {
        let flavour = plan.as_ref().ok().map(|p| p.node.flavour);
        let _ = writeln!(s, "{}", no_proxmox_message(config, flavour));
    } else {
        proxmox_part(&mut s, proxmox, &mut status);
    }
    if let Ok(p) = &plan {
        if let Some(a) = management_address(p, status.as_ref()) {
            let _ = writeln!(s, "Proxmox web UI: {}", ui_url(a));
        }
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "First boot on this node");
    match &plan {
        Err(_) => {
            let _ = writeln!(
                s,
                "  no install plan: this is not an installed TAPPaaS node"
            );
        }
        Ok(p) => {
            let state = if config.marker.exists() {
                "not finished (it runs again at the next boot, or by hand)"
            } else {
                "finished"
            };
            let _ = writeln!(s, "  state:      {state}");
            if !config.journal.exists() {
                let _ = writeln!(s, "  no step has run yet");
            } else {
                match Journal::open(&config.journal, &plan_digest(p)) {
                    Ok(journal) => {
                        for step in step_list(p, config) {
                            let mark = if journal.is_done(&step.id) {
                                "done"
                            } else {
                                "    "
                            };
                            let _ = writeln!(s, "  [{mark}] {}", step.title);
                        }
                    }
                    Err(e) => {
                        let _ = writeln!(s, "  journal:    {e}");
                    }
                }
            }
        }
    }
    let _ = writeln!(s, "  journal:    {}", config.journal.display());
    let _ = writeln!(
        s,
        "  summary:    {}{}",
        config.summary.display(),
        if config.summary.exists() {
            ""
        } else {
            " (not written yet)"
        }
    );
    s
}

fn proxmox_part<A: Api>(
    s: &mut String,
    px: &mut Proxmox<A>,
    status_out: &mut Option<tappaas_proxmox::client::ClusterStatus>,
) {
    match px.version() {
        Ok(v) => {
            let _ = writeln!(s, "Proxmox VE {}", v.version);
        }
        Err(e) => {
            let _ = writeln!(s, "Proxmox VE is installed but does not answer: {e}");
            let _ = writeln!(s, "(look at `systemctl status pve-cluster pveproxy`)");
            return;
        }
    }
    match px.cluster_status() {
        Ok(st) => {
            cluster_lines(s, &st);
            *status_out = Some(st);
        }
        Err(e) => {
            let _ = writeln!(s, "Cluster: cannot read the status: {e}");
        }
    }
    match px.storages() {
        Ok(list) => {
            let _ = writeln!(s, "Storages:");
            for st in list {
                let _ = writeln!(s, "  {}", storage_line(&st));
            }
        }
        Err(e) => {
            let _ = writeln!(s, "Storages: cannot read them: {e}");
        }
    }
}

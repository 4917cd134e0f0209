//! The first-boot summary (and /root/tappaas-node.txt) says what is
//! protected and how often: the snapshot policy of the plan, the daily
//! node configuration archive, replication, and whether the VMs are
//! backed up.

// Tests may unwrap: a panic is a failure with a location.
#![allow(clippy::unwrap_used)]

mod common;

use common::site::*;
use common::*;
use tappaas_firstboot::Outcome;

#[test]
fn the_summary_says_what_is_protected_and_how_often() {
    let sim = world();
    let plan = plan(1, None);
    let n1 = Node::new(1, &plan);
    let summary = run_ok(&sim, &n1);
    let policy = plan.snapshot_lines();
    assert!(policy.len() >= 2, "{policy:?}");
    let mut lines = vec![
        "What is protected\n".to_string(),
        format!("  snapshots:    {}\n", policy[0]),
        "  node config:  /etc/pve, /etc/tappaas, network, SSH host keys: daily (tappaas-node-config.timer),\n".to_string(),
        "                into tank1/tappaas/node-config/tappaas1 (last 14 kept, and its snapshots)\n".to_string(),
        format!("  replication:  {}\n", plan.replication_summary()),
        "  VMs:          not backed up: no Proxmox Backup Server".to_string(),
        "  Check:        tappaas-installer backup status\n".to_string(),
    ];
    lines.extend(policy[1..].iter().map(|l| format!("\n{:16}{l}\n", "")));
    for line in lines {
        assert!(summary.contains(&line), "{line}\n{summary}");
    }
    assert_eq!(
        std::fs::read_to_string(&n1.config.summary).unwrap(),
        summary
    );
}

#[test]
fn with_snapshots_off_the_summary_says_nothing_is_archived() {
    let sim = world();
    let mut plan = plan(1, None);
    plan.snapshots = None;
    plan.replication = None;
    let n1 = Node::new(1, &plan);
    let summary = run_ok(&sim, &n1);
    for line in [
        "  snapshots:    none (backup.snapshots = false)\n",
        "  node config:  not archived (backup.snapshots = false)",
        "  replication:  off (backup.replication.enabled = false)\n",
    ] {
        assert!(summary.contains(line), "{line}\n{summary}");
    }
}

#[test]
fn with_the_backup_server_the_vms_and_the_node_config_go_there() {
    let mut plan = deploy_plan();
    plan.services = vec!["backup-server".into()];
    let (sim, site) = deployment(&plan);
    let (_, ran) = run(&sim, &site);
    let summary = match &ran.result {
        Ok(Outcome::Finished { summary }) => summary.clone(),
        other => panic!("first boot did not finish: {other:?}"),
    };
    let dataset = plan.node_config_dataset().unwrap();
    for line in [
        format!(
            "                into {dataset} (last 14 kept, and its snapshots) and to tappaas-pbs\n"
        ),
        "  VMs:          to the Proxmox Backup Server, daily at 02:30 (below)\n".to_string(),
    ] {
        assert!(summary.contains(&line), "{line}\n{summary}");
    }
}

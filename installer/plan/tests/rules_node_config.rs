//! The daily archive of the node's configuration: its timer and service
//! are laid on the node and enabled with the snapshot policy, and its
//! dataset follows the pools.

mod common;

use common::rules::*;
use tappaas_plan::{NODE_CONFIG_SERVICE, NODE_CONFIG_TIMER};

#[test]
fn the_timer_and_service_are_laid_and_the_timer_enabled() {
    let p = ok(&home_server(), &with(""));
    let service = file(&p, &format!("/etc/systemd/system/{NODE_CONFIG_SERVICE}"));
    assert!(
        service.contains("Type=oneshot\n")
            && service.contains("ExecStart=/usr/bin/tappaas-installer backup config\n"),
        "{service}"
    );
    let timer = file(&p, &format!("/etc/systemd/system/{NODE_CONFIG_TIMER}"));
    assert!(
        timer.contains("OnCalendar=daily\n") && timer.contains("Persistent=true\n"),
        "{timer}"
    );
    assert!(enables(&p, NODE_CONFIG_TIMER));
    let host = &p.node.hostname;
    assert_eq!(
        p.node_config_dataset(),
        Some(format!("tank1/tappaas/node-config/{host}"))
    );
}

#[test]
fn without_tank1_the_archive_goes_below_rpool_data() {
    let p = ok(&one_disk_node(), ONE_DISK);
    assert!(enables(&p, NODE_CONFIG_TIMER));
    assert_eq!(
        p.node_config_dataset(),
        Some(format!(
            "rpool/data/tappaas/node-config/{}",
            p.node.hostname
        ))
    );
}

#[test]
fn snapshots_off_lays_no_archive_timer() {
    let p = ok(&home_server(), &with("[backup]\nsnapshots = false\n"));
    assert!(p.files().all(|f| !f.path.contains("tappaas-node-config")));
    assert!(!enables(&p, NODE_CONFIG_TIMER));
    assert_eq!(p.node_config_dataset(), None);
}

//! The snapshot policy (`[backup]`): sanoid's configuration on the node,
//! for the pools the plan has, its timer, and nothing when it is off.

mod common;

use common::rules::*;
use tappaas_plan::{render_text, SANOID_CONF};

#[test]
fn two_pools_each_dataset_with_its_template() {
    let p = ok(&home_server(), STANDARD);
    assert_eq!(
        file(&p, SANOID_CONF),
        "# Written by the TAPPaaS installer from the answer's [backup] section
# (docs/backup.md). sanoid.timer runs sanoid every 15 minutes: it takes
# the snapshots below and prunes those older than the retention keeps.

[rpool/ROOT]
\tuse_template = data
\trecursive = yes

[rpool/data]
\tuse_template = data
\trecursive = yes

[tank1]
\tuse_template = data
\trecursive = yes

[tank2]
\tuse_template = tank2
\trecursive = yes

[tank2/replica]
\tuse_template = replica
\trecursive = yes

[template_data]
\tfrequently = 4
\thourly = 24
\tdaily = 30
\tweekly = 8
\tmonthly = 12
\tautosnap = yes
\tautoprune = yes

[template_tank2]
\tfrequently = 0
\thourly = 0
\tdaily = 7
\tweekly = 4
\tmonthly = 0
\tautosnap = yes
\tautoprune = yes

[template_replica]
\tfrequently = 0
\thourly = 24
\tdaily = 30
\tweekly = 8
\tmonthly = 12
\tautosnap = no
\tautoprune = yes
"
    );
    assert!(enables(&p, "sanoid.timer"));
    let text = render_text(&p);
    assert!(
        text.contains("  rpool/ROOT, rpool/data, tank1: keep 4 frequently, 24 hourly, 30 daily, 8 weekly, 12 monthly\n  tank2: keep 7 daily, 4 weekly\n"),
        "{text}"
    );
}

#[test]
fn the_answer_sets_the_retention() {
    let p = ok(
        &home_server(),
        &with("[backup.data]\nhourly = 48\n\n[backup.tank2]\nmonthly = 3\n"),
    );
    let conf = file(&p, SANOID_CONF);
    assert!(
        conf.contains("[template_data]\n\tfrequently = 4\n\thourly = 48\n"),
        "{conf}"
    );
    assert!(conf.contains("\tweekly = 4\n\tmonthly = 3\n"), "{conf}");
}

#[test]
fn a_single_disk_node_covers_only_rpool() {
    let p = ok(&one_disk_node(), ONE_DISK);
    let conf = file(&p, SANOID_CONF);
    assert!(
        conf.contains("[rpool/ROOT]\n") && conf.contains("[rpool/data]\n"),
        "{conf}"
    );
    assert!(!conf.contains("tank"), "{conf}");
    assert!(conf.contains("[template_data]"), "{conf}");
    assert!(enables(&p, "sanoid.timer"));
}

#[test]
fn snapshots_off_writes_and_enables_nothing() {
    let p = ok(&home_server(), &with("[backup]\nsnapshots = false\n"));
    assert_eq!(p.snapshots, None);
    assert!(p.files().all(|f| !f.path.contains("sanoid")));
    assert!(!all_argv(&p).iter().any(|a| a.contains("sanoid")));
    assert!(render_text(&p).contains("children):\n  none (backup.snapshots = false)\n"));
}

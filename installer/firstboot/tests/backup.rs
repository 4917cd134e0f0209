//! `backup status|run|restore` on the recording fake: ZFS's answers are
//! scripted, the clock is passed in, `.zfs/snapshot` is a temporary tree.

use std::fs;
use std::path::{Path, PathBuf};

use tappaas_effects::{Answer, Recorder};
use tappaas_firstboot::backup::{
    self, evaluate, parse_datasets, parse_policy, parse_snapshots, BackupConfig, BackupError,
    Facts, Period, RestoredDataset, Timer,
};

const NOW: i64 = 2_000_000_000;

const POLICY: &str = "\
[rpool/ROOT]
  use_template = node
  recursive = yes
[tank1]
  use_template = data
  recursive = yes
[tank2]
  use_template = replica

[template_node]
  hourly = 24
  daily = 30
  monthly = 0
[template_data]
  frequently = 4
  hourly = 24
  daily = 30
  weekly = 8
  monthly = 12
[template_replica]
  autosnap = no
  daily = 30
";

const DATASETS: &[&str] = &[
    "rpool\t/rpool",
    "rpool/ROOT\t/rpool/ROOT",
    "rpool/ROOT/pve-1\t/",
    "rpool/data\t/rpool/data",
    "tank1\t/tank1",
    "tank1/photos\t/tank1/photos",
    "tank2\t/tank2",
];

fn snap(dataset: &str, period: &str, age: i64) -> String {
    format!(
        "{dataset}@autosnap_2033-05-18_0{}:00:00_{period}\t{}",
        age % 10,
        NOW - age
    )
}

fn snapshots() -> Vec<String> {
    vec![
        snap("rpool/ROOT", "hourly", 1800),
        snap("rpool/ROOT/pve-1", "daily", 3601),
        snap("rpool/ROOT/pve-1", "hourly", 1800),
        snap("tank1", "frequently", 600),
        snap("tank1", "hourly", 900),
        snap("tank1/photos", "frequently", 3600),
    ]
}

fn recorder(snaps: &[String], timer: (&str, i32)) -> Recorder {
    let snaps: Vec<&str> = snaps.iter().map(String::as_str).collect();
    Recorder::new()
        .answer(
            "zfs list -H -p -t filesystem,volume -o name,mountpoint",
            Answer::prints(DATASETS, 0),
        )
        .answer(
            "zfs list -H -p -t snapshot -o name,creation",
            Answer::prints(&snaps, 0),
        )
        .answer(
            "systemctl is-enabled sanoid.timer",
            Answer::prints(&[timer.0], timer.1),
        )
}

fn node(policy: &str) -> (tempfile::TempDir, BackupConfig) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = BackupConfig::under(dir.path());
    fs::create_dir_all(config.sanoid_conf.parent().expect("dir")).expect("mkdir");
    fs::write(&config.sanoid_conf, policy).expect("write");
    (dir, config)
}

#[test]
fn status_gives_each_dataset_its_newest_snapshot_count_and_overdue() {
    let (_dir, config) = node(POLICY);
    let mut fx = recorder(&snapshots(), ("enabled", 0));
    let s = backup::backup_status(&mut fx, &config, NOW).expect("status");
    let names: Vec<&str> = s.datasets.iter().map(|d| d.name.as_str()).collect();
    // rpool/data is not in the policy; pve-1 and photos are, recursively.
    assert_eq!(
        names,
        [
            "rpool/ROOT",
            "rpool/ROOT/pve-1",
            "tank1",
            "tank1/photos",
            "tank2"
        ]
    );
    let by = |n: &str| s.datasets.iter().find(|d| d.name == n).expect(n);
    let pve = by("rpool/ROOT/pve-1");
    assert_eq!(
        pve.newest
            .as_ref()
            .map(|n| (n.snapshot.as_str(), n.age_seconds)),
        Some(("rpool/ROOT/pve-1@autosnap_2033-05-18_00:00:00_hourly", 1800))
    );
    assert_eq!(
        (pve.count[&Period::Hourly], pve.count[&Period::Daily]),
        (1, 1)
    );
    assert_eq!(pve.policy_section, "rpool/ROOT");
    // Frequent snapshots every 15 minutes: an hour without one is overdue.
    let photos = by("tank1/photos");
    assert!(photos.overdue, "{photos:?}");
    assert_eq!(photos.overdue_after_seconds, Some(1800));
    assert!(!by("tank1").overdue && !by("rpool/ROOT").overdue);
    // tank2 takes no snapshots here: not checked.
    assert_eq!(
        (by("tank2").overdue, by("tank2").overdue_after_seconds),
        (false, None)
    );
    assert!(s.overdue && !s.ok && s.timer.enabled);
    assert!(fx
        .commands()
        .contains(&"systemctl is-enabled sanoid.timer".to_string()));
    let text = backup::render_status(&s);
    assert!(
        text.contains("tank1/photos: OVERDUE: the newest snapshot is 1h 0m old, more than 30m"),
        "{text}"
    );
}

fn facts_at(snaps: &[String]) -> backup::Status {
    let policy = parse_policy(Path::new("sanoid.conf"), POLICY).expect("policy");
    let datasets = parse_datasets(&DATASETS.join("\n")).expect("datasets");
    let snapshots = parse_snapshots(&snaps.join("\n")).expect("snapshots");
    let timer = Timer {
        unit: "sanoid.timer".into(),
        enabled: true,
        state: "enabled".into(),
    };
    evaluate(&policy, &datasets, &snapshots, timer, NOW)
}

#[test]
fn overdue_is_twice_the_smallest_period_with_a_fixed_clock() {
    let mut snaps = snapshots();
    let ok =
        |s: &backup::Status, n: &str| !s.datasets.iter().find(|d| d.name == n).expect(n).overdue;
    // tank1/photos: frequently (15 min): 30 minutes is the limit.
    snaps[5] = snap("tank1/photos", "frequently", 1800);
    assert!(ok(&facts_at(&snaps), "tank1/photos"));
    snaps[5] = snap("tank1/photos", "frequently", 1801);
    assert!(!ok(&facts_at(&snaps), "tank1/photos"));
    // rpool/ROOT: hourly: two hours.
    snaps[0] = snap("rpool/ROOT", "daily", 7200);
    assert!(ok(&facts_at(&snaps), "rpool/ROOT"));
    snaps[0] = snap("rpool/ROOT", "daily", 7201);
    assert!(!ok(&facts_at(&snaps), "rpool/ROOT"));
}

#[test]
fn a_dataset_without_any_snapshot_is_overdue() {
    let snaps: Vec<String> = snapshots()
        .into_iter()
        .filter(|s| !s.starts_with("tank1@"))
        .collect();
    let s = facts_at(&snaps);
    let tank1 = s
        .datasets
        .iter()
        .find(|d| d.name == "tank1")
        .expect("tank1");
    assert_eq!(
        (tank1.overdue, tank1.problem.as_deref(), &tank1.newest),
        (true, Some("no snapshot yet"), &None)
    );
    // A dataset of the policy that ZFS does not have.
    let policy = parse_policy(
        Path::new("sanoid.conf"),
        &format!("{POLICY}[tank3]\n  use_template = data\n"),
    )
    .expect("policy");
    let datasets = parse_datasets(&DATASETS.join("\n")).expect("datasets");
    let s = evaluate(&policy, &datasets, &[], s.timer.clone(), NOW);
    let tank3 = s
        .datasets
        .iter()
        .find(|d| d.name == "tank3")
        .expect("tank3");
    assert_eq!(
        (tank3.exists, tank3.problem.as_deref()),
        (false, Some("the dataset does not exist"))
    );
}

#[test]
fn a_timer_not_enabled_is_not_ok() {
    let (_dir, config) = node(POLICY);
    let mut snaps = snapshots();
    snaps[5] = snap("tank1/photos", "frequently", 60);
    let mut fx = recorder(&snaps, ("disabled", 1));
    let s = backup::backup_status(&mut fx, &config, NOW).expect("status");
    assert!(!s.overdue, "{s:?}");
    assert_eq!(
        (s.ok, s.timer.enabled, s.timer.state.as_str()),
        (false, false, "disabled")
    );
    assert!(backup::render_status(&s).contains("systemctl enable --now sanoid.timer"));
}

#[test]
fn status_json_has_a_stable_shape() {
    let s = facts_at(&snapshots());
    let v = serde_json::to_value(&s).expect("json");
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "datasets",
            "guests",
            "now",
            "ok",
            "overdue",
            "policy",
            "timer",
            "vm_backups"
        ]
    );
    assert_eq!(
        v["timer"],
        serde_json::json!({"unit": "sanoid.timer", "enabled": true, "state": "enabled"})
    );
    assert_eq!(
        v["datasets"][3],
        serde_json::json!({
            "name": "tank1/photos",
            "policy_section": "tank1",
            "exists": true,
            "autosnap": true,
            "keep": {"frequently": 4, "hourly": 24, "daily": 30, "weekly": 8, "monthly": 12, "yearly": 0},
            "count": {"frequently": 1, "hourly": 0, "daily": 0, "weekly": 0, "monthly": 0, "yearly": 0},
            "newest": {
                "snapshot": "tank1/photos@autosnap_2033-05-18_00:00:00_frequently",
                "created": NOW - 3600,
                "age_seconds": 3600
            },
            "overdue_after_seconds": 1800,
            "overdue": true,
            "problem": "the newest snapshot is 1h 0m old, more than 30m"
        })
    );
}

#[test]
fn a_policy_that_does_not_parse_is_said_with_its_file_and_line() {
    let (_dir, config) = node("[tank1]\nuse_template = gone\n");
    let mut fx = recorder(&snapshots(), ("enabled", 0));
    match backup::backup_status(&mut fx, &config, NOW) {
        Err(BackupError::Policy(e)) => {
            assert_eq!(e[0].line, 2);
            assert!(e[0].to_string().contains("sanoid.conf:2: "), "{}", e[0]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn run_takes_the_snapshots_with_sanoid_and_streams_its_lines() {
    let (_dir, config) = node(POLICY);
    let mut fx = Recorder::new().answer(
        "sanoid",
        Answer::prints(&["taking snapshot tank1@autosnap_x_hourly"], 0),
    );
    let mut seen = Vec::new();
    backup::take_snapshots(&mut fx, &config, &mut |l| seen.push(l.to_string())).expect("run");
    let dir = config
        .sanoid_conf
        .parent()
        .expect("dir")
        .display()
        .to_string();
    assert_eq!(
        fx.commands(),
        [format!(
            "sanoid --configdir {dir} --take-snapshots --verbose"
        )]
    );
    assert_eq!(seen, ["taking snapshot tank1@autosnap_x_hourly"]);
    let mut failing = Recorder::new().answer("sanoid", Answer::prints(&["zfs: out of space"], 2));
    let e = backup::take_snapshots(&mut failing, &config, &mut |_| {}).expect_err("fails");
    assert!(e.to_string().contains("out of space"), "{e}");
}

/// A node tree below a temporary folder: tank1/photos mounted at
/// /tank1/photos with snapshots `old` (has a.jpg and b.jpg) and `new`
/// (has b.jpg only).
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    policy: backup::Policy,
    datasets: Vec<backup::Dataset>,
    snapshots: Vec<backup::Snapshot>,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let photos = root.join("tank1/photos");
        for (snapshot, files) in [("old", &["a.jpg", "b.jpg"][..]), ("new", &["b.jpg"])] {
            let d = photos.join(".zfs/snapshot").join(snapshot);
            fs::create_dir_all(&d).expect("mkdir");
            for f in files {
                fs::write(d.join(f), format!("{snapshot} {f}")).expect("write");
            }
        }
        fs::create_dir_all(root.join("rpool/data")).expect("mkdir");
        Tree {
            _dir: dir,
            root,
            policy: parse_policy(Path::new("sanoid.conf"), POLICY).expect("policy"),
            datasets: parse_datasets(&DATASETS.join("\n")).expect("datasets"),
            snapshots: parse_snapshots(
                "tank1/photos@old\t100\ntank1/photos@new\t200\ntank1/photos@newer\t300\n\
                 rpool/data@old\t100\n",
            )
            .expect("snapshots"),
        }
    }

    fn facts(&self) -> Facts<'_> {
        Facts {
            policy: &self.policy,
            datasets: &self.datasets,
            snapshots: &self.snapshots,
        }
    }

    fn restore(
        &self,
        fx: &mut Recorder,
        path: &str,
        snapshot: Option<&str>,
        force: bool,
    ) -> Result<backup::RestoredFile, BackupError> {
        backup::restore_file(
            fx,
            &self.facts(),
            &self.root,
            Path::new(path),
            snapshot,
            force,
            &mut |_| {},
        )
    }

    fn cp(&self, snapshot: &str, file: &str) -> String {
        let photos = self.root.join("tank1/photos");
        format!(
            "cp --archive --no-target-directory -- {} {}",
            photos
                .join(".zfs/snapshot")
                .join(snapshot)
                .join(file)
                .display(),
            photos.join(file).display()
        )
    }
}

#[test]
fn restore_takes_the_newest_snapshot_that_has_the_file() {
    let tree = Tree::new();
    let mut fx = Recorder::new();
    // `newer` does not have the folder at all, `new` lacks a.jpg.
    let r = tree
        .restore(&mut fx, "/tank1/photos/a.jpg", None, false)
        .expect("restored");
    assert_eq!(r.snapshot, "tank1/photos@old");
    let r = tree
        .restore(&mut fx, "/tank1/photos/b.jpg", None, false)
        .expect("restored");
    assert_eq!(r.snapshot, "tank1/photos@new");
    let r = tree
        .restore(
            &mut fx,
            "/tank1/photos/b.jpg",
            Some("tank1/photos@old"),
            false,
        )
        .expect("restored");
    assert_eq!(r.snapshot, "tank1/photos@old");
    assert_eq!(
        fx.commands(),
        [
            tree.cp("old", "a.jpg"),
            tree.cp("new", "b.jpg"),
            tree.cp("old", "b.jpg")
        ]
    );
    let e = tree
        .restore(&mut fx, "/tank1/photos/a.jpg", Some("new"), false)
        .expect_err("not in it");
    assert!(e.to_string().contains("is not in snapshot new"), "{e}");
}

#[test]
fn restore_does_not_overwrite_an_existing_file_without_force() {
    let tree = Tree::new();
    fs::write(tree.root.join("tank1/photos/a.jpg"), "edited").expect("write");
    let mut fx = Recorder::new();
    let e = tree
        .restore(&mut fx, "/tank1/photos/a.jpg", None, false)
        .expect_err("exists");
    assert!(matches!(e, BackupError::Refused(_)), "{e:?}");
    assert!(e.to_string().contains("--force"), "{e}");
    assert!(fx.commands().is_empty(), "nothing is copied");
    tree.restore(&mut fx, "/tank1/photos/a.jpg", None, true)
        .expect("forced");
    assert_eq!(fx.commands(), [tree.cp("old", "a.jpg")]);
}

#[test]
fn restore_refuses_paths_outside_the_policy_and_tricks() {
    let tree = Tree::new();
    // A link in the snapshot that leads out of it.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    fs::write(elsewhere.path().join("shadow"), "secret").expect("write");
    std::os::unix::fs::symlink(
        elsewhere.path(),
        tree.root.join("tank1/photos/.zfs/snapshot/new/etc"),
    )
    .expect("symlink");
    let mut fx = Recorder::new();
    for (path, why) in [
        ("/tank1/photos/../../etc/shadow", "`..`"),
        ("tank1/photos/a.jpg", "full path"),
        ("/tank1/photos/.zfs/snapshot/old/a.jpg", "`.zfs`"),
        ("/rpool/data/vm.raw", "does not cover"),
        ("/tank1/photos", "--dataset tank1/photos"),
        ("/tank1/photos/etc/shadow", "outside the snapshot"),
    ] {
        let e = tree.restore(&mut fx, path, None, true).expect_err(path);
        assert!(e.to_string().contains(why), "{path}: {e}");
    }
    assert!(fx.commands().is_empty(), "{:?}", fx.commands());
}

#[test]
fn dataset_restore_clones_beside_it_and_never_touches_the_live_dataset() {
    let tree = Tree::new();
    let mut fx = Recorder::new();
    let r = backup::restore_dataset(
        &mut fx,
        &tree.facts(),
        "tank1/photos",
        "old",
        false,
        &mut |_| {},
    )
    .expect("cloned");
    assert_eq!(
        r,
        RestoredDataset::Cloned {
            snapshot: "tank1/photos@old".into(),
            clone: "tank1/photos-restored-old".into()
        }
    );
    assert_eq!(
        fx.commands(),
        ["zfs clone tank1/photos@old tank1/photos-restored-old"]
    );
    // A pool's top dataset: the clone stays in the pool.
    assert_eq!(
        backup::restore::clone_name("tank1", "s"),
        "tank1/tank1-restored-s"
    );
    for (dataset, snapshot, why) in [
        ("rpool/data", "old", "not a dataset of the snapshot policy"),
        ("tank1/../rpool", "old", "not a dataset name"),
        ("tank1/photos", "gone", "has no snapshot gone"),
        (
            "tank1/photos",
            "tank1@old",
            "is of tank1, not of tank1/photos",
        ),
        ("tank1/music", "old", "ZFS has no dataset tank1/music"),
    ] {
        let e = backup::restore_dataset(
            &mut fx,
            &tree.facts(),
            dataset,
            snapshot,
            false,
            &mut |_| {},
        )
        .expect_err(dataset);
        assert!(e.to_string().contains(why), "{dataset}: {e}");
    }
    assert_eq!(fx.commands().len(), 1, "{:?}", fx.commands());
}

#[test]
fn force_rolls_back_after_saying_what_is_lost() {
    let tree = Tree::new();
    let mut fx = Recorder::new();
    let mut said = Vec::new();
    let r = backup::restore_dataset(
        &mut fx,
        &tree.facts(),
        "tank1/photos",
        "old",
        true,
        &mut |l| said.push(l.to_string()),
    )
    .expect("rolled back");
    assert_eq!(
        r,
        RestoredDataset::RolledBack {
            snapshot: "tank1/photos@old".into(),
            destroyed: vec!["tank1/photos@newer".into(), "tank1/photos@new".into()]
        }
    );
    assert_eq!(fx.commands(), ["zfs rollback -r tank1/photos@old"]);
    let said = said.join("\n");
    assert!(
        said.contains("is lost") && said.contains("tank1/photos@newer"),
        "{said}"
    );
}

//! `backup restore`: a file (or folder) copied back from a snapshot's
//! `.zfs/snapshot/NAME/` tree, or a dataset cloned from a snapshot (rolled
//! back only with `--force`). What to do is decided here from data; the
//! commands run through [`Effects`].

use std::path::{Component, Path, PathBuf};

use tappaas_effects::Effects;

use super::policy::{check_dataset_name, Policy};
use super::zfs::{Dataset, Snapshot};
use super::{run_checked, BackupError, LONG_LIMIT};

/// What ZFS and the policy say, read once for a restore.
pub struct Facts<'a> {
    pub policy: &'a Policy,
    pub datasets: &'a [Dataset],
    pub snapshots: &'a [Snapshot],
}

/// A file (or folder) restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredFile {
    /// `dataset@name` it came from.
    pub snapshot: String,
    pub from: PathBuf,
    pub to: PathBuf,
}

/// `backup restore --file PATH [--snapshot NAME] [--force]`: copy `path`
/// back from `snapshot` (default: the newest snapshot of its dataset that
/// has it). `root` is where the node's tree is (`/`; a temporary folder in
/// tests). An existing `path` is replaced only with `force`.
pub fn restore_file(
    fx: &mut dyn Effects,
    facts: &Facts<'_>,
    root: &Path,
    path: &Path,
    snapshot: Option<&str>,
    force: bool,
    note: &mut dyn FnMut(&str),
) -> Result<RestoredFile, BackupError> {
    if !path.is_absolute() {
        return Err(BackupError::refused(format!(
            "{}: give the file's full path, e.g. /tank1/photos/a.jpg",
            path.display()
        )));
    }
    if let Some(bad) = path
        .components()
        .find(|c| matches!(c, Component::ParentDir) || c.as_os_str() == ".zfs")
    {
        return Err(BackupError::refused(format!(
            "{}: a path with `{}` in it is not restored; give the file's own path",
            path.display(),
            bad.as_os_str().to_string_lossy()
        )));
    }
    // The dataset mounted deepest above the path holds it.
    let Some((dataset, mountpoint)) = facts
        .datasets
        .iter()
        .filter_map(|d| Some((d, Path::new(d.mountpoint.as_deref()?))))
        .filter(|(_, m)| path.starts_with(m))
        .max_by_key(|(_, m)| m.components().count())
    else {
        return Err(BackupError::refused(format!(
            "{}: no ZFS dataset is mounted there",
            path.display()
        )));
    };
    if facts.policy.covering(&dataset.name).is_none() {
        return Err(BackupError::refused(format!(
            "{} is on dataset {}, which the snapshot policy ({}) does not cover",
            path.display(),
            dataset.name,
            facts.policy.file.display()
        )));
    }
    let relative = path.strip_prefix(mountpoint).unwrap_or(path);
    if relative.as_os_str().is_empty() {
        return Err(BackupError::refused(format!(
            "{} is the whole dataset {}: restore it with --dataset {} --snapshot NAME",
            path.display(),
            dataset.name,
            dataset.name
        )));
    }
    let mounted = under(root, mountpoint);
    let candidates = match snapshot {
        Some(s) => vec![find_snapshot(facts.snapshots, &dataset.name, s)?],
        None => newest_first(facts.snapshots, &dataset.name),
    };
    let chosen = candidates.into_iter().find_map(|s| {
        let dir = mounted.join(".zfs/snapshot").join(&s.name);
        let from = dir.join(relative);
        std::fs::symlink_metadata(&from)
            .ok()
            .map(|_| (s, dir, from))
    });
    let Some((snap, dir, from)) = chosen else {
        return Err(BackupError::refused(match snapshot {
            Some(s) => format!("{} is not in snapshot {s}", path.display()),
            None => format!(
                "no snapshot of {} has {} (`zfs list -t snapshot {}` lists them)",
                dataset.name,
                path.display(),
                dataset.name
            ),
        }));
    };
    let to = under(root, path);
    // A symbolic link on the way must not lead out of the snapshot, nor
    // the copy out of the dataset.
    inside(&from, &dir, "the snapshot")?;
    inside(&to, &mounted, "the dataset")?;
    if std::fs::symlink_metadata(&to).is_ok() && !force {
        return Err(BackupError::refused(format!(
            "{} exists and is not overwritten: give --force to replace it with the copy in {}, \
             or copy it from {} yourself",
            path.display(),
            snap.full_name(),
            from.display()
        )));
    }
    let args: Vec<String> = vec![
        "--archive".into(),
        "--no-target-directory".into(),
        "--".into(),
        from.display().to_string(),
        to.display().to_string(),
    ];
    note(&format!(
        "restoring {} from {}",
        path.display(),
        snap.full_name()
    ));
    run_checked(fx, "cp", &args, LONG_LIMIT, note)?;
    Ok(RestoredFile {
        snapshot: snap.full_name(),
        from,
        to,
    })
}

/// `path` (absolute) below `root`.
pub(crate) fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// `path`'s folder, links resolved, is `top` or below it.
fn inside(path: &Path, top: &Path, what: &str) -> Result<(), BackupError> {
    let parent = path.parent().unwrap_or(path);
    let real = |p: &Path| {
        std::fs::canonicalize(p).map_err(|e| {
            BackupError::refused(format!(
                "{}: {e}; restore the folder it is in first",
                p.display()
            ))
        })
    };
    let (parent, top) = (real(parent)?, real(top)?);
    if parent.starts_with(&top) {
        Ok(())
    } else {
        Err(BackupError::refused(format!(
            "{} leads outside {what} ({}) through a symbolic link: not restored",
            path.display(),
            parent.display()
        )))
    }
}

/// The snapshots of `dataset`, newest first.
fn newest_first<'a>(snapshots: &'a [Snapshot], dataset: &str) -> Vec<&'a Snapshot> {
    let mut v: Vec<&Snapshot> = snapshots.iter().filter(|s| s.dataset == dataset).collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.created));
    v
}

/// Snapshot `given` (`NAME` or `DATASET@NAME`) of `dataset`.
fn find_snapshot<'a>(
    snapshots: &'a [Snapshot],
    dataset: &str,
    given: &str,
) -> Result<&'a Snapshot, BackupError> {
    let name = match given.split_once('@') {
        Some((d, n)) if d == dataset => n,
        Some((d, _)) => {
            return Err(BackupError::refused(format!(
                "snapshot {given} is of {d}, not of {dataset}"
            )))
        }
        None => given,
    };
    snapshots
        .iter()
        .find(|s| s.dataset == dataset && s.name == name)
        .ok_or_else(|| {
            BackupError::refused(format!(
                "{dataset} has no snapshot {name} (`tappaas-installer backup status` shows the newest; \
                 `zfs list -t snapshot {dataset}` lists all)"
            ))
        })
}

/// What a dataset restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoredDataset {
    /// The snapshot cloned to a new dataset beside it; the live one is
    /// untouched.
    Cloned { snapshot: String, clone: String },
    /// The live dataset rolled back (`--force`); these newer snapshots
    /// were destroyed with the changes since.
    RolledBack {
        snapshot: String,
        destroyed: Vec<String>,
    },
}

/// The clone a restore of `dataset@name` makes: beside the dataset, or
/// below it for a pool's top dataset (a clone stays in its pool).
pub fn clone_name(dataset: &str, snapshot: &str) -> String {
    match dataset.rsplit_once('/') {
        Some(_) => format!("{dataset}-restored-{snapshot}"),
        None => format!("{dataset}/{dataset}-restored-{snapshot}"),
    }
}

/// `backup restore --dataset NAME --snapshot SNAP [--force]`.
pub fn restore_dataset(
    fx: &mut dyn Effects,
    facts: &Facts<'_>,
    dataset: &str,
    snapshot: &str,
    force: bool,
    note: &mut dyn FnMut(&str),
) -> Result<RestoredDataset, BackupError> {
    check_dataset_name(dataset).map_err(BackupError::refused)?;
    if facts.policy.covering(dataset).is_none() {
        return Err(BackupError::refused(format!(
            "{dataset} is not a dataset of the snapshot policy ({})",
            facts.policy.file.display()
        )));
    }
    if !facts.datasets.iter().any(|d| d.name == dataset) {
        return Err(BackupError::refused(format!(
            "ZFS has no dataset {dataset}"
        )));
    }
    let snap = find_snapshot(facts.snapshots, dataset, snapshot)?;
    let full = snap.full_name();
    if !force {
        let clone = clone_name(dataset, &snap.name);
        if facts.datasets.iter().any(|d| d.name == clone) {
            return Err(BackupError::refused(format!(
                "{clone} exists (an earlier restore): look there, or `zfs destroy {clone}` first"
            )));
        }
        note(&format!(
            "cloning {full} to {clone}; {dataset} itself is not changed"
        ));
        run_checked(
            fx,
            "zfs",
            &["clone".into(), full.clone(), clone.clone()],
            LONG_LIMIT,
            note,
        )?;
        return Ok(RestoredDataset::Cloned {
            snapshot: full,
            clone,
        });
    }
    let destroyed: Vec<String> = newest_first(facts.snapshots, dataset)
        .into_iter()
        .filter(|s| s.created > snap.created)
        .map(Snapshot::full_name)
        .collect();
    note(&format!(
        "rolling back {dataset} to {full}: every change to {dataset} since that snapshot is lost"
    ));
    if destroyed.is_empty() {
        note("no newer snapshot exists");
    } else {
        note(&format!(
            "these {} newer snapshots are destroyed: {}",
            destroyed.len(),
            destroyed.join(", ")
        ));
    }
    run_checked(
        fx,
        "zfs",
        &["rollback".into(), "-r".into(), full.clone()],
        LONG_LIMIT,
        note,
    )?;
    Ok(RestoredDataset::RolledBack {
        snapshot: full,
        destroyed,
    })
}

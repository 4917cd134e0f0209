//! `backup config`: the node's own configuration in one archive, so a
//! lost node can be rebuilt with the same identity (docs/backup.md,
//! "Rebuilding a lost node"). It holds /etc/pve (pmxcfs's view, read as
//! files), /etc/tappaas (the redacted answer and the plan), the network
//! configuration and the SSH host keys. The archives go to a dataset the
//! snapshot policy covers (root-only: host keys and /etc/pve/priv are in
//! them), the last [`KEEP`] are kept, and on a node where the backup
//! server is a storage the same files go there too ([`super::node_config_pbs`]).
//!
//! tar writes the archive to its standard output; it is written with
//! [`Effects::write_file`] (a temporary name, fsync, rename), so an
//! interrupted run leaves the previous archives and no half of a new one.

use std::path::{Path, PathBuf};

use tappaas_effects::{Effects, Invocation, Stream};
use tappaas_plan::{node_config_dataset, NODE_CONFIG_TIMER};
use tappaas_proxmox::utc::{civil_from_days, days_from_civil};

use super::node_config_pbs::{self, PbsUpload};
use super::restore::under;
use super::status::{human_age, NodeConfigStatus};
use super::zfs::{self, Dataset};
use super::{failed, parse_datasets, run_checked, zfs_list, BackupError, LONG_LIMIT};

/// How many archives are kept in the dataset (older ones live on in its
/// snapshots as the policy keeps them).
pub const KEEP: usize = 14;
/// The archive is overdue after two days: one missed daily run is
/// tolerated, two are not.
pub const OVERDUE_SECONDS: u64 = 2 * 86_400;

/// What is archived, relative to the root: the cluster's configuration,
/// TAPPaaS's own (the redacted answer, /etc/tappaas/answer.toml, and the
/// plan), the network's. The SSH host keys are added by name.
const PATHS: [&str; 8] = [
    "etc/pve",
    "etc/tappaas",
    "etc/network/interfaces",
    "etc/network/interfaces.d",
    "etc/hosts",
    "etc/hostname",
    "etc/hostid",
    "etc/resolv.conf",
];
const PVE: &str = "etc/pve";
const SSH: &str = "etc/ssh";
/// pmxcfs's virtual files at /etc/pve's top: the cluster's live state,
/// not its configuration (and their size changes while tar reads them).
const PMXCFS_STATE: [&str; 6] = [
    ".version",
    ".members",
    ".vmlist",
    ".clusterlog",
    ".rrd",
    ".debug",
];
const SUFFIX: &str = ".tar.gz";
/// Where an archive is unpacked to be sent to the backup server, in the
/// archives' root-only folder; removed after.
const STAGE: &str = ".pbs-upload";

/// One run of `backup config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub dataset: String,
    /// The archive written (on the node's tree).
    pub archive: PathBuf,
    /// What is in it, relative to `/`.
    pub paths: Vec<String>,
    /// What was looked for and is not there.
    pub missing: Vec<String>,
    /// Older archives removed (beyond [`KEEP`]).
    pub pruned: Vec<PathBuf>,
    pub pbs: PbsUpload,
}

/// `node-config-HOST-` : every archive's name starts so.
fn prefix(hostname: &str) -> String {
    format!("node-config-{hostname}-")
}

/// `node-config-HOST-20261207T153000Z.tar.gz`: names sort by time.
pub fn archive_name(hostname: &str, now: i64) -> String {
    format!("{}{}{SUFFIX}", prefix(hostname), utc_stamp(now))
}

/// When the archive named `name` was made, if it is one of `hostname`'s.
pub fn archive_time(hostname: &str, name: &str) -> Option<i64> {
    let stamp = name.strip_prefix(&prefix(hostname))?.strip_suffix(SUFFIX)?;
    parse_utc_stamp(stamp)
}

/// The archives to remove so that the newest `keep` of `names` stay
/// (`names`: the archive names of one host, in any order).
pub fn to_prune(names: &[String], keep: usize) -> Vec<String> {
    let mut sorted = names.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let cut = sorted.len().saturating_sub(keep);
    sorted.truncate(cut);
    sorted
}

/// The paths of [`PATHS`] and the SSH host keys that exist below `root`,
/// and those that do not. /etc/pve counts as missing when it is empty:
/// pmxcfs is not mounted there (pve-cluster is not running).
pub fn archive_paths(root: &Path) -> (Vec<String>, Vec<String>) {
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for p in PATHS {
        let at = root.join(p);
        let there = if p == PVE {
            std::fs::read_dir(&at).is_ok_and(|mut d| d.next().is_some())
        } else {
            at.symlink_metadata().is_ok()
        };
        if there {
            present.push(p.to_string());
        } else {
            missing.push(p.to_string());
        }
    }
    let mut keys: Vec<String> = std::fs::read_dir(root.join(SSH))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| n.starts_with("ssh_host_"))
                .map(|n| format!("{SSH}/{n}"))
                .collect()
        })
        .unwrap_or_default();
    keys.sort_unstable();
    if keys.is_empty() {
        missing.push(format!("{SSH}/ssh_host_*"));
    }
    present.extend(keys);
    (present, missing)
}

/// `tar` creating the archive of `paths` (relative to `root`) on stdout.
pub fn tar_create_args(root: &Path, paths: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--create",
        "--gzip",
        "--numeric-owner",
        "--file",
        "-",
        "--directory",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.push(root.display().to_string());
    args.extend(PMXCFS_STATE.iter().map(|f| format!("--exclude={PVE}/{f}")));
    args.extend(paths.iter().cloned());
    args
}

/// The node's hostname, as /etc/hostname below `root` says.
fn hostname(root: &Path) -> Result<String, BackupError> {
    let file = root.join("etc/hostname");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| BackupError::Failed(format!("{}: {e}", file.display())))?;
    let name = text.trim();
    if name.is_empty() || name.contains(['/', ' ']) {
        return Err(BackupError::Failed(format!(
            "{}: `{name}` is not a hostname",
            file.display()
        )));
    }
    Ok(name.to_string())
}

/// `backup config`: archive the node's configuration now (see the
/// module). `now` is the time in the archive's name (seconds since the
/// epoch); `line` gets what is done, as it is done.
pub fn archive_node_config(
    fx: &mut dyn Effects,
    root: &Path,
    now: i64,
    line: &mut dyn FnMut(&str),
) -> Result<Archived, BackupError> {
    let host = hostname(root)?;
    let datasets = parse_datasets(&zfs_list(fx, &zfs::LIST_DATASETS)?)
        .map_err(|e| BackupError::Failed(e.to_string()))?;
    let has_tank1 = datasets.iter().any(|d| d.name == "tank1");
    let dataset = node_config_dataset(has_tank1, &host);
    if !datasets.iter().any(|d| d.name == dataset) {
        line(&format!("create the dataset {dataset}"));
        run_checked(
            fx,
            "zfs",
            &strings(&["create", "-p", &dataset]),
            LONG_LIMIT,
            line,
        )?;
    }
    let mountpoint = zfs_list(fx, &["get", "-H", "-o", "value", "mountpoint", &dataset])?;
    let mountpoint = mountpoint.trim();
    if !mountpoint.starts_with('/') {
        return Err(BackupError::Failed(format!(
            "{dataset} is not mounted at a path (mountpoint `{mountpoint}`): \
             `zfs set mountpoint=/{dataset} {dataset}`"
        )));
    }
    let dir = under(root, Path::new(mountpoint));
    // Root only: the archives hold the host keys and /etc/pve/priv.
    run_checked(
        fx,
        "chmod",
        &strings(&["0700", &dir.display().to_string()]),
        LONG_LIMIT,
        line,
    )?;

    let (paths, missing) = archive_paths(root);
    if missing.iter().any(|m| m == PVE) {
        line(&format!(
            "/{PVE} is absent or empty (Proxmox VE's cluster filesystem is not mounted here, \
             as on the test flavour): the archive has no cluster configuration"
        ));
    }
    let bytes = tar_to_memory(fx, &tar_create_args(root, &paths))?;
    let name = archive_name(&host, now);
    let archive = dir.join(&name);
    fx.write_file(&archive, 0o600, &bytes).map_err(|e| {
        BackupError::Failed(format!(
            "write {}: {e}; the older archives are untouched",
            archive.display()
        ))
    })?;
    line(&format!(
        "archived {} to {} ({} bytes)",
        paths
            .iter()
            .map(|p| format!("/{p}"))
            .collect::<Vec<_>>()
            .join(" "),
        archive.display(),
        bytes.len()
    ));

    let mut names = archives_in(&dir, &host);
    names.push(name);
    let mut pruned = Vec::new();
    for old in to_prune(&names, KEEP) {
        let path = dir.join(&old);
        run_checked(
            fx,
            "rm",
            &strings(&["-f", "--", &path.display().to_string()]),
            LONG_LIMIT,
            line,
        )?;
        pruned.push(path);
    }
    if !pruned.is_empty() {
        line(&format!(
            "removed {} older archive(s): {KEEP} are kept",
            pruned.len()
        ));
    }

    let pbs = node_config_pbs::send(fx, root, &host, &archive, &dir.join(STAGE), line)?;
    Ok(Archived {
        dataset,
        archive,
        paths: paths.iter().map(|p| format!("/{p}")).collect(),
        missing: missing.iter().map(|p| format!("/{p}")).collect(),
        pruned,
        pbs,
    })
}

/// The names of `hostname`'s archives in `dir`.
fn archives_in(dir: &Path, hostname: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| archive_time(hostname, n).is_some())
                .collect()
        })
        .unwrap_or_default();
    names.sort_unstable();
    names
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Run `tar args` and keep what it writes on stdout (the archive: the
/// configuration of one node, a few MiB at most); a failure says tar's
/// stderr, never the archive's bytes.
fn tar_to_memory(fx: &mut dyn Effects, args: &[String]) -> Result<Vec<u8>, BackupError> {
    let cmd = Invocation {
        program: "tar",
        args,
        input: None,
        limit: LONG_LIMIT,
        merge_stderr: false,
    };
    let mut bytes = Vec::new();
    let mut errors = Vec::new();
    let ran = fx
        .run(&cmd, &mut |l| match l.stream {
            Stream::Stdout => bytes.extend_from_slice(l.raw),
            Stream::Stderr => errors.push(l.text.to_string()),
        })
        .map_err(failed)?;
    if ran.status == Some(0) {
        return Ok(bytes);
    }
    Err(BackupError::Failed(format!(
        "`tar --create` of the node's configuration failed ({}): {}; no archive was written",
        ran.status
            .map_or("killed by a signal".into(), |s| format!("exit status {s}")),
        errors.join("\n")
    )))
}

/// `backup restore --node-config ARCHIVE --into DIR`: unpack `archive`
/// into `into`, an empty or new folder (made root-only), never over the
/// running system: which files go back where, and in which order, is
/// docs/backup.md's "Rebuilding a lost node".
pub fn restore_node_config(
    fx: &mut dyn Effects,
    root: &Path,
    archive: &Path,
    into: &Path,
    line: &mut dyn FnMut(&str),
) -> Result<PathBuf, BackupError> {
    if !archive.is_absolute() || !into.is_absolute() {
        return Err(BackupError::refused(
            "give full paths: --node-config /tank1/tappaas/node-config/HOST/ARCHIVE --into /root/DIR",
        ));
    }
    let on_node = under(root, archive);
    if !on_node.is_file() {
        return Err(BackupError::refused(format!(
            "{}: no such archive; `ls {}` lists them",
            archive.display(),
            archive.parent().unwrap_or(archive).display()
        )));
    }
    if into.parent().is_none() {
        return Err(BackupError::refused(
            "--into /: an archive is never unpacked over the running system; unpack it to an \
             empty folder and copy back what docs/backup.md says",
        ));
    }
    let target = under(root, into);
    if std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_some()) {
        return Err(BackupError::refused(format!(
            "{}: the folder is not empty; give a new or empty one",
            into.display()
        )));
    }
    let target_arg = target.display().to_string();
    run_checked(
        fx,
        "install",
        &strings(&["-d", "-m", "0700", &target_arg]),
        LONG_LIMIT,
        line,
    )?;
    run_checked(
        fx,
        "tar",
        &strings(&[
            "--extract",
            "--gzip",
            "--numeric-owner",
            "--preserve-permissions",
            "--file",
            &on_node.display().to_string(),
            "--directory",
            &target_arg,
        ]),
        LONG_LIMIT,
        line,
    )?;
    Ok(target)
}

/// The archive's state at `now`; `None` on a node the install laid no
/// archive timer on (`backup.snapshots = false`, or installed before).
pub fn node_config_status(root: &Path, datasets: &[Dataset], now: i64) -> Option<NodeConfigStatus> {
    if !root
        .join("etc/systemd/system")
        .join(NODE_CONFIG_TIMER)
        .exists()
    {
        return None;
    }
    let mut s = NodeConfigStatus {
        timer: NODE_CONFIG_TIMER.to_string(),
        dataset: None,
        newest: None,
        age_seconds: None,
        count: 0,
        overdue_after_seconds: OVERDUE_SECONDS,
        overdue: true,
        problem: None,
    };
    let host = match hostname(root) {
        Ok(h) => h,
        Err(e) => {
            s.problem = Some(e.to_string());
            return Some(s);
        }
    };
    let has_tank1 = datasets.iter().any(|d| d.name == "tank1");
    let dataset = node_config_dataset(has_tank1, &host);
    let mounted = datasets
        .iter()
        .find(|d| d.name == dataset)
        .and_then(|d| d.mountpoint.as_deref());
    let names = mounted
        .map(|m| archives_in(&under(root, Path::new(m)), &host))
        .unwrap_or_default();
    s.count = names.len();
    let newest = names
        .last()
        .and_then(|n| Some((n, archive_time(&host, n)?)));
    s.problem = match (mounted, newest) {
        (_, Some((name, made))) => {
            let age = u64::try_from(now - made).unwrap_or(0);
            s.newest = mounted.map(|m| format!("{}/{name}", m.trim_end_matches('/')));
            s.age_seconds = Some(age);
            (age > OVERDUE_SECONDS).then(|| {
                format!(
                    "the newest archive is {} old, more than {}",
                    human_age(age),
                    human_age(OVERDUE_SECONDS)
                )
            })
        }
        (None, None) => Some(format!("no archive yet ({dataset} does not exist)")),
        (Some(_), None) => Some("no archive yet".to_string()),
    };
    s.dataset = Some(dataset);
    s.overdue = s.problem.is_some();
    Some(s)
}

/// `20261207T153000Z`: `seconds` since the epoch, in UTC.
pub fn utc_stamp(seconds: i64) -> String {
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The seconds since the epoch of a [`utc_stamp`].
pub fn parse_utc_stamp(stamp: &str) -> Option<i64> {
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = stamp.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (h, min, s) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_sort_by_time() {
        for t in [0, 951_782_400, 1_796_700_600, 2_000_000_000, 4_102_444_799] {
            assert_eq!(parse_utc_stamp(&utc_stamp(t)), Some(t), "{}", utc_stamp(t));
        }
        assert_eq!(utc_stamp(1_796_657_400), "20261207T153000Z");
        assert!(utc_stamp(999_999_999) < utc_stamp(1_000_000_000));
        for bad in [
            "20261307T153000Z",
            "20261207 153000Z",
            "2026127T153000Z",
            "",
        ] {
            assert_eq!(parse_utc_stamp(bad), None, "{bad}");
        }
    }
}

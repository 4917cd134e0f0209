//! `tappaas-installer backup`: the node's ZFS snapshots, taken by sanoid
//! (its timer, its policy in sanoid.conf). `status` says for each dataset
//! of the policy its newest snapshot and whether it is overdue, `run`
//! takes snapshots now, `restore` brings back a file or a dataset;
//! `config` archives the node's own configuration ([`node_config`]). The
//! VMs' side ([`pbs`], [`vms`]): each guest's last backup on the Proxmox
//! Backup Server, a backup run of every guest now, a VM restored to a new
//! id.
//!
//! The deciding is pure ([`policy`], [`zfs`], [`status::evaluate`], the
//! restore's checks); every command runs through [`Effects`], so the
//! tests run it all on the recording fake; the VMs' side runs through the
//! Proxmox client, so the tests run it on the simulator. It lives in first
//! boot's crate for that client and the names first boot gives the backup
//! server's storage and job.

pub mod health;
pub mod node_config;
pub mod node_config_pbs;
pub mod pbs;
pub mod policy;
pub mod replication;
pub mod replication_guard;
pub mod replication_keys;
pub mod replication_run;
pub mod restore;
pub mod status;
pub mod vms;
pub mod zfs;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tappaas_effects::{Effects, Invocation, RunError};

pub use health::{problems, render_brief};
pub use node_config::{archive_node_config, node_config_status, restore_node_config, Archived};
pub use node_config_pbs::{parse_storage_cfg, PbsTarget, PbsUpload};
pub use pbs::{restore_vm, run_vm_backups, vm_status, NodeRun, RestoredVm, VmRestore, Waiting};
pub use policy::{parse_policy, ConfError, DatasetPolicy, Period, Policy};
pub use restore::{restore_dataset, restore_file, Facts, RestoredDataset, RestoredFile};
pub use status::{evaluate, render_status, DatasetStatus, Newest, NodeConfigStatus, Status, Timer};
pub use vms::{GuestBackup, VmBackups};
pub use zfs::{parse_datasets, parse_snapshots, Dataset, Snapshot};

/// Exit status of `backup status` when a dataset is overdue or the timer
/// is not enabled (1 stays "could not tell", an error).
pub const EXIT_OVERDUE: u8 = 4;

/// How many periods may pass without a snapshot (a dataset) or a good
/// backup (a VM) before it is overdue.
pub const OVERDUE_PERIODS: u64 = 2;

/// `3d 4h`, `51m`, `12s`: an age as the status shows it.
pub fn human_age(seconds: u64) -> String {
    let (d, h, m) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A `zfs list` or `systemctl` call.
const SHORT_LIMIT: Duration = Duration::from_secs(120);
/// A copy, a clone, a rollback, a snapshot run: as long as the data takes.
pub(crate) const LONG_LIMIT: Duration = Duration::from_secs(12 * 3600);

/// Where `backup` finds things on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// sanoid's configuration: the policy.
    pub sanoid_conf: PathBuf,
    /// Where the node's file tree is: `/`, or a temporary folder in tests
    /// (mount points and `.zfs/snapshot` are looked up below it).
    pub root: PathBuf,
}

impl BackupConfig {
    pub fn node() -> BackupConfig {
        BackupConfig::under(Path::new("/"))
    }

    pub fn under(root: &Path) -> BackupConfig {
        BackupConfig {
            sanoid_conf: root.join("etc/sanoid/sanoid.conf"),
            root: root.to_path_buf(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The policy does not parse: every problem, with its line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Policy(Vec<ConfError>),
    /// What was asked is not done (it would overwrite, it is outside the
    /// policy, it does not exist), and why.
    #[error("{0}")]
    Refused(String),
    /// Reading a file or running a command failed.
    #[error("{0}")]
    Failed(String),
}

impl BackupError {
    pub(crate) fn refused(message: impl Into<String>) -> BackupError {
        BackupError::Refused(message.into())
    }
}

/// Run `program args` to its end; its lines go to `line`; a non-zero
/// exit is an error with its last lines.
pub(crate) fn run_checked(
    fx: &mut dyn Effects,
    program: &str,
    args: &[String],
    limit: Duration,
    line: &mut dyn FnMut(&str),
) -> Result<(), BackupError> {
    run_checked_with(fx, program, args, None, limit, line)
}

/// [`run_checked`] with `input` on its stdin (where secrets go).
pub(crate) fn run_checked_with(
    fx: &mut dyn Effects,
    program: &str,
    args: &[String],
    input: Option<&[u8]>,
    limit: Duration,
    line: &mut dyn FnMut(&str),
) -> Result<(), BackupError> {
    let cmd = Invocation {
        program,
        args,
        input,
        limit,
        merge_stderr: true,
    };
    let ran = fx.run(&cmd, &mut |l| line(l.text)).map_err(failed)?;
    match ran.status {
        Some(0) => Ok(()),
        status => Err(BackupError::Failed(format!(
            "`{}` failed ({}){}",
            cmd.display(),
            status.map_or("killed by a signal".into(), |s| format!("exit status {s}")),
            if ran.tail.is_empty() {
                String::new()
            } else {
                format!(":\n{}", ran.tail.join("\n"))
            }
        ))),
    }
}

pub(crate) fn failed(e: RunError) -> BackupError {
    BackupError::Failed(e.to_string())
}

/// `program args`'s exit status and standard output (stderr apart, so a
/// warning is not read as data).
fn capture(
    fx: &mut dyn Effects,
    program: &str,
    args: &[&str],
) -> Result<(Option<i32>, String, Vec<String>), BackupError> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let cmd = Invocation {
        program,
        args: &args,
        input: None,
        limit: SHORT_LIMIT,
        merge_stderr: false,
    };
    let mut out = String::new();
    let ran = fx
        .run(&cmd, &mut |l| {
            if l.stream == tappaas_effects::Stream::Stdout {
                out.push_str(l.text);
                out.push('\n');
            }
        })
        .map_err(failed)?;
    Ok((ran.status, out, ran.tail))
}

/// The output of `zfs ARGS`, which must succeed.
pub(crate) fn zfs_list(fx: &mut dyn Effects, args: &[&str]) -> Result<String, BackupError> {
    match capture(fx, "zfs", args)? {
        (Some(0), out, _) => Ok(out),
        (status, _, tail) => Err(BackupError::Failed(format!(
            "`zfs {}` failed ({status:?}): {}",
            args.join(" "),
            tail.join("\n")
        ))),
    }
}

/// The policy as read from `config.sanoid_conf`.
pub fn load_policy(config: &BackupConfig) -> Result<Policy, BackupError> {
    let text = std::fs::read_to_string(&config.sanoid_conf).map_err(|e| {
        BackupError::Failed(format!(
            "{}: {e}; the snapshot policy is written by the install (is the sanoid package installed?)",
            config.sanoid_conf.display()
        ))
    })?;
    parse_policy(&config.sanoid_conf, &text).map_err(BackupError::Policy)
}

/// The datasets and snapshots ZFS lists now.
pub fn list_zfs(fx: &mut dyn Effects) -> Result<(Vec<Dataset>, Vec<Snapshot>), BackupError> {
    let said = |e: zfs::ListError| BackupError::Failed(e.to_string());
    let datasets = parse_datasets(&zfs_list(fx, &zfs::LIST_DATASETS)?).map_err(said)?;
    let snapshots = parse_snapshots(&zfs_list(fx, &zfs::LIST_SNAPSHOTS)?).map_err(said)?;
    Ok((datasets, snapshots))
}

/// What `systemctl is-enabled sanoid.timer` says.
pub fn timer_state(fx: &mut dyn Effects) -> Result<Timer, BackupError> {
    let (status, out, _) = capture(fx, "systemctl", &["is-enabled", status::TIMER])?;
    let state = out.lines().next().unwrap_or("").trim().to_string();
    Ok(Timer {
        unit: status::TIMER.to_string(),
        enabled: status == Some(0) && state == "enabled",
        state: if state.is_empty() {
            "unknown".into()
        } else {
            state
        },
    })
}

/// `backup status`: the policy, ZFS's snapshots and the timer, at `now`
/// (seconds since the epoch).
pub fn backup_status(
    fx: &mut dyn Effects,
    config: &BackupConfig,
    now: i64,
) -> Result<Status, BackupError> {
    let policy = load_policy(config)?;
    let (datasets, snapshots) = list_zfs(fx)?;
    let timer = timer_state(fx)?;
    let mut status = evaluate(&policy, &datasets, &snapshots, timer, now);
    status.node_config = node_config_status(&config.root, &datasets, now);
    if status.node_config.as_ref().is_some_and(|n| n.overdue) {
        status.ok = false;
    }
    Ok(status)
}

/// `backup run`: sanoid takes the snapshots the policy wants now (each
/// period whose last snapshot is older than its last preferred time);
/// its lines go to `line` as it prints them.
pub fn take_snapshots(
    fx: &mut dyn Effects,
    config: &BackupConfig,
    line: &mut dyn FnMut(&str),
) -> Result<(), BackupError> {
    // A policy that does not parse is said with its lines, not as
    // sanoid's own message.
    load_policy(config)?;
    let dir = config
        .sanoid_conf
        .parent()
        .unwrap_or(Path::new("/etc/sanoid"));
    let args = [
        "--configdir".to_string(),
        dir.display().to_string(),
        "--take-snapshots".to_string(),
        "--verbose".to_string(),
    ];
    run_checked(fx, "sanoid", &args, LONG_LIMIT, line)
}

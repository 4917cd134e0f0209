//! `tappaas-installer backup status|run|restore`: the node's ZFS
//! snapshots. The work is in `tappaas_firstboot::backup`; this is the
//! terminal side.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use tappaas_effects::Machine;
use tappaas_firstboot::backup::{
    self, BackupConfig, BackupError, Facts, RestoredDataset, EXIT_OVERDUE,
};

use crate::EXIT_INVALID;

/// `backup --help`'s text (on the subcommand, where clap reads it).
pub(crate) const LONG_ABOUT: &str = "The node's ZFS snapshots, taken by sanoid \
(sanoid.timer) as /etc/sanoid/sanoid.conf says.\n\n\
status: for each dataset of the policy its newest snapshot, its age and \
how many of each period there are; exit status 4 when one is overdue (no \
snapshot within twice its shortest period) or the timer is not enabled.\n\
run: take the snapshots that are due now.\n\
restore: a file from a snapshot, or a dataset as a clone beside it.\n\
replicate: copy tank1 to another node's tank2 now (syncoid); status shows \
each target's last copy and calls it overdue after twice the schedule's \
longest gap (exit status 4).";

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
tappaas-installer backup status --json\n  \
tappaas-installer backup restore --file /tank1/photos/a.jpg\n  \
tappaas-installer backup restore --dataset tank1/photos \\\n      \
--snapshot autosnap_2026-12-07_14:00:00_hourly")]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// For each dataset of the snapshot policy: its newest snapshot, its
    /// age, the count per period, and whether it is overdue
    Status {
        /// The same facts as a JSON object
        #[arg(long)]
        json: bool,
    },
    /// Take the snapshots that are due now (sanoid), then show the status
    Run,
    /// Copy tank1 to the replication target now (what
    /// tappaas-replication.timer runs)
    Replicate,
    /// The forced command of another node's replication key (sshd runs
    /// it; not for people)
    #[command(hide = true)]
    ReceiveGuard {
        /// The node whose key this is
        #[arg(long)]
        source: String,
    },
    /// Copy a file back from a snapshot, or clone a dataset's snapshot
    /// beside it (roll back the dataset itself only with --force)
    #[command(
        group(clap::ArgGroup::new("what").required(true).args(["file", "dataset"])),
        override_usage = "tappaas-installer backup restore --file PATH [--snapshot NAME] [--force]\n       \
tappaas-installer backup restore --dataset NAME --snapshot NAME [--force]"
    )]
    Restore {
        /// The full path of a file or folder, e.g. /tank1/photos/a.jpg:
        /// copied back to where it was, from the newest snapshot that has
        /// it; an existing file is not replaced without --force
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// A dataset of the policy, e.g. tank1/photos: the snapshot is
        /// cloned to DATASET-restored-SNAPSHOT; the dataset is untouched
        #[arg(long, value_name = "NAME", requires = "snapshot")]
        dataset: Option<String>,
        /// The snapshot, e.g. autosnap_2026-12-07_14:00:00_hourly (the
        /// part after @); `backup status` shows the newest
        #[arg(long, value_name = "NAME")]
        snapshot: Option<String>,
        /// Replace an existing file; with --dataset, roll the dataset back
        /// (`zfs rollback -r`): every later change and snapshot is lost
        #[arg(long)]
        force: bool,
    },
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An error of the backup code: refused is "you asked for something not
/// done" (exit 2), a failure is 1.
fn said(e: BackupError) -> anyhow::Result<ExitCode> {
    match e {
        BackupError::Refused(m) => {
            eprintln!("backup: {m}");
            Ok(ExitCode::from(EXIT_INVALID))
        }
        BackupError::Policy(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("the snapshot policy has {} problem(s)", errors.len());
            Ok(ExitCode::from(EXIT_INVALID))
        }
        e @ BackupError::Failed(_) => Err(e.into()),
    }
}

fn status(config: &BackupConfig, json: bool) -> anyhow::Result<ExitCode> {
    let s = match backup::backup_status(&mut Machine, config, now()) {
        Ok(s) => s,
        Err(e) => return said(e),
    };
    let (replication, text, lagging) = crate::backup_replication::status(now())?;
    if json {
        let mut value = serde_json::to_value(&s)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("replication".into(), serde_json::to_value(&replication)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}{text}", backup::render_status(&s));
    }
    Ok(if s.ok && !lagging {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_OVERDUE)
    })
}

pub fn backup(args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let config = BackupConfig::node();
    let mut fx = Machine;
    let mut print = |l: &str| println!("{l}");
    match &args.command {
        BackupCommand::Status { json } => status(&config, *json),
        BackupCommand::Run => {
            if let Err(e) = backup::take_snapshots(&mut fx, &config, &mut print) {
                return said(e);
            }
            status(&config, false)
        }
        BackupCommand::Replicate => crate::backup_replication::replicate(now()),
        BackupCommand::ReceiveGuard { source } => crate::backup_replication::receive_guard(source),
        BackupCommand::Restore {
            file,
            dataset,
            snapshot,
            force,
        } => {
            let policy = match backup::load_policy(&config) {
                Ok(p) => p,
                Err(e) => return said(e),
            };
            let (datasets, snapshots) = match backup::list_zfs(&mut fx) {
                Ok(l) => l,
                Err(e) => return said(e),
            };
            let facts = Facts {
                policy: &policy,
                datasets: &datasets,
                snapshots: &snapshots,
            };
            let done = match (file, dataset) {
                (Some(file), _) => backup::restore_file(
                    &mut fx,
                    &facts,
                    &config.root,
                    file,
                    snapshot.as_deref(),
                    *force,
                    &mut print,
                )
                .map(|r| format!("restored {} from {}", r.to.display(), r.snapshot)),
                (None, Some(dataset)) => backup::restore_dataset(
                    &mut fx,
                    &facts,
                    dataset,
                    snapshot.as_deref().unwrap_or_default(),
                    *force,
                    &mut print,
                )
                .map(|r| match r {
                    RestoredDataset::Cloned { snapshot, clone } => format!(
                        "{snapshot} is cloned to {clone} (`zfs get mountpoint {clone}` says where); \
                         `zfs destroy {clone}` when done, or sanoid cannot prune {snapshot}"
                    ),
                    RestoredDataset::RolledBack { snapshot, .. } => {
                        format!("rolled back to {snapshot}")
                    }
                }),
                (None, None) => Err(BackupError::Refused(
                    "say what to restore: --file PATH or --dataset NAME".into(),
                )),
            };
            match done {
                Ok(message) => {
                    println!("{message}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => said(e),
            }
        }
    }
}

//! `tappaas-installer backup status|run|restore`: the node's ZFS
//! snapshots and the VMs' backups on the Proxmox Backup Server. The work
//! is in `tappaas_firstboot::backup`; this is the terminal side.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use tappaas_effects::Machine;
use tappaas_firstboot::backup::replication::TargetStatus;
use tappaas_firstboot::backup::{
    self, vms, BackupConfig, BackupError, Facts, RestoredDataset, Status, VmRestore, Waiting,
    EXIT_OVERDUE,
};
use tappaas_firstboot::Config;

use crate::firstboot::proxmox;
use crate::EXIT_INVALID;

/// `backup --help`'s text (on the subcommand, where clap reads it).
pub(crate) const LONG_ABOUT: &str = "The node's ZFS snapshots, taken by sanoid \
(sanoid.timer) as /etc/sanoid/sanoid.conf says, and the VMs' backups on the \
Proxmox Backup Server (storage tappaas-pbs, job tappaas-vms).\n\n\
status: for each dataset of the policy its newest snapshot, its age and \
how many of each period there are; for each VM its last backup and the \
result of the last backup run; the node configuration archive's age; each \
replication target's last copy; exit status 4 when one is overdue (no \
snapshot within twice its shortest period, no good backup within twice the \
job's period, a failed last run, no archive within two days, no copy within \
twice the replication schedule's longest gap) or the timer is not enabled; \
--brief prints only what is wrong, as the hourly tappaas-backup-check.timer \
and `tappaas-installer status` show it.\n\
run: take the snapshots that are due now, and back up every VM now.\n\
config: archive the node's own configuration now (/etc/pve, /etc/tappaas, \
the network, the SSH host keys); tappaas-node-config.timer does it daily.\n\
replicate: copy tank1 to another node's tank2 now (syncoid); \
tappaas-replication.timer does it on the replication schedule.\n\
restore: a file from a snapshot, a dataset as a clone beside it, a VM \
from its backup to a new VM id, or a node configuration archive unpacked \
into an empty folder.";

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
tappaas-installer backup status --json\n  \
tappaas-installer backup config\n  \
tappaas-installer backup replicate\n  \
tappaas-installer backup restore --file /tank1/photos/a.jpg\n  \
tappaas-installer backup restore --dataset tank1/photos \\\n      \
--snapshot autosnap_2026-12-07_14:00:00_hourly\n  \
tappaas-installer backup restore --vm 210\n  \
tappaas-installer backup restore --vm 210 --to 210 --force\n  \
tappaas-installer backup restore --node-config \\\n      \
/tank1/tappaas/node-config/pve1/node-config-pve1-20261207T023000Z.tar.gz \\\n      \
--into /root/old-node")]
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
        #[arg(long, conflicts_with = "brief")]
        json: bool,
        /// Only what is overdue or failing, one line each (what
        /// tappaas-backup-check.service runs hourly)
        #[arg(long)]
        brief: bool,
    },
    /// Take the snapshots that are due now (sanoid), back up every VM now
    /// (Proxmox Backup Server), then show the status
    Run,
    /// Archive the node's configuration (/etc/pve, /etc/tappaas, the
    /// network, the SSH host keys) into its snapshot-covered dataset, and
    /// to the backup server when it is registered
    Config,
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
    /// Copy a file back from a snapshot, clone a dataset's snapshot beside
    /// it (roll back the dataset itself only with --force), restore a VM
    /// from its backup to a new VM id, or unpack a node configuration
    /// archive into an empty folder
    #[command(
        group(clap::ArgGroup::new("what").required(true).args(["file", "dataset", "vm", "node_config"])),
        override_usage = "tappaas-installer backup restore --file PATH [--snapshot NAME] [--force]\n       \
tappaas-installer backup restore --dataset NAME --snapshot NAME [--force]\n       \
tappaas-installer backup restore --vm ID [--backup VOLID] [--to ID]\n           [--force]\n       \
tappaas-installer backup restore --node-config ARCHIVE --into DIR"
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
        #[arg(long, value_name = "NAME", conflicts_with = "vm")]
        snapshot: Option<String>,
        /// A VM id: the VM is restored from its newest backup on the backup
        /// server to a new VM id (the next free one), not started
        #[arg(long, value_name = "ID")]
        vm: Option<u32>,
        /// With --vm: this backup (a volume id `backup status` shows, e.g.
        /// tappaas-pbs:backup/vm/210/2026-12-07T02:30:00Z), not the newest
        #[arg(long, value_name = "VOLID", conflicts_with_all = ["file", "dataset", "node_config"])]
        backup: Option<String>,
        /// With --vm: restore to this VM id; an existing VM is replaced only
        /// with --force, and only while it is stopped
        #[arg(long, value_name = "ID", conflicts_with_all = ["file", "dataset", "node_config"])]
        to: Option<u32>,
        /// Replace an existing file; with --dataset, roll the dataset back
        /// (`zfs rollback -r`): every later change and snapshot is lost;
        /// with --vm --to ID, replace that (stopped) VM's disks and
        /// configuration
        #[arg(long)]
        force: bool,
        /// A node configuration archive made by `backup config` (`backup
        /// status` shows the newest): unpacked into --into, never over the
        /// running system
        #[arg(long, value_name = "ARCHIVE", requires = "into", conflicts_with_all = ["snapshot", "force"])]
        node_config: Option<PathBuf>,
        /// With --node-config: the new or empty folder it unpacks into
        /// (made root-only)
        #[arg(
            long,
            value_name = "DIR",
            requires = "node_config",
            conflicts_with_all = ["file", "dataset", "vm"]
        )]
        into: Option<PathBuf>,
    },
}

/// `backup run`'s VM part: every VM backed up now; false when a node's
/// run failed. No backup server: said, not an error.
fn run_vms(print: &mut dyn FnMut(&str)) -> anyhow::Result<bool> {
    if !Config::node().proxmox_installed() {
        return Ok(true);
    }
    let mut px = proxmox(None)?;
    match backup::run_vm_backups(&mut px, Waiting::node(), print) {
        Ok(runs) => {
            let failed: Vec<_> = runs.iter().filter(|r| !r.ok()).collect();
            for r in &failed {
                let log = r
                    .upid
                    .as_deref()
                    .map(|u| format!("; `pvenode task log {u}` says why"))
                    .unwrap_or_default();
                eprintln!(
                    "backup: the VM backup run on {} ended with '{}'{log}",
                    r.node, r.exitstatus
                );
            }
            Ok(failed.is_empty())
        }
        Err(BackupError::Refused(m)) => {
            println!("{m}");
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
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

/// The VMs' part of the status, when this is a Proxmox node.
fn with_vms(s: Status, now: i64) -> Status {
    if !Config::node().proxmox_installed() {
        return s;
    }
    let found = proxmox(None)
        .map_err(|e| e.to_string())
        .and_then(|mut px| backup::vm_status(&mut px, now).map_err(|e| e.to_string()));
    match found {
        Ok((vms, guests)) => s.with_vms(vms, guests),
        Err(why) => s.with_vms(vms::unknown(why), Vec::new()),
    }
}

/// Everything `backup status` says at `now`: the snapshots, the archive
/// and the VMs; the replication targets; their text.
pub(crate) struct Gathered {
    pub status: Status,
    pub replication: Vec<TargetStatus>,
    pub replication_text: String,
    pub lagging: bool,
}

impl Gathered {
    pub(crate) fn ok(&self) -> bool {
        self.status.ok && !self.lagging
    }
}

/// The facts of `backup status`; `Err` with its exit status when the
/// policy could not be read (said on stderr).
pub(crate) fn gather(
    config: &BackupConfig,
    now: i64,
) -> anyhow::Result<Result<Gathered, ExitCode>> {
    let status = match backup::backup_status(&mut Machine, config, now) {
        Ok(s) => with_vms(s, now),
        Err(e) => return said(e).map(Err),
    };
    let (replication, replication_text, lagging) = crate::backup_replication::status(now)?;
    Ok(Ok(Gathered {
        status,
        replication,
        replication_text,
        lagging,
    }))
}

/// The "Backups" part of `tappaas-installer status`: the brief health,
/// or why there is none.
pub(crate) fn print_health() {
    let config = BackupConfig::node();
    println!("Backups");
    if !config.sanoid_conf.exists() {
        println!(
            "  no snapshot policy on this node ({} is missing: backup.snapshots = false, or not an installed node)",
            config.sanoid_conf.display()
        );
        return;
    }
    match gather(&config, now()) {
        Ok(Ok(g)) => {
            for line in backup::render_brief(&backup::problems(&g.status, &g.replication)).lines() {
                println!("  {line}");
            }
        }
        // The policy's own errors are said above by `gather`.
        Ok(Err(_)) => println!("  `tappaas-installer backup status` says what is wrong"),
        Err(e) => println!("  cannot tell: {e:#}"),
    }
}

fn status(config: &BackupConfig, json: bool, brief: bool) -> anyhow::Result<ExitCode> {
    let g = match gather(config, now())? {
        Ok(g) => g,
        Err(code) => return Ok(code),
    };
    if json {
        let mut value = serde_json::to_value(&g.status)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("replication".into(), serde_json::to_value(&g.replication)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if brief {
        print!(
            "{}",
            backup::render_brief(&backup::problems(&g.status, &g.replication))
        );
    } else {
        print!("{}{}", backup::render_status(&g.status), g.replication_text);
    }
    Ok(if g.ok() {
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
        BackupCommand::Status { json, brief } => status(&config, *json, *brief),
        BackupCommand::Run => {
            if let Err(e) = backup::take_snapshots(&mut fx, &config, &mut print) {
                return said(e);
            }
            let vms_ok = run_vms(&mut print)?;
            let code = status(&config, false, false)?;
            Ok(if vms_ok { code } else { ExitCode::FAILURE })
        }
        BackupCommand::Restore {
            vm: Some(vm),
            backup,
            to,
            force,
            ..
        } => {
            let ask = VmRestore {
                vm: *vm,
                backup: backup.clone(),
                to: *to,
                force: *force,
            };
            let mut px = proxmox(None)?;
            match backup::restore_vm(&mut px, &ask, Waiting::node(), &mut print) {
                Ok(r) => {
                    println!(
                        "VM {vm} is restored from {} as VM {} on {}. It is not started: \
                         check it (`qm config {}`), then `qm start {}`.",
                        r.from, r.vmid, r.node, r.vmid, r.vmid
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => said(e),
            }
        }
        BackupCommand::Config => {
            match backup::archive_node_config(&mut fx, &config.root, now(), &mut print) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => said(e),
            }
        }
        BackupCommand::Restore {
            node_config: Some(archive),
            into,
            ..
        } => {
            let into = into.clone().unwrap_or_default();
            match backup::restore_node_config(&mut fx, &config.root, archive, &into, &mut print) {
                Ok(dir) => {
                    println!(
                        "unpacked into {}; docs/backup.md (\"Rebuilding a lost node\") says what goes back where",
                        dir.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => said(e),
            }
        }
        BackupCommand::Replicate => crate::backup_replication::replicate(now()),
        BackupCommand::ReceiveGuard { source } => crate::backup_replication::receive_guard(source),
        BackupCommand::Restore {
            file,
            dataset,
            snapshot,
            force,
            ..
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

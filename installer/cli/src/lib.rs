//! The `tappaas-installer` command: one function per subcommand, so tests
//! can call them; `main.rs` only parses arguments.

mod backup;
mod backup_replication;
mod build_info;
mod commands;
mod firstboot;
mod install;
mod recovery;
mod wizard;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use backup::{BackupArgs, BackupCommand};
pub use build_info::BuildInfo;
pub use firstboot::{FirstbootArgs, ServicesArgs, ServicesCommand, StatusArgs};

/// Exit status for an answer or plan that was read but is not acceptable,
/// so scripts can tell "you asked for something impossible" from a crash.
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "tappaas-installer",
    max_term_width = 80,
    version,
    about = "Installs a TAPPaaS node: Proxmox VE on ZFS, with the pools tank1 and tank2",
    long_about = "Installs a TAPPaaS node: Proxmox VE on ZFS (rpool), the data pools \
tank1 (redundant) and tank2 (not redundant), the bridges lan and wan, and a first \
boot that creates or joins the cluster and deploys the firewall and services.\n\n\
Nothing is written to any disk by `probe`, `validate` or `plan`.",
    after_help = "Examples:\n  \
tappaas-installer probe\n  \
tappaas-installer --machine profile.json --dry-run\n  \
tappaas-installer validate answer.toml\n  \
tappaas-installer plan --answer answer.toml\n  \
tappaas-installer plan --machine profile.json --answer answer.toml --json"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand: run the wizard on a recorded machine profile
    /// (JSON from `probe --json`); only with --dry-run
    #[arg(long, value_name = "FILE")]
    pub machine: Option<PathBuf>,
    /// Without a subcommand: run the whole wizard, then print the plan
    /// instead of installing; nothing is written to any disk
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what this machine has: CPU, memory, firmware, disks, NICs
    Probe(ProbeArgs),
    /// Check an answer file and report every problem with its key and line
    Validate(ValidateArgs),
    /// Print the whole install plan without touching anything
    Plan(PlanArgs),
    /// Install this machine from an answer file (erases the planned disks)
    Install(InstallArgs),
    /// On an installed node: create or join the Proxmox cluster, register
    /// tank1/tank2, deploy the firewall and services (run once by
    /// tappaas-firstboot.service)
    Firstboot(FirstbootArgs),
    /// Show the cluster, its nodes, the storages, and what first boot has
    /// done on this node
    Status(StatusArgs),
    /// The service catalog on this node: list states, deploy one later,
    /// show the user-data a service gets
    Services(ServicesArgs),
    /// The node's ZFS snapshots: status (what is overdue), run (take them
    /// now), restore (a file or a dataset from a snapshot)
    #[command(long_about = backup::LONG_ABOUT)]
    Backup(BackupArgs),
}

#[derive(Debug, Args)]
pub struct MachineSource {
    /// Read a recorded machine profile (JSON from `probe --json`) instead
    /// of probing this machine
    #[arg(long, value_name = "FILE", conflicts_with = "sysroot")]
    pub machine: Option<PathBuf>,
    /// Probe a recorded root tree (proc/, sys/, run/udev/) instead of /
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Read this root tree instead of / (for recorded machines)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub sysroot: PathBuf,
    /// Print the machine profile as JSON (the input of `plan --machine`)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The answer file (TOML)
    #[arg(value_name = "ANSWER")]
    pub answer: PathBuf,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub source: MachineSource,
    /// The answer file (TOML)
    #[arg(long, value_name = "FILE")]
    pub answer: PathBuf,
    /// Print the plan as JSON instead of text
    #[arg(long)]
    pub json: bool,
    /// Target system flavour (default: the one on this ISO, else pve)
    #[arg(long, value_enum)]
    pub flavour: Option<FlavourArg>,
    /// Target system image (default: the one on this ISO)
    #[arg(long, value_name = "PATH")]
    pub target_image: Option<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub source: MachineSource,
    /// The answer file (TOML)
    #[arg(long, value_name = "FILE")]
    pub answer: PathBuf,
    /// Do not ask: the answer file is the consent (unattended installs)
    #[arg(long)]
    pub yes: bool,
    /// Print the plan that would run, exactly as `plan` does, and stop
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the plan as JSON
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// Do not reboot at the end
    #[arg(long)]
    pub no_reboot: bool,
    /// Show every command and its output, not only one line per step
    #[arg(long, short)]
    pub verbose: bool,
    /// Forget an interrupted install and start over
    #[arg(long)]
    pub restart: bool,
    /// Target system flavour (default: the one on this ISO, else pve)
    #[arg(long, value_enum)]
    pub flavour: Option<FlavourArg>,
    /// Target system image (default: the one on this ISO)
    #[arg(long, value_name = "PATH")]
    pub target_image: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FlavourArg {
    /// Debian with Proxmox VE
    Pve,
    /// Debian without the Proxmox packages (for tests)
    Test,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => wizard::wizard(cli.machine.as_deref(), cli.dry_run),
        Some(Command::Probe(a)) => commands::probe(&a),
        Some(Command::Validate(a)) => commands::validate(&a),
        Some(Command::Plan(a)) => commands::plan(&a),
        Some(Command::Install(a)) => install::install(&a),
        Some(Command::Firstboot(a)) => firstboot::firstboot(&a),
        Some(Command::Status(a)) => {
            let code = firstboot::status(&a)?;
            println!();
            backup::print_health();
            Ok(code)
        }
        Some(Command::Services(a)) => firstboot::services(&a),
        Some(Command::Backup(a)) => backup::backup(&a),
    }
}

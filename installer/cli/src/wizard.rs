//! No subcommand on a terminal: the wizard, then the install it confirmed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::commands::{environment, load_machine, welcome};
use crate::{MachineSource, EXIT_INVALID};

/// No subcommand on a terminal: the wizard. Without a terminal (a script,
/// a pipe) the welcome text (`commands::welcome`), as before.
pub fn wizard(machine: Option<&Path>, dry_run: bool) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    if machine.is_some() && !dry_run {
        eprintln!("--machine describes a recorded machine: use it with --dry-run");
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    // The wizard draws on stderr, so stdout may go to a file.
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        if dry_run {
            anyhow::bail!("the wizard needs a terminal (use `plan --answer FILE` in scripts)");
        }
        return welcome();
    }
    let source = MachineSource {
        machine: machine.map(Path::to_path_buf),
        sysroot: None,
    };
    let profile = load_machine(&source)?;
    let env = environment(None, None);
    // This machine: its leases are read again on the network screen (DHCP
    // may still be running now). A recorded machine keeps its own.
    let refresh: Option<tappaas_wizard::LeaseRefresh> = match machine {
        Some(_) => None,
        None => Some(Box::new(|| {
            tappaas_hardware::probe(Path::new("/"))
                .map(|p| p.nics.into_iter().map(|n| (n.name, n.dhcp)).collect())
                .unwrap_or_default()
        })),
    };
    let outcome = tappaas_wizard::app::run_interactive(profile, env, dry_run, refresh)
        .context("running the wizard on this terminal")?;
    match outcome {
        tappaas_wizard::WizardOutcome::DryRun(plan) => {
            print!("{}", tappaas_plan::render_text(&plan));
            Ok(ExitCode::SUCCESS)
        }
        tappaas_wizard::WizardOutcome::Install { plan, answer } => {
            crate::install::install_from_wizard(&plan, &answer)
        }
        tappaas_wizard::WizardOutcome::Cancelled => {
            eprintln!("Cancelled; nothing was written.");
            Ok(ExitCode::from(1))
        }
    }
}

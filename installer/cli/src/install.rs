//! `tappaas-installer install`: plan (or find an interrupted install),
//! confirm, run the engine, reboot.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use tappaas_exec::{
    look_for_interrupted_install, Engine, Found, LineProgress, LiveSystem, Persist, Secrets,
    System, NODE_LOG_DIR,
};
use tappaas_plan::{Plan, NODE_ROOT_EXISTS_AFTER, TARGET_ROOT};

use crate::commands::{environment, load_answer, load_machine};
use crate::{InstallArgs, PlanArgs, EXIT_INVALID};

/// The live system's working folder (RAM): journal, log, plan.
pub const WORK_DIR: &str = "/run/tappaas";

pub fn install(args: &InstallArgs) -> anyhow::Result<ExitCode> {
    if args.dry_run {
        // Exactly what `plan` prints: one code path for both.
        return crate::commands::plan(&PlanArgs {
            source: crate::MachineSource {
                machine: args.source.machine.clone(),
                sysroot: args.source.sysroot.clone(),
            },
            answer: args.answer.clone(),
            json: args.json,
            flavour: args.flavour,
            target_image: args.target_image.clone(),
        });
    }
    if args.source.machine.is_some() || args.source.sysroot.is_some() {
        anyhow::bail!(
            "--machine and --sysroot describe another machine: use them with --dry-run only"
        );
    }
    if !nix::unistd::Uid::effective().is_root() {
        anyhow::bail!("installing needs root (it partitions disks): run it as root, or add --dry-run to see the plan");
    }
    let answer = match load_answer(&args.answer)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let machine = load_machine(&args.source)?;
    let work = Path::new(WORK_DIR);
    let target = Path::new(TARGET_ROOT);
    if args.restart {
        for f in [tappaas_exec::JOURNAL_FILE, tappaas_exec::PLAN_FILE] {
            let _ = std::fs::remove_file(work.join(f));
        }
    }
    std::fs::create_dir_all(work).with_context(|| format!("creating {WORK_DIR}"))?;
    std::fs::create_dir_all(target).with_context(|| format!("creating {TARGET_ROOT}"))?;

    let mut system = LiveSystem;
    let found = if args.restart {
        Found::Nothing
    } else {
        look_for_interrupted_install(&mut system, &machine, work, target)
            .map_err(anyhow::Error::msg)
            .context("looking for an interrupted install")?
    };
    let plan = match found {
        Found::Interrupted { plan, done } => {
            println!(
                "An install of {} stopped after {done} of {} steps; it continues where it stopped.",
                plan.node.fqdn(),
                plan.steps.len()
            );
            println!("(To start over instead, run again with --restart.)");
            *plan
        }
        Found::Completed | Found::Nothing => {
            let env = environment(args.flavour, args.target_image.as_deref());
            match tappaas_plan::plan(&machine, &answer, &env) {
                Ok(p) => p,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("error: {e}");
                    }
                    eprintln!(
                        "no install: {} problem(s) above; nothing was written",
                        errors.len()
                    );
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            }
        }
    };

    if !args.yes && !confirm(&plan)? {
        println!("Nothing was written.");
        return Ok(ExitCode::from(EXIT_INVALID));
    }

    let mut engine = Engine::new(&plan, Secrets::from_answer(&answer), system, work, target)?
        .persist(Persist {
            after_step: NODE_ROOT_EXISTS_AFTER.to_string(),
            dir: target.join(NODE_LOG_DIR),
        });
    let tty = std::io::stdout().is_terminal();
    let mut progress = LineProgress::new(std::io::stdout(), tty, args.verbose);
    let result = engine.run(&mut |e| progress.event(e));
    let log = Path::new(WORK_DIR).join(tappaas_exec::LOG_FILE);
    match result {
        Ok(()) => {
            println!(
                "{} is installed. The full log is on the node in /{NODE_LOG_DIR}.",
                plan.node.fqdn()
            );
            finish(engine.system(), &answer.global.reboot_mode, args.no_reboot);
            Ok(ExitCode::SUCCESS)
        }
        Err(stopped) => {
            eprintln!(
                "The install stopped at step {} ({}). The log is {}; run the installer again to continue from that step.",
                stopped.index + 1,
                stopped.step,
                log.display()
            );
            if answer.global.reboot_on_error && !args.no_reboot {
                finish(engine.system(), &answer.global.reboot_mode, false);
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Show what will be erased and ask for an explicit "yes" on the terminal.
fn confirm(plan: &Plan) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "no terminal to confirm on: review the plan with --dry-run, then pass --yes (an unattended install takes the answer file as the consent)"
        );
    }
    println!("These disks will be ERASED:");
    for d in plan.disks_to_erase() {
        println!(
            "  {}  {} serial {}, {}",
            d.kernel_name,
            d.model.as_deref().unwrap_or("unknown model"),
            d.serial.as_deref().unwrap_or("(none)"),
            tappaas_hardware::human_bytes(d.size_bytes)
        );
    }
    print!("Type yes to erase them and install {}: ", plan.node.fqdn());
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

fn finish<S: System>(system: &mut S, mode: &tappaas_answer::RebootMode, no_reboot: bool) {
    if no_reboot {
        println!("Not rebooting (--no-reboot).");
        return;
    }
    let verb = match mode {
        tappaas_answer::RebootMode::Reboot => "reboot",
        tappaas_answer::RebootMode::PowerOff => "poweroff",
    };
    println!("Running systemctl {verb} ...");
    let cmd = tappaas_plan::Command::new(["systemctl", verb]);
    if let Err(e) = system.run(&cmd, None, &mut |l| println!("{l}")) {
        eprintln!("systemctl {verb} failed: {e}; restart the machine by hand");
    }
}

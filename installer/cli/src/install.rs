//! `tappaas-installer install`: plan (or find an interrupted install),
//! confirm, run the engine, reboot.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use tappaas_effects::{Effects, Machine, MountSpec};
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
    for dir in [work, target] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut system = LiveSystem::live();
    let found = if args.restart {
        Found::Nothing
    } else {
        look_for_interrupted_install(&mut system, &machine, &answer, work, target)
            .map_err(anyhow::Error::msg)
            .context("looking for an interrupted install")?
    };
    if let Some(text) = found.describe() {
        println!("{text}");
    }
    let resumed = match found {
        Found::Interrupted { plan, .. } => {
            println!("(To start over instead, run again with --restart.)");
            Some(*plan)
        }
        Found::OtherAnswer { plan, .. } => {
            tappaas_exec::start_over(&mut system, &plan, work).map_err(anyhow::Error::msg)?;
            None
        }
        Found::Completed | Found::Nothing => None,
    };
    let plan = match resumed {
        Some(plan) => plan,
        None => {
            // A journal in the work folder is of another answer (or
            // --restart): the new plan starts a new one.
            tappaas_exec::forget_interrupted_install(work).map_err(anyhow::Error::msg)?;
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

    let mut engine = new_engine(&plan, &answer, system)?;
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

/// The engine as every front end runs it: journal and log in the live
/// system's RAM, kept on the node once rpool exists.
pub(crate) fn new_engine<'p, S: System>(
    plan: &'p Plan,
    answer: &tappaas_answer::Answer,
    system: S,
) -> anyhow::Result<Engine<'p, S>> {
    let work = Path::new(WORK_DIR);
    let target = Path::new(TARGET_ROOT);
    std::fs::create_dir_all(work).with_context(|| format!("creating {WORK_DIR}"))?;
    std::fs::create_dir_all(target).with_context(|| format!("creating {TARGET_ROOT}"))?;
    Ok(
        Engine::new(plan, Secrets::from_answer(answer), system, work, target)?
            .made_from(answer)?
            .persist(Persist {
                after_step: NODE_ROOT_EXISTS_AFTER.to_string(),
                dir: target.join(NODE_LOG_DIR),
            }),
    )
}

/// The wizard's install: the engine in a thread, its events on the
/// wizard's progress screen, and the choices after a failure.
pub fn install_from_wizard(
    confirmed: &Plan,
    answer: &tappaas_answer::Answer,
) -> anyhow::Result<ExitCode> {
    use tappaas_wizard::app::{run_progress, Tui};
    use tappaas_wizard::{Charset, Progress, ProgressOutcome};

    use crate::recovery::{recover, Recovery, Shell, Terminal};

    if !nix::unistd::Uid::effective().is_root() {
        anyhow::bail!("installing needs root (it partitions disks): start the installer as root");
    }
    let charset = Charset::from_term(std::env::var("TERM").ok().as_deref());
    let (chosen, note) = plan_to_run(confirmed, answer, charset)?;
    let plan = &chosen;
    let recovery = Recovery {
        shell: Some(Shell {
            intro: "A shell, to look into the failure. Exit it to retry the step.",
            command: Box::new(|| {
                let mut bash = std::process::Command::new("/bin/bash");
                bash.arg("--login");
                bash
            }),
            refused: None,
        }),
        log: Path::new(WORK_DIR).join(tappaas_exec::LOG_FILE),
        log_name: "The log",
        log_prefix: "tappaas-install",
        after_save: "Press Enter to go back to the installer (it retries the step).",
    };
    let mut console = Terminal {
        save: save_to_usb_stick,
    };
    recover(&recovery, &mut console, &mut || {
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(line) = &note {
            let _ = tx.send(tappaas_exec::Event::Output { line: line.clone() });
        }
        let outcome = std::thread::scope(|scope| -> anyhow::Result<ProgressOutcome> {
            let engine_thread = scope.spawn(move || {
                let mut engine = match new_engine(plan, answer, LiveSystem::live()) {
                    Ok(engine) => engine,
                    // Said on the progress screen, not lost in a thread.
                    Err(e) => {
                        let _ = tx.send(engine_did_not_start(plan, &e));
                        return;
                    }
                };
                // The progress screen shows the failure from the events;
                // the result itself is not needed here.
                let _ = engine.run(&mut |e| {
                    let _ = tx.send(e.clone());
                });
            });
            let mut tui = Tui::new()?;
            let mut progress = Progress::new(plan, std::time::Instant::now());
            let outcome = run_progress(&mut tui, &mut progress, rx, charset);
            drop(tui);
            engine_thread
                .join()
                .map_err(|_| anyhow::anyhow!("the install engine stopped unexpectedly"))?;
            Ok(outcome?)
        })?;
        Ok((outcome, ()))
    })?;
    println!(
        "{} is installed. Remove the installer medium; rebooting.",
        plan.node.fqdn()
    );
    finish(&mut LiveSystem::live(), &answer.global.reboot_mode, false);
    Ok(ExitCode::SUCCESS)
}

/// The plan the wizard runs: the one just confirmed, or an interrupted
/// install of the same answer when the user chooses to resume it; and a
/// line for the progress screen about what was found.
fn plan_to_run(
    confirmed: &Plan,
    answer: &tappaas_answer::Answer,
    charset: tappaas_wizard::Charset,
) -> anyhow::Result<(Plan, Option<String>)> {
    use tappaas_wizard::app::Tui;
    use tappaas_wizard::screens::resume::{ask, ResumeChoice, ResumeOffer};

    let work = Path::new(WORK_DIR);
    let target = Path::new(TARGET_ROOT);
    for dir in [work, target] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let machine = tappaas_hardware::probe(Path::new("/"))
        .map_err(|e| anyhow::anyhow!("probing this machine: {e}"))?;
    let mut system = LiveSystem::live();
    let found = look_for_interrupted_install(&mut system, &machine, answer, work, target)
        .map_err(anyhow::Error::msg)
        .context("looking for an interrupted install")?;
    let note = found.describe();
    match found {
        Found::Interrupted { plan, done } => {
            let mut offer = ResumeOffer::new(format!(
                "An install of {} with these answers stopped after {done} of {} steps.",
                plan.node.fqdn(),
                plan.steps.len()
            ));
            let choice = {
                let mut tui = Tui::new()?;
                ask(&mut tui, &mut offer, charset)?
            };
            if choice == ResumeChoice::Resume {
                return Ok((*plan, note));
            }
            tappaas_exec::start_over(&mut system, &plan, work).map_err(anyhow::Error::msg)?;
            Ok((
                confirmed.clone(),
                Some("The interrupted install is left; this install starts over.".into()),
            ))
        }
        Found::OtherAnswer { plan, .. } => {
            tappaas_exec::start_over(&mut system, &plan, work).map_err(anyhow::Error::msg)?;
            Ok((confirmed.clone(), note))
        }
        Found::Completed | Found::Nothing => {
            tappaas_exec::forget_interrupted_install(work).map_err(anyhow::Error::msg)?;
            Ok((confirmed.clone(), None))
        }
    }
}

/// The engine could not start (e.g. its journal cannot be written): a
/// failure of the first step, with the reason and what to do.
fn engine_did_not_start(plan: &Plan, error: &anyhow::Error) -> tappaas_exec::Event {
    tappaas_exec::Event::Failed {
        index: 0,
        id: plan.steps.first().map(|s| s.id.clone()).unwrap_or_default(),
        failure: tappaas_exec::CommandFailure {
            what: "start the install engine".into(),
            status: None,
            message: format!(
                "{error:#}. Nothing was run. Restart the installer to look for an interrupted install again, or start over with `tappaas-installer install --restart`."
            ),
            output_tail: Vec::new(),
        },
    }
}

/// Copy a log onto the first FAT partition of a removable disk (a USB
/// stick), so it can be read on another machine; `prefix` names the copy.
/// The stick is mounted through the effects crate's guard.
pub(crate) fn save_to_usb_stick(source: &Path, prefix: &str) -> Result<String, String> {
    let machine = tappaas_hardware::probe(Path::new("/")).map_err(|e| e.to_string())?;
    let partition = machine
        .disks
        .iter()
        .filter(|d| {
            !d.boot_medium && (d.removable || d.transport == tappaas_hardware::Transport::Usb)
        })
        .flat_map(|d| d.partitions.iter())
        .find(|p| p.filesystem.as_ref().is_some_and(|f| f.fs_type == "vfat"))
        .ok_or("no FAT-formatted USB stick found: plug one in and choose Save logs again")?;
    let mnt = Path::new(WORK_DIR).join("usb");
    std::fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("{prefix}-{secs}.log");
    copy_log_onto(
        &mut Machine,
        &format!("/dev/{}", partition.name),
        &mnt,
        source,
        &name,
    )
}

/// Copy `source` as `name` onto the filesystem of `dev`, mounted at `mnt`
/// through `fx`'s guard: unmounted again (also when the copy fails) only
/// if mounted here, so a stick mounted there already is left as it was.
fn copy_log_onto(
    fx: &mut impl Effects,
    dev: &str,
    mnt: &Path,
    source: &Path,
    name: &str,
) -> Result<String, String> {
    let mount = fx
        .mount(&MountSpec::new(dev, mnt))
        .map_err(|e| format!("mounting {dev} failed: {e}"))?;
    // A plain copy: FAT keeps no Unix mode to set, and unmounting flushes it.
    let copied = std::fs::copy(source, mnt.join(name));
    let unmounted = mount.close();
    copied.map_err(|e| format!("copying the log to {dev}: {e}"))?;
    if let Err(e) = unmounted {
        return Err(format!(
            "the log was written to {dev} but unmounting failed ({e}): run `umount {}` before unplugging",
            mnt.display()
        ));
    }
    Ok(format!("{name} on {dev}"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use tappaas_effects::{Call, Recorder};

    fn unmounts(fx: &Recorder) -> Vec<Call> {
        fx.calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Unmount { .. }))
            .collect()
    }

    #[test]
    fn the_log_is_copied_onto_the_stick_mounted_and_unmounted_by_the_guard() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let log = tmp.path().join("install.log");
        std::fs::write(&log, "== step copy\n").expect("write");
        let mnt = tmp.path().join("usb");
        std::fs::create_dir_all(&mnt).expect("mkdir");
        let mut fx = Recorder::new();

        let saved = copy_log_onto(&mut fx, "/dev/sdz1", &mnt, &log, "tappaas-install-1.log");
        assert_eq!(saved.as_deref(), Ok("tappaas-install-1.log on /dev/sdz1"));
        assert_eq!(
            std::fs::read_to_string(mnt.join("tappaas-install-1.log")).expect("copied"),
            "== step copy\n"
        );
        assert_eq!(
            fx.calls(),
            [
                Call::Mount {
                    spec: MountSpec::new("/dev/sdz1", &mnt)
                },
                Call::Unmount {
                    target: mnt.clone()
                }
            ]
        );
    }

    #[test]
    fn a_failed_copy_still_unmounts_and_a_stick_mounted_before_stays() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("no.log");
        let mnt = tmp.path().join("usb");
        std::fs::create_dir_all(&mnt).expect("mkdir");

        let mut fx = Recorder::new();
        let e = copy_log_onto(&mut fx, "/dev/sdz1", &mnt, &missing, "x.log").expect_err("no log");
        assert!(e.contains("copying the log to /dev/sdz1"), "{e}");
        assert_eq!(
            unmounts(&fx),
            [Call::Unmount {
                target: mnt.clone()
            }]
        );

        let log = tmp.path().join("install.log");
        std::fs::write(&log, "line\n").expect("write");
        let mut fx = Recorder::new().already_mounted(&mnt);
        copy_log_onto(&mut fx, "/dev/sdz1", &mnt, &log, "y.log").expect("saved");
        assert_eq!(unmounts(&fx), [], "mounted before: left mounted");
    }
}

//! Finding an install that was interrupted, so running the installer again
//! with the same answer finishes it, and with another answer starts over
//! (saying so).

use std::path::Path;

use tappaas_answer::Answer;
use tappaas_hardware::MachineProfile;
use tappaas_plan::{own_pool_check, Action, Command, Plan};

use crate::engine::{answer_digest, ANSWER_DIGEST_FILE, JOURNAL_FILE, PLAN_FILE};
use crate::journal::Journal;
use crate::runner::{forget, plan_digest};
use crate::system::System;

/// Where, under the node's root, the engine keeps journal, log and plan.
pub const NODE_LOG_DIR: &str = "var/log/tappaas";

#[derive(Debug)]
pub enum Found {
    Nothing,
    /// An install of this plan, made from this answer, stopped before its
    /// end; `done` steps of it are finished. rpool is imported at the
    /// target root when it was the place the journal was found.
    Interrupted {
        plan: Box<Plan>,
        done: usize,
    },
    /// An install stopped before its end, but it was made from another
    /// answer (or one whose digest was not kept): it is not continued.
    /// Its rpool, if it was imported to read this, is exported again.
    OtherAnswer {
        plan: Box<Plan>,
        done: usize,
        /// The digest of the answer it was made from, when kept.
        found: Option<String>,
        /// The digest of the answer given now.
        given: String,
    },
    /// The last install on these disks ran to its end (a re-install).
    Completed,
}

impl Found {
    /// The interrupted install's plan, whichever answer it came from.
    pub fn interrupted_plan(&self) -> Option<&Plan> {
        match self {
            Found::Interrupted { plan, .. } | Found::OtherAnswer { plan, .. } => Some(plan),
            Found::Nothing | Found::Completed => None,
        }
    }

    /// One paragraph for the console or the log: what was found and what
    /// happens now.
    pub fn describe(&self) -> Option<String> {
        match self {
            Found::Interrupted { plan, done } => Some(format!(
                "An install of {} stopped after {done} of {} steps; it continues where it stopped.",
                plan.node.fqdn(),
                plan.steps.len()
            )),
            Found::OtherAnswer {
                plan,
                done,
                found,
                given,
            } => Some(format!(
                "An install of {} (plan {}, answer {}) stopped after {done} of {} steps, but this answer is {given}: it is not continued, the install starts over with a new plan from this answer.",
                plan.node.fqdn(),
                short(&plan_digest(plan)),
                found.as_deref().map(short).unwrap_or("not recorded"),
                plan.steps.len()
            )),
            Found::Nothing | Found::Completed => None,
        }
    }
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

/// Look in the live system's work folder (same boot), then on the rpool
/// that this answer's boot disks carry (after a reboot or power cut). Only
/// the partitions this answer plans for rpool are searched, and a pool
/// found there is used only when every device it has is one of them; a
/// pool imported here is exported again unless its install continues.
pub fn look_for_interrupted_install<S: System>(
    system: &mut S,
    machine: &MachineProfile,
    answer: &Answer,
    work_dir: &Path,
    target_root: &Path,
) -> Result<Found, String> {
    let given = answer_digest(answer);
    if let Some(found) = read_state(work_dir, &given)? {
        return Ok(found);
    }
    let devices = tappaas_plan::planned_rpool_devices(machine, answer);
    let holds_rpool = machine.disks.iter().any(|d| {
        !d.boot_medium
            && d.zfs_pools.iter().any(|p| p == "rpool")
            && devices
                .iter()
                .any(|dev| dev.starts_with(&format!("{}-part", d.stable_path())))
    });
    if !holds_rpool {
        return Ok(Found::Nothing);
    }
    let root = target_root.display().to_string();
    let quiet = |system: &mut S, argv: &[String]| -> bool {
        let cmd = Command::new(argv.iter().cloned());
        matches!(system.run(&cmd, None, &mut |_| {}), Ok(Some(0)))
    };
    // -f: the pool was last used by the live system of an earlier boot.
    let mut import: Vec<String> = ["zpool", "import", "-N", "-f", "-R", &root]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for dev in &devices {
        import.push("-d".into());
        import.push(dev.clone());
    }
    import.push("rpool".into());
    if !quiet(system, &import) {
        return Ok(Found::Nothing);
    }
    let export = |system: &mut S| {
        quiet(system, &["zpool".into(), "export".into(), "rpool".into()]);
    };
    let check = [
        "sh".to_string(),
        "-c".into(),
        own_pool_check("rpool", &devices),
    ];
    if !quiet(system, &check) {
        // Half of it elsewhere (a mirror with a foreign half): not ours.
        export(system);
        return Ok(Found::Nothing);
    }
    let found = if quiet(
        system,
        &["zfs".into(), "mount".into(), "rpool/ROOT/pve-1".into()],
    ) {
        read_state(&target_root.join(NODE_LOG_DIR), &given)
    } else {
        Ok(None)
    };
    let found = match found {
        Ok(Some(Found::Interrupted { plan, done })) => {
            // The engine reads its journal from the work folder, as in the
            // same boot: the node's copy becomes that journal.
            match copy_state(&target_root.join(NODE_LOG_DIR), work_dir) {
                Ok(()) => return Ok(Found::Interrupted { plan, done }),
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    // Not continued (or not readable): leave the pool as it was found.
    export(system);
    Ok(found?.unwrap_or(Found::Nothing))
}

fn copy_state(from: &Path, work_dir: &Path) -> Result<(), String> {
    for file in [JOURNAL_FILE, PLAN_FILE, ANSWER_DIGEST_FILE] {
        std::fs::copy(from.join(file), work_dir.join(file)).map_err(|e| {
            format!(
                "copying {} to {}: {e}",
                from.join(file).display(),
                work_dir.display()
            )
        })?;
    }
    Ok(())
}

/// Journal, plan and answer digest in `dir`: what they say about the
/// install, compared with the answer given now (`given`).
fn read_state(dir: &Path, given: &str) -> Result<Option<Found>, String> {
    let plan_path = dir.join(PLAN_FILE);
    let journal_path = dir.join(JOURNAL_FILE);
    let Ok(text) = std::fs::read_to_string(&plan_path) else {
        return Ok(None);
    };
    let plan = Plan::from_json(&text).map_err(|e| format!("{}: {e}", plan_path.display()))?;
    let digest = plan_digest(&plan);
    match Journal::digest_at(&journal_path).map_err(|e| e.to_string())? {
        Some(d) if d == digest => {}
        _ => return Ok(None),
    }
    let journal = Journal::open(&journal_path, &digest).map_err(|e| e.to_string())?;
    let done = plan.steps.iter().filter(|s| journal.is_done(&s.id)).count();
    // The last step only unmounts and exports: it can never be recorded
    // as done on the disk it exports.
    let all_but_last = plan
        .steps
        .iter()
        .take(plan.steps.len().saturating_sub(1))
        .all(|s| journal.is_done(&s.id));
    if all_but_last {
        return Ok(Some(Found::Completed));
    }
    let found = std::fs::read_to_string(dir.join(ANSWER_DIGEST_FILE))
        .ok()
        .map(|s| s.trim().to_string());
    let plan = Box::new(plan);
    if found.as_deref() == Some(given) {
        Ok(Some(Found::Interrupted { plan, done }))
    } else {
        Ok(Some(Found::OtherAnswer {
            plan,
            done,
            found,
            given: given.to_string(),
        }))
    }
}

/// Forget an interrupted install in the work folder, so the next engine
/// starts a new journal (the start over after `Found::OtherAnswer`, or
/// `--restart`).
pub fn forget_interrupted_install(work_dir: &Path) -> Result<(), String> {
    forget(&work_dir.join(JOURNAL_FILE)).map_err(|e| e.to_string())?;
    for file in [PLAN_FILE, ANSWER_DIGEST_FILE] {
        match std::fs::remove_file(work_dir.join(file)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", work_dir.join(file).display())),
        }
    }
    Ok(())
}

/// Start over instead of continuing the interrupted install of `plan`: its
/// own last step unmounts what it mounted and exports its rpool (only when
/// the pool's devices are that plan's, as always), then the work folder
/// forgets it.
pub fn start_over<S: System>(system: &mut S, plan: &Plan, work_dir: &Path) -> Result<(), String> {
    for action in plan.steps.last().iter().flat_map(|s| s.actions.iter()) {
        let Action::Run(command) = action else {
            continue;
        };
        let mut out = Vec::new();
        match system.run(command, None, &mut |l| out.push(l.to_string())) {
            Ok(Some(0)) => {}
            Ok(status) => {
                return Err(format!(
                    "leaving the interrupted install: `{command}` ended with status {}: {}",
                    status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "none (a signal)".into()),
                    out.join(" ")
                ))
            }
            Err(e) => return Err(format!("leaving the interrupted install: `{command}`: {e}")),
        }
    }
    forget_interrupted_install(work_dir)
}

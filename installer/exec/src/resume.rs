//! Finding an install that was interrupted, so running the installer again
//! finishes it instead of starting over (or refusing the half-made disks).

use std::path::Path;

use tappaas_hardware::MachineProfile;
use tappaas_plan::{Command, Plan};

use crate::engine::{plan_digest, JOURNAL_FILE, PLAN_FILE};
use crate::journal::Journal;
use crate::system::System;

/// Where, under the node's root, the engine keeps journal, log and plan.
pub const NODE_LOG_DIR: &str = "var/log/tappaas";

#[derive(Debug)]
pub enum Found {
    Nothing,
    /// An install of this plan stopped before its end; `done` steps of it
    /// are finished. rpool is imported at the target root when it was the
    /// place the journal was found.
    Interrupted {
        plan: Box<Plan>,
        done: usize,
    },
    /// The last install on these disks ran to its end (a re-install).
    Completed,
}

/// Look in the live system's work folder (same boot), then on an rpool the
/// disks carry (after a reboot or power cut).
pub fn look_for_interrupted_install<S: System>(
    system: &mut S,
    machine: &MachineProfile,
    work_dir: &Path,
    target_root: &Path,
) -> Result<Found, String> {
    if let Some(found) = read_state(work_dir)? {
        return Ok(found);
    }
    if !machine
        .disks
        .iter()
        .any(|d| !d.boot_medium && d.zfs_pools.iter().any(|p| p == "rpool"))
    {
        return Ok(Found::Nothing);
    }
    let root = target_root.display().to_string();
    let quiet = |system: &mut S, argv: &[&str]| -> bool {
        let cmd = Command::new(argv.iter().copied());
        matches!(system.run(&cmd, None, &mut |_| {}), Ok(Some(0)))
    };
    // -f: the pool was last used by the live system of an earlier boot.
    if !quiet(
        system,
        &["zpool", "import", "-N", "-f", "-R", &root, "rpool"],
    ) {
        return Ok(Found::Nothing);
    }
    let mounted = quiet(system, &["zfs", "mount", "rpool/ROOT/pve-1"]);
    let found = if mounted {
        read_state(&target_root.join(NODE_LOG_DIR))?
    } else {
        None
    };
    match found {
        Some(Found::Interrupted { plan, done }) => {
            // The engine reads its journal from the work folder, as in the
            // same boot: the node's copy becomes that journal.
            let from = target_root.join(NODE_LOG_DIR);
            for file in [JOURNAL_FILE, PLAN_FILE] {
                std::fs::copy(from.join(file), work_dir.join(file)).map_err(|e| {
                    format!(
                        "copying {} to {}: {e}",
                        from.join(file).display(),
                        work_dir.display()
                    )
                })?;
            }
            Ok(Found::Interrupted { plan, done })
        }
        other => {
            // Not ours to continue: leave the pool as it was found.
            quiet(system, &["zpool", "export", "rpool"]);
            Ok(other.unwrap_or(Found::Nothing))
        }
    }
}

/// Journal and plan in `dir`: what they say about the install.
fn read_state(dir: &Path) -> Result<Option<Found>, String> {
    let plan_path = dir.join(PLAN_FILE);
    let journal_path = dir.join(JOURNAL_FILE);
    let Ok(text) = std::fs::read_to_string(&plan_path) else {
        return Ok(None);
    };
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not a plan this installer can read: {e}",
            plan_path.display()
        )
    })?;
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
        Ok(Some(Found::Completed))
    } else {
        Ok(Some(Found::Interrupted {
            plan: Box::new(plan),
            done,
        }))
    }
}

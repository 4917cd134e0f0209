//! The journaled step runner: the one loop the install engine and first
//! boot run their steps through (and what later work adds), so both keep
//! one journal policy and report the same typed events.
//!
//! The policy: the journal is keyed by the plan's digest (a journal of
//! another plan is refused), every record is fsynced before the step it
//! records goes on, and a journal that cannot be written stops the run at
//! that step: a step that ran but is not recorded would be run again after
//! a power cut, and one recorded but not run would be skipped. A run
//! resumes where the journal says it stopped; [`forget`] starts over.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tappaas_plan::Plan;

use crate::journal::{Journal, JournalError};
use crate::{CommandFailure, Event, StepInfo};

/// The digest that names a plan in its journal.
pub fn plan_digest(plan: &Plan) -> String {
    let digest = Sha256::digest(plan.to_json().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One step as the runner sees it; what it does is the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub title: String,
    /// Runs in every run, even when the journal says it is done: it looks
    /// at the machine as it is now (a disk check, a wait for a service).
    pub always_runs: bool,
}

/// How a step's body ended when it did not stop the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepEnd {
    /// Finished and recorded as done: a later run skips it.
    Done,
    /// Finished with nothing to do this time; not recorded, so a later run
    /// looks again.
    NotRecorded,
    /// Failed without stopping the run (its own events said why): not
    /// recorded and not reported finished; a later step decides whether
    /// the run fails.
    FailedGoOn,
}

/// The bodies of a run's steps: the install's actions, first boot's
/// Proxmox calls.
pub trait StepBodies {
    /// Run step `index` of the list given to [`Runner::run`]; `Err` stops
    /// the run there.
    fn run_step(
        &mut self,
        index: usize,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<StepEnd, CommandFailure>;

    /// After step `index` is done, in this run or an earlier one (the
    /// install keeps its journal on the node from a given step on).
    fn after_step(
        &mut self,
        _index: usize,
        _journal: &mut Journal,
        _emit: &mut dyn FnMut(&Event),
    ) -> Result<(), CommandFailure> {
        Ok(())
    }

    /// A line for the run's log file, when it keeps one.
    fn log(&mut self, _line: &str) {}
}

/// The run stopped: at which step, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub index: usize,
    pub step: String,
    pub failure: CommandFailure,
}

/// Runs steps in order, each journaled, reporting [`Event`]s.
pub struct Runner {
    journal: Journal,
    started: Instant,
}

impl Runner {
    /// The journal at `path` for `plan`: what an earlier run of the same
    /// plan recorded is skipped (resume); its folder is made if missing.
    pub fn open(path: &Path, plan: &Plan) -> Result<Runner, JournalError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ok(Runner {
            journal: Journal::open(path, &plan_digest(plan))?,
            started: Instant::now(),
        })
    }

    /// Time since the runner was opened.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Run every step of `steps` not yet done, through `bodies`, stopping at
    /// the first failure (after reporting [`Event::Failed`]).
    pub fn run(
        &mut self,
        steps: &[Step],
        bodies: &mut dyn StepBodies,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), Stopped> {
        emit(&Event::Started {
            steps: steps
                .iter()
                .map(|s| StepInfo {
                    id: s.id.clone(),
                    title: s.title.clone(),
                })
                .collect(),
        });
        for (index, step) in steps.iter().enumerate() {
            let stop = |bodies: &mut dyn StepBodies,
                        emit: &mut dyn FnMut(&Event),
                        failure: CommandFailure| {
                bodies.log(&format!(
                    "!! step {} failed: {} (exit status {}): {}",
                    step.id,
                    failure.what,
                    failure
                        .status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "none".into()),
                    failure.message
                ));
                emit(&Event::Failed {
                    index,
                    id: step.id.clone(),
                    failure: failure.clone(),
                });
                Stopped {
                    index,
                    step: step.id.clone(),
                    failure,
                }
            };
            if !step.always_runs && self.journal.is_done(&step.id) {
                bodies.log(&format!("step {} already done in an earlier run", step.id));
                emit(&Event::StepSkipped {
                    index,
                    id: step.id.clone(),
                });
                if let Err(f) = bodies.after_step(index, &mut self.journal, emit) {
                    return Err(stop(bodies, emit, f));
                }
                continue;
            }
            bodies.log(&format!("== step {}: {}", step.id, step.title));
            emit(&Event::StepStarted {
                index,
                id: step.id.clone(),
                title: step.title.clone(),
            });
            if let Err(e) = self.journal.started(&step.id) {
                return Err(stop(bodies, emit, journal_failure(&step.id, &e)));
            }
            let began = Instant::now();
            match bodies.run_step(index, emit) {
                Err(f) => return Err(stop(bodies, emit, f)),
                Ok(StepEnd::FailedGoOn) => continue,
                Ok(StepEnd::NotRecorded) => {}
                Ok(StepEnd::Done) => {
                    if let Err(e) = self.journal.done(&step.id) {
                        return Err(stop(bodies, emit, journal_failure(&step.id, &e)));
                    }
                }
            }
            emit(&Event::StepFinished {
                index,
                id: step.id.clone(),
                elapsed: began.elapsed(),
            });
            if let Err(f) = bodies.after_step(index, &mut self.journal, emit) {
                return Err(stop(bodies, emit, f));
            }
        }
        emit(&Event::Finished {
            elapsed: self.started.elapsed(),
        });
        Ok(())
    }
}

/// Start over: forget the journal at `path`, so the next run of its plan
/// runs every step again.
pub fn forget(path: &Path) -> Result<(), JournalError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(JournalError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn journal_failure(step: &str, e: &JournalError) -> CommandFailure {
    CommandFailure {
        what: format!("record step {step} in the journal"),
        status: None,
        message: format!(
            "{e}. The run stops here: a step the journal does not record would be done twice, \
             or skipped, after an interruption. Make the journal's folder writable (is its disk \
             full or read-only?), then run again."
        ),
        output_tail: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps whose bodies end as told, recording which ran.
    struct Scripted {
        ends: Vec<Result<StepEnd, CommandFailure>>,
        ran: Vec<usize>,
    }

    impl StepBodies for Scripted {
        fn run_step(
            &mut self,
            index: usize,
            _emit: &mut dyn FnMut(&Event),
        ) -> Result<StepEnd, CommandFailure> {
            self.ran.push(index);
            self.ends[index].clone()
        }
    }

    fn steps(ids: &[&str]) -> Vec<Step> {
        ids.iter()
            .map(|id| Step {
                id: id.to_string(),
                title: format!("do {id}"),
                always_runs: *id == "check",
            })
            .collect()
    }

    fn plan() -> Plan {
        serde_json::from_str(include_str!(
            "../../../tests/fixtures/plans/qemu-vm/plan.json"
        ))
        .expect("the golden plan reads")
    }

    #[test]
    fn resumes_skips_what_is_done_but_not_what_always_runs_or_was_not_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j/journal.jsonl");
        let plan = plan();
        let list = steps(&["check", "a", "b", "c"]);
        let failure = CommandFailure {
            what: "c".into(),
            status: Some(1),
            message: "no".into(),
            output_tail: Vec::new(),
        };
        let mut first = Scripted {
            ends: vec![
                Ok(StepEnd::Done),
                Ok(StepEnd::Done),
                Ok(StepEnd::NotRecorded),
                Err(failure),
            ],
            ran: Vec::new(),
        };
        let stopped = Runner::open(&path, &plan)
            .expect("open")
            .run(&list, &mut first, &mut |_| {})
            .expect_err("c fails");
        assert_eq!((stopped.index, stopped.step.as_str()), (3, "c"));

        let mut second = Scripted {
            ends: vec![Ok(StepEnd::Done); 4],
            ran: Vec::new(),
        };
        let mut events = Vec::new();
        Runner::open(&path, &plan)
            .expect("reopen")
            .run(&list, &mut second, &mut |e| events.push(e.clone()))
            .expect("finishes");
        assert_eq!(second.ran, [0, 2, 3], "a was done; check always runs");
        assert!(events.contains(&Event::StepSkipped {
            index: 1,
            id: "a".into()
        }));

        forget(&path).expect("forget");
        let mut third = Scripted {
            ends: vec![Ok(StepEnd::Done); 4],
            ran: Vec::new(),
        };
        Runner::open(&path, &plan)
            .expect("open anew")
            .run(&list, &mut third, &mut |_| {})
            .expect("finishes");
        assert_eq!(third.ran, [0, 1, 2, 3], "started over");
    }
}

//! An install cut by a power failure at any point: what a step wrote is
//! synced before the journal records it, and a rerun reaches the same end.

mod common;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use common::*;
use tappaas_exec::{DiskIdentity, Engine, Event, Secrets, System, JOURNAL_FILE};
use tappaas_plan::{Action, Command, Plan};

/// The effects of the engine on a machine that can lose power: files and
/// links written stay in the page cache (`pending`) until a sync makes
/// them durable; a power cut at operation `cut_at` (every command, file,
/// link, disk check and sync counts one) drops what is pending and fails
/// every later operation, as a dead machine would.
#[derive(Default)]
struct PowerCut {
    durable: BTreeMap<PathBuf, String>,
    pending: BTreeMap<PathBuf, String>,
    ops: usize,
    cut_at: Option<usize>,
    commands: Vec<String>,
    disks: Vec<(String, DiskIdentity)>,
    /// The journal the engine writes, to see when a step is recorded done.
    journal: PathBuf,
    /// At each sync: how many steps the journal recorded done by then.
    syncs: Vec<usize>,
}

impl PowerCut {
    fn new(plan: &Plan, journal: PathBuf) -> Self {
        PowerCut {
            disks: recorder_for(plan).disks,
            journal,
            ..PowerCut::default()
        }
    }

    fn op(&mut self) -> io::Result<()> {
        self.ops += 1;
        match self.cut_at {
            Some(at) if self.ops >= at => {
                if self.ops == at {
                    self.pending.clear();
                }
                Err(io::Error::other("power cut"))
            }
            _ => Ok(()),
        }
    }

    /// What is on the disks once the machine is off, by path under the
    /// target root `root`.
    fn end_state(&self, root: &Path) -> BTreeMap<PathBuf, String> {
        let mut all = self.durable.clone();
        all.extend(self.pending.clone());
        all.into_iter()
            .map(|(p, c)| (p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p), c))
            .collect()
    }
}

impl System for PowerCut {
    fn run(
        &mut self,
        c: &Command,
        _stdin: Option<&str>,
        _line: &mut dyn FnMut(&str),
    ) -> io::Result<Option<i32>> {
        self.op()?;
        self.commands.push(c.to_string());
        Ok(Some(0))
    }

    fn write_file(&mut self, path: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
        self.op()?;
        self.pending.insert(
            path.to_path_buf(),
            format!("{mode:o} {}", String::from_utf8_lossy(content)),
        );
        Ok(())
    }

    fn symlink(&mut self, path: &Path, target: &str) -> io::Result<()> {
        self.op()?;
        self.pending
            .insert(path.to_path_buf(), format!("-> {target}"));
        Ok(())
    }

    fn disk_identity(&mut self, path: &str) -> io::Result<Option<DiskIdentity>> {
        self.op()?;
        Ok(self
            .disks
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, d)| d.clone()))
    }

    fn sync(&mut self, _path: &Path) -> io::Result<()> {
        self.op()?;
        let journal = std::fs::read_to_string(&self.journal).unwrap_or_default();
        self.syncs
            .push(journal.matches("\"record\":\"done\"").count());
        let pending = std::mem::take(&mut self.pending);
        self.durable.extend(pending);
        Ok(())
    }
}

fn power_cut_engine<'p>(
    plan: &'p Plan,
    answer: &tappaas_answer::Answer,
    system: PowerCut,
    d: &Dirs,
) -> Engine<'p, PowerCut> {
    Engine::new(
        plan,
        Secrets::from_answer(answer),
        system,
        &d.work,
        &d.target,
    )
    .expect("engine")
}

/// Commands of the plan's steps from `from` on, in order.
fn commands_from(plan: &Plan, from: usize) -> Vec<String> {
    plan.steps[from..]
        .iter()
        .flat_map(|s| s.actions.iter())
        .filter_map(|a| match a {
            Action::Run(c) => Some(c.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn what_a_step_wrote_is_synced_before_the_journal_records_it_done() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let system = PowerCut::new(&plan, d.work.join(JOURNAL_FILE));
    let mut engine = power_cut_engine(&plan, &answer, system, &d);
    let (r, _) = collect(&mut engine);
    assert!(r.is_ok(), "{r:?}");
    let sys = engine.system();
    // One sync per step, each before that step's record: at the sync of
    // step i the journal holds the i steps before it, not step i.
    let expected: Vec<usize> = (0..plan.steps.len()).collect();
    assert_eq!(sys.syncs, expected);
    assert!(sys.pending.is_empty(), "nothing left unsynced at the end");
}

/// The proof of resumability: the install is interrupted (a power cut)
/// at every point, after each step and before each of its actions and
/// syncs, and run again; every time it ends in the same state as an
/// install that was never interrupted, and no step recorded done runs
/// again.
#[test]
fn an_install_cut_at_any_point_resumes_to_the_same_end_state() {
    let (plan, answer) = qemu_plan();
    let reference = {
        let d = dirs();
        let system = PowerCut::new(&plan, d.work.join(JOURNAL_FILE));
        let mut engine = power_cut_engine(&plan, &answer, system, &d);
        let (r, _) = collect(&mut engine);
        assert!(r.is_ok(), "{r:?}");
        let sys = engine.system();
        assert_eq!(sys.commands, commands_from(&plan, 0));
        (sys.end_state(&d.target), sys.ops)
    };
    let (reference_state, points) = reference;
    let mut resumed_fine = 0;
    let mut failures = Vec::new();
    for cut_at in 1..=points {
        let d = dirs();
        let mut system = PowerCut::new(&plan, d.work.join(JOURNAL_FILE));
        system.cut_at = Some(cut_at);
        let mut engine = power_cut_engine(&plan, &answer, system, &d);
        let (r, _) = collect(&mut engine);
        let Err(stopped) = r else {
            failures.push(format!("cut at {cut_at}: the run did not stop"));
            continue;
        };
        let cut = std::mem::take(engine.system());
        drop(engine);

        // The machine comes back with what was durable, and the installer
        // is run again.
        let mut again = PowerCut::new(&plan, d.work.join(JOURNAL_FILE));
        again.durable = cut.durable.clone();
        let mut engine = power_cut_engine(&plan, &answer, again, &d);
        let (r, events) = collect(&mut engine);
        let sys = engine.system();
        let skipped: Vec<usize> = events
            .iter()
            .filter_map(|e| match e {
                Event::StepSkipped { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        let rerun_from = stopped.index;
        let problems = [
            (r.is_err()).then(|| format!("the resumed run failed: {r:?}")),
            (sys.end_state(&d.target) != reference_state)
                .then(|| "the end state differs from an uninterrupted install".to_string()),
            (sys.commands != commands_from(&plan, rerun_from)).then(|| {
                format!(
                    "the resumed run did not run exactly steps {}.. ({} commands, expected {})",
                    plan.steps[rerun_from].id,
                    sys.commands.len(),
                    commands_from(&plan, rerun_from).len()
                )
            }),
            (skipped != (1..rerun_from).collect::<Vec<_>>())
                .then(|| format!("skipped {skipped:?}, expected steps 1..{rerun_from}")),
        ];
        let problems: Vec<String> = problems.into_iter().flatten().collect();
        if problems.is_empty() {
            resumed_fine += 1;
        } else {
            failures.push(format!(
                "cut at operation {cut_at} (step {}): {}",
                stopped.step,
                problems.join("; ")
            ));
        }
    }
    println!(
        "interrupted at every one of {points} points ({} steps): {resumed_fine} of {points} resumed to the same end state",
        plan.steps.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(resumed_fine, points);
}

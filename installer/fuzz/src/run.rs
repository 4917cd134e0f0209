//! Running cases: each under `catch_unwind`, with a panic hook that keeps
//! the message instead of printing it, and a watchdog that stops the run
//! when one case takes too long (a hang is a finding too).

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::target::{Outcome, Target};

/// One case that panicked.
#[derive(Debug, Clone)]
pub struct Finding {
    pub case: u64,
    pub message: String,
    /// Where its input was saved (the first case per panic location).
    pub saved: Option<PathBuf>,
}

/// What a run of one target did.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub cases: u64,
    pub elapsed: Duration,
    pub accepted: u64,
    pub refused: u64,
    /// Every panicking case (its input saved once per location).
    pub panics: Vec<Finding>,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.cases as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

thread_local! {
    /// Set while this thread runs a case: the hook then records the panic
    /// here instead of printing it.
    static CAUGHT: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let quiet = CAUGHT.with(|c| {
                let mut c = c.borrow_mut();
                match c.as_mut() {
                    Some(slot) => {
                        let location = info
                            .location()
                            .map(|l| format!("{}:{}", l.file(), l.line()))
                            .unwrap_or_default();
                        let message = info
                            .payload()
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| info.payload().downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        *slot = Some(format!("{location}: {message}"));
                        true
                    }
                    None => false,
                }
            });
            if !quiet {
                default(info);
            }
        }));
    });
}

/// Run `input` on `target`; `Err` is the panic's location and message.
pub fn run_caught(target: &mut dyn Target, input: &[u8]) -> Result<Outcome, String> {
    install_hook();
    CAUGHT.with(|c| *c.borrow_mut() = Some(None));
    let result = panic::catch_unwind(AssertUnwindSafe(|| target.run(input)));
    let message = CAUGHT.with(|c| c.borrow_mut().take().flatten());
    result.map_err(|_| message.unwrap_or_else(|| "panic without a message".to_string()))
}

/// The seed of case `case` of `target` in a run seeded with `seed`.
pub fn case_seed(seed: u64, target: &str, case: u64) -> u64 {
    let name = target.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    seed ^ name ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The running case: when it started, and its input.
type Running = Arc<Mutex<Option<(Instant, Vec<u8>)>>>;

/// Stops the process when one case runs longer than `limit`, saving the
/// input first: a hang would otherwise look like a slow run.
struct Watchdog {
    current: Running,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(
        target: &'static str,
        extension: &'static str,
        save: PathBuf,
        limit: Duration,
    ) -> Self {
        let current: Running = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (current.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(200));
                let guard = c.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((started, input)) = guard.as_ref() {
                    if started.elapsed() > limit {
                        let path = save_input(&save, target, "hang", extension, input);
                        eprintln!(
                            "fuzz {target}: one case ran for more than {limit:?}: a hang; input saved as {}",
                            path.map_or_else(|e| format!("(not saved: {e})"), |p| p.display().to_string())
                        );
                        std::process::exit(3);
                    }
                }
            }
        });
        Watchdog {
            current,
            stop,
            thread: Some(thread),
        }
    }

    fn begin(&self, input: &[u8]) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), input.to_vec()));
    }

    fn end(&self) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn save_input(
    dir: &Path,
    target: &str,
    label: &str,
    extension: &str,
    input: &[u8],
) -> std::io::Result<PathBuf> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{label}.{extension}"));
    std::fs::write(&path, input)?;
    Ok(path)
}

/// Run `cases` cases of `target`, seeded with `seed`; inputs that panic
/// are saved under `save/<target>/`.
pub fn fuzz(target: &mut dyn Target, cases: u64, seed: u64, save: &Path) -> Report {
    let counter = AtomicU64::new(0);
    fuzz_part(target, seed, save, (0, 1, cases), &counter)
}

/// Cases `first`, `first + step`, ... below `end`; `done` counts them
/// as they finish (for progress lines).
fn fuzz_part(
    target: &mut dyn Target,
    seed: u64,
    save: &Path,
    (first, step, end): (u64, u64, u64),
    done: &AtomicU64,
) -> Report {
    let name = target.name();
    let watchdog = Watchdog::start(
        name,
        target.extension(),
        save.to_path_buf(),
        Duration::from_secs(60),
    );
    let mut report = Report {
        target: name,
        cases: 0,
        elapsed: Duration::ZERO,
        accepted: 0,
        refused: 0,
        panics: Vec::new(),
    };
    let mut locations: Vec<String> = Vec::new();
    let start = Instant::now();
    for case in (first..end).step_by(step.max(1) as usize) {
        let mut rng = Rng::new(case_seed(seed, name, case));
        let input = target.generate(&mut rng);
        watchdog.begin(&input);
        let result = run_caught(target, &input);
        watchdog.end();
        report.cases += 1;
        done.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(Outcome::Accepted) => report.accepted += 1,
            Ok(Outcome::Refused) => report.refused += 1,
            Err(message) => {
                // One saved input per panic location is enough to fix it.
                let location = message.split(": ").next().unwrap_or("").to_string();
                let saved = if locations.contains(&location) {
                    None
                } else {
                    locations.push(location);
                    let label = format!("panic-seed{seed}-case{case}");
                    save_input(save, name, &label, target.extension(), &input).ok()
                };
                report.panics.push(Finding {
                    case,
                    message,
                    saved,
                });
            }
        }
    }
    report.elapsed = start.elapsed();
    report
}

/// Run `cases` cases of the target called `name` on `jobs` threads (each
/// with its own target: the machine target's scratch copies are its
/// own), printing a progress line to stderr every `progress`. The cases
/// are the same whatever the number of jobs.
pub fn fuzz_parallel(
    name: &str,
    cases: u64,
    seed: u64,
    save: &Path,
    jobs: u64,
    progress: Duration,
) -> Result<Report, String> {
    let jobs = jobs.max(1);
    // Fail early (on this thread) when the target cannot be set up.
    let short_name = crate::targets::target_by_name(name)?.name();
    let done = AtomicU64::new(0);
    let start = Instant::now();
    let parts: Vec<Report> = thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|job| {
                let done = &done;
                scope.spawn(move || {
                    let mut target = crate::targets::target_by_name(name)?;
                    Ok(fuzz_part(
                        target.as_mut(),
                        seed,
                        save,
                        (job, jobs, cases),
                        done,
                    ))
                })
            })
            .collect();
        let mut last = Instant::now();
        while !handles.iter().all(|h| h.is_finished()) {
            thread::sleep(Duration::from_millis(100));
            if last.elapsed() >= progress {
                last = Instant::now();
                let n = done.load(Ordering::Relaxed);
                eprintln!(
                    "fuzz {name}: {n} of {cases} cases in {:.0} s",
                    start.elapsed().as_secs_f64()
                );
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| format!("a {name} fuzz thread panicked"))
                    .and_then(|r| r)
            })
            .collect::<Result<Vec<Report>, String>>()
    })?;
    let mut report = Report {
        target: short_name,
        cases: 0,
        elapsed: start.elapsed(),
        accepted: 0,
        refused: 0,
        panics: Vec::new(),
    };
    for p in parts {
        report.cases += p.cases;
        report.accepted += p.accepted;
        report.refused += p.refused;
        report.panics.extend(p.panics);
    }
    report.panics.sort_by_key(|f| f.case);
    Ok(report)
}

/// Run one saved input again.
pub fn replay(target: &mut dyn Target, input: &[u8]) -> Result<Outcome, String> {
    run_caught(target, input)
}

//! `tappaas-fuzz`: run the fuzz targets and print a figure per target, or
//! replay saved inputs. `scripts/fuzz` builds and runs it in release mode.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tappaas_fuzz::run::fuzz_parallel;
use tappaas_fuzz::{replay, target_by_name, Outcome, TARGET_NAMES};

const USAGE: &str = "\
Usage: tappaas-fuzz [--cases N] [--seed S] [--jobs J] [--save DIR] [TARGET...]
       tappaas-fuzz --replay TARGET FILE...

Runs N seeded cases per target (default 1000000; targets: answer, machine,
console, proxmox; default all) and prints, per target, the cases, the time,
cases per second, how many inputs were accepted or refused, and the panics.
The input of the first panic at each code location is saved under
DIR/TARGET/ (default target/fuzz-findings). J threads share each target's cases
(default 1; the cases are the same for any J). A progress line goes to
stderr every 30 seconds. Exit status 1 when anything panicked.

--replay runs saved inputs again and says how each ended.";

struct Args {
    cases: u64,
    seed: u64,
    jobs: u64,
    save: PathBuf,
    targets: Vec<String>,
    replay: Option<(String, Vec<PathBuf>)>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        cases: 1_000_000,
        seed: 1,
        jobs: 1,
        save: PathBuf::from("target/fuzz-findings"),
        targets: Vec::new(),
        replay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--cases" => {
                let v = value("--cases")?;
                args.cases = v
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("--cases: '{v}' is not a count"))?;
            }
            "--seed" => {
                let v = value("--seed")?;
                args.seed = v
                    .parse()
                    .map_err(|_| format!("--seed: '{v}' is not a number"))?;
            }
            "--jobs" => {
                let v = value("--jobs")?;
                args.jobs = v
                    .parse()
                    .ok()
                    .filter(|j| *j > 0)
                    .ok_or(format!("--jobs: '{v}' is not a positive count"))?;
            }
            "--save" => args.save = PathBuf::from(value("--save")?),
            "--replay" => {
                let target = value("--replay")?;
                let files: Vec<PathBuf> = it.by_ref().map(PathBuf::from).collect();
                if files.is_empty() {
                    return Err("--replay needs a target and at least one file".into());
                }
                args.replay = Some((target, files));
            }
            "-h" | "--help" => return Err(String::new()),
            t if !t.starts_with('-') => args.targets.push(t.to_string()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if args.targets.is_empty() {
        args.targets = TARGET_NAMES.iter().map(|t| t.to_string()).collect();
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tappaas-fuzz: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some((target, files)) = args.replay {
        return replay_files(&target, &files);
    }
    if let Some(bad) = args
        .targets
        .iter()
        .find(|t| !TARGET_NAMES.contains(&t.as_str()))
    {
        eprintln!(
            "tappaas-fuzz: unknown target '{bad}' (targets: {})",
            TARGET_NAMES.join(", ")
        );
        return ExitCode::from(2);
    }
    println!(
        "{:<8} {:>10} {:>9} {:>9} {:>10} {:>10} {:>6}",
        "target", "cases", "time s", "cases/s", "accepted", "refused", "panics"
    );
    let mut panicked = false;
    for name in &args.targets {
        let progress = Duration::from_secs(30);
        let r = match fuzz_parallel(name, args.cases, args.seed, &args.save, args.jobs, progress) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("tappaas-fuzz: {e}");
                return ExitCode::from(2);
            }
        };
        println!(
            "{:<8} {:>10} {:>9.1} {:>9.0} {:>10} {:>10} {:>6}",
            r.target,
            r.cases,
            r.elapsed.as_secs_f64(),
            r.per_second(),
            r.accepted,
            r.refused,
            r.panics.len()
        );
        for p in r.panics.iter().filter(|p| p.saved.is_some()).take(10) {
            let saved = p
                .saved
                .as_ref()
                .map(|s| s.display().to_string())
                .unwrap_or_default();
            println!("  case {}: {}\n    input: {saved}", p.case, p.message);
        }
        panicked |= !r.panics.is_empty();
    }
    if panicked {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn replay_files(target: &str, files: &[PathBuf]) -> ExitCode {
    let mut t = match target_by_name(target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tappaas-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for file in files {
        let input = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("tappaas-fuzz: {}: {e}", file.display());
                failed = true;
                continue;
            }
        };
        match replay(t.as_mut(), &input) {
            Ok(Outcome::Accepted) => println!("{}: accepted", file.display()),
            Ok(Outcome::Refused) => println!("{}: refused", file.display()),
            Err(message) => {
                println!("{}: PANIC {message}", file.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

//! The subcommands. Each prints its own result and returns the exit code.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use tappaas_answer::Answer;
use tappaas_hardware::MachineProfile;
use tappaas_plan::{Environment, Flavour};

use crate::{
    BuildInfo, FlavourArg, MachineSource, PlanArgs, ProbeArgs, ValidateArgs, EXIT_INVALID,
};

/// No subcommand: what the console shows when the ISO boots.
pub fn welcome() -> anyhow::Result<ExitCode> {
    let info = BuildInfo::load();
    println!("TAPPaaS installer {}", env!("CARGO_PKG_VERSION"));
    match &info {
        Some(i) => println!(
            "ISO flavour: {} (Debian {}, built {})",
            i.flavour
                .map(|f| f.to_string())
                .unwrap_or_else(|| "unknown".into()),
            i.debian_suite.as_deref().unwrap_or("?"),
            i.build_date.as_deref().unwrap_or("?"),
        ),
        None => println!("Not running from the installer ISO."),
    }
    println!();
    let profile = tappaas_hardware::probe(Path::new("/")).context("probing this machine")?;
    print!("{}", tappaas_hardware::render_text(&profile));
    println!();
    println!("Commands: `tappaas-installer plan --answer FILE` prints the install plan;");
    println!("`tappaas-installer --help` lists everything.");
    Ok(ExitCode::SUCCESS)
}

pub fn probe(args: &ProbeArgs) -> anyhow::Result<ExitCode> {
    let profile = tappaas_hardware::probe(&args.sysroot)
        .with_context(|| format!("probing the machine at {}", args.sysroot.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&profile)?);
    } else {
        print!("{}", tappaas_hardware::render_text(&profile));
    }
    Ok(ExitCode::SUCCESS)
}

/// Read and validate an answer file; on failure every problem is printed.
pub(crate) fn load_answer(path: &Path) -> anyhow::Result<Result<Answer, ExitCode>> {
    match tappaas_answer::parse_file(path) {
        Ok(answer) => Ok(Ok(answer)),
        Err(failure) => {
            for line in failure.lines() {
                eprintln!("{line}");
            }
            eprintln!(
                "{}: {} problem(s); see docs/answer-file.md for every key",
                path.display(),
                failure.errors.len()
            );
            Ok(Err(ExitCode::from(EXIT_INVALID)))
        }
    }
}

pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    Ok(match load_answer(&args.answer)? {
        Ok(_) => {
            println!("{}: valid", args.answer.display());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    })
}

pub(crate) fn load_machine(source: &MachineSource) -> anyhow::Result<MachineProfile> {
    if let Some(path) = &source.machine {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the machine profile {}", path.display()))?;
        return MachineProfile::from_json(&text).with_context(|| {
            format!(
                "{} is not a machine profile (make one with `tappaas-installer probe --json`)",
                path.display()
            )
        });
    }
    let root = source.sysroot.as_deref().unwrap_or(Path::new("/"));
    tappaas_hardware::probe(root)
        .with_context(|| format!("probing the machine at {}", root.display()))
}

pub(crate) fn environment(flavour: Option<FlavourArg>, target_image: Option<&str>) -> Environment {
    let mut env = BuildInfo::load()
        .map(|i| i.environment())
        .unwrap_or_default();
    if let Some(f) = flavour {
        let f = match f {
            FlavourArg::Pve => Flavour::Pve,
            FlavourArg::Test => Flavour::Test,
        };
        if f != env.flavour {
            env.target_image = env
                .target_image
                .replace(&format!("target-{}", env.flavour), &format!("target-{f}"));
            env.flavour = f;
        }
    }
    if let Some(img) = target_image {
        env.target_image = img.to_string();
    }
    env
}

pub fn plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let answer = match load_answer(&args.answer)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let machine = load_machine(&args.source)?;
    let env = environment(args.flavour, args.target_image.as_deref());
    match tappaas_plan::plan(&machine, &answer, &env) {
        Ok(plan) => {
            if args.json {
                println!("{}", plan.to_json());
            } else {
                print!("{}", tappaas_plan::render_text(&plan));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "no plan: {} problem(s) above; nothing was written",
                errors.len()
            );
            Ok(ExitCode::from(EXIT_INVALID))
        }
    }
}

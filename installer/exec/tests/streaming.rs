//! A hung command through the engine, on the real machine: what it printed
//! reaches the events and the install log while it runs, and its time
//! limit ends it with an error that names it.

use std::path::Path;
use std::time::{Duration, Instant};

use tappaas_effects::Machine;
use tappaas_exec::{Engine, Event, OnEffects, Secrets, LOG_FILE};
use tappaas_plan::{Action, Command, Environment, Flavour, Plan, Step};

const LIMIT: Duration = Duration::from_secs(3);

/// The VM test's plan with one step: a command that prints two lines and
/// then hangs.
fn hanging_plan() -> Plan {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let text = std::fs::read_to_string(fixtures.join("machines/qemu-vm/profile.json"))
        .expect("read profile");
    let machine = tappaas_hardware::MachineProfile::from_json(&text).expect("profile");
    let answer =
        tappaas_answer::parse_file(&fixtures.join("plans/qemu-vm/answer.toml")).expect("answer");
    let env = Environment {
        flavour: Flavour::Test,
        target_image: "/img.squashfs".into(),
        firewall_image: None,
        service_template: None,
    };
    let mut plan = tappaas_plan::plan(&machine, &answer, &env).expect("plan");
    plan.steps = vec![Step {
        id: "copy".into(),
        title: "Copy the system".into(),
        actions: vec![Action::Run(Command::new([
            "sh",
            "-c",
            "echo unpacking; echo 12% done >&2; sleep 60",
        ]))],
    }];
    plan
}

#[test]
fn a_hung_command_shows_its_lines_before_its_limit_ends_it() {
    let plan = hanging_plan();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (work, target) = (tmp.path().join("run"), tmp.path().join("target"));
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(&target).expect("mkdir");
    let system = OnEffects::new(Machine, LIMIT);
    let mut engine =
        Engine::new(&plan, Secrets::default(), system, &work, &target).expect("engine");
    let log = work.join(LOG_FILE);

    let began = Instant::now();
    // Each output line: when it came, and whether the log had it then.
    let mut seen: Vec<(String, Duration, bool)> = Vec::new();
    let mut failed = None;
    let stopped = engine.run(&mut |event| match event {
        Event::Output { line } => {
            let logged = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(line.as_str());
            seen.push((line.clone(), began.elapsed(), logged));
        }
        Event::Failed { failure, .. } => failed = Some((failure.clone(), began.elapsed())),
        _ => {}
    });
    assert!(stopped.is_err(), "a hung command stops the run");

    let lines: Vec<&str> = seen.iter().map(|(l, _, _)| l.as_str()).collect();
    assert_eq!(lines, ["unpacking", "12% done"]);
    for (line, at, logged) in &seen {
        assert!(
            *at < LIMIT / 2,
            "`{line}` reached the events only after {at:?}, when the command had ended"
        );
        assert!(
            logged,
            "`{line}` was not in the install log when its event came"
        );
    }
    let (failure, at) = failed.expect("a failure event");
    assert!(at >= LIMIT && at < LIMIT * 5, "ended after {at:?}");
    assert!(
        failure.message.contains("sh -c echo unpacking") && failure.message.contains("3 s"),
        "the error names the command and its limit: {}",
        failure.message
    );
    assert_eq!(failure.output_tail, ["unpacking", "12% done"]);
}

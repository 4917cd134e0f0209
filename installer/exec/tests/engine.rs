//! The engine against a recording system: order, journal, failure, disk
//! checks.

mod common;

use common::*;
use tappaas_exec::{DiskIdentity, Engine, Event, LineProgress, Secrets, JOURNAL_FILE, LOG_FILE};
use tappaas_plan::Plan;

#[test]
fn runs_every_action_in_order_with_the_secret_only_on_stdin() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let mut engine = Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        recorder_for(&plan),
        &d.work,
        &d.target,
    )
    .expect("engine");
    let (r, events) = collect(&mut engine);
    assert!(r.is_ok(), "{r:?}");
    let rec = engine.system();
    let expected: Vec<String> = plan.commands().map(|c| c.to_string()).collect();
    let ran: Vec<String> = rec.commands.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(ran, expected, "commands run exactly as planned, in order");
    let stdin: Vec<&String> = rec
        .commands
        .iter()
        .filter_map(|(_, s)| s.as_ref())
        .collect();
    assert_eq!(stdin, vec!["root:golden-test-password\n"]);
    assert_eq!(rec.files.len(), plan.files().count());
    let hosts = rec
        .files
        .iter()
        .find(|(p, _, _)| p.ends_with("etc/hosts"))
        .expect("hosts");
    assert!(
        hosts.0.starts_with(&d.target),
        "files go under the target root"
    );
    let answer_copy = rec
        .files
        .iter()
        .find(|(p, _, _)| p.ends_with("etc/tappaas/answer.toml"))
        .expect("answer");
    assert_eq!(answer_copy.1, 0o600);
    assert!(!answer_copy.2.contains("golden-test-password"));
    let plan_copy = rec
        .files
        .iter()
        .find(|(p, _, _)| p.ends_with("etc/tappaas/plan.json"))
        .expect("plan");
    assert_eq!(plan_copy.2, plan.to_json());
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::StepFinished { .. }))
        .count();
    assert_eq!(finished, plan.steps.len());
    assert!(matches!(events.last(), Some(Event::Finished { .. })));
    // Nothing secret reaches the log.
    let log = std::fs::read_to_string(d.work.join(LOG_FILE)).expect("log");
    assert!(log.contains("$ zpool create"), "commands are logged");
    assert!(!log.contains("golden-test-password"));
}

#[test]
fn a_failing_command_stops_with_status_and_output_then_a_rerun_resumes() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let mut rec = recorder_for(&plan);
    rec.fail.push_back((
        "sh -c 'udevadm settle; zpool create -f -o ashift=12 -O atime=off -O compression=lz4 -O xattr=sa tank1".into(),
        1,
    ));
    let mut engine = Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        rec,
        &d.work,
        &d.target,
    )
    .expect("engine");
    let (r, events) = collect(&mut engine);
    let stopped = r.expect_err("must stop");
    assert_eq!(stopped.step, "pool-tank1");
    assert_eq!(stopped.failure.status, Some(1));
    assert!(
        stopped.failure.what.contains("zpool create"),
        "{}",
        stopped.failure.what
    );
    assert_eq!(
        stopped.failure.output_tail.last().map(String::as_str),
        Some("something went wrong")
    );
    assert!(matches!(events.last(), Some(Event::Failed { .. })));
    let ran_before = engine.system().commands.len();
    assert!(
        !engine
            .system()
            .commands
            .iter()
            .any(|(c, _)| c.contains("tank2 /dev")),
        "nothing after the failure ran (tank2 was not created)"
    );

    // The failure is shown the way a person reads it.
    let mut out = Vec::new();
    let mut progress = LineProgress::new(&mut out, false, false);
    for e in &events {
        progress.event(e);
    }
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.contains("pool-tank1: FAILED"), "{text}");
    assert!(text.contains("exit status: 1"), "{text}");
    assert!(text.contains("| something went wrong"), "{text}");
    assert!(text.contains("[ 1/10] check-disks: done in"), "{text}");

    // Run again: done steps are skipped, the failed one runs from its start.
    let mut engine = Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        recorder_for(&plan),
        &d.work,
        &d.target,
    )
    .expect("engine");
    let (r, events) = collect(&mut engine);
    assert!(r.is_ok(), "{r:?}");
    let skipped = events
        .iter()
        .filter(|e| matches!(e, Event::StepSkipped { .. }))
        .count();
    assert_eq!(
        skipped, 6,
        "the steps before pool-tank1 were done (disk checks run again)"
    );
    let first = &engine.system().commands[0].0;
    assert!(
        first.contains("zpool list -H -o name tank1"),
        "rerun starts at pool-tank1's guard: {first}"
    );
    assert!(ran_before > engine.system().commands.len());
}

#[test]
fn a_disk_that_changed_stops_before_anything_is_written() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let mut rec = recorder_for(&plan);
    let boot = rec
        .disks
        .iter_mut()
        .find(|(p, _)| p.ends_with("virtio-tappaas-boot-0"))
        .expect("boot disk");
    boot.1.serial = Some("SOMETHING-ELSE".into());
    let mut engine = Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        rec,
        &d.work,
        &d.target,
    )
    .expect("engine");
    let (r, _) = collect(&mut engine);
    let stopped = r.expect_err("must stop");
    assert_eq!(stopped.step, "check-disks");
    assert!(
        stopped
            .failure
            .message
            .contains("not the disk that was planned"),
        "{}",
        stopped.failure.message
    );
    assert!(engine.system().commands.is_empty(), "no command ran");
    assert!(engine.system().files.is_empty(), "no file written");
}

/// Runs the plan against `rec` and returns why it stopped at the disk
/// checks, having checked that nothing ran or was written.
fn stopped_at_check(plan: &Plan, answer: &tappaas_answer::Answer, rec: Recorder) -> String {
    let d = dirs();
    let mut engine =
        Engine::new(plan, Secrets::from_answer(answer), rec, &d.work, &d.target).expect("engine");
    let (r, _) = collect(&mut engine);
    let stopped = r.expect_err("must stop");
    assert_eq!(stopped.step, "check-disks");
    assert!(engine.system().commands.is_empty(), "no command ran");
    assert!(engine.system().files.is_empty(), "no file written");
    stopped.failure.message
}

fn boot_disk(rec: &mut Recorder) -> &mut DiskIdentity {
    &mut rec
        .disks
        .iter_mut()
        .find(|(p, _)| p.ends_with("virtio-tappaas-boot-0"))
        .expect("boot disk")
        .1
}

#[test]
fn a_link_moved_to_another_device_in_the_same_boot_stops() {
    // Two disks with one by-id name: the name now leads to the other one,
    // which reports the same serial and size.
    let (plan, answer) = qemu_plan_in_boot(Some("boot-1"));
    let mut rec = recorder_for(&plan);
    let boot = boot_disk(&mut rec);
    boot.device = "254:48".into();
    boot.kernel_name = "vdd".into();
    boot.boot_id = Some("boot-1".into());
    let message = stopped_at_check(&plan, &answer, rec);
    assert!(
        message.contains("leads to vdd (device 254:48), not to the device 254:0 that was planned"),
        "{message}"
    );
}

#[test]
fn after_a_reboot_a_renumbered_disk_is_known_by_serial_and_size() {
    let (plan, answer) = qemu_plan_in_boot(Some("boot-1"));
    let mut rec = recorder_for(&plan);
    let boot = boot_disk(&mut rec);
    boot.device = "253:0".into();
    boot.boot_id = Some("boot-2".into());
    let d = dirs();
    let mut engine = Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        rec,
        &d.work,
        &d.target,
    )
    .expect("engine");
    let (r, _) = collect(&mut engine);
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn a_disk_that_shares_its_identity_stops() {
    let (plan, answer) = qemu_plan_in_boot(Some("boot-1"));
    let mut rec = recorder_for(&plan);
    let boot = boot_disk(&mut rec);
    boot.boot_id = Some("boot-1".into());
    // Plugged in after the plan was made: a clone of the boot disk.
    boot.shared_with = vec![(
        "vdd".into(),
        "the name /dev/disk/by-id/virtio-tappaas-boot-0".into(),
    )];
    let message = stopped_at_check(&plan, &answer, rec);
    assert!(
        message.contains("vdd shares the name /dev/disk/by-id/virtio-tappaas-boot-0 with it")
            && message.contains("cannot tell them apart"),
        "{message}"
    );
}

#[test]
fn a_disk_that_is_gone_says_so() {
    let (plan, answer) = qemu_plan();
    let mut rec = recorder_for(&plan);
    rec.disks
        .retain(|(p, _)| !p.ends_with("virtio-tappaas-boot-0"));
    let message = stopped_at_check(&plan, &answer, rec);
    assert!(message.contains("leads to no disk now"), "{message}");
}

#[test]
fn journal_and_log_move_onto_the_node_after_rpool_exists() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let keep = d.target.join("var/log/tappaas");
    let mut engine = persisting(&plan, &answer, recorder_for(&plan), &d, &keep);
    let (r, _) = collect(&mut engine);
    assert!(r.is_ok(), "{r:?}");
    let journal = std::fs::read_to_string(keep.join(JOURNAL_FILE)).expect("journal on the node");
    assert!(
        journal.contains("\"step\":\"check-disks\""),
        "the past is copied"
    );
    assert!(
        journal.contains("\"step\":\"finish\""),
        "the future is recorded"
    );
    let log = std::fs::read_to_string(keep.join(LOG_FILE)).expect("log on the node");
    assert!(log.contains("step check-disks") && log.contains("step finish"));
    assert!(keep.join(tappaas_exec::PLAN_FILE).exists());
}

#[test]
fn a_journal_of_another_plan_is_refused() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    std::fs::write(
        d.work.join(JOURNAL_FILE),
        "{\"record\":\"plan\",\"digest\":\"0000\"}\n",
    )
    .expect("write");
    match Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        recorder_for(&plan),
        &d.work,
        &d.target,
    ) {
        Err(e) => assert!(e.to_string().contains("belongs to another plan"), "{e}"),
        Ok(_) => panic!("a foreign journal must not be resumed"),
    }
}

/// The step runner's journal policy, through the install: a journal that
/// can no longer be written stops the install at the step it could not
/// record, and no later step runs.
#[test]
fn a_journal_that_cannot_be_written_stops_the_install() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let mut engine = Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        recorder_for(&plan),
        &d.work,
        &d.target,
    )
    .expect("engine");
    let journal = d.work.join(JOURNAL_FILE);
    let mut events = Vec::new();
    let result = engine.run(&mut |e| {
        // As step 2 starts, a folder takes the journal's place: nothing,
        // not even root, can append to it.
        if matches!(e, Event::StepStarted { index: 1, .. }) {
            std::fs::remove_file(&journal).expect("rm journal");
            std::fs::create_dir(&journal).expect("mkdir");
        }
        events.push(e.clone());
    });
    let stopped = result.expect_err("a journal error stops the install");
    assert_eq!(
        (stopped.index, stopped.step.as_str()),
        (1, plan.steps[1].id.as_str())
    );
    assert!(
        stopped.failure.what.contains("journal") && stopped.failure.message.contains("journal"),
        "{stopped:?}"
    );
    assert!(
        matches!(events.last(), Some(Event::Failed { index: 1, .. })),
        "{events:#?}"
    );
    assert!(
        engine.system().commands.is_empty(),
        "nothing of step 2 or later ran: {:?}",
        engine.system().commands
    );
}

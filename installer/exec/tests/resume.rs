//! Finding an interrupted install (same boot, after a reboot, of another
//! answer, of a foreign pool) and what is left of it.

mod common;

use common::*;
use tappaas_exec::{
    look_for_interrupted_install, Engine, Event, Found, Secrets, JOURNAL_FILE, NODE_LOG_DIR,
};
use tappaas_plan::{Action, Plan};

fn machine_with_rpool(with: bool) -> tappaas_hardware::MachineProfile {
    let m = fixtures().join("machines/qemu-vm/profile.json");
    let mut machine =
        tappaas_hardware::MachineProfile::from_json(&std::fs::read_to_string(m).expect("read"))
            .expect("profile");
    if with {
        if let Some(d) = machine.disks.iter_mut().find(|d| d.name == "vda") {
            d.zfs_pools = vec!["rpool".into()];
        }
    }
    machine
}

#[test]
fn an_interrupted_install_is_found_in_the_same_boot() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let mut rec = recorder_for(&plan);
    rec.fail.push_back(("chroot /target update-grub".into(), 1));
    let mut engine = Engine::new(
        &plan,
        Secrets::from_answer(&answer),
        rec,
        &d.work,
        &d.target,
    )
    .expect("engine")
    .made_from(&answer)
    .expect("answer digest");
    let _ = collect(&mut engine);
    let mut fresh = Recorder::default();
    match look_for_interrupted_install(
        &mut fresh,
        &machine_with_rpool(false),
        &answer,
        &d.work,
        &d.target,
    )
    .expect("look")
    {
        Found::Interrupted { plan: found, done } => {
            assert_eq!(*found, plan);
            assert_eq!(done, 6);
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert!(
        fresh.commands.is_empty(),
        "the work folder answers without touching the disks"
    );
}

#[test]
fn after_a_reboot_the_journal_is_read_from_rpool() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let node_dir = d.target.join(NODE_LOG_DIR);
    let mut rec = recorder_for(&plan);
    rec.fail.push_back(("chroot /target update-grub".into(), 1));
    let mut engine = persisting(&plan, &answer, rec, &d, &node_dir);
    let _ = collect(&mut engine);
    // A reboot empties the live system's RAM.
    std::fs::remove_dir_all(&d.work).expect("rm");
    std::fs::create_dir_all(&d.work).expect("mkdir");

    let mut after = Recorder::default();
    let found = look_for_interrupted_install(
        &mut after,
        &machine_with_rpool(true),
        &answer,
        &d.work,
        &d.target,
    )
    .expect("look");
    match found {
        Found::Interrupted { plan: found, done } => {
            assert_eq!(*found, plan);
            assert_eq!(done, 6);
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    let cmds: Vec<&str> = after.commands.iter().map(|(c, _)| c.as_str()).collect();
    // Only from the partitions this answer plans for rpool, never any
    // pool of that name.
    assert_eq!(
        cmds[0],
        format!(
            "zpool import -N -f -R {} -d /dev/disk/by-id/virtio-tappaas-boot-0-part3 rpool",
            d.target.display()
        )
    );
    assert!(
        cmds[1].starts_with("sh -c ") && cmds[1].contains("zpool list -v -H -P rpool"),
        "every device of the imported pool is checked: {}",
        cmds[1]
    );
    assert_eq!(cmds[2], "zfs mount rpool/ROOT/pve-1");
    assert_eq!(cmds.len(), 3, "rpool stays imported for the resumed run");

    // Resuming from there finishes the job.
    let mut engine = persisting(&plan, &answer, recorder_for(&plan), &d, &node_dir);
    let (r, events) = collect(&mut engine);
    assert!(r.is_ok(), "{r:?}");
    let skipped = events
        .iter()
        .filter(|e| matches!(e, Event::StepSkipped { .. }))
        .count();
    assert_eq!(skipped, 5, "done steps are not run again after a reboot");
    assert!(
        !engine
            .system()
            .commands
            .iter()
            .any(|(c, _)| c.starts_with("wipefs")),
        "a resumed install never wipes again"
    );
}

#[test]
fn a_completed_install_is_not_resumed_and_its_pool_is_left_exported() {
    let (plan, answer) = qemu_plan();
    let d = dirs();
    let node_dir = d.target.join(NODE_LOG_DIR);
    let mut engine = persisting(&plan, &answer, recorder_for(&plan), &d, &node_dir);
    let (r, _) = collect(&mut engine);
    assert!(r.is_ok());
    std::fs::remove_dir_all(&d.work).expect("rm");
    std::fs::create_dir_all(&d.work).expect("mkdir");
    let mut after = Recorder::default();
    let found = look_for_interrupted_install(
        &mut after,
        &machine_with_rpool(true),
        &answer,
        &d.work,
        &d.target,
    )
    .expect("look");
    assert!(matches!(found, Found::Completed), "{found:?}");
    assert_eq!(
        after.commands.last().map(|(c, _)| c.as_str()),
        Some("zpool export rpool")
    );
}

#[test]
fn no_rpool_means_nothing_to_resume_and_no_command() {
    let d = dirs();
    let (_, answer) = qemu_plan();
    let mut rec = Recorder::default();
    let found = look_for_interrupted_install(
        &mut rec,
        &machine_with_rpool(false),
        &answer,
        &d.work,
        &d.target,
    )
    .expect("look");
    assert!(matches!(found, Found::Nothing));
    assert!(rec.commands.is_empty());
}

/// An install of `plan` that stopped at the boot loader step (6 of its
/// steps done), its journal kept on the node; with `reboot`, the live
/// system's RAM is emptied as a reboot does.
fn stopped_at_bootloader(plan: &Plan, answer: &tappaas_answer::Answer, reboot: bool) -> Dirs {
    let d = dirs();
    let node_dir = d.target.join(NODE_LOG_DIR);
    let mut rec = recorder_for(plan);
    rec.fail.push_back(("chroot /target update-grub".into(), 1));
    let mut engine = persisting(plan, answer, rec, &d, &node_dir);
    let _ = collect(&mut engine);
    if reboot {
        std::fs::remove_dir_all(&d.work).expect("rm");
        std::fs::create_dir_all(&d.work).expect("mkdir");
    }
    d
}

#[test]
fn an_rpool_with_a_device_outside_the_plan_is_exported_and_not_resumed() {
    let (plan, answer) = qemu_plan();
    let d = stopped_at_bootloader(&plan, &answer, true);

    // The imported pool has a device that is not the planned partition
    // (the check exits with NOT_OURS_STATUS).
    let mut after = Recorder::default();
    after
        .fail
        .push_back(("sh -c".into(), tappaas_plan::NOT_OURS_STATUS));
    let found = look_for_interrupted_install(
        &mut after,
        &machine_with_rpool(true),
        &answer,
        &d.work,
        &d.target,
    )
    .expect("look");
    assert!(matches!(found, Found::Nothing), "{found:?}");
    let cmds: Vec<&str> = after.commands.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cmds.len(), 3, "{cmds:#?}");
    assert!(cmds[0].starts_with("zpool import") && cmds[0].contains(" -d "));
    assert_eq!(cmds[2], "zpool export rpool", "left as it was found");
    assert!(!d.work.join(JOURNAL_FILE).exists(), "nothing taken from it");
}

/// The answer of the install that stopped, with another host name.
fn other_answer(answer: &tappaas_answer::Answer) -> tappaas_answer::Answer {
    let mut other = answer.clone();
    other.global.fqdn = tappaas_answer::Fqdn::Name("tappaas2.home.lan".into());
    other
}

#[test]
fn an_install_of_another_answer_is_not_resumed_and_says_so() {
    let (plan, answer) = qemu_plan();
    let d = stopped_at_bootloader(&plan, &answer, false);
    let node_dir = d.target.join(NODE_LOG_DIR);
    let other = other_answer(&answer);

    // Same boot: found in the work folder, not continued.
    let found = look_for_interrupted_install(
        &mut Recorder::default(),
        &machine_with_rpool(false),
        &other,
        &d.work,
        &d.target,
    )
    .expect("look");
    let Found::OtherAnswer {
        found: Some(was),
        given,
        done,
        ..
    } = &found
    else {
        panic!("expected OtherAnswer, got {found:?}");
    };
    assert_eq!(*was, tappaas_exec::answer_digest(&answer));
    assert_eq!(*given, tappaas_exec::answer_digest(&other));
    assert_eq!(*done, 6);
    assert_eq!(found.interrupted_plan(), Some(&plan));
    let text = found.describe().expect("said");
    assert!(
        text.contains(&was[..12]) && text.contains(given.as_str()),
        "{text}"
    );
    assert!(text.contains("starts over"), "{text}");
    // Starting over: the interrupted plan's own last step leaves its
    // mounts and its rpool (guarded), the work folder forgets it, and the
    // engine starts anew.
    let mut leave = Recorder::default();
    tappaas_exec::start_over(&mut leave, &plan, &d.work).expect("start over");
    let finish: Vec<String> = plan
        .steps
        .last()
        .expect("steps")
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Run(c) => Some(c.to_string()),
            _ => None,
        })
        .collect();
    let ran: Vec<String> = leave.commands.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(ran, finish);
    assert!(!d.work.join(JOURNAL_FILE).exists() && !d.work.join(tappaas_exec::PLAN_FILE).exists());
    let mut engine = persisting(&plan, &other, recorder_for(&plan), &d, &node_dir);
    let (r, events) = collect(&mut engine);
    assert!(r.is_ok(), "{r:?}");
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::StepSkipped { .. })));

    // After a reboot: read from rpool, not continued, rpool exported.
    let d = stopped_at_bootloader(&plan, &answer, true);
    let mut after = Recorder::default();
    let found = look_for_interrupted_install(
        &mut after,
        &machine_with_rpool(true),
        &other,
        &d.work,
        &d.target,
    )
    .expect("look");
    assert!(matches!(found, Found::OtherAnswer { .. }), "{found:?}");
    assert_eq!(
        after.commands.last().map(|(c, _)| c.as_str()),
        Some("zpool export rpool")
    );
    assert!(
        !d.work.join(JOURNAL_FILE).exists(),
        "not taken as this run's journal"
    );
}

//! The engine against a recording system: order, journal, resume, failure.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use tappaas_exec::{
    look_for_interrupted_install, DiskIdentity, Engine, Event, Found, LineProgress, Persist,
    Secrets, System, JOURNAL_FILE, LOG_FILE, NODE_LOG_DIR,
};
use tappaas_plan::{Action, Command, Environment, Flavour, Plan};

/// Records everything; commands succeed unless told otherwise.
#[derive(Default)]
struct Recorder {
    commands: Vec<(String, Option<String>)>,
    files: Vec<(PathBuf, u32, String)>,
    links: Vec<(PathBuf, String)>,
    /// argv[0..2] joined -> exit status, used once each.
    fail: VecDeque<(String, i32)>,
    disks: Vec<(String, DiskIdentity)>,
}

impl System for Recorder {
    fn run(
        &mut self,
        c: &Command,
        stdin: Option<&str>,
        line: &mut dyn FnMut(&str),
    ) -> io::Result<Option<i32>> {
        let text = c.to_string();
        self.commands
            .push((text.clone(), stdin.map(str::to_string)));
        line(&format!("output of {}", c.argv[0]));
        if let Some(pos) = self
            .fail
            .iter()
            .position(|(p, _)| text.starts_with(p.as_str()))
        {
            let (_, code) = self.fail.remove(pos).expect("present");
            line("something went wrong");
            return Ok(Some(code));
        }
        Ok(Some(0))
    }

    fn write_file(&mut self, path: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
        self.files.push((
            path.to_path_buf(),
            mode,
            String::from_utf8_lossy(content).into_owned(),
        ));
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(path, content)
    }

    fn symlink(&mut self, path: &Path, target: &str) -> io::Result<()> {
        self.links.push((path.to_path_buf(), target.to_string()));
        Ok(())
    }

    fn disk_identity(&mut self, path: &str) -> io::Result<Option<DiskIdentity>> {
        Ok(self
            .disks
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, d)| d.clone()))
    }

    fn sync(&mut self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn qemu_plan() -> (Plan, tappaas_answer::Answer) {
    qemu_plan_in_boot(None)
}

/// The plan of the VM test's machine, probed in the boot `boot_id`.
fn qemu_plan_in_boot(boot_id: Option<&str>) -> (Plan, tappaas_answer::Answer) {
    let m = fixtures().join("machines/qemu-vm/profile.json");
    let mut machine =
        tappaas_hardware::MachineProfile::from_json(&std::fs::read_to_string(m).expect("read"))
            .expect("profile");
    machine.boot_id = boot_id.map(str::to_string);
    let answer =
        tappaas_answer::parse_file(&fixtures().join("plans/qemu-vm/answer.toml")).expect("answer");
    let env = Environment {
        flavour: Flavour::Test,
        target_image: "/img.squashfs".into(),
        firewall_image: None,
        service_template: None,
    };
    (
        tappaas_plan::plan(&machine, &answer, &env).expect("plan"),
        answer,
    )
}

fn recorder_for(plan: &Plan) -> Recorder {
    let mut r = Recorder::default();
    for d in plan.disks.iter() {
        r.disks.push((
            d.path.clone(),
            DiskIdentity {
                device: d.device.clone(),
                kernel_name: d.kernel_name.clone(),
                serial: d.serial.clone(),
                size_bytes: d.size_bytes,
                shared_with: Vec::new(),
                boot_id: None,
            },
        ));
    }
    r
}

struct Dirs {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    target: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path().join("run");
    let target = tmp.path().join("target");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(&target).expect("mkdir");
    Dirs {
        work,
        target,
        _tmp: tmp,
    }
}

/// The engine as the installer builds it: journal and log kept on the
/// node once rpool exists.
fn persisting<'p>(
    plan: &'p Plan,
    answer: &tappaas_answer::Answer,
    rec: Recorder,
    d: &Dirs,
    keep: &Path,
) -> Engine<'p, Recorder> {
    Engine::new(plan, Secrets::from_answer(answer), rec, &d.work, &d.target)
        .expect("engine")
        .made_from(answer)
        .expect("answer digest")
        .persist(Persist {
            after_step: tappaas_plan::NODE_ROOT_EXISTS_AFTER.into(),
            dir: keep.to_path_buf(),
        })
}

fn collect<S: System>(
    engine: &mut Engine<'_, S>,
) -> (Result<(), tappaas_exec::Stopped>, Vec<Event>) {
    let mut events = Vec::new();
    let r = engine.run(&mut |e| events.push(e.clone()));
    (r, events)
}

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
        "zpool create -f -o ashift=12 -O atime=off -O compression=lz4 -O xattr=sa tank1".into(),
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
    assert!(stopped.failure.what.starts_with("zpool create"));
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

//! Shared test support for the engine's tests: a recording system, the VM
//! test's plan, work and target folders, the engine as the installer
//! builds it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use tappaas_exec::{DiskIdentity, Engine, Event, Persist, Secrets, System};
use tappaas_plan::{Command, Environment, Flavour, Plan};

/// Records everything; commands succeed unless told otherwise.
#[derive(Default)]
pub struct Recorder {
    pub commands: Vec<(String, Option<String>)>,
    pub files: Vec<(PathBuf, u32, String)>,
    pub links: Vec<(PathBuf, String)>,
    /// argv[0..2] joined -> exit status, used once each.
    pub fail: VecDeque<(String, i32)>,
    pub disks: Vec<(String, DiskIdentity)>,
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

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

pub fn qemu_plan() -> (Plan, tappaas_answer::Answer) {
    qemu_plan_in_boot(None)
}

/// The plan of the VM test's machine, probed in the boot `boot_id`.
pub fn qemu_plan_in_boot(boot_id: Option<&str>) -> (Plan, tappaas_answer::Answer) {
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

pub fn recorder_for(plan: &Plan) -> Recorder {
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

pub struct Dirs {
    pub _tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub target: PathBuf,
}

pub fn dirs() -> Dirs {
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
pub fn persisting<'p>(
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

pub fn collect<S: System>(
    engine: &mut Engine<'_, S>,
) -> (Result<(), tappaas_exec::Stopped>, Vec<Event>) {
    let mut events = Vec::new();
    let r = engine.run(&mut |e| events.push(e.clone()));
    (r, events)
}

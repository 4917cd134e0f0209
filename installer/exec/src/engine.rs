//! Runs a plan: its steps' actions on this machine, through the step
//! runner (journaled, stopping at the first failure with what failed, how,
//! and the end of its output).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tappaas_answer::{Answer, Cidr};
use tappaas_effects::write_atomic;
use tappaas_plan::{Action, Command, FileContent, FileSpec, Plan, Stdin};

use crate::journal::Journal;
use crate::runner::{Runner, Step, StepBodies, StepEnd, Stopped};
use crate::system::System;
use crate::{CommandFailure, Event};

/// Lines of a failing command's output shown with the failure.
const TAIL_LINES: usize = 20;

/// The secrets a plan names but never contains, from the answer.
#[derive(Clone, Default)]
pub struct Secrets {
    root_password: Option<String>,
    root_password_hash: Option<String>,
    peer_password: Option<String>,
}

impl Secrets {
    pub fn from_answer(answer: &Answer) -> Secrets {
        Secrets {
            root_password: answer
                .global
                .root_password
                .as_ref()
                .map(|s| s.expose().to_string()),
            root_password_hash: answer.global.root_password_hashed.clone(),
            peer_password: answer
                .cluster
                .peer_password
                .as_ref()
                .map(|s| s.expose().to_string()),
        }
    }
}

/// Where the journal and the log are kept once the node's disk exists.
#[derive(Debug, Clone)]
pub struct Persist {
    /// After this step is done...
    pub after_step: String,
    /// ...the journal and log are kept in this folder too.
    pub dir: PathBuf,
}

pub const JOURNAL_FILE: &str = "install-journal.jsonl";
pub const LOG_FILE: &str = "install.log";
pub const PLAN_FILE: &str = "install-plan.json";
/// Beside the plan: the digest of the answer the plan was made from.
pub const ANSWER_DIGEST_FILE: &str = "install-answer.sha256";

/// The digest that names an answer: its content with every password
/// redacted (the answer's own serialisation), so a digest kept on the node
/// says nothing about a password. Two answers that differ only in a
/// password are the same answer to resume with.
pub fn answer_digest(answer: &Answer) -> String {
    let text = serde_json::to_string(answer).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the plan says a disk is (`Action::CheckDisk`).
struct PlannedDisk<'a> {
    device: Option<&'a str>,
    boot_id: Option<&'a str>,
    serial: Option<&'a str>,
    size_bytes: u64,
}

pub struct Engine<'p, S: System> {
    runner: Runner,
    install: Install<'p, S>,
}

/// The install's step bodies: the plan's actions on this machine.
struct Install<'p, S: System> {
    plan: &'p Plan,
    secrets: Secrets,
    system: S,
    /// Files that get every log line; grows when the node's disk exists.
    logs: Vec<PathBuf>,
    target_root: PathBuf,
    persist: Option<Persist>,
    /// The digest of the answer the plan was made from, kept beside it.
    answer_digest: Option<String>,
    started: Instant,
}

impl<'p, S: System> Engine<'p, S> {
    /// `work_dir` holds the journal and log on the live system (RAM);
    /// `target_root` is where the node's root is mounted.
    pub fn new(
        plan: &'p Plan,
        secrets: Secrets,
        system: S,
        work_dir: &Path,
        target_root: &Path,
    ) -> Result<Self, crate::JournalError> {
        let runner = Runner::open(&work_dir.join(JOURNAL_FILE), plan)?;
        // Beside the journal, so a run after an interruption knows what
        // the journal's steps were.
        write_atomic(&work_dir.join(PLAN_FILE), 0o600, plan.to_json().as_bytes()).map_err(
            |source| crate::JournalError::Write {
                path: work_dir.join(PLAN_FILE),
                source,
            },
        )?;
        Ok(Engine {
            runner,
            install: Install {
                plan,
                secrets,
                system,
                logs: vec![work_dir.join(LOG_FILE)],
                target_root: target_root.to_path_buf(),
                persist: None,
                answer_digest: None,
                started: Instant::now(),
            },
        })
    }

    /// Record which answer the plan was made from, so that running the
    /// installer again resumes only with the same answer.
    pub fn made_from(mut self, answer: &Answer) -> Result<Self, crate::JournalError> {
        let digest = answer_digest(answer);
        let work = self
            .install
            .logs
            .first()
            .and_then(|l| l.parent())
            .map(Path::to_path_buf);
        if let Some(work) = work {
            let path = work.join(ANSWER_DIGEST_FILE);
            write_atomic(&path, 0o600, format!("{digest}\n").as_bytes())
                .map_err(|source| crate::JournalError::Write { path, source })?;
        }
        self.install.answer_digest = Some(digest);
        Ok(self)
    }

    pub fn persist(mut self, persist: Persist) -> Self {
        self.install.persist = Some(persist);
        self
    }

    pub fn system(&mut self) -> &mut S {
        &mut self.install.system
    }

    /// Run every step not yet done, reporting through `emit`.
    pub fn run(&mut self, emit: &mut dyn FnMut(&Event)) -> Result<(), Stopped> {
        let steps: Vec<Step> = self
            .install
            .plan
            .steps
            .iter()
            .map(|s| Step {
                id: s.id.clone(),
                title: s.title.clone(),
                // Disk checks run every time: the machine may have been
                // changed while it was off.
                always_runs: s
                    .actions
                    .iter()
                    .all(|a| matches!(a, Action::CheckDisk { .. })),
            })
            .collect();
        self.runner.run(&steps, &mut self.install, emit)?;
        let elapsed = self.install.started.elapsed();
        self.install.log(&format!(
            "install finished in {:.1} s",
            elapsed.as_secs_f64()
        ));
        Ok(())
    }
}

impl<S: System> StepBodies for Install<'_, S> {
    fn run_step(
        &mut self,
        index: usize,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<StepEnd, CommandFailure> {
        let plan = self.plan;
        let Some(step) = plan.steps.get(index) else {
            return Err(no_such_step(index));
        };
        for action in &step.actions {
            self.act(index, action, emit)?;
        }
        // What the step wrote reaches the disk before the journal says
        // it is done: a power cut must not keep the record and lose
        // the files.
        let root = self.target_root.clone();
        self.system.sync(&root).map_err(|e| CommandFailure {
            what: format!("sync {} to its disk", root.display()),
            status: None,
            message: e.to_string(),
            output_tail: Vec::new(),
        })?;
        Ok(StepEnd::Done)
    }

    /// Once the node's disk exists, keep the journal, log and plan there.
    fn after_step(
        &mut self,
        index: usize,
        journal: &mut Journal,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), CommandFailure> {
        let id = self.plan.steps.get(index).map(|s| s.id.as_str());
        let Some(p) = self
            .persist
            .clone()
            .filter(|p| Some(p.after_step.as_str()) == id)
        else {
            return Ok(());
        };
        let fail = |what: String, message: String| CommandFailure {
            what,
            status: None,
            message,
            output_tail: Vec::new(),
        };
        journal
            .also_keep_at(&p.dir.join(JOURNAL_FILE))
            .map_err(|e| fail("keep the journal on the node".into(), e.to_string()))?;
        let plan_path = p.dir.join(PLAN_FILE);
        self.system
            .write_file(&plan_path, 0o600, self.plan.to_json().as_bytes())
            .map_err(|e| fail(format!("write {}", plan_path.display()), e.to_string()))?;
        if let Some(digest) = self.answer_digest.clone() {
            let path = p.dir.join(ANSWER_DIGEST_FILE);
            self.system
                .write_file(&path, 0o600, format!("{digest}\n").as_bytes())
                .map_err(|e| fail(format!("write {}", path.display()), e.to_string()))?;
        }
        // The log so far goes along, then grows in both places.
        let log_path = p.dir.join(LOG_FILE);
        if let Some(first) = self.logs.first() {
            let _ = std::fs::copy(first, &log_path);
        }
        self.logs.push(log_path);
        emit(&Event::Output {
            line: format!(
                "journal and log are kept in {} from now on",
                p.dir.display()
            ),
        });
        Ok(())
    }

    fn log(&mut self, line: &str) {
        Install::log(self, line);
    }
}

impl<'p, S: System> Install<'p, S> {
    fn act(
        &mut self,
        index: usize,
        action: &Action,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), CommandFailure> {
        match action {
            Action::CheckDisk {
                path,
                device,
                boot_id,
                serial,
                size_bytes,
            } => {
                let text = format!("check {path}");
                self.announce(index, &text, emit);
                let planned = PlannedDisk {
                    device: device.as_deref(),
                    boot_id: boot_id.as_deref(),
                    serial: serial.as_deref(),
                    size_bytes: *size_bytes,
                };
                self.check_disk(path, &planned)
                    .map_err(|message| CommandFailure {
                        what: text,
                        status: None,
                        message,
                        output_tail: Vec::new(),
                    })
            }
            Action::Run(command) => {
                self.announce(index, &format!("$ {command}"), emit);
                self.run_command(command, emit)
            }
            Action::WriteFile(file) => {
                let text = format!("write {} (mode {})", file.path, file.mode);
                self.announce(index, &text, emit);
                self.write_file(file, emit)
                    .map_err(|message| CommandFailure {
                        what: text,
                        status: None,
                        message,
                        output_tail: Vec::new(),
                    })
            }
            Action::Symlink { path, target } => {
                let text = format!("link {path} -> {target}");
                self.announce(index, &text, emit);
                let at = self.on_target(path);
                self.system
                    .symlink(&at, target)
                    .map_err(|e| CommandFailure {
                        what: text,
                        status: None,
                        message: e.to_string(),
                        output_tail: Vec::new(),
                    })
            }
        }
    }

    fn announce(&mut self, index: usize, text: &str, emit: &mut dyn FnMut(&Event)) {
        self.log(text);
        emit(&Event::Action {
            index,
            text: text.to_string(),
        });
    }

    fn check_disk(&mut self, path: &str, planned: &PlannedDisk<'_>) -> Result<(), String> {
        // Step one of every run: this run has not written yet (an earlier,
        // interrupted run may have).
        const NOTHING_WRITTEN: &str = "This run wrote nothing";
        let found = self
            .system
            .disk_identity(path)
            .map_err(|e| format!("cannot read {path}: {e}. {NOTHING_WRITTEN}"))?;
        let Some(found) = found else {
            return Err(format!(
                "{path} leads to no disk now: the disk was removed, or (a /dev/disk/by-path name) moved to another slot. {NOTHING_WRITTEN}; put it back, or run the installer again to make a new plan"
            ));
        };
        let now = format!(
            "{path} leads to {} (device {})",
            found.kernel_name, found.device
        );
        if !found.shared_with.is_empty() {
            let others: Vec<String> = found
                .shared_with
                .iter()
                .map(|(name, what)| format!("{name} shares {what} with it"))
                .collect();
            return Err(format!(
                "{now}, but {}: the installer cannot tell them apart. {NOTHING_WRITTEN}; give each disk its own serial, set up multipath for a disk seen through two paths, or unplug one, then run the installer again",
                others.join(", ")
            ));
        }
        // Device numbers hold within one boot; after a reboot the serial,
        // the size and the uniqueness above identify the disk.
        let same_boot = planned.boot_id.is_some() && planned.boot_id == found.boot_id.as_deref();
        if let Some(device) = planned.device.filter(|d| same_boot && *d != found.device) {
            return Err(format!(
                "{now}, not to the device {device} that was planned (the link was moved to another disk). {NOTHING_WRITTEN}; run the installer again to make a new plan"
            ));
        }
        if found.serial.as_deref() != planned.serial || found.size_bytes != planned.size_bytes {
            return Err(format!(
                "{now}, which is not the disk that was planned: serial {} and {} bytes now, planned serial {} and {} bytes. {NOTHING_WRITTEN}; run the installer again to make a new plan",
                found.serial.as_deref().unwrap_or("(none)"),
                found.size_bytes,
                planned.serial.unwrap_or("(none)"),
                planned.size_bytes,
            ));
        }
        Ok(())
    }

    fn run_command(
        &mut self,
        command: &Command,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), CommandFailure> {
        let stdin = match &command.stdin {
            None => None,
            Some(Stdin::RootPassword) => match &self.secrets.root_password {
                Some(pw) => Some(format!("root:{pw}\n")),
                None => return Err(missing_secret(command, "global.root-password")),
            },
            Some(Stdin::RootPasswordHash) => match &self.secrets.root_password_hash {
                Some(h) => Some(format!("root:{h}\n")),
                None => return Err(missing_secret(command, "global.root-password-hashed")),
            },
            // No newline: the credential is the password itself.
            Some(Stdin::PeerPassword) => match &self.secrets.peer_password {
                Some(p) => Some(p.clone()),
                None => return Err(missing_secret(command, "cluster.peer-password")),
            },
        };
        let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
        let (logs, started) = (&self.logs, self.started);
        // Each line reaches the log and the screen as it is printed: a hung
        // command shows how far it got.
        let status = self.system.run(command, stdin.as_deref(), &mut |line| {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_string());
            append_log(logs, started, &format!("  {line}"));
            emit(&Event::Output {
                line: line.to_string(),
            });
        });
        let failure = |status: Option<i32>, message: String| CommandFailure {
            what: command.to_string(),
            status,
            message,
            output_tail: tail.iter().cloned().collect(),
        };
        match status {
            Ok(Some(0)) => Ok(()),
            Ok(Some(code)) => Err(failure(Some(code), format!("exited with status {code}"))),
            Ok(None) => Err(failure(None, "was killed by a signal".into())),
            // The message names the command and its time limit.
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(failure(None, e.to_string())),
            Err(e) => Err(failure(None, format!("could not be started: {e}"))),
        }
    }

    fn write_file(&mut self, file: &FileSpec, emit: &mut dyn FnMut(&Event)) -> Result<(), String> {
        let mode = u32::from_str_radix(&file.mode, 8)
            .map_err(|_| format!("mode '{}' is not octal", file.mode))?;
        let content = match &file.content {
            FileContent::Text(t) => t.clone(),
            FileContent::ThePlan => self.plan.to_json(),
            FileContent::HostsForLease => self.hosts_for_lease(emit)?,
        };
        let at = self.on_target(&file.path);
        self.system
            .write_file(&at, mode, content.as_bytes())
            .map_err(|e| format!("{}: {e}", at.display()))
    }

    /// `/etc/hosts` with the address the management NIC leased by DHCP.
    fn hosts_for_lease(&mut self, emit: &mut dyn FnMut(&Event)) -> Result<String, String> {
        let nic = self.plan.network.management_nic.clone();
        let cmd = Command::new(["ip", "-o", "-4", "addr", "show", "dev", nic.as_str()]);
        let mut out = Vec::new();
        let status = self
            .system
            .run(&cmd, None, &mut |l| out.push(l.to_string()))
            .map_err(|e| format!("{cmd}: {e}"))?;
        if status != Some(0) {
            return Err(format!("{cmd} failed: {}", out.join(" ")));
        }
        let addr = out
            .iter()
            .find_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet")?;
                Some(words.next()?.parse::<Cidr>().ok()?.addr.to_string())
            })
            .ok_or_else(|| {
                format!(
                    "{nic} has no IPv4 address from DHCP; use [network] source = \"from-answer\""
                )
            })?;
        emit(&Event::Output {
            line: format!("{nic} leased {addr} by DHCP"),
        });
        let node = &self.plan.node;
        Ok(format!(
            "127.0.0.1 localhost.localdomain localhost\n{addr} {} {}\n",
            node.fqdn(),
            node.hostname
        ))
    }

    fn on_target(&self, path: &str) -> PathBuf {
        self.target_root.join(path.trim_start_matches('/'))
    }

    fn log(&mut self, line: &str) {
        append_log(&self.logs, self.started, line);
    }
}

/// One line, stamped with the time since `started`, at the end of each log.
fn append_log(logs: &[PathBuf], started: Instant, line: &str) {
    let stamp = started.elapsed().as_secs_f64();
    for path in logs {
        // A copy whose disk is gone (unmounted at the end) is skipped.
        if path.parent().is_some_and(|d| !d.exists()) {
            continue;
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "[{stamp:8.1}] {line}");
        }
    }
}

fn missing_secret(command: &Command, key: &str) -> CommandFailure {
    CommandFailure {
        what: command.to_string(),
        status: None,
        message: format!("the answer has no {key}, which this command needs"),
        output_tail: Vec::new(),
    }
}

fn no_such_step(index: usize) -> CommandFailure {
    CommandFailure {
        what: format!("run step {}", index + 1),
        status: None,
        message: "the plan has no such step (a bug if seen)".into(),
        output_tail: Vec::new(),
    }
}

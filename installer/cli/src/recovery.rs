//! The recovery loop after a failed install or first boot: the progress
//! screen's choices (retry from the journal, a shell where one is allowed,
//! save the log to a USB stick), the same for both runs; what differs is
//! in [`Recovery`].

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use tappaas_wizard::ProgressOutcome;

/// What differs between the runs the loop recovers.
pub(crate) struct Recovery {
    /// The shell the failure screen opens; `None`: no shell here.
    pub shell: Option<Shell>,
    /// The file saved to a USB stick, and how it is called.
    pub log: PathBuf,
    pub log_name: &'static str,
    /// The saved copy's name starts with this.
    pub log_prefix: &'static str,
    /// Said after saving, before the run is retried on Enter.
    pub after_save: &'static str,
}

/// The shell the failure screen may open.
pub(crate) struct Shell {
    /// Said before it starts.
    pub intro: &'static str,
    /// The command, made when it is opened (first boot's names the
    /// console it runs on).
    pub command: Box<dyn Fn() -> Command>,
    /// What an unsuccessful end means, when it means more than the last
    /// command's status (sulogin: root's password was not given).
    pub refused: Option<&'static str>,
}

/// The terminal side of the loop, faked in the tests.
pub(crate) trait Console {
    fn say(&mut self, line: &str);
    fn warn(&mut self, line: &str);
    fn shell(&mut self, command: Command) -> std::io::Result<ExitStatus>;
    /// Copy `log` to a USB stick; where it went, or why not.
    fn save_log(&mut self, log: &Path, prefix: &str) -> Result<String, String>;
    fn wait_for_enter(&mut self);
}

/// Run `attempt` (one run from the journal, shown until the user chooses)
/// until it ends with [`ProgressOutcome::Done`]; its value then.
pub(crate) fn recover<T>(
    recovery: &Recovery,
    console: &mut dyn Console,
    attempt: &mut dyn FnMut() -> anyhow::Result<(ProgressOutcome, T)>,
) -> anyhow::Result<T> {
    loop {
        let (outcome, value) = attempt()?;
        match outcome {
            ProgressOutcome::Done => return Ok(value),
            // The run resumes from its journal: the failed step runs
            // again from its start.
            ProgressOutcome::Retry { .. } => {}
            ProgressOutcome::Shell => match &recovery.shell {
                Some(shell) => open_shell(shell, console),
                None => console.warn("No shell is offered here; the run is retried."),
            },
            ProgressOutcome::SaveLogs => {
                match console.save_log(&recovery.log, recovery.log_prefix) {
                    Ok(place) => {
                        console.say(&format!("{} is saved as {place}.", recovery.log_name))
                    }
                    Err(e) => console.warn(&format!("{} was not saved: {e}", recovery.log_name)),
                }
                console.say(recovery.after_save);
                console.wait_for_enter();
            }
        }
    }
}

fn open_shell(shell: &Shell, console: &mut dyn Console) {
    console.say(shell.intro);
    let command = (shell.command)();
    let program = command.get_program().to_string_lossy().into_owned();
    match console.shell(command) {
        Ok(status) if !status.success() => {
            if let Some(refused) = shell.refused {
                console.warn(&format!("no shell ({status}): {refused}"));
            }
        }
        Ok(_) => {}
        Err(e) => console.warn(&format!("could not start {program}: {e}")),
    }
}

/// The console the installer runs on.
pub(crate) struct Terminal {
    /// How a log gets onto a USB stick.
    pub save: fn(&Path, &str) -> Result<String, String>,
}

impl Console for Terminal {
    fn say(&mut self, line: &str) {
        println!("{line}");
    }

    fn warn(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn shell(&mut self, mut command: Command) -> std::io::Result<ExitStatus> {
        command.status()
    }

    fn save_log(&mut self, log: &Path, prefix: &str) -> Result<String, String> {
        (self.save)(log, prefix)
    }

    fn wait_for_enter(&mut self) {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    /// Records what the loop did; the shell ends and the save goes as
    /// told.
    struct Fake {
        lines: Vec<String>,
        shells: Vec<String>,
        shell_status: Option<i32>,
        saves: Vec<(PathBuf, String)>,
        save: Result<String, String>,
        enters: usize,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                lines: Vec::new(),
                shells: Vec::new(),
                shell_status: Some(0),
                saves: Vec::new(),
                save: Ok("log-1.log on /dev/sdb1".into()),
                enters: 0,
            }
        }
    }

    impl Console for Fake {
        fn say(&mut self, line: &str) {
            self.lines.push(line.to_string());
        }

        fn warn(&mut self, line: &str) {
            self.lines.push(format!("warn: {line}"));
        }

        fn shell(&mut self, command: Command) -> std::io::Result<ExitStatus> {
            self.shells
                .push(command.get_program().to_string_lossy().into_owned());
            match self.shell_status {
                // A wait status: the exit code is in the high byte.
                Some(code) => Ok(ExitStatus::from_raw(code << 8)),
                None => Err(std::io::Error::other("not found")),
            }
        }

        fn save_log(&mut self, log: &Path, prefix: &str) -> Result<String, String> {
            self.saves.push((log.to_path_buf(), prefix.to_string()));
            self.save.clone()
        }

        fn wait_for_enter(&mut self) {
            self.enters += 1;
        }
    }

    fn recovery(shell: Option<Shell>) -> Recovery {
        Recovery {
            shell,
            log: PathBuf::from("/run/x/the.log"),
            log_name: "The log",
            log_prefix: "run",
            after_save: "Press Enter to retry.",
        }
    }

    fn sulogin() -> Shell {
        Shell {
            intro: "give root's password",
            command: Box::new(|| Command::new("sulogin")),
            refused: Some("the password was not given"),
        }
    }

    /// Runs the loop over the user's `choices` (the last is Done); how
    /// many runs it made.
    fn run(recovery: &Recovery, fake: &mut Fake, choices: &[ProgressOutcome]) -> usize {
        let mut left: VecDeque<ProgressOutcome> = choices.iter().cloned().collect();
        let mut runs = 0;
        let last = recover(recovery, fake, &mut || {
            runs += 1;
            let choice = left.pop_front().expect("the loop stops at Done");
            Ok((choice, runs))
        })
        .expect("no error");
        assert_eq!(last, runs, "the value of the run that ended Done");
        runs
    }

    #[test]
    fn done_ends_at_once_and_retry_runs_again() {
        let mut fake = Fake::new();
        assert_eq!(run(&recovery(None), &mut fake, &[ProgressOutcome::Done]), 1);
        let choices = [
            ProgressOutcome::Retry { index: 3 },
            ProgressOutcome::Retry { index: 3 },
            ProgressOutcome::Done,
        ];
        assert_eq!(run(&recovery(None), &mut fake, &choices), 3);
        assert!(fake.lines.is_empty() && fake.shells.is_empty() && fake.saves.is_empty());
    }

    #[test]
    fn a_shell_opens_where_allowed_then_the_run_is_retried() {
        let mut fake = Fake::new();
        let choices = [ProgressOutcome::Shell, ProgressOutcome::Done];
        assert_eq!(run(&recovery(Some(sulogin())), &mut fake, &choices), 2);
        assert_eq!(fake.shells, ["sulogin"]);
        assert_eq!(fake.lines, ["give root's password"]);

        let mut fake = Fake::new();
        assert_eq!(run(&recovery(None), &mut fake, &choices), 2);
        assert!(fake.shells.is_empty(), "no shell where none is allowed");
        assert_eq!(fake.lines.len(), 1);
        assert!(
            fake.lines[0].starts_with("warn: No shell"),
            "{:?}",
            fake.lines
        );
    }

    #[test]
    fn a_refused_or_missing_shell_says_why() {
        let choices = [ProgressOutcome::Shell, ProgressOutcome::Done];
        let mut fake = Fake::new();
        fake.shell_status = Some(1);
        run(&recovery(Some(sulogin())), &mut fake, &choices);
        assert_eq!(
            fake.lines.last().map(String::as_str),
            Some("warn: no shell (exit status: 1): the password was not given")
        );

        // A shell's own last status means nothing to say.
        let mut fake = Fake::new();
        fake.shell_status = Some(1);
        let bash = Shell {
            intro: "a shell",
            command: Box::new(|| Command::new("/bin/bash")),
            refused: None,
        };
        run(&recovery(Some(bash)), &mut fake, &choices);
        assert_eq!(fake.lines, ["a shell"]);

        let mut fake = Fake::new();
        fake.shell_status = None;
        run(&recovery(Some(sulogin())), &mut fake, &choices);
        assert_eq!(
            fake.lines.last().map(String::as_str),
            Some("warn: could not start sulogin: not found")
        );
    }

    #[test]
    fn save_logs_saves_the_named_log_waits_for_enter_then_retries() {
        let r = recovery(None);
        let choices = [ProgressOutcome::SaveLogs, ProgressOutcome::Done];
        let mut fake = Fake::new();
        assert_eq!(run(&r, &mut fake, &choices), 2);
        assert_eq!(fake.saves, [(r.log.clone(), "run".to_string())]);
        assert_eq!(
            fake.lines,
            [
                "The log is saved as log-1.log on /dev/sdb1.",
                "Press Enter to retry."
            ]
        );
        assert_eq!(fake.enters, 1);

        let mut fake = Fake::new();
        fake.save = Err("no FAT-formatted USB stick found".into());
        run(&r, &mut fake, &choices);
        assert_eq!(
            fake.lines[0],
            "warn: The log was not saved: no FAT-formatted USB stick found"
        );
        assert_eq!(fake.enters, 1, "the message stays until Enter");
    }

    #[test]
    fn an_error_of_a_run_ends_the_loop() {
        let mut fake = Fake::new();
        let mut runs = 0;
        let result: anyhow::Result<()> = recover(&recovery(None), &mut fake, &mut || {
            runs += 1;
            anyhow::bail!("the engine thread stopped")
        });
        assert!(result.is_err());
        assert_eq!(runs, 1);
    }
}

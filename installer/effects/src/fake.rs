//! A recording fake of the machine, for tests: it records every call and
//! answers commands from a script.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Effects, Invocation, Line, Mount, MountSpec, Ran, RunError, Stream, TAIL_LINES};

/// One call the fake saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Run {
        /// `program args...`.
        command: String,
        input: Option<Vec<u8>>,
        limit: Duration,
    },
    Write {
        path: PathBuf,
        mode: u32,
        content: Vec<u8>,
    },
    Mount {
        spec: MountSpec,
    },
    Unmount {
        target: PathBuf,
    },
}

/// How a scripted command ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It prints these lines, then exits (`None`: killed by a signal).
    Exit {
        lines: Vec<(Stream, String)>,
        status: Option<i32>,
    },
    /// It prints these lines, then runs past its limit.
    Hang { lines: Vec<(Stream, String)> },
    /// It cannot be started (no such program).
    CannotStart,
}

impl Answer {
    /// Prints `stdout` (one line each) and exits with `status`.
    pub fn prints(stdout: &[&str], status: i32) -> Answer {
        Answer::Exit {
            lines: stdout
                .iter()
                .map(|l| (Stream::Stdout, (*l).to_string()))
                .collect(),
            status: Some(status),
        }
    }
}

/// Records every call; a command whose line starts with a scripted prefix
/// gets that answer (once), any other exits 0 printing nothing. Files are
/// recorded, not written.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
    script: Vec<(String, Answer)>,
    mounted: Vec<PathBuf>,
    failing_writes: Vec<PathBuf>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// The next command starting with `prefix` answers `answer`.
    pub fn answer(mut self, prefix: &str, answer: Answer) -> Recorder {
        self.script.push((prefix.to_string(), answer));
        self
    }

    /// `target` is mounted before the test begins.
    pub fn already_mounted(mut self, target: impl Into<PathBuf>) -> Recorder {
        self.mounted.push(target.into());
        self
    }

    /// Writing `path` fails.
    pub fn failing_write(mut self, path: impl Into<PathBuf>) -> Recorder {
        self.failing_writes.push(path.into());
        self
    }

    /// Every call so far, in order (the guards' unmounts included).
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The command lines run so far.
    pub fn commands(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Run { command, .. } => Some(command),
                _ => None,
            })
            .collect()
    }

    fn record(&self, call: Call) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

impl Effects for Recorder {
    fn run(
        &mut self,
        cmd: &Invocation<'_>,
        line: &mut dyn FnMut(&Line<'_>),
    ) -> Result<Ran, RunError> {
        let command = cmd.display();
        self.record(Call::Run {
            command: command.clone(),
            input: cmd.input.map(<[u8]>::to_vec),
            limit: cmd.limit,
        });
        let answer = match self
            .script
            .iter()
            .position(|(p, _)| command.starts_with(p.as_str()))
        {
            Some(i) => self.script.remove(i).1,
            None => Answer::prints(&[], 0),
        };
        let (lines, end) = match answer {
            Answer::Exit { lines, status } => (lines, Ok(status)),
            Answer::Hang { lines } => (lines, Err(())),
            Answer::CannotStart => {
                return Err(RunError::Spawn {
                    command,
                    source: io::Error::from(io::ErrorKind::NotFound),
                })
            }
        };
        for (stream, text) in &lines {
            let raw = format!("{text}\n");
            line(&Line {
                // Merged, as for real, everything comes on stdout.
                stream: if cmd.merge_stderr {
                    Stream::Stdout
                } else {
                    *stream
                },
                text,
                raw: raw.as_bytes(),
            });
        }
        let start = lines.len().saturating_sub(TAIL_LINES);
        let tail = lines[start..].iter().map(|(_, t)| t.clone()).collect();
        match end {
            Ok(status) => Ok(Ran { status, tail }),
            Err(()) => Err(RunError::TimedOut {
                command,
                limit: cmd.limit,
                tail,
            }),
        }
    }

    fn write_file(&mut self, path: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
        self.record(Call::Write {
            path: path.to_path_buf(),
            mode,
            content: content.to_vec(),
        });
        if self.failing_writes.iter().any(|p| p == path) {
            return Err(io::Error::other(format!(
                "{}: scripted failure",
                path.display()
            )));
        }
        Ok(())
    }

    fn mount(&mut self, spec: &MountSpec) -> io::Result<Mount> {
        self.record(Call::Mount { spec: spec.clone() });
        if self.mounted.contains(&spec.target) {
            return Ok(Mount::found_mounted(spec.target.clone()));
        }
        self.mounted.push(spec.target.clone());
        let calls = Arc::clone(&self.calls);
        Ok(Mount::mounted_here(
            spec.target.clone(),
            Box::new(move |target: &Path| {
                if let Ok(mut calls) = calls.lock() {
                    calls.push(Call::Unmount {
                        target: target.to_path_buf(),
                    });
                }
                Ok(())
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_calls_and_answers_from_the_script() {
        let mut fake = Recorder::new()
            .answer("zpool import", Answer::prints(&["no pools"], 1))
            .answer(
                "unsquashfs",
                Answer::Hang {
                    lines: vec![(Stream::Stderr, "1%".into())],
                },
            );
        let args = ["import".to_string()];
        let cmd = Invocation {
            program: "zpool",
            args: &args,
            input: Some(b"pw"),
            limit: Duration::from_secs(1),
            merge_stderr: false,
        };
        let mut seen = Vec::new();
        let ran = fake
            .run(&cmd, &mut |l| seen.push(l.text.to_string()))
            .expect("ran");
        assert_eq!((ran.status, seen), (Some(1), vec!["no pools".to_string()]));
        // Used once: the second time it succeeds.
        assert_eq!(fake.run(&cmd, &mut |_| {}).expect("ran").status, Some(0));
        let hang = Invocation {
            program: "unsquashfs",
            args: &[],
            input: None,
            limit: Duration::from_secs(1),
            merge_stderr: false,
        };
        let e = fake.run(&hang, &mut |_| {}).expect_err("it hangs");
        assert_eq!(e.tail(), ["1%"]);
        assert!(matches!(
            &fake.calls()[0],
            Call::Run { command, input: Some(i), .. } if command == "zpool import" && i == b"pw"
        ));
        assert_eq!(fake.commands().len(), 3);
    }

    #[test]
    fn records_writes_and_fails_the_scripted_ones() {
        let mut fake = Recorder::new().failing_write("/etc/hosts");
        fake.write_file(Path::new("/etc/hostname"), 0o644, b"node\n")
            .expect("written");
        let e = fake
            .write_file(Path::new("/etc/hosts"), 0o644, b"")
            .expect_err("scripted to fail");
        assert!(e.to_string().contains("/etc/hosts"), "{e}");
        assert_eq!(
            fake.calls()[0],
            Call::Write {
                path: "/etc/hostname".into(),
                mode: 0o644,
                content: b"node\n".to_vec()
            }
        );
        assert_eq!(fake.calls().len(), 2);
    }

    #[test]
    fn a_guard_unmounts_only_its_own_mount() {
        let mut fake = Recorder::new().already_mounted("/mnt/theirs");
        let ours = fake
            .mount(&MountSpec::new("/dev/sdb1", "/mnt/ours"))
            .expect("mount");
        let theirs = fake
            .mount(&MountSpec::new("/dev/sdc1", "/mnt/theirs"))
            .expect("mount");
        assert!(ours.is_ours() && !theirs.is_ours());
        drop(theirs);
        drop(ours);
        let unmounts: Vec<Call> = fake
            .calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Unmount { .. }))
            .collect();
        assert_eq!(
            unmounts,
            [Call::Unmount {
                target: "/mnt/ours".into()
            }]
        );
    }
}

//! Running a command on the real machine: output streamed line by line,
//! input on stdin, a time limit enforced on the whole process group.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{pipe2, Pid};

/// Lines of output kept for an error message.
pub const TAIL_LINES: usize = 20;

/// How often a running command is checked for its end.
const POLL: Duration = Duration::from_millis(100);

/// How long the output of a command that has ended is still read.
const LINGER: Duration = Duration::from_secs(2);

/// One command to run: what the process list shows (`program`, `args`:
/// never a secret), what it reads on stdin (`input`: where secrets go)
/// and how long it may take.
#[derive(Clone, Copy)]
pub struct Invocation<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    /// Written to stdin, which is then closed; `None`: stdin is closed
    /// from the start, so nothing can prompt.
    pub input: Option<&'a [u8]>,
    /// The command and everything it started are killed when it has not
    /// ended within this.
    pub limit: Duration,
    /// Stderr goes into the pipe of stdout, so the lines keep the order
    /// they were printed in (a log reads as the terminal would show it);
    /// all are then [`Stream::Stdout`]. Off for a caller that must tell
    /// the two apart.
    pub merge_stderr: bool,
}

impl Invocation<'_> {
    /// `program args...`, for messages (the input is never shown).
    pub fn display(&self) -> String {
        std::iter::once(self.program)
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Debug for Invocation<'_> {
    // The input may be a password: only its presence is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("input", &self.input.map(|_| "<redacted>"))
            .field("limit", &self.limit)
            .field("merge_stderr", &self.merge_stderr)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line a command printed.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub stream: Stream,
    /// The line without its line break (invalid UTF-8 replaced).
    pub text: &'a str,
    /// The bytes exactly as printed, line break included (the last line
    /// may have none).
    pub raw: &'a [u8],
}

/// A command that ended by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// Exit status; `None` when a signal ended it.
    pub status: Option<i32>,
    /// The last [`TAIL_LINES`] lines it printed, both streams.
    pub tail: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("`{command}` could not be started: {source}")]
    Spawn { command: String, source: io::Error },
    #[error("`{command}` did not end within {} and was killed", format_limit(*limit))]
    TimedOut {
        command: String,
        limit: Duration,
        /// The last lines it printed before it was killed.
        tail: Vec<String>,
    },
    #[error("`{command}`: {source}")]
    Wait { command: String, source: io::Error },
}

impl RunError {
    /// The last lines the command printed, if it printed any.
    pub fn tail(&self) -> &[String] {
        match self {
            RunError::TimedOut { tail, .. } => tail,
            _ => &[],
        }
    }
}

impl From<RunError> for io::Error {
    /// The message only: the output tail may hold what a command printed
    /// on purpose for this process alone (a decrypted credential).
    fn from(e: RunError) -> io::Error {
        let kind = match &e {
            RunError::Spawn { source, .. } | RunError::Wait { source, .. } => source.kind(),
            RunError::TimedOut { .. } => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, e.to_string())
    }
}

/// `90 s`, `0.2 s`: a limit as a message shows it.
pub fn format_limit(limit: Duration) -> String {
    if limit.subsec_millis() == 0 {
        format!("{} s", limit.as_secs())
    } else {
        format!("{:.1} s", limit.as_secs_f64())
    }
}

/// The last lines seen.
struct Tail(VecDeque<String>);

impl Tail {
    fn push(&mut self, line: &str) {
        if self.0.len() == TAIL_LINES {
            self.0.pop_front();
        }
        self.0.push_back(line.to_string());
    }

    fn take(&mut self) -> Vec<String> {
        self.0.drain(..).collect()
    }
}

pub(crate) fn run(cmd: &Invocation<'_>, line: &mut dyn FnMut(&Line<'_>)) -> Result<Ran, RunError> {
    let command = cmd.display();
    let deadline = Instant::now() + cmd.limit;
    let spawn_error = |source| RunError::Spawn {
        command: command.clone(),
        source,
    };
    let (stdout, stderr, merged) = if cmd.merge_stderr {
        // Close-on-exec: only the child's own stdout and stderr hold it.
        let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| spawn_error(e.into()))?;
        let second = write.try_clone().map_err(spawn_error)?;
        (
            Stdio::from(write),
            Stdio::from(second),
            Some(File::from(read)),
        )
    } else {
        (Stdio::piped(), Stdio::piped(), None)
    };
    // The command (and with it our copies of the pipe's write end) is
    // dropped once spawned, so the pipe ends when the child's copies do.
    let mut child = std::process::Command::new(cmd.program)
        .args(cmd.args)
        .stdin(if cmd.input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(stdout)
        .stderr(stderr)
        // Its own process group, so that at the limit what it started
        // (a shell's children) is killed with it and lets go of the pipes.
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    // Threads, so that a command that does not read its stdin, or fills
    // one pipe while we read the other, cannot block us past the limit.
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), cmd.input) {
        let input = input.to_vec();
        std::thread::spawn(move || {
            // A command that exits without reading is not an error here;
            // its exit status tells.
            let _ = stdin.write_all(&input);
        });
    }
    let (send, lines) = mpsc::channel();
    read_lines(merged, Stream::Stdout, send.clone());
    read_lines(child.stdout.take(), Stream::Stdout, send.clone());
    read_lines(child.stderr.take(), Stream::Stderr, send);
    let mut tail = Tail(VecDeque::with_capacity(TAIL_LINES));
    let timed_out = |child: &mut Child, tail: &mut Tail| {
        kill_group(child);
        RunError::TimedOut {
            command: command.clone(),
            limit: cmd.limit,
            tail: tail.take(),
        }
    };
    let wait_error = |source| RunError::Wait {
        command: command.clone(),
        source,
    };
    // Until both pipes are closed (the command and all it started are done
    // writing), or, once the command has ended, for a moment more: what it
    // left running in the background may hold the pipes for ever.
    let mut ended: Option<(ExitStatus, Instant)> = None;
    loop {
        let until = match ended {
            Some((_, at)) => deadline.min(at + LINGER),
            None => deadline,
        };
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left.min(POLL)) {
            Ok((stream, raw)) => {
                let raw: Vec<u8> = raw;
                let text = String::from_utf8_lossy(&raw);
                let text = text.trim_end_matches(['\n', '\r']);
                tail.push(text);
                line(&Line {
                    stream,
                    text,
                    raw: &raw,
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if ended.is_none() {
                    if let Some(status) = child.try_wait().map_err(wait_error)? {
                        ended = Some((status, Instant::now()));
                        continue;
                    }
                }
                if Instant::now() >= until {
                    match ended {
                        Some(_) => break,
                        None => return Err(timed_out(&mut child, &mut tail)),
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = match ended {
        Some((status, _)) => Some(status),
        None => wait_until(&mut child, deadline).map_err(wait_error)?,
    };
    match status {
        Some(status) => Ok(Ran {
            status: status.code(),
            tail: tail.take(),
        }),
        None => Err(timed_out(&mut child, &mut tail)),
    }
}

/// Sends each line of `pipe` (its bytes, line break included) as it
/// comes, from a thread.
fn read_lines<P: Read + Send + 'static>(
    pipe: Option<P>,
    stream: Stream,
    send: mpsc::Sender<(Stream, Vec<u8>)>,
) {
    let Some(pipe) = pipe else { return };
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        loop {
            let mut buf = Vec::new();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if send.send((stream, buf)).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Kills the command and everything in its process group, and reaps it.
fn kill_group(child: &mut Child) {
    if let Ok(id) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(id), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The child's exit status, or `None` when it is still running at
/// `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(
        script: &str,
        input: Option<&[u8]>,
        limit: Duration,
    ) -> (Result<Ran, RunError>, Vec<(Stream, String)>) {
        let args = vec!["-c".to_string(), script.to_string()];
        let mut seen = Vec::new();
        let r = run(
            &Invocation {
                program: "sh",
                args: &args,
                input,
                limit,
                merge_stderr: false,
            },
            &mut |l| seen.push((l.stream, l.text.to_string())),
        );
        (r, seen)
    }

    #[test]
    fn passes_both_streams_the_status_and_stdin() {
        let (r, seen) = sh(
            "echo out; echo err >&2; exit 3",
            None,
            Duration::from_secs(30),
        );
        let r = r.expect("ran");
        assert_eq!(r.status, Some(3));
        assert_eq!(r.tail.len(), 2);
        assert!(seen.contains(&(Stream::Stdout, "out".into())), "{seen:?}");
        assert!(seen.contains(&(Stream::Stderr, "err".into())), "{seen:?}");
        let (r, seen) = sh("cat", Some(b"s3cret\n"), Duration::from_secs(30));
        assert_eq!(r.expect("ran").status, Some(0));
        assert_eq!(seen, [(Stream::Stdout, "s3cret".to_string())]);
        // Without input a command reading stdin sees its end at once.
        let (r, seen) = sh("cat", None, Duration::from_secs(30));
        assert_eq!((r.expect("ran").status, seen.len()), (Some(0), 0));
    }

    /// Merged, the lines keep the order they were printed in.
    #[test]
    fn merged_streams_keep_their_order() {
        let script = "for i in 1 2 3 4 5 6; do echo out$i; echo err$i >&2; done";
        let args = vec!["-c".to_string(), script.to_string()];
        let mut seen = Vec::new();
        run(
            &Invocation {
                program: "sh",
                args: &args,
                input: None,
                limit: Duration::from_secs(30),
                merge_stderr: true,
            },
            &mut |l| seen.push(l.text.to_string()),
        )
        .expect("ran");
        let expected: Vec<String> = (1..=6)
            .flat_map(|i| [format!("out{i}"), format!("err{i}")])
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn raw_bytes_keep_a_missing_last_line_break() {
        let args = vec!["-c".to_string(), "printf 'a\\nb'".to_string()];
        let mut raw = Vec::new();
        run(
            &Invocation {
                program: "sh",
                args: &args,
                input: None,
                limit: Duration::from_secs(30),
                merge_stderr: false,
            },
            &mut |l| raw.extend_from_slice(l.raw),
        )
        .expect("ran");
        assert_eq!(raw, b"a\nb");
    }

    #[test]
    fn a_program_that_does_not_exist_cannot_start() {
        let e = run(
            &Invocation {
                program: "/nonexistent/program",
                args: &[],
                input: None,
                limit: Duration::from_secs(5),
                merge_stderr: false,
            },
            &mut |_| {},
        )
        .expect_err("no such program");
        assert!(matches!(e, RunError::Spawn { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/program"), "{e}");
    }

    /// The shell's `sleep` holds the pipes: only killing the whole group
    /// ends the run at the limit. The tail keeps what came before.
    #[test]
    fn a_hung_command_is_killed_with_its_group_at_the_limit() {
        let began = Instant::now();
        let (r, seen) = sh(
            "echo first; sleep 30; echo never",
            None,
            Duration::from_millis(300),
        );
        let e = r.expect_err("killed at the limit");
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(seen, [(Stream::Stdout, "first".to_string())]);
        assert_eq!(e.tail(), ["first"]);
        let text = e.to_string();
        assert!(
            text.contains("sh -c echo first") && text.contains("0.3 s"),
            "{text}"
        );
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::TimedOut);
    }

    /// A background process that keeps the pipes open does not keep the
    /// run waiting for it: the command ended, and its status counts.
    #[test]
    fn a_command_that_left_something_running_ends_all_the_same() {
        let began = Instant::now();
        let (r, seen) = sh(
            "sleep 20 & echo started; exit 4",
            None,
            Duration::from_secs(15),
        );
        assert_eq!(r.expect("ended").status, Some(4));
        assert_eq!(seen, [(Stream::Stdout, "started".to_string())]);
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{:?}",
            began.elapsed()
        );
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let (r, _) = sh("seq 1 30", None, Duration::from_secs(30));
        let tail = r.expect("ran").tail;
        assert_eq!(
            (tail.len(), tail[0].as_str(), tail[19].as_str()),
            (20, "11", "30")
        );
    }
}

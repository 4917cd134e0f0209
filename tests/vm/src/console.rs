//! Expect-style access to a VM's serial console: a reader thread collects
//! everything the guest prints (and saves it to a log file). Two views:
//!
//! - the stream: `expect` waits, up to a per-call timeout, for a regex to
//!   appear in the output after what the previous `expect` consumed, with
//!   ANSI escape sequences and carriage returns removed (boot messages,
//!   line-oriented programs);
//! - the screen: the output is also fed to a terminal emulator (80x24 by
//!   default, what the live system's launcher gives a serial console), and
//!   `expect_screen` waits for a regex on what the screen shows now. A
//!   full-screen program (the wizard) only redraws the cells that change,
//!   so its words are reliable on the screen, not in the stream.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use regex::bytes::Regex;

/// Why an `expect` failed. The message carries the end of the output and the
/// path of the full log so that a failing test can be understood.
#[derive(Debug)]
pub enum ExpectError {
    Timeout {
        what: String,
        waited: Duration,
        tail: String,
        log: PathBuf,
    },
    Closed {
        what: String,
        tail: String,
        log: PathBuf,
    },
    BadPattern(String),
    Io(std::io::Error),
}

impl fmt::Display for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectError::Timeout { what, waited, tail, log } => write!(
                f,
                "timed out after {:.0}s waiting for {what}\nfull serial log: {}\n--- last output ---\n{tail}\n---",
                waited.as_secs_f64(),
                log.display()
            ),
            ExpectError::Closed { what, tail, log } => write!(
                f,
                "the console closed (VM stopped?) while waiting for {what}\nfull serial log: {}\n--- last output ---\n{tail}\n---",
                log.display()
            ),
            ExpectError::BadPattern(e) => write!(f, "bad pattern: {e}"),
            ExpectError::Io(e) => write!(f, "console I/O: {e}"),
        }
    }
}

impl std::error::Error for ExpectError {}

impl From<std::io::Error> for ExpectError {
    fn from(e: std::io::Error) -> Self {
        ExpectError::Io(e)
    }
}

/// What a successful `expect` matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The whole match.
    pub text: String,
    /// The capture groups (index 0 is the whole match).
    pub groups: Vec<Option<String>>,
    /// Time since the console was opened.
    pub at: Duration,
}

/// Removes ANSI escape sequences, carriage returns and other control
/// characters (except newline and tab) from a byte stream, across reads.
#[derive(Debug, Default)]
pub struct AnsiStripper {
    state: StripState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum StripState {
    #[default]
    Text,
    Escape,
    Csi,
    Osc,
    OscEscape,
    Charset,
}

impl AnsiStripper {
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            self.state = match self.state {
                StripState::Text => match b {
                    0x1b => StripState::Escape,
                    b'\n' | b'\t' => {
                        out.push(b);
                        StripState::Text
                    }
                    0x00..=0x1f | 0x7f => StripState::Text,
                    _ => {
                        out.push(b);
                        StripState::Text
                    }
                },
                StripState::Escape => match b {
                    b'[' => StripState::Csi,
                    b']' => StripState::Osc,
                    b'(' | b')' | b'*' | b'+' | b'#' => StripState::Charset,
                    _ => StripState::Text,
                },
                // Parameters and intermediates until a final byte @..~.
                StripState::Csi => {
                    if (0x40..=0x7e).contains(&b) {
                        StripState::Text
                    } else {
                        StripState::Csi
                    }
                }
                StripState::Osc => match b {
                    0x07 => StripState::Text,
                    0x1b => StripState::OscEscape,
                    _ => StripState::Osc,
                },
                StripState::OscEscape => StripState::Text,
                StripState::Charset => StripState::Text,
            };
        }
    }
}

struct Shared {
    /// Output with escapes removed; what `expect` matches against.
    text: Vec<u8>,
    /// The emulated terminal; what `expect_screen` matches against.
    screen: vt100::Parser,
    /// When the guest last printed something.
    last_output: Instant,
    closed: bool,
}

/// Size of the emulated screen: the launcher sets a serial console that
/// reports no size to 24 rows of 80 columns.
pub const SCREEN_ROWS: u16 = 24;
pub const SCREEN_COLS: u16 = 80;

/// The guest's serial console.
pub struct Console {
    writer: Box<dyn Write + Send>,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    cursor: usize,
    opened: Instant,
    log_path: PathBuf,
    reader: Option<JoinHandle<()>>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic in the reader thread leaves plain data behind: keep using it.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl Console {
    /// Starts reading `reader` in a thread; everything read is appended to
    /// the file `log_path` as it arrives (raw, escapes included).
    pub fn new(
        reader: impl Read + Send + 'static,
        writer: impl Write + Send + 'static,
        log_path: &Path,
    ) -> std::io::Result<Console> {
        let mut log = File::create(log_path)?;
        let shared = Arc::new((
            Mutex::new(Shared {
                text: Vec::new(),
                screen: vt100::Parser::new(SCREEN_ROWS, SCREEN_COLS, 0),
                last_output: Instant::now(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let thread_shared = Arc::clone(&shared);
        let mut reader = reader;
        let handle = std::thread::Builder::new()
            .name("serial-reader".into())
            .spawn(move || {
                let mut stripper = AnsiStripper::default();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    // The log is for people; a failed write must not stop the test.
                    let _ = log.write_all(&buf[..n]);
                    let _ = log.flush();
                    let (m, cv) = &*thread_shared;
                    let mut s = lock(m);
                    stripper.feed(&buf[..n], &mut s.text);
                    s.screen.process(&buf[..n]);
                    s.last_output = Instant::now();
                    cv.notify_all();
                }
                let (m, cv) = &*thread_shared;
                lock(m).closed = true;
                cv.notify_all();
            })?;
        Ok(Console {
            writer: Box::new(writer),
            shared,
            cursor: 0,
            opened: Instant::now(),
            log_path: log_path.to_path_buf(),
            reader: Some(handle),
        })
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything seen so far, escapes removed.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&lock(&self.shared.0).text).into_owned()
    }

    /// What the emulated screen shows now (rows joined by newlines).
    pub fn screen(&self) -> String {
        lock(&self.shared.0).screen.screen().contents()
    }

    /// Waits until the screen shows text matching `pattern`. Does not
    /// consume anything: the screen is a state, not a stream.
    pub fn expect_screen(
        &mut self,
        pattern: &str,
        timeout: Duration,
    ) -> Result<Matched, ExpectError> {
        let re = Regex::new(pattern).map_err(|e| ExpectError::BadPattern(e.to_string()))?;
        let groups =
            self.wait_screen(&format!("/{pattern}/ on the screen"), timeout, |screen| {
                re.captures(screen.as_bytes()).map(|c| {
                    c.iter()
                        .map(|g| g.map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned()))
                        .collect::<Vec<_>>()
                })
            })?;
        Ok(Matched {
            text: groups.first().cloned().flatten().unwrap_or_default(),
            groups,
            at: self.opened.elapsed(),
        })
    }

    /// Waits until `check` accepts the screen's contents (called again after
    /// every change of the output).
    pub fn wait_screen<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, ExpectError> {
        self.wait(what, timeout, |s| check(&s.screen.screen().contents()))
    }

    /// Waits until the guest has printed nothing for `quiet` (a full-screen
    /// program has finished drawing), at most `timeout`.
    pub fn wait_quiet(&self, quiet: Duration, timeout: Duration) -> Result<(), ExpectError> {
        self.wait(
            &format!("{:.1}s without output", quiet.as_secs_f64()),
            timeout,
            |s| (s.last_output.elapsed() >= quiet).then_some(()),
        )
    }

    /// Time since the console was opened.
    pub fn elapsed(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Sends text to the guest as typed (use "\r" for Enter on a serial line).
    pub fn send(&mut self, text: &str) -> Result<(), ExpectError> {
        self.writer.write_all(text.as_bytes())?;
        self.writer.flush()?;
        Ok(())
    }

    /// Sends a line followed by a carriage return (Enter).
    pub fn send_line(&mut self, line: &str) -> Result<(), ExpectError> {
        self.send(&format!("{line}\r"))
    }

    /// Waits until `pattern` appears after what earlier calls consumed; on a
    /// match the output up to the end of the match is consumed.
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> Result<Matched, ExpectError> {
        let re = Regex::new(pattern).map_err(|e| ExpectError::BadPattern(e.to_string()))?;
        let what = format!("/{pattern}/");
        let start = self.cursor;
        let found = self.wait(&what, timeout, |s| {
            re.captures(&s.text[start..]).map(|c| {
                let whole = c.get(0).map(|m| m.end()).unwrap_or(0);
                let groups = c
                    .iter()
                    .map(|g| g.map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned()))
                    .collect::<Vec<_>>();
                (start + whole, groups)
            })
        })?;
        let (end, groups) = found;
        self.cursor = end;
        Ok(Matched {
            text: groups.first().cloned().flatten().unwrap_or_default(),
            groups,
            at: self.opened.elapsed(),
        })
    }

    /// Waits until every pattern has appeared (in any order) after what
    /// earlier calls consumed; consumes up to the furthest match.
    pub fn expect_all(
        &mut self,
        patterns: &[&str],
        timeout: Duration,
    ) -> Result<Duration, ExpectError> {
        let res = patterns
            .iter()
            .map(|p| Regex::new(p).map_err(|e| ExpectError::BadPattern(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let what = format!("all of {patterns:?}");
        let start = self.cursor;
        let end = self.wait(&what, timeout, |s| {
            let mut furthest = start;
            for re in &res {
                let m = re.find(&s.text[start..])?;
                furthest = furthest.max(start + m.end());
            }
            Some(furthest)
        })?;
        self.cursor = end;
        Ok(self.opened.elapsed())
    }

    fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Shared) -> Option<T>,
    ) -> Result<T, ExpectError> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut s = lock(m);
        loop {
            if let Some(found) = check(&s) {
                return Ok(found);
            }
            if s.closed {
                return Err(ExpectError::Closed {
                    what: what.to_string(),
                    tail: tail(&s),
                    log: self.log_path.clone(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ExpectError::Timeout {
                    what: what.to_string(),
                    waited: timeout,
                    tail: tail(&s),
                    log: self.log_path.clone(),
                });
            }
            // Wake up now and then even without output: some checks
            // (wait_quiet) depend on time passing.
            let nap = (deadline - now).min(Duration::from_millis(100));
            s = cv
                .wait_timeout(s, nap)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        // The reader ends when the VM's side of the line closes (the VM is
        // killed first by its owner); do not wait for it otherwise.
        if let Some(h) = self.reader.take() {
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

fn tail(s: &Shared) -> String {
    const TAIL: usize = 2000;
    let from = s.text.len().saturating_sub(TAIL);
    format!(
        "{}\n--- screen now ---\n{}",
        String::from_utf8_lossy(&s.text[from..]),
        s.screen.screen().contents()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn strip(s: &[u8]) -> String {
        let mut out = Vec::new();
        AnsiStripper::default().feed(s, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn strips_escape_sequences_and_carriage_returns() {
        assert_eq!(
            strip(b"\x1b[2J\x1b[1;1HGNU GRUB\r\n\x1b[0m*TAPPaaS\x1b(B ok"),
            "GNU GRUB\n*TAPPaaS ok"
        );
        assert_eq!(strip(b"a\x1b]0;title\x07b\x1b]2;t\x1b\\c"), "abc");
    }

    #[test]
    fn stripper_keeps_state_across_reads() {
        let mut st = AnsiStripper::default();
        let mut out = Vec::new();
        st.feed(b"one\x1b[3", &mut out);
        st.feed(b"1mtwo", &mut out);
        assert_eq!(out, b"onetwo");
    }

    fn pair(dir: &Path) -> (Console, UnixStream) {
        let (ours, guest) = UnixStream::pair().expect("socketpair");
        let reader = ours.try_clone().expect("clone");
        let console = Console::new(reader, ours, &dir.join("serial.log")).expect("console");
        (console, guest)
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tappaas-vmtests-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("tmp dir");
        d
    }

    #[test]
    fn expect_waits_for_late_output_and_consumes_it() {
        let dir = tmpdir("late");
        let (mut console, mut guest) = pair(&dir);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            guest
                .write_all(b"booting...\r\nlogin: \x1b[1mready\x1b[0m 42\r\n")
                .expect("write");
            guest
        });
        let m = console
            .expect(r"ready (\d+)", Duration::from_secs(10))
            .expect("match");
        assert_eq!(m.groups[1].as_deref(), Some("42"));
        // Consumed: the same text does not match twice.
        let err = console
            .expect("ready", Duration::from_millis(200))
            .expect_err("consumed");
        assert!(matches!(err, ExpectError::Timeout { .. }), "{err}");
        let mut guest = writer.join().expect("writer");
        // What the test sends reaches the guest.
        console.send_line("root").expect("send");
        let mut buf = [0u8; 5];
        guest.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"root\r");
        let log = std::fs::read(dir.join("serial.log")).expect("log");
        assert!(
            log.windows(5).any(|w| w == b"\x1b[1mr"),
            "log keeps raw bytes"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn expect_all_matches_in_any_order() {
        let dir = tmpdir("all");
        let (mut console, mut guest) = pair(&dir);
        guest
            .write_all(b"DISK2 x\nDISK1 y\nNIC z\n")
            .expect("write");
        console
            .expect_all(&["DISK1", "DISK2", "NIC"], Duration::from_secs(5))
            .expect("all");
        let err = console
            .expect_all(&["DISK1", "DISK3"], Duration::from_millis(200))
            .expect_err("DISK3 never comes");
        let msg = err.to_string();
        assert!(msg.contains("DISK3") && msg.contains("serial.log"), "{msg}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn screen_shows_what_a_full_screen_program_left() {
        let dir = tmpdir("screen");
        let (mut console, mut guest) = pair(&dir);
        // Draw "step 1", then change only the digit, as a TUI that redraws
        // changed cells does: the stream never contains "step 2".
        guest
            .write_all(b"\x1b[2J\x1b[1;1H step 1 of 9: Welcome\x1b[5;3Hserial DISK1")
            .expect("write");
        console
            .expect_screen(r"step 1 of 9", Duration::from_secs(5))
            .expect("step 1");
        guest
            .write_all(b"\x1b[1;7H2\x1b[1;15H\x1b[KHardware")
            .expect("write");
        let m = console
            .expect_screen(r"step (\d) of 9: (\w+)", Duration::from_secs(5))
            .expect("step 2");
        assert_eq!(m.groups[1].as_deref(), Some("2"));
        assert_eq!(m.groups[2].as_deref(), Some("Hardware"));
        assert!(
            console.screen().contains("  serial DISK1"),
            "{}",
            console.screen()
        );
        let err = console
            .expect_screen("step 3", Duration::from_millis(200))
            .expect_err("no step 3");
        let t = Instant::now();
        console
            .wait_quiet(Duration::from_millis(300), Duration::from_secs(5))
            .expect("quiet");
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("--- screen now ---"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn closed_console_fails_fast() {
        let dir = tmpdir("closed");
        let (mut console, guest) = pair(&dir);
        drop(guest);
        let t = Instant::now();
        let err = console
            .expect("never", Duration::from_secs(30))
            .expect_err("closed");
        assert!(matches!(err, ExpectError::Closed { .. }), "{err}");
        assert!(t.elapsed() < Duration::from_secs(10));
        std::fs::remove_dir_all(&dir).ok();
    }
}

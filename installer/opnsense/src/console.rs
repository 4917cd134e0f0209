//! Putting `config.xml` in place through OPNsense's serial console.
//!
//! A Proxmox VM with `serial0: socket` exposes its serial port as a unix
//! socket on the node (`/var/run/qemu-server/<vmid>.serial0`). The session
//! below follows the prompts OPNsense really prints (taken from its sources:
//! FreeBSD's getty/login, `opnsense-shell`'s menu, csh/sh) and waits for
//! each one with a deadline; it never types after a fixed delay.
//!
//! The file travels as base64 in short lines appended to a temporary file
//! in `/conf`, is decoded with FreeBSD's `b64decode -r`, checked with
//! `sha256 -q` against the digest computed here, and only then renamed over
//! `/conf/config.xml` (same directory, so the rename is atomic). The
//! factory file is kept once as `/conf/config.xml.tappaas-orig`.
//! `rc.reload_all` (the menu's "Reload all services") applies it.
//!
//! The console is always left logged out: when a step fails after the
//! login, the session interrupts what runs (Ctrl-C), leaves the shell and
//! logs out from the menu before it reports the failure. A console found
//! in a root shell anyway (a run killed half-way, a power cut of the
//! node) is recognised by its prompt and left the same way before the
//! login, instead of waiting out the boot limit for a login prompt that
//! never comes.
//!
//! Every command runs as `CMD; echo "@@TAPPAAS""-END-<n>:$?@@"`: the shell
//! joins the quotes and prints `@@TAPPAAS-END-<n>:<status>@@`, which the
//! terminal's echo of the typed line can never contain, so the end of each
//! command and its exit status are read without guessing at prompts.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A fresh OPNsense image's console login (its documented default).
pub const DEFAULT_USER: &str = "root";
/// A fresh OPNsense image's root password (its documented default; the
/// default configuration's bcrypt hash verifies it).
pub const DEFAULT_PASSWORD: &str = "opnsense";
/// The console menu's prompt (`read -p "Enter an option: "` in
/// `opnsense-shell`).
pub const MENU_PROMPT: &str = "Enter an option:";
/// Where OPNsense reads its configuration.
pub const CONFIG_PATH: &str = "/conf/config.xml";
/// What the menu's "11) Reload all services" runs.
pub const RELOAD_ALL: &str = "/usr/local/etc/rc.reload_all";

const LOGIN_PROMPT: &str = "login:";
const PASSWORD_PROMPT: &str = "Password:";
const LOGIN_INCORRECT: &str = "Login incorrect";
/// The menu's "8) Shell" (root's csh) and "0) Logout".
const SHELL_OPTION: &str = "8";
const LOGOUT_OPTION: &str = "0";
/// csh's and sh's prompts for root both end so.
const ROOT_PROMPT_END: &str = "# ";
const MARKER: &str = "@@TAPPAAS-END-";
const MARKER_CLOSE: &str = "@@";
/// base64 characters per uploaded line: each typed line stays well under
/// the terminal's 255-byte input line limit (MAX_INPUT).
const CHUNK: usize = 64;
const TAIL_BYTES: usize = 4096;
const LAST_LINES: usize = 12;

/// A byte stream to the console whose reads can time out: a unix socket on
/// the node, or TCP (QEMU's `-serial tcp:` in tests).
pub trait ConsoleStream: Read + Write {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl ConsoleStream for UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
}

impl ConsoleStream for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// How long each kind of wait may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleTimeouts {
    /// Until the first login prompt (or menu): covers the VM's boot.
    pub boot: Duration,
    /// While waiting for the login prompt, ask for a fresh one (a bare
    /// Enter, harmless at getty and at the menu) after this much silence,
    /// in case it was printed before we connected.
    pub wake: Duration,
    /// Each later prompt (password, menu, shell).
    pub prompt: Duration,
    /// Each shell command of the upload.
    pub command: Duration,
    /// `rc.reload_all`, which reconfigures every interface and service.
    pub apply: Duration,
}

impl Default for ConsoleTimeouts {
    fn default() -> Self {
        Self {
            boot: Duration::from_secs(600),
            wake: Duration::from_secs(10),
            prompt: Duration::from_secs(60),
            command: Duration::from_secs(30),
            apply: Duration::from_secs(300),
        }
    }
}

/// Console login; `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Default for Credentials {
    /// A fresh image's root / opnsense.
    fn default() -> Self {
        Self {
            user: DEFAULT_USER.into(),
            password: DEFAULT_PASSWORD.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Progress, for the UI; never carries the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleEvent {
    WaitingForLogin,
    /// A bare Enter was sent to ask for a fresh login prompt.
    Woken,
    LoginPrompt,
    /// The menu is showing (after a login, or straight away when the
    /// console menu is not password protected).
    AtMenu,
    ShellReady,
    Uploading {
        path: String,
        line: usize,
        lines: usize,
    },
    Verified {
        path: String,
        sha256: String,
    },
    Installed {
        path: String,
    },
    Applying,
    Applied,
    BackAtMenu,
    LoggedOut,
    /// A root shell was open on the console when the session began (an
    /// earlier run stopped in it); it was left with `exit`.
    ShellLeftOpen,
}

/// What went wrong at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleFailure {
    Timeout(Duration),
    /// The other end closed the stream.
    Closed,
    Io(String),
    LoginRejected {
        user: String,
    },
    CommandFailed {
        command: String,
        status: i32,
        output: String,
    },
    ChecksumMismatch {
        path: String,
        expected: String,
        found: String,
    },
    /// A caller's argument the session refuses to type into a shell.
    Refused(String),
}

impl fmt::Display for ConsoleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(d) => write!(f, "nothing matching arrived within {d:?}"),
            Self::Closed => write!(f, "the console stream was closed (is the VM running?)"),
            Self::Io(e) => write!(f, "console I/O failed: {e}"),
            Self::LoginRejected { user } => write!(
                f,
                "the login as {user:?} was rejected (\"{LOGIN_INCORRECT}\"): check the console password"
            ),
            Self::CommandFailed {
                command,
                status,
                output,
            } => write!(f, "`{command}` exited with status {status}; output: {output:?}"),
            Self::ChecksumMismatch {
                path,
                expected,
                found,
            } => write!(
                f,
                "{path} arrived damaged: SHA-256 {found:?} on the firewall, {expected} expected; nothing was installed"
            ),
            Self::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

/// A failed console step: which step, which prompt or answer was expected,
/// what happened, and the last lines the console printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleError {
    pub step: String,
    pub expected: String,
    /// Boxed: keeps `Result<_, ConsoleError>` small.
    pub failure: Box<ConsoleFailure>,
    pub last_lines: String,
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OPNsense console, {}: expected {}, but {}\nlast lines seen on the console:\n{}",
            self.step, self.expected, self.failure, self.last_lines
        )
    }
}

impl std::error::Error for ConsoleError {}

/// A shell command's exit status and what it printed (without the echo of
/// the typed line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub status: i32,
    pub output: String,
}

/// Where the session has brought the console: what a failure must undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Not logged in by this session (booting, login prompt).
    Outside,
    Menu,
    Shell,
}

/// How many nested shells a login leaves with `exit` before giving up.
const MAX_EXITS: usize = 3;

/// An expect-style conversation with the console.
pub struct ConsoleSession<'a, S: ConsoleStream> {
    stream: S,
    place: Place,
    timeouts: ConsoleTimeouts,
    /// Received and not yet consumed by a match (carriage returns dropped).
    pending: Vec<u8>,
    /// The last bytes received, for error reports.
    tail: Vec<u8>,
    seq: u32,
    on_event: Box<dyn FnMut(&ConsoleEvent) + 'a>,
}

/// Only what a shell takes literally may be typed as a path.
fn check_path(path: &str) -> Result<(), ConsoleFailure> {
    let ok = path.starts_with('/')
        && !path.contains("..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConsoleFailure::Refused(format!(
            "path {path:?} must be absolute and use only letters, digits and / . _ -"
        )))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl<'a, S: ConsoleStream> ConsoleSession<'a, S> {
    pub fn new(stream: S, timeouts: ConsoleTimeouts) -> Self {
        Self {
            stream,
            place: Place::Outside,
            timeouts,
            pending: Vec::new(),
            tail: Vec::new(),
            seq: 0,
            on_event: Box::new(|_| {}),
        }
    }

    /// Report every step to `f`.
    pub fn with_events(mut self, f: impl FnMut(&ConsoleEvent) + 'a) -> Self {
        self.on_event = Box::new(f);
        self
    }

    /// Give the stream back (e.g. to close it).
    pub fn into_inner(self) -> S {
        self.stream
    }

    fn emit(&mut self, event: ConsoleEvent) {
        (self.on_event)(&event);
    }

    /// The last lines received, carriage returns and other control
    /// characters (but newlines and tabs) dropped.
    pub fn last_lines(&self) -> String {
        let text = String::from_utf8_lossy(&self.tail);
        let clean: String = text
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        let lines: Vec<&str> = clean.lines().collect();
        let from = lines.len().saturating_sub(LAST_LINES);
        lines[from..].join("\n")
    }

    fn error(&self, step: &str, expected: &str, failure: ConsoleFailure) -> ConsoleError {
        ConsoleError {
            step: step.to_string(),
            expected: expected.to_string(),
            failure: Box::new(failure),
            last_lines: self.last_lines(),
        }
    }

    fn send(&mut self, step: &str, expected: &str, text: &str) -> Result<(), ConsoleError> {
        self.stream
            .write_all(text.as_bytes())
            .and_then(|()| self.stream.flush())
            .map_err(|e| self.error(step, expected, io_failure(&e)))
    }

    fn received(&mut self, bytes: &[u8]) {
        let kept = bytes.iter().copied().filter(|&b| b != b'\r' && b != 0);
        let start = self.pending.len();
        self.pending.extend(kept);
        let new = &self.pending[start..];
        self.tail.extend_from_slice(new);
        if self.tail.len() > TAIL_BYTES {
            let cut = self.tail.len() - TAIL_BYTES;
            self.tail.drain(..cut);
        }
    }

    /// Wait until one of `patterns` arrives; return its index and the text
    /// before it, consuming both. With `wake`, a bare Enter is sent after
    /// that much silence (only used while waiting for the login prompt).
    fn expect(
        &mut self,
        step: &str,
        patterns: &[&str],
        timeout: Duration,
        wake: Option<Duration>,
    ) -> Result<(usize, String), ConsoleError> {
        let expected = patterns
            .iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let deadline = Instant::now() + timeout;
        let mut last_activity = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            let earliest = patterns
                .iter()
                .enumerate()
                .filter_map(|(i, p)| find(&self.pending, p.as_bytes()).map(|at| (at, i)))
                .min();
            if let Some((at, i)) = earliest {
                let before = String::from_utf8_lossy(&self.pending[..at]).into_owned();
                self.pending.drain(..at + patterns[i].len());
                return Ok((i, before));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.error(step, &expected, ConsoleFailure::Timeout(timeout)));
            }
            let mut wait = deadline - now;
            if let Some(wake) = wake {
                let since = now.duration_since(last_activity);
                if since >= wake {
                    self.send(step, &expected, "\r")?;
                    self.emit(ConsoleEvent::Woken);
                    last_activity = now;
                    continue;
                }
                wait = wait.min(wake - since);
            }
            // A zero timeout means "block forever" to the socket.
            let wait = wait.max(Duration::from_millis(1));
            if let Err(e) = self.stream.set_read_timeout(Some(wait)) {
                return Err(self.error(step, &expected, ConsoleFailure::Io(e.to_string())));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(self.error(step, &expected, ConsoleFailure::Closed)),
                Ok(n) => {
                    last_activity = Instant::now();
                    self.received(&buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(self.error(step, &expected, io_failure(&e))),
            }
        }
    }

    /// From wherever the console is (booting, login prompt, menu, a root
    /// shell left open) to the menu, logged in as `creds.user`.
    pub fn login(&mut self, creds: &Credentials) -> Result<(), ConsoleError> {
        self.emit(ConsoleEvent::WaitingForLogin);
        let step = "waiting for the login prompt";
        // Ask for a fresh prompt at once: the first may be long printed.
        self.send(step, LOGIN_PROMPT, "\r")?;
        let deadline = Instant::now() + self.timeouts.boot;
        let mut exits = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (which, _) = self
                .expect(
                    step,
                    &[LOGIN_PROMPT, MENU_PROMPT, ROOT_PROMPT_END],
                    left,
                    Some(self.timeouts.wake),
                )
                .map_err(|mut e| {
                    // The limit is the boot's, not what was left of it.
                    e.failure = Box::new(match *e.failure {
                        ConsoleFailure::Timeout(_) => ConsoleFailure::Timeout(self.timeouts.boot),
                        other => other,
                    });
                    e
                })?;
            match which {
                0 => break,
                1 => {
                    self.place = Place::Menu;
                    self.emit(ConsoleEvent::AtMenu);
                    return Ok(());
                }
                // "# " ends root's prompt only when nothing follows it (it
                // waits for input); within boot messages it is text.
                _ if !self.pending.is_empty() => continue,
                _ => {
                    if exits == MAX_EXITS {
                        return Err(self.error(
                            "leaving a shell left open on the console",
                            &format!("{LOGIN_PROMPT:?} or {MENU_PROMPT:?}"),
                            ConsoleFailure::Refused(format!(
                                "still at a shell prompt after {MAX_EXITS} `exit`s"
                            )),
                        ));
                    }
                    exits += 1;
                    self.emit(ConsoleEvent::ShellLeftOpen);
                    // Drop a half-typed line, and get past the prompts
                    // our Enters caused, so that a stale one is not taken
                    // for a shell still open after the `exit`.
                    self.send(step, LOGIN_PROMPT, "\x03")?;
                    self.settle_shell(step)?;
                    self.send(step, LOGIN_PROMPT, "exit\r")?;
                }
            }
        }
        self.emit(ConsoleEvent::LoginPrompt);
        let step = "logging in";
        self.send(step, PASSWORD_PROMPT, &format!("{}\r", creds.user))?;
        self.expect(step, &[PASSWORD_PROMPT], self.timeouts.prompt, None)?;
        self.send(step, MENU_PROMPT, &format!("{}\r", creds.password))?;
        // Not "login:" here: "Last login: ..." follows a good password.
        let (which, _) = self.expect(
            step,
            &[MENU_PROMPT, LOGIN_INCORRECT],
            self.timeouts.prompt,
            None,
        )?;
        if which == 1 {
            return Err(self.error(
                step,
                &format!("{MENU_PROMPT:?}"),
                ConsoleFailure::LoginRejected {
                    user: creds.user.clone(),
                },
            ));
        }
        self.place = Place::Menu;
        self.emit(ConsoleEvent::AtMenu);
        Ok(())
    }

    /// From the menu to a POSIX sh (the menu's shell is csh).
    pub fn enter_shell(&mut self) -> Result<(), ConsoleError> {
        let step = "entering the shell (menu option 8)";
        // From here on a failure may leave a shell open.
        self.place = Place::Shell;
        self.send(step, ROOT_PROMPT_END, &format!("{SHELL_OPTION}\r"))?;
        self.expect(step, &[ROOT_PROMPT_END], self.timeouts.prompt, None)?;
        // sh for POSIX quoting and $?; the line waits in the terminal's
        // input queue until the new shell reads it.
        self.send(step, "the shell to start", "exec /bin/sh\r")?;
        self.run_ok("starting /bin/sh", "true", self.timeouts.prompt)?;
        self.emit(ConsoleEvent::ShellReady);
        Ok(())
    }

    /// Run `command` in the shell; its status and output.
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<CommandOutput, ConsoleError> {
        self.seq += 1;
        let seq = self.seq;
        let step = format!("running `{command}`");
        let marker = format!("{MARKER}{seq}:");
        let typed_tail = format!("-END-{seq}:$?@@\"");
        self.send(
            &step,
            &marker,
            &format!("{command}; echo \"@@TAPPAAS\"\"-END-{seq}:$?@@\"\r"),
        )?;
        let (_, before) = self.expect(&step, &[marker.as_str()], timeout, None)?;
        let (_, status) = self.expect(&step, &[MARKER_CLOSE], self.timeouts.prompt, None)?;
        let status = status.trim().parse::<i32>().map_err(|_| {
            self.error(
                &step,
                &format!("an exit status after {marker}"),
                ConsoleFailure::Io(format!("unreadable status {status:?}")),
            )
        })?;
        // The output starts on the line after the echo of the typed line.
        let output = match before.find(&typed_tail) {
            Some(at) => {
                let rest = &before[at + typed_tail.len()..];
                rest.split_once('\n').map_or("", |(_, out)| out)
            }
            None => before.as_str(),
        };
        Ok(CommandOutput {
            status,
            output: output.trim_end_matches('\n').to_string(),
        })
    }

    /// [`run`](Self::run), failing unless the status is 0.
    pub fn run_ok(
        &mut self,
        step: &str,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, ConsoleError> {
        let out = self.run(command, timeout)?;
        if out.status != 0 {
            return Err(self.error(
                step,
                "exit status 0",
                ConsoleFailure::CommandFailed {
                    command: command.to_string(),
                    status: out.status,
                    output: out.output,
                },
            ));
        }
        Ok(out)
    }

    /// Write `contents` to `path` on the firewall: upload to a temporary
    /// file beside it, verify its SHA-256 there, keep the original once as
    /// `<path>.tappaas-orig`, then rename into place.
    pub fn write_file(&mut self, path: &str, contents: &[u8]) -> Result<(), ConsoleError> {
        let step = format!("writing {path}");
        check_path(path).map_err(|f| self.error(&step, "a plain absolute path", f))?;
        let staged_b64 = format!("{path}.tappaas-b64");
        let staged = format!("{path}.tappaas-new");
        let t = self.timeouts.command;
        self.run_ok(&step, &format!("rm -f {staged_b64} {staged}"), t)?;

        let encoded = base64::engine::general_purpose::STANDARD.encode(contents);
        let lines: Vec<&[u8]> = encoded.as_bytes().chunks(CHUNK).collect();
        for (i, line) in lines.iter().enumerate() {
            let line = String::from_utf8_lossy(line);
            self.run_ok(&step, &format!("echo {line} >> {staged_b64}"), t)?;
            self.emit(ConsoleEvent::Uploading {
                path: path.to_string(),
                line: i + 1,
                lines: lines.len(),
            });
        }
        self.run_ok(&step, &format!("b64decode -r {staged_b64} > {staged}"), t)?;

        let expected = format!("{:x}", Sha256::digest(contents));
        let check = self.run(
            &format!("test \"$(sha256 -q {staged})\" = \"{expected}\""),
            t,
        )?;
        if check.status != 0 {
            let found = self.run(&format!("sha256 -q {staged}"), t)?.output;
            return Err(self.error(
                &step,
                "the uploaded file's SHA-256 to match",
                ConsoleFailure::ChecksumMismatch {
                    path: staged,
                    expected,
                    found: found.trim().to_string(),
                },
            ));
        }
        self.emit(ConsoleEvent::Verified {
            path: path.to_string(),
            sha256: expected,
        });
        let original = format!("{path}.tappaas-orig");
        self.run_ok(
            &step,
            &format!("[ ! -e {path} ] || [ -e {original} ] || cp -p {path} {original}"),
            t,
        )?;
        self.run_ok(&step, &format!("mv -f {staged} {path}"), t)?;
        self.run_ok(&step, &format!("rm -f {staged_b64}"), t)?;
        self.emit(ConsoleEvent::Installed {
            path: path.to_string(),
        });
        Ok(())
    }

    /// Reload every service and interface from the new configuration.
    pub fn apply(&mut self) -> Result<(), ConsoleError> {
        self.emit(ConsoleEvent::Applying);
        self.run_ok(
            "applying the configuration",
            RELOAD_ALL,
            self.timeouts.apply,
        )?;
        self.emit(ConsoleEvent::Applied);
        Ok(())
    }

    /// Leave the shell; the menu comes back.
    pub fn leave_shell(&mut self) -> Result<(), ConsoleError> {
        let step = "leaving the shell";
        self.send(step, MENU_PROMPT, "exit\r")?;
        self.expect(step, &[MENU_PROMPT], self.timeouts.prompt, None)?;
        self.place = Place::Menu;
        self.emit(ConsoleEvent::BackAtMenu);
        Ok(())
    }

    /// Log out from the menu; the console is left at the login prompt.
    pub fn logout(&mut self) -> Result<(), ConsoleError> {
        let step = "logging out (menu option 0)";
        self.send(step, LOGIN_PROMPT, &format!("{LOGOUT_OPTION}\r"))?;
        self.expect(step, &[LOGIN_PROMPT], self.timeouts.prompt, None)?;
        self.place = Place::Outside;
        self.emit(ConsoleEvent::LoggedOut);
        Ok(())
    }

    /// Wait until the shell answers a command, and consume the prompt
    /// after it: whatever came before (prompts of earlier Enters, output
    /// of an interrupted command) is behind us then.
    fn settle_shell(&mut self, step: &str) -> Result<(), ConsoleError> {
        self.run_ok(step, "true", self.timeouts.prompt)?;
        self.expect(step, &[ROOT_PROMPT_END], self.timeouts.prompt, None)?;
        Ok(())
    }

    /// After a failure: leave the console logged out, whatever this
    /// session had reached. Interrupts a command still running (Ctrl-C),
    /// leaves the shell (`exit`, nested shells too), logs out from the
    /// menu. Best effort: the failure being reported matters more, and a
    /// console that does not answer is found at the next login.
    pub fn leave_logged_out(&mut self) -> Result<(), ConsoleError> {
        let step = "leaving the console logged out after a failure";
        if self.place == Place::Shell {
            // Ctrl-C ends a hung command and drops a half-typed line.
            self.send(step, MENU_PROMPT, "\x03")?;
            self.settle_shell(step)?;
            self.send(step, MENU_PROMPT, "exit\r")?;
            let (which, _) = self.expect(
                step,
                &[MENU_PROMPT, LOGIN_PROMPT],
                self.timeouts.prompt,
                None,
            )?;
            if which == 1 {
                self.place = Place::Outside;
                return Ok(());
            }
            self.place = Place::Menu;
            self.emit(ConsoleEvent::BackAtMenu);
        }
        if self.place == Place::Menu {
            self.logout()?;
        }
        Ok(())
    }
}

/// The whole sequence on a fresh (or already configured) firewall: log in,
/// open the shell, write `config_xml` to `/conf/config.xml` safely, reload
/// all services, back to the menu, log out.
pub fn install_config<S: ConsoleStream>(
    stream: S,
    creds: &Credentials,
    config_xml: &str,
    timeouts: ConsoleTimeouts,
    on_event: impl FnMut(&ConsoleEvent),
) -> Result<(), ConsoleError> {
    let mut session = ConsoleSession::new(stream, timeouts).with_events(on_event);
    let result = (|| {
        session.login(creds)?;
        session.enter_shell()?;
        session.write_file(CONFIG_PATH, config_xml.as_bytes())?;
        session.apply()?;
        session.leave_shell()?;
        session.logout()
    })();
    if result.is_err() {
        // The failure is what the caller needs; a console that cannot be
        // logged out now is handled by the next run's login.
        let _ = session.leave_logged_out();
    }
    result
}

/// A peer that went away shows as a reset or a broken pipe, depending on
/// whether it left unread bytes behind; either way the console is closed.
fn io_failure(e: &io::Error) -> ConsoleFailure {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => ConsoleFailure::Closed,
        _ => ConsoleFailure::Io(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_typed_into_the_shell_are_plain() {
        assert!(check_path("/conf/config.xml").is_ok());
        assert!(check_path("conf/config.xml").is_err());
        assert!(check_path("/conf/a b").is_err());
        assert!(check_path("/conf/$(reboot)").is_err());
        assert!(check_path("/conf/../etc/passwd").is_err());
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let text = format!("{:?}", Credentials::default());
        assert!(text.contains("root"));
        assert!(!text.contains(DEFAULT_PASSWORD), "{text}");
    }
}

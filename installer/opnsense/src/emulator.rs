//! An emulation of OPNsense's serial console, for tests of code that
//! drives it ([`crate::install_config`]): no OPNsense image can run in a
//! unit test, so the other end of a socket pair plays the console as
//! OPNsense's sources describe it. It is not a firewall and configures
//! nothing; it only answers the prompts the way the real console does.
//!
//! What it plays: FreeBSD getty's `login:`, login(1)'s `Password:` and
//! `Login incorrect`, `opnsense-shell`'s banner, menu and
//! `Enter an option: ` prompt, csh's `root@OPNsense:~ # ` for option 8, and
//! the terminal's echo of typed characters (none for the password). Its
//! shell really executes what the driver types, with the host's `sh`:
//! FreeBSD's `b64decode -r` and `sha256 -q` are mapped to coreutils'
//! `base64 -d` and `sha256sum`, and the firewall's `/conf` and
//! `/usr/local/etc/rc.reload_all` to a directory the caller gives (the
//! emulated `rc.reload_all` checks the new file with `xmllint`). All output
//! is dripped a few bytes at a time so the driver sees prompts and markers
//! split across reads. [`Fault`] makes it misbehave in the ways a real
//! console can.
//!
//! Needs `sh`, `base64`, `sha256sum`, `cut` and `xmllint` on the host.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::{self, JoinHandle};

use crate::DEFAULT_PASSWORD;

/// The factory `config.xml` the emulation starts from when its directory
/// has none.
pub const FACTORY_CONFIG: &str = "<?xml version=\"1.0\"?>\n<opnsense><factory/></opnsense>\n";
/// The host name the emulated console shows.
pub const HOST: &str = "OPNsense.internal";
/// csh's prompt for root.
pub const CSH_PROMPT: &str = "root@OPNsense:~ # ";

/// How the emulated console misbehaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    None,
    /// Option 8 never gives a prompt (a hung shell; the terminal still
    /// echoes).
    NoShellPrompt,
    /// The shell starts but never answers a command.
    NoCommandAnswer,
    /// The third uploaded line arrives with one character changed.
    CorruptUpload,
    /// The stream closes when the driver starts /bin/sh.
    CloseInShell,
}

/// How the emulated firewall is set up.
#[derive(Clone, Debug)]
pub struct Setup {
    /// root's console password.
    pub password: String,
    pub fault: Fault,
    /// No login: the menu comes straight up (console menu not protected).
    pub autologin: bool,
    /// Enter presses swallowed before the login prompt shows (still
    /// booting; the prompt printed before the driver connected).
    pub ignored_enters: usize,
    /// The console as an earlier run left it: in root's sh (menu option
    /// 8, then `exec /bin/sh`), its prompt printed before the driver
    /// connected. `exit` goes back to the menu.
    pub shell_open: bool,
}

impl Default for Setup {
    /// A fresh image: root / opnsense, no fault.
    fn default() -> Self {
        Self {
            password: DEFAULT_PASSWORD.into(),
            fault: Fault::None,
            autologin: false,
            ignored_enters: 0,
            shell_open: false,
        }
    }
}

/// Where the emulated console is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Login,
    Password {
        user: String,
    },
    Menu,
    Csh,
    Sh,
    /// Hung (a [`Fault`]): echoes, answers nothing.
    Dead,
}

/// What happened on the console, once the driver closed its end.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every shell command line typed (after the shell started).
    pub commands: Vec<String>,
    /// Every byte the driver typed.
    pub typed: String,
    /// Where the console was left.
    pub state: State,
}

/// A running emulation: a thread on the far end of the stream that
/// [`Emulator::start`] returned.
pub struct Emulator {
    root: PathBuf,
    thread: JoinHandle<Report>,
}

impl Emulator {
    /// Start a console whose firewall files live under `root` (created if
    /// needed): `conf/config.xml` (the factory file unless one is there)
    /// and `rc.reload_all`. Returns the emulation and the driver's end of
    /// the stream. A second start on the same `root` is the same firewall
    /// after a reconnect: its files are kept.
    pub fn start(root: &Path, setup: Setup) -> io::Result<(Emulator, UnixStream)> {
        std::fs::create_dir_all(root.join("conf"))?;
        let config = root.join("conf/config.xml");
        if !config.exists() {
            std::fs::write(&config, FACTORY_CONFIG)?;
        }
        // rc.reload_all reads the new configuration: it must parse.
        let reload = root.join("rc.reload_all");
        std::fs::write(
            &reload,
            format!(
                "#!/bin/sh\necho 'Reloading all services...'\nxmllint --noout {r}/conf/config.xml || exit 1\necho reload >> {r}/reload.log\necho done.\n",
                r = root.display()
            ),
        )?;
        let status = Command::new("chmod").arg("+x").arg(&reload).status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "chmod +x {} failed",
                reload.display()
            )));
        }
        let (ours, theirs) = UnixStream::pair()?;
        let fake = Fake {
            stream: theirs,
            shell: None,
            setup,
            root: root.to_path_buf(),
            state: State::Login,
            uploads: 0,
            ignored: 0,
            commands: Vec::new(),
            typed: Vec::new(),
        };
        let thread = thread::spawn(move || fake.run());
        Ok((
            Emulator {
                root: root.to_path_buf(),
                thread,
            },
            ours,
        ))
    }

    /// A file of the emulated firewall, by its path there
    /// (`/conf/config.xml`).
    pub fn file(&self, path: &str) -> Option<String> {
        read_file(&self.root, path)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Wait until the driver's end of the stream is closed (drop it first)
    /// and return what happened.
    pub fn finish(self) -> io::Result<Report> {
        self.thread
            .join()
            .map_err(|_| io::Error::other("the emulated console's thread panicked"))
    }
}

/// A file of an emulated firewall rooted at `root`, by its path there.
pub fn read_file(root: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(root.join(path.trim_start_matches('/'))).ok()
}

struct Fake {
    stream: UnixStream,
    /// The session's sh, from the first command until `exit` (a real
    /// session: one process, its state kept between lines).
    shell: Option<Shell>,
    setup: Setup,
    root: PathBuf,
    state: State,
    uploads: usize,
    ignored: usize,
    commands: Vec<String>,
    typed: Vec<u8>,
}

/// FreeBSD's tools, mapped onto their Linux counterparts.
const PREAMBLE: &str = r#"
b64decode() { [ "$1" = -r ] || { echo "b64decode: only -r is emulated" >&2; return 64; }; shift; base64 -d "$@"; }
sha256() { [ "$1" = -q ] || { echo "sha256: only -q is emulated" >&2; return 64; }; shift; sha256sum "$1" | cut -d' ' -f1; }
"#;

impl Fake {
    /// Write in pieces of three bytes, each its own socket write, giving
    /// the reader a chance to take each one alone. (A yield, not a sleep:
    /// a sleep per piece, thousands per upload, made the tests slow.)
    fn drip(&mut self, text: &str) {
        for piece in text.as_bytes().chunks(3) {
            if self.stream.write_all(piece).is_err() {
                return;
            }
            thread::yield_now();
        }
    }

    fn login_prompt(&mut self) {
        self.drip(&format!(
            "\r\n\r\nFreeBSD/amd64 ({HOST}) (ttyu0)\r\n\r\nlogin: "
        ));
    }

    /// `opnsense-shell`: banner.php's header and interface lines, then the
    /// menu exactly as the script echoes it.
    fn menu(&mut self) {
        self.drip(&format!(
            "\r\n*** {HOST}: OPNsense 25.7 ***\r\n\r\n LAN (vtnet0)    -> v4: 192.168.1.1/24\r\n WAN (vtnet1)    -> v4/DHCP4: 10.9.0.5/24\r\n\r\n HTTPS: SHA256 4F 1A 22 09\r\n"
        ));
        self.drip(concat!(
            "\r\n",
            "  0) Logout                              7) Ping host\r\n",
            "  1) Assign interfaces                   8) Shell\r\n",
            "  2) Set interface IP address            9) pfTop\r\n",
            "  3) Reset the root password            10) Firewall log\r\n",
            "  4) Reset to factory defaults          11) Reload all services\r\n",
            "  5) Power off system                   12) Update from console\r\n",
            "  6) Reboot system                      13) Restore a backup\r\n",
            "\r\n",
            "Enter an option: ",
        ));
    }

    fn run(mut self) -> Report {
        self.drip("Booting...\r\nConfiguring system...done.\r\n");
        if self.setup.shell_open {
            self.state = State::Sh;
        } else if self.setup.autologin {
            self.state = State::Menu;
            self.menu();
        } else if self.setup.ignored_enters == 0 {
            self.login_prompt();
        }
        let mut line = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            let n = match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                self.typed.push(b);
                // Ctrl-C: the terminal drops the line typed so far and
                // the shell prints a fresh prompt.
                if b == 0x03 {
                    line.clear();
                    match self.state {
                        State::Sh => self.drip("^C\r\n# "),
                        State::Csh => self.drip(&format!("^C\r\n{CSH_PROMPT}")),
                        _ => {}
                    }
                    continue;
                }
                let echo = !matches!(self.state, State::Password { .. });
                if echo {
                    let _ = self.stream.write_all(if b == b'\r' {
                        b"\r\n"
                    } else {
                        std::slice::from_ref(&b)
                    });
                }
                if b == b'\r' || b == b'\n' {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if !self.line(&text) {
                        return self.report();
                    }
                } else {
                    line.push(b);
                }
            }
        }
        self.report()
    }

    fn report(self) -> Report {
        Report {
            commands: self.commands,
            typed: String::from_utf8_lossy(&self.typed).into_owned(),
            state: self.state,
        }
    }

    /// Handle one typed line; false closes the console.
    fn line(&mut self, text: &str) -> bool {
        match self.state.clone() {
            State::Login => {
                if self.ignored < self.setup.ignored_enters {
                    self.ignored += 1;
                    if self.ignored == self.setup.ignored_enters {
                        self.login_prompt();
                    }
                } else if text.is_empty() {
                    self.drip("login: ");
                } else {
                    self.state = State::Password { user: text.into() };
                    self.drip("Password:");
                }
            }
            State::Password { user } => {
                self.drip("\r\n");
                if user == "root" && text == self.setup.password {
                    self.drip("Last login: Sat Jan  3 10:00:00 on ttyu0\r\n");
                    self.state = State::Menu;
                    self.menu();
                } else {
                    self.state = State::Login;
                    self.drip("Login incorrect\r\nlogin: ");
                }
            }
            State::Menu => match text {
                "8" => {
                    if self.setup.fault == Fault::NoShellPrompt {
                        self.state = State::Dead;
                    } else {
                        self.state = State::Csh;
                        self.drip(CSH_PROMPT);
                    }
                }
                "0" => {
                    self.state = State::Login;
                    self.login_prompt();
                }
                _ => self.menu(),
            },
            State::Csh => match text {
                "exec /bin/sh" => match self.setup.fault {
                    Fault::NoCommandAnswer => self.state = State::Dead,
                    Fault::CloseInShell => return false,
                    _ => {
                        self.state = State::Sh;
                        self.drip("# ");
                    }
                },
                "exit" => {
                    self.shell = None;
                    self.state = State::Menu;
                    self.menu();
                }
                "" => self.drip(CSH_PROMPT),
                other => {
                    let out = self.execute(other);
                    self.drip(&out);
                    self.drip(CSH_PROMPT);
                }
            },
            State::Sh => match text {
                "exit" => {
                    self.shell = None;
                    self.state = State::Menu;
                    self.menu();
                }
                "" => self.drip("# "),
                other => {
                    let out = self.execute(other);
                    self.drip(&out);
                    self.drip("# ");
                }
            },
            State::Dead => {}
        }
        true
    }

    /// Run the typed line with the real sh, the firewall's paths mapped
    /// into the emulation's directory.
    fn execute(&mut self, typed: &str) -> String {
        self.commands.push(typed.to_string());
        let mut line = typed.to_string();
        if line.starts_with("echo ") && line.contains(">> ") {
            self.uploads += 1;
            if self.setup.fault == Fault::CorruptUpload && self.uploads == 3 {
                // Change the first base64 character of the line.
                let at = "echo ".len();
                let c = if &line[at..=at] == "A" { "B" } else { "A" };
                line.replace_range(at..=at, c);
            }
        }
        let root = self.root.display().to_string();
        let line = line
            .replace(
                "/usr/local/etc/rc.reload_all",
                &format!("{root}/rc.reload_all"),
            )
            .replace("/conf/", &format!("{root}/conf/"));
        if self.shell.is_none() {
            match Shell::start() {
                Ok(s) => self.shell = Some(s),
                // The console shows what sh would: the command did not run.
                Err(e) => return format!("sh: cannot run: {e}\r\n"),
            }
        }
        let Some(shell) = self.shell.as_mut() else {
            return String::new();
        };
        match shell.run(&line) {
            Ok((text, alive)) => {
                if !alive {
                    self.shell = None;
                }
                text.replace('\n', "\r\n")
            }
            Err(e) => {
                self.shell = None;
                format!("sh: {e}\r\n")
            }
        }
    }
}

/// A real sh behind the emulated one: stdout and stderr together, FreeBSD's
/// tools mapped by [`PREAMBLE`].
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// Ends each line's output; no command prints it.
const DONE: &str = "@@EMULATOR-DONE@@";

impl Shell {
    fn start() -> io::Result<Shell> {
        let mut child = Command::new("sh")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(io::Error::other("sh has no pipes"));
        };
        writeln!(stdin, "exec 2>&1\n{PREAMBLE}")?;
        Ok(Shell {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Runs one line; its output, and whether the shell is still there
    /// (a typed `exit` ends it).
    fn run(&mut self, line: &str) -> io::Result<(String, bool)> {
        // Through eval, so that a broken line (an open quote) is an error,
        // as `sh -c` would give, not a shell waiting for more. The bare
        // `echo` ends output that lacks a final newline.
        let quoted = line.replace('\'', "'\\''");
        writeln!(self.stdin, "eval '{quoted}'\necho\necho {DONE}")?;
        self.stdin.flush()?;
        let mut out = Vec::new();
        loop {
            let mut piece = Vec::new();
            if self.stdout.read_until(b'\n', &mut piece)? == 0 {
                return Ok((String::from_utf8_lossy(&out).into_owned(), false));
            }
            if piece == format!("{DONE}\n").as_bytes() {
                out.pop();
                return Ok((String::from_utf8_lossy(&out).into_owned(), true));
            }
            out.extend_from_slice(&piece);
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The console driver against an emulation of OPNsense's serial console.
//!
//! No OPNsense image can run here, so the other end of a socket pair plays
//! its console as its sources describe it: FreeBSD getty's `login:`,
//! login(1)'s `Password:` and `Login incorrect`, `opnsense-shell`'s banner,
//! menu and `Enter an option: ` prompt, csh's `root@OPNsense:~ # ` for
//! option 8, and the terminal's echo of typed characters (none for the
//! password). Its shell really executes what the driver types, with the
//! real `sh`: FreeBSD's `b64decode -r` and `sha256 -q` are mapped to
//! coreutils' `base64 -d` and `sha256sum`, and the firewall's `/conf` to a
//! temporary directory. All output is dripped a few bytes at a time so the
//! driver sees prompts and markers split across reads.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tappaas_opnsense::{
    install_config, render_config, ConsoleEvent, ConsoleFailure, ConsoleSession, ConsoleTimeouts,
    Credentials, CONFIG_PATH, DEFAULT_PASSWORD,
};

const FACTORY: &str = "<?xml version=\"1.0\"?>\n<opnsense><factory/></opnsense>\n";
const HOST: &str = "OPNsense.internal";
const CSH_PROMPT: &str = "root@OPNsense:~ # ";

/// How the emulated console misbehaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
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

#[derive(Clone, Copy, Debug)]
struct FakeSetup {
    password: &'static str,
    fault: Fault,
    /// No login: the menu comes straight up (console menu not protected).
    autologin: bool,
    /// Enter presses swallowed before the login prompt shows (still
    /// booting; the prompt printed before the driver connected).
    ignored_enters: usize,
}

impl Default for FakeSetup {
    fn default() -> Self {
        Self {
            password: DEFAULT_PASSWORD,
            fault: Fault::None,
            autologin: false,
            ignored_enters: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Login,
    Password { user: String },
    Menu,
    Csh,
    Sh,
    Dead,
}

struct Fake {
    stream: UnixStream,
    setup: FakeSetup,
    root: PathBuf,
    state: State,
    uploads: usize,
    ignored: usize,
    commands: Vec<String>,
    /// Every byte the driver typed.
    typed: Vec<u8>,
}

struct Report {
    commands: Vec<String>,
    typed: String,
    state: State,
}

/// FreeBSD's tools, mapped onto their Linux counterparts.
const PREAMBLE: &str = r#"
b64decode() { [ "$1" = -r ] || { echo "b64decode: only -r is emulated" >&2; return 64; }; shift; base64 -d "$@"; }
sha256() { [ "$1" = -q ] || { echo "sha256: only -q is emulated" >&2; return 64; }; shift; sha256sum "$1" | cut -d' ' -f1; }
"#;

impl Fake {
    /// Write in pieces of three bytes, each its own socket write.
    fn drip(&mut self, text: &str) {
        for piece in text.as_bytes().chunks(3) {
            if self.stream.write_all(piece).is_err() {
                return;
            }
            thread::sleep(Duration::from_micros(150));
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
        if self.setup.autologin {
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
    /// into the temporary root.
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
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{PREAMBLE}{line}"))
            .output()
            .expect("run sh");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text.replace('\n', "\r\n")
    }
}

struct Firewall {
    dir: tempfile::TempDir,
    console: Option<UnixStream>,
    fake: JoinHandle<Report>,
}

impl Firewall {
    fn start(setup: FakeSetup) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join("conf")).expect("mkdir conf");
        std::fs::write(root.join("conf/config.xml"), FACTORY).expect("seed config");
        // rc.reload_all reads the new configuration: it must parse.
        let reload = root.join("rc.reload_all");
        std::fs::write(
            &reload,
            format!(
                "#!/bin/sh\necho 'Reloading all services...'\nxmllint --noout {r}/conf/config.xml || exit 1\necho reload >> {r}/reload.log\necho done.\n",
                r = root.display()
            ),
        )
        .expect("write rc.reload_all");
        Command::new("chmod")
            .arg("+x")
            .arg(&reload)
            .status()
            .expect("chmod");
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let fake = thread::spawn(move || {
            Fake {
                stream: theirs,
                setup,
                root,
                state: State::Login,
                uploads: 0,
                ignored: 0,
                commands: Vec::new(),
                typed: Vec::new(),
            }
            .run()
        });
        Self {
            dir,
            console: Some(ours),
            fake,
        }
    }

    fn console(&mut self) -> UnixStream {
        self.console.take().expect("the console is taken once")
    }

    fn file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(path.trim_start_matches('/'))).ok()
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Wait for the emulation to see the driver's end of the stream closed.
    fn finish(self) -> (Report, tempfile::TempDir) {
        drop(self.console);
        (self.fake.join().expect("fake console thread"), self.dir)
    }
}

fn fast() -> ConsoleTimeouts {
    ConsoleTimeouts {
        boot: Duration::from_secs(10),
        wake: Duration::from_secs(5),
        prompt: Duration::from_secs(10),
        command: Duration::from_secs(10),
        apply: Duration::from_secs(20),
    }
}

fn config_xml() -> String {
    render_config(&common::settings()).expect("renders")
}

#[test]
fn installs_verifies_and_applies_the_config() {
    let xml = config_xml();
    let mut fw = Firewall::start(FakeSetup::default());
    let mut events = Vec::new();
    install_config(
        fw.console(),
        &Credentials::default(),
        &xml,
        fast(),
        |e: &ConsoleEvent| events.push(e.clone()),
    )
    .unwrap_or_else(|e| panic!("install failed: {e}"));

    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some(xml.as_str()));
    assert_eq!(
        fw.file("/conf/config.xml.tappaas-orig").as_deref(),
        Some(FACTORY),
        "the factory file is kept"
    );
    assert_eq!(fw.file("/conf/config.xml.tappaas-new"), None);
    assert_eq!(fw.file("/conf/config.xml.tappaas-b64"), None);
    assert_eq!(fw.file("reload.log").as_deref(), Some("reload\n"));

    // The UI saw every step, in order.
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            ConsoleEvent::WaitingForLogin => "waiting",
            ConsoleEvent::Woken => "woken",
            ConsoleEvent::LoginPrompt => "login",
            ConsoleEvent::AtMenu => "menu",
            ConsoleEvent::ShellReady => "shell",
            ConsoleEvent::Uploading { .. } => "upload",
            ConsoleEvent::Verified { .. } => "verified",
            ConsoleEvent::Installed { .. } => "installed",
            ConsoleEvent::Applying => "applying",
            ConsoleEvent::Applied => "applied",
            ConsoleEvent::BackAtMenu => "back",
            ConsoleEvent::LoggedOut => "out",
        })
        .filter(|k| *k != "upload")
        .collect();
    assert_eq!(
        kinds,
        [
            "waiting",
            "login",
            "menu",
            "shell",
            "verified",
            "installed",
            "applying",
            "applied",
            "back",
            "out"
        ]
    );
    let uploads: Vec<(usize, usize)> = events
        .iter()
        .filter_map(|e| match e {
            ConsoleEvent::Uploading { line, lines, .. } => Some((*line, *lines)),
            _ => None,
        })
        .collect();
    // base64 is 4 characters per 3 bytes, typed 64 to a line.
    let lines = (xml.len().div_ceil(3) * 4).div_ceil(64);
    assert_eq!(uploads.len(), lines);
    assert!(uploads
        .iter()
        .enumerate()
        .all(|(i, (l, n))| *l == i + 1 && *n == uploads.len()));
    let sha = format!("{:x}", Sha256::digest(xml.as_bytes()));
    assert!(events.contains(&ConsoleEvent::Verified {
        path: CONFIG_PATH.into(),
        sha256: sha
    }));

    let root = fw.root().display().to_string();
    let (report, _dir) = fw.finish();
    assert_eq!(report.state, State::Login, "left at the login prompt");
    assert!(report
        .commands
        .iter()
        .any(|c| c.starts_with("b64decode -r ")));
    assert!(report
        .commands
        .iter()
        .any(|c| c.starts_with("/usr/local/etc/rc.reload_all;")));
    assert!(
        !report.typed.contains(&root),
        "only the firewall's own paths are typed"
    );
    // Typed once, at the Password: prompt, and never echoed into a command.
    assert_eq!(report.typed.matches(DEFAULT_PASSWORD).count(), 1);
    assert!(report
        .commands
        .iter()
        .all(|c| !c.contains(DEFAULT_PASSWORD)));
}

#[test]
fn a_second_write_keeps_the_first_original() {
    let mut fw = Firewall::start(FakeSetup::default());
    let mut session = ConsoleSession::new(fw.console(), fast());
    session.login(&Credentials::default()).expect("login");
    session.enter_shell().expect("shell");
    session
        .write_file(CONFIG_PATH, b"<first/>\n")
        .expect("first write");
    session
        .write_file(CONFIG_PATH, b"<second/>\n")
        .expect("second write");
    let out = session
        .run("cat /conf/config.xml", Duration::from_secs(5))
        .expect("cat");
    assert_eq!(
        out,
        tappaas_opnsense::CommandOutput {
            status: 0,
            output: "<second/>".into()
        }
    );
    let failed = session
        .run("false", Duration::from_secs(5))
        .expect("false runs");
    assert_eq!(failed.status, 1);
    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some("<second/>\n"));
    assert_eq!(
        fw.file("/conf/config.xml.tappaas-orig").as_deref(),
        Some(FACTORY)
    );
    session.leave_shell().expect("back to the menu");
    session.logout().expect("logout");
    drop(session);
    assert_eq!(fw.finish().0.state, State::Login);
}

#[test]
fn a_wrong_password_is_reported_without_repeating_it() {
    let mut fw = Firewall::start(FakeSetup::default());
    let creds = Credentials {
        user: "root".into(),
        password: "hunter2-wrong".into(),
    };
    let err =
        install_config(fw.console(), &creds, "<x/>", fast(), |_| {}).expect_err("the login fails");
    assert_eq!(
        *err.failure,
        ConsoleFailure::LoginRejected {
            user: "root".into()
        }
    );
    assert_eq!(err.step, "logging in");
    assert!(
        err.last_lines.contains("Login incorrect"),
        "{}",
        err.last_lines
    );
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("check the console password"), "{text}");
    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some(FACTORY));
}

#[test]
fn a_shell_that_never_prompts_times_out_without_hanging() {
    let mut fw = Firewall::start(FakeSetup {
        fault: Fault::NoShellPrompt,
        ..FakeSetup::default()
    });
    let timeouts = ConsoleTimeouts {
        prompt: Duration::from_millis(400),
        ..fast()
    };
    let started = Instant::now();
    let err = install_config(
        fw.console(),
        &Credentials::default(),
        "<x/>",
        timeouts,
        |_| {},
    )
    .expect_err("no shell prompt");
    let took = started.elapsed();
    assert_eq!(
        *err.failure,
        ConsoleFailure::Timeout(Duration::from_millis(400))
    );
    assert_eq!(err.step, "entering the shell (menu option 8)");
    assert_eq!(err.expected, "\"# \"");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The menu and the typed option are what the console showed last.
    assert!(err.last_lines.contains("8) Shell"), "{}", err.last_lines);
    assert!(
        err.last_lines.ends_with("Enter an option: 8"),
        "{:?}",
        err.last_lines
    );
    let _ = fw.finish();
}

#[test]
fn a_shell_that_never_answers_a_command_times_out() {
    let mut fw = Firewall::start(FakeSetup {
        fault: Fault::NoCommandAnswer,
        ..FakeSetup::default()
    });
    let timeouts = ConsoleTimeouts {
        prompt: Duration::from_millis(400),
        ..fast()
    };
    let started = Instant::now();
    let err = install_config(
        fw.console(),
        &Credentials::default(),
        "<x/>",
        timeouts,
        |_| {},
    )
    .expect_err("no answer");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(*err.failure, ConsoleFailure::Timeout(_)), "{err}");
    assert_eq!(err.step, "running `true`");
    assert!(
        err.expected.contains("@@TAPPAAS-END-1:"),
        "{}",
        err.expected
    );
    let _ = fw.finish();
}

#[test]
fn a_damaged_upload_is_caught_and_nothing_installed() {
    let mut fw = Firewall::start(FakeSetup {
        fault: Fault::CorruptUpload,
        ..FakeSetup::default()
    });
    let xml = config_xml();
    let err = install_config(fw.console(), &Credentials::default(), &xml, fast(), |_| {})
        .expect_err("the checksum differs");
    let ConsoleFailure::ChecksumMismatch {
        expected, found, ..
    } = &*err.failure
    else {
        panic!("not a checksum error: {err}");
    };
    assert_eq!(*expected, format!("{:x}", Sha256::digest(xml.as_bytes())));
    assert_eq!(found.len(), 64, "the firewall's digest is shown: {found:?}");
    assert_ne!(found, expected);
    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some(FACTORY), "untouched");
    assert_eq!(fw.file("reload.log"), None, "not applied");
    let _ = fw.finish();
}

#[test]
fn a_closed_console_is_reported() {
    let mut fw = Firewall::start(FakeSetup {
        fault: Fault::CloseInShell,
        ..FakeSetup::default()
    });
    let err = install_config(
        fw.console(),
        &Credentials::default(),
        "<x/>",
        fast(),
        |_| {},
    )
    .expect_err("closed");
    assert_eq!(*err.failure, ConsoleFailure::Closed, "{err}");
    assert!(err.to_string().contains("is the VM running"), "{err}");
    let _ = fw.finish();
}

#[test]
fn an_unprotected_menu_needs_no_login() {
    let mut fw = Firewall::start(FakeSetup {
        autologin: true,
        ..FakeSetup::default()
    });
    let mut events = Vec::new();
    install_config(
        fw.console(),
        &Credentials::default(),
        "<new/>\n",
        fast(),
        |e| events.push(e.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!events.contains(&ConsoleEvent::LoginPrompt));
    assert!(events.contains(&ConsoleEvent::AtMenu));
    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some("<new/>\n"));
    let (report, _dir) = fw.finish();
    assert!(
        !report.typed.contains(DEFAULT_PASSWORD),
        "no password typed"
    );
}

#[test]
fn a_missed_login_prompt_is_asked_for_again_after_silence() {
    let mut fw = Firewall::start(FakeSetup {
        ignored_enters: 3,
        ..FakeSetup::default()
    });
    let timeouts = ConsoleTimeouts {
        wake: Duration::from_millis(150),
        ..fast()
    };
    let mut woken = 0;
    install_config(
        fw.console(),
        &Credentials::default(),
        "<new/>\n",
        timeouts,
        |e| {
            if *e == ConsoleEvent::Woken {
                woken += 1;
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // One Enter at connection, then one per silence until the prompt.
    assert!(woken >= 2, "{woken}");
    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some("<new/>\n"));
    let _ = fw.finish();
}

#[test]
fn no_prompt_at_all_times_out_at_the_boot_limit() {
    let mut fw = Firewall::start(FakeSetup {
        ignored_enters: usize::MAX,
        ..FakeSetup::default()
    });
    let timeouts = ConsoleTimeouts {
        boot: Duration::from_millis(500),
        wake: Duration::from_millis(100),
        ..fast()
    };
    let err = install_config(
        fw.console(),
        &Credentials::default(),
        "<x/>",
        timeouts,
        |_| {},
    )
    .expect_err("never a prompt");
    assert_eq!(err.step, "waiting for the login prompt");
    assert_eq!(err.expected, "\"login:\" or \"Enter an option:\"");
    assert!(
        err.last_lines.contains("Configuring system...done."),
        "{}",
        err.last_lines
    );
    let _ = fw.finish();
}

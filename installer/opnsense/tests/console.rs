//! The console driver against `tappaas_opnsense::emulator`, an emulation
//! of OPNsense's serial console (see that module for what it plays and
//! how faithfully).

mod common;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tappaas_opnsense::emulator::{Emulator, Fault, Report, Setup, State, FACTORY_CONFIG};
use tappaas_opnsense::{
    install_config, render_config, ConsoleError, ConsoleEvent, ConsoleFailure, ConsoleSession,
    ConsoleTimeouts, Credentials, CONFIG_PATH, DEFAULT_PASSWORD,
};

const FACTORY: &str = FACTORY_CONFIG;

/// The emulated firewall with its files in a temporary directory.
struct Firewall {
    dir: tempfile::TempDir,
    console: Option<UnixStream>,
    emulator: Emulator,
}

impl Firewall {
    fn start(setup: Setup) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (emulator, console) = Emulator::start(dir.path(), setup).expect("start the emulation");
        Self {
            dir,
            console: Some(console),
            emulator,
        }
    }

    /// Start the emulation with one fault played.
    fn faulty(fault: Fault) -> Self {
        Self::start(Setup {
            fault,
            ..Setup::default()
        })
    }

    /// Install `xml` with the default credentials; the events the UI
    /// would have seen, in order.
    fn install(
        &mut self,
        xml: &str,
        timeouts: ConsoleTimeouts,
    ) -> Result<Vec<ConsoleEvent>, ConsoleError> {
        let mut events = Vec::new();
        install_config(
            self.console(),
            &Credentials::default(),
            xml,
            timeouts,
            |e: &ConsoleEvent| events.push(e.clone()),
        )?;
        Ok(events)
    }

    fn console(&mut self) -> UnixStream {
        self.console.take().expect("the console is taken once")
    }

    fn file(&self, path: &str) -> Option<String> {
        self.emulator.file(path)
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Wait for the emulation to see the driver's end of the stream closed.
    fn finish(self) -> (Report, tempfile::TempDir) {
        drop(self.console);
        (
            self.emulator.finish().expect("fake console thread"),
            self.dir,
        )
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
    let mut fw = Firewall::start(Setup::default());
    let events = fw
        .install(&xml, fast())
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
            ConsoleEvent::ShellLeftOpen => "left open",
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
    let mut fw = Firewall::start(Setup::default());
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
    let mut fw = Firewall::start(Setup::default());
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
    let mut fw = Firewall::faulty(Fault::NoShellPrompt);
    let timeouts = ConsoleTimeouts {
        prompt: Duration::from_millis(400),
        ..fast()
    };
    let started = Instant::now();
    let err = fw.install("<x/>", timeouts).expect_err("no shell prompt");
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
    let mut fw = Firewall::faulty(Fault::NoCommandAnswer);
    let timeouts = ConsoleTimeouts {
        prompt: Duration::from_millis(400),
        ..fast()
    };
    let started = Instant::now();
    let err = fw.install("<x/>", timeouts).expect_err("no answer");
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
    let mut fw = Firewall::faulty(Fault::CorruptUpload);
    let xml = config_xml();
    let err = fw.install(&xml, fast()).expect_err("the checksum differs");
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
    let mut fw = Firewall::faulty(Fault::CloseInShell);
    let err = fw.install("<x/>", fast()).expect_err("closed");
    assert_eq!(*err.failure, ConsoleFailure::Closed, "{err}");
    assert!(err.to_string().contains("is the VM running"), "{err}");
    let _ = fw.finish();
}

#[test]
fn an_unprotected_menu_needs_no_login() {
    let mut fw = Firewall::start(Setup {
        autologin: true,
        ..Setup::default()
    });
    let events = fw
        .install("<new/>\n", fast())
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
    let mut fw = Firewall::start(Setup {
        ignored_enters: 3,
        ..Setup::default()
    });
    let timeouts = ConsoleTimeouts {
        wake: Duration::from_millis(150),
        ..fast()
    };
    let events = fw
        .install("<new/>\n", timeouts)
        .unwrap_or_else(|e| panic!("{e}"));
    let woken = events.iter().filter(|e| **e == ConsoleEvent::Woken).count();
    // One Enter at connection, then one per silence until the prompt.
    assert!(woken >= 2, "{woken}");
    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some("<new/>\n"));
    let _ = fw.finish();
}

#[test]
fn no_prompt_at_all_times_out_at_the_boot_limit() {
    let mut fw = Firewall::start(Setup {
        ignored_enters: usize::MAX,
        ..Setup::default()
    });
    let timeouts = ConsoleTimeouts {
        boot: Duration::from_millis(500),
        wake: Duration::from_millis(100),
        ..fast()
    };
    let err = fw.install("<x/>", timeouts).expect_err("never a prompt");
    assert_eq!(err.step, "waiting for the login prompt");
    assert_eq!(err.expected, "\"login:\" or \"Enter an option:\" or \"# \"");
    assert_eq!(*err.failure, ConsoleFailure::Timeout(timeouts.boot));
    assert!(
        err.last_lines.contains("Configuring system...done."),
        "{}",
        err.last_lines
    );
    let _ = fw.finish();
}

/// A failure half-way (a damaged upload, found in the shell) still leaves
/// the console logged out; and a console an earlier run left in a root
/// shell (killed half-way) is recognised and left, so the next run goes
/// through at once instead of waiting out the boot limit.
#[test]
fn a_failed_run_leaves_the_console_logged_out_and_a_shell_left_open_is_left() {
    let mut fw = Firewall::faulty(Fault::CorruptUpload);
    let err = fw.install(&config_xml(), fast()).expect_err("damaged");
    assert!(
        matches!(*err.failure, ConsoleFailure::ChecksumMismatch { .. }),
        "{err}"
    );
    let (report, _dir) = fw.finish();
    assert_eq!(
        report.state,
        State::Login,
        "left logged out after the failure: {:?}",
        &report.typed[report.typed.len().saturating_sub(200)..]
    );

    // The console as a killed run left it: in root's sh.
    let mut fw = Firewall::start(Setup {
        shell_open: true,
        ..Setup::default()
    });
    let timeouts = ConsoleTimeouts {
        boot: Duration::from_secs(3),
        wake: Duration::from_secs(1),
        ..fast()
    };
    let began = Instant::now();
    let events = fw
        .install("<new/>\n", timeouts)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(began.elapsed() < timeouts.boot, "{:?}", began.elapsed());
    assert!(events.contains(&ConsoleEvent::ShellLeftOpen), "{events:?}");
    assert_eq!(fw.file(CONFIG_PATH).as_deref(), Some("<new/>\n"));
    let (report, _dir) = fw.finish();
    assert_eq!(report.state, State::Login);
}

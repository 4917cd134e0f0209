//! The live system's launcher (overlays/live/usr/lib/tappaas/launch) and
//! console generator, run on the host with their paths redirected: which
//! console, interactive or unattended, answer sources and fingerprints.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn overlay(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../overlays/live")
        .join(path)
}

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new(name: &str, cmdline: &str) -> Env {
        let dir =
            std::env::temp_dir().join(format!("tappaas-launch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["medium", "run", "labels"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        std::fs::write(dir.join("cmdline"), format!("{cmdline}\n")).expect("cmdline");
        // A stand-in installer that records its arguments and the answer.
        let fake = dir.join("fake-installer");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"$*\" > '{d}/args'\nif [ \"$1\" = install ]; then cp \"$3\" '{d}/seen-answer'; fi\nexit ${{FAKE_RC:-0}}\n",
                d = dir.display()
            ),
        )
        .expect("fake");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Env { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(overlay("usr/lib/tappaas/launch"))
            .args(args)
            .env("TAPPAAS_CMDLINE", self.dir.join("cmdline"))
            .env("TAPPAAS_INSTALLER", self.dir.join("fake-installer"))
            .env("TAPPAAS_MEDIUM", self.dir.join("medium"))
            .env("TAPPAAS_RUN_DIR", self.dir.join("run"))
            .env("TAPPAAS_BY_LABEL", self.dir.join("labels"))
            .env("TAPPAAS_LABEL_WAIT", "0")
            .env("TAPPAAS_SETTLE", "0")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run launch")
    }

    fn print(&self) -> String {
        let out = self.run(&["--print"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn args(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("args"))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ANSWER: &str = "[global]\nkeyboard = \"en-us\"\n";
/// sha256 of ANSWER.
fn answer_sha256() -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(ANSWER.as_bytes())?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

#[test]
fn defaults_to_interactive_on_tty1() {
    let e = Env::new("defaults", "BOOT_IMAGE=/live/vmlinuz boot=live quiet");
    let p = e.print();
    assert!(
        p.contains("CONSOLE=tty1\n") && p.contains("MODE=interactive\n"),
        "{p}"
    );
    let out = e.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        e.args().as_deref(),
        Some(""),
        "installer run without arguments"
    );
}

#[test]
fn serial_console_and_last_value_wins() {
    let e = Env::new(
        "serial",
        "tappaas.console=tty1 console=ttyS0,115200 tappaas.console=ttyS0",
    );
    let out = e.run(&["--console"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ttyS0\n");
    let bad = Env::new("badconsole", "tappaas.console=/dev/sda");
    let out = bad.run(&["--console"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "tty1\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn installer_exit_status_is_passed_on() {
    let e = Env::new("status", "");
    let out = Command::new("bash")
        .arg(overlay("usr/lib/tappaas/launch"))
        .env("TAPPAAS_CMDLINE", e.dir.join("cmdline"))
        .env("TAPPAAS_INSTALLER", e.dir.join("fake-installer"))
        .env("TAPPAAS_SETTLE", "0")
        .env("FAKE_RC", "3")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("The installer exited (status 3)"));
}

#[test]
fn answer_from_the_iso_with_fingerprint() {
    let fp = answer_sha256();
    // Upper case with colons is accepted as well.
    let fancy: String = fp
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let e = Env::new(
        "iso",
        &format!("tappaas.answer=iso:/auto/answer.toml tappaas.answer-fingerprint={fancy}"),
    );
    std::fs::create_dir_all(e.dir.join("medium/auto")).expect("mkdir");
    std::fs::write(e.dir.join("medium/auto/answer.toml"), ANSWER).expect("answer");
    let p = e.print();
    assert!(
        p.contains("MODE=unattended\n") && p.contains(&format!("FINGERPRINT={fp}\n")),
        "{p}"
    );
    let out = e.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer_path = e.dir.join("run/answer.toml");
    assert_eq!(
        e.args(),
        Some(format!("install --answer {} --yes", answer_path.display()))
    );
    assert_eq!(
        std::fs::read_to_string(e.dir.join("seen-answer")).expect("seen"),
        ANSWER
    );
}

#[test]
fn wrong_fingerprint_never_starts_an_install() {
    let e = Env::new(
        "wrongfp",
        &format!(
            "tappaas.answer=iso:/answer.toml tappaas.answer-fingerprint={}",
            "0".repeat(64)
        ),
    );
    std::fs::write(e.dir.join("medium/answer.toml"), ANSWER).expect("answer");
    let out = e.run(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("fingerprint mismatch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(e.args(), None, "installer must not run");
    assert!(
        !e.dir.join("run/answer.toml").exists(),
        "rejected answer removed"
    );
}

#[test]
fn malformed_options_are_refused() {
    let e = Env::new(
        "badfp",
        "tappaas.answer=iso:/a.toml tappaas.answer-fingerprint=abc",
    );
    let out = e.run(&["--print"]);
    assert!(
        !out.status.success() && stderr(&out).contains("SHA-256"),
        "{}",
        stderr(&out)
    );
    let e = Env::new("badsrc", "tappaas.answer=ftp://x/a.toml");
    let out = e.run(&[]);
    assert!(
        !out.status.success() && stderr(&out).contains("want iso:/PATH"),
        "{}",
        stderr(&out)
    );
    assert_eq!(e.args(), None);
}

#[test]
fn answer_from_a_labelled_partition() {
    // The launcher accepts a directory in place of the by-label device so
    // that this can run without mounting anything.
    let e = Env::new("label", "tappaas.answer=label:TAPPAAS-AIS");
    std::fs::create_dir_all(e.dir.join("labels/TAPPAAS-AIS/sub")).expect("mkdir");
    std::fs::write(e.dir.join("labels/TAPPAAS-AIS/answer.toml"), ANSWER).expect("answer");
    let out = e.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(e.dir.join("seen-answer")).expect("seen"),
        ANSWER
    );

    let e2 = Env::new(
        "labelpath",
        "tappaas.answer=label:TAPPAAS-AIS/sub/node1.toml",
    );
    std::fs::create_dir_all(e2.dir.join("labels/TAPPAAS-AIS/sub")).expect("mkdir");
    std::fs::write(e2.dir.join("labels/TAPPAAS-AIS/sub/node1.toml"), ANSWER).expect("answer");
    let out = e2.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let missing = Env::new("nolabel", "tappaas.answer=label:NOPE");
    let out = missing.run(&[]);
    assert!(
        !out.status.success() && stderr(&out).contains("no partition with label NOPE"),
        "{}",
        stderr(&out)
    );
    assert_eq!(missing.args(), None);
}

#[test]
fn generator_runs_the_installer_on_the_chosen_console() {
    for (cmdline, unit, masked) in [
        (
            "quiet",
            "tappaas-installer@tty1.service",
            vec!["getty@tty1.service", "autovt@tty1.service"],
        ),
        (
            "tappaas.console=ttyS0",
            "tappaas-installer@ttyS0.service",
            vec!["serial-getty@ttyS0.service"],
        ),
    ] {
        let e = Env::new("generator", cmdline);
        let out_dir = e.dir.join("gen");
        std::fs::create_dir_all(&out_dir).expect("mkdir");
        let status = Command::new("sh")
            .arg(overlay(
                "usr/lib/systemd/system-generators/tappaas-console-generator",
            ))
            .arg(&out_dir)
            .arg(e.dir.join("early"))
            .arg(e.dir.join("late"))
            .env("TAPPAAS_LAUNCH", overlay("usr/lib/tappaas/launch"))
            .env("TAPPAAS_CMDLINE", e.dir.join("cmdline"))
            .status()
            .expect("generator");
        assert!(status.success());
        let want = out_dir.join("multi-user.target.wants").join(unit);
        assert_eq!(
            std::fs::read_link(&want).expect("wants link"),
            Path::new("/usr/lib/systemd/system/tappaas-installer@.service")
        );
        for m in masked {
            assert_eq!(
                std::fs::read_link(out_dir.join(m)).expect("mask"),
                Path::new("/dev/null"),
                "{m}"
            );
        }
    }
}

/// Serves ANSWER over HTTP on 127.0.0.1 for `requests` requests.
fn serve_answer(requests: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let _ = reader.read_line(&mut request_line);
            // The rest of the request head, up to the empty line.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            seen.push(request_line.trim().to_string());
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ANSWER}",
                ANSWER.len()
            );
        }
        seen
    });
    (port, handle)
}

#[test]
fn answer_over_http_with_and_without_the_right_fingerprint() {
    let (port, server) = serve_answer(2);
    let url = format!("http://127.0.0.1:{port}/nodes/node1.toml");
    let e = Env::new(
        "http",
        &format!(
            "tappaas.answer={url} tappaas.answer-fingerprint={}",
            answer_sha256()
        ),
    );
    let out = e.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(e.dir.join("seen-answer")).expect("seen"),
        ANSWER
    );

    let wrong = Env::new(
        "httpwrong",
        &format!(
            "tappaas.answer={url} tappaas.answer-fingerprint={}",
            "0".repeat(64)
        ),
    );
    let out = wrong.run(&[]);
    assert!(
        !out.status.success() && stderr(&out).contains("fingerprint mismatch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(wrong.args(), None, "no install with a wrong answer file");
    let seen = server.join().expect("server");
    assert_eq!(seen, vec![format!("GET /nodes/node1.toml HTTP/1.1"); 2]);
}

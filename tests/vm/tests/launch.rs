//! The live system's launcher (overlays/live/usr/lib/tappaas/launch) and
//! console generator, run on the host with their paths redirected: which
//! console, interactive or unattended, answer sources and fingerprints,
//! https with a pinned server key (a local `openssl s_server`), and that
//! the answer's copy is root-only.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

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
            // A test server is up before the launcher runs: no waiting for
            // a network to come up.
            .env("TAPPAAS_FETCH_TRIES", "2")
            .env("TAPPAAS_FETCH_DELAY", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run launch")
    }

    /// The mode bits of a file or folder under the test's folder.
    fn mode(&self, path: &str) -> u32 {
        std::fs::metadata(self.dir.join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode()
            & 0o7777
    }

    /// The answer's copy is readable by its owner only, in a folder only
    /// its owner can enter (it holds root's password).
    fn assert_answer_is_private(&self) {
        assert_eq!(self.mode("run"), 0o700, "run folder");
        assert_eq!(self.mode("run/answer.toml"), 0o600, "answer copy");
        let leftovers: Vec<_> = std::fs::read_dir(self.dir.join("run"))
            .expect("run folder")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "answer.toml")
            .collect();
        assert!(
            leftovers.is_empty(),
            "left in the run folder: {leftovers:?}"
        );
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
        .env("TAPPAAS_RUN_DIR", e.dir.join("run"))
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
    // The medium's file was world-readable, the folder too (as a folder
    // made by hand would be): both are root-only now.
    e.assert_answer_is_private();
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
    e.assert_answer_is_private();

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

/// An https server on 127.0.0.1: `openssl s_server -HTTP` with a fresh
/// self-signed certificate, serving the files under its `www` folder, each
/// a whole HTTP response (status line and headers included).
struct TlsServer {
    dir: PathBuf,
    child: Child,
    port: u16,
    /// The paths asked for, in order, as s_server reports them.
    requests: Arc<Mutex<Vec<String>>>,
}

impl TlsServer {
    fn start(env: &Env) -> TlsServer {
        let dir = env.dir.join("tls");
        std::fs::create_dir_all(dir.join("www")).expect("mkdir");
        new_key_and_certificate(&dir, "server");
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-HTTP"])
            .args(["-cert", "../server.crt", "-key", "../server.key"])
            .current_dir(dir.join("www"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl s_server (run scripts/setup-host)");
        // It says where it listens on stdout and reports each request
        // ("FILE:path") on stderr.
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .strip_prefix("ACCEPT 127.0.0.1:")
                    .and_then(|p| p.trim().parse::<u16>().ok())
                {
                    let _ = port_tx.send(port);
                }
            }
        });
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(path) = line.strip_prefix("FILE:") {
                    seen.lock().expect("lock").push(path.to_string());
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("openssl s_server did not say which port it listens on");
        TlsServer {
            dir,
            child,
            port,
            requests,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.port)
    }

    /// Serves `response` (a whole HTTP response) at `path`.
    fn serve(&self, path: &str, response: &str) {
        let file = self.dir.join("www").join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, response).expect("write");
    }

    /// curl's pin of the server's public key, by the command docs/iso.md
    /// gives.
    fn pin(&self) -> String {
        pin_of(&self.dir.join("server.crt"))
    }

    /// Every path asked for so far. A last request of its own, answered
    /// after the others (s_server serves one connection at a time), makes
    /// sure that none is still on its way to the list.
    fn requests(&self) -> Vec<String> {
        self.serve("done", "HTTP/1.0 200 OK\r\n\r\n");
        let out = Command::new("curl")
            .args(["-fsSk", "-o", "/dev/null", &self.url("done")])
            .output()
            .expect("curl");
        assert!(out.status.success(), "{}", stderr(&out));
        for _ in 0..100 {
            let seen = self.requests.lock().expect("lock").clone();
            if let Some((last, before)) = seen.split_last() {
                if last == "done" {
                    return before.to_vec();
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("s_server never reported the request for /done");
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed EC certificate NAME.crt with its key NAME.key in `dir`.
fn new_key_and_certificate(dir: &Path, name: &str) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=answers.test"])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.crt")))
        .output()
        .expect("openssl req (run scripts/setup-host)");
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `sha256//BASE64` of a certificate's public key, by the command the
/// launcher's messages and docs/iso.md give.
fn pin_of(certificate: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"#)
        .arg("sh")
        .arg(certificate)
        .output()
        .expect("sh");
    assert!(out.status.success(), "{}", stderr(&out));
    format!("sha256//{}", String::from_utf8_lossy(&out.stdout).trim())
}

fn ok_response(body: &str) -> String {
    format!(
        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A port on 127.0.0.1 that takes connections but never answers; tells
/// whether anyone connected.
struct Listener(std::net::TcpListener);

impl Listener {
    fn new() -> Listener {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        Listener(l)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().expect("addr").port()
    }

    fn was_contacted(&self) -> bool {
        self.0.accept().is_ok()
    }
}

#[test]
fn answer_over_https_from_the_server_with_the_pinned_key() {
    let e = Env::new("https", "");
    let server = TlsServer::start(&e);
    server.serve("nodes/node1.toml", &ok_response(ANSWER));
    std::fs::write(
        e.dir.join("cmdline"),
        format!(
            "tappaas.answer={} tappaas.answer-pubkey={}\n",
            server.url("nodes/node1.toml"),
            server.pin()
        ),
    )
    .expect("cmdline");
    let out = e.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(e.dir.join("seen-answer")).expect("seen"),
        ANSWER
    );
    e.assert_answer_is_private();
    assert_eq!(server.requests(), vec!["nodes/node1.toml"]);
}

#[test]
fn another_server_key_or_an_unknown_certificate_is_refused() {
    let e = Env::new("https-wrong-pin", "");
    let server = TlsServer::start(&e);
    server.serve("nodes/node1.toml", &ok_response(ANSWER));
    // The pin of another key: a server in the middle, or a renewed key.
    new_key_and_certificate(&e.dir, "other");
    let other = pin_of(&e.dir.join("other.crt"));
    assert_ne!(other, server.pin());
    let url = server.url("nodes/node1.toml");
    std::fs::write(
        e.dir.join("cmdline"),
        format!("tappaas.answer={url} tappaas.answer-pubkey={other}\n"),
    )
    .expect("cmdline");
    let out = e.run(&[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is not the server that tappaas.answer-pubkey names")
            && err.contains("openssl s_client -connect 127.0.0.1:")
            && err.contains("tappaas.answer-pubkey=sha256//"),
        "the message says what to do: {err}"
    );
    assert_eq!(e.args(), None, "installer must not run");
    assert!(!e.dir.join("run/answer.toml").exists());

    // Without a pin the certificate must come from a known CA: a
    // self-signed one is refused, and the message says how to pin it.
    std::fs::write(e.dir.join("cmdline"), format!("tappaas.answer={url}\n")).expect("cmdline");
    let out = e.run(&[]);
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("is not trusted") && err.contains("openssl x509"),
        "{err}"
    );
    assert_eq!(e.args(), None, "installer must not run");
    // Neither attempt got as far as asking for the file.
    assert_eq!(server.requests(), Vec::<String>::new());
}

#[test]
fn plain_http_without_a_pinned_answer_is_refused() {
    let listener = Listener::new();
    let url = format!("http://127.0.0.1:{}/nodes/node1.toml", listener.port());
    let e = Env::new("http-unpinned", &format!("tappaas.answer={url}"));
    let out = e.run(&[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("plain HTTP") && err.contains("tappaas.answer-fingerprint"),
        "the message says what to do: {err}"
    );
    assert_eq!(e.args(), None, "installer must not run");
    let print = e.run(&["--print"]);
    assert!(!print.status.success(), "--print refuses it too");
    // The console generator still finds the console, so the message shows.
    let console = Env::new(
        "http-unpinned-console",
        &format!("tappaas.console=ttyS0 tappaas.answer={url}"),
    );
    let out = console.run(&["--console"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ttyS0\n");
    assert!(!listener.was_contacted(), "nothing was fetched");

    // A server key pin is for https only.
    let e = Env::new(
        "http-pubkey",
        &format!(
            "tappaas.answer={url} tappaas.answer-fingerprint={} tappaas.answer-pubkey=sha256//{}=",
            answer_sha256(),
            "A".repeat(43)
        ),
    );
    let out = e.run(&["--print"]);
    assert!(
        !out.status.success() && stderr(&out).contains("pins an https:// server"),
        "{}",
        stderr(&out)
    );
    let e = Env::new(
        "bad-pubkey",
        "tappaas.answer=https://answers.test/a.toml tappaas.answer-pubkey=AB:CD",
    );
    let out = e.run(&["--print"]);
    assert!(
        !out.status.success() && stderr(&out).contains("openssl pkey -pubin"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_redirect_from_https_to_http_is_refused() {
    let plain = Listener::new();
    let e = Env::new("https-redirect", "");
    let server = TlsServer::start(&e);
    server.serve(
        "to-http.toml",
        &format!(
            "HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:{}/nodes/node1.toml\r\nContent-Length: 0\r\n\r\n",
            plain.port()
        ),
    );
    let cmdline = |path: &str| {
        std::fs::write(
            e.dir.join("cmdline"),
            format!(
                "tappaas.answer={} tappaas.answer-pubkey={}\n",
                server.url(path),
                server.pin()
            ),
        )
        .expect("cmdline");
    };
    cmdline("to-http.toml");
    let out = e.run(&[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("redirected to a scheme other than https"),
        "{err}"
    );
    assert_eq!(e.args(), None, "installer must not run");
    assert!(!plain.was_contacted(), "the http address was never asked");

    // A redirect that stays on https (and on the pinned key) is followed.
    server.serve(
        "moved.toml",
        &format!(
            "HTTP/1.0 301 Moved\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
            server.url("nodes/node1.toml")
        ),
    );
    server.serve("nodes/node1.toml", &ok_response(ANSWER));
    cmdline("moved.toml");
    let out = e.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(e.dir.join("seen-answer")).expect("seen"),
        ANSWER
    );
    assert_eq!(
        server.requests(),
        vec!["to-http.toml", "moved.toml", "nodes/node1.toml"]
    );
}

#[test]
fn the_installer_works_in_a_root_only_folder() {
    // Interactive: the installer writes its log, plan and journal there.
    let e = Env::new("interactive-private", "");
    assert_eq!(e.mode("run"), 0o755, "made world-readable by the test");
    let out = e.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(e.mode("run"), 0o700);

    // At boot, tmpfiles.d makes the folder so before anything runs.
    let root = e.dir.join("sysroot");
    let out = Command::new("systemd-tmpfiles")
        .arg("--create")
        .arg(format!("--root={}", root.display()))
        .arg(overlay("usr/lib/tmpfiles.d/tappaas.conf"))
        .output()
        .expect("systemd-tmpfiles");
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = std::fs::metadata(root.join("run/tappaas")).expect("run/tappaas");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(meta.uid(), 0, "owned by root");
}

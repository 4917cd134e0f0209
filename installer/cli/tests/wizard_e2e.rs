//! The real binary's wizard in a pseudo-terminal that the test makes
//! itself (CI has no terminal): typed through every screen on the recorded
//! machine nvme2-hdd4 with `--dry-run`, the plan it prints must be the
//! plan of the equivalent answer file, as `plan --answer` prints it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

const BIN: &str = env!("CARGO_BIN_EXE_tappaas-installer");
const ROWS: u16 = 24;
const COLS: u16 = 80;

const ENTER: &str = "\r";
const TAB: &str = "\t";
const UP: &str = "\x1b[A";
const DOWN: &str = "\x1b[B";
const RIGHT: &str = "\x1b[C";
const LEFT: &str = "\x1b[D";
const CTRL_U: &str = "\x15";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The terminal as the user sees it, fed by a thread reading the pty.
struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
}

impl Screen {
    fn contents(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    /// Waits until `text` is on the screen; fails with the screen.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.contents();
            if screen.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {text:?}; the screen shows:\n{screen}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, keys: &str) {
        // Byte by byte, as a serial line delivers them: an arrow key's
        // `ESC [ C` reaches the wizard in separate reads and must still be
        // one key (installer/wizard/src/keys.rs), not Esc (back) and text.
        for b in keys.as_bytes() {
            self.writer.write_all(&[*b]).expect("write keys");
            self.writer.flush().expect("flush keys");
            thread::sleep(Duration::from_millis(3));
        }
        // One key at a time, as a person types.
        thread::sleep(Duration::from_millis(5));
    }

    fn send_n(&mut self, keys: &str, n: usize) {
        for _ in 0..n {
            self.send(keys);
        }
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.send(&c.to_string());
        }
    }
}

/// The kernel's peak resident set size of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// What the program printed after leaving the alternate screen, without
/// escape sequences and with the pty's CR LF made LF.
fn printed_after_tui(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let leave = "\x1b[?1049l";
    let after = match text.rfind(leave) {
        Some(i) => &text[i + leave.len()..],
        None => &text,
    };
    let mut out = String::new();
    let mut chars = after.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

#[test]
fn dry_run_wizard_prints_the_plan_of_the_equivalent_answer_file() {
    let machine = repo().join("tests/fixtures/machines/nvme2-hdd4/profile.json");
    let answer = repo().join("tests/fixtures/wizard/nvme2-hdd4.toml");

    let pair = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pty");
    let mut cmd = CommandBuilder::new(BIN);
    cmd.arg("--machine");
    cmd.arg(&machine);
    cmd.arg("--dry-run");
    cmd.env("TERM", "vt100");
    // Both runs must see the same build info (none): the plan names the
    // ISO's flavour and image.
    cmd.env_remove("TAPPAAS_BUILD_INFO");
    cmd.cwd(repo());
    let mut child = pair.slave.spawn_command(cmd).expect("spawn the installer");
    // Only the child holds the terminal's other end: its exit ends reads.
    drop(pair.slave);
    let pid = child.process_id().expect("pid");

    let mut reader = pair.master.try_clone_reader().expect("reader");
    let parser = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
    let raw = Arc::new(Mutex::new(Vec::new()));
    let reading = {
        let parser = parser.clone();
        let raw = raw.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        parser.lock().expect("parser").process(&buf[..n]);
                        raw.lock().expect("raw").extend_from_slice(&buf[..n]);
                    }
                }
            }
        })
    };
    let mut s = Screen {
        parser,
        writer: pair.master.take_writer().expect("writer"),
    };

    s.wait_for("step 1 of 10: Welcome");
    // A frame may arrive in several reads: wait for each thing looked at.
    s.wait_for("Dry run");
    s.send(ENTER);
    s.wait_for("step 2 of 10: New cluster or join");
    s.send(ENTER);
    s.wait_for("step 3 of 10: Hardware check");
    s.wait_for("enp6s0");
    s.send(ENTER);

    s.wait_for("step 4 of 10: Disks");
    // The planner's proposal: both NVMe disks boot (raid1), the four HDDs
    // are tank1 (raid10). The focus is on Next: one key accepts it.
    s.wait_for("Proposed: rpool raid1 on nvme0n1, nvme1n1, tank1 raid10 on sda, sdb, sdc, sdd.");
    s.wait_for("< raid10 >");
    s.wait_for("> [ Next ]");
    // Arrow keys (split escape sequences) on the way: tank2 on the rest of
    // the boot disks shows rpool's proposed size and what remains, and
    // back to the proposal.
    s.send(UP);
    s.wait_for("> tank2 is");
    s.send(RIGHT);
    s.wait_for("< rest of the boot disk(s) >");
    s.send(DOWN);
    s.wait_for("> rpool size (GiB)         64");
    s.wait_for("tank2 gets the rest: 866.5 GiB of each boot disk");
    s.send(UP);
    s.wait_for("> tank2 is");
    s.send(LEFT);
    s.wait_for("< the tank2 disks above >");
    s.send(DOWN);
    s.wait_for("> [ Next ]");
    s.send(ENTER);

    s.wait_for("step 5 of 10: Network");
    s.send_n(TAB, 7);
    s.send(CTRL_U);
    s.type_text("home.lan");
    s.send(TAB);
    s.send(ENTER);

    s.wait_for("step 6 of 10: Cluster: create");
    s.send(TAB);
    s.send(ENTER);

    s.wait_for("step 7 of 10: Credentials");
    s.type_text("golden-test-password");
    s.send(TAB);
    s.type_text("golden-test-password");
    s.send(TAB);
    s.type_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG4rT3vTt99Ox5kndS4HmgTrKBT8SKzhK4rhGkEVGlCI admin@laptop",
    );
    s.send_n(TAB, 2);
    s.type_text("admin@home.lan");
    s.send(TAB);
    s.send(CTRL_U);
    s.type_text("Europe/Amsterdam");
    s.send_n(TAB, 2);
    s.send(CTRL_U);
    s.type_text("nl");
    s.send(TAB);
    s.send(ENTER);

    // Off an ISO the planner's environment has the OPNsense image: the
    // first node sets up the firewall. Its defaults: deployed, the LAN
    // address by convention, WAN by DHCP.
    s.wait_for("step 8 of 10: Firewall");
    s.wait_for("10.0.0.1/24");
    s.send_n(TAB, 3);
    s.send(ENTER);

    s.wait_for("step 9 of 10: Services");
    s.send_n(TAB, 16);
    s.send(ENTER);

    s.wait_for("step 10 of 10: Summary");
    s.wait_for("6 disk(s) will be ERASED");
    for serial in ["WD-WX12D80ABC01", "WD-WX12D80ABC04"] {
        s.wait_for(serial);
    }
    // Nothing outside ASCII on a vt100.
    let screen = s.contents();
    assert!(screen.is_ascii(), "{screen}");
    s.type_text("yes");
    s.send(ENTER);
    s.wait_for("> [ Finish the dry run");
    let peak = peak_rss_kib(pid);
    s.send(ENTER);

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "the installer did not exit");
        thread::sleep(Duration::from_millis(20));
    };
    reading.join().expect("reader");
    assert!(status.success(), "exit status {status:?}");
    if let Some(kib) = peak {
        // For docs/wizard.md: run with --nocapture to see it.
        eprintln!("peak RSS of the dry-run wizard: {kib} KiB");
    }

    let printed = printed_after_tui(&raw.lock().expect("raw"));
    let expected = Command::new(BIN)
        .arg("plan")
        .arg("--machine")
        .arg(&machine)
        .arg("--answer")
        .arg(&answer)
        .env_remove("TAPPAAS_BUILD_INFO")
        .current_dir(repo())
        .output()
        .expect("run plan");
    assert!(expected.status.success(), "{expected:?}");
    let expected = String::from_utf8(expected.stdout).expect("utf-8");
    if printed.trim_start() != expected {
        let (i, (a, b)) = printed
            .trim_start()
            .lines()
            .zip(expected.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "the dry run's plan differs from the answer file's at line {}:\n  wizard: {a}\n  answer: {b}\n--- wizard printed:\n{printed}",
            i + 1
        );
    }
}

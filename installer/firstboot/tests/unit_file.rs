//! The first-boot unit that the installer enables on the node: systemd's
//! own checker accepts it, and it names the paths and the credential the
//! code uses.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use tappaas_firstboot::{Config, PEER_PASSWORD_NAME};

const UNIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../overlays/node/etc/systemd/system/tappaas-firstboot.service"
);

fn unit_text() -> String {
    std::fs::read_to_string(UNIT).unwrap()
}

/// The value of `key=` in the unit (the first one).
fn value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

#[test]
fn the_unit_matches_the_code() {
    let text = unit_text();
    let node = Config::node();
    assert_eq!(
        value(&text, "ConditionPathExists").as_deref(),
        node.marker.to_str(),
        "the unit must run exactly while first boot's marker exists"
    );
    assert_eq!(
        value(&text, "ImportCredential").as_deref(),
        Some(PEER_PASSWORD_NAME)
    );
    assert_eq!(
        tappaas_plan::PEER_PASSWORD_CREDENTIAL,
        format!("/etc/credstore.encrypted/{PEER_PASSWORD_NAME}"),
        "ImportCredential= finds the credential by name in /etc/credstore.encrypted"
    );
    assert_eq!(
        value(&text, "ExecStart").as_deref(),
        Some("/usr/bin/tappaas-installer firstboot")
    );
    assert_eq!(value(&text, "Type").as_deref(), Some("oneshot"));
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let found = Command::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!(
            "skipped: systemd-analyze is not installed here (Debian's `systemd` package has it)"
        );
        return;
    }
    // verify also checks that ExecStart's program exists and is
    // executable; the installer is not installed on the machine that runs
    // the tests, so a copy of the unit names this test's own executable
    // instead (the unit file name must stay the same: verify derives the
    // unit name from it).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("tappaas-firstboot.service");
    let me = std::env::current_exe().unwrap();
    let text = unit_text().replace("/usr/bin/tappaas-installer", me.to_str().unwrap());
    assert_ne!(text, unit_text(), "ExecStart was not replaced");
    std::fs::write(&copy, text).unwrap();

    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );

    let version = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let v = String::from_utf8_lossy(&o.stdout).into_owned();
            v.split_whitespace().nth(1)?.parse::<u32>().ok()
        })
        .unwrap_or(0);
    let mut complaints = Vec::new();
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        // ImportCredential= came with systemd 254; the node (Debian 13)
        // has 257, but a Debian 12 test machine has 252 and does not know
        // the key. Anything else is a real complaint.
        if version < 254 && line.contains("Unknown key") && line.contains("ImportCredential") {
            eprintln!("note: systemd {version} predates ImportCredential= (254): {line}");
            continue;
        }
        complaints.push(line.to_string());
    }
    assert!(
        complaints.is_empty(),
        "systemd-analyze verify complained:\n{}",
        complaints.join("\n")
    );
}

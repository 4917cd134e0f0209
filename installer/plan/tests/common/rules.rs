//! What the rule tests (rules*.rs) share: the common home server, the
//! standard answer and the ways to plan them.

use tappaas_plan::{plan, Environment, FileContent, Flavour, Plan, PlanError};

use super::*;
pub fn env() -> Environment {
    Environment {
        flavour: Flavour::Test,
        target_image: "/run/live/medium/.tappaas/target-test.squashfs".into(),
        ..Environment::default()
    }
}

/// Two SSDs, two HDDs, one more HDD, two NICs: the common home server.
pub fn home_server() -> tappaas_hardware::MachineProfile {
    machine(
        vec![
            disk("sda", "SSD1", 500, true),
            disk("sdb", "SSD2", 500, true),
            disk("sdc", "HDD1", 4000, false),
            disk("sdd", "HDD2", 4000, false),
            disk("sde", "HDD3", 2000, false),
        ],
        vec![
            nic("enp1s0", "aa:00:00:00:00:01", true),
            nic("enp2s0", "aa:00:00:00:00:02", true),
        ],
        64,
    )
}

pub const STANDARD: &str = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]

[tank1]
layout = "mirror"
disk-list = ["sdc", "sdd"]

[tank2]
disk-list = ["sde"]
"#;

/// One SSD and one NIC: a node with rpool only (no tank1, no tank2).
pub fn one_disk_node() -> tappaas_hardware::MachineProfile {
    machine(
        vec![disk("sda", "SSD1", 500, true)],
        vec![nic("enp1s0", "aa:00:00:00:00:01", true)],
        64,
    )
}

/// The answer for [`one_disk_node`]: rpool on its disk.
pub const ONE_DISK: &str = "[disk-setup]\nfilesystem = \"zfs\"\ndisk-list = [\"sda\"]\n";

pub fn ok(m: &tappaas_hardware::MachineProfile, a: &str) -> Plan {
    match plan(m, &answer(a), &env()) {
        Ok(p) => p,
        Err(e) => panic!("expected a plan, got: {e:#?}"),
    }
}

pub fn err(m: &tappaas_hardware::MachineProfile, a: &str) -> Vec<PlanError> {
    match plan(m, &answer(a), &env()) {
        Ok(p) => panic!(
            "expected errors, got a plan:\n{}",
            tappaas_plan::render_text(&p)
        ),
        Err(e) => e,
    }
}

pub fn has_error(errors: &[PlanError], key: &str, needle: &str) -> bool {
    errors
        .iter()
        .any(|e| e.key.map(|k| k.to_string()).as_deref() == Some(key) && e.message.contains(needle))
}

pub fn all_argv(p: &Plan) -> Vec<String> {
    p.commands().flat_map(|c| c.argv.iter().cloned()).collect()
}

/// The plan enables systemd `unit` on the installed node.
pub fn enables(p: &Plan, unit: &str) -> bool {
    p.commands()
        .any(|c| c.argv == ["systemctl", "--root=/target", "enable", unit])
}

pub fn file(p: &Plan, path: &str) -> String {
    match p.files().find(|f| f.path == path).map(|f| &f.content) {
        Some(FileContent::Text(t)) => t.clone(),
        other => panic!("{path}: {other:?}"),
    }
}

pub fn with(rest: &str) -> String {
    format!("{STANDARD}\n{rest}")
}

/// rpool on 64 GiB of each boot disk, tank2 on the rest.
pub const BOOT_REMAINDER: &str = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
zfs.hdsize = 64
[tank2]
boot-remainder = true
"#;

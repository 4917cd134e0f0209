//! The planner's rules (SPEC.md "Disks and pools"), one test each: disks,
//! pools and their layouts. The other rules are in rules_*.rs.

mod common;

use common::rules::*;
use common::*;
use tappaas_plan::{Action, AnswerKey, DiskRole, Field, PoolAction, Section, VdevKind};

#[test]
fn standard_layout() {
    let p = ok(&home_server(), STANDARD);
    let rpool = &p.pools[0];
    assert_eq!(rpool.name, "rpool");
    assert_eq!(rpool.vdevs.len(), 1);
    assert_eq!(
        rpool.vdevs[0].kind,
        VdevKind::Mirror,
        "two boot disks default to a mirror"
    );
    assert_eq!(
        rpool.vdevs[0].devices,
        vec![
            "/dev/disk/by-id/ata-TEST_DISK_SSD1-part3",
            "/dev/disk/by-id/ata-TEST_DISK_SSD2-part3"
        ]
    );
    assert_eq!(
        rpool.properties.get("autotrim").map(String::as_str),
        Some("on")
    );
    let tank1 = &p.pools[1];
    assert_eq!(
        (tank1.name.as_str(), tank1.vdevs[0].kind),
        ("tank1", VdevKind::Mirror)
    );
    assert_eq!(
        tank1.properties.get("autotrim"),
        None,
        "HDDs get no autotrim"
    );
    assert_eq!(
        tank1.properties.get("ashift").map(String::as_str),
        Some("12")
    );
    for k in ["compression", "atime", "xattr"] {
        assert!(
            tank1.filesystem_properties.contains_key(k),
            "tank1 lacks {k}"
        );
    }
    let tank2 = &p.pools[2];
    assert_eq!(tank2.vdevs[0].kind, VdevKind::Disk);
    assert_eq!(p.disks_to_erase().count(), 5);
    // Three partitions per boot disk: BIOS boot, ESP, rpool.
    assert_eq!(p.partitions.len(), 6);
    let datasets: Vec<&str> = rpool.datasets.iter().map(|d| d.name.as_str()).collect();
    assert!(datasets.contains(&"rpool/ROOT/pve-1") && datasets.contains(&"rpool/data"));
}

#[test]
fn disks_are_addressed_by_id_only() {
    let p = ok(&home_server(), STANDARD);
    for arg in all_argv(&p) {
        assert!(
            !(arg.starts_with("/dev/sd") || arg.starts_with("/dev/nvme")),
            "kernel name in a command: {arg}"
        );
    }
}

#[test]
fn unselected_disk_is_never_in_a_command() {
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
[tank1]
layout = "mirror"
disk-list = ["sdc", "sdd"]
"#;
    let p = ok(&home_server(), a);
    let sde = "ata-TEST_DISK_HDD3";
    assert!(all_argv(&p).iter().all(|a| !a.contains(sde)));
    let d = p
        .disks
        .iter()
        .find(|d| d.kernel_name == "sde")
        .expect("sde listed");
    assert_eq!((d.role, d.erase), (DiskRole::Untouched, false));
}

#[test]
fn a_disk_has_one_role() {
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
[tank1]
layout = "mirror"
filter.ID_SERIAL = "TEST_DISK_*"
"#;
    let e = err(&home_server(), a);
    assert!(
        has_error(&e, "tank1", "selected for disk-setup and for tank1"),
        "{e:#?}"
    );
}

#[test]
fn disk_with_data_needs_consent() {
    let mut m = home_server();
    m.disks[2] = with_ext4(m.disks[2].clone());
    let e = err(&m, STANDARD);
    let msg = e
        .iter()
        .find(|e| e.message.contains("holds data"))
        .expect("holds-data error");
    assert!(
        msg.message.contains("sdc") && msg.message.contains("ext4"),
        "{msg:?}"
    );
    assert!(msg.hint.contains("erase-disks-with-data"));
    let p = ok(
        &m,
        &format!("{STANDARD}\n[node]\nerase-disks-with-data = true\n"),
    );
    assert!(p.disks.iter().any(|d| d.kernel_name == "sdc" && d.erase));
    // The old partition's signature is wiped before the disk's.
    assert!(all_argv(&p)
        .iter()
        .any(|a| a == "/dev/disk/by-id/ata-TEST_DISK_HDD1-part1"));
}

/// A front end routes an error by its typed key and the consent that
/// lifts it, never by its words.
#[test]
fn errors_carry_a_typed_key_and_the_consent_that_lifts_them() {
    let mut m = home_server();
    m.disks[2] = with_ext4(m.disks[2].clone());
    let e = err(&m, STANDARD);
    let data = e
        .iter()
        .find(|e| e.message.contains("holds data"))
        .expect("holds-data error");
    assert_eq!(data.key, Some(AnswerKey::from(Section::Tank1)));
    assert!(data.is_under(Section::Tank1));
    assert_eq!(data.consent, Some(AnswerKey::ERASE_DISKS_WITH_DATA));
    assert_eq!(
        AnswerKey::ERASE_DISKS_WITH_DATA.to_string(),
        "node.erase-disks-with-data"
    );

    let a = STANDARD.replace(
        r#"disk-list = ["sdc", "sdd"]"#,
        r#"disk-list = ["sdc", "sdx"]"#,
    );
    let e = err(&home_server(), &a);
    let missing = e
        .iter()
        .find(|e| e.message.contains("sdx"))
        .expect("unknown disk error");
    assert_eq!(missing.key, Some(Section::Tank1.key(Field::DiskList)));
    assert_eq!(missing.consent, None);
    assert!(
        missing.to_string().starts_with("tank1.disk-list: "),
        "{missing}"
    );
}

#[test]
fn existing_tank1_is_kept_and_imported() {
    let mut m = home_server();
    m.disks[2] = with_pool(m.disks[2].clone(), "tank1");
    m.disks[3] = with_pool(m.disks[3].clone(), "tank1");
    let p = ok(&m, STANDARD);
    let tank1 = p.pools.iter().find(|p| p.name == "tank1").expect("tank1");
    assert_eq!(tank1.action, PoolAction::Import);
    for name in ["sdc", "sdd"] {
        let d = p
            .disks
            .iter()
            .find(|d| d.kernel_name == name)
            .expect("disk");
        assert!(
            !d.erase,
            "{name} holds the kept tank1 and must not be erased"
        );
    }
    // A kept disk is named only by the read-only check that the pool is
    // the plan's own and whole; no command writes to it.
    let naming: Vec<String> = p
        .commands()
        .filter(|c| c.argv.iter().any(|a| a.contains("TEST_DISK_HDD1")))
        .map(|c| c.to_string())
        .collect();
    assert_eq!(naming.len(), 1, "{naming:#?}");
    assert!(naming[0].contains("zpool import -f -N -d /dev/disk/by-id tank1"));
    assert!(naming[0].contains("zpool list -v -H -P tank1"));
    assert!(
        naming[0].contains("h=$(zpool list -H -o health tank1); if [ \"$h\" != ONLINE ]"),
        "a degraded pool stops the install ({})",
        naming[0]
    );
    let cmds: Vec<String> = p.commands().map(|c| c.to_string()).collect();
    assert!(!cmds
        .iter()
        .any(|c| c.contains("zpool create") && c.contains(" tank1 ")));
    // Kept disks are still identity-checked before anything runs.
    let checked = p.steps[0]
        .actions
        .iter()
        .filter(|a| matches!(a, Action::CheckDisk { path, .. } if path.contains("HDD1")))
        .count();
    assert_eq!(checked, 1);
}

#[test]
fn existing_tank1_on_other_disks_stops_the_plan() {
    let mut m = home_server();
    m.disks[4] = with_pool(m.disks[4].clone(), "tank1");
    let e = err(&m, STANDARD);
    assert!(has_error(&e, "tank1", "already exists on sde"), "{e:#?}");
}

#[test]
fn existing_tank1_can_be_wiped_explicitly() {
    let mut m = home_server();
    m.disks[2] = with_pool(m.disks[2].clone(), "tank1");
    m.disks[3] = with_pool(m.disks[3].clone(), "tank1");
    let a = STANDARD.replace(
        "layout = \"mirror\"",
        "layout = \"mirror\"\nexisting = \"wipe\"",
    );
    let p = ok(&m, &a);
    assert_eq!(p.pools[1].action, PoolAction::Create);
    assert!(p.disks.iter().filter(|d| d.erase).count() == 5);
}

#[test]
fn existing_pool_without_its_section_is_not_destroyed_silently() {
    let mut m = home_server();
    m.disks[4] = with_pool(m.disks[4].clone(), "tank2");
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
[tank1]
layout = "raidz-1"
disk-list = ["sdc", "sdd", "sde"]
"#;
    let e = err(&m, a);
    assert!(
        e.iter().any(|e| e.message.contains("existing pool tank2")),
        "{e:#?}"
    );
}

#[test]
fn tank2_on_the_boot_disk_remainder_cannot_be_kept() {
    let mut m = home_server();
    m.disks[0] = with_pool(m.disks[0].clone(), "tank2");
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
zfs.hdsize = 100
[tank2]
boot-remainder = true
[node]
erase-disks-with-data = true
"#;
    let e = err(&m, a);
    assert!(has_error(&e, "tank2", "re-partitioned"), "{e:#?}");
}

#[test]
fn boot_remainder_becomes_tank2() {
    let p = ok(&home_server(), BOOT_REMAINDER);
    let tank2 = p.pools.iter().find(|p| p.name == "tank2").expect("tank2");
    assert_eq!(
        tank2.disks,
        vec![
            "/dev/disk/by-id/ata-TEST_DISK_SSD1-part4",
            "/dev/disk/by-id/ata-TEST_DISK_SSD2-part4"
        ]
    );
    let rpool_part = p.partitions.iter().find(|p| p.number == 3).expect("part3");
    assert_eq!(rpool_part.size_bytes, Some(64 * GIB));
    let sgdisk: Vec<String> = p
        .commands()
        .filter(|c| c.argv[0] == "sgdisk" && c.argv[1].starts_with("--new"))
        .map(|c| c.to_string())
        .collect();
    assert_eq!(sgdisk.len(), 2);
    assert!(sgdisk[0].contains("--new=4:0:0"), "{}", sgdisk[0]);
}

#[test]
fn hdsize_larger_than_the_disk_is_refused() {
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
zfs.hdsize = 600
"#;
    let e = err(&home_server(), a);
    assert!(
        has_error(&e, "disk-setup.zfs.hdsize", "does not fit"),
        "{e:#?}"
    );
}

#[test]
fn installer_medium_is_never_a_target() {
    let mut m = home_server();
    m.disks[4].boot_medium = true;
    let e = err(&m, STANDARD);
    assert!(
        has_error(&e, "tank2.disk-list", "installer's own boot medium"),
        "{e:#?}"
    );

    // A filter that happens to match it leaves it out, with a warning.
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
[tank1]
layout = "mirror"
filter.ID_SERIAL = "TEST_DISK_HDD*"
"#;
    let p = ok(&m, a);
    assert_eq!(p.pools[1].disks.len(), 2);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("installer medium")));
    let medium = p
        .disks
        .iter()
        .find(|d| d.kernel_name == "sde")
        .expect("sde");
    assert_eq!(
        (medium.role, medium.erase),
        (DiskRole::InstallerMedium, false)
    );
}

#[test]
fn layouts_need_their_minimum_disks() {
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
[tank1]
layout = "raid10"
filter.ID_BUS = "ata"
filter.ID_MODEL = "NOPE"
filter-match = "any"
"#;
    // The filter matches sda too: a role conflict, reported first.
    let e = err(&home_server(), a);
    assert!(e
        .iter()
        .any(|e| e.message.contains("selected for disk-setup and for tank1")));

    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
[tank1]
layout = "raid10"
filter.ID_SERIAL_SHORT = "HDD*"
"#;
    let e = err(&home_server(), a);
    assert!(
        has_error(&e, "tank1", "raid10 needs at least 4 disks, 3 selected"),
        "{e:#?}"
    );

    let mut m = home_server();
    m.disks.push(disk("sdf", "HDD4", 4000, false));
    m.disks.push(disk("sdg", "HDD5", 4000, false));
    let e = err(&m, a);
    assert!(
        has_error(&e, "tank1", "even number of disks, 5 selected"),
        "{e:#?}"
    );

    let a = r#"
[disk-setup]
filesystem = "zfs"
filter.ID_SERIAL_SHORT = "SSD*"
zfs.raid = "raidz-1"
"#;
    let e = err(&home_server(), a);
    assert!(
        has_error(
            &e,
            "disk-setup",
            "raidz-1 needs at least 3 disks, 2 selected"
        ),
        "{e:#?}"
    );
}

#[test]
fn raid10_pairs_mirrors() {
    let m = machine(
        (0..6)
            .map(|i| {
                disk(
                    &format!("sd{}", (b'a' + i) as char),
                    &format!("D{i}"),
                    1000,
                    true,
                )
            })
            .collect(),
        vec![
            nic("eno1", "aa:00:00:00:00:01", true),
            nic("eno2", "aa:00:00:00:00:02", false),
        ],
        32,
    );
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
[tank1]
layout = "raid10"
disk-list = ["sdc", "sdd", "sde", "sdf"]
"#;
    let p = ok(&m, a);
    let t1 = &p.pools[1];
    assert_eq!(t1.vdevs.len(), 2);
    assert!(t1
        .vdevs
        .iter()
        .all(|v| v.kind == VdevKind::Mirror && v.devices.len() == 2));
    // The create runs in a shell that tries it again after udev settles;
    // its first try is the command itself.
    let create = p
        .commands()
        .map(|c| c.to_string())
        .find(|c| c.contains("zpool create") && c.contains(" tank1 "))
        .expect("create");
    let first = create.split(" || ").next().unwrap_or_default();
    let mirrors = first.split_whitespace().filter(|a| *a == "mirror").count();
    assert_eq!(mirrors, 2, "{create}");
}

#[test]
fn single_disk_tank1_needs_explicit_consent_and_warns() {
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
[tank1]
layout = "single"
allow-no-redundancy = true
disk-list = ["sdc"]
"#;
    let p = ok(&home_server(), a);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("tank1 has no redundancy")));
}

#[test]
fn mismatched_sizes_warn() {
    let a = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
[tank1]
layout = "mirror"
disk-list = ["sdc", "sde"]
"#;
    let p = ok(&home_server(), a);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.message.contains("differ in size")),
        "{:#?}",
        p.warnings
    );
}

/// A data pool's `zpool create` waits for udev and is tried three times
/// in all (udev re-creating the by-id partition links made it fail in
/// the VM tests); rpool's is not wrapped.
#[test]
fn a_data_pool_create_waits_for_udev_and_tries_three_times() {
    let p = ok(&home_server(), STANDARD);
    let creates: Vec<String> = p
        .commands()
        .map(|c| c.argv.join(" "))
        .filter(|c| c.contains("zpool create"))
        .collect();
    let tank1 = creates
        .iter()
        .find(|c| c.ends_with("tank1") || c.contains(" tank1 "))
        .expect("tank1 is created");
    assert!(
        tank1.starts_with("sh -c udevadm settle; zpool create "),
        "{tank1}"
    );
    assert_eq!(tank1.matches("zpool create").count(), 3, "{tank1}");
    assert_eq!(tank1.matches("udevadm settle;").count(), 3, "{tank1}");
    let rpool = creates
        .iter()
        .find(|c| c.contains(" rpool "))
        .expect("rpool");
    assert!(rpool.starts_with("zpool create "), "{rpool}");
}

//! The planner's rules for naming disks (by-id, by-path), guarding pools
//! that are not the plan's, and old rpools, one test each.

mod common;

use common::rules::*;
use common::*;
use tappaas_plan::{plan, Action, DiskRole};

/// Two disks that udev gives one by-id name (cloned virtual disks, USB
/// bridges reporting one serial): the name leads to only one of them.
#[test]
fn disks_sharing_a_by_id_name_stop_the_plan() {
    let mut m = home_server();
    // A clone of sdc: same serial, same by-id name, and not even selected.
    m.disks[4] = disk("sde", "HDD1", 4000, false);
    let e = err(&m, STANDARD);
    let shared = e
        .iter()
        .find(|e| {
            e.message
                .contains("disks sdc and sde share the name /dev/disk/by-id/ata-TEST_DISK_HDD1")
        })
        .unwrap_or_else(|| panic!("{e:#?}"));
    assert!(
        shared.message.contains("cannot tell them apart"),
        "{shared}"
    );
    assert!(
        shared.hint.contains("own serial") && shared.hint.contains("unplug one"),
        "{shared}"
    );
}

/// One SAS disk seen through two paths without multipath: two kernel
/// names, different by-id names per path, one serial and WWN.
#[test]
fn disks_sharing_serial_and_wwn_stop_the_plan() {
    let mut m = home_server();
    m.disks[4] = disk("sde", "HDD1", 4000, false);
    m.disks[4].by_id = vec!["scsi-35000c500a1b2c3d4".into()];
    for i in [2, 4] {
        m.disks[i].wwn = Some("0x5000c500a1b2c3d4".into());
    }
    let e = err(&m, STANDARD);
    assert!(
        e.iter().any(|e| e
            .message
            .contains("disks sdc and sde share serial HDD1 and WWN 0x5000c500a1b2c3d4")
            && e.hint.contains("multipath")),
        "{e:#?}"
    );
    // The same serial with another WWN is another disk.
    m.disks[4].wwn = Some("0x5000c500a1b2c3d5".into());
    ok(&m, STANDARD);
}

/// A virtio disk without a serial has no by-id name: udev's by-path name
/// (its slot) stands in for the boot disk, with a warning.
fn without_serial(m: &mut tappaas_hardware::MachineProfile, i: usize) {
    let d = &mut m.disks[i];
    d.by_id.clear();
    d.serial = None;
    d.by_path = Some(format!("pci-0000:00:0{}.0", i + 4));
}

#[test]
fn a_boot_disk_without_by_id_is_named_by_its_slot_with_a_warning() {
    let mut m = home_server();
    without_serial(&mut m, 0);
    let p = ok(&m, STANDARD);
    let slot = "/dev/disk/by-path/pci-0000:00:04.0";
    assert!(
        p.warnings.iter().any(|w| w.message.contains(&format!(
            "boot disk sda, TEST DISK (serial none, 500.0 GiB, SATA SSD), has no /dev/disk/by-id name (no serial): it is named {slot}"
        )) && w.hint.contains("serial")),
        "{:#?}",
        p.warnings
    );
    let checks: Vec<&str> = p.steps[0]
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::CheckDisk { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    assert!(checks.contains(&slot), "{checks:?}");
    // Partitions of a by-path name, as udev names them.
    assert_eq!(p.pools[0].vdevs[0].devices[0], format!("{slot}-part3"));
    assert!(all_argv(&p).iter().any(|a| a == slot));
}

#[test]
fn pool_disks_without_by_id_are_refused() {
    // zfs-import@tank1 looks only in /dev/disk/by-id at boot.
    let mut m = home_server();
    without_serial(&mut m, 2);
    let e = err(&m, STANDARD);
    assert!(
        e.iter()
            .any(|e| e.key.map(|k| k.to_string()).as_deref() == Some("tank1")
                && e.message.contains("disk sdc")
                && e.message.contains("has no /dev/disk/by-id name")
                && e.hint.contains("serial=")),
        "{e:#?}"
    );
    // tank2 on the rest of a boot disk without one: the same.
    let mut m = home_server();
    without_serial(&mut m, 0);
    let e = err(&m, BOOT_REMAINDER);
    assert!(
        has_error(&e, "tank2.boot-remainder", "boot disk sda"),
        "{e:#?}"
    );
}

#[test]
fn a_disk_known_only_by_its_kernel_name_is_refused() {
    let mut m = home_server();
    without_serial(&mut m, 1);
    m.disks[1].by_path = None;
    let e = err(&m, STANDARD);
    assert!(
        has_error(&e, "disk-setup", "disk sdb") && has_error(&e, "disk-setup", "neither"),
        "{e:#?}"
    );
}

#[test]
fn a_by_path_name_in_the_disk_list_selects_that_disk() {
    let mut m = home_server();
    without_serial(&mut m, 0);
    let a = STANDARD.replace(
        r#"disk-list = ["sda", "sdb"]"#,
        r#"disk-list = ["/dev/disk/by-path/pci-0000:00:04.0", "sdb"]"#,
    );
    let p = ok(&m, &a);
    let sda = p
        .disks
        .iter()
        .find(|d| d.kernel_name == "sda")
        .expect("sda");
    assert_eq!(sda.role, DiskRole::Boot);
}

#[test]
fn disk_checks_record_the_device_and_the_boot() {
    let mut m = home_server();
    m.boot_id = Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into());
    for (i, d) in m.disks.iter_mut().enumerate() {
        d.device = format!("8:{}", i * 16);
    }
    let p = ok(&m, STANDARD);
    let sdb = p.steps[0]
        .actions
        .iter()
        .find(|a| matches!(a, Action::CheckDisk { path, .. } if path.ends_with("SSD2")))
        .expect("sdb checked");
    let Action::CheckDisk {
        device, boot_id, ..
    } = sdb
    else {
        unreachable!()
    };
    assert_eq!(device.as_deref(), Some("8:16"));
    assert_eq!(
        boot_id.as_deref(),
        Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    );
}

/// A planned pool's name is destroyed or exported only when every device
/// of the imported pool is the plan's (finding: an rpool on a disk outside
/// the plan was destroyed by the guard `zpool list rpool && zpool destroy`).
#[test]
fn pools_are_destroyed_and_exported_only_when_their_devices_are_the_plans() {
    let p = ok(&home_server(), STANDARD);
    let guarded: Vec<String> = p
        .commands()
        .map(|c| c.to_string())
        .filter(|c| c.contains("zpool destroy") || c.contains("zpool export rpool"))
        .collect();
    assert_eq!(
        guarded.len(),
        4,
        "rpool, tank1, tank2 destroy; rpool export: {guarded:#?}"
    );
    for c in &guarded {
        assert!(c.contains("zpool list -v -H -P"), "unguarded: {c}");
    }
    let rpool_destroy = guarded
        .iter()
        .find(|c| c.contains("zpool destroy -f rpool"))
        .expect("rpool");
    assert!(rpool_destroy
        .contains("ata-TEST_DISK_SSD1-part3 /dev/disk/by-id/ata-TEST_DISK_SSD2-part3;"));
    assert!(!rpool_destroy.contains("HDD"), "{rpool_destroy}");
}

/// The old system disk left in the machine after a move to new SSDs.
fn with_old_rpool() -> tappaas_hardware::MachineProfile {
    let mut m = home_server();
    let mut old = with_pool(disk("sdf", "OLDSSD", 250, true), "rpool");
    for p in &mut old.partitions {
        if let Some(fs) = &mut p.filesystem {
            fs.uuid = Some("7943841337144675352".into());
        }
    }
    m.disks.push(old);
    m
}

#[test]
fn an_old_rpool_on_a_disk_the_plan_leaves_alone_is_refused_without_consent() {
    let e = err(&with_old_rpool(), STANDARD);
    let found = e
        .iter()
        .find(|e| e.key.map(|k| k.to_string()).as_deref() == Some("node.rename-old-rpool"))
        .unwrap_or_else(|| panic!("{e:#?}"));
    assert!(found.message.contains("sdf"), "{found}");
    assert!(found.message.contains("two pools named rpool"), "{found}");
    assert!(found.hint.contains("rpool-OLD-6e3e319"), "{found}");
}

#[test]
fn an_old_rpool_is_renamed_by_its_id_with_consent() {
    let p = ok(
        &with_old_rpool(),
        &format!("{STANDARD}\n[node]\nrename-old-rpool = true\n"),
    );
    assert_eq!(p.renamed_pools.len(), 1);
    assert_eq!(p.renamed_pools[0].new_name, "rpool-OLD-6e3e319");
    let ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
    let rename = ids
        .iter()
        .position(|i| *i == "rename-old-rpool")
        .expect("step");
    let create = ids.iter().position(|i| *i == "create-rpool").expect("step");
    assert!(rename < create, "{ids:?}");
    let cmds: Vec<String> = p.steps[rename]
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Run(c) => Some(c.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        cmds.iter().any(|c| c.contains(
            "zpool import -N -f -d /dev/disk/by-id/ata-TEST_DISK_OLDSSD-part1 7943841337144675352 rpool-OLD-6e3e319"
        )),
        "{cmds:#?}"
    );
    assert!(
        cmds.iter().any(|c| c == "zpool export rpool-OLD-6e3e319"),
        "{cmds:#?}"
    );
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("renamed rpool-OLD-6e3e319")));
    // The disk is checked to be the one planned before it is renamed.
    assert!(p.steps[0]
        .actions
        .iter()
        .any(|a| matches!(a, Action::CheckDisk { path, .. } if path.contains("OLDSSD"))));
    // Nothing else names it.
    let others = p
        .commands()
        .filter(|c| c.argv.iter().any(|a| a.contains("OLDSSD")))
        .count();
    assert_eq!(others, 1);
}

#[test]
fn the_planned_rpool_devices_are_the_boot_disks_partitions_even_without_consent() {
    let mut m = home_server();
    m.disks[0] = with_pool(m.disks[0].clone(), "rpool");
    // Without erase consent the plan is refused, but resume still knows
    // where its rpool may be.
    assert!(plan(&m, &answer(STANDARD), &env()).is_err());
    assert_eq!(
        tappaas_plan::planned_rpool_devices(&m, &answer(STANDARD)),
        [
            "/dev/disk/by-id/ata-TEST_DISK_SSD1-part3",
            "/dev/disk/by-id/ata-TEST_DISK_SSD2-part3"
        ]
    );
}

#[test]
fn every_install_makes_its_own_host_id() {
    let p = ok(&home_server(), STANDARD);
    let cmds: Vec<String> = p.commands().map(|c| c.to_string()).collect();
    assert!(
        cmds.iter()
            .any(|c| c == "zgenhostid -f -o /target/etc/hostid"),
        "{cmds:#?}"
    );
    assert!(
        !cmds.iter().any(|c| c.contains("/etc/hostid /target")),
        "the live system's id is not copied"
    );
}

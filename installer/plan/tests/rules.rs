//! The planner's rules (SPEC.md "Disks and pools"), one test each.

mod common;

use common::*;
use tappaas_plan::{
    plan, Action, Address, DiskRole, Environment, FileContent, Flavour, Plan, PlanError,
    PoolAction, VdevKind,
};

fn env() -> Environment {
    Environment {
        flavour: Flavour::Test,
        target_image: "/run/live/medium/.tappaas/target-test.squashfs".into(),
        ..Environment::default()
    }
}

/// Two SSDs, two HDDs, one more HDD, two NICs: the common home server.
fn home_server() -> tappaas_hardware::MachineProfile {
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

const STANDARD: &str = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]

[tank1]
layout = "mirror"
disk-list = ["sdc", "sdd"]

[tank2]
disk-list = ["sde"]
"#;

fn ok(m: &tappaas_hardware::MachineProfile, a: &str) -> Plan {
    match plan(m, &answer(a), &env()) {
        Ok(p) => p,
        Err(e) => panic!("expected a plan, got: {e:#?}"),
    }
}

fn err(m: &tappaas_hardware::MachineProfile, a: &str) -> Vec<PlanError> {
    match plan(m, &answer(a), &env()) {
        Ok(p) => panic!(
            "expected errors, got a plan:\n{}",
            tappaas_plan::render_text(&p)
        ),
        Err(e) => e,
    }
}

fn has_error(errors: &[PlanError], key: &str, needle: &str) -> bool {
    errors
        .iter()
        .any(|e| e.key.as_deref() == Some(key) && e.message.contains(needle))
}

fn all_argv(p: &Plan) -> Vec<String> {
    p.commands().flat_map(|c| c.argv.iter().cloned()).collect()
}

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
        .any(|c| c.starts_with("zpool create") && c.contains(" tank1 ")));
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

/// rpool on 64 GiB of each boot disk, tank2 on the rest.
const BOOT_REMAINDER: &str = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda", "sdb"]
zfs.hdsize = 64
[tank2]
boot-remainder = true
"#;

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
    let create = p
        .commands()
        .find(|c| c.argv.contains(&"tank1".to_string()) && c.argv[1] == "create")
        .expect("create");
    let mirrors = create.argv.iter().filter(|a| *a == "mirror").count();
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

#[test]
fn memory_limits() {
    let mut m = home_server();
    m.memory_bytes = GIB;
    let e = err(&m, STANDARD);
    assert!(e.iter().any(|e| e.message.contains("at least 2 GiB")));
    m.memory_bytes = 8 * GIB;
    let p = ok(&m, STANDARD);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("8.0 GiB of memory")));
}

#[test]
fn no_virtualisation_warns_with_what_to_do() {
    let mut m = home_server();
    m.cpu.virtualization = None;
    let p = ok(&m, STANDARD);
    let w = p
        .warnings
        .iter()
        .find(|w| w.message.contains("virtualisation"))
        .expect("warning");
    assert!(w.hint.contains("firmware setup"));
}

#[test]
fn one_nic_warns_and_leaves_wan_without_a_port() {
    let mut m = home_server();
    m.nics.truncate(1);
    let p = ok(&m, STANDARD);
    assert_eq!(p.network.wan_nic, None);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("only one network interface")));
    let ifaces = file(&p, "/etc/network/interfaces");
    assert!(
        ifaces.contains("auto wan\niface wan inet manual\n\tbridge-ports none"),
        "{ifaces}"
    );
}

#[test]
fn no_nic_is_an_error() {
    let mut m = home_server();
    m.nics.clear();
    let e = err(&m, STANDARD);
    assert!(e.iter().any(|e| e.message.contains("no network interface")));
}

fn file(p: &Plan, path: &str) -> String {
    match p.files().find(|f| f.path == path).map(|f| &f.content) {
        Some(FileContent::Text(t)) => t.clone(),
        other => panic!("{path}: {other:?}"),
    }
}

#[test]
fn default_network_follows_the_tappaas_convention() {
    let a = format!("{STANDARD}\n[node]\nnumber = 3\n");
    let p = ok(&home_server(), &a);
    assert_eq!(
        p.network.address,
        Address::Static("10.0.0.12/24".parse().expect("cidr"))
    );
    assert_eq!(
        p.network.gateway.map(|g| g.to_string()).as_deref(),
        Some("10.0.0.1")
    );
    let ifaces = file(&p, "/etc/network/interfaces");
    for needle in [
        "auto lan\niface lan inet static\n\taddress 10.0.0.12/24\n\tgateway 10.0.0.1\n\tbridge-ports enp1s0",
        "bridge-vlan-aware yes",
        "bridge-vids 2-4094",
        "auto wan\niface wan inet manual\n\tbridge-ports enp2s0",
    ] {
        assert!(ifaces.contains(needle), "missing {needle:?} in\n{ifaces}");
    }
    let hosts = file(&p, "/etc/hosts");
    assert!(
        hosts.contains("10.0.0.12 tappaas1.home.lan tappaas1"),
        "{hosts}"
    );
    assert!(!hosts.contains("127.0.1.1"));
    assert_eq!(p.network.zones.len(), 5);
}

#[test]
fn management_nic_from_filter_and_wan_from_bridges() {
    let a = format!(
        "{STANDARD}\n[network]\nsource = \"from-answer\"\ncidr = \"192.168.1.20/24\"\ngateway = \"192.168.1.1\"\ndns = \"192.168.1.1\"\nfilter.INTERFACE = \"enp2s0\"\n[bridges]\nwan-filter.INTERFACE = \"enp1s0\"\n"
    );
    let p = ok(&home_server(), &a);
    assert_eq!(p.network.management_nic, "enp2s0");
    assert_eq!(p.network.wan_nic.as_deref(), Some("enp1s0"));
    let bad = format!("{STANDARD}\n[bridges]\nwan-filter.INTERFACE = \"enp1s0\"\n");
    let e = err(&home_server(), &bad);
    assert!(
        has_error(&e, "bridges.wan-filter", "management interface"),
        "{e:#?}"
    );
}

#[test]
fn zfs_arc_follows_proxmox() {
    let mut m = home_server();
    m.memory_bytes = 64 * GIB;
    assert_eq!(ok(&m, STANDARD).zfs_arc_max_bytes, 64 * GIB / 10);
    m.memory_bytes = 512 * GIB;
    assert_eq!(ok(&m, STANDARD).zfs_arc_max_bytes, 16 * GIB);
    let a = STANDARD.replace(
        "disk-list = [\"sda\", \"sdb\"]",
        "disk-list = [\"sda\", \"sdb\"]\nzfs.arc-max = 2048",
    );
    let p = ok(&m, &a);
    assert_eq!(p.zfs_arc_max_bytes, 2 * GIB);
    assert!(file(&p, "/etc/modprobe.d/zfs.conf").contains(&format!("zfs_arc_max={}", 2 * GIB)));
}

#[test]
fn joining_node_deploys_no_services() {
    let a = format!(
        "{STANDARD}\n[node]\nnumber = 2\n[cluster]\naction = \"join\"\npeer = \"10.0.0.10\"\nfingerprint = \"{}\"\npeer-password = \"peer secret pw\"\n",
        ["ab"; 32].join(":")
    );
    let p = ok(&home_server(), &a);
    assert!(p.services.is_empty());
    match &p.node.cluster {
        tappaas_plan::ClusterPlan::Join { peer, fingerprint } => {
            assert_eq!(peer, "10.0.0.10");
            assert_eq!(fingerprint, &["AB"; 32].join(":"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!p.to_json().contains("peer secret pw"));
    // The peer password reaches the node only encrypted, through stdin.
    let creds = p
        .commands()
        .find(|c| c.argv.iter().any(|a| a == "systemd-creds"))
        .expect("the join credential is encrypted on the node");
    assert_eq!(creds.stdin, Some(tappaas_plan::Stdin::PeerPassword));
    assert!(creds
        .argv
        .contains(&tappaas_plan::PEER_PASSWORD_CREDENTIAL.to_string()));
    let create = ok(&home_server(), STANDARD);
    assert!(!create
        .commands()
        .any(|c| c.argv.iter().any(|a| a == "systemd-creds")));
}

#[test]
fn passwords_never_appear_in_the_plan() {
    let p = ok(&home_server(), STANDARD);
    let json = p.to_json();
    let text = tappaas_plan::render_text(&p);
    for out in [&json, &text] {
        assert!(
            !out.contains("correct horse battery"),
            "clear-text password in the plan"
        );
    }
    // The password reaches chpasswd on standard input, by name only.
    let chpasswd = p
        .commands()
        .find(|c| c.argv.contains(&"chpasswd".to_string()))
        .expect("chpasswd");
    assert_eq!(chpasswd.stdin, Some(tappaas_plan::Stdin::RootPassword));
    assert!(file(&p, "/etc/tappaas/answer.toml").contains("<redacted>"));
}

#[test]
fn flavours_choose_the_boot_loader() {
    let m = home_server();
    let test = ok(&m, STANDARD);
    let cmds: Vec<String> = test.commands().map(|c| c.to_string()).collect();
    assert!(cmds
        .iter()
        .any(|c| c.contains("grub-install --target=i386-pc /dev/disk/by-id/ata-TEST_DISK_SSD2")));
    assert!(cmds
        .iter()
        .any(|c| c.contains("grub-install --target=x86_64-efi")));
    // GRUB reads the test flavour's rpool: only the features it knows.
    assert_eq!(
        test.pools[0]
            .properties
            .get("compatibility")
            .map(String::as_str),
        Some("grub2")
    );
    let pve = plan(&m, &answer(STANDARD), &Environment::default()).expect("plan");
    assert_eq!(pve.pools[0].properties.get("compatibility"), None);
    let cmds: Vec<String> = pve.commands().map(|c| c.to_string()).collect();
    assert_eq!(
        cmds.iter()
            .filter(|c| c.contains("proxmox-boot-tool init"))
            .count(),
        2
    );
    assert!(!cmds.iter().any(|c| c.contains("grub-install")));
}

#[test]
fn steps_have_unique_ids_in_install_order() {
    let p = ok(&home_server(), STANDARD);
    let ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "check-disks",
            "wipe-disks",
            "partition-boot-disks",
            "create-rpool",
            "install-system",
            "copy-vm-images",
            "configure",
            "bootloader",
            "pool-tank1",
            "pool-tank2",
            "finish"
        ]
    );
}

#[test]
fn rpool_root_is_mounted_before_the_pools_own_mountpoint() {
    let p = ok(&home_server(), STANDARD);
    let step = p
        .steps
        .iter()
        .find(|s| s.id == "create-rpool")
        .expect("step");
    let cmds: Vec<String> = step
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Run(c) => Some(c.to_string()),
            _ => None,
        })
        .collect();
    let create = cmds
        .iter()
        .position(|c| c.starts_with("zpool create"))
        .expect("create");
    assert!(
        cmds[create].contains("-O mountpoint=none"),
        "{}",
        cmds[create]
    );
    let root = cmds
        .iter()
        .position(|c| c == "zfs create -o mountpoint=/ rpool/ROOT/pve-1")
        .expect("root dataset");
    let set = cmds
        .iter()
        .position(|c| c == "zfs set mountpoint=/rpool rpool")
        .expect("pool mountpoint set afterwards");
    assert!(create < root && root < set, "{cmds:#?}");
    // The plan still says where the pool ends up.
    assert_eq!(
        p.pools[0]
            .filesystem_properties
            .get("mountpoint")
            .map(String::as_str),
        Some("/rpool")
    );
}

// ------------------------------------------------- firewall and services

fn with(rest: &str) -> String {
    format!("{STANDARD}\n{rest}")
}

#[test]
fn the_first_node_deploys_the_firewall_at_the_management_networks_first_address() {
    let p = ok(&home_server(), STANDARD);
    let fw = p.firewall.as_ref().expect("firewall");
    assert_eq!(fw.vmid, tappaas_plan::FIREWALL_VMID);
    assert_eq!(fw.lan.to_string(), "10.0.0.1/24");
    assert_eq!(fw.wan, tappaas_plan::WanPlan::Dhcp);
    assert_eq!(fw.image, tappaas_plan::FIREWALL_IMAGE_ON_NODE);
    assert!(!p.services.is_empty());
    let copies: Vec<String> = p
        .steps
        .iter()
        .find(|s| s.id == "copy-vm-images")
        .expect("copy step")
        .actions
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    assert!(
        copies.iter().any(|c| c.contains("opnsense.img")),
        "{copies:?}"
    );
    assert!(
        copies.iter().any(|c| c.contains("debian-cloud.qcow2")),
        "{copies:?}"
    );
}

#[test]
fn a_static_wan_and_a_chosen_lan_address_are_kept() {
    let p = ok(
        &home_server(),
        &with("[firewall]\nlan-address = \"10.0.0.254/24\"\nwan = \"static\"\nwan-address = \"192.168.1.2/24\"\nwan-gateway = \"192.168.1.1\"\n"),
    );
    let fw = p.firewall.expect("firewall");
    assert_eq!(fw.lan.to_string(), "10.0.0.254/24");
    assert_eq!(
        fw.wan,
        tappaas_plan::WanPlan::Static {
            address: "192.168.1.2/24".parse().expect("cidr"),
            gateway: "192.168.1.1".parse().expect("ip")
        }
    );
}

#[test]
fn without_a_firewall_no_service_is_deployed_and_the_user_is_told() {
    let p = ok(&home_server(), &with("[firewall]\ndeploy = false\n"));
    assert!(p.firewall.is_none());
    assert!(p.services.is_empty());
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("no firewall, so none of the services")));
    assert!(!p.steps.iter().any(|s| s.id == "copy-vm-images"));
}

#[test]
fn an_iso_without_the_opnsense_image_deploys_neither_and_says_how_to_build_one() {
    let env = Environment {
        firewall_image: None,
        ..env()
    };
    let p = plan(&home_server(), &answer(STANDARD), &env).expect("plan");
    assert!(p.firewall.is_none());
    assert!(p.services.is_empty());
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("no OPNsense image") && w.hint.contains("--opnsense-image")));
}

#[test]
fn an_iso_without_the_template_deploys_the_firewall_but_no_service() {
    let env = Environment {
        service_template: None,
        ..env()
    };
    let p = plan(&home_server(), &answer(STANDARD), &env).expect("plan");
    assert!(p.firewall.is_some());
    assert!(p.services.is_empty());
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("no service VM template")));
}

#[test]
fn the_firewall_may_not_take_the_address_of_the_router_that_leased_the_management_nic() {
    // enp2s0 has a lease from the home router at 192.168.1.1, and the
    // answer puts management on that network.
    let mut m = home_server();
    m.nics[1].dhcp = Some(tappaas_hardware::DhcpLease {
        address: "192.168.1.20".parse().expect("ip"),
        prefix: 24,
        gateway: Some("192.168.1.1".parse().expect("ip")),
        dns: vec!["192.168.1.1".parse().expect("ip")],
        domain: None,
        search: Vec::new(),
    });
    let network = "[network]\nsource = \"from-answer\"\ncidr = \"192.168.1.20/24\"\ngateway = \"192.168.1.1\"\ndns = \"192.168.1.1\"\nfilter.INTERFACE = \"enp2s0\"\n[bridges]\nwan-filter.INTERFACE = \"enp1s0\"\n";
    // The default LAN address, the network's first, is the router's.
    let e = err(&m, &with(network));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].key.as_deref(), Some("firewall.lan-address"));
    assert!(
        e[0].message
            .contains("192.168.1.1 is the address of the router that gave enp2s0 its DHCP lease"),
        "{}",
        e[0].message
    );
    assert!(e[0].hint.contains("Firewall screen"), "{}", e[0].hint);
    // Another address on that network is accepted.
    let p = ok(
        &m,
        &with(&format!(
            "{network}[firewall]\nlan-address = \"192.168.1.254/24\"\n"
        )),
    );
    assert_eq!(
        p.firewall.expect("a firewall").lan.to_string(),
        "192.168.1.254/24"
    );
    // Without the lease nothing says the address is taken.
    let p = ok(&home_server(), &with(network));
    assert_eq!(
        p.firewall.expect("a firewall").lan.to_string(),
        "192.168.1.1/24"
    );
}

#[test]
fn the_container_registry_reaches_the_plan() {
    let p = ok(
        &home_server(),
        &with("[services]\ncontainer-registry = \"registry.home.lan:5000\"\n"),
    );
    assert_eq!(
        p.container_registry.as_deref(),
        Some("registry.home.lan:5000")
    );
}

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
        e.iter().any(|e| e.key.as_deref() == Some("tank1")
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
        .find(|e| e.key.as_deref() == Some("node.rename-old-rpool"))
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

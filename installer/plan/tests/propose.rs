//! The proposals the wizard starts from, over every recorded machine: a
//! proposed disk layout is a plan the planner accepts, never names a disk
//! that holds data or the installer medium, and says why for each disk;
//! the firewall's proposed LAN address is never the router's.

mod common;

use std::path::PathBuf;

use common::*;
use tappaas_hardware::{DhcpLease, MachineProfile};
use tappaas_plan::{
    plan, propose_disks, propose_firewall_lan, DiskProposal, DiskRole, Environment,
    PROPOSED_RPOOL_GIB,
};

fn machines_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/machines")
}

/// Every recorded machine, by folder name (a new folder is covered too).
fn recorded() -> Vec<(String, MachineProfile)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(machines_dir()).expect("machines dir") {
        let path = entry.expect("entry").path().join("profile.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .expect("name");
        out.push((name, MachineProfile::from_json(&text).expect("profile")));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 10, "only {} machines found", out.len());
    out
}

fn recorded_machine(name: &str) -> MachineProfile {
    recorded()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("no machine {name}"))
}

fn word(role: DiskRole) -> &'static str {
    match role {
        DiskRole::Boot => "boot",
        DiskRole::Tank1 => "tank1",
        DiskRole::Tank2 => "tank2",
        DiskRole::Untouched => "-",
        DiskRole::InstallerMedium => "installer medium",
    }
}

/// The roles as `name:role` words, in the machine's order.
fn roles(p: &DiskProposal) -> Vec<String> {
    p.disks
        .iter()
        .filter(|d| d.role != DiskRole::Untouched)
        .map(|d| format!("{}:{}", d.name, word(d.role)))
        .collect()
}

/// An answer with `rest`; its disk-list is a placeholder that a proposal
/// replaces.
fn base(rest: &str) -> tappaas_answer::Answer {
    answer(&format!(
        "[disk-setup]\nfilesystem = \"zfs\"\ndisk-list = [\"placeholder\"]\n{rest}"
    ))
}

fn planned(m: &MachineProfile, p: &DiskProposal) -> tappaas_plan::Plan {
    let mut a = base("");
    p.apply(&mut a);
    let errors = tappaas_answer::validate(&a);
    assert!(errors.is_empty(), "the answer rules refuse it: {errors:?}");
    match plan(m, &a, &Environment::default()) {
        Ok(plan) => plan,
        Err(e) => panic!("the planner refuses the proposal {p:#?}:\n{e:#?}"),
    }
}

#[test]
fn every_recorded_machine_gets_a_layout_the_planner_accepts_and_no_disk_with_data() {
    let mut proposed = 0;
    for (name, m) in recorded() {
        let p = propose_disks(&m);
        assert_eq!(p.disks.len(), m.disks.len(), "{name}");
        for (d, pd) in m.disks.iter().zip(&p.disks) {
            assert_eq!(d.name, pd.name, "{name}: the machine's order");
            let chosen = matches!(pd.role, DiskRole::Boot | DiskRole::Tank1 | DiskRole::Tank2);
            if chosen {
                assert!(!d.holds_data(), "{name}: {} holds data", d.name);
                assert!(!d.boot_medium, "{name}: {} is the medium", d.name);
            }
            if d.boot_medium {
                assert_eq!(pd.role, DiskRole::InstallerMedium, "{name}");
            }
            // Every disk says why it has its role or none.
            assert!(!pd.reason.is_empty(), "{name}: {} without a reason", d.name);
        }
        if p.is_empty() {
            assert!(p.summary.starts_with("No layout is proposed"), "{name}");
            continue;
        }
        proposed += 1;
        let plan = planned(&m, &p);
        // The plan erases exactly the proposed disks, none with data.
        for dp in &plan.disks {
            let d = m.disk(&dp.kernel_name).expect("disk");
            let chosen = matches!(
                p.role_of(&d.name),
                DiskRole::Boot | DiskRole::Tank1 | DiskRole::Tank2
            );
            assert_eq!(dp.erase, chosen, "{name}: {}", d.name);
            assert!(!dp.erase || !d.holds_data(), "{name}: {}", d.name);
        }
    }
    assert!(proposed >= 7, "only {proposed} machines got a layout");
}

#[test]
fn the_12_disk_server_boots_from_its_ssds_and_keeps_its_hdds_in_tank1() {
    let m = recorded_machine("server12");
    let p = propose_disks(&m);
    let ssds: Vec<String> = m
        .disks
        .iter()
        .filter(|d| d.is_ssd())
        .map(|d| format!("{}:boot", d.name))
        .collect();
    let hdds: Vec<String> = m
        .disks
        .iter()
        .filter(|d| !d.is_ssd())
        .map(|d| format!("{}:tank1", d.name))
        .collect();
    assert_eq!(ssds.len(), 2);
    assert_eq!(hdds.len(), 10);
    assert_eq!(roles(&p), [ssds, hdds].concat());
    assert_eq!(p.boot_raid, Some(tappaas_answer::ZfsRaid::Raid1));
    assert_eq!(p.tank1_layout, Some(tappaas_answer::Tank1Layout::RaidZ2));
    assert!(p.disks[0].reason.contains("matching pair of SSDs"), "{p:?}");
    assert!(
        p.disks[2].reason.contains(": 10 x 7.3 TiB SAS HDD"),
        "{p:?}"
    );
    let plan = planned(&m, &p);
    let tank1 = plan
        .pools
        .iter()
        .find(|p| p.name == "tank1")
        .expect("tank1");
    assert_eq!(tank1.vdevs.len(), 1);
    assert_eq!(tank1.vdevs[0].devices.len(), 10);
}

#[test]
fn the_layouts_of_the_other_machines() {
    let cases: [(&str, &[&str]); 6] = [
        (
            "nvme2-hdd4",
            &[
                "nvme0n1:boot",
                "nvme1n1:boot",
                "sda:tank1",
                "sdb:tank1",
                "sdc:tank1",
                "sdd:tank1",
            ],
        ),
        // The installer medium is never a target; one SSD boots alone.
        (
            "usb-boot",
            &["sda:boot", "sdb:tank1", "sdc:tank1", "sdd:installer medium"],
        ),
        // Two SSDs of different size and bus: the smaller boots.
        ("one-nic", &["nvme0n1:boot", "sda:tank2"]),
        // Three HDDs of different sizes: no redundant group.
        (
            "mixed-sizes",
            &["nvme0n1:boot", "sda:tank2", "sdb:tank2", "sdc:tank2"],
        ),
        // No SSD: the smaller HDD boots (they differ by more than 10%).
        ("4kn", &["sda:boot", "sdb:tank2"]),
        // The VM tests' guest: no disk has room for a comfortable system,
        // so the largest boots; the two matching virtio disks are tank1.
        (
            "qemu-vm",
            &[
                "sda:tank2",
                "sr0:installer medium",
                "vda:boot",
                "vdb:tank1",
                "vdc:tank1",
            ],
        ),
    ];
    for (name, want) in cases {
        let p = propose_disks(&recorded_machine(name));
        assert_eq!(roles(&p), want, "{name}: {p:#?}");
    }
}

#[test]
fn disks_with_data_get_no_layout_and_say_so() {
    // mini-pc: its only disk holds ext4; existing-pools: every disk holds
    // a pool or a filesystem; dev-host: no udev, so contents unknown.
    for name in ["mini-pc", "existing-pools", "dev-host"] {
        let m = recorded_machine(name);
        let p = propose_disks(&m);
        assert!(p.is_empty(), "{name}: {p:#?}");
        let mut a = base("");
        let before = a.clone();
        p.apply(&mut a);
        assert_eq!(a, before, "{name}: an empty proposal changes nothing");
        for d in &p.disks {
            assert!(d.reason.contains("holds data"), "{name}: {d:?}");
        }
    }
}

#[test]
fn a_single_empty_disk_gets_rpool_and_tank2_on_the_rest() {
    let m = machine(
        vec![disk("nvme0n1", "ONE", 500, true)],
        vec![nic("enp1s0", "aa:00:00:00:00:01", true)],
        16,
    );
    let p = propose_disks(&m);
    assert_eq!(roles(&p), ["nvme0n1:boot"]);
    let split = p.split.expect("tank2 on the rest");
    assert_eq!(split.rpool_gib, PROPOSED_RPOOL_GIB);
    assert!(p.disks[0].reason.contains("tank2 the rest"), "{p:?}");
    let plan = planned(&m, &p);
    let tank2 = plan
        .pools
        .iter()
        .find(|p| p.name == "tank2")
        .expect("tank2");
    assert!(tank2.disks[0].ends_with("-part4"), "{tank2:?}");
    // A disk with data beside it changes nothing: it is left alone.
    let m = machine(
        vec![
            disk("nvme0n1", "ONE", 500, true),
            with_ext4(disk("sda", "OLD", 1000, false)),
        ],
        vec![nic("enp1s0", "aa:00:00:00:00:01", true)],
        16,
    );
    let p = propose_disks(&m);
    assert_eq!(roles(&p), ["nvme0n1:boot"]);
    assert!(p.split.is_some());
    assert!(p.disks[1].reason.contains("holds data"));
    planned(&m, &p);
}

#[test]
fn four_equal_hdds_and_no_ssd_boot_from_a_mirrored_pair() {
    let m = machine(
        (1..=4)
            .map(|i| {
                disk(
                    &format!("sd{}", (b'a' + i) as char),
                    &format!("H{i}"),
                    4000,
                    false,
                )
            })
            .collect(),
        vec![nic("enp1s0", "aa:00:00:00:00:01", true)],
        32,
    );
    let p = propose_disks(&m);
    assert_eq!(
        roles(&p),
        ["sdb:boot", "sdc:boot", "sdd:tank1", "sde:tank1"]
    );
    assert!(p.disks[0].reason.contains("(no SSD)"), "{p:?}");
    planned(&m, &p);
}

// ------------------------------------------------------------- firewall

fn lease(addr: &str, router: &str) -> DhcpLease {
    DhcpLease {
        address: addr.parse().expect("address"),
        prefix: 24,
        gateway: Some(router.parse().expect("router")),
        dns: vec![router.parse().expect("dns")],
        domain: None,
        search: Vec::new(),
    }
}

#[test]
fn the_firewall_never_takes_the_routers_address() {
    // mini-pc is recorded with a home router's lease on .1.
    let m = recorded_machine("mini-pc");
    let mgmt: tappaas_answer::Cidr = "192.168.178.23/24".parse().expect("cidr");
    let p = propose_firewall_lan(&m, &mgmt).expect("an address");
    assert_eq!(p.address.to_string(), "192.168.178.254/24");
    assert!(
        p.reason.contains("192.168.178.1")
            && p.reason.contains("router that gave enp1s0 its DHCP lease"),
        "{}",
        p.reason
    );
    // The planner takes it where it refuses the convention's .1.
    let net = r#"
[network]
source = "from-answer"
cidr = "192.168.178.23/24"
gateway = "192.168.178.1"
dns = "192.168.178.1"
"#;
    let mut a = base(net);
    a.disk_setup.disk_list = Some(vec![m.disks[0].stable_path()]);
    a.node.erase_disks_with_data = true;
    let refused =
        plan(&m, &a, &Environment::default()).expect_err("the router's address is refused");
    assert!(
        refused
            .iter()
            .any(|e| e.key.map(|k| k.to_string()).as_deref() == Some("firewall.lan-address")),
        "{refused:#?}"
    );
    a.firewall.lan_address = Some(p.address);
    let ok = plan(&m, &a, &Environment::default()).expect("plan");
    assert_eq!(
        ok.firewall.expect("a firewall").lan.to_string(),
        "192.168.178.254/24"
    );

    // A router on .254 and a DNS server on .253: the first address again.
    let mut m2 = m.clone();
    m2.nics[0].dhcp = Some(lease("192.168.178.23", "192.168.178.254"));
    let p = propose_firewall_lan(&m2, &mgmt).expect("an address");
    assert_eq!(p.address.to_string(), "192.168.178.1/24");
    // Both ends taken: the next free one from the top.
    m2.nics[0].dhcp = Some(lease("192.168.178.23", "192.168.178.1"));
    let mut second = lease("192.168.178.254", "192.168.178.253");
    second.dns.push("192.168.178.252".parse().expect("dns"));
    m2.nics[1].dhcp = Some(second);
    let p = propose_firewall_lan(&m2, &mgmt).expect("an address");
    assert_eq!(p.address.to_string(), "192.168.178.251/24");
    // Without any lease, the convention.
    let p = propose_firewall_lan(
        &recorded_machine("nvme2-hdd4"),
        &"10.0.0.10/24".parse().expect("cidr"),
    )
    .expect("an address");
    assert_eq!(p.address.to_string(), "10.0.0.1/24");
    assert!(p.reason.contains("by convention"), "{}", p.reason);
    // The node on the first address: the last one, said so.
    let p = propose_firewall_lan(
        &recorded_machine("nvme2-hdd4"),
        &"10.0.0.1/24".parse().expect("cidr"),
    )
    .expect("an address");
    assert_eq!(p.address.to_string(), "10.0.0.254/24");
    assert_eq!(
        propose_firewall_lan(&m, &"fd00::10/64".parse().expect("cidr")),
        None
    );
}

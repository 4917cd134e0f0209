//! The planner's rules for the machine, the network, the boot loader
//! and the order of the steps, one test each.

mod common;

use common::rules::*;
use common::*;
use tappaas_plan::{plan, Action, Address, Environment};

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

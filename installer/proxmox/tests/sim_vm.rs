//! The simulator's VMs, driven through the typed client: create with disk
//! import, template, clone, cloud-init settings, start, agent ping,
//! destroy; and each refusal deployment can run into.

// Tests may unwrap: a panic is a failure with a location.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "sim_vm/fixtures.rs"]
#[macro_use]
mod fixtures;

use common::{bridge, client, ip, node, storage, vmid, GIB};
use tappaas_proxmox::client::{
    CiCustom, CloneVm, ConfigUpdate, Content, CreateVm, DiskResize, DiskSlot, DiskSpec,
    GuestCommand, GuestPath, ImportSource, IpConfig, NetDevice, VmSettings, VmState, VolumeId,
};
use tappaas_proxmox::{FailWhen, GuestBoot, Method, SimExec};

use fixtures::*;

#[test]
fn nextid_is_the_lowest_free_id_from_100() {
    let (_sim, mut c) = vm_world();
    assert_eq!(c.next_vmid(None).unwrap(), vmid(100));
    c.create_vm(&n1(), &firewall()).unwrap();
    make_template(&mut c, 101);
    clone(&mut c, 101, 102, "a").unwrap();
    assert_eq!(c.next_vmid(None).unwrap(), vmid(103));
    let upid = c.destroy_vm(&n1(), vmid(100), true).unwrap();
    assert!(finish(&mut c, &upid));
    assert_eq!(c.next_vmid(None).unwrap(), vmid(100));
    assert_eq!(c.next_vmid(Some(vmid(500))).unwrap(), vmid(500));
    assert_eq!(
        refusal(c.next_vmid(Some(vmid(102))).unwrap_err()),
        "VM 102 already exists"
    );
}

#[test]
fn the_firewall_vm_is_created_from_the_nano_image() {
    let (sim, mut c) = vm_world();
    let upid = c.create_vm(&n1(), &firewall()).unwrap();
    assert!(finish(&mut c, &upid));
    let cfg = c.vm_config(&n1(), vmid(100)).unwrap();
    // The image became a zvol of the image's size; import-from is gone.
    assert_eq!(
        cfg.disk_volume(DiskSlot::scsi0()),
        Some("tank1:vm-100-disk-0")
    );
    assert_eq!(
        cfg.get("scsi0"),
        Some("tank1:vm-100-disk-0,discard=on,iothread=1,size=3G")
    );
    assert!(sim
        .volumes("tappaas1")
        .contains(&("tank1:vm-100-disk-0".to_string(), 3 * GIB)));
    // Proxmox fills in a MAC; the rest is as sent.
    let net0 = cfg.net(0).unwrap().unwrap();
    assert_eq!(net0.bridge.as_str(), "lan");
    assert!(net0.macaddr.unwrap().starts_with("BC:24:11:"));
    assert_eq!(cfg.get("serial0"), Some("socket"));
    assert_eq!(cfg.get("vga"), Some("serial0"));
    assert!(!cfg.agent_enabled());
    let st = c.vm_status(&n1(), vmid(100)).unwrap();
    assert_eq!(
        (st.status, st.lock, st.template),
        (VmState::Stopped, None, false)
    );
    let vms = c.node_vms(&n1()).unwrap();
    assert_eq!(vms.len(), 1);
    assert_eq!(vms[0].name.as_deref(), Some("firewall"));

    // The nano image grows to the disk's size on first boot: grow it.
    assert!(task!(c, resize(&mut c, 100, DiskResize::To { gib: 16 })));
    assert!(task!(c, resize(&mut c, 100, DiskResize::GrowBy { gib: 4 })));
    assert!(sim
        .volumes("tappaas1")
        .contains(&("tank1:vm-100-disk-0".to_string(), 20 * GIB)));
    let e = resize(&mut c, 100, DiskResize::To { gib: 8 }).unwrap_err();
    assert!(refusal(e).contains("shrinking disks is not supported"));
    let e = c
        .resize_disk(
            &n1(),
            vmid(100),
            DiskSlot::new(tappaas_proxmox::client::DiskBus::Scsi, 1).unwrap(),
            DiskResize::To { gib: 8 },
        )
        .unwrap_err();
    assert!(refusal(e).contains("disk 'scsi1' does not exist"));
}

#[test]
fn create_refuses_a_taken_id_and_missing_things_and_changes_nothing() {
    let (sim, mut c) = vm_world();
    c.create_vm(&n1(), &firewall()).unwrap();
    let before = sim.snapshot();
    let e = c.create_vm(&n1(), &firewall()).unwrap_err();
    assert!(refusal(e).contains("VM 100 already exists"));

    let with = |disk: DiskSpec, net: &str| {
        CreateVm::new(
            vmid(110),
            VmSettings::new()
                .net(0, &NetDevice::virtio(bridge(net)))
                .disk(DiskSlot::scsi0(), &disk),
        )
    };
    let nano = || ImportSource::path(NANO).unwrap();
    let cases = [
        (
            with(DiskSpec::import(storage("tank9"), nano()), "lan"),
            "storage 'tank9' does not exist",
        ),
        (
            with(DiskSpec::import(storage("local"), nano()), "lan"),
            "storage 'local' does not support vm images",
        ),
        (
            with(DiskSpec::import(storage("tank1"), nano()), "dmz"),
            "bridge 'dmz' does not exist on node 'tappaas1'",
        ),
        (
            with(
                DiskSpec::import(
                    storage("tank1"),
                    ImportSource::path("/var/lib/vz/import/missing.img").unwrap(),
                ),
                "lan",
            ),
            "import source '/var/lib/vz/import/missing.img' does not exist",
        ),
        (
            with(
                DiskSpec::import(
                    storage("tank1"),
                    ImportSource::Volume(VolumeId::new("local:import/missing.qcow2").unwrap()),
                ),
                "lan",
            ),
            "volume 'local:import/missing.qcow2' does not exist",
        ),
    ];
    for (spec, expected) in cases {
        let e = c.create_vm(&n1(), &spec).unwrap_err();
        let msg = refusal(e);
        assert!(msg.contains(expected), "{msg}");
    }
    assert_eq!(sim.snapshot(), before);
    // A bridge added to the node is accepted.
    sim.set_bridges("tappaas1", &["lan", "wan", "dmz"]);
    c.create_vm(&n1(), &with(DiskSpec::new_disk(storage("tank1"), 8), "dmz"))
        .unwrap();
}

#[test]
fn vm_ids_are_unique_in_the_cluster() {
    let (sim, mut c1) = cluster_world();
    // A node with guests cannot join.
    let mut c2 = client(&sim, "tappaas2");
    add_tank1(&mut c2, "tappaas2");
    let spec = CreateVm::new(
        vmid(100),
        VmSettings::new().disk(DiskSlot::scsi0(), &DiskSpec::new_disk(storage("tank1"), 4)),
    );
    c2.create_vm(&node("tappaas2"), &spec).unwrap();
    let j = join_tappaas1(&sim);
    assert!(refusal(c2.join_cluster(&j).unwrap_err()).contains("already contains virtual guests"));
    c2.destroy_vm(&node("tappaas2"), vmid(100), false).unwrap();
    c2.join_cluster(&j).unwrap();

    c1.set_storage_nodes(&storage("tank1"), &[node("tappaas1"), node("tappaas2")])
        .unwrap();
    c1.create_vm(&n1(), &spec).unwrap();
    // The same id on the other node, asked through either node.
    let e = c2.create_vm(&node("tappaas2"), &spec).unwrap_err();
    assert!(refusal(e).contains("already exists on node 'tappaas1'"));
    assert_eq!(c2.next_vmid(None).unwrap(), vmid(101));
    let vms = c2.cluster_vms().unwrap();
    assert_eq!(vms.len(), 1);
    assert_eq!((vms[0].vmid, vms[0].node.as_str()), (vmid(100), "tappaas1"));
    // The API reaches the other node's VMs through any member.
    assert_eq!(
        c2.vm_status(&n1(), vmid(100)).unwrap().status,
        VmState::Stopped
    );
}

#[test]
fn a_template_is_cloned_linked_by_default_and_full_on_request() {
    let (sim, mut c) = vm_world();
    make_template(&mut c, 9000);
    let t = sim.vm("tappaas1", 9000).unwrap();
    assert!(t.template);
    assert!(
        t.config["scsi0"].starts_with("tank1:base-9000-disk-0,"),
        "{:?}",
        t.config
    );
    assert!(t.config["ide2"].starts_with("tank1:vm-9000-cloudinit,media=cdrom"));
    assert_eq!(
        refusal(c.start_vm(&n1(), vmid(9000)).unwrap_err()),
        "you can't start a vm if it's a template"
    );

    assert!(task!(c, clone(&mut c, 9000, 201, "identity")));
    let cfg = c.vm_config(&n1(), vmid(201)).unwrap();
    assert_eq!(
        cfg.disk_volume(DiskSlot::scsi0()),
        Some("tank1:base-9000-disk-0/vm-201-disk-0")
    );
    assert_eq!(
        cfg.disk_volume(DiskSlot::ide2()),
        Some("tank1:vm-201-cloudinit")
    );
    assert_eq!(cfg.get("name"), Some("identity"));
    assert!(!cfg.is_template());
    // New MAC addresses.
    let t_mac = NetDevice::parse(&t.config["net0"]).unwrap().macaddr;
    assert_ne!(cfg.net(0).unwrap().unwrap().macaddr, t_mac);

    let mut full = CloneVm::new(vmid(202), name("vault"));
    full.full = Some(true);
    c.clone_vm(&n1(), vmid(9000), &full).unwrap();
    let cfg = c.vm_config(&n1(), vmid(202)).unwrap();
    assert_eq!(
        cfg.disk_volume(DiskSlot::scsi0()),
        Some("tank1:vm-202-disk-0")
    );

    // Refusals, none of which changes anything.
    let before = sim.snapshot();
    let e = clone(&mut c, 9000, 201, "again").unwrap_err();
    assert!(refusal(e).contains("VM 201 already exists"));
    let e = clone(&mut c, 9999, 203, "x").unwrap_err();
    assert!(refusal(e).contains("9999.conf' does not exist"));
    let mut linked_elsewhere = CloneVm::new(vmid(203), name("x"));
    linked_elsewhere.storage = Some(storage("tank1"));
    let e = c
        .clone_vm(&n1(), vmid(9000), &linked_elsewhere)
        .unwrap_err();
    assert_eq!(
        refusal(e),
        "parameter 'storage' not allowed for linked clones"
    );
    let mut linked_vm = CloneVm::new(vmid(203), name("x"));
    linked_vm.full = Some(false);
    let e = c.clone_vm(&n1(), vmid(202), &linked_vm).unwrap_err();
    assert!(refusal(e).contains("only available for templates"));
    assert_eq!(sim.snapshot(), before);
    c.start_vm(&n1(), vmid(202)).unwrap();
    let e = clone(&mut c, 202, 203, "x").unwrap_err();
    assert!(refusal(e).contains("is running"));
    assert!(sim.vm("tappaas1", 203).is_none());
    c.stop_vm(&n1(), vmid(202)).unwrap();

    // The template's base disk is shared: it cannot go while 201 uses it.
    let e = c.destroy_vm(&n1(), vmid(9000), true).unwrap_err();
    assert!(refusal(e).contains("still in use by linked cloned VM 201"));
    c.destroy_vm(&n1(), vmid(201), true).unwrap();
    c.destroy_vm(&n1(), vmid(9000), true).unwrap();
    assert!(!sim
        .volumes("tappaas1")
        .iter()
        .any(|(v, _)| v.contains("9000")));
}

#[test]
fn a_clone_cannot_target_another_node_from_local_storage() {
    let (sim, mut c1) = cluster_world();
    sim.add_file("tappaas1", DEBIAN, 2 * GIB);
    c1.set_storage_content(&storage("local"), &[Content::Iso, Content::Import])
        .unwrap();
    make_template(&mut c1, 9000);
    let j = join_tappaas1(&sim);
    client(&sim, "tappaas2").join_cluster(&j).unwrap();
    let mut to2 = CloneVm::new(vmid(201), name("x"));
    to2.full = Some(true);
    to2.target = Some(node("tappaas2"));
    let e = c1.clone_vm(&n1(), vmid(9000), &to2).unwrap_err();
    assert!(refusal(e).contains("can't clone VM to node 'tappaas2'"));
}

#[test]
fn a_clone_locks_source_and_copy_until_its_task_ends() {
    let (sim, mut c) = vm_world();
    make_template(&mut c, 9000);
    sim.set_task_polls(2);
    let upid = clone(&mut c, 9000, 201, "identity").unwrap();
    assert_eq!(
        sim.vm("tappaas1", 9000).unwrap().lock.as_deref(),
        Some("clone")
    );
    assert_eq!(
        c.vm_status(&n1(), vmid(201)).unwrap().lock.as_deref(),
        Some("clone")
    );
    assert_eq!(
        refusal(c.start_vm(&n1(), vmid(201)).unwrap_err()),
        "VM is locked (clone)"
    );
    let e = clone(&mut c, 9000, 202, "vault").unwrap_err();
    assert_eq!(refusal(e), "VM is locked (clone)");
    let e = c
        .set_vm_config(
            &n1(),
            vmid(201),
            &ConfigUpdate::set(VmSettings::new().cores(2)),
        )
        .unwrap_err();
    assert_eq!(refusal(e), "VM is locked (clone)");
    assert!(c.task_status(&n1(), &upid).unwrap().running);
    assert!(c.task_status(&n1(), &upid).unwrap().running);
    assert!(c.task_status(&n1(), &upid).unwrap().succeeded());
    assert_eq!(sim.vm("tappaas1", 9000).unwrap().lock, None);
    assert!(task!(c, c.start_vm(&n1(), vmid(201))));
}

#[test]
fn start_needs_a_stopped_vm_and_destroy_a_stopped_one() {
    let (sim, mut c) = vm_world();
    c.create_vm(&n1(), &firewall()).unwrap();
    assert!(task!(c, c.start_vm(&n1(), vmid(100))));
    assert_eq!(
        c.vm_status(&n1(), vmid(100)).unwrap().status,
        VmState::Running
    );
    assert_eq!(
        refusal(c.start_vm(&n1(), vmid(100)).unwrap_err()),
        "VM 100 already running"
    );
    let e = c.destroy_vm(&n1(), vmid(100), true).unwrap_err();
    assert_eq!(refusal(e), "VM 100 is running - destroy failed");
    assert!(task!(c, c.shutdown_vm(&n1(), vmid(100), Some(60), false)));
    assert_eq!(
        refusal(c.stop_vm(&n1(), vmid(100)).unwrap_err()),
        "VM 100 not running"
    );
    c.destroy_vm(&n1(), vmid(100), true).unwrap();
    assert!(sim.vm("tappaas1", 100).is_none());
    assert!(!sim
        .volumes("tappaas1")
        .iter()
        .any(|(v, _)| v.contains("vm-100-")));
    // A bridge removed from the node stops a start (Proxmox's own check).
    make_template(&mut c, 9000);
    clone(&mut c, 9000, 201, "a").unwrap();
    sim.set_bridges("tappaas1", &["wan"]);
    assert_eq!(
        refusal(c.start_vm(&n1(), vmid(201)).unwrap_err()),
        "net0: bridge 'lan' does not exist"
    );
}

#[test]
fn the_agent_answers_only_a_running_vm_with_the_agent_enabled() {
    let (sim, mut c) = vm_world();
    c.create_vm(&n1(), &firewall()).unwrap();
    make_template(&mut c, 9000);
    clone(&mut c, 9000, 201, "a").unwrap();
    assert_eq!(
        refusal(c.agent_ping(&n1(), vmid(201)).unwrap_err()),
        "VM 201 is not running"
    );
    c.start_vm(&n1(), vmid(201)).unwrap();
    c.agent_ping(&n1(), vmid(201)).unwrap();
    // The firewall has no agent configured.
    c.start_vm(&n1(), vmid(100)).unwrap();
    assert_eq!(
        refusal(c.agent_ping(&n1(), vmid(100)).unwrap_err()),
        "No QEMU guest agent configured"
    );

    // A guest that takes two pings to come up.
    sim.set_guest_boot(202, GuestBoot::AfterPings(2));
    clone(&mut c, 9000, 202, "b").unwrap();
    c.start_vm(&n1(), vmid(202)).unwrap();
    for _ in 0..2 {
        assert_eq!(
            refusal(c.agent_ping(&n1(), vmid(202)).unwrap_err()),
            "QEMU guest agent is not running"
        );
    }
    c.agent_ping(&n1(), vmid(202)).unwrap();

    // A guest that never comes up: pings fail for ever, a shutdown task
    // fails and leaves it running, a stop works.
    sim.set_guest_boot(203, GuestBoot::Never);
    clone(&mut c, 9000, 203, "c").unwrap();
    c.start_vm(&n1(), vmid(203)).unwrap();
    for _ in 0..20 {
        assert!(c.agent_ping(&n1(), vmid(203)).is_err());
    }
    let upid = c.shutdown_vm(&n1(), vmid(203), Some(30), false).unwrap();
    assert!(!finish(&mut c, &upid));
    assert_eq!(
        c.vm_status(&n1(), vmid(203)).unwrap().status,
        VmState::Running
    );
    assert!(task!(c, c.stop_vm(&n1(), vmid(203))));
    assert_eq!(
        c.vm_status(&n1(), vmid(203)).unwrap().status,
        VmState::Stopped
    );
}

/// The guest agent's file and command calls: answered only where a ping
/// would be; a file is kept in the VM's state; a command is recorded and
/// ends as queued (exit 0 by default); its exit is read once.
#[test]
fn the_guest_agent_writes_files_and_runs_commands() {
    let (sim, mut c) = vm_world();
    c.create_vm(&n1(), &firewall()).unwrap();
    make_template(&mut c, 9000);
    clone(&mut c, 9000, 201, "a").unwrap();
    let file = GuestPath::new("/etc/tappaas/secrets/grafana.db-password").unwrap();
    let cmd =
        |args: &[&str]| GuestCommand::new(args.iter().map(|a| a.to_string()).collect()).unwrap();

    let before = sim.snapshot();
    assert_eq!(
        refusal(
            c.agent_file_write(&n1(), vmid(201), &file, b"pw")
                .unwrap_err()
        ),
        "VM 201 is not running"
    );
    assert_eq!(
        refusal(
            c.agent_exec(&n1(), vmid(201), &cmd(&["/bin/true"]))
                .unwrap_err()
        ),
        "VM 201 is not running"
    );
    assert_eq!(sim.snapshot(), before, "a refused call changes nothing");
    c.start_vm(&n1(), vmid(100)).unwrap();
    assert_eq!(
        refusal(
            c.agent_exec(&n1(), vmid(100), &cmd(&["/bin/true"]))
                .unwrap_err()
        ),
        "No QEMU guest agent configured"
    );

    c.start_vm(&n1(), vmid(201)).unwrap();
    c.agent_file_write(&n1(), vmid(201), &file, b"pw\0\xff")
        .unwrap();
    assert_eq!(
        sim.guest_file("tappaas1", 201, file.as_str()).unwrap(),
        b"pw\0\xff"
    );
    // Written again: replaced whole.
    c.agent_file_write(&n1(), vmid(201), &file, b"new").unwrap();
    assert_eq!(
        sim.guest_file("tappaas1", 201, file.as_str()).unwrap(),
        b"new"
    );

    let pid = c
        .agent_exec(&n1(), vmid(201), &cmd(&["/usr/local/sbin/x", "grafana"]))
        .unwrap();
    let st = c.agent_exec_status(&n1(), vmid(201), pid).unwrap();
    assert!(st.succeeded(), "{st:?}");
    assert_eq!(
        refusal(c.agent_exec_status(&n1(), vmid(201), pid).unwrap_err()),
        "VM 201 qmp command 'guest-exec-status' failed - Invalid parameter 'pid'",
        "the agent forgets a command once its exit was read"
    );

    // A command that runs for two status reads and fails.
    sim.queue_exec(
        201,
        SimExec {
            exitcode: 2,
            err_data: "psql: error: role missing\n".into(),
            running_polls: 2,
            ..SimExec::default()
        },
    );
    let pid2 = c
        .agent_exec(&n1(), vmid(201), &cmd(&["/bin/false"]))
        .unwrap();
    assert_ne!(pid2, pid);
    for _ in 0..2 {
        assert!(!c.agent_exec_status(&n1(), vmid(201), pid2).unwrap().exited);
    }
    let st = c.agent_exec_status(&n1(), vmid(201), pid2).unwrap();
    assert!(st.exited && !st.succeeded());
    assert_eq!(st.exitcode, Some(2));
    assert_eq!(st.err_data, "psql: error: role missing\n");
    assert_eq!(
        sim.guest_commands("tappaas1", 201),
        [
            vec!["/usr/local/sbin/x".to_string(), "grafana".to_string()],
            vec!["/bin/false".to_string()],
        ]
    );

    // A guest still booting answers nothing, and a refused exec does not
    // use up the queued outcome.
    sim.set_guest_boot(202, GuestBoot::AfterPings(1));
    sim.queue_exec(202, SimExec::exit(7, "no"));
    clone(&mut c, 9000, 202, "b").unwrap();
    c.start_vm(&n1(), vmid(202)).unwrap();
    assert_eq!(
        refusal(
            c.agent_exec(&n1(), vmid(202), &cmd(&["/bin/true"]))
                .unwrap_err()
        ),
        "QEMU guest agent is not running"
    );
    assert!(c.agent_ping(&n1(), vmid(202)).is_err());
    c.agent_ping(&n1(), vmid(202)).unwrap();
    let pid = c
        .agent_exec(&n1(), vmid(202), &cmd(&["/bin/true"]))
        .unwrap();
    assert_eq!(
        c.agent_exec_status(&n1(), vmid(202), pid).unwrap().exitcode,
        Some(7)
    );
    assert!(sim.guest_commands("tappaas1", 201).len() == 2);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn config_set_merges_deletes_and_checks_the_digest() {
    let (sim, mut c) = vm_world();
    make_template(&mut c, 9000);
    clone(&mut c, 9000, 201, "vault").unwrap();
    let before = c.vm_config(&n1(), vmid(201)).unwrap();
    let mac = before.net(0).unwrap().unwrap().macaddr;
    let keys = admin_keys();
    let settings = VmSettings::new()
        .cores(4)
        .net(0, &NetDevice::virtio(bridge("lan")).with_tag(20).unwrap())
        .net(1, &NetDevice::virtio(bridge("wan")))
        .ciuser("tappaas")
        .sshkeys(&keys)
        .ipconfig(
            0,
            &IpConfig::static_v4(
                "10.0.20.5".parse().unwrap(),
                24,
                Some("10.0.20.1".parse().unwrap()),
            )
            .unwrap(),
        )
        .nameservers(&[ip("10.0.20.1")])
        .searchdomain("home.arpa");
    c.set_vm_config(&n1(), vmid(201), &ConfigUpdate::set(settings))
        .unwrap();
    let cfg = c.vm_config(&n1(), vmid(201)).unwrap();
    assert_eq!(cfg.get("cores"), Some("4"));
    assert_eq!(cfg.get("ipconfig0"), Some("ip=10.0.20.5/24,gw=10.0.20.1"));
    assert_eq!(cfg.get("name"), Some("vault"), "untouched keys stay");
    let net0 = cfg.net(0).unwrap().unwrap();
    assert_eq!((net0.tag, net0.macaddr), (Some(20), mac), "the MAC is kept");
    assert_eq!(cfg.sshkeys().unwrap().unwrap(), keys);
    assert!(cfg.get("net1").is_some());

    // Delete keys; a disk taken out stays as unused0.
    let del = ConfigUpdate {
        delete: vec!["net1".into(), "searchdomain".into(), "ide2".into()],
        digest: cfg.digest.clone(),
        ..ConfigUpdate::default()
    };
    c.set_vm_config(&n1(), vmid(201), &del).unwrap();
    let cfg2 = c.vm_config(&n1(), vmid(201)).unwrap();
    assert_eq!(cfg2.get("net1"), None);
    assert_eq!(cfg2.get("searchdomain"), None);
    assert_eq!(cfg2.get("unused0"), Some("tank1:vm-201-cloudinit"));
    assert!(sim
        .volumes("tappaas1")
        .iter()
        .any(|(v, _)| v == "tank1:vm-201-cloudinit"));

    // A stale digest is refused and changes nothing.
    let snap = sim.snapshot();
    let mut stale = ConfigUpdate::set(VmSettings::new().cores(1));
    stale.digest = cfg.digest;
    let e = c.set_vm_config(&n1(), vmid(201), &stale).unwrap_err();
    assert!(refusal(e).contains("file changed by other user"));
    assert_eq!(sim.snapshot(), snap);
    // An unknown bridge is refused.
    let e = c
        .set_vm_config(
            &n1(),
            vmid(201),
            &ConfigUpdate::set(VmSettings::new().net(1, &NetDevice::virtio(bridge("dmz")))),
        )
        .unwrap_err();
    assert!(refusal(e).contains("bridge 'dmz' does not exist"));
}

#[test]
fn storage_content_and_cicustom_snippets() {
    let (sim, mut c) = vm_world();
    let snippets = c
        .storage_content(&n1(), &storage("local"), Some(Content::Snippets))
        .unwrap();
    assert_eq!(snippets.len(), 1);
    assert_eq!(snippets[0].volid, "local:snippets/vault-user.yaml");
    let imports = c
        .storage_content(&n1(), &storage("local"), Some(Content::Import))
        .unwrap();
    let ids: Vec<&str> = imports.iter().map(|i| i.volid.as_str()).collect();
    assert_eq!(
        ids,
        [
            "local:import/debian-13-tappaas.qcow2",
            "local:import/opnsense-nano.img"
        ]
    );

    make_template(&mut c, 9000);
    let images = c.storage_content(&n1(), &storage("tank1"), None).unwrap();
    assert!(images
        .iter()
        .any(|i| i.volid == "tank1:base-9000-disk-0" && i.vmid == Some(9000) && i.size == 2 * GIB));

    clone(&mut c, 9000, 201, "vault").unwrap();
    let custom = |f: &str| {
        ConfigUpdate::set(VmSettings::new().cicustom(&CiCustom::user(VolumeId::new(f).unwrap())))
    };
    c.set_vm_config(&n1(), vmid(201), &custom("local:snippets/missing.yaml"))
        .unwrap();
    let e = c.start_vm(&n1(), vmid(201)).unwrap_err();
    assert!(refusal(e).contains("volume 'local:snippets/missing.yaml' does not exist"));
    c.set_vm_config(&n1(), vmid(201), &custom("local:snippets/vault-user.yaml"))
        .unwrap();
    // Without `snippets` content on `local` the snippet cannot be used.
    c.set_storage_content(&storage("local"), &[Content::Iso, Content::Import])
        .unwrap();
    let e = c.start_vm(&n1(), vmid(201)).unwrap_err();
    assert!(refusal(e).contains("'snippets' content"));
    assert!(c
        .storage_content(&n1(), &storage("local"), Some(Content::Snippets))
        .unwrap()
        .is_empty());
    c.set_storage_content(
        &storage("local"),
        &[Content::Iso, Content::Import, Content::Snippets],
    )
    .unwrap();
    c.start_vm(&n1(), vmid(201)).unwrap();
    assert!(sim.has_file("tappaas1", SNIPPET));
}

#[test]
fn injected_failures_before_and_after_a_clone() {
    let (sim, mut c) = vm_world();
    make_template(&mut c, 9000);
    let path = "/nodes/tappaas1/qemu/9000/clone";
    sim.fail_next(Method::Post, path, FailWhen::Before, "got timeout");
    let before = sim.snapshot();
    assert_eq!(
        refusal(clone(&mut c, 9000, 201, "a").unwrap_err()),
        "got timeout"
    );
    assert_eq!(sim.snapshot(), before);
    // Lost answer: the clone exists, a blind retry is refused, so a re-run
    // must look at the VM list first.
    sim.fail_next(Method::Post, path, FailWhen::After, "connection reset");
    assert_eq!(
        refusal(clone(&mut c, 9000, 201, "a").unwrap_err()),
        "connection reset"
    );
    assert!(sim.vm("tappaas1", 201).is_some());
    assert!(refusal(clone(&mut c, 9000, 201, "a").unwrap_err()).contains("already exists"));
}

/// The deployment in small: a template from the Debian image, three
/// service VMs cloned from it with cloud-init settings, started, their
/// agents answering.
#[test]
fn scenario_template_three_clones_started_agents_answer() {
    let (sim, mut c) = vm_world();
    let tid = c.next_vmid(Some(vmid(9000))).unwrap();
    make_template(&mut c, tid.get());
    let keys = admin_keys();
    let services = [
        ("identity", 10, 4096),
        ("vault", 11, 2048),
        ("postgres", 12, 8192),
    ];
    for (svc, host, mem) in services {
        let id = c.next_vmid(None).unwrap();
        let upid = c
            .clone_vm(&n1(), tid, &CloneVm::new(id, name(svc)))
            .unwrap();
        assert!(finish(&mut c, &upid), "{svc}");
        let addr = IpConfig::static_v4(
            format!("10.0.20.{host}").parse().unwrap(),
            24,
            Some("10.0.20.1".parse().unwrap()),
        )
        .unwrap();
        let settings = VmSettings::new()
            .cores(2)
            .memory_mib(mem)
            .net(0, &NetDevice::virtio(bridge("lan")).with_tag(20).unwrap())
            .ciuser("tappaas")
            .sshkeys(&keys)
            .ipconfig(0, &addr)
            .nameservers(&[ip("10.0.20.1")])
            .searchdomain("home.arpa")
            .ciupgrade(false);
        c.set_vm_config(&n1(), id, &ConfigUpdate::set(settings))
            .unwrap();
        let upid = c
            .resize_disk(&n1(), id, DiskSlot::scsi0(), DiskResize::To { gib: 32 })
            .unwrap();
        assert!(finish(&mut c, &upid));
        sim.set_guest_boot(id.get(), GuestBoot::AfterPings(1));
        assert!(task!(c, c.start_vm(&n1(), id)));
    }
    let vms = c.node_vms(&n1()).unwrap();
    let running: Vec<(u32, String)> = vms
        .iter()
        .filter(|v| v.status == VmState::Running)
        .map(|v| (v.vmid.get(), v.name.clone().unwrap()))
        .collect();
    assert_eq!(
        running,
        [
            (100, "identity".to_string()),
            (101, "vault".to_string()),
            (102, "postgres".to_string())
        ]
    );
    for id in [100, 101, 102] {
        // The first ping finds the guest still booting; then it answers.
        assert!(c.agent_ping(&n1(), vmid(id)).is_err());
        c.agent_ping(&n1(), vmid(id)).unwrap();
        let cfg = c.vm_config(&n1(), vmid(id)).unwrap();
        assert_eq!(cfg.get("ciuser"), Some("tappaas"));
        assert!(cfg.get("scsi0").unwrap().ends_with("size=32G"));
        assert_eq!(cfg.net(0).unwrap().unwrap().tag, Some(20));
    }
    assert!(sim.violations().is_empty());
    // Linked clones share the template's base: 3 thin volumes of 32G and
    // one base of 2G.
    let vols = sim.volumes("tappaas1");
    assert!(vols.contains(&("tank1:base-9000-disk-0".to_string(), 2 * GIB)));
    assert_eq!(
        vols.iter()
            .filter(|(v, s)| v.starts_with("tank1:base-9000-disk-0/") && *s == 32 * GIB)
            .count(),
        3
    );
}

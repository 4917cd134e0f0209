//! The walk: one of each request the typed client builds.

use crate::common::{bridge, ip, node, storage, vmid};
use tappaas_proxmox::client::{
    requests, Bios, BootDevice, CiCustom, CloneVm, ClusterName, ConfigUpdate, Content,
    CreateCluster, CreateVm, DiskBus, DiskResize, DiskSlot, DiskSpec, Fingerprint, GuestCommand,
    GuestPath, ImportSource, IpConfig, Ipv6Setting, JoinCluster, Link, MachineType, NetDevice,
    OsType, Password, PoolName, ScsiHw, SshKeys, StorageId, Tag, VmName, VmSettings, VolumeId,
    ZfsPoolStorage,
};
use tappaas_proxmox::Request;

fn fp() -> Fingerprint {
    Fingerprint::parse(&vec!["4F"; 32].join(":")).unwrap()
}

/// One of each request, with representative values and the variants the
/// builders can produce (optional parameters given and not).
pub fn all_typed_requests() -> Vec<(&'static str, Request)> {
    let create = CreateCluster {
        name: ClusterName::new("tappaas").unwrap(),
        link0: Link::new(ip("10.0.0.10")),
    };
    let mut create_prio = create.clone();
    create_prio.link0.priority = Some(10);
    let join = JoinCluster::new(
        "10.0.0.10",
        fp(),
        Password::new("correct horse battery staple"),
        Link::new(ip("10.0.0.11")),
    )
    .unwrap();
    let join_by_name = JoinCluster::new(
        "tappaas1.home.arpa",
        fp(),
        Password::new("x"),
        Link::new(ip("fd00::11")),
    )
    .unwrap();
    let tank1 = ZfsPoolStorage::new(
        StorageId::new("tank1").unwrap(),
        PoolName::new("tank1").unwrap(),
        vec![node("tappaas1")],
    )
    .unwrap();
    let mut tank2 = ZfsPoolStorage::new(
        StorageId::new("tank2").unwrap(),
        PoolName::new("tank2/vm").unwrap(),
        vec![node("tappaas1"), node("tappaas2"), node("tappaas3")],
    )
    .unwrap();
    tank2.sparse = false;
    let upid = "UPID:tappaas1:00000A3F:00000001:6553F100:clustercreate::root@pam:";
    let mut all = vec![
        ("version", requests::version()),
        ("cluster_status", requests::cluster_status()),
        ("join_info", requests::join_info(None)),
        (
            "join_info(node)",
            requests::join_info(Some(&node("tappaas1"))),
        ),
        ("cluster_config_nodes", requests::cluster_config_nodes()),
        ("create_cluster", requests::create_cluster(&create)),
        (
            "create_cluster(priority)",
            requests::create_cluster(&create_prio),
        ),
        ("join_cluster", requests::join_cluster(&join)),
        (
            "join_cluster(dns, v6)",
            requests::join_cluster(&join_by_name),
        ),
        ("storages", requests::storages()),
        (
            "storage",
            requests::storage(&StorageId::new("tank1").unwrap()),
        ),
        ("add_zfspool_storage", requests::add_zfspool_storage(&tank1)),
        (
            "add_zfspool_storage(3 nodes)",
            requests::add_zfspool_storage(&tank2),
        ),
        (
            "set_storage_nodes",
            requests::set_storage_nodes(
                &StorageId::new("tank1").unwrap(),
                &[node("tappaas1"), node("tappaas2")],
            ),
        ),
        ("nodes", requests::nodes()),
        ("node_status", requests::node_status(&node("tappaas1"))),
        ("node_storages", requests::node_storages(&node("tappaas2"))),
        ("zfs_pools", requests::zfs_pools(&node("tappaas3"))),
        (
            "task_status",
            requests::task_status(&node("tappaas1"), upid),
        ),
    ];
    all.extend(vm_requests());
    all
}

/// The firewall VM as the lead will create it: two NICs, the nano image
/// imported onto tank1, serial console, no graphics.
pub fn firewall_settings() -> VmSettings {
    VmSettings::new()
        .name(&VmName::new("firewall").unwrap())
        .cores(2)
        .memory_mib(2048)
        .ostype(OsType::Other)
        .machine(MachineType::Q35)
        .bios(Bios::SeaBios)
        .scsihw(ScsiHw::VirtioScsiSingle)
        .net(0, &NetDevice::virtio(bridge("lan")))
        .net(1, &NetDevice::virtio(bridge("wan")).with_firewall(true))
        .disk(
            DiskSlot::scsi0(),
            &DiskSpec::import(
                storage("tank1"),
                ImportSource::path("/var/lib/vz/import/opnsense-nano.img").unwrap(),
            ),
        )
        .serial_socket(0)
        .vga_serial(0)
        .agent(false)
        .boot_order(&[BootDevice::Disk(DiskSlot::scsi0())])
        .onboot(true)
        .tags(&[Tag::new("tappaas").unwrap(), Tag::new("firewall").unwrap()])
        .description("TAPPaaS firewall (OPNsense)")
}

fn cloud_init_settings() -> VmSettings {
    let keys =
        SshKeys::from_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+x/y= admin@tappaas").unwrap();
    VmSettings::new()
        .cores(4)
        .memory_mib(4096)
        .net(0, &NetDevice::virtio(bridge("lan")).with_tag(20).unwrap())
        .ciuser("tappaas")
        .sshkeys(&keys)
        .ipconfig(
            0,
            &IpConfig::static_v4(ip4("10.0.20.5"), 24, Some(ip4("10.0.20.1")))
                .unwrap()
                .with_ipv6(Ipv6Setting::Auto)
                .unwrap(),
        )
        .ipconfig(1, &IpConfig::dhcp())
        .nameservers(&[ip("10.0.20.1"), ip("fd00::1")])
        .searchdomain("home.arpa")
        .cicustom(&CiCustom::user(
            VolumeId::new("local:snippets/vault-user.yaml").unwrap(),
        ))
        .ciupgrade(false)
}

fn ip4(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

/// Every VM request builder, with the variants they can produce.
fn vm_requests() -> Vec<(&'static str, Request)> {
    let n1 = node("tappaas1");
    let template = CreateVm {
        vmid: vmid(9000),
        settings: VmSettings::new()
            .name(&VmName::new("debian-template").unwrap())
            .ostype(OsType::L26)
            .scsihw(ScsiHw::VirtioScsiPci)
            .bios(Bios::Ovmf)
            .machine(MachineType::I440fx)
            .disk(
                DiskSlot::scsi0(),
                &DiskSpec::import(
                    storage("tank1"),
                    ImportSource::Volume(VolumeId::new("local:import/debian.qcow2").unwrap()),
                ),
            )
            .disk(DiskSlot::ide2(), &DiskSpec::cloudinit(storage("tank1")))
            .agent(true)
            .serial_socket(0)
            .vga_serial(0),
        template: true,
    };
    let mut data_disk = DiskSpec::new_disk(storage("tank2"), 100);
    data_disk.ssd = true;
    let full_clone = CloneVm {
        newid: vmid(201),
        name: Some(VmName::new("vault").unwrap()),
        full: Some(true),
        storage: Some(storage("tank2")),
        target: Some(node("tappaas1")),
        description: Some("password vault".into()),
    };
    let mut update = ConfigUpdate::set(cloud_init_settings());
    update.delete = vec!["ipconfig1".into(), "net1".into()];
    update.digest = Some("0".repeat(40));
    vec![
        ("next_vmid", requests::next_vmid(None)),
        ("next_vmid(check)", requests::next_vmid(Some(vmid(100)))),
        ("node_vms", requests::node_vms(&n1)),
        ("cluster_vms", requests::cluster_vms()),
        (
            "create_vm(firewall)",
            requests::create_vm(&n1, &CreateVm::new(vmid(100), firewall_settings())),
        ),
        ("create_vm(template)", requests::create_vm(&n1, &template)),
        (
            "create_vm(cloud-init, data disk)",
            requests::create_vm(
                &n1,
                &CreateVm::new(
                    vmid(102),
                    cloud_init_settings()
                        .disk(DiskSlot::new(DiskBus::Scsi, 1).unwrap(), &data_disk),
                ),
            ),
        ),
        ("vm_config", requests::vm_config(&n1, vmid(100))),
        (
            "set_vm_config",
            requests::set_vm_config(&n1, vmid(201), &ConfigUpdate::set(cloud_init_settings())),
        ),
        (
            "set_vm_config(delete, digest)",
            requests::set_vm_config(&n1, vmid(201), &update),
        ),
        (
            "clone_vm",
            requests::clone_vm(
                &n1,
                vmid(9000),
                &CloneVm::new(vmid(200), VmName::new("identity").unwrap()),
            ),
        ),
        (
            "clone_vm(full, storage, target)",
            requests::clone_vm(&n1, vmid(9000), &full_clone),
        ),
        (
            "convert_to_template",
            requests::convert_to_template(&n1, vmid(9000)),
        ),
        (
            "resize_disk",
            requests::resize_disk(
                &n1,
                vmid(200),
                DiskSlot::scsi0(),
                DiskResize::GrowBy { gib: 30 },
            ),
        ),
        (
            "resize_disk(to)",
            requests::resize_disk(
                &n1,
                vmid(200),
                DiskSlot::scsi0(),
                DiskResize::To { gib: 64 },
            ),
        ),
        ("start_vm", requests::start_vm(&n1, vmid(200))),
        (
            "shutdown_vm",
            requests::shutdown_vm(&n1, vmid(200), None, false),
        ),
        (
            "shutdown_vm(timeout, force)",
            requests::shutdown_vm(&n1, vmid(200), Some(120), true),
        ),
        ("stop_vm", requests::stop_vm(&n1, vmid(200))),
        ("vm_status", requests::vm_status(&n1, vmid(200))),
        ("agent_ping", requests::agent_ping(&n1, vmid(200))),
        (
            "agent_file_write",
            requests::agent_file_write(
                &n1,
                vmid(210),
                &GuestPath::new("/etc/tappaas/secrets/grafana.db-password").unwrap(),
                b"Example0Example0Example0Example0",
            ),
        ),
        (
            "agent_file_write(empty, binary)",
            requests::agent_file_write(
                &n1,
                vmid(210),
                &GuestPath::new("/tmp/x").unwrap(),
                &[0, 255, 10],
            ),
        ),
        (
            "agent_exec",
            requests::agent_exec(
                &n1,
                vmid(210),
                &GuestCommand::new(vec![
                    "/usr/local/sbin/tappaas-pg-ensure".into(),
                    "grafana".into(),
                    "10.2.0.150".into(),
                    "/etc/tappaas/secrets/grafana.db-password".into(),
                ])
                .unwrap(),
            ),
        ),
        (
            "agent_exec(program only)",
            requests::agent_exec(
                &n1,
                vmid(210),
                &GuestCommand::new(vec!["/bin/true".into()]).unwrap(),
            ),
        ),
        (
            "agent_exec_status",
            requests::agent_exec_status(&n1, vmid(210), 1000),
        ),
        ("destroy_vm", requests::destroy_vm(&n1, vmid(200), false)),
        (
            "destroy_vm(purge)",
            requests::destroy_vm(&n1, vmid(200), true),
        ),
        (
            "storage_content",
            requests::storage_content(&n1, &storage("local"), None),
        ),
        (
            "storage_content(snippets)",
            requests::storage_content(&n1, &storage("local"), Some(Content::Snippets)),
        ),
        (
            "set_storage_content",
            requests::set_storage_content(
                &storage("local"),
                &[
                    Content::Iso,
                    Content::Vztmpl,
                    Content::Backup,
                    Content::Snippets,
                    Content::Import,
                    Content::Images,
                    Content::Rootdir,
                ],
            ),
        ),
    ]
}

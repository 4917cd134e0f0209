//! The VM tests' fixtures: the images, a one- and a two-node simulator, the
//! firewall and template VMs, and short forms of the calls they repeat.

use crate::common::{self, bridge, client, ip, node, storage, vmid, world, GIB};
use tappaas_proxmox::client::{
    BootDevice, CloneVm, ClusterName, Content, CreateCluster, CreateVm, DiskResize, DiskSlot,
    DiskSpec, ImportSource, Link, NetDevice, OsType, PoolName, ScsiHw, SshKeys, VmName, VmSettings,
    VolumeId, ZfsPoolStorage,
};
use tappaas_proxmox::{ApiError, Proxmox, SimNode, Simulator};

pub const NANO: &str = "/var/lib/vz/import/opnsense-nano.img";
pub const DEBIAN: &str = "/var/lib/vz/import/debian-13-tappaas.qcow2";
pub const SNIPPET: &str = "/var/lib/vz/snippets/vault-user.yaml";

pub fn name(s: &str) -> VmName {
    VmName::new(s).unwrap()
}

pub fn refusal(e: ApiError) -> String {
    match e {
        ApiError::Refused { message, .. } => message,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Register the ZFS pool tank1 as storage `tank1` for `on` alone.
pub fn add_tank1(c: &mut Proxmox<SimNode>, on: &str) {
    c.add_zfspool_storage(
        &ZfsPoolStorage::new(
            storage("tank1"),
            PoolName::new("tank1").unwrap(),
            vec![node(on)],
        )
        .unwrap(),
    )
    .unwrap();
}

/// tappaas1 standalone with tank1 registered, `local` allowed to hold
/// snippets and import images, and both images on the node.
pub fn vm_world() -> (Simulator, Proxmox<SimNode>) {
    let sim = world();
    for (path, size) in [(NANO, 3 * GIB), (DEBIAN, 2 * GIB), (SNIPPET, 1024)] {
        sim.add_file("tappaas1", path, size);
    }
    let mut c = client(&sim, "tappaas1");
    add_tank1(&mut c, "tappaas1");
    c.set_storage_content(
        &storage("local"),
        &[
            Content::Iso,
            Content::Vztmpl,
            Content::Backup,
            Content::Snippets,
            Content::Import,
        ],
    )
    .unwrap();
    (sim, c)
}

/// tappaas1 as the cluster `tappaas`'s first member, tank1 registered
/// for it alone; its client.
pub fn cluster_world() -> (Simulator, Proxmox<SimNode>) {
    let sim = world();
    let mut c1 = client(&sim, "tappaas1");
    c1.create_cluster(&CreateCluster {
        name: ClusterName::new("tappaas").unwrap(),
        link0: Link::new(ip("10.0.0.10")),
    })
    .unwrap();
    add_tank1(&mut c1, "tappaas1");
    (sim, c1)
}

/// What tappaas2 sends to join tappaas1's cluster.
pub fn join_tappaas1(sim: &Simulator) -> tappaas_proxmox::client::JoinCluster {
    tappaas_proxmox::client::JoinCluster::new(
        "10.0.0.10",
        tappaas_proxmox::client::Fingerprint::parse(&sim.fingerprint("tappaas1").unwrap()).unwrap(),
        tappaas_proxmox::client::Password::new(common::password(1)),
        Link::new(ip("10.0.0.11")),
    )
    .unwrap()
}

pub fn admin_keys() -> SshKeys {
    SshKeys::from_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+x/y= admin@tappaas").unwrap()
}

pub fn n1() -> tappaas_proxmox::client::NodeName {
    node("tappaas1")
}

/// Run a task to its end and say whether it succeeded.
pub fn finish(c: &mut Proxmox<SimNode>, upid: &str) -> bool {
    for _ in 0..10 {
        let st = c.task_status(&n1(), upid).unwrap();
        if !st.running {
            return st.succeeded();
        }
    }
    panic!("task {upid} never finished");
}

/// Run a call that starts a task, then the task to its end.
macro_rules! task {
    ($c:ident, $call:expr) => {{
        let upid = $call.unwrap();
        finish(&mut $c, &upid)
    }};
}

pub fn firewall() -> CreateVm {
    CreateVm::new(
        vmid(100),
        VmSettings::new()
            .name(&name("firewall"))
            .cores(2)
            .memory_mib(2048)
            .ostype(OsType::Other)
            .scsihw(ScsiHw::VirtioScsiSingle)
            .net(0, &NetDevice::virtio(bridge("lan")))
            .net(1, &NetDevice::virtio(bridge("wan")))
            .disk(
                DiskSlot::scsi0(),
                &DiskSpec::import(storage("tank1"), ImportSource::path(NANO).unwrap()),
            )
            .serial_socket(0)
            .vga_serial(0)
            .boot_order(&[BootDevice::Disk(DiskSlot::scsi0())])
            .onboot(true),
    )
}

pub fn template_spec(id: u32) -> CreateVm {
    let mut t = CreateVm::new(
        vmid(id),
        VmSettings::new()
            .name(&name("debian-template"))
            .ostype(OsType::L26)
            .scsihw(ScsiHw::VirtioScsiSingle)
            .net(0, &NetDevice::virtio(bridge("lan")))
            .disk(
                DiskSlot::scsi0(),
                &DiskSpec::import(
                    storage("tank1"),
                    ImportSource::Volume(
                        VolumeId::new("local:import/debian-13-tappaas.qcow2").unwrap(),
                    ),
                ),
            )
            .disk(DiskSlot::ide2(), &DiskSpec::cloudinit(storage("tank1")))
            .serial_socket(0)
            .vga_serial(0)
            .agent(true)
            .boot_order(&[BootDevice::Disk(DiskSlot::scsi0())]),
    );
    t.template = true;
    t
}

pub fn make_template(c: &mut Proxmox<SimNode>, id: u32) {
    let upid = c.create_vm(&n1(), &template_spec(id)).unwrap();
    assert!(finish(c, &upid));
}

/// Resize scsi0 of VM `id` on tappaas1.
pub fn resize(c: &mut Proxmox<SimNode>, id: u32, to: DiskResize) -> Result<String, ApiError> {
    c.resize_disk(&n1(), vmid(id), DiskSlot::scsi0(), to)
}

pub fn clone(c: &mut Proxmox<SimNode>, from: u32, to: u32, n: &str) -> Result<String, ApiError> {
    c.clone_vm(&n1(), vmid(from), &CloneVm::new(vmid(to), name(n)))
}

//! The calls that deploy virtual machines: create (with disk import),
//! template, clone, configure (cloud-init included), resize, start, stop,
//! ping the guest agent, destroy; and the storage calls they need.
//!
//! The values Proxmox takes as property strings (`net0`, `scsi0`,
//! `ipconfig0`, ...) have typed builders (in `props`), so a caller never assembles
//! one by hand; tests check each produced string against the schema.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;

use super::{input, list, Content, NodeName, Obj, StorageId};
use crate::client::{Api, ApiError, Proxmox};
use crate::formats;
use crate::request::{Method, Request};

// The guest agent's file and command calls (a child module so it shares
// the path helper).
mod agent;
pub use agent::*;
// The property-string types (`net0`, `scsi0`, `ipconfig0`, ...).
mod props;
pub use props::*;
// The typed calls (`impl Proxmox`).
mod calls;

/// VM settings, as set at create or changed later. Each method sets one
/// configuration key from a typed value; what a method cannot rule out
/// (a core count of 0, say) the schema check refuses before sending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmSettings {
    params: BTreeMap<String, String>,
}

impl VmSettings {
    pub fn new() -> VmSettings {
        VmSettings::default()
    }

    fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> VmSettings {
        self.params.insert(key.into(), value.into());
        self
    }

    /// The keys and values, as sent.
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    pub fn name(self, name: &VmName) -> VmSettings {
        self.set("name", name.as_str())
    }

    pub fn cores(self, cores: u16) -> VmSettings {
        self.set("cores", cores.to_string())
    }

    pub fn memory_mib(self, mib: u32) -> VmSettings {
        self.set("memory", mib.to_string())
    }

    pub fn ostype(self, os: OsType) -> VmSettings {
        self.set("ostype", os.as_str())
    }

    pub fn scsihw(self, hw: ScsiHw) -> VmSettings {
        self.set(
            "scsihw",
            match hw {
                ScsiHw::VirtioScsiSingle => "virtio-scsi-single",
                ScsiHw::VirtioScsiPci => "virtio-scsi-pci",
            },
        )
    }

    pub fn bios(self, bios: Bios) -> VmSettings {
        self.set(
            "bios",
            match bios {
                Bios::SeaBios => "seabios",
                Bios::Ovmf => "ovmf",
            },
        )
    }

    pub fn machine(self, m: MachineType) -> VmSettings {
        self.set(
            "machine",
            match m {
                MachineType::Q35 => "q35",
                MachineType::I440fx => "pc",
            },
        )
    }

    /// `net{n}`.
    pub fn net(self, n: u8, dev: &NetDevice) -> VmSettings {
        self.set(format!("net{n}"), dev.to_property_string())
    }

    pub fn disk(self, slot: DiskSlot, disk: &DiskSpec) -> VmSettings {
        self.set(slot.to_string(), disk.to_property_string())
    }

    /// `serial{n}=socket`: a serial port the node reads and writes
    /// through a unix socket (the OPNsense console).
    pub fn serial_socket(self, n: u8) -> VmSettings {
        self.set(format!("serial{n}"), "socket")
    }

    /// `vga=serial{n}`: the display is that serial port (no graphics).
    pub fn vga_serial(self, n: u8) -> VmSettings {
        self.set("vga", format!("serial{n}"))
    }

    /// `agent=1`: talk to a QEMU guest agent in the VM.
    pub fn agent(self, on: bool) -> VmSettings {
        self.set("agent", if on { "1" } else { "0" })
    }

    /// `boot=order=scsi0;net0`.
    pub fn boot_order(self, devices: &[BootDevice]) -> VmSettings {
        let order: Vec<String> = devices
            .iter()
            .map(|d| match d {
                BootDevice::Disk(slot) => slot.to_string(),
                BootDevice::Net(n) => format!("net{n}"),
            })
            .collect();
        self.set("boot", format!("order={}", order.join(";")))
    }

    /// Start with the node.
    pub fn onboot(self, on: bool) -> VmSettings {
        self.set("onboot", if on { "1" } else { "0" })
    }

    /// Tags, joined with `;` as Proxmox writes them.
    pub fn tags(self, tags: &[Tag]) -> VmSettings {
        let t: Vec<&str> = tags.iter().map(Tag::as_str).collect();
        self.set("tags", t.join(";"))
    }

    pub fn description(self, text: &str) -> VmSettings {
        self.set("description", text)
    }

    /// cloud-init: the user whose keys/password are set.
    pub fn ciuser(self, user: &str) -> VmSettings {
        self.set("ciuser", user)
    }

    /// cloud-init: public SSH keys (sent URL-encoded, see [`SshKeys`]).
    pub fn sshkeys(self, keys: &SshKeys) -> VmSettings {
        self.set("sshkeys", keys.to_urlencoded())
    }

    /// cloud-init: addresses of interface `net{n}`.
    pub fn ipconfig(self, n: u8, ip: &IpConfig) -> VmSettings {
        self.set(format!("ipconfig{n}"), ip.to_property_string())
    }

    /// cloud-init: DNS servers (space-separated, as Proxmox stores them).
    pub fn nameservers(self, servers: &[IpAddr]) -> VmSettings {
        let s: Vec<String> = servers.iter().map(ToString::to_string).collect();
        self.set("nameserver", s.join(" "))
    }

    /// cloud-init: DNS search domain.
    pub fn searchdomain(self, domain: &str) -> VmSettings {
        self.set("searchdomain", domain)
    }

    /// cloud-init: custom files replacing the generated ones. An empty
    /// [`CiCustom`] sets nothing.
    pub fn cicustom(self, files: &CiCustom) -> VmSettings {
        match files.to_property_string() {
            Some(v) => self.set("cicustom", v),
            None => self,
        }
    }

    /// cloud-init: upgrade packages on first boot (Proxmox's default is
    /// on; off makes first boot independent of a package mirror).
    pub fn ciupgrade(self, on: bool) -> VmSettings {
        self.set("ciupgrade", if on { "1" } else { "0" })
    }
}

/// `POST /nodes/{node}/qemu`: a new VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateVm {
    pub vmid: VmId,
    pub settings: VmSettings,
    /// Make it a template right away (its disks become read-only bases
    /// that linked clones share).
    pub template: bool,
}

impl CreateVm {
    pub fn new(vmid: VmId, settings: VmSettings) -> CreateVm {
        CreateVm {
            vmid,
            settings,
            template: false,
        }
    }
}

/// `PUT /nodes/{node}/qemu/{vmid}/config`: keys to set and keys to
/// remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    pub settings: VmSettings,
    /// Keys to remove (`ipconfig1`, `net1`, ...).
    pub delete: Vec<String>,
    /// Refuse the change if the configuration changed since it was read
    /// (the `digest` of [`VmConfig`]).
    pub digest: Option<String>,
}

impl ConfigUpdate {
    pub fn set(settings: VmSettings) -> ConfigUpdate {
        ConfigUpdate {
            settings,
            ..ConfigUpdate::default()
        }
    }
}

/// `POST /nodes/{node}/qemu/{vmid}/clone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloneVm {
    pub newid: VmId,
    pub name: Option<VmName>,
    /// `None`: Proxmox's default, a linked clone of a template and a full
    /// copy of anything else.
    pub full: Option<bool>,
    /// Where a full clone's disks go (not allowed for a linked clone).
    pub storage: Option<StorageId>,
    /// Another node; only possible when the source's disks are on shared
    /// storage.
    pub target: Option<NodeName>,
    pub description: Option<String>,
}

impl CloneVm {
    pub fn new(newid: VmId, name: VmName) -> CloneVm {
        CloneVm {
            newid,
            name: Some(name),
            full: None,
            storage: None,
            target: None,
            description: None,
        }
    }
}

/// A disk resize: grow by, or grow to, a number of GiB (Proxmox never
/// shrinks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskResize {
    GrowBy { gib: u32 },
    To { gib: u32 },
}

impl DiskResize {
    fn as_param(self) -> String {
        match self {
            DiskResize::GrowBy { gib } => format!("+{gib}G"),
            DiskResize::To { gib } => format!("{gib}G"),
        }
    }
}

/// Whether a VM runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmState {
    Running,
    Stopped,
}

impl VmState {
    fn parse(req: &Request, s: &str) -> Result<VmState, ApiError> {
        match s {
            "running" => Ok(VmState::Running),
            "stopped" => Ok(VmState::Stopped),
            other => Err(ApiError::Decode {
                method: req.method,
                path: req.path.clone(),
                message: format!("unknown VM status '{other}'"),
            }),
        }
    }
}

/// One entry of `GET /nodes/{node}/qemu`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSummary {
    pub vmid: VmId,
    pub name: Option<String>,
    pub status: VmState,
    pub template: bool,
    pub lock: Option<String>,
    pub tags: Vec<String>,
}

/// One VM of `GET /cluster/resources?type=vm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterVm {
    pub vmid: VmId,
    pub node: String,
    pub name: Option<String>,
    pub status: String,
    pub template: bool,
    pub lock: Option<String>,
}

/// `GET /nodes/{node}/qemu/{vmid}/status/current`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmStatus {
    pub vmid: VmId,
    pub status: VmState,
    /// QEMU's own view (`running`, `paused`, `prelaunch`...).
    pub qmpstatus: Option<String>,
    pub name: Option<String>,
    pub lock: Option<String>,
    /// The configuration enables the guest agent (not: the agent answers).
    pub agent: bool,
    pub template: bool,
    pub uptime: Option<u64>,
}

/// `GET /nodes/{node}/qemu/{vmid}/config`: every key as a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    pub values: BTreeMap<String, String>,
    /// For [`ConfigUpdate::digest`].
    pub digest: Option<String>,
}

impl VmConfig {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn is_template(&self) -> bool {
        self.get("template") == Some("1")
    }

    /// `agent` set with its (default) `enabled` key on.
    pub fn agent_enabled(&self) -> bool {
        agent_enabled(self.get("agent"))
    }

    pub fn net(&self, n: u8) -> Option<Result<NetDevice, ApiError>> {
        self.get(&format!("net{n}")).map(NetDevice::parse)
    }

    /// The volume id a disk slot holds (`tank1:vm-100-disk-0`).
    pub fn disk_volume(&self, slot: DiskSlot) -> Option<&str> {
        let v = self.get(&slot.to_string())?;
        let first = v.split(',').next()?;
        Some(first.strip_prefix("file=").unwrap_or(first))
    }

    pub fn sshkeys(&self) -> Option<Result<SshKeys, ApiError>> {
        self.get("sshkeys").map(SshKeys::from_urlencoded)
    }
}

/// Whether an `agent` property string enables the agent: its default key
/// `enabled` (bare or `enabled=`) is 1.
pub fn agent_enabled(value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    v.split(',').any(|part| {
        let on = |x: &str| matches!(x, "1" | "yes" | "on" | "true");
        match part.split_once('=') {
            Some(("enabled", x)) => on(x),
            Some(_) => false,
            None => on(part),
        }
    })
}

/// One entry of `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageItem {
    pub volid: String,
    /// `raw`, `qcow2`, `iso`, `snippet`...
    pub format: String,
    pub size: u64,
    /// The content type (Proxmox sends it though the schema omits it).
    pub content: Option<String>,
    pub vmid: Option<u32>,
    /// When it was made (seconds since the epoch; backups have it).
    pub ctime: Option<i64>,
}

fn qemu(node: &NodeName, vmid: VmId) -> String {
    format!("/nodes/{node}/qemu/{vmid}")
}

fn flag(on: bool) -> &'static str {
    if on {
        "1"
    } else {
        "0"
    }
}

pub mod requests;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::formats::{check_format, FormatCheck};

    fn storage(s: &str) -> StorageId {
        StorageId::new(s).unwrap()
    }

    #[test]
    fn net_device_strings_round_trip() {
        let lan = NetDevice::virtio(BridgeName::new("lan").unwrap());
        assert_eq!(lan.to_property_string(), "virtio,bridge=lan");
        let tagged = lan.clone().with_tag(20).unwrap().with_firewall(true);
        assert_eq!(
            tagged.to_property_string(),
            "virtio,bridge=lan,tag=20,firewall=1"
        );
        assert!(lan.clone().with_tag(0).is_err() && lan.clone().with_tag(4095).is_err());
        let fixed = tagged.clone().with_mac("02:aa:00:00:00:01").unwrap();
        assert_eq!(
            fixed.to_property_string(),
            "virtio=02:AA:00:00:00:01,bridge=lan,tag=20,firewall=1"
        );
        assert_eq!(
            NetDevice::parse(&fixed.to_property_string()).unwrap(),
            fixed
        );
        assert_eq!(
            NetDevice::parse(&tagged.to_property_string()).unwrap(),
            tagged
        );
        assert!(lan.with_mac("01:00:00:00:00:01").is_err());
    }

    #[test]
    fn disk_strings() {
        let from = ImportSource::path("/var/lib/vz/import/opnsense-nano.img").unwrap();
        let d = DiskSpec::import(storage("tank1"), from);
        assert_eq!(
            d.to_property_string(),
            "tank1:0,import-from=/var/lib/vz/import/opnsense-nano.img,discard=on,iothread=1"
        );
        assert_eq!(
            DiskSpec::cloudinit(storage("tank1")).to_property_string(),
            "tank1:cloudinit"
        );
        assert_eq!(
            DiskSpec::new_disk(storage("tank2"), 32).to_property_string(),
            "tank2:32,discard=on,iothread=1"
        );
        assert!(ImportSource::path("relative.img").is_err());
        assert!(ImportSource::path("/a,b.img").is_err());
        assert!(DiskSlot::new(DiskBus::Ide, 4).is_err());
        assert_eq!(
            DiskSlot::new(DiskBus::Virtio, 15).unwrap().to_string(),
            "virtio15"
        );
    }

    #[test]
    fn ip_configs() {
        let s = IpConfig::static_v4(
            "10.0.20.5".parse().unwrap(),
            24,
            Some("10.0.20.1".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(s.to_property_string(), "ip=10.0.20.5/24,gw=10.0.20.1");
        assert_eq!(IpConfig::dhcp().to_property_string(), "ip=dhcp");
        let both = IpConfig::dhcp().with_ipv6(Ipv6Setting::Auto).unwrap();
        assert_eq!(both.to_property_string(), "ip=dhcp,ip6=auto");
        assert!(IpConfig::static_v4("10.0.0.1".parse().unwrap(), 33, None).is_err());
        for ip in [s, both, IpConfig::dhcp()] {
            assert_eq!(
                check_format("pve-qm-ipconfig", &ip.to_property_string()),
                FormatCheck::Valid,
                "{ip:?}"
            );
        }
    }

    #[test]
    fn ssh_keys_are_url_encoded_and_decode_back() {
        let keys = SshKeys::from_text(
            "# admin\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+x/y= admin@tappaas\n\necdsa-sha2-nistp256 AAAAE2Vj= ops\n",
        )
        .unwrap();
        assert_eq!(keys.keys().len(), 2);
        let enc = keys.to_urlencoded();
        assert_eq!(
            enc,
            "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIB%2Bx%2Fy%3D%20admin%40tappaas%0Aecdsa-sha2-nistp256%20AAAAE2Vj%3D%20ops"
        );
        assert_eq!(check_format("urlencoded", &enc), FormatCheck::Valid);
        assert_eq!(SshKeys::from_urlencoded(&enc).unwrap(), keys);
        assert!(SshKeys::from_text("not a key").is_err());
        assert!(SshKeys::new(vec![]).is_err());
    }

    #[test]
    fn agent_flag() {
        assert!(agent_enabled(Some("1")));
        assert!(agent_enabled(Some("enabled=1,fstrim_cloned_disks=1")));
        assert!(!agent_enabled(Some("0")));
        assert!(!agent_enabled(Some("enabled=0,type=virtio")));
        assert!(!agent_enabled(None));
    }

    #[test]
    fn vmids() {
        assert!(VmId::new(99).is_err() && VmId::new(100).is_ok());
        assert_eq!(VmId::parse("101").unwrap().get(), 101);
        assert!(VmId::parse("0101").is_err());
    }
}

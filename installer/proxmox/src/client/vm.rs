//! The calls that deploy virtual machines: create (with disk import),
//! template, clone, configure (cloud-init included), resize, start, stop,
//! ping the guest agent, destroy; and the storage calls they need.
//!
//! The values Proxmox takes as property strings (`net0`, `scsi0`,
//! `ipconfig0`, ...) have typed builders here, so a caller never assembles
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

/// A VM id: 100 to 999999999, unique in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VmId(u32);

impl VmId {
    pub fn new(id: u32) -> Result<VmId, ApiError> {
        if (100..=999_999_999).contains(&id) {
            Ok(VmId(id))
        } else {
            Err(input(
                "VM id",
                &id.to_string(),
                "expected a number from 100 to 999999999",
            ))
        }
    }

    pub fn parse(s: &str) -> Result<VmId, ApiError> {
        match s.trim().parse::<u32>() {
            Ok(n) if formats::is_vmid(s.trim()) => VmId::new(n),
            _ => Err(input("VM id", s, "expected a number from 100 to 999999999")),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for VmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

checked_name!(
    /// A VM name: a DNS name (`vault`, `vault.home.arpa`).
    VmName,
    "VM name",
    formats::is_dns_name,
    "letters, digits and inner hyphens, dot-separated"
);
checked_name!(
    /// A Linux bridge on the node (`lan`, `wan`).
    BridgeName,
    "bridge name",
    formats::is_bridge_id,
    "letters, digits, '-', '_', '.', at most 15 characters"
);
checked_name!(
    /// A VM tag (`tappaas`, `base-service`).
    Tag,
    "tag",
    formats::is_tag,
    "a letter, digit or '_', then also '-', '+', '.'"
);
checked_name!(
    /// A volume id `STORAGE:VOLUME` (`local:snippets/vault.yaml`,
    /// `local:import/debian.qcow2`, `tank1:vm-100-disk-0`).
    VolumeId,
    "volume id",
    formats::is_volume_id,
    "STORAGE:VOLUME, e.g. local:snippets/user.yaml"
);

/// The emulated network card. OPNsense and Debian both drive `virtio`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetModel {
    Virtio,
    E1000,
    Vmxnet3,
}

impl NetModel {
    pub fn as_str(self) -> &'static str {
        match self {
            NetModel::Virtio => "virtio",
            NetModel::E1000 => "e1000",
            NetModel::Vmxnet3 => "vmxnet3",
        }
    }

    fn parse(s: &str) -> Option<NetModel> {
        match s {
            "virtio" => Some(NetModel::Virtio),
            "e1000" => Some(NetModel::E1000),
            "vmxnet3" => Some(NetModel::Vmxnet3),
            _ => None,
        }
    }
}

/// A VM network device (`net0`): model, bridge, optional VLAN tag,
/// Proxmox firewall flag, optional fixed MAC address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetDevice {
    pub model: NetModel,
    pub bridge: BridgeName,
    /// VLAN 1 to 4094; `None` is untagged.
    pub tag: Option<u16>,
    pub firewall: bool,
    /// `None` lets Proxmox generate one.
    pub macaddr: Option<String>,
}

impl NetDevice {
    /// A virtio card on `bridge`, untagged, no firewall, generated MAC.
    pub fn virtio(bridge: BridgeName) -> NetDevice {
        NetDevice {
            model: NetModel::Virtio,
            bridge,
            tag: None,
            firewall: false,
            macaddr: None,
        }
    }

    /// Put the card on VLAN `tag` (1 to 4094).
    pub fn with_tag(mut self, tag: u16) -> Result<NetDevice, ApiError> {
        if !(1..=4094).contains(&tag) {
            return Err(input("VLAN tag", &tag.to_string(), "expected 1 to 4094"));
        }
        self.tag = Some(tag);
        Ok(self)
    }

    pub fn with_firewall(mut self, on: bool) -> NetDevice {
        self.firewall = on;
        self
    }

    /// A fixed unicast MAC address (`02:00:00:00:00:01`).
    pub fn with_mac(mut self, mac: &str) -> Result<NetDevice, ApiError> {
        if formats::check_format("mac-addr", mac) != formats::FormatCheck::Valid {
            return Err(input(
                "MAC address",
                mac,
                "expected a unicast XX:XX:XX:XX:XX:XX",
            ));
        }
        self.macaddr = Some(mac.to_ascii_uppercase());
        Ok(self)
    }

    /// `virtio[=MAC],bridge=lan[,tag=20][,firewall=1]`: the model first
    /// (the property string's default key), carrying the MAC when fixed.
    pub fn to_property_string(&self) -> String {
        let mut s = match &self.macaddr {
            Some(mac) => format!("{}={mac}", self.model.as_str()),
            None => self.model.as_str().to_string(),
        };
        s.push_str(&format!(",bridge={}", self.bridge));
        if let Some(tag) = self.tag {
            s.push_str(&format!(",tag={tag}"));
        }
        if self.firewall {
            s.push_str(",firewall=1");
        }
        s
    }

    /// Read a `net[n]` value back from a VM's configuration (as Proxmox
    /// writes it: `virtio=BC:24:11:..,bridge=lan,firewall=1,tag=20`). Keys
    /// this type does not model (mtu, rate, queues, ...) are ignored.
    pub fn parse(value: &str) -> Result<NetDevice, ApiError> {
        let bad = |m: &str| input("network device", value, m);
        let mut model = None;
        let mut macaddr = None;
        let mut bridge = None;
        let mut tag = None;
        let mut firewall = false;
        for part in value.split(',') {
            let (k, v) = part.split_once('=').unwrap_or(("model", part));
            match (k, NetModel::parse(k)) {
                (_, Some(m)) => {
                    model = Some(m);
                    macaddr = Some(v.to_string());
                }
                ("model", None) => model = NetModel::parse(v),
                ("macaddr", None) => macaddr = Some(v.to_string()),
                ("bridge", None) => bridge = Some(BridgeName::new(v)?),
                ("tag", None) => {
                    tag = Some(v.parse().map_err(|_| bad("tag is not a number"))?);
                }
                ("firewall", None) => firewall = v == "1",
                _ => {}
            }
        }
        Ok(NetDevice {
            model: model.ok_or_else(|| bad("no known model (virtio, e1000, vmxnet3)"))?,
            bridge: bridge.ok_or_else(|| bad("no bridge"))?,
            tag,
            firewall,
            macaddr,
        })
    }
}

/// A disk slot (`scsi0`, `ide2`, `virtio0`, `sata1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DiskSlot {
    bus: DiskBus,
    index: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiskBus {
    Ide,
    Sata,
    Scsi,
    Virtio,
}

impl DiskBus {
    fn name(self) -> &'static str {
        match self {
            DiskBus::Ide => "ide",
            DiskBus::Sata => "sata",
            DiskBus::Scsi => "scsi",
            DiskBus::Virtio => "virtio",
        }
    }

    fn max(self) -> u8 {
        match self {
            DiskBus::Ide => 3,
            DiskBus::Sata => 5,
            DiskBus::Scsi => 30,
            DiskBus::Virtio => 15,
        }
    }
}

impl DiskSlot {
    pub fn new(bus: DiskBus, index: u8) -> Result<DiskSlot, ApiError> {
        if index > bus.max() {
            return Err(input(
                "disk slot",
                &format!("{}{index}", bus.name()),
                &format!("{} disks are numbered 0 to {}", bus.name(), bus.max()),
            ));
        }
        Ok(DiskSlot { bus, index })
    }

    /// `scsi0`: where the VM's system disk goes (with `scsihw`
    /// virtio-scsi-single).
    pub fn scsi0() -> DiskSlot {
        DiskSlot {
            bus: DiskBus::Scsi,
            index: 0,
        }
    }

    /// `ide2`: where Proxmox puts a cloud-init drive by convention.
    pub fn ide2() -> DiskSlot {
        DiskSlot {
            bus: DiskBus::Ide,
            index: 2,
        }
    }

    pub fn bus(self) -> DiskBus {
        self.bus
    }

    pub fn index(self) -> u8 {
        self.index
    }
}

impl fmt::Display for DiskSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.bus.name(), self.index)
    }
}

/// Where an imported disk's data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportSource {
    /// An absolute path on the node (an image shipped on the ISO and
    /// copied to the node).
    Path(String),
    /// A volume of a storage with `import` (or `images`) content,
    /// e.g. `local:import/opnsense-nano.img`.
    Volume(VolumeId),
}

impl ImportSource {
    /// An absolute path without commas (a comma would end the property
    /// string's value) or control characters.
    pub fn path(p: &str) -> Result<ImportSource, ApiError> {
        if !p.starts_with('/') || p.contains(',') || p.chars().any(char::is_control) {
            return Err(input(
                "import path",
                p,
                "expected an absolute path without commas",
            ));
        }
        Ok(ImportSource::Path(p.to_string()))
    }

    fn as_str(&self) -> &str {
        match self {
            ImportSource::Path(p) => p,
            ImportSource::Volume(v) => v.as_str(),
        }
    }
}

/// What a disk slot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskSource {
    /// A new empty disk of this many GiB.
    New { size_gib: u32 },
    /// A new disk filled from an image (`STORAGE:0,import-from=...`); it
    /// gets the image's size, to be grown with a resize.
    Import(ImportSource),
    /// The cloud-init drive (`STORAGE:cloudinit`), which Proxmox
    /// regenerates from the `ci*`/`ipconfig*` settings at each start.
    CloudInit,
}

/// A disk: the storage it is allocated on and its source, with the usual
/// flags for thin storage on SSDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    pub storage: StorageId,
    pub source: DiskSource,
    /// Pass TRIM through, so a sparse zvol gives freed space back.
    pub discard: bool,
    pub ssd: bool,
    pub iothread: bool,
}

impl DiskSpec {
    fn with(storage: StorageId, source: DiskSource) -> DiskSpec {
        let data = !matches!(source, DiskSource::CloudInit);
        DiskSpec {
            storage,
            source,
            discard: data,
            ssd: false,
            iothread: data,
        }
    }

    /// A new empty disk (`tank1:32,discard=on,iothread=1`).
    pub fn new_disk(storage: StorageId, size_gib: u32) -> DiskSpec {
        DiskSpec::with(storage, DiskSource::New { size_gib })
    }

    /// A disk imported from an image
    /// (`tank1:0,import-from=/var/lib/vz/import/x.qcow2,...`).
    pub fn import(storage: StorageId, from: ImportSource) -> DiskSpec {
        DiskSpec::with(storage, DiskSource::Import(from))
    }

    /// The cloud-init drive (`tank1:cloudinit`).
    pub fn cloudinit(storage: StorageId) -> DiskSpec {
        DiskSpec::with(storage, DiskSource::CloudInit)
    }

    /// The property string: the allocation (`STORAGE:SIZE`, `STORAGE:0`
    /// with `import-from`, `STORAGE:cloudinit`), then the flags.
    pub fn to_property_string(&self) -> String {
        let mut s = match &self.source {
            DiskSource::New { size_gib } => format!("{}:{size_gib}", self.storage),
            DiskSource::Import(from) => {
                format!("{}:0,import-from={}", self.storage, from.as_str())
            }
            DiskSource::CloudInit => format!("{}:cloudinit", self.storage),
        };
        if self.discard {
            s.push_str(",discard=on");
        }
        if self.ssd {
            s.push_str(",ssd=1");
        }
        if self.iothread {
            s.push_str(",iothread=1");
        }
        s
    }
}

/// IPv4 settings of one cloud-init interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Setting {
    Dhcp,
    Static {
        address: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
    },
}

/// IPv6 settings of one cloud-init interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Setting {
    Dhcp,
    /// SLAAC.
    Auto,
    Static {
        address: Ipv6Addr,
        prefix: u8,
        gateway: Option<Ipv6Addr>,
    },
}

/// A cloud-init interface's addresses (`ipconfig0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpConfig {
    pub ipv4: Option<Ipv4Setting>,
    pub ipv6: Option<Ipv6Setting>,
}

impl IpConfig {
    pub fn dhcp() -> IpConfig {
        IpConfig {
            ipv4: Some(Ipv4Setting::Dhcp),
            ipv6: None,
        }
    }

    /// A static IPv4 address `address/prefix`, with an optional gateway.
    pub fn static_v4(
        address: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
    ) -> Result<IpConfig, ApiError> {
        if prefix > 32 {
            return Err(input(
                "IPv4 prefix length",
                &prefix.to_string(),
                "expected 0 to 32",
            ));
        }
        Ok(IpConfig {
            ipv4: Some(Ipv4Setting::Static {
                address,
                prefix,
                gateway,
            }),
            ipv6: None,
        })
    }

    /// Add IPv6 settings.
    pub fn with_ipv6(mut self, v6: Ipv6Setting) -> Result<IpConfig, ApiError> {
        if let Ipv6Setting::Static { prefix, .. } = v6 {
            if prefix > 128 {
                return Err(input(
                    "IPv6 prefix length",
                    &prefix.to_string(),
                    "expected 0 to 128",
                ));
            }
        }
        self.ipv6 = Some(v6);
        Ok(self)
    }

    /// `ip=10.0.20.5/24,gw=10.0.20.1` / `ip=dhcp` / `...,ip6=auto`.
    pub fn to_property_string(&self) -> String {
        let mut parts = Vec::new();
        match self.ipv4 {
            Some(Ipv4Setting::Dhcp) => parts.push("ip=dhcp".to_string()),
            Some(Ipv4Setting::Static {
                address,
                prefix,
                gateway,
            }) => {
                parts.push(format!("ip={address}/{prefix}"));
                if let Some(gw) = gateway {
                    parts.push(format!("gw={gw}"));
                }
            }
            None => {}
        }
        match self.ipv6 {
            Some(Ipv6Setting::Dhcp) => parts.push("ip6=dhcp".to_string()),
            Some(Ipv6Setting::Auto) => parts.push("ip6=auto".to_string()),
            Some(Ipv6Setting::Static {
                address,
                prefix,
                gateway,
            }) => {
                parts.push(format!("ip6={address}/{prefix}"));
                if let Some(gw) = gateway {
                    parts.push(format!("gw6={gw}"));
                }
            }
            None => {}
        }
        parts.join(",")
    }
}

/// Public SSH keys for cloud-init (`sshkeys`), one OpenSSH key per line.
///
/// Proxmox takes the value URL-encoded (schema format `urlencoded`: only
/// letters, digits, `-_.!~*'()` and `%XX`), stores it encoded in the VM's
/// configuration and decodes it when it writes the cloud-init drive. So a
/// space is `%20` (never `+`) and the newline between keys is `%0A`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshKeys(Vec<String>);

impl SshKeys {
    /// Each key one line: `TYPE BASE64 [COMMENT]`.
    pub fn new(keys: Vec<String>) -> Result<SshKeys, ApiError> {
        if keys.is_empty() {
            return Err(input("SSH keys", "", "give at least one public key"));
        }
        for k in &keys {
            let mut words = k.split_whitespace();
            let well_formed = matches!(
                (words.next(), words.next()),
                (Some(t), Some(b)) if (t.starts_with("ssh-") || t.starts_with("ecdsa-") || t.starts_with("sk-"))
                    && b.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
            );
            if !well_formed || k.contains(['\n', '\r']) {
                return Err(input(
                    "SSH public key",
                    k,
                    "expected one OpenSSH public key line: TYPE BASE64 [COMMENT]",
                ));
            }
        }
        Ok(SshKeys(keys.iter().map(|k| k.trim().to_string()).collect()))
    }

    /// Keys from an `authorized_keys`-style text (blank lines and `#`
    /// comments skipped).
    pub fn from_text(text: &str) -> Result<SshKeys, ApiError> {
        SshKeys::new(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn keys(&self) -> &[String] {
        &self.0
    }

    /// The value Proxmox takes: the keys joined by newlines, every byte
    /// other than letters, digits and `-_.~` as `%XX`.
    pub fn to_urlencoded(&self) -> String {
        let text = self.0.join("\n");
        let mut out = String::with_capacity(text.len() * 3 / 2);
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// Decode the value as read back from a VM's configuration.
    pub fn from_urlencoded(s: &str) -> Result<SshKeys, ApiError> {
        let bad = || input("encoded SSH keys", s, "malformed %XX escape");
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        let text = String::from_utf8(out).map_err(|_| bad())?;
        SshKeys::from_text(&text)
    }
}

/// Custom cloud-init files (`cicustom`), each a snippet volume
/// (`local:snippets/vault-user.yaml`) on a storage with `snippets` content.
/// A file given here replaces the one Proxmox would generate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CiCustom {
    pub user: Option<VolumeId>,
    pub network: Option<VolumeId>,
    pub meta: Option<VolumeId>,
    pub vendor: Option<VolumeId>,
}

impl CiCustom {
    pub fn user(volume: VolumeId) -> CiCustom {
        CiCustom {
            user: Some(volume),
            ..CiCustom::default()
        }
    }

    /// `user=local:snippets/x.yaml[,network=...]`; `None` when empty.
    pub fn to_property_string(&self) -> Option<String> {
        let parts: Vec<String> = [
            ("meta", &self.meta),
            ("network", &self.network),
            ("user", &self.user),
            ("vendor", &self.vendor),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsType {
    /// Linux 2.6 to 6.x.
    L26,
    /// Anything else (OPNsense's FreeBSD).
    Other,
}

impl OsType {
    fn as_str(self) -> &'static str {
        match self {
            OsType::L26 => "l26",
            OsType::Other => "other",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScsiHw {
    /// One controller per disk, allowing `iothread`.
    VirtioScsiSingle,
    VirtioScsiPci,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bios {
    SeaBios,
    /// UEFI; needs an `efidisk0`.
    Ovmf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineType {
    Q35,
    I440fx,
}

/// A device in the boot order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDevice {
    Disk(DiskSlot),
    /// `net0`...
    Net(u8),
}

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

/// The VM calls' request builders, re-exported in
/// [`crate::client::requests`].
pub mod requests {
    use super::*;

    // The guest agent calls' builders live with their types.
    pub use super::agent::requests::*;

    /// `GET /cluster/nextid`: the lowest free VM id; with `check`, that id
    /// if it is free (Proxmox refuses otherwise).
    pub fn next_vmid(check: Option<VmId>) -> Request {
        let r = Request::get("/cluster/nextid");
        match check {
            Some(id) => r.param("vmid", id.to_string()),
            None => r,
        }
    }

    /// `GET /nodes/{node}/qemu`: the VMs on one node.
    pub fn node_vms(node: &NodeName) -> Request {
        Request::get(format!("/nodes/{node}/qemu"))
    }

    /// `GET /cluster/resources` with `type=vm`: every VM in the cluster
    /// with the node it is on.
    pub fn cluster_vms() -> Request {
        Request::get("/cluster/resources").param("type", "vm")
    }

    /// `POST /nodes/{node}/qemu`: create a VM (a task).
    pub fn create_vm(node: &NodeName, c: &CreateVm) -> Request {
        let mut r = Request::post(format!("/nodes/{node}/qemu")).param("vmid", c.vmid.to_string());
        for (k, v) in c.settings.params() {
            r = r.param(k.clone(), v.clone());
        }
        if c.template {
            r = r.param("template", "1");
        }
        r
    }

    /// `GET /nodes/{node}/qemu/{vmid}/config`
    pub fn vm_config(node: &NodeName, vmid: VmId) -> Request {
        Request::get(format!("{}/config", qemu(node, vmid)))
    }

    /// `PUT /nodes/{node}/qemu/{vmid}/config`: set and delete keys
    /// (synchronous; `POST` would run it as a task).
    pub fn set_vm_config(node: &NodeName, vmid: VmId, u: &ConfigUpdate) -> Request {
        let mut r = Request::put(format!("{}/config", qemu(node, vmid)));
        for (k, v) in u.settings.params() {
            r = r.param(k.clone(), v.clone());
        }
        if !u.delete.is_empty() {
            r = r.param("delete", u.delete.join(","));
        }
        if let Some(d) = &u.digest {
            r = r.param("digest", d.clone());
        }
        r
    }

    /// `POST /nodes/{node}/qemu/{vmid}/clone` (a task).
    pub fn clone_vm(node: &NodeName, vmid: VmId, c: &CloneVm) -> Request {
        let mut r = Request::post(format!("{}/clone", qemu(node, vmid)))
            .param("newid", c.newid.to_string());
        if let Some(name) = &c.name {
            r = r.param("name", name.as_str());
        }
        if let Some(full) = c.full {
            r = r.param("full", flag(full));
        }
        if let Some(s) = &c.storage {
            r = r.param("storage", s.as_str());
        }
        if let Some(t) = &c.target {
            r = r.param("target", t.as_str());
        }
        if let Some(d) = &c.description {
            r = r.param("description", d.clone());
        }
        r
    }

    /// `POST /nodes/{node}/qemu/{vmid}/template`: turn a stopped VM into a
    /// template (a task).
    pub fn convert_to_template(node: &NodeName, vmid: VmId) -> Request {
        Request::post(format!("{}/template", qemu(node, vmid)))
    }

    /// `PUT /nodes/{node}/qemu/{vmid}/resize` (a task).
    pub fn resize_disk(node: &NodeName, vmid: VmId, disk: DiskSlot, size: DiskResize) -> Request {
        Request::put(format!("{}/resize", qemu(node, vmid)))
            .param("disk", disk.to_string())
            .param("size", size.as_param())
    }

    /// `POST /nodes/{node}/qemu/{vmid}/status/start` (a task).
    pub fn start_vm(node: &NodeName, vmid: VmId) -> Request {
        Request::post(format!("{}/status/start", qemu(node, vmid)))
    }

    /// `POST /nodes/{node}/qemu/{vmid}/status/shutdown`: ask the guest
    /// (ACPI or agent) to power off, waiting up to `timeout` seconds;
    /// `force_stop` stops it hard after that (a task).
    pub fn shutdown_vm(
        node: &NodeName,
        vmid: VmId,
        timeout: Option<u32>,
        force_stop: bool,
    ) -> Request {
        let mut r = Request::post(format!("{}/status/shutdown", qemu(node, vmid)));
        if let Some(t) = timeout {
            r = r.param("timeout", t.to_string());
        }
        if force_stop {
            r = r.param("forceStop", "1");
        }
        r
    }

    /// `POST /nodes/{node}/qemu/{vmid}/status/stop`: power off at once
    /// (a task).
    pub fn stop_vm(node: &NodeName, vmid: VmId) -> Request {
        Request::post(format!("{}/status/stop", qemu(node, vmid)))
    }

    /// `GET /nodes/{node}/qemu/{vmid}/status/current`
    pub fn vm_status(node: &NodeName, vmid: VmId) -> Request {
        Request::get(format!("{}/status/current", qemu(node, vmid)))
    }

    /// `POST /nodes/{node}/qemu/{vmid}/agent/ping`: does the guest agent
    /// answer?
    pub fn agent_ping(node: &NodeName, vmid: VmId) -> Request {
        Request::post(format!("{}/agent/ping", qemu(node, vmid)))
    }

    /// `DELETE /nodes/{node}/qemu/{vmid}`: remove a stopped VM and its
    /// disks; `purge` also removes it from backup jobs and HA (a task).
    pub fn destroy_vm(node: &NodeName, vmid: VmId, purge: bool) -> Request {
        let r =
            Request::new(Method::Delete, qemu(node, vmid)).param("destroy-unreferenced-disks", "1");
        if purge {
            r.param("purge", "1")
        } else {
            r
        }
    }

    /// `GET /nodes/{node}/storage/{storage}/content`, optionally of one
    /// content type.
    pub fn storage_content(
        node: &NodeName,
        storage: &StorageId,
        content: Option<Content>,
    ) -> Request {
        let r = Request::get(format!("/nodes/{node}/storage/{storage}/content"));
        match content {
            Some(c) => r.param("content", c.as_str()),
            None => r,
        }
    }

    /// `PUT /storage/{storage}` with `content`: what the storage may hold
    /// (e.g. `local` with `iso,vztmpl,backup,snippets,import`).
    pub fn set_storage_content(id: &StorageId, content: &[Content]) -> Request {
        let c: Vec<&str> = content.iter().map(|c| c.as_str()).collect();
        Request::put(format!("/storage/{id}")).param("content", c.join(","))
    }
}

fn upid(req: &Request, v: &Value) -> Result<String, ApiError> {
    match v.as_str() {
        Some(s) if s.starts_with("UPID:") => Ok(s.to_string()),
        _ => Err(ApiError::Decode {
            method: req.method,
            path: req.path.clone(),
            message: format!("expected a task id (UPID), got {}", super::short(v)),
        }),
    }
}

fn vmid_of(o: &Obj<'_>, key: &str) -> Result<VmId, ApiError> {
    let n = o
        .opt_u64(key)?
        .ok_or_else(|| o.bad(&format!("field '{key}' is missing")))?;
    u32::try_from(n)
        .ok()
        .and_then(|n| VmId::new(n).ok())
        .ok_or_else(|| o.bad(&format!("field '{key}' is not a VM id: {n}")))
}

impl<A: Api> Proxmox<A> {
    /// The lowest free VM id, or `check` itself when it is free (Proxmox
    /// refuses with "VM N already exists" when it is not).
    pub fn next_vmid(&mut self, check: Option<VmId>) -> Result<VmId, ApiError> {
        let req = requests::next_vmid(check);
        let v = self.call(&req)?;
        // Proxmox answers this integer as a JSON string.
        let s = match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        VmId::parse(&s).map_err(|_| ApiError::Decode {
            method: req.method,
            path: req.path.clone(),
            message: format!("expected a VM id, got {}", super::short(&v)),
        })
    }

    pub fn node_vms(&mut self, node: &NodeName) -> Result<Vec<VmSummary>, ApiError> {
        let req = requests::node_vms(node);
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| {
                let o = Obj::new(&req, i)?;
                Ok(VmSummary {
                    vmid: vmid_of(&o, "vmid")?,
                    name: o.opt_string("name"),
                    status: VmState::parse(&req, &o.string("status")?)?,
                    template: o.flag("template"),
                    lock: o.opt_string("lock"),
                    tags: formats::split_list(&o.opt_string("tags").unwrap_or_default())
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                })
            })
            .collect()
    }

    pub fn cluster_vms(&mut self) -> Result<Vec<ClusterVm>, ApiError> {
        let req = requests::cluster_vms();
        let v = self.call(&req)?;
        let mut out = Vec::new();
        for i in list(&req, &v)? {
            let o = Obj::new(&req, i)?;
            // `type=vm` covers containers (`lxc`) too.
            if o.string("type")? != "qemu" {
                continue;
            }
            out.push(ClusterVm {
                vmid: vmid_of(&o, "vmid")?,
                node: o.string("node")?,
                name: o.opt_string("name"),
                status: o.opt_string("status").unwrap_or_default(),
                template: o.flag("template"),
                lock: o.opt_string("lock"),
            });
        }
        Ok(out)
    }

    /// Returns the task id.
    pub fn create_vm(&mut self, node: &NodeName, c: &CreateVm) -> Result<String, ApiError> {
        let req = requests::create_vm(node, c);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    pub fn vm_config(&mut self, node: &NodeName, vmid: VmId) -> Result<VmConfig, ApiError> {
        let req = requests::vm_config(node, vmid);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        let mut values = BTreeMap::new();
        for k in o.map.keys() {
            if let Some(s) = o.opt_string(k) {
                values.insert(k.clone(), s);
            }
        }
        let digest = values.remove("digest");
        Ok(VmConfig { values, digest })
    }

    pub fn set_vm_config(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        u: &ConfigUpdate,
    ) -> Result<(), ApiError> {
        self.call(&requests::set_vm_config(node, vmid, u)).map(drop)
    }

    /// Returns the task id.
    pub fn clone_vm(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        c: &CloneVm,
    ) -> Result<String, ApiError> {
        let req = requests::clone_vm(node, vmid, c);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn convert_to_template(&mut self, node: &NodeName, vmid: VmId) -> Result<String, ApiError> {
        let req = requests::convert_to_template(node, vmid);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn resize_disk(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        disk: DiskSlot,
        size: DiskResize,
    ) -> Result<String, ApiError> {
        let req = requests::resize_disk(node, vmid, disk, size);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn start_vm(&mut self, node: &NodeName, vmid: VmId) -> Result<String, ApiError> {
        let req = requests::start_vm(node, vmid);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id; the task fails if the guest does not power
    /// off within `timeout` and `force_stop` is off.
    pub fn shutdown_vm(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        timeout: Option<u32>,
        force_stop: bool,
    ) -> Result<String, ApiError> {
        let req = requests::shutdown_vm(node, vmid, timeout, force_stop);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    /// Returns the task id.
    pub fn stop_vm(&mut self, node: &NodeName, vmid: VmId) -> Result<String, ApiError> {
        let req = requests::stop_vm(node, vmid);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    pub fn vm_status(&mut self, node: &NodeName, vmid: VmId) -> Result<VmStatus, ApiError> {
        let req = requests::vm_status(node, vmid);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        Ok(VmStatus {
            vmid: vmid_of(&o, "vmid")?,
            status: VmState::parse(&req, &o.string("status")?)?,
            qmpstatus: o.opt_string("qmpstatus"),
            name: o.opt_string("name"),
            lock: o.opt_string("lock"),
            agent: o.flag("agent"),
            template: o.flag("template"),
            uptime: o.opt_u64("uptime")?,
        })
    }

    /// `Ok` when the guest agent answered; a refusal while the guest is
    /// still booting (or has no agent) is `ApiError::Refused`. Callers
    /// wait by retrying this, with their own deadline.
    pub fn agent_ping(&mut self, node: &NodeName, vmid: VmId) -> Result<(), ApiError> {
        self.call(&requests::agent_ping(node, vmid)).map(drop)
    }

    /// Returns the task id.
    pub fn destroy_vm(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        purge: bool,
    ) -> Result<String, ApiError> {
        let req = requests::destroy_vm(node, vmid, purge);
        let v = self.call(&req)?;
        upid(&req, &v)
    }

    pub fn storage_content(
        &mut self,
        node: &NodeName,
        storage: &StorageId,
        content: Option<Content>,
    ) -> Result<Vec<StorageItem>, ApiError> {
        let req = requests::storage_content(node, storage, content);
        let v = self.call(&req)?;
        list(&req, &v)?
            .iter()
            .map(|i| {
                let o = Obj::new(&req, i)?;
                Ok(StorageItem {
                    volid: o.string("volid")?,
                    format: o.string("format")?,
                    size: o.opt_u64("size")?.unwrap_or(0),
                    content: o.opt_string("content"),
                    vmid: o.opt_u64("vmid")?.and_then(|n| u32::try_from(n).ok()),
                })
            })
            .collect()
    }

    /// Set what a storage may hold. The list replaces the old one: read
    /// it first ([`Proxmox::storage`]) and add to it.
    pub fn set_storage_content(
        &mut self,
        id: &StorageId,
        content: &[Content],
    ) -> Result<(), ApiError> {
        if content.is_empty() {
            return Err(input(
                "storage content list",
                id.as_str(),
                "name at least one content type",
            ));
        }
        self.call(&requests::set_storage_content(id, content))
            .map(drop)
    }
}

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

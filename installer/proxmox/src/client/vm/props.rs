//! The values Proxmox takes as property strings (`net0`, `scsi0`,
//! `ipconfig0`, ...), typed, so a caller never assembles one by hand.

use super::*;

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
    pub(super) fn as_str(self) -> &'static str {
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

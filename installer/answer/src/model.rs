//! The answer model, in the answer file's own shape (kebab-case keys, one
//! struct per section), so that a wizard-made answer saves as a file that
//! parses back to the same value.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Backup, Secret};

/// udev property name -> glob that must match the whole value.
pub type Filter = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Answer {
    pub global: Global,
    /// Absent: the TAPPaaS convention (static, 10.0.0.(9+N)/24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    pub disk_setup: DiskSetup,
    #[serde(default)]
    pub node: Node,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tank1: Option<Tank1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tank2: Option<Tank2>,
    #[serde(default)]
    pub bridges: Bridges,
    /// Absent: the default zones (see `Zone::defaults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<Zone>>,
    #[serde(default)]
    pub firewall: Firewall,
    #[serde(default)]
    pub services: Services,
    #[serde(default, skip_serializing_if = "Backup::is_default")]
    pub backup: Backup,
}

// ---------------------------------------------------------------- [global]

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Global {
    pub keyboard: String,
    pub country: String,
    pub fqdn: Fqdn,
    pub mailto: String,
    pub timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_hashed: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_ssh_keys: Vec<String>,
    #[serde(default)]
    pub reboot_on_error: bool,
    #[serde(default)]
    pub reboot_mode: RebootMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fqdn {
    Name(String),
    FromDhcp(FqdnFromDhcp),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FqdnFromDhcp {
    pub source: FromDhcpMarker,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromDhcpMarker {
    #[serde(rename = "from-dhcp")]
    FromDhcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebootMode {
    #[default]
    Reboot,
    PowerOff,
}

// --------------------------------------------------------------- [network]

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Network {
    pub source: NetworkSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Cidr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<IpAddr>,
    /// Chooses the management NIC (the port of bridge `lan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkSource {
    FromDhcp,
    FromAnswer,
}

/// An address with its prefix length, e.g. `10.0.0.10/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').ok_or_else(|| {
            format!("'{s}' is not in CIDR notation (address/prefix, e.g. 10.0.0.10/24)")
        })?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("'{prefix}' is not a prefix length (0..={max})"))?;
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Cidr {
    /// The network this address is in, as `10.0.0.0/24`.
    pub fn network(&self) -> Cidr {
        crate::rules::network_of(self)
    }

    /// Whether `ip` lies in this address's network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                // checked: a prefix of 0 (or a bad one from a hand-built
                // value) must not overflow the shift.
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

// ------------------------------------------------------------ [disk-setup]

/// The boot disk(s): `rpool`, as Proxmox's installer lays it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskSetup {
    pub filesystem: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_list: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_match: Option<FilterMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zfs: Option<ZfsOptions>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterMatch {
    #[default]
    Any,
    All,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ZfsOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raid: Option<ZfsRaid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ashift: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<u8>,
    /// ZFS ARC maximum in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arc_max: Option<u64>,
    /// Size of the rpool partition in GB; the rest of the disk is left
    /// free (or becomes tank2 with `[tank2] boot-remainder = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdsize: Option<f64>,
}

/// Proxmox's ZFS RAID levels (spelled case-insensitively in files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZfsRaid {
    Raid0,
    Raid1,
    Raid10,
    RaidZ1,
    RaidZ2,
    RaidZ3,
}

impl ZfsRaid {
    pub const ALL: [ZfsRaid; 6] = [
        ZfsRaid::Raid0,
        ZfsRaid::Raid1,
        ZfsRaid::Raid10,
        ZfsRaid::RaidZ1,
        ZfsRaid::RaidZ2,
        ZfsRaid::RaidZ3,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ZfsRaid::Raid0 => "raid0",
            ZfsRaid::Raid1 => "raid1",
            ZfsRaid::Raid10 => "raid10",
            ZfsRaid::RaidZ1 => "raidz-1",
            ZfsRaid::RaidZ2 => "raidz-2",
            ZfsRaid::RaidZ3 => "raidz-3",
        }
    }

    /// Proxmox's minimum disk counts.
    pub fn min_disks(self) -> usize {
        match self {
            ZfsRaid::Raid0 => 1,
            ZfsRaid::Raid1 => 2,
            ZfsRaid::Raid10 => 4,
            ZfsRaid::RaidZ1 => 3,
            ZfsRaid::RaidZ2 => 4,
            ZfsRaid::RaidZ3 => 5,
        }
    }
}

impl fmt::Display for ZfsRaid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ZfsRaid {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        ZfsRaid::ALL
            .into_iter()
            .find(|r| r.as_str() == lower)
            .ok_or_else(|| {
                format!("unknown ZFS RAID level '{s}' (one of raid0, raid1, raid10, raidz-1, raidz-2, raidz-3)")
            })
    }
}

impl Serialize for ZfsRaid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ZfsRaid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ------------------------------------------------------------------ [node]

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Node {
    /// N in tappaasN; the default management address is 10.0.0.(9+N).
    #[serde(default = "default_node_number")]
    pub number: u8,
    /// Selected disks that hold data (partitions, filesystems, pools other
    /// than a kept tank1/tank2) may be erased. Without it such a disk is an
    /// error, so that nothing is lost by accident.
    #[serde(default)]
    pub erase_disks_with_data: bool,
    /// A pool named rpool on a disk the install does not touch (an old
    /// system disk) is renamed `rpool-OLD-<id>`, its data kept, so the new
    /// node never boots from it. Without it such a disk is an error.
    #[serde(default)]
    pub rename_old_rpool: bool,
}

fn default_node_number() -> u8 {
    1
}

impl Default for Node {
    fn default() -> Self {
        Node {
            number: default_node_number(),
            erase_disks_with_data: false,
            rename_old_rpool: false,
        }
    }
}

// --------------------------------------------------------------- [cluster]

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Cluster {
    #[serde(default)]
    pub action: ClusterAction,
    /// Cluster name (create only): Proxmox allows 1-15 characters of
    /// letters, digits and '-'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Join only: address of an existing node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Join only: SHA-256 fingerprint of the peer's API certificate
    /// (`AB:CD:...`, 32 bytes), as the user confirmed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Join only: root@pam password of the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_password: Option<Secret>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            action: ClusterAction::Create,
            name: None,
            peer: None,
            fingerprint: None,
            peer_password: None,
        }
    }
}

pub const DEFAULT_CLUSTER_NAME: &str = "tappaas";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterAction {
    #[default]
    Create,
    Join,
}

// ------------------------------------------------------- [tank1] / [tank2]

/// tank1: the redundant data pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Tank1 {
    pub layout: Tank1Layout,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_list: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_match: Option<FilterMatch>,
    /// Required for `layout = "single"`: a tank1 without redundancy.
    #[serde(default)]
    pub allow_no_redundancy: bool,
    #[serde(default)]
    pub existing: ExistingPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tank1Layout {
    /// One disk, no redundancy: only with `allow-no-redundancy = true`.
    Single,
    Mirror,
    /// Striped mirrors (pairs).
    Raid10,
    #[serde(rename = "raidz-1", alias = "raidz1")]
    RaidZ1,
    #[serde(rename = "raidz-2", alias = "raidz2")]
    RaidZ2,
    #[serde(rename = "raidz-3", alias = "raidz3")]
    RaidZ3,
}

impl Tank1Layout {
    pub fn min_disks(self) -> usize {
        match self {
            Tank1Layout::Single => 1,
            Tank1Layout::Mirror => 2,
            Tank1Layout::Raid10 => 4,
            Tank1Layout::RaidZ1 => 3,
            Tank1Layout::RaidZ2 => 4,
            Tank1Layout::RaidZ3 => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tank1Layout::Single => "single",
            Tank1Layout::Mirror => "mirror",
            Tank1Layout::Raid10 => "raid10",
            Tank1Layout::RaidZ1 => "raidz-1",
            Tank1Layout::RaidZ2 => "raidz-2",
            Tank1Layout::RaidZ3 => "raidz-3",
        }
    }
}

/// tank2: the pool without redundancy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Tank2 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_list: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_match: Option<FilterMatch>,
    /// Use the rest of the boot disk(s) after rpool (needs `zfs.hdsize`).
    #[serde(default)]
    pub boot_remainder: bool,
    #[serde(default)]
    pub existing: ExistingPool,
}

/// What to do when the pool already exists on the selected disks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExistingPool {
    /// Import it and keep its data (the default).
    #[default]
    Keep,
    /// Destroy it and create it anew.
    Wipe,
}

// --------------------------------------------------------------- [bridges]

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Bridges {
    /// Chooses the WAN NIC (the port of bridge `wan`, used only by the
    /// firewall VM). Absent: the first NIC that is not the management NIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wan_filter: Option<Filter>,
}

// ----------------------------------------------------------------- [[zones]]

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Zone {
    pub name: String,
    pub vlan: u16,
    pub cidr: Cidr,
}

impl Zone {
    /// TAPPaaS's default zones: VLAN tags on bridge `lan`, one /24 each.
    pub fn defaults() -> Vec<Zone> {
        [
            ("srv", 210u16, 2u8),
            ("home", 310, 3),
            ("iot", 410, 4),
            ("guest", 510, 5),
            ("dmz", 610, 6),
        ]
        .into_iter()
        .map(|(name, vlan, net)| Zone {
            name: name.to_string(),
            vlan,
            cidr: Cidr {
                addr: IpAddr::V4(Ipv4Addr::new(10, net, 0, 1)),
                prefix: 24,
            },
        })
        .collect()
    }
}

// -------------------------------------------------------------- [firewall]

/// The OPNsense firewall VM that the first node deploys at first boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Firewall {
    #[serde(default = "Firewall::default_deploy")]
    pub deploy: bool,
    /// The firewall's address on the management network (bridge `lan`).
    /// Absent: the management network's first address (TAPPaaS's
    /// convention: the firewall is that network's gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan_address: Option<Cidr>,
    #[serde(default)]
    pub wan: WanMode,
    /// With `wan = "static"`: the WAN address and its gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wan_address: Option<Cidr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wan_gateway: Option<IpAddr>,
}

impl Firewall {
    fn default_deploy() -> bool {
        true
    }
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall {
            deploy: true,
            lan_address: None,
            wan: WanMode::Dhcp,
            wan_address: None,
            wan_gateway: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WanMode {
    #[default]
    Dhcp,
    Static,
}

// -------------------------------------------------------------- [services]

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Services {
    /// Catalog names of the services to deploy after the firewall.
    #[serde(default = "Services::default_deploy")]
    pub deploy: Vec<String>,
    /// A container registry (host or host/path) serving the Docker Hub
    /// namespaces of the images the container services run, e.g. a local
    /// mirror. Absent: the VMs' Docker pulls from its default registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_registry: Option<String>,
}

// `CATALOG_BASE` and `CATALOG_KNOWN`: the service catalog's names (its
// files are the one list of services; build.rs reads them).
include!(concat!(env!("OUT_DIR"), "/services.rs"));

impl Services {
    /// The base services: deployed unless the answer leaves them out.
    pub const BASE: [&'static str; CATALOG_BASE.len()] = CATALOG_BASE;

    /// Every service that `deploy` may name: the base services, then the
    /// optional ones.
    pub const KNOWN: &'static [&'static str] = CATALOG_KNOWN;

    fn default_deploy() -> Vec<String> {
        Self::BASE.iter().map(|s| s.to_string()).collect()
    }
}

impl Default for Services {
    fn default() -> Self {
        Services {
            deploy: Self::default_deploy(),
            container_registry: None,
        }
    }
}

// ------------------------------------------------------------------ errors

/// One problem in an answer: where it is and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerError {
    /// Dotted key path, e.g. `disk-setup.zfs.raid`; empty for the file.
    pub key: String,
    /// 1-based line in the answer file, when the answer came from a file.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (Some(line), false) => write!(f, "line {line}: {}: {}", self.key, self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.key, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raid_levels_parse_case_insensitively() {
        assert_eq!("RAIDZ-2".parse::<ZfsRaid>(), Ok(ZfsRaid::RaidZ2));
        assert_eq!("raid10".parse::<ZfsRaid>(), Ok(ZfsRaid::Raid10));
        assert!("raid5".parse::<ZfsRaid>().is_err());
    }

    #[test]
    fn cidr_contains() {
        let net: Cidr = "10.0.0.10/24".parse().expect("cidr");
        assert!(net.contains("10.0.0.1".parse().expect("ip")));
        assert!(!net.contains("10.0.1.1".parse().expect("ip")));
        assert!("10.0.0.10".parse::<Cidr>().is_err());
        assert!("10.0.0.10/33".parse::<Cidr>().is_err());
        let all: Cidr = "10.0.0.10/0".parse().expect("cidr");
        assert!(all.contains("192.168.1.1".parse().expect("ip")));
        let bad = Cidr {
            addr: "10.0.0.1".parse().expect("ip"),
            prefix: 40,
        };
        assert!(bad.contains("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn known_services_start_with_the_base_ones() {
        assert_eq!(
            &Services::KNOWN[..Services::BASE.len()],
            &Services::BASE[..]
        );
    }
}

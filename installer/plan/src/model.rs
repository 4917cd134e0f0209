//! The plan: everything the installer will do, as data.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use tappaas_answer::{Cidr, MacAddr};

/// The plan file's format. Version 2: addresses, prefixes and gateways are
/// typed (still written as text, e.g. `"10.0.0.2/24"`). A plan of another
/// version is refused by [`Plan::from_json`]: plan again.
pub const PLAN_VERSION: u32 = 2;

/// Root of the target system while it is being installed.
pub const TARGET_ROOT: &str = "/target";

/// The first step after which the node's root filesystem exists, so the
/// install journal and log can be kept on the node itself.
pub const NODE_ROOT_EXISTS_AFTER: &str = "create-rpool";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    pub plan_version: u32,
    pub node: NodePlan,
    pub warnings: Vec<Finding>,
    /// Every disk of the machine and what happens to it.
    pub disks: Vec<DiskPlan>,
    pub partitions: Vec<PartitionPlan>,
    pub pools: Vec<PoolPlan>,
    pub network: NetworkPlan,
    pub zfs_arc_max_bytes: u64,
    /// The OPNsense VM first boot deploys; `None` on a joining node, when
    /// the answer says no, or when the ISO carries no OPNsense image.
    #[serde(default)]
    pub firewall: Option<FirewallPlan>,
    /// Catalog names to deploy after the firewall (first boot resolves
    /// their dependencies and order); empty without a firewall.
    pub services: Vec<String>,
    /// `services.container-registry` from the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_registry: Option<String>,
    /// Old pools named rpool on disks the install does not touch, renamed
    /// with the answer's consent (`node.rename-old-rpool`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_pools: Vec<RenamedPool>,
    /// What sanoid snapshots on the node (`backup.snapshots`); `None`: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<crate::SnapshotPolicy>,
    /// Replication of tank1 to another node (`backup.replication`);
    /// `None`: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<crate::ReplicationPlan>,
    /// In order; each step is journaled by the executor.
    pub steps: Vec<Step>,
}

/// A pool imported by its id under a new name, then exported again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RenamedPool {
    pub name: String,
    /// The pool's id (decimal, as `zpool import` shows it).
    pub guid: String,
    pub new_name: String,
    /// The disks it lives on (stable paths).
    pub disks: Vec<String>,
    /// The devices to import it from (stable paths of its partitions).
    pub devices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodePlan {
    pub hostname: String,
    /// `None` when the domain comes from DHCP at install time.
    pub domain: Option<String>,
    pub number: u8,
    pub flavour: Flavour,
    pub firmware: tappaas_hardware::Firmware,
    pub cluster: ClusterPlan,
    pub timezone: String,
    pub keyboard: String,
    pub country: String,
    pub mailto: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum ClusterPlan {
    Create {
        name: String,
    },
    Join {
        peer: String,
        /// The peer certificate fingerprint the user confirmed.
        fingerprint: String,
    },
}

/// Which target system the ISO carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    /// Debian + Proxmox VE.
    Pve,
    /// Debian without the Proxmox packages (what the tests use).
    Test,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Pve => "pve",
            Flavour::Test => "test",
        })
    }
}

/// What the planner needs to know about the installer itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Environment {
    pub flavour: Flavour,
    /// Path of the target system image (squashfs) on the live system.
    pub target_image: String,
    /// The OPNsense image on the live system, when the ISO carries one.
    #[serde(default)]
    pub firewall_image: Option<String>,
    /// The service VMs' template image on the live system, when the ISO
    /// carries one.
    #[serde(default)]
    pub service_template: Option<String>,
}

impl Default for Environment {
    /// A full `pve` ISO, as `plan` assumes off an ISO.
    fn default() -> Self {
        Environment {
            flavour: Flavour::Pve,
            target_image: "/run/live/medium/.tappaas/target-pve.squashfs".to_string(),
            firewall_image: Some("/run/live/medium/.tappaas/firewall/opnsense.img".to_string()),
            service_template: Some(
                "/run/live/medium/.tappaas/templates/debian-cloud.qcow2".to_string(),
            ),
        }
    }
}

/// Where the install puts the ISO's VM images on the node, for first boot.
pub const NODE_IMAGES_DIR: &str = "/var/lib/tappaas/images";
pub const FIREWALL_IMAGE_ON_NODE: &str = "/var/lib/tappaas/images/opnsense.img";
pub const SERVICE_TEMPLATE_ON_NODE: &str = "/var/lib/tappaas/images/debian-cloud.qcow2";
/// The VM id of the firewall (below the services' 200..).
pub const FIREWALL_VMID: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FirewallPlan {
    pub vmid: u32,
    /// The firewall's LAN address with the management prefix.
    pub lan: Cidr,
    pub wan: WanPlan,
    /// The OPNsense disk image on the node.
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum WanPlan {
    Dhcp,
    Static { address: Cidr, gateway: IpAddr },
}

impl fmt::Display for WanPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WanPlan::Dhcp => f.write_str("DHCP"),
            WanPlan::Static { address, gateway } => write!(f, "{address} via {gateway}"),
        }
    }
}

/// A warning the user should read before confirming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Finding {
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskRole {
    Boot,
    Tank1,
    Tank2,
    /// Not selected: never written to.
    Untouched,
    /// The installer's own boot medium: never a target.
    InstallerMedium,
}

impl fmt::Display for DiskRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiskRole::Boot => "boot (rpool)",
            DiskRole::Tank1 => "tank1",
            DiskRole::Tank2 => "tank2",
            DiskRole::Untouched => "not touched",
            DiskRole::InstallerMedium => "installer medium",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DiskPlan {
    /// Stable path: `/dev/disk/by-id/...`, or `/dev/disk/by-path/...` for
    /// a disk without a by-id name (a warning names it).
    pub path: String,
    /// Kernel name at probe time, for the user's orientation only.
    pub kernel_name: String,
    /// Device number `MAJOR:MINOR` at probe time (empty when unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device: String,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub size_bytes: u64,
    pub role: DiskRole,
    /// The disk's content is destroyed.
    pub erase: bool,
    /// What is on it now (`empty` when nothing), for people to read.
    pub current_content: String,
    /// Whether anything is on it now (unknown contents count as data), for
    /// decisions: `current_content` is display text.
    pub holds_data: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PartitionPlan {
    pub disk: String,
    pub number: u32,
    /// Stable path of the partition (`<disk>-partN`).
    pub path: String,
    pub purpose: PartitionPurpose,
    /// `None`: to the end of the disk.
    pub size_bytes: Option<u64>,
    /// sgdisk type code.
    pub type_code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionPurpose {
    BiosBoot,
    Efi,
    Rpool,
    Tank2,
}

impl fmt::Display for PartitionPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PartitionPurpose::BiosBoot => "BIOS boot",
            PartitionPurpose::Efi => "EFI system",
            PartitionPurpose::Rpool => "ZFS rpool",
            PartitionPurpose::Tank2 => "ZFS tank2",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoolPlan {
    pub name: String,
    pub action: PoolAction,
    /// Every member device (disk or partition), stable paths.
    pub disks: Vec<String>,
    /// Empty for an imported pool: it keeps the layout it has.
    pub vdevs: Vec<Vdev>,
    /// Pool properties (`-o`).
    pub properties: BTreeMap<String, String>,
    /// Root dataset properties (`-O`).
    pub filesystem_properties: BTreeMap<String, String>,
    pub datasets: Vec<Dataset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolAction {
    Create,
    /// Already on these disks: import and keep its data.
    Import,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Vdev {
    pub kind: VdevKind,
    pub devices: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VdevKind {
    /// A single device (pool stripes across such vdevs).
    Disk,
    Mirror,
    Raidz1,
    Raidz2,
    Raidz3,
}

impl VdevKind {
    /// The `zpool create` keyword, none for a plain disk.
    pub fn keyword(self) -> Option<&'static str> {
        match self {
            VdevKind::Disk => None,
            VdevKind::Mirror => Some("mirror"),
            VdevKind::Raidz1 => Some("raidz1"),
            VdevKind::Raidz2 => Some("raidz2"),
            VdevKind::Raidz3 => Some("raidz3"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Dataset {
    pub name: String,
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NetworkPlan {
    pub management_nic: String,
    /// `None` when the card reported no (valid) hardware address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_mac: Option<MacAddr>,
    pub address: Address,
    pub gateway: Option<IpAddr>,
    pub dns: Option<IpAddr>,
    /// `None` on a one-NIC machine: bridge `wan` gets no port.
    pub wan_nic: Option<String>,
    pub zones: Vec<ZonePlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "source", content = "cidr")]
pub enum Address {
    Static(Cidr),
    /// Taken from the DHCP lease at install time and written statically.
    FromDhcp,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Static(cidr) => cidr.fmt(f),
            Address::FromDhcp => f.write_str("from DHCP at install time"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ZonePlan {
    pub name: String,
    pub vlan: u16,
    pub cidr: Cidr,
}

/// One journaled unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Step {
    /// Stable id, used by the journal to resume.
    pub id: String,
    pub title: String,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Action {
    /// Stop unless `path` leads to a disk that still has this serial and
    /// size, that no other disk shares its name or identity with, and, in
    /// the boot `boot_id` that was probed, that is the device `device`
    /// (device numbers may change across boots): the machine may have
    /// changed since it was probed.
    CheckDisk {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        boot_id: Option<String>,
        serial: Option<String>,
        size_bytes: u64,
    },
    Run(Command),
    /// A file on the target system (path relative to its root).
    WriteFile(FileSpec),
    Symlink {
        path: String,
        target: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Command {
    pub argv: Vec<String>,
    /// What to feed on standard input; secrets are named, never included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Stdin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stdin {
    /// `root:<password>` (chpasswd) from the answer's root-password.
    RootPassword,
    /// `root:<hash>` (chpasswd -e) from the answer's root-password-hashed.
    RootPasswordHash,
    /// The peer's root password (cluster.peer-password), for a join.
    PeerPassword,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileSpec {
    pub path: String,
    /// Octal mode as text (`0644`), as people read it.
    pub mode: String,
    pub content: FileContent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "from", content = "text")]
pub enum FileContent {
    Text(String),
    /// This plan, as JSON, written by the executor.
    ThePlan,
    /// `/etc/hosts` naming the address the management bridge leased by
    /// DHCP at install time (known only then).
    HostsForLease,
}

impl Command {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    /// A command run inside the target system.
    pub fn chroot<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut full = vec!["chroot".to_string(), TARGET_ROOT.to_string()];
        full.extend(argv.into_iter().map(Into::into));
        Command {
            argv: full,
            stdin: None,
        }
    }

    pub fn with_stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = Some(stdin);
        self
    }
}

impl fmt::Display for Command {
    /// Shell-quoted, so a printed plan can be read (and pasted) as commands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self.argv.iter().map(|a| shell_quote(a)).collect();
        f.write_str(&quoted.join(" "))?;
        match self.stdin {
            Some(Stdin::RootPassword) => f.write_str("  < root:<password from the answer>"),
            Some(Stdin::RootPasswordHash) => f.write_str("  < root:<hash from the answer>"),
            Some(Stdin::PeerPassword) => f.write_str("  < <peer password from the answer>"),
            None => Ok(()),
        }
    }
}

pub(crate) fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

impl Address {
    /// The static address without its prefix; `None` when it comes from
    /// DHCP at install time.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Address::Static(cidr) => Some(cidr.addr),
            Address::FromDhcp => None,
        }
    }
}

impl Plan {
    /// Read a plan file's JSON. A plan of another [`PLAN_VERSION`] is
    /// refused before its fields are read, with what to do about it.
    pub fn from_json(text: &str) -> Result<Plan, String> {
        /// Only the version: readable in a plan of any version.
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Version {
            plan_version: Option<u32>,
        }
        let version = serde_json::from_str::<Version>(text)
            .map_err(|e| format!("not a plan: {e}"))?
            .plan_version;
        if version != Some(PLAN_VERSION) {
            let found = version.map_or_else(
                || "no plan-version".to_string(),
                |v| format!("plan version {v}"),
            );
            return Err(format!(
                "{found}, but this installer reads plan version {PLAN_VERSION}: the plan was made by another installer version; make the plan again (re-plan) with this installer"
            ));
        }
        serde_json::from_str(text).map_err(|e| format!("not a plan this installer can read: {e}"))
    }

    /// Every file the plan writes on the node, in order.
    pub fn files(&self) -> impl Iterator<Item = &FileSpec> {
        self.steps
            .iter()
            .flat_map(|s| s.actions.iter())
            .filter_map(|a| match a {
                Action::WriteFile(f) => Some(f),
                _ => None,
            })
    }

    /// Every command, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.steps
            .iter()
            .flat_map(|s| s.actions.iter())
            .filter_map(|a| match a {
                Action::Run(c) => Some(c),
                _ => None,
            })
    }

    pub fn disks_to_erase(&self) -> impl Iterator<Item = &DiskPlan> {
        self.disks.iter().filter(|d| d.erase)
    }

    pub fn to_json(&self) -> String {
        // A plan holds only strings, numbers and maps with string keys, so
        // serialising it cannot fail; fall back to an explanation anyway.
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"plan not serialisable: {e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_print_shell_quoted() {
        let c = Command::new(["zfs", "create", "-o", "mountpoint=/", "rpool/ROOT/pve-1"]);
        assert_eq!(c.to_string(), "zfs create -o mountpoint=/ rpool/ROOT/pve-1");
        let c = Command::new(["sh", "-c", "echo 'hi there'"]);
        assert_eq!(c.to_string(), r#"sh -c 'echo '\''hi there'\'''"#);
    }

    /// The golden plan of a recorded machine, as the installer wrote it.
    fn golden_json() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/plans/mini-pc/plan.json"
        );
        std::fs::read_to_string(path).expect("golden plan")
    }

    #[test]
    fn a_plan_of_another_version_is_refused_with_what_to_do() {
        let text = golden_json();
        let current = format!("\"plan-version\": {PLAN_VERSION},");
        assert!(
            text.contains(&current),
            "the golden plan is not version {PLAN_VERSION}"
        );
        assert!(Plan::from_json(&text).is_ok());
        // Version 1 held the same addresses as plain strings: it would
        // read, but nothing may assume it means what version 2 means.
        let old = text.replace(&current, "\"plan-version\": 1,");
        let e = Plan::from_json(&old).expect_err("version 1 refused");
        assert!(e.contains("plan version 1"), "{e}");
        assert!(e.contains("re-plan"), "{e}");
        let none = text.replace(&current, "");
        let e = Plan::from_json(&none).expect_err("no version refused");
        assert!(e.contains("no plan-version"), "{e}");
    }

    #[test]
    fn addresses_are_typed_and_written_as_text() {
        let plan = Plan::from_json(&golden_json()).expect("golden plan");
        let Address::Static(cidr) = plan.network.address else {
            panic!("mini-pc has a static address");
        };
        assert_eq!(plan.network.address.ip(), Some(cidr.addr));
        let fw = plan.firewall.as_ref().expect("a firewall");
        assert_eq!(fw.lan.to_string(), "10.0.0.1/24");
        let json: serde_json::Value = serde_json::from_str(&plan.to_json()).expect("json");
        assert_eq!(json["firewall"]["lan"], "10.0.0.1/24");
        assert_eq!(json["network"]["zones"][0]["cidr"], "10.2.0.1/24");
        // A malformed address is refused when the plan is read, not
        // where it is used.
        let bad = golden_json().replace("\"10.0.0.1/24\"", "\"10.0.0.1\"");
        let e = Plan::from_json(&bad).expect_err("no prefix");
        assert!(e.contains("CIDR"), "{e}");
    }
}

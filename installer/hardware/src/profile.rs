use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Everything the installer found on one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MachineProfile {
    /// Format version of this profile, bumped when fields change meaning.
    pub profile_version: u32,
    pub cpu: Cpu,
    pub memory_bytes: u64,
    pub firmware: Firmware,
    pub disks: Vec<Disk>,
    pub nics: Vec<Nic>,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`) when the
    /// profile was probed: device numbers (`Disk::device`) are only
    /// meaningful within that boot. `None` for recordings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

pub const PROFILE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Cpu {
    pub model: String,
    /// Physical cores (all sockets).
    pub cores: u32,
    /// Logical CPUs (hardware threads).
    pub threads: u32,
    pub virtualization: Option<Virtualization>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Virtualization {
    /// Intel VT-x (`vmx` CPU flag).
    Vmx,
    /// AMD-V (`svm` CPU flag).
    Svm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Firmware {
    Uefi,
    Bios,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    Nvme,
    Sata,
    Sas,
    Scsi,
    Usb,
    Virtio,
    Mmc,
    Unknown,
}

/// One whole block device (not a partition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Disk {
    /// Kernel name, e.g. `sda`, `nvme0n1`, `vdb`. Never used as an address
    /// in plans: see `stable_path`.
    pub name: String,
    /// Kernel device number `MAJOR:MINOR` (`/sys/block/NAME/dev`): which
    /// device a name led to in the boot that was probed.
    #[serde(default)]
    pub device: String,
    /// Every `/dev/disk/by-id/...` link of the disk, best first.
    pub by_id: Vec<String>,
    /// udev's `/dev/disk/by-path/...` link (without the prefix): names the
    /// slot the disk is plugged into, for disks without a by-id name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_path: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub wwn: Option<String>,
    pub size_bytes: u64,
    pub logical_sector_bytes: u32,
    pub physical_sector_bytes: u32,
    pub rotational: bool,
    pub transport: Transport,
    pub removable: bool,
    /// `gpt` or `dos` when the disk has a partition table; `unknown` when
    /// sysfs shows partitions but udev did not name the table.
    pub partition_table: Option<String>,
    pub partitions: Vec<Partition>,
    /// Filesystem signature on the whole disk (no partition table).
    pub filesystem: Option<Filesystem>,
    /// ZFS pools whose labels were found on the disk or its partitions.
    pub zfs_pools: Vec<String>,
    /// The installer itself was booted from this disk: never a target.
    pub boot_medium: bool,
    /// udev properties (`E:` lines of the udev database), for answer filters.
    pub udev: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Partition {
    pub name: String,
    pub number: u32,
    pub size_bytes: u64,
    pub filesystem: Option<Filesystem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Filesystem {
    /// blkid's `TYPE`, e.g. `ext4`, `vfat`, `zfs_member`, `iso9660`.
    pub fs_type: String,
    pub label: Option<String>,
    pub uuid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Nic {
    pub name: String,
    pub mac: String,
    pub driver: Option<String>,
    /// Carrier detected; `None` when the interface is down and cannot tell.
    pub link: Option<bool>,
    pub speed_mbps: Option<u32>,
    pub udev: BTreeMap<String, String>,
    /// The DHCP lease the live system holds on this NIC, if any: what the
    /// network it is plugged into offers (the wizard's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<DhcpLease>,
}

/// What a DHCP server gave the live system on one NIC (IPv4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DhcpLease {
    pub address: Ipv4Addr,
    /// Prefix length from the lease's netmask.
    pub prefix: u8,
    /// The first router of the lease.
    pub gateway: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    /// The domain name option (15); `None` when the server sent none.
    pub domain: Option<String>,
    /// The domain search list option (119).
    pub search: Vec<String>,
}

/// What kind of name `Disk::stable_path` gives, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskNameKind {
    /// `/dev/disk/by-id/...`: model and serial (or WWN), wherever the disk
    /// is plugged in.
    ById,
    /// `/dev/disk/by-path/...`: the slot (controller port, PCI address),
    /// whatever disk is plugged into it.
    ByPath,
    /// `/dev/NAME`: the kernel name, which may change at every boot.
    Kernel,
}

impl Disk {
    /// The address used for this disk in plans, commands and saved
    /// configuration: its best `/dev/disk/by-id` link. Disks without one
    /// (virtual disks without a serial) are named by their slot
    /// (`/dev/disk/by-path`), which the planner reports as a warning; the
    /// kernel name is the last resort (no udev), which the planner refuses.
    pub fn stable_path(&self) -> String {
        match (self.by_id.first(), &self.by_path) {
            (Some(id), _) => format!("/dev/disk/by-id/{id}"),
            (None, Some(path)) => format!("/dev/disk/by-path/{path}"),
            (None, None) => format!("/dev/{}", self.name),
        }
    }

    pub fn name_kind(&self) -> DiskNameKind {
        match (self.by_id.is_empty(), &self.by_path) {
            (false, _) => DiskNameKind::ById,
            (true, Some(_)) => DiskNameKind::ByPath,
            (true, None) => DiskNameKind::Kernel,
        }
    }

    /// Why `other` cannot be told apart from this disk by name or identity
    /// (`None` when it can): a by-id name both carry (udev points it at
    /// only one of them), or the same serial and WWN (a cloned virtual
    /// disk, USB bridges reporting one serial, one SAS disk seen by two
    /// paths without multipath).
    pub fn shared_identity(&self, other: &Disk) -> Option<String> {
        if let Some(id) = self.by_id.iter().find(|id| other.by_id.contains(id)) {
            return Some(format!("the name /dev/disk/by-id/{id}"));
        }
        match (&self.serial, &other.serial) {
            (Some(a), Some(b)) if a == b && self.wwn == other.wwn => Some(match &self.wwn {
                Some(wwn) => format!("serial {a} and WWN {wwn}"),
                None => format!("serial {a}"),
            }),
            _ => None,
        }
    }

    pub fn is_ssd(&self) -> bool {
        !self.rotational
    }

    /// udev never described the disk (no udev database: a container, a
    /// host without udevd), so partition tables and filesystems were not
    /// seen. The live installer always runs udev.
    pub fn contents_unknown(&self) -> bool {
        self.udev.is_empty()
    }

    /// Whether anything recognisable is on the disk now. Unknown contents
    /// count as data: not knowing is no reason to erase without asking.
    pub fn holds_data(&self) -> bool {
        self.contents_unknown()
            || self.partition_table.is_some()
            || self.filesystem.is_some()
            || !self.zfs_pools.is_empty()
            || self.partitions.iter().any(|p| p.filesystem.is_some())
    }

    /// A one-line human description: model, serial, size, type.
    pub fn describe(&self) -> String {
        format!(
            "{} (serial {}, {}, {}{})",
            self.model.as_deref().unwrap_or("unknown model"),
            self.serial.as_deref().unwrap_or("none"),
            human_bytes(self.size_bytes),
            transport_name(self.transport),
            if self.rotational { " HDD" } else { " SSD" },
        )
    }

    /// What is on the disk now, in words ("empty" when nothing).
    pub fn contents(&self) -> String {
        let mut parts = Vec::new();
        for pool in &self.zfs_pools {
            parts.push(format!("ZFS pool {pool}"));
        }
        if let Some(fs) = &self.filesystem {
            parts.push(fs.describe());
        }
        if let Some(table) = &self.partition_table {
            let fss: Vec<String> = self
                .partitions
                .iter()
                .filter_map(|p| p.filesystem.as_ref())
                .filter(|fs| fs.fs_type != "zfs_member")
                .map(Filesystem::describe)
                .collect();
            let mut s = format!("{table} table, {} partition(s)", self.partitions.len());
            if !fss.is_empty() {
                s.push_str(&format!(": {}", fss.join(", ")));
            }
            parts.push(s);
        }
        if parts.is_empty() && self.contents_unknown() {
            "unknown (no udev data)".to_string()
        } else if parts.is_empty() {
            "empty".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// The path of partition `number` of the disk at `disk_path`: udev's
/// links add `-partN` (`/dev/disk/by-id/X-part1`); kernel names ending in a
/// digit add `pN` (`/dev/nvme0n1p1`, `/dev/mmcblk0p1`, `/dev/loop0p1`), the
/// others just `N` (`/dev/sda1`).
pub fn partition_path(disk_path: &str, number: u32) -> String {
    if disk_path.starts_with("/dev/disk/") {
        format!("{disk_path}-part{number}")
    } else if disk_path.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk_path}p{number}")
    } else {
        format!("{disk_path}{number}")
    }
}

impl Filesystem {
    pub fn describe(&self) -> String {
        match &self.label {
            Some(label) => format!("{} \"{label}\"", self.fs_type),
            None => self.fs_type.clone(),
        }
    }
}

pub fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Nvme => "NVMe",
        Transport::Sata => "SATA",
        Transport::Sas => "SAS",
        Transport::Scsi => "SCSI",
        Transport::Usb => "USB",
        Transport::Virtio => "virtio",
        Transport::Mmc => "MMC",
        Transport::Unknown => "unknown bus",
    }
}

/// Sizes as disk vendors print them on labels are decimal; we print binary
/// units with one decimal, which is what `lsblk` and Proxmox show.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl MachineProfile {
    pub fn disk(&self, name: &str) -> Option<&Disk> {
        self.disks.iter().find(|d| d.name == name)
    }

    /// Every pair of disks that share an identity (see
    /// `Disk::shared_identity`), with what they share.
    pub fn shared_identities(&self) -> Vec<(&Disk, &Disk, String)> {
        let mut pairs = Vec::new();
        for (i, a) in self.disks.iter().enumerate() {
            for b in &self.disks[i + 1..] {
                if let Some(what) = a.shared_identity(b) {
                    pairs.push((a, b, what));
                }
            }
        }
        pairs
    }

    pub fn nic(&self, name: &str) -> Option<&Nic> {
        self.nics.iter().find(|n| n.name == name)
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_paths_for_every_kind_of_name() {
        for (disk, part) in [
            (
                "/dev/disk/by-id/nvme-X_S1",
                "/dev/disk/by-id/nvme-X_S1-part3",
            ),
            (
                "/dev/disk/by-id/nvme-X_S1_1",
                "/dev/disk/by-id/nvme-X_S1_1-part3",
            ),
            (
                "/dev/disk/by-path/pci-0000:00:04.0",
                "/dev/disk/by-path/pci-0000:00:04.0-part3",
            ),
            ("/dev/nvme0n1", "/dev/nvme0n1p3"),
            ("/dev/mmcblk0", "/dev/mmcblk0p3"),
            ("/dev/loop0", "/dev/loop0p3"),
            ("/dev/sda", "/dev/sda3"),
            ("/dev/vdb", "/dev/vdb3"),
        ] {
            assert_eq!(partition_path(disk, 3), part, "{disk}");
        }
    }

    #[test]
    fn human_bytes_uses_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(8 * 1024 * 1024 * 1024), "8.0 GiB");
        assert_eq!(human_bytes(1_000_204_886_016), "931.5 GiB");
    }
}

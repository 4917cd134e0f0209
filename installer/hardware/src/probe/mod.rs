//! Reading a machine profile from a live system or a recorded sysroot.
//!
//! `probe` only reads files (`/proc`, `/sys`, the udev database, networkd's
//! DHCP leases), never runs commands, so the same code runs on a live
//! machine and on a recorded tree in tests.

mod cpu;
mod disks;
pub mod lease;
mod nics;
mod sysfs;
pub mod udev;

use std::io;
use std::path::{Path, PathBuf};

use crate::profile::{Disk, Firmware, MachineProfile, PROFILE_VERSION};

pub use cpu::{parse_cpuinfo, parse_meminfo};
pub use disks::medium_mount_sources;

/// Volume label of the installer ISO. The image build uses exactly this
/// label; a disk carrying it is the medium we booted from.
pub const INSTALLER_MEDIUM_LABEL: &str = "TAPPAAS_INSTALLER";

/// Where live-boot mounts the medium it booted from.
pub const LIVE_MEDIUM_MOUNT: &str = "/run/live/medium";

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot parse {}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
}

impl ProbeError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ProbeError::Read { path, .. } | ProbeError::Parse { path, .. } => path,
        }
    }

    pub(crate) fn parse(path: &Path, reason: impl Into<String>) -> Self {
        ProbeError::Parse {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Reads the machine rooted at `sysroot` (`/` on a live system).
pub fn probe(sysroot: &Path) -> Result<MachineProfile, ProbeError> {
    let cpuinfo_path = sysroot.join("proc/cpuinfo");
    let cpu = parse_cpuinfo(&sysfs::read_required(&cpuinfo_path)?)
        .map_err(|reason| ProbeError::parse(&cpuinfo_path, reason))?;

    let meminfo_path = sysroot.join("proc/meminfo");
    let memory_bytes = parse_meminfo(&sysfs::read_required(&meminfo_path)?)
        .map_err(|reason| ProbeError::parse(&meminfo_path, reason))?;

    let firmware = if sysroot.join("sys/firmware/efi").is_dir() {
        Firmware::Uefi
    } else {
        Firmware::Bios
    };

    let disks = disks::probe_disks(sysroot)?;
    let nics = nics::probe_nics(sysroot)?;

    Ok(MachineProfile {
        profile_version: PROFILE_VERSION,
        cpu,
        memory_bytes,
        firmware,
        disks,
        nics,
        boot_id: boot_id(sysroot)?,
    })
}

fn boot_id(sysroot: &Path) -> Result<Option<String>, ProbeError> {
    sysfs::attr(&sysroot.join("proc/sys/kernel/random/boot_id"))
}

/// The disk a path below `/dev` leads to now, read from the device itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedDisk {
    /// The whole disk the path resolves to (its `device` is the number of
    /// the device node the path ends at).
    pub disk: Disk,
    /// Other disks that share its name or identity (kernel name and what
    /// they share): with any, the path cannot tell them apart.
    pub shared_with: Vec<(String, String)>,
    /// The boot the device numbers belong to.
    pub boot_id: Option<String>,
}

/// Follows `path` (e.g. `/dev/disk/by-id/NAME`, `/dev/disk/by-path/NAME`,
/// `/dev/sda`) below `sysroot` to the device node it ends at and describes
/// that disk: its number from `/sys/block/NAME/dev`, its serial and size
/// from its own sysfs and udev records, never by looking the name up
/// among the disks (two disks may carry one by-id name, and the link points
/// at only one of them). `None` when the path leads nowhere.
pub fn resolve_disk(sysroot: &Path, path: &str) -> Result<Option<ResolvedDisk>, ProbeError> {
    let link = sysroot.join(path.trim_start_matches('/'));
    let target = match std::fs::canonicalize(&link) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ProbeError::Read { path: link, source }),
    };
    let dev_dir =
        std::fs::canonicalize(sysroot.join("dev")).map_err(|source| ProbeError::Read {
            path: sysroot.join("dev"),
            source,
        })?;
    let name = target
        .strip_prefix(&dev_dir)
        .ok()
        .and_then(|rel| rel.to_str())
        .filter(|rel| !rel.is_empty() && !rel.contains('/'))
        .map(str::to_string);
    let not_a_disk =
        |what: &str| ProbeError::parse(&link, format!("leads to {}, {what}", target.display()));
    let Some(name) = name else {
        return Err(not_a_disk("which is not a device node"));
    };
    let sys_dir = sysroot.join("sys/block").join(&name);
    if !sys_dir.exists() {
        return Err(not_a_disk("which is not a whole disk (a partition?)"));
    }
    let device = disks::read_dev(&sys_dir)?;
    let all = disks::probe_disks(sysroot)?;
    let Some(disk) = all.iter().find(|d| d.name == name).cloned() else {
        return Err(not_a_disk("which is not a disk the installer can use"));
    };
    if disk.device != device {
        return Err(not_a_disk(&format!(
            "whose number changed from {device} to {} while it was read",
            disk.device
        )));
    }
    let shared_with = all
        .iter()
        .filter(|d| d.name != disk.name)
        .filter_map(|d| disk.shared_identity(d).map(|what| (d.name.clone(), what)))
        .collect();
    Ok(Some(ResolvedDisk {
        disk,
        shared_with,
        boot_id: boot_id(sysroot)?,
    }))
}

/// Orders kernel names the way people expect: digit runs compare as
/// numbers (`nvme2n1` before `nvme10n1`), and, within the same prefix,
/// shorter letter runs first (`sdz` before `sdaa`).
pub(crate) fn kernel_name_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, xa), (db, xb)) in ca.iter().zip(cb.iter()) {
        let ord = match (da, db) {
            (true, true) => {
                let na = xa.trim_start_matches('0');
                let nb = xb.trim_start_matches('0');
                na.len().cmp(&nb.len()).then(na.cmp(nb))
            }
            (false, false) if xa.len() != xb.len() && common_letter_prefix(xa, xb) >= 2 => {
                xa.len().cmp(&xb.len())
            }
            _ => xa.cmp(xb),
        };
        if ord.is_ne() {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then(a.cmp(b))
}

fn common_letter_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_sort_naturally() {
        let mut names = vec![
            "sdaa", "sdb", "nvme10n1", "sda", "nvme2n1", "sdz", "vda", "sr0",
        ];
        names.sort_by(|a, b| kernel_name_order(a, b));
        assert_eq!(
            names,
            ["nvme2n1", "nvme10n1", "sda", "sdb", "sdz", "sdaa", "sr0", "vda"]
        );
        let mut nics = vec!["eno10", "eno2", "enp1s0", "eno1"];
        nics.sort_by(|a, b| kernel_name_order(a, b));
        assert_eq!(nics, ["eno1", "eno2", "eno10", "enp1s0"]);
    }
}

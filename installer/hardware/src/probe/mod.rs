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

use crate::profile::{Firmware, MachineProfile, PROFILE_VERSION};

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
    })
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

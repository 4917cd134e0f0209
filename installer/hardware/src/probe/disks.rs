//! Block devices: `/sys/block/*` plus their udev records.

use std::path::Path;

use super::udev::{self, UdevRecord};
use super::{kernel_name_order, sysfs, ProbeError, INSTALLER_MEDIUM_LABEL, LIVE_MEDIUM_MOUNT};
use crate::profile::{Disk, Filesystem, Partition, Transport};

/// sysfs sizes are always in 512-byte units, whatever the sector size.
const SYSFS_SECTOR: u64 = 512;

pub(crate) fn probe_disks(sysroot: &Path) -> Result<Vec<Disk>, ProbeError> {
    let block = sysroot.join("sys/block");
    let mounts = sysfs::read_optional(&sysroot.join("proc/mounts"))?.unwrap_or_default();
    let medium_sources = medium_mount_sources(&mounts);

    let mut disks = Vec::new();
    for name in sysfs::list_dir(&block)? {
        let disk = if never_a_disk(&name) {
            // Not storage the installer can use, but live-boot may have
            // booted from one (the CD drive, a loop-mounted ISO). Errors
            // on such devices must not stop the probe.
            match read_disk(sysroot, &name, &medium_sources) {
                Ok(Some(disk)) if disk.boot_medium => Some(disk),
                _ => None,
            }
        } else {
            read_disk(sysroot, &name, &medium_sources)?
        };
        disks.extend(disk);
    }
    disks.sort_by(|a, b| kernel_name_order(&a.name, &b.name));
    Ok(disks)
}

/// Kernel block devices that are not disks: loop devices, RAM disks,
/// device-mapper and md arrays (built on disks we list anyway), optical.
fn never_a_disk(name: &str) -> bool {
    ["loop", "ram", "zram", "dm-", "md", "sr", "nbd", "zd"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        // eMMC hardware boot partitions: a few MiB the firmware owns.
        || (name.starts_with("mmcblk") && name.contains("boot"))
}

/// Devices mounted at live-boot's medium mount point, as written in
/// `/proc/mounts` (usually `/dev/sr0` or `/dev/sdb1`).
pub fn medium_mount_sources(mounts: &str) -> Vec<String> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let source = fields.next()?;
            let target = fields.next()?;
            (unescape_mount_field(target) == LIVE_MEDIUM_MOUNT)
                .then(|| unescape_mount_field(source))
        })
        .collect()
}

/// `/proc/mounts` writes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, c| acc.wrapping_mul(8) + (c - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// udev's `*_ENC` properties escape unsafe bytes as `\xNN`.
fn decode_udev_enc(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 2..i + 4)
            .filter(|_| bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x'))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn read_dev(dir: &Path) -> Result<String, ProbeError> {
    let path = dir.join("dev");
    let dev = sysfs::read_required(&path)?.trim().to_string();
    match dev.split_once(':') {
        Some((major, minor))
            if !major.is_empty()
                && !minor.is_empty()
                && dev.bytes().all(|b| b.is_ascii_digit() || b == b':') =>
        {
            Ok(dev)
        }
        _ => Err(ProbeError::parse(
            &path,
            format!("expected MAJOR:MINOR, found {dev:?}"),
        )),
    }
}

fn read_disk(
    sysroot: &Path,
    name: &str,
    medium_sources: &[String],
) -> Result<Option<Disk>, ProbeError> {
    let dir = sysroot.join("sys/block").join(name);
    // The per-path devices of a multipath NVMe namespace (`nvme0c0n1`) are
    // hidden; the namespace itself (`nvme0n1`) is the disk.
    if sysfs::attr(&dir.join("hidden"))?.as_deref() == Some("1") {
        return Ok(None);
    }
    let size_bytes = sysfs::required_u64(&dir.join("size"))?.saturating_mul(SYSFS_SECTOR);
    if size_bytes == 0 {
        // Empty card readers and CD drives without a disc.
        return Ok(None);
    }
    let dev = read_dev(&dir)?;
    let mut record = udev::read_record(sysroot, &format!("b{dev}"))?;
    add_kernel_properties(&mut record.properties, name, &dev);

    let logical = sysfs::optional_u64(&dir.join("queue/logical_block_size"))?.unwrap_or(512);
    let physical = sysfs::optional_u64(&dir.join("queue/physical_block_size"))?.unwrap_or(logical);
    let rotational = sysfs::attr(&dir.join("queue/rotational"))?.as_deref() == Some("1");
    let removable = sysfs::attr(&dir.join("removable"))?.as_deref() == Some("1");

    let devpath = sysfs::link_target(&dir)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let transport = transport(name, &record, &devpath);

    // sysfs `device/model` of SATA disks is the SCSI INQUIRY field, cut to
    // 16 characters; udev's ID_MODEL_ENC has the whole ATA model. ID_MODEL
    // is the last resort: for SATA it has spaces turned into `_`.
    let model = match record
        .get("ID_MODEL_ENC")
        .map(|m| decode_udev_enc(m).trim().to_string())
        .filter(|m| !m.is_empty())
    {
        Some(model) => Some(model),
        None => match sysfs::attr(&dir.join("device/model"))? {
            Some(model) => Some(model),
            None => record.get("ID_MODEL").map(str::to_string),
        },
    };
    let serial = match sysfs::attr(&dir.join("device/serial"))? {
        Some(serial) => Some(serial),
        None => sysfs::attr(&dir.join("serial"))?,
    }
    .or_else(|| {
        // SAS: ID_SERIAL_SHORT is the NAA id; the unit serial is the one
        // printed on the label.
        record
            .get("ID_SCSI_SERIAL")
            .or_else(|| record.get("ID_SERIAL_SHORT"))
            // virtio-blk has only ID_SERIAL, the `-drive serial=` value.
            .or_else(|| (transport == Transport::Virtio).then(|| record.get("ID_SERIAL"))?)
            .map(str::to_string)
    });
    let wwn = match record.get("ID_WWN") {
        Some(wwn) => Some(wwn.to_string()),
        None => match sysfs::attr(&dir.join("wwid"))? {
            Some(wwid) => wwn_from_wwid(&wwid),
            None => sysfs::attr(&dir.join("device/wwid"))?.and_then(|w| wwn_from_wwid(&w)),
        },
    };

    let partitions = read_partitions(sysroot, &dir)?;
    let partition_table = record
        .get("ID_PART_TABLE_TYPE")
        .map(str::to_string)
        // Partitions without udev data: a table we cannot name is still
        // a table, and the disk must not look empty.
        .or_else(|| (!partitions.is_empty()).then(|| "unknown".to_string()));
    let filesystem = filesystem_from(&record);

    let mut zfs_pools: Vec<String> = filesystem
        .iter()
        .chain(partitions.iter().filter_map(|(p, _)| p.filesystem.as_ref()))
        .filter(|fs| fs.fs_type == "zfs_member")
        .filter_map(|fs| fs.label.clone())
        .collect();
    zfs_pools.sort();
    zfs_pools.dedup();

    let by_id = record.by_id();
    let by_path = record.by_path();
    let has_medium_label = filesystem
        .iter()
        .chain(partitions.iter().filter_map(|(p, _)| p.filesystem.as_ref()))
        .any(|fs| fs.label.as_deref() == Some(INSTALLER_MEDIUM_LABEL));
    let mounted_as_medium = medium_sources.iter().any(|source| {
        let Some(dev) = source.strip_prefix("/dev/") else {
            return false;
        };
        // By kernel name, or by any udev link (`/dev/disk/by-label/...`).
        dev == name
            || record.links.iter().any(|l| l == dev)
            || partitions
                .iter()
                .any(|(p, links)| p.name == dev || links.iter().any(|l| l == dev))
    });

    Ok(Some(Disk {
        name: name.to_string(),
        device: dev,
        by_id,
        by_path,
        model,
        serial,
        wwn,
        size_bytes,
        logical_sector_bytes: to_u32(&dir.join("queue/logical_block_size"), logical)?,
        physical_sector_bytes: to_u32(&dir.join("queue/physical_block_size"), physical)?,
        rotational,
        transport,
        removable,
        partition_table,
        partitions: partitions.into_iter().map(|(p, _)| p).collect(),
        filesystem,
        zfs_pools,
        boot_medium: has_medium_label || mounted_as_medium,
        udev: record.properties,
    }))
}

fn to_u32(path: &Path, value: u64) -> Result<u32, ProbeError> {
    u32::try_from(value).map_err(|_| ProbeError::parse(path, format!("{value} is out of range")))
}

/// The partitions of a disk, each with its udev symlinks (to recognise a
/// mount source given as a `/dev/disk/...` link).
fn read_partitions(
    sysroot: &Path,
    dir: &Path,
) -> Result<Vec<(Partition, Vec<String>)>, ProbeError> {
    let mut partitions = Vec::new();
    for name in sysfs::list_dir(dir)? {
        let pdir = dir.join(&name);
        // Attribute files sit next to the partition directories.
        if !pdir.is_dir() {
            continue;
        }
        let Some(number) = sysfs::optional_u64(&pdir.join("partition"))? else {
            continue;
        };
        let number_path = pdir.join("partition");
        let size_bytes = sysfs::required_u64(&pdir.join("size"))?.saturating_mul(SYSFS_SECTOR);
        let dev = read_dev(&pdir)?;
        let record = udev::read_record(sysroot, &format!("b{dev}"))?;
        partitions.push((
            Partition {
                name,
                number: to_u32(&number_path, number)?,
                size_bytes,
                filesystem: filesystem_from(&record),
            },
            record.links,
        ));
    }
    partitions.sort_by_key(|(p, _)| p.number);
    Ok(partitions)
}

fn filesystem_from(record: &UdevRecord) -> Option<Filesystem> {
    let fs_type = record.get("ID_FS_TYPE")?.to_string();
    let label = record
        .get("ID_FS_LABEL_ENC")
        .map(decode_udev_enc)
        .or_else(|| record.get("ID_FS_LABEL").map(str::to_string))
        .filter(|l| !l.is_empty());
    Some(Filesystem {
        fs_type,
        label,
        uuid: record.get("ID_FS_UUID").map(str::to_string),
    })
}

/// `naa.5000c500a1b2c3d4` (SCSI) and `eui.0025388b...` (NVMe) are WWNs;
/// `t10.` and `nvme.` ids are vendor strings, not world-wide names.
fn wwn_from_wwid(wwid: &str) -> Option<String> {
    if let Some(naa) = wwid.strip_prefix("naa.") {
        Some(format!("0x{}", naa.to_ascii_lowercase()))
    } else if wwid.starts_with("eui.") {
        Some(wwid.to_ascii_lowercase())
    } else {
        None
    }
}

fn transport(name: &str, record: &UdevRecord, devpath: &str) -> Transport {
    if name.starts_with("nvme") {
        return Transport::Nvme;
    }
    if name.starts_with("vd") {
        return Transport::Virtio;
    }
    if name.starts_with("mmcblk") {
        return Transport::Mmc;
    }
    let id_path = record.get("ID_PATH").unwrap_or("");
    let sas = id_path.contains("-sas-") || devpath.contains("/end_device-");
    match record.get("ID_BUS") {
        Some("usb") => return Transport::Usb,
        Some("ata") => return Transport::Sata,
        Some("nvme") => return Transport::Nvme,
        Some("scsi") if sas => return Transport::Sas,
        Some("scsi") => return Transport::Scsi,
        _ => {}
    }
    // No udev data: the sysfs device path tells the bus.
    let path = format!("{devpath} {id_path}");
    if path.contains("/usb") || id_path.contains("-usb-") {
        Transport::Usb
    } else if path.contains("/ata") || id_path.contains("-ata-") {
        Transport::Sata
    } else if sas {
        Transport::Sas
    } else if path.contains("/virtio") {
        Transport::Virtio
    } else if name.starts_with("sd") || name.starts_with("sr") {
        Transport::Scsi
    } else {
        Transport::Unknown
    }
}

/// `udevadm info` (what Proxmox's answer filters match, and what people
/// copy filters from) shows the kernel's own device properties beside the
/// udev database's; the database file does not hold them, so add them.
fn add_kernel_properties(
    props: &mut std::collections::BTreeMap<String, String>,
    name: &str,
    dev: &str,
) {
    if props.is_empty() {
        // No udev data at all: leave it empty, so the disk's contents stay
        // "unknown" rather than looking known and empty.
        return;
    }
    let (major, minor) = dev.split_once(':').unwrap_or((dev, ""));
    for (k, v) in [
        ("DEVNAME", format!("/dev/{name}")),
        ("DEVTYPE", "disk".to_string()),
        ("SUBSYSTEM", "block".to_string()),
        ("MAJOR", major.to_string()),
        ("MINOR", minor.to_string()),
    ] {
        props.entry(k.to_string()).or_insert(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_live_medium_mount() {
        let mounts = "/dev/vda1 / ext4 rw 0 0\n\
                      /dev/sr0 /run/live/medium iso9660 ro,noatime 0 0\n\
                      /dev/loop0 /run/live/rootfs/filesystem.squashfs squashfs ro 0 0\n\
                      /dev/sdb1 /run/live/medium\\040old vfat ro 0 0\n";
        assert_eq!(medium_mount_sources(mounts), ["/dev/sr0"]);
        assert!(medium_mount_sources("").is_empty());
        assert_eq!(unescape_mount_field("a\\040b\\134c"), "a b\\c");
        assert_eq!(unescape_mount_field("trail\\04"), "trail\\04");
    }

    #[test]
    fn decodes_udev_enc() {
        assert_eq!(
            decode_udev_enc("Samsung\\x20SSD\\x20870\\x20EVO\\x201TB\\x20\\x20"),
            "Samsung SSD 870 EVO 1TB  "
        );
        assert_eq!(decode_udev_enc("bad\\xZZ\\x"), "bad\\xZZ\\x");
    }

    #[test]
    fn wwids() {
        assert_eq!(
            wwn_from_wwid("naa.5000C500A1B2C3D4").as_deref(),
            Some("0x5000c500a1b2c3d4")
        );
        assert_eq!(
            wwn_from_wwid("eui.002538b811b2c3d4").as_deref(),
            Some("eui.002538b811b2c3d4")
        );
        assert_eq!(wwn_from_wwid("t10.ATA     QEMU HARDDISK"), None);
    }

    #[test]
    fn transport_without_udev() {
        let empty = UdevRecord::default();
        let usb = "../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdd";
        assert_eq!(transport("sdd", &empty, usb), Transport::Usb);
        let ata = "../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda";
        assert_eq!(transport("sda", &empty, ata), Transport::Sata);
        assert_eq!(transport("vda", &empty, ""), Transport::Virtio);
        assert_eq!(transport("sdx", &empty, ""), Transport::Scsi);
        assert_eq!(transport("xvda", &empty, ""), Transport::Unknown);
    }
}

//! Partitions of the boot disks and the ZFS pools with their vdevs.

use std::collections::BTreeMap;

use tappaas_answer::{Answer, Tank1, Tank1Layout, ZfsOptions, ZfsRaid};
use tappaas_hardware::{human_bytes, partition_path, Disk, MachineProfile};

use crate::disks::Roles;
use crate::{
    Dataset, Field, Finding, Flavour, PartitionPlan, PartitionPurpose, PlanError, PoolAction,
    PoolPlan, Section, Vdev, VdevKind,
};

const MIB: u64 = 1024 * 1024;
pub(crate) const GIB: u64 = 1024 * MIB;
/// Where the first partition starts (alignment, and room for the GPT).
const FIRST_PARTITION_START: u64 = MIB;
const BIOS_BOOT_SIZE: u64 = MIB;
/// Proxmox VE 8+ makes the EFI system partition 1 GiB.
const ESP_SIZE: u64 = GIB;
/// The backup GPT at the end of the disk, rounded up.
const GPT_BACKUP_RESERVE: u64 = MIB;
/// Smallest rpool partition that holds Proxmox VE with room for updates.
pub(crate) const MIN_RPOOL: u64 = 6 * GIB;
/// A tank2 partition smaller than this is not worth a pool.
pub(crate) const MIN_TANK2_REMAINDER: u64 = GIB;
/// Disks in one vdev that differ more than this waste the difference.
const SIZE_MISMATCH_PERCENT: u64 = 10;

pub(crate) struct Layout {
    pub partitions: Vec<PartitionPlan>,
    pub pools: Vec<PoolPlan>,
}

pub(crate) const ROOT_DATASET: &str = "rpool/ROOT/pve-1";

/// rpool's partition on each boot disk.
pub(crate) const RPOOL_PARTITION: u32 = 3;

pub(crate) fn plan_pools(
    _machine: &MachineProfile,
    answer: &Answer,
    flavour: Flavour,
    roles: &Roles<'_>,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> Option<Layout> {
    let zfs = answer.disk_setup.zfs.clone().unwrap_or_default();
    let raid = boot_raid(&zfs, roles, errors, warnings)?;
    let rpool_size = rpool_size(&zfs, roles, errors);
    let boot = boot_partitions(roles, rpool_size);
    let mut pools = vec![rpool(&zfs, flavour, raid, roles, &boot.rpool, warnings)];
    if let (Some(tank1), Some(action)) = (&answer.tank1, roles.tank1_action) {
        pools.push(tank1_pool(tank1, action, roles, errors, warnings));
    }
    if let Some(action) = roles.tank2_action {
        pools.push(tank2_pool(action, roles, &boot.tank2, warnings));
    }
    Some(Layout {
        partitions: boot.partitions,
        pools,
    })
}

/// The partitions of the boot disks, and the devices of rpool and of a
/// tank2 on the rest of the boot disks.
struct BootPartitions {
    partitions: Vec<PartitionPlan>,
    rpool: Vec<String>,
    tank2: Vec<String>,
}

/// rpool's RAID level: the answer's, else the one for the number of
/// boot disks; `None` (an error) when that is not clear.
fn boot_raid(
    zfs: &ZfsOptions,
    roles: &Roles<'_>,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> Option<ZfsRaid> {
    let boot_n = roles.boot.len();
    let raid = match zfs.raid {
        Some(r) => r,
        None if boot_n == 1 => ZfsRaid::Raid0,
        None if boot_n == 2 => ZfsRaid::Raid1,
        None => {
            errors.push(PlanError::at(
                Section::DiskSetup.key(Field::ZfsRaid),
                format!("{boot_n} boot disks are selected but no RAID level is given"),
                "set zfs.raid (raid1, raid10, raidz-1, raidz-2 or raidz-3)",
            ));
            return None;
        }
    };
    check_count(
        Section::DiskSetup,
        raid.as_str(),
        boot_n,
        raid.min_disks(),
        raid == ZfsRaid::Raid10,
        errors,
    );
    if raid == ZfsRaid::Raid0 && boot_n > 1 {
        warnings.push(Finding {
            message: format!("rpool is a stripe (raid0) of {boot_n} disks: losing any one of them loses the system"),
            hint: "use raid1 (mirror) for boot disks unless you know you want this".into(),
        });
    }
    Some(raid)
}

/// rpool's partition size (`None`: the whole room of the boot disk),
/// checked against the smallest boot disk and tank2 on its rest.
fn rpool_size(zfs: &ZfsOptions, roles: &Roles<'_>, errors: &mut Vec<PlanError>) -> Option<u64> {
    let smallest_boot = roles.boot.iter().map(|d| d.size_bytes).min().unwrap_or(0);
    let room = rpool_room(smallest_boot);
    let rpool_size = match zfs.hdsize {
        Some(gib) => {
            let wanted = hdsize_bytes(gib);
            if wanted > room {
                errors.push(PlanError::at(
                    Section::DiskSetup.key(Field::ZfsHdsize),
                    format!(
                        "{gib} GiB does not fit: the smallest boot disk leaves {} for rpool",
                        human_bytes(room)
                    ),
                    "lower hdsize, or choose larger boot disks",
                ));
            }
            Some(wanted)
        }
        None => None,
    };
    let rpool_bytes = rpool_size.unwrap_or(room);
    if rpool_bytes < MIN_RPOOL {
        errors.push(PlanError::at(
            Section::DiskSetup,
            format!(
                "rpool would get {}: the system needs at least {}",
                human_bytes(rpool_bytes),
                human_bytes(MIN_RPOOL)
            ),
            "choose a larger boot disk (or a larger hdsize)",
        ));
    }
    if roles.tank2_boot_remainder {
        match rpool_size {
            None => errors.push(PlanError::at(
                Section::Tank2.key(Field::BootRemainder),
                "rpool takes the whole boot disk, so nothing remains for tank2",
                "set disk-setup.zfs.hdsize to the size of rpool in GiB",
            )),
            Some(size) if room.saturating_sub(size) < MIN_TANK2_REMAINDER => {
                errors.push(PlanError::at(
                    Section::Tank2.key(Field::BootRemainder),
                    format!(
                        "only {} of the boot disk remains after rpool",
                        human_bytes(room.saturating_sub(size))
                    ),
                    "lower disk-setup.zfs.hdsize to leave room for tank2",
                ))
            }
            Some(_) => {}
        }
    }
    rpool_size
}

/// BIOS boot, EFI system and rpool on each boot disk, and tank2 on the
/// rest when it lives there.
fn boot_partitions(roles: &Roles<'_>, rpool_size: Option<u64>) -> BootPartitions {
    let mut partitions = Vec::new();
    let mut rpool_parts = Vec::new();
    let mut tank2_parts = Vec::new();
    for disk in &roles.boot {
        let base = disk.stable_path();
        let part = |n: u32| partition_path(&base, n);
        partitions.push(PartitionPlan {
            disk: base.clone(),
            number: 1,
            path: part(1),
            purpose: PartitionPurpose::BiosBoot,
            size_bytes: Some(BIOS_BOOT_SIZE),
            type_code: "EF02".into(),
        });
        partitions.push(PartitionPlan {
            disk: base.clone(),
            number: 2,
            path: part(2),
            purpose: PartitionPurpose::Efi,
            size_bytes: Some(ESP_SIZE),
            type_code: "EF00".into(),
        });
        partitions.push(PartitionPlan {
            disk: base.clone(),
            number: RPOOL_PARTITION,
            path: part(RPOOL_PARTITION),
            purpose: PartitionPurpose::Rpool,
            size_bytes: rpool_size,
            type_code: "BF01".into(),
        });
        rpool_parts.push(part(RPOOL_PARTITION));
        if roles.tank2_boot_remainder {
            partitions.push(PartitionPlan {
                disk: base.clone(),
                number: 4,
                path: part(4),
                purpose: PartitionPurpose::Tank2,
                size_bytes: None,
                type_code: "BF01".into(),
            });
            tank2_parts.push(part(4));
        }
    }
    BootPartitions {
        partitions,
        rpool: rpool_parts,
        tank2: tank2_parts,
    }
}

/// rpool: the boot disks' pool, its properties and datasets.
fn rpool(
    zfs: &ZfsOptions,
    flavour: Flavour,
    raid: ZfsRaid,
    roles: &Roles<'_>,
    rpool_parts: &[String],
    warnings: &mut Vec<Finding>,
) -> PoolPlan {
    let ashift = zfs.ashift.unwrap_or(12);
    warn_ashift(ashift, &roles.boot, warnings);
    let mut rpool = PoolPlan {
        name: "rpool".into(),
        action: PoolAction::Create,
        disks: roles.boot.iter().map(|d| d.stable_path()).collect(),
        vdevs: boot_vdevs(raid, rpool_parts),
        properties: pool_properties(ashift, &roles.boot),
        filesystem_properties: fs_properties(),
        datasets: vec![
            dataset("rpool/ROOT", &[("mountpoint", "none")]),
            dataset(ROOT_DATASET, &[("mountpoint", "/")]),
            dataset("rpool/data", &[]),
            dataset("rpool/var-lib-vz", &[("mountpoint", "/var/lib/vz")]),
        ],
    };
    rpool
        .filesystem_properties
        .insert("mountpoint".into(), "/rpool".into());
    if flavour == Flavour::Test {
        // Plain GRUB reads /boot from rpool, and GRUB's ZFS reader knows
        // only some pool features. (pve boots through proxmox-boot-tool,
        // which keeps kernels on the ESP, so rpool keeps every feature.)
        rpool
            .properties
            .insert("compatibility".into(), "grub2".into());
    }
    if let Some(c) = &zfs.compress {
        rpool
            .filesystem_properties
            .insert("compression".into(), c.clone());
    }
    if let Some(c) = &zfs.checksum {
        rpool
            .filesystem_properties
            .insert("checksum".into(), c.clone());
    }
    if let Some(c) = zfs.copies {
        rpool
            .filesystem_properties
            .insert("copies".into(), c.to_string());
    }
    warn_mismatch("rpool", &roles.boot, warnings);
    rpool
}

/// tank1, the redundant data pool, with the checks of its layout.
fn tank1_pool(
    tank1: &Tank1,
    action: PoolAction,
    roles: &Roles<'_>,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> PoolPlan {
    let disks = &roles.tank1;
    let paths: Vec<String> = disks.iter().map(|d| d.stable_path()).collect();
    if action == PoolAction::Create {
        check_count(
            Section::Tank1,
            tank1.layout.as_str(),
            disks.len(),
            tank1.layout.min_disks(),
            tank1.layout == Tank1Layout::Raid10,
            errors,
        );
        if tank1.layout == Tank1Layout::Single {
            if !tank1.allow_no_redundancy {
                errors.push(PlanError::at(
                    Section::Tank1.key(Field::Layout),
                    "\"single\" gives tank1 no redundancy",
                    "set tank1.allow-no-redundancy = true to accept that, or give tank1 two disks and layout = \"mirror\"",
                ));
            } else {
                warnings.push(Finding {
                    message: "tank1 has no redundancy: a disk failure loses its data".into(),
                    hint: "in a cluster, storage replication to another node can cover this; otherwise add a disk and use a mirror".into(),
                });
            }
        }
        if tank1.layout == Tank1Layout::Single && disks.len() > 1 {
            errors.push(PlanError::at(
                Section::Tank1.key(Field::Layout),
                format!("\"single\" takes one disk, {} are selected", disks.len()),
                "select one disk, or choose mirror/raidz for several",
            ));
        }
        warn_mismatch("tank1", disks, warnings);
    }
    data_pool(
        "tank1",
        action,
        paths,
        tank1_vdevs(tank1.layout, disks),
        disks,
    )
}

/// tank2, the data pool without redundancy: on its own disks or on the
/// rest of the boot disks.
fn tank2_pool(
    action: PoolAction,
    roles: &Roles<'_>,
    tank2_parts: &[String],
    warnings: &mut Vec<Finding>,
) -> PoolPlan {
    let (members, vdevs): (Vec<String>, Vec<Vdev>) = if roles.tank2_boot_remainder {
        (
            tank2_parts.to_vec(),
            tank2_parts
                .iter()
                .map(|p| Vdev {
                    kind: VdevKind::Disk,
                    devices: vec![p.clone()],
                })
                .collect(),
        )
    } else {
        let paths: Vec<String> = roles.tank2.iter().map(|d| d.stable_path()).collect();
        let vdevs = paths
            .iter()
            .map(|p| Vdev {
                kind: VdevKind::Disk,
                devices: vec![p.clone()],
            })
            .collect();
        (paths, vdevs)
    };
    if action == PoolAction::Create && members.len() > 1 {
        warnings.push(Finding {
            message: format!(
                "tank2 is a stripe of {} devices without redundancy: losing any one loses tank2",
                members.len()
            ),
            hint: "that is tank2's purpose (backups, services with their own redundancy); keep what matters on tank1".into(),
        });
    }
    let disks: &[&Disk] = if roles.tank2_boot_remainder {
        &roles.boot
    } else {
        &roles.tank2
    };
    data_pool("tank2", action, members, vdevs, disks)
}

/// What a boot disk of `disk_bytes` leaves for rpool (and tank2 on the
/// rest) after the boot partitions and the GPT.
pub(crate) fn rpool_room(disk_bytes: u64) -> u64 {
    disk_bytes
        .saturating_sub(FIRST_PARTITION_START + BIOS_BOOT_SIZE + ESP_SIZE + GPT_BACKUP_RESERVE)
}

/// `zfs.hdsize` (GiB, as Proxmox reads it) in bytes.
pub(crate) fn hdsize_bytes(gib: f64) -> u64 {
    (gib * GIB as f64) as u64
}

/// Whether disks from `min` to `max` bytes differ enough that one vdev of
/// them wastes space (the planner warns about it).
pub(crate) fn sizes_differ(min: u64, max: u64) -> bool {
    max.saturating_sub(min) > min / 100 * SIZE_MISMATCH_PERCENT
}

fn check_count(
    section: Section,
    level: &str,
    n: usize,
    min: usize,
    even: bool,
    errors: &mut Vec<PlanError>,
) {
    if n < min {
        errors.push(PlanError::at(
            section,
            format!("{level} needs at least {min} disks, {n} selected"),
            "select more disks, or choose a layout for fewer disks",
        ));
    } else if even && !n.is_multiple_of(2) {
        errors.push(PlanError::at(
            section,
            format!(
                "{level} stripes mirrored pairs and needs an even number of disks, {n} selected"
            ),
            "add or remove one disk",
        ));
    }
}

fn boot_vdevs(raid: ZfsRaid, parts: &[String]) -> Vec<Vdev> {
    let one = |kind| {
        vec![Vdev {
            kind,
            devices: parts.to_vec(),
        }]
    };
    match raid {
        ZfsRaid::Raid0 => parts
            .iter()
            .map(|p| Vdev {
                kind: VdevKind::Disk,
                devices: vec![p.clone()],
            })
            .collect(),
        ZfsRaid::Raid1 => one(VdevKind::Mirror),
        ZfsRaid::Raid10 => pairs(parts),
        ZfsRaid::RaidZ1 => one(VdevKind::Raidz1),
        ZfsRaid::RaidZ2 => one(VdevKind::Raidz2),
        ZfsRaid::RaidZ3 => one(VdevKind::Raidz3),
    }
}

fn tank1_vdevs(layout: Tank1Layout, disks: &[&Disk]) -> Vec<Vdev> {
    let paths: Vec<String> = disks.iter().map(|d| d.stable_path()).collect();
    let one = |kind| {
        vec![Vdev {
            kind,
            devices: paths.clone(),
        }]
    };
    match layout {
        Tank1Layout::Single => one(VdevKind::Disk),
        Tank1Layout::Mirror => one(VdevKind::Mirror),
        Tank1Layout::Raid10 => pairs(&paths),
        Tank1Layout::RaidZ1 => one(VdevKind::Raidz1),
        Tank1Layout::RaidZ2 => one(VdevKind::Raidz2),
        Tank1Layout::RaidZ3 => one(VdevKind::Raidz3),
    }
}

fn pairs(paths: &[String]) -> Vec<Vdev> {
    paths
        .chunks(2)
        .map(|c| Vdev {
            kind: VdevKind::Mirror,
            devices: c.to_vec(),
        })
        .collect()
}

fn data_pool(
    name: &str,
    action: PoolAction,
    members: Vec<String>,
    vdevs: Vec<Vdev>,
    disks: &[&Disk],
) -> PoolPlan {
    let imported = action == PoolAction::Import;
    PoolPlan {
        name: name.into(),
        action,
        disks: members,
        // An imported pool keeps the layout it has.
        vdevs: if imported { Vec::new() } else { vdevs },
        properties: if imported {
            BTreeMap::new()
        } else {
            pool_properties(12, disks)
        },
        filesystem_properties: if imported {
            BTreeMap::new()
        } else {
            fs_properties()
        },
        datasets: Vec::new(),
    }
}

/// SPEC.md's pool defaults: ashift=12, autotrim=on for SSDs.
fn pool_properties(ashift: u8, disks: &[&Disk]) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("ashift".into(), ashift.to_string());
    if !disks.is_empty() && disks.iter().all(|d| d.is_ssd()) {
        p.insert("autotrim".into(), "on".into());
    }
    p
}

/// SPEC.md's dataset defaults: compression=lz4, atime=off, xattr=sa.
fn fs_properties() -> BTreeMap<String, String> {
    [("compression", "lz4"), ("atime", "off"), ("xattr", "sa")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn dataset(name: &str, props: &[(&str, &str)]) -> Dataset {
    Dataset {
        name: name.into(),
        properties: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn warn_mismatch(pool: &str, disks: &[&Disk], warnings: &mut Vec<Finding>) {
    let (Some(min), Some(max)) = (
        disks.iter().map(|d| d.size_bytes).min(),
        disks.iter().map(|d| d.size_bytes).max(),
    ) else {
        return;
    };
    if disks.len() > 1 && sizes_differ(min, max) {
        warnings.push(Finding {
            message: format!(
                "the disks of {pool} differ in size ({} to {}): each uses only {} and the rest is wasted",
                human_bytes(min),
                human_bytes(max),
                human_bytes(min)
            ),
            hint: format!("pair disks of equal size in {pool}, or accept the loss"),
        });
    }
}

fn warn_ashift(ashift: u8, disks: &[&Disk], warnings: &mut Vec<Finding>) {
    for d in disks {
        let needed = d.physical_sector_bytes.max(d.logical_sector_bytes).max(512);
        if (1u64 << ashift) < u64::from(needed) {
            warnings.push(Finding {
                message: format!(
                    "ashift={ashift} ({} bytes) is smaller than the {needed}-byte sectors of {}: writes will be slow",
                    1u64 << ashift,
                    d.name
                ),
                hint: "leave zfs.ashift at its default (12) or raise it".into(),
            });
        }
    }
}

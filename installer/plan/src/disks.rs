//! Which disk plays which role, and which disks may be erased.

use std::collections::BTreeSet;

use tappaas_answer::{
    disk_list_entry_matches, filter_matches, Answer, ExistingPool, Filter, FilterMatch,
};
use tappaas_hardware::{Disk, DiskNameKind, MachineProfile};

use crate::{AnswerKey, DiskPlan, DiskRole, Field, Finding, PlanError, PoolAction, Section};

/// The outcome of role assignment: disks by role, borrowed from the profile.
#[derive(Debug)]
pub(crate) struct Roles<'m> {
    pub boot: Vec<&'m Disk>,
    pub tank1: Vec<&'m Disk>,
    pub tank1_action: Option<PoolAction>,
    /// Whole disks of tank2; empty when tank2 is the boot disks' remainder.
    pub tank2: Vec<&'m Disk>,
    pub tank2_boot_remainder: bool,
    pub tank2_action: Option<PoolAction>,
    /// Kernel names of the disks whose content is destroyed.
    pub erase: BTreeSet<String>,
}

/// How the answer selects the disks of one role.
struct Selector<'a> {
    /// Answer section, e.g. `disk-setup` or `tank1`.
    section: Section,
    disk_list: Option<&'a Vec<String>>,
    filter: Option<&'a Filter>,
    filter_match: Option<FilterMatch>,
}

pub(crate) fn assign_roles<'m>(
    machine: &'m MachineProfile,
    answer: &Answer,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> Option<Roles<'m>> {
    let ds = &answer.disk_setup;
    let boot = select(
        machine,
        &Selector {
            section: Section::DiskSetup,
            disk_list: ds.disk_list.as_ref(),
            filter: ds.filter.as_ref(),
            filter_match: ds.filter_match,
        },
        errors,
        warnings,
    );
    let tank1 = answer.tank1.as_ref().map(|t| {
        select(
            machine,
            &Selector {
                section: Section::Tank1,
                disk_list: t.disk_list.as_ref(),
                filter: t.filter.as_ref(),
                filter_match: t.filter_match,
            },
            errors,
            warnings,
        )
    });
    let tank2_remainder = answer.tank2.as_ref().is_some_and(|t| t.boot_remainder);
    let tank2 = answer
        .tank2
        .as_ref()
        .filter(|t| !t.boot_remainder)
        .map(|t| {
            select(
                machine,
                &Selector {
                    section: Section::Tank2,
                    disk_list: t.disk_list.as_ref(),
                    filter: t.filter.as_ref(),
                    filter_match: t.filter_match,
                },
                errors,
                warnings,
            )
        });

    let boot = boot?;
    let tank1 = tank1.map(|t| t.unwrap_or_default()).unwrap_or_default();
    let tank2 = tank2.map(|t| t.unwrap_or_default()).unwrap_or_default();

    check_one_role_each(
        &[
            (Section::DiskSetup, &boot),
            (Section::Tank1, &tank1),
            (Section::Tank2, &tank2),
        ],
        errors,
    );
    check_names(&boot, &tank1, &tank2, tank2_remainder, errors, warnings);
    if !errors.is_empty() {
        return None;
    }

    let mut roles = Roles {
        boot,
        tank1_action: answer.tank1.as_ref().map(|_| PoolAction::Create),
        tank1,
        tank2_action: answer.tank2.as_ref().map(|_| PoolAction::Create),
        tank2,
        tank2_boot_remainder: tank2_remainder,
        erase: BTreeSet::new(),
    };
    decide_existing_pools(machine, answer, &mut roles, errors);
    decide_erase(answer, &mut roles, errors);
    Some(roles)
}

/// Resolve a disk-list or a filter to disks of the machine, in the order
/// the answer names them (disk-list) or the machine lists them (filter).
fn select<'m>(
    machine: &'m MachineProfile,
    sel: &Selector<'_>,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> Option<Vec<&'m Disk>> {
    let section = sel.section;
    if let Some(list) = sel.disk_list {
        let mut chosen: Vec<&Disk> = Vec::new();
        let mut ok = true;
        for entry in list {
            let found = machine
                .disks
                .iter()
                .find(|d| disk_list_entry_matches(entry, &d.name, &d.by_id, d.by_path.as_deref()));
            match found {
                None => {
                    ok = false;
                    errors.push(PlanError::at(
                        section.key(Field::DiskList),
                        format!("no disk '{entry}' on this machine"),
                        format!("use one of: {}", disk_names(machine)),
                    ));
                }
                Some(d) if d.boot_medium => {
                    ok = false;
                    errors.push(PlanError::at(
                        section.key(Field::DiskList),
                        format!(
                            "'{entry}' is the installer's own boot medium: {}",
                            d.describe()
                        ),
                        "choose another disk: the medium the installer runs from is never a target",
                    ));
                }
                Some(d) if chosen.iter().any(|c| c.name == d.name) => {
                    ok = false;
                    errors.push(PlanError::at(
                        section.key(Field::DiskList),
                        format!("'{entry}' names disk {} a second time", d.name),
                        "name each disk once",
                    ));
                }
                Some(d) => chosen.push(d),
            }
        }
        return ok.then_some(chosen);
    }
    if let Some(filter) = sel.filter {
        let mode = sel.filter_match.unwrap_or_default();
        let mut chosen = Vec::new();
        for d in &machine.disks {
            if !filter_matches(filter, mode, &d.udev) {
                continue;
            }
            if d.boot_medium {
                warnings.push(Finding {
                    message: format!(
                        "{section}.filter also matches the installer medium {}, {}; it is left out",
                        d.name,
                        d.describe()
                    ),
                    hint: "make the filter more specific to silence this".into(),
                });
                continue;
            }
            chosen.push(d);
        }
        if chosen.is_empty() {
            errors.push(PlanError::at(
                section.key(Field::Filter),
                "matches no disk on this machine",
                format!(
                    "check the udev properties with `tappaas-installer probe --json`; disks: {}",
                    disk_names(machine)
                ),
            ));
            return None;
        }
        return Some(chosen);
    }
    errors.push(PlanError::at(
        section,
        "selects no disks",
        "give either disk-list or filter",
    ));
    None
}

fn disk_names(machine: &MachineProfile) -> String {
    let names: Vec<String> = machine
        .disks
        .iter()
        .filter(|d| !d.boot_medium)
        .map(|d| d.name.clone())
        .collect();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

fn check_one_role_each(roles: &[(Section, &Vec<&Disk>)], errors: &mut Vec<PlanError>) {
    for (i, (a, disks_a)) in roles.iter().enumerate() {
        for (b, disks_b) in &roles[i + 1..] {
            for d in disks_a
                .iter()
                .filter(|d| disks_b.iter().any(|e| e.name == d.name))
            {
                errors.push(PlanError::at(
                    *b,
                    format!(
                        "disk {}, {}, is selected for {a} and for {b}",
                        d.name,
                        d.describe()
                    ),
                    "a disk has one role: change the disk-list or filter of one of them",
                ));
            }
        }
    }
}

/// Every disk the plan names must keep its name until the node runs.
/// A by-path name (a disk without a serial) is as stable as the slot the
/// disk sits in: good enough for rpool, which boot finds by scanning every
/// disk, with a warning. tank1 and tank2 are imported at every boot by
/// `zfs-import@POOL.service`, which looks only in `/dev/disk/by-id`, so
/// their disks need a by-id name. A kernel name (no udev) may change at the
/// next boot and is never used.
fn check_names(
    boot: &[&Disk],
    tank1: &[&Disk],
    tank2: &[&Disk],
    tank2_boot_remainder: bool,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) {
    const GIVE_A_SERIAL: &str = "give the disk a serial number (a virtual disk: the VM's disk serial setting, e.g. QEMU `-drive ...,serial=NAME`, Proxmox `serial=NAME`, libvirt `<serial>`), so that udev names it in /dev/disk/by-id";
    for d in boot {
        match d.name_kind() {
            DiskNameKind::ById => {}
            DiskNameKind::ByPath if tank2_boot_remainder => errors.push(PlanError::at(
                Section::Tank2.key(Field::BootRemainder),
                format!(
                    "boot disk {}, {}, has no /dev/disk/by-id name (no serial), and tank2 on it would not be imported at boot (zfs-import@tank2 looks only in /dev/disk/by-id)",
                    d.name,
                    d.describe()
                ),
                format!("{GIVE_A_SERIAL}, or put tank2 on disks of its own"),
            )),
            DiskNameKind::ByPath => warnings.push(Finding {
                message: format!(
                    "boot disk {}, {}, has no /dev/disk/by-id name (no serial): it is named {}, which is only as stable as the slot it is plugged into",
                    d.name,
                    d.describe(),
                    d.stable_path()
                ),
                hint: format!("keep it in that slot until the install is done, or {GIVE_A_SERIAL}"),
            }),
            DiskNameKind::Kernel => errors.push(no_stable_name(Section::DiskSetup, d, GIVE_A_SERIAL)),
        }
    }
    for (section, disks) in [(Section::Tank1, tank1), (Section::Tank2, tank2)] {
        for d in disks {
            match d.name_kind() {
                DiskNameKind::ById => {}
                DiskNameKind::ByPath => errors.push(PlanError::at(
                    section,
                    format!(
                        "disk {}, {}, has no /dev/disk/by-id name (no serial): {section} would not be imported at boot (zfs-import@{section} looks only in /dev/disk/by-id)",
                        d.name,
                        d.describe()
                    ),
                    format!("{GIVE_A_SERIAL}, or choose another disk for {section}"),
                )),
                DiskNameKind::Kernel => errors.push(no_stable_name(section, d, GIVE_A_SERIAL)),
            }
        }
    }
}

fn no_stable_name(section: Section, d: &Disk, give_a_serial: &str) -> PlanError {
    PlanError::at(
        section,
        format!(
            "disk {}, {}, has neither a /dev/disk/by-id nor a /dev/disk/by-path name (udev has no record of it), and its kernel name may change at the next boot",
            d.name,
            d.describe()
        ),
        format!("run the installer where udev runs (the installer ISO does), and {give_a_serial}"),
    )
}

/// A node that already has tank1/tank2 keeps them unless told to wipe.
fn decide_existing_pools(
    machine: &MachineProfile,
    answer: &Answer,
    roles: &mut Roles<'_>,
    errors: &mut Vec<PlanError>,
) {
    let holders = |pool: &str| -> Vec<&Disk> {
        machine
            .disks
            .iter()
            .filter(|d| !d.boot_medium && d.zfs_pools.iter().any(|p| p == pool))
            .collect()
    };
    let same_set = |a: &[&Disk], b: &[&Disk]| {
        let a: BTreeSet<&str> = a.iter().map(|d| d.name.as_str()).collect();
        let b: BTreeSet<&str> = b.iter().map(|d| d.name.as_str()).collect();
        a == b
    };

    if let Some(tank1) = &answer.tank1 {
        let found = holders("tank1");
        if !found.is_empty() {
            let where_ = names(&found);
            match tank1.existing {
                ExistingPool::Keep if same_set(&found, &roles.tank1) => {
                    roles.tank1_action = Some(PoolAction::Import);
                }
                ExistingPool::Keep => errors.push(PlanError::at(
                    Section::Tank1,
                    format!("a pool tank1 already exists on {where_}, which is not exactly the disks selected for tank1"),
                    format!("to keep it and its data, select exactly {where_} for tank1; to destroy it and create a new one, set tank1.existing = \"wipe\""),
                )),
                ExistingPool::Wipe => {
                    if let Some(d) = found.iter().find(|d| !roles.tank1.iter().any(|t| t.name == d.name)) {
                        errors.push(PlanError::at(
                            Section::Tank1.key(Field::Existing),
                            format!("the old tank1 also lives on {}, {}, which is not selected, so it cannot be wiped", d.name, d.describe()),
                            format!("add {where_} to tank1, or remove that disk from the machine"),
                        ));
                    }
                }
            }
        }
    }

    if let Some(tank2) = &answer.tank2 {
        let found = holders("tank2");
        if !found.is_empty() {
            let where_ = names(&found);
            let on_boot = found
                .iter()
                .any(|d| roles.boot.iter().any(|b| b.name == d.name));
            match tank2.existing {
                ExistingPool::Keep if on_boot => errors.push(PlanError::at(
                    Section::Tank2,
                    format!("a pool tank2 exists on {where_}, and the boot disk is re-partitioned, which destroys it"),
                    "set tank2.existing = \"wipe\" to accept that, or back its data up first",
                )),
                ExistingPool::Keep if !roles.tank2_boot_remainder && same_set(&found, &roles.tank2) => {
                    roles.tank2_action = Some(PoolAction::Import);
                }
                ExistingPool::Keep => errors.push(PlanError::at(
                    Section::Tank2,
                    format!("a pool tank2 already exists on {where_}, which is not exactly the disks selected for tank2"),
                    format!("to keep it and its data, select exactly {where_} for tank2; to destroy it, set tank2.existing = \"wipe\""),
                )),
                ExistingPool::Wipe => {
                    let selected = |d: &Disk| {
                        roles.tank2.iter().chain(roles.boot.iter()).any(|t| t.name == d.name)
                    };
                    if let Some(d) = found.iter().find(|d| !selected(d)) {
                        errors.push(PlanError::at(
                            Section::Tank2.key(Field::Existing),
                            format!("the old tank2 also lives on {}, {}, which is not selected, so it cannot be wiped", d.name, d.describe()),
                            format!("add {where_} to tank2, or remove that disk from the machine"),
                        ));
                    }
                }
            }
        }
    }

    // A pool of ours on a disk selected for another role would be half
    // destroyed: say so rather than leave a degraded pool behind.
    for (section, keep) in [
        (
            Section::Tank1,
            roles.tank1_action == Some(PoolAction::Import),
        ),
        (
            Section::Tank2,
            roles.tank2_action == Some(PoolAction::Import),
        ),
    ] {
        if keep {
            continue;
        }
        let pool = section.as_str();
        let configured = match section {
            Section::Tank1 => answer.tank1.is_some(),
            _ => answer.tank2.is_some(),
        };
        if configured {
            continue;
        }
        let used: Vec<&Disk> = roles
            .boot
            .iter()
            .chain(&roles.tank1)
            .chain(&roles.tank2)
            .copied()
            .filter(|d| d.zfs_pools.iter().any(|p| p == pool))
            .collect();
        if !used.is_empty() {
            errors.push(PlanError::at(
                section,
                format!("{} hold(s) the existing pool {pool}, and the answer has no [{pool}] section, so it would be destroyed", names(&used)),
                format!("add a [{pool}] section selecting those disks to keep it, or set node.erase-disks-with-data = true and choose other disks for {pool}"),
            ).lifted_by(AnswerKey::ERASE_DISKS_WITH_DATA));
        }
    }
}

/// Boot disks and disks of new pools are erased; a disk that holds data
/// needs the user's explicit consent.
fn decide_erase(answer: &Answer, roles: &mut Roles<'_>, errors: &mut Vec<PlanError>) {
    let mut erase: Vec<(&Disk, Section, Option<&str>)> = Vec::new();
    for d in &roles.boot {
        erase.push((d, Section::DiskSetup, None));
    }
    if roles.tank1_action == Some(PoolAction::Create) {
        let wiped = answer
            .tank1
            .as_ref()
            .is_some_and(|t| t.existing == ExistingPool::Wipe);
        for d in &roles.tank1 {
            erase.push((d, Section::Tank1, wiped.then_some("tank1")));
        }
    }
    if roles.tank2_action == Some(PoolAction::Create) {
        let wiped = answer
            .tank2
            .as_ref()
            .is_some_and(|t| t.existing == ExistingPool::Wipe);
        for d in &roles.tank2 {
            erase.push((d, Section::Tank2, wiped.then_some("tank2")));
        }
    }
    let tank2_wiped = answer
        .tank2
        .as_ref()
        .is_some_and(|t| t.existing == ExistingPool::Wipe);
    for (disk, section, consented_pool) in erase {
        roles.erase.insert(disk.name.clone());
        if answer.node.erase_disks_with_data || !disk.holds_data() {
            continue;
        }
        // `existing = "wipe"` is consent for that pool; anything else on
        // the disk still needs node.erase-disks-with-data.
        let only_consented_pool = disk
            .filesystem
            .as_ref()
            .is_none_or(|f| f.fs_type == "zfs_member")
            && disk.partitions.iter().all(|p| {
                p.filesystem
                    .as_ref()
                    .is_none_or(|f| f.fs_type == "zfs_member")
            })
            && !disk.zfs_pools.is_empty()
            && disk
                .zfs_pools
                .iter()
                .all(|p| Some(p.as_str()) == consented_pool || (p == "tank2" && tank2_wiped));
        if only_consented_pool {
            continue;
        }
        errors.push(PlanError::at(
            section,
            format!(
                "disk {}, {}, holds data ({}) and would be erased",
                disk.name,
                disk.describe(),
                disk.contents()
            ),
            "set node.erase-disks-with-data = true to confirm that it may be erased, or choose another disk",
        ).lifted_by(AnswerKey::ERASE_DISKS_WITH_DATA));
    }
}

fn names(disks: &[&Disk]) -> String {
    let n: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    n.join(", ")
}

/// Every disk of the machine with its fate, for the summary.
pub(crate) fn disk_plans(machine: &MachineProfile, roles: &Roles<'_>) -> Vec<DiskPlan> {
    machine
        .disks
        .iter()
        .map(|d| {
            let has = |v: &[&Disk]| v.iter().any(|x| x.name == d.name);
            let role = if d.boot_medium {
                DiskRole::InstallerMedium
            } else if has(&roles.boot) {
                DiskRole::Boot
            } else if has(&roles.tank1) {
                DiskRole::Tank1
            } else if has(&roles.tank2) {
                DiskRole::Tank2
            } else {
                DiskRole::Untouched
            };
            DiskPlan {
                path: d.stable_path(),
                kernel_name: d.name.clone(),
                device: d.device.clone(),
                model: d.model.clone(),
                serial: d.serial.clone(),
                size_bytes: d.size_bytes,
                role,
                erase: roles.erase.contains(&d.name),
                current_content: d.contents(),
                holds_data: d.holds_data(),
            }
        })
        .collect()
}

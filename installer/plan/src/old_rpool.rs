//! An old `rpool` on a disk the install leaves alone (the system moved to
//! new disks): the new node would find two pools named rpool, and ZFS
//! imports by name at boot. Renamed with consent, as Proxmox's installer
//! does, else the plan is refused.

use std::collections::BTreeMap;

use tappaas_answer::Answer;
use tappaas_hardware::{partition_path, MachineProfile};

use crate::disks::Roles;
use crate::{Field, Finding, PlanError, RenamedPool, Section};

const POOL: &str = "rpool";

pub(crate) fn plan_old_rpools(
    machine: &MachineProfile,
    answer: &Answer,
    roles: &Roles<'_>,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> Vec<RenamedPool> {
    // Pool id -> (disks, devices); `None` when blkid gave no id.
    let mut found: BTreeMap<Option<String>, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut where_: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for d in machine.disks.iter().filter(|d| {
        !d.boot_medium && !roles.erase.contains(&d.name) && d.zfs_pools.iter().any(|p| p == POOL)
    }) {
        let base = d.stable_path();
        let whole = d.filesystem.iter().map(|fs| (fs, base.clone()));
        let parts = d.partitions.iter().filter_map(|p| {
            p.filesystem
                .as_ref()
                .map(|fs| (fs, partition_path(&base, p.number)))
        });
        for (fs, device) in whole.chain(parts) {
            if fs.fs_type != "zfs_member" || fs.label.as_deref() != Some(POOL) {
                continue;
            }
            let entry = found.entry(fs.uuid.clone()).or_default();
            if !entry.0.contains(&base) {
                entry.0.push(base.clone());
                where_.entry(fs.uuid.clone()).or_default().push(format!(
                    "{}, {}",
                    d.name,
                    d.describe()
                ));
            }
            entry.1.push(device);
        }
    }
    let mut renamed = Vec::new();
    for (guid, (disks, devices)) in found {
        let on = where_.remove(&guid).unwrap_or_default().join("; ");
        let new_name = guid.as_deref().and_then(new_name);
        let problem = format!(
            "{on} is not part of this install and holds a ZFS pool named rpool{}: the new node would find two pools named rpool and could boot the old one, or not boot at all",
            guid.as_deref().map(|g| format!(" (id {g})")).unwrap_or_default()
        );
        match (guid, new_name) {
            (Some(guid), Some(new_name)) if answer.node.rename_old_rpool => {
                warnings.push(Finding {
                    message: format!("{problem}; it is renamed {new_name} (its data is kept)"),
                    hint: format!("after the install, `zpool import {new_name}` reads it; `zpool destroy {new_name}` frees the disk"),
                });
                renamed.push(RenamedPool {
                    name: POOL.into(),
                    guid,
                    new_name,
                    disks,
                    devices,
                });
            }
            (Some(_), Some(new_name)) => errors.push(PlanError::at(
                Section::Node.key(Field::RenameOldRpool),
                problem,
                format!("set node.rename-old-rpool = true to rename it {new_name} (its data is kept), or select that disk for this install (it is erased, with node.erase-disks-with-data = true), or detach it while installing"),
            )),
            _ => errors.push(PlanError::new(
                format!("{problem}; its pool id is unknown, so it cannot be renamed"),
                "select that disk for this install (it is erased, with node.erase-disks-with-data = true), or detach it while installing",
            )),
        }
    }
    renamed
}

/// `rpool-OLD-` and the first 7 hex digits of the pool's id, as Proxmox's
/// installer names a pool it renames; `None` when the id is not a number.
fn new_name(guid: &str) -> Option<String> {
    let id: u64 = guid.parse().ok()?;
    let hex = format!("{id:x}");
    Some(format!("{POOL}-OLD-{}", &hex[..hex.len().min(7)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_seven_hex_digits_of_the_id() {
        assert_eq!(
            new_name("7943841337144675352").as_deref(),
            Some("rpool-OLD-6e3e319")
        );
        assert_eq!(new_name("15").as_deref(), Some("rpool-OLD-f"));
        assert_eq!(new_name("BBCC-1EFC"), None);
    }
}

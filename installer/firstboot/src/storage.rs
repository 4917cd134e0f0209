//! Register a data pool (`tank1`, `tank2`) as a Proxmox `zfspool` storage
//! for this node. Storage ids are cluster-wide: the first node with the
//! pool creates the storage, every later one adds itself to its nodes.

use tappaas_proxmox::client::{NodeName, PoolName, StorageConfig, StorageId, ZfsPoolStorage};
use tappaas_proxmox::{Api, Proxmox};

use crate::error::StepError;

pub(crate) fn register<A: Api>(
    px: &mut Proxmox<A>,
    pool: &str,
    node: &NodeName,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let zfs = format!("GET /nodes/{node}/disks/zfs");
    let imported = px.zfs_pools(node).map_err(|e| StepError::api(&zfs, &e))?;
    if !imported.iter().any(|p| p.name == pool) {
        return Err(StepError::new(
            zfs,
            format!(
                "ZFS pool '{pool}' is not imported on this node, so it cannot become a storage. \
                 Check `zpool import` and `systemctl status zfs-import@{pool}`, then run first boot again."
            ),
        ));
    }
    let id = StorageId::new(pool).map_err(|e| StepError::api("POST /storage", &e))?;
    let pool_name = PoolName::new(pool).map_err(|e| StepError::api("POST /storage", &e))?;

    match find(px, &id)? {
        Some(existing) => {
            check_same_pool(&existing, pool)?;
            if existing.available_on(node.as_str()) {
                note(format!(
                    "storage '{id}' already serves this node: nothing to do"
                ));
                return Ok(());
            }
            let mut nodes: Vec<NodeName> = Vec::new();
            for n in existing.nodes.iter().flatten() {
                nodes.push(
                    NodeName::new(n.as_str()).map_err(|e| StepError::api("PUT /storage", &e))?,
                );
            }
            nodes.push(node.clone());
            let list: Vec<&str> = nodes.iter().map(NodeName::as_str).collect();
            note(format!(
                "add this node to storage '{id}': nodes {}",
                list.join(",")
            ));
            if let Err(e) = px.set_storage_nodes(&id, &nodes) {
                // Done or not done: read it back rather than trust the error.
                if !serves(px, &id, node)? {
                    return Err(StepError::api(format!("PUT /storage/{id}"), &e));
                }
                note(format!("Proxmox reported an error ({e}), but the storage lists this node: the change took effect"));
            }
        }
        None => {
            let storage = ZfsPoolStorage::new(id.clone(), pool_name, vec![node.clone()])
                .map_err(|e| StepError::api("POST /storage", &e))?;
            note(format!(
                "add zfspool storage '{id}' (pool {pool}, content images,rootdir) for node {node}"
            ));
            if let Err(e) = px.add_zfspool_storage(&storage) {
                if !serves(px, &id, node)? {
                    return Err(StepError::api("POST /storage", &e));
                }
                note(format!("Proxmox reported an error ({e}), but storage '{id}' exists: the add took effect"));
            }
        }
    }
    if serves(px, &id, node)? {
        Ok(())
    } else {
        Err(StepError::new(
            "GET /storage",
            format!("Proxmox accepted the change, but storage '{id}' does not list this node"),
        ))
    }
}

fn find<A: Api>(px: &mut Proxmox<A>, id: &StorageId) -> Result<Option<StorageConfig>, StepError> {
    let all = px
        .storages()
        .map_err(|e| StepError::api("GET /storage", &e))?;
    Ok(all.into_iter().find(|s| s.storage == id.as_str()))
}

fn serves<A: Api>(px: &mut Proxmox<A>, id: &StorageId, node: &NodeName) -> Result<bool, StepError> {
    Ok(find(px, id)?.is_some_and(|s| s.available_on(node.as_str())))
}

/// A storage of that id that is something else is never replaced and
/// never doubled: the user must decide.
fn check_same_pool(s: &StorageConfig, pool: &str) -> Result<(), StepError> {
    if s.storage_type == "zfspool" && s.pool.as_deref() == Some(pool) {
        return Ok(());
    }
    Err(StepError::new(
        "GET /storage",
        format!(
            "a storage '{}' already exists, but it is of type '{}' on pool '{}', not zfspool on pool '{pool}'. \
             First boot does not add a second storage or change that one; rename or remove it \
             (Datacenter > Storage) and run first boot again.",
            s.storage,
            s.storage_type,
            s.pool.as_deref().unwrap_or("none")
        ),
    ))
}

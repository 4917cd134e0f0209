//! Small VM helpers shared by the template, firewall and service steps:
//! find a VM, wait for its lock and its tasks, read its disk size.

use std::time::Instant;

use tappaas_proxmox::client::{DiskSlot, NodeName, VmConfig, VmId, VmStatus, VmSummary};
use tappaas_proxmox::{Api, Proxmox};

use crate::error::StepError;
use crate::{wait, Config};

pub(crate) fn vmid(id: u32) -> Result<VmId, StepError> {
    VmId::new(id).map_err(|e| StepError::api("check the VM id", &e))
}

/// VM `id` on this node, if it exists.
pub(crate) fn find<A: Api>(
    px: &mut Proxmox<A>,
    node: &NodeName,
    id: VmId,
) -> Result<Option<VmSummary>, StepError> {
    let vms = px
        .node_vms(node)
        .map_err(|e| StepError::api(format!("GET /nodes/{node}/qemu"), &e))?;
    Ok(vms.into_iter().find(|v| v.vmid == id))
}

/// A VM of ours is one whose name is the one we give it; any other VM
/// with that id belongs to someone else and is never touched.
pub(crate) fn check_owner(vm: &VmSummary, want: &str) -> Result<(), StepError> {
    match vm.name.as_deref() {
        Some(n) if n == want => Ok(()),
        other => Err(StepError::new(
            format!("GET /nodes/.../qemu (VM {})", vm.vmid),
            format!(
                "VM {} already exists and is named '{}', not '{want}': first boot does not touch it. \
                 Move or remove that VM, or free the id, then run first boot again.",
                vm.vmid,
                other.unwrap_or("(no name)")
            ),
        )),
    }
}

/// Wait while a task (a clone or create still running, or one that a
/// crash interrupted) holds the VM's lock.
pub(crate) fn wait_unlocked<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    id: VmId,
) -> Result<VmStatus, StepError> {
    let what = format!("GET /nodes/{node}/qemu/{id}/status/current");
    let deadline = Instant::now() + config.wait_timeout;
    loop {
        let status = px
            .vm_status(node, id)
            .map_err(|e| StepError::api(&what, &e))?;
        let Some(lock) = &status.lock else {
            return Ok(status);
        };
        if Instant::now() >= deadline {
            return Err(StepError::new(
                what,
                format!(
                    "VM {id} is still locked ({lock}) after {} s: a task on it is stuck or was \
                     interrupted. Look at the node's task log; if nothing runs on the VM, \
                     `qm unlock {id}` and run first boot again.",
                    config.wait_timeout.as_secs()
                ),
            ));
        }
        std::thread::sleep(config.poll_interval);
    }
}

/// Wait for a task that a VM call started.
pub(crate) fn task<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    upid: &str,
) -> Result<(), StepError> {
    wait::task(px, config, node, upid)
}

/// The size of a disk in GiB as the configuration states it
/// (`tank1:vm-100-disk-0,...,size=3G`), rounded up.
pub(crate) fn disk_gib(cfg: &VmConfig, slot: DiskSlot) -> Option<u64> {
    let value = cfg.get(&slot.to_string())?;
    let size = value.split(',').find_map(|p| p.strip_prefix("size="))?;
    let (number, unit) = size.split_at(size.len().checked_sub(1)?);
    let n: f64 = number.parse().ok()?;
    let gib = match unit {
        "K" => n / (1024.0 * 1024.0),
        "M" => n / 1024.0,
        "G" => n,
        "T" => n * 1024.0,
        _ => return None,
    };
    Some(gib.ceil() as u64)
}

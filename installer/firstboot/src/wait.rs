//! Bounded waits: for Proxmox's cluster filesystem to answer, and for a
//! Proxmox task (create, join) to end.

use std::time::{Duration, Instant};

use tappaas_proxmox::client::{ClusterStatus, NodeName, Version};
use tappaas_proxmox::{Api, ApiError, Proxmox};

use crate::error::StepError;
use crate::Config;

/// `300 s`, or `100 ms` below a second.
fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Retry `f` until it succeeds or the time is up. A request that does not
/// fit the schema is a bug, not a slow service: it fails at once.
fn retry<A: Api, T>(
    px: &mut Proxmox<A>,
    config: &Config,
    mut f: impl FnMut(&mut Proxmox<A>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let deadline = Instant::now() + config.wait_timeout;
    loop {
        match f(px) {
            Ok(v) => return Ok(v),
            Err(e @ ApiError::Invalid { .. }) => return Err(e),
            Err(e) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(e);
                }
                std::thread::sleep(config.poll_interval.min(deadline - now));
            }
        }
    }
}

/// Proxmox is usable when pve-cluster answers both the version (the API
/// daemon side) and the cluster status (read from `/etc/pve`).
pub(crate) fn proxmox_ready<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
) -> Result<(Version, ClusterStatus), StepError> {
    retry(px, config, |px| {
        let v = px.version()?;
        Ok((v, px.cluster_status()?))
    })
    .map_err(|e| {
        StepError::api("GET /version, GET /cluster/status", &e).hint(&format!(
            "Proxmox's cluster filesystem did not answer within {}. Look at \
             `systemctl status pve-cluster` and `journalctl -u pve-cluster`, then run \
             `tappaas-installer firstboot` again.",
            human(config.wait_timeout)
        ))
    })
}

/// The cluster status, waiting while pve-cluster restarts (it does after
/// a create or a join).
pub(crate) fn cluster_status<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
) -> Result<ClusterStatus, StepError> {
    retry(px, config, |px| px.cluster_status()).map_err(|e| {
        StepError::api("GET /cluster/status", &e).hint(&format!(
            "Proxmox did not answer within {}; run `tappaas-installer firstboot` again \
             when `pvesh get /cluster/status` works.",
            human(config.wait_timeout)
        ))
    })
}

/// Wait until the task `upid` on `node` has ended; it must end `OK`.
pub(crate) fn task<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    upid: &str,
) -> Result<(), StepError> {
    let what = format!("GET /nodes/{node}/tasks/{upid}/status");
    let status = retry(px, config, |px| {
        let s = px.task_status(node, upid)?;
        if s.running {
            // Still running is "not yet", like an unreachable service.
            Err(ApiError::Decode {
                method: tappaas_proxmox::Method::Get,
                path: format!("/nodes/{node}/tasks/{upid}/status"),
                message: "the task is still running".into(),
            })
        } else {
            Ok(s)
        }
    })
    .map_err(|e| StepError::api(&what, &e))?;
    if status.succeeded() {
        Ok(())
    } else {
        Err(StepError::new(
            what,
            format!(
                "the Proxmox task {upid} ended with: {}",
                status.exitstatus.as_deref().unwrap_or("no exit status")
            ),
        ))
    }
}

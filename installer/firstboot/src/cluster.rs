//! Create the cluster (first node) or join it through a peer (later
//! nodes), deciding from the cluster status what is left to do.

use std::net::IpAddr;

use tappaas_proxmox::client::{
    ClusterName, ClusterStatus, CreateCluster, Fingerprint, JoinCluster, Link, NodeName,
};
use tappaas_proxmox::{Api, Proxmox};

use crate::error::StepError;
use crate::{wait, Config, Host};

/// Make this node the first member of cluster `name`, unless it is one
/// already.
pub(crate) fn create<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    name: &str,
    node: &NodeName,
    address: IpAddr,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let what = "POST /cluster/config";
    let name = ClusterName::new(name).map_err(|e| StepError::api(what, &e))?;
    let status = wait::cluster_status(px, config)?;
    if let Some(done) = already_created(&status, &name)? {
        note(done);
        return Ok(());
    }
    let link0 = Link::new(address);
    note(format!(
        "create cluster '{name}' with corosync link0 {}",
        link0.to_property_string()
    ));
    let request = CreateCluster {
        name: name.clone(),
        link0,
    };
    match px.create_cluster(&request) {
        Ok(Some(upid)) => wait::task(px, config, node, &upid)?,
        Ok(None) => {}
        Err(e) => {
            // The create may have happened with its answer lost: the state
            // says which, not the message.
            let status = wait::cluster_status(px, config)?;
            match already_created(&status, &name) {
                Ok(Some(_)) => note(format!(
                    "Proxmox reported an error ({e}), but cluster '{name}' exists: the create took effect"
                )),
                _ => return Err(StepError::api(what, &e)),
            }
        }
    }
    let status = wait::cluster_status(px, config)?;
    match already_created(&status, &name)? {
        Some(_) => {
            note(format!(
                "cluster '{name}' created; this node is its first member"
            ));
            Ok(())
        }
        None => Err(StepError::new(
            "GET /cluster/status",
            format!("Proxmox accepted the create, but this node is still not in cluster '{name}'"),
        )),
    }
}

/// `Some(note)` when this node already is in cluster `name`; an error when
/// it is in another cluster (first boot never leaves or changes one).
fn already_created(
    status: &ClusterStatus,
    name: &ClusterName,
) -> Result<Option<String>, StepError> {
    match &status.cluster {
        None => Ok(None),
        Some(c) if c.name == name.as_str() => Ok(Some(format!(
            "this node is already in cluster '{}' ({} node(s)): nothing to create",
            c.name, c.nodes
        ))),
        Some(c) => Err(StepError::new(
            "GET /cluster/status",
            format!(
                "this node is already a member of cluster '{}', but the plan creates cluster '{name}'. \
                 First boot does not change an existing cluster; nothing was changed.",
                c.name
            ),
        )),
    }
}

/// What the plan says about the join.
pub(crate) struct JoinPlan<'a> {
    pub peer: &'a str,
    pub fingerprint: &'a str,
}

/// Join the cluster that `join.peer` belongs to, once.
pub(crate) fn join<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    host: &mut dyn Host,
    join: &JoinPlan<'_>,
    node: &NodeName,
    address: IpAddr,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let what = "POST /cluster/config/join";
    let peer = join.peer;
    let status = wait::cluster_status(px, config)?;
    if let Some(done) = already_joined(&status, peer)? {
        note(done);
        forget_password(config, note)?;
        return Ok(());
    }
    let fingerprint = Fingerprint::parse(join.fingerprint).map_err(|e| {
        StepError::api(what, &e).hint("The plan's peer fingerprint is not usable; install again.")
    })?;

    // Look at the peer's certificate ourselves first, so that a changed
    // certificate stops here with both fingerprints named; Proxmox checks
    // it again during the join.
    match host.peer_fingerprint(peer) {
        Ok(seen) if fingerprint.matches(&seen) => {
            note(format!("the certificate of {peer} is the one confirmed at install time ({fingerprint})"));
        }
        Ok(seen) => {
            return Err(StepError::new(
                format!("check the certificate of {peer}"),
                format!(
                    "the certificate of {peer} has fingerprint {seen}, but the one confirmed at install \
                     time is {fingerprint}: refusing to join. Nothing was changed on this node.\n\
                     If {peer} is the right machine and its certificate was renewed, install this node \
                     again and confirm the new fingerprint; otherwise something else answers at {peer}."
                ),
            ));
        }
        Err(reason) => note(format!(
            "cannot read the certificate of {peer} from here ({reason}); Proxmox checks the fingerprint during the join"
        )),
    }

    let password = host
        .peer_password(config)
        .map_err(|e| StepError::new("read the peer password credential", e))?
        .ok_or_else(|| {
            StepError::new(
                "read the peer password credential",
                format!(
                    "the root password of {peer} is needed for the join, but {} does not exist. \
                     Store it with `systemd-creds encrypt --name=tappaas-peer-password - {}` \
                     (type the password, then Ctrl-D) and run first boot again.",
                    config.peer_password_credential.display(),
                    config.peer_password_credential.display()
                ),
            )
        })?;
    let link0 = Link::new(address);
    let request = JoinCluster::new(peer, fingerprint.clone(), password, link0)
        .map_err(|e| StepError::api(what, &e))?;
    note(format!(
        "join the cluster through {peer} (fingerprint {fingerprint}) with corosync link0 {}",
        link0.to_property_string()
    ));
    match px.join_cluster(&request) {
        Ok(Some(upid)) => wait::task(px, config, node, &upid)?,
        Ok(None) => {}
        Err(e) => {
            // A lost answer after a join that happened: the state decides.
            let status = wait::cluster_status(px, config)?;
            match already_joined(&status, peer) {
                Ok(Some(_)) => note(format!(
                    "Proxmox reported an error ({e}), but this node is a member now: the join took effect"
                )),
                _ => {
                    return Err(StepError::api(what, &e).hint(&format!(
                        "The join was refused; this node is still on its own and nothing was changed. \
                         Check that {peer} is up and in a quorate cluster, that the root password stored \
                         for it is right, and that its certificate fingerprint is still {fingerprint}. \
                         If this node was a member before (installed again), remove its old entry \
                         first: on a member, `pvecm delnode {node}`."
                    )))
                }
            }
        }
    }
    let status = wait::cluster_status(px, config)?;
    match already_joined(&status, peer)? {
        Some(_) => {
            let c = status
                .cluster
                .as_ref()
                .map(|c| c.name.as_str())
                .unwrap_or("?");
            note(format!("joined cluster '{c}' through {peer}"));
            forget_password(config, note)
        }
        None => Err(StepError::new(
            "GET /cluster/status",
            format!("Proxmox accepted the join, but this node is still not in {peer}'s cluster"),
        )),
    }
}

/// Whether `status` lists `peer` by name (or its first label) or address.
pub(crate) fn lists_peer(status: &ClusterStatus, peer: &str) -> bool {
    let short = peer.split('.').next().unwrap_or(peer);
    let is_ip = peer.parse::<IpAddr>().is_ok();
    status
        .nodes
        .iter()
        .any(|n| n.ip.as_deref() == Some(peer) || n.name == peer || (!is_ip && n.name == short))
}

/// `Some(note)` when this node is already in a cluster with the peer; an
/// error when it is in a cluster without it.
fn already_joined(status: &ClusterStatus, peer: &str) -> Result<Option<String>, StepError> {
    let Some(c) = &status.cluster else {
        return Ok(None);
    };
    if lists_peer(status, peer) {
        Ok(Some(format!(
            "this node is already a member of cluster '{}' with {peer}: nothing to join",
            c.name
        )))
    } else {
        Err(StepError::new(
            "GET /cluster/status",
            format!(
                "this node is a member of cluster '{}', which does not list {peer}, the node the plan \
                 joins through. First boot never joins twice; nothing was changed.",
                c.name
            ),
        ))
    }
}

/// After the join the peer's password has done its job: delete it.
fn forget_password(config: &Config, note: &mut dyn FnMut(String)) -> Result<(), StepError> {
    let path = &config.peer_password_credential;
    match std::fs::remove_file(path) {
        Ok(()) => {
            note(format!(
                "deleted the peer password credential {}",
                path.display()
            ));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StepError::new(
            format!("remove {}", path.display()),
            format!("the join is done, but the peer password credential could not be deleted: {e}"),
        )),
    }
}

//! The replication key and its exchange between nodes.
//!
//! Each node makes its own ed25519 key for this job only (root-only, not
//! root's usual key) and publishes a [`Member`] record with the public
//! half in the cluster-wide, root-only `/etc/pve/priv/tappaas-replication/`
//! (pmxcfs copies it to every node). Each node then writes, from those
//! records, its own sshd keys file (not the cluster's shared
//! authorized_keys): one line per other node, restricted to the
//! management network and forced to `backup receive-guard --source NODE`.
//! A node that joins later publishes its record at first boot; every node
//! picks it up at its next run.

use std::path::Path;

use tappaas_effects::Effects;
use tappaas_plan::{Address, Plan, ReplicationPlan, REPLICA_ROOT};

use super::replication::{Member, ReplicationPaths};
use super::{run_checked, BackupError, SHORT_LIMIT};

/// The program sshd runs for another node's key.
pub const GUARD: &str = "/usr/bin/tappaas-installer backup receive-guard";

/// This node as its record says, from the install's plan and its key.
pub fn me(plan: &Plan, conf: &ReplicationPlan, public_key: &str) -> Member {
    Member {
        number: plan.node.number,
        hostname: plan.node.hostname.clone(),
        address: match &plan.network.address {
            Address::Static(cidr) => Some(cidr.addr.to_string()),
            Address::FromDhcp => None,
        },
        receives: conf.receives,
        key: public_key.trim().to_string(),
    }
}

/// Make the key unless it exists, publish this node's record, give the
/// replicas their parent (canmount=off) and rebuild the keys file sshd
/// reads. Run at first boot after the cluster step and at every run.
pub fn setup(
    fx: &mut dyn Effects,
    paths: &ReplicationPaths,
    plan: &Plan,
    conf: &ReplicationPlan,
    members: &[Member],
    line: &mut dyn FnMut(&str),
) -> Result<Member, BackupError> {
    let public = paths.key.with_extension("pub");
    if !paths.key.exists() {
        if let Some(dir) = paths.key.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| BackupError::Failed(format!("{}: {e}", dir.display())))?;
        }
        // No passphrase: the timer runs unattended; the file is 0600 and
        // the key is accepted only by the receive guard.
        let args: Vec<String> = [
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            &format!("tappaas-replication@{}", plan.node.hostname),
            "-f",
            &paths.key.display().to_string(),
        ]
        .map(String::from)
        .to_vec();
        run_checked(fx, "ssh-keygen", &args, SHORT_LIMIT, line)?;
    }
    let key = std::fs::read_to_string(&public).map_err(|e| {
        BackupError::Failed(format!(
            "{}: {e}; remove {} to make a new key",
            public.display(),
            paths.key.display()
        ))
    })?;
    let me = me(plan, conf, &key);
    let record = serde_json::to_string_pretty(&me)
        .map_err(|e| BackupError::Failed(format!("this node's record: {e}")))?;
    let published = paths.members.join(format!("{}.json", me.hostname));
    if std::fs::read_to_string(&published).ok().as_deref() != Some(record.as_str()) {
        std::fs::create_dir_all(&paths.members)
            .map_err(|e| BackupError::Failed(format!("{}: {e}", paths.members.display())))?;
        fx.write_file(&published, 0o600, record.as_bytes())
            .map_err(|e| BackupError::Failed(format!("{}: {e}", published.display())))?;
        line(&format!(
            "published this node's replication key in {}",
            published.display()
        ));
    }
    if conf.receives {
        let args: Vec<String> = ["create", "-p", "-o", "canmount=off", REPLICA_ROOT]
            .map(String::from)
            .to_vec();
        run_checked(fx, "zfs", &args, SHORT_LIMIT, line)?;
    }
    let mut all: Vec<Member> = members
        .iter()
        .filter(|m| m.number != me.number)
        .cloned()
        .collect();
    all.push(me.clone());
    let text = authorized_keys(&all, me.number, conf, line);
    fx.write_file(&paths.authorized_keys, 0o600, text.as_bytes())
        .map_err(|e| BackupError::Failed(format!("{}: {e}", paths.authorized_keys.display())))?;
    Ok(me)
}

/// sshd's keys file: each other node's key, accepted only from the
/// management network (or, with a DHCP address, from that node's
/// address) and only to run the receive guard for that node. A node
/// without tank2 accepts none. A record whose key or name would not fit
/// in the line as plain data is left out and said.
pub fn authorized_keys(
    members: &[Member],
    me: u8,
    conf: &ReplicationPlan,
    line: &mut dyn FnMut(&str),
) -> String {
    let mut out = String::from(
        "# Written by `tappaas-installer backup replicate` from /etc/pve/priv/tappaas-replication/\n\
         # (docs/backup.md); rewritten at every run.\n",
    );
    if !conf.receives {
        out.push_str("# This node has no tank2: it receives no replicas.\n");
        return out;
    }
    for m in members.iter().filter(|m| m.number != me) {
        let Some(key) = plain_key(&m.key) else {
            line(&format!(
                "left out node {}'s key: not an ssh-ed25519 key line",
                m.hostname
            ));
            continue;
        };
        if !plain_name(&m.hostname) {
            line(&format!(
                "left out node {}: not a plain host name",
                m.hostname
            ));
            continue;
        }
        let from = match (&conf.allow_from, &m.address) {
            (Some(net), _) => net.to_string(),
            (None, Some(addr)) if addr.parse::<std::net::IpAddr>().is_ok() => addr.clone(),
            _ => {
                line(&format!(
                    "left out node {}: no management network or address to restrict its key to",
                    m.hostname
                ));
                continue;
            }
        };
        out.push_str(&format!(
            "restrict,from=\"{from}\",command=\"{GUARD} --source {}\" {key}\n",
            m.hostname
        ));
    }
    out
}

/// `ssh-ed25519 BASE64 [COMMENT]` with nothing that could end the line or
/// the options before it.
fn plain_key(key: &str) -> Option<String> {
    let mut parts = key.split(' ');
    let (kind, body) = (parts.next()?, parts.next()?);
    let comment = parts.next();
    let base64 = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
    };
    let comment_ok = comment.is_none_or(|c| {
        c.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '-'))
    });
    (kind == "ssh-ed25519" && base64(body) && comment_ok && parts.next().is_none())
        .then(|| key.to_string())
}

fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The install's plan, for this node's name, number and address.
pub fn load_plan(path: &Path) -> Result<Plan, BackupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BackupError::Failed(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| BackupError::Failed(format!("{}: {e}", path.display())))
}

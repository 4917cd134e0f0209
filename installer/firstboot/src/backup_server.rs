//! The Proxmox Backup Server wired into the cluster, after the service
//! that provides `backup` (the catalog's `backup-server`) is deployed and
//! healthy, by first boot and by `services deploy` alike:
//!
//! 1. its certificate fingerprint is read from the VM through its guest
//!    agent (`proxmox-backup-manager cert info`), never taken from
//!    anywhere else, and refused unless it is a SHA-256 fingerprint;
//! 2. it becomes the cluster storage [`STORAGE_ID`] (type `pbs`), with the
//!    user and password the VM was made with (the password from the
//!    root-only credentials file; transports keep it off command lines);
//! 3. one backup job, [`JOB_ID`], backs up every guest (`all`, so a VM
//!    made later is covered without being added) at [`POLICY`]'s time
//!    with its retention;
//! 4. the datastore's own prune, garbage-collection and verify schedules
//!    are set by the VM's `tappaas-pbs-schedules` (written by its
//!    cloud-init), run through the guest agent with [`POLICY`]'s values.
//!
//! Each step reads Proxmox's state first and changes only what differs:
//! a second run changes nothing.

use std::net::IpAddr;

use tappaas_proxmox::client::{
    BackupJob, Fingerprint, GuestCommand, NodeName, Password, PbsStorage, Retention, StorageId,
};
use tappaas_proxmox::{Api, ApiError, Proxmox};
use tappaas_services::render;

use crate::deploy::Deployment;
use crate::error::StepError;
use crate::{dependant, vm, Config};

/// What a service offers (catalog `provides`) to be wired in as the
/// cluster's backup server.
pub(crate) const PROVIDES: &str = "backup";
/// The cluster storage the backup server becomes.
pub(crate) const STORAGE_ID: &str = "tappaas-pbs";
/// The backup job of every guest.
pub(crate) const JOB_ID: &str = "tappaas-vms";
/// What the VM's cloud-init made (catalog backup-server.toml).
pub(crate) const DATASTORE: &str = "tappaas";
pub(crate) const USERNAME: &str = "tappaas@pbs";
pub(crate) const PASSWORD_SECRET: &str = "backup-password";
const SCHEDULES_SCRIPT: &str = "/usr/local/sbin/tappaas-pbs-schedules";

/// When the VMs are backed up and how many backups are kept: the one
/// place these are set (the job, the datastore's prune job, the summary
/// and docs/backup.md follow it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The backup job (a Proxmox calendar event: every day at this time).
    pub backup: &'static str,
    pub retention: Retention,
    /// The datastore's own jobs, after the backups.
    pub prune: &'static str,
    pub gc: &'static str,
    pub verify: &'static str,
}

pub(crate) const POLICY: Policy = Policy {
    backup: "02:30",
    retention: Retention {
        daily: 7,
        weekly: 4,
        monthly: 6,
    },
    prune: "03:30",
    gc: "04:00",
    verify: "sun 05:00",
};

/// The job's comment, so a person looking at the job list knows whose it is.
const JOB_COMMENT: &str = "TAPPaaS: every guest to the Proxmox Backup Server (made by first boot)";

/// After service `name` is healthy: when it provides `backup`, wire it in
/// (see the module). Other services: nothing.
pub(crate) fn wire<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    dep: &Deployment,
    name: &str,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let Some(entry) = dep.resolved.get(name) else {
        return Ok(());
    };
    if !entry.provides.iter().any(|p| p == PROVIDES) {
        return Ok(());
    }
    let r = render(&dep.catalog, &dep.resolved, name, &dep.context)
        .map_err(|e| StepError::new(format!("render service {name}"), e.to_string()))?;
    let id = vm::vmid(r.entry.vmid)?;
    let unreachable = |call: String, e: &ApiError| {
        StepError::api(call, e).hint(&format!(
            "The backup server is wired in through VM {id}'s guest agent: start the VM, \
             check `qm agent {id} ping`, then run again."
        ))
    };

    // 1. The fingerprint, from the VM itself.
    let command = guest_command(&["proxmox-backup-manager", "cert", "info"])?;
    note(format!(
        "read the certificate fingerprint of VM {id} '{name}' (guest agent)"
    ));
    let status = dependant::exec(px, config, node, id, name, &command, &unreachable)?;
    if !status.succeeded() {
        return Err(dependant::failed(&status, &command, id, name, &[]).hint(
            "Nothing was registered. Proxmox Backup Server may still be installing \
             (cloud-init); run again when it has finished.",
        ));
    }
    let fingerprint = parse_cert_info(&status.out_data).map_err(|why| {
        StepError::new(
            format!("read the certificate fingerprint of VM {id} '{name}'"),
            why,
        )
        .hint(
            "Nothing was registered: a backup storage is only added with the fingerprint its \
             own server shows. Check `proxmox-backup-manager cert info` in the VM.",
        )
    })?;
    note(format!("{name}'s certificate fingerprint: {fingerprint}"));

    // 2. The storage.
    let password = dep
        .context
        .secrets
        .get(name, PASSWORD_SECRET)
        .map(|s| Password::new(s.expose()))
        .ok_or_else(|| {
            StepError::new(
                format!("read {name}'s {PASSWORD_SECRET}"),
                format!(
                    "{} has no {name}.{PASSWORD_SECRET}",
                    config.credentials.display()
                ),
            )
        })?;
    let storage = PbsStorage {
        id: StorageId::new(STORAGE_ID).map_err(|e| StepError::api("name the storage", &e))?,
        server: IpAddr::V4(r.placement.address),
        datastore: DATASTORE.into(),
        username: USERNAME.into(),
        password,
        fingerprint,
    };
    ensure_storage(px, &storage, note)?;

    // 3. The job.
    let job = BackupJob {
        id: JOB_ID.into(),
        schedule: POLICY.backup.into(),
        storage: storage.id.clone(),
        retention: POLICY.retention,
        comment: JOB_COMMENT.into(),
    };
    ensure_job(px, &job, note)?;

    // 4. The datastore's own schedules.
    let ret = POLICY.retention;
    let (daily, weekly, monthly) = (
        ret.daily.to_string(),
        ret.weekly.to_string(),
        ret.monthly.to_string(),
    );
    let command = guest_command(&[
        SCHEDULES_SCRIPT,
        POLICY.prune,
        POLICY.gc,
        POLICY.verify,
        &daily,
        &weekly,
        &monthly,
    ])?;
    note(format!("run `{command}` in VM {id} '{name}' (guest agent)"));
    let status = dependant::exec(px, config, node, id, name, &command, &unreachable)?;
    if !status.succeeded() {
        return Err(
            dependant::failed(&status, &command, id, name, &[]).hint(&format!(
                "The storage and the backup job are in place; the datastore's prune, garbage \
             collection and verify schedules are not. {SCHEDULES_SCRIPT} comes with the VM's \
             cloud-init: a VM made before it has none (redeploy it). Then run again."
            )),
        );
    }
    note(format!(
        "{name}: prune {}, garbage collection {}, verify {}",
        POLICY.prune, POLICY.gc, POLICY.verify
    ));
    Ok(())
}

fn guest_command(args: &[&str]) -> Result<GuestCommand, StepError> {
    GuestCommand::new(args.iter().map(|a| a.to_string()).collect())
        .map_err(|e| StepError::api("run a command in the backup server", &e))
}

/// The SHA-256 fingerprint in `proxmox-backup-manager cert info`'s output
/// (`Fingerprint (sha256): ab:cd:...`), in Proxmox's form.
pub(crate) fn parse_cert_info(output: &str) -> Result<Fingerprint, String> {
    let mut found = output.lines().filter_map(|l| {
        l.trim()
            .strip_prefix("Fingerprint (sha256):")
            .map(str::trim)
    });
    let value = found.next().ok_or_else(|| {
        format!(
            "`proxmox-backup-manager cert info` printed no 'Fingerprint (sha256):' line; it printed: {}",
            if output.trim().is_empty() { "nothing" } else { output.trim() }
        )
    })?;
    if found.next().is_some() {
        return Err("`proxmox-backup-manager cert info` printed more than one fingerprint".into());
    }
    // Only the colon form PBS prints: a bare hex string is not what it shows.
    if !tappaas_proxmox::formats::is_fingerprint(value) {
        return Err(format!(
            "'{value}' is not a SHA-256 fingerprint (32 hex pairs separated by ':')"
        ));
    }
    Fingerprint::parse(value).map_err(|e| e.to_string())
}

/// The storage as `want` says: added when missing, its fingerprint
/// updated when the server's certificate changed, else left alone.
fn ensure_storage<A: Api>(
    px: &mut Proxmox<A>,
    want: &PbsStorage,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let id = &want.id;
    let existing = px
        .storages()
        .map_err(|e| StepError::api("GET /storage", &e))?
        .into_iter()
        .find(|s| s.storage == id.as_str());
    let Some(have) = existing else {
        note(format!(
            "add storage '{id}': Proxmox Backup Server {}, datastore {}, user {} (password from the credentials file)",
            want.server, want.datastore, want.username
        ));
        return px
            .add_pbs_storage(want)
            .map_err(|e| StepError::api("POST /storage", &e));
    };
    let server = want.server.to_string();
    let same = |have: &Option<String>, want: &str| have.as_deref() == Some(want);
    if have.storage_type != "pbs"
        || !same(&have.server, &server)
        || !same(&have.datastore, &want.datastore)
        || !same(&have.username, &want.username)
    {
        return Err(StepError::new(
            format!("register the backup server as storage '{id}'"),
            format!(
                "storage '{id}' exists but is not this backup server ({} {}, datastore {}, user {})",
                have.storage_type,
                have.server.as_deref().unwrap_or("-"),
                have.datastore.as_deref().unwrap_or("-"),
                have.username.as_deref().unwrap_or("-"),
            ),
        )
        .hint(&format!(
            "Remove or rename that storage (`pvesm remove {id}`) if it is not needed, then run again."
        )));
    }
    if have
        .fingerprint
        .as_deref()
        .is_some_and(|f| want.fingerprint.matches(f))
    {
        note(format!("storage '{id}' is registered: nothing to do"));
        return Ok(());
    }
    note(format!(
        "storage '{id}': the server's certificate fingerprint is now {}",
        want.fingerprint
    ));
    px.set_storage_fingerprint(id, &want.fingerprint)
        .map_err(|e| StepError::api(format!("PUT /storage/{id}"), &e))
}

/// The job as `want` says, found by its id: made when missing, its
/// settings put back when they differ, else left alone.
fn ensure_job<A: Api>(
    px: &mut Proxmox<A>,
    want: &BackupJob,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let jobs = px
        .backup_jobs()
        .map_err(|e| StepError::api("GET /cluster/backup", &e))?;
    let what = format!(
        "back up every guest to '{}' at {} (snapshot mode), keeping {}",
        want.storage,
        want.schedule,
        want.retention.to_property_string()
    );
    match jobs.iter().find(|j| j.id == want.id) {
        None => {
            note(format!("make backup job '{}': {what}", want.id));
            px.create_backup_job(want)
                .map_err(|e| StepError::api("POST /cluster/backup", &e))
        }
        Some(have)
            if have.all
                && have.enabled
                && have.schedule.as_deref() == Some(want.schedule.as_str())
                && have.storage.as_deref() == Some(want.storage.as_str())
                && have.mode.as_deref() == Some("snapshot")
                && have.retention() == Some(want.retention)
                && have.comment.as_deref() == Some(want.comment.as_str()) =>
        {
            note(format!(
                "backup job '{}' is in place: nothing to do",
                want.id
            ));
            Ok(())
        }
        Some(_) => {
            note(format!("put backup job '{}' back: {what}", want.id));
            px.update_backup_job(want)
                .map_err(|e| StepError::api(format!("PUT /cluster/backup/{}", want.id), &e))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fingerprint_pbs_prints() {
        let fp = "ab:".repeat(31) + "cd";
        let out = format!(
            "Subject: CN=pbs\nIssuer: CN=pbs\nValidity:\n    Not Before: x\nFingerprint (sha256): {fp}\nPublic key type: rsaEncryption\n"
        );
        assert_eq!(
            parse_cert_info(&out).unwrap().as_str(),
            fp.to_ascii_uppercase()
        );
        assert!(parse_cert_info("Subject: CN=pbs\n")
            .unwrap_err()
            .contains("no 'Fingerprint"));
        let short = "Fingerprint (sha256): ab:cd:ef\n";
        assert!(parse_cert_info(short)
            .unwrap_err()
            .contains("not a SHA-256"));
        let bare = format!("Fingerprint (sha256): {}\n", "ab".repeat(32));
        assert!(parse_cert_info(&bare).is_err());
    }
}

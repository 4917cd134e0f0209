//! The node's configuration archive, sent to the Proxmox Backup Server as
//! a host backup when first boot has made it the cluster storage
//! `tappaas-pbs` ([`crate::backup_server`]).
//!
//! Where to: the storage's section of /etc/pve/storage.cfg (server,
//! datastore, user, certificate fingerprint), read by a pure parser. The
//! password is the one Proxmox keeps for the storage in the root-only
//! /etc/pve/priv/storage/tappaas-pbs.pw. proxmox-backup-client takes both
//! from its environment (`PBS_PASSWORD`, `PBS_FINGERPRINT`, as its
//! documentation names them); a shell reads them from its standard input
//! into the environment and runs the client, so neither is on any
//! command line.

use std::path::Path;

use tappaas_effects::Effects;

use super::{run_checked, BackupError, LONG_LIMIT};
use crate::backup_server::STORAGE_ID;

/// Proxmox's storage configuration, and where it keeps a storage's
/// password, below the node's root.
const STORAGE_CFG: &str = "etc/pve/storage.cfg";
fn password_file(storage: &str) -> String {
    format!("etc/pve/priv/storage/{storage}.pw")
}

/// The archive's name on the backup server.
pub const PXAR: &str = "node-config.pxar";

/// Reads the password and the fingerprint (one line each) into the
/// client's environment, then becomes the client with the arguments.
const WITH_SECRETS_FROM_STDIN: &str = "IFS= read -r PBS_PASSWORD || exit 90; \
IFS= read -r PBS_FINGERPRINT || exit 90; export PBS_PASSWORD; \
if [ -n \"$PBS_FINGERPRINT\" ]; then export PBS_FINGERPRINT; fi; \
exec proxmox-backup-client \"$@\"";

/// What happened with the backup server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PbsUpload {
    /// No `tappaas-pbs` storage on this node: the local archive only.
    NotRegistered,
    /// Sent as a host backup to this repository.
    Sent { repository: String },
}

/// A `pbs` storage as storage.cfg has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbsTarget {
    pub server: String,
    pub port: Option<u16>,
    pub datastore: String,
    pub username: String,
    pub fingerprint: Option<String>,
}

impl PbsTarget {
    /// `USER@REALM@SERVER[:PORT]:DATASTORE`, an IPv6 address in brackets.
    pub fn repository(&self) -> String {
        let server = if self.server.contains(':') {
            format!("[{}]", self.server)
        } else {
            self.server.clone()
        };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}@{server}{port}:{}", self.username, self.datastore)
    }
}

/// The `pbs: ID` section of storage.cfg's `text`; `Ok(None)` when there
/// is none. A section without a server, datastore or user is an error.
pub fn parse_storage_cfg(text: &str, id: &str) -> Result<Option<PbsTarget>, String> {
    let mut lines = text.lines().enumerate();
    let header = lines.by_ref().find(|(_, l)| {
        l.split_once(':')
            .is_some_and(|(t, name)| t.trim() == "pbs" && name.trim() == id)
    });
    let Some((at, _)) = header else {
        return Ok(None);
    };
    let mut get = std::collections::BTreeMap::new();
    // The section's settings are indented; it ends at the next header.
    for (_, l) in lines.take_while(|(_, l)| l.is_empty() || l.starts_with([' ', '\t'])) {
        if let Some((key, value)) = l.trim().split_once(char::is_whitespace) {
            get.insert(key.to_string(), value.trim().to_string());
        }
    }
    let need = |key: &str| {
        get.get(key).cloned().ok_or_else(|| {
            format!(
                "{STORAGE_CFG}, line {}: storage {id} has no `{key}`",
                at + 1
            )
        })
    };
    let port = match get.get("port") {
        Some(p) => Some(
            p.parse()
                .map_err(|_| format!("{STORAGE_CFG}: storage {id}'s port `{p}` is not a port"))?,
        ),
        None => None,
    };
    Ok(Some(PbsTarget {
        server: need("server")?,
        port,
        datastore: need("datastore")?,
        username: need("username")?,
        fingerprint: get.get("fingerprint").cloned(),
    }))
}

/// Send `archive`'s files to the backup server when it is a storage of
/// this node (unpacked into `stage`, then removed); say so when it is not.
pub(crate) fn send(
    fx: &mut dyn Effects,
    root: &Path,
    hostname: &str,
    archive: &Path,
    stage: &Path,
    line: &mut dyn FnMut(&str),
) -> Result<PbsUpload, BackupError> {
    let cfg = root.join(STORAGE_CFG);
    let target = match std::fs::read_to_string(&cfg) {
        Ok(text) => parse_storage_cfg(&text, STORAGE_ID).map_err(BackupError::Failed)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(BackupError::Failed(format!("{}: {e}", cfg.display()))),
    };
    let Some(target) = target else {
        line(&format!(
            "the backup server is not registered here (no storage {STORAGE_ID} in /{STORAGE_CFG}): \
             the archive above is the only copy"
        ));
        return Ok(PbsUpload::NotRegistered);
    };
    let pw_file = root.join(password_file(STORAGE_ID));
    let password = std::fs::read_to_string(&pw_file).map_err(|e| {
        BackupError::Failed(format!(
            "{}: {e}; storage {STORAGE_ID} has no password here: the local archive is written, \
             the backup server has no copy",
            pw_file.display()
        ))
    })?;
    let password = password.trim_end_matches(['\n', '\r']);
    let stage_arg = stage.display().to_string();
    let repository = target.repository();
    let s = |a: &str| a.to_string();
    run_checked(
        fx,
        "rm",
        &[s("-rf"), s("--"), stage_arg.clone()],
        LONG_LIMIT,
        line,
    )?;
    run_checked(
        fx,
        "install",
        &[s("-d"), s("-m"), s("0700"), stage_arg.clone()],
        LONG_LIMIT,
        line,
    )?;
    let unpacked = run_checked(
        fx,
        "tar",
        &[
            s("--extract"),
            s("--gzip"),
            s("--numeric-owner"),
            s("--preserve-permissions"),
            s("--file"),
            archive.display().to_string(),
            s("--directory"),
            stage_arg.clone(),
        ],
        LONG_LIMIT,
        line,
    );
    let sent = unpacked.and_then(|()| {
        line(&format!("send it to the backup server: {repository}"));
        let input = format!(
            "{password}\n{}\n",
            target.fingerprint.as_deref().unwrap_or_default()
        );
        let args = [
            s("-c"),
            s(WITH_SECRETS_FROM_STDIN),
            s("proxmox-backup-client"),
            s("backup"),
            format!("{PXAR}:{stage_arg}"),
            s("--repository"),
            repository.clone(),
            s("--backup-id"),
            hostname.to_string(),
        ];
        super::run_checked_with(fx, "sh", &args, Some(input.as_bytes()), LONG_LIMIT, line)
    });
    // The unpacked copy holds the host keys: never left behind.
    let cleaned = run_checked(fx, "rm", &[s("-rf"), s("--"), stage_arg], LONG_LIMIT, line);
    sent.map_err(|e| {
        BackupError::Failed(format!(
            "{e}\nThe local archive is written; the backup server has no copy of this run."
        ))
    })?;
    cleaned?;
    Ok(PbsUpload::Sent { repository })
}

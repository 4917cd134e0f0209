//! What first boot needs from the node besides Proxmox: the peer's
//! password (a systemd credential) and the peer's certificate as seen from
//! here. A trait, so tests play the node without systemd or a network.

use std::path::{Path, PathBuf};

use tappaas_proxmox::client::Password;
use tappaas_proxmox::CommandRunner;

use crate::Config;

/// The credential's name: `ImportCredential=` in the unit and
/// `systemd-creds encrypt --name=` at install time use it.
pub const PEER_PASSWORD_NAME: &str = "tappaas-peer-password";

pub trait Host {
    /// The peer's root password for a join; `None` when none is stored.
    fn peer_password(&mut self, config: &Config) -> Result<Option<Password>, String>;

    /// The SHA-256 fingerprint of the certificate `peer` presents on the
    /// Proxmox port, as this node sees it. An error means it could not be
    /// read from here; the join itself still checks it.
    fn peer_fingerprint(&mut self, peer: &str) -> Result<String, String>;
}

/// Reads the certificate a peer presents on the Proxmox port and returns
/// its SHA-256 fingerprint (`AB:CD:...`).
pub type PeerFingerprint = Box<dyn FnMut(&str) -> Result<String, String>>;

/// The real node: the systemd credential, and the peer's certificate read
/// by the same code that showed it to the user in the wizard (the caller
/// passes it in, so this crate needs no TLS library).
pub struct SystemHost<R: CommandRunner> {
    runner: R,
    /// `$CREDENTIALS_DIRECTORY`, set by systemd for the unit.
    credentials_dir: Option<PathBuf>,
    peer_fingerprint: PeerFingerprint,
}

impl<R: CommandRunner> SystemHost<R> {
    /// `credentials_dir`: where systemd put the decrypted credentials
    /// (`$CREDENTIALS_DIRECTORY`), if it did.
    pub fn new(
        runner: R,
        credentials_dir: Option<PathBuf>,
        peer_fingerprint: PeerFingerprint,
    ) -> SystemHost<R> {
        SystemHost {
            runner,
            credentials_dir,
            peer_fingerprint,
        }
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }
}

impl<R: CommandRunner> Host for SystemHost<R> {
    fn peer_password(&mut self, config: &Config) -> Result<Option<Password>, String> {
        // Under the unit, systemd has decrypted it already (the unit's
        // ImportCredential=); the password never touches a disk in clear.
        if let Some(dir) = &self.credentials_dir {
            let path = dir.join(PEER_PASSWORD_NAME);
            match std::fs::read(&path) {
                Ok(bytes) => return Ok(Some(password_from(&path, bytes)?)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("reading {}: {e}", path.display())),
            }
        }
        // Run by hand: decrypt it the way the unit would.
        let encrypted = &config.peer_password_credential;
        if !encrypted.exists() {
            return Ok(None);
        }
        let file = encrypted.display().to_string();
        let name = format!("--name={PEER_PASSWORD_NAME}");
        let args = ["decrypt".to_string(), name, file, "-".to_string()];
        let out = self
            .runner
            .run("systemd-creds", &args)
            .map_err(|e| format!("cannot run systemd-creds: {e}"))?;
        if out.status != Some(0) {
            return Err(format!(
                "`systemd-creds {}` failed ({}): {}",
                args.join(" "),
                out.status
                    .map(|s| format!("exit status {s}"))
                    .unwrap_or_else(|| "killed by a signal".into()),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Some(password_from(encrypted, out.stdout)?))
    }

    fn peer_fingerprint(&mut self, peer: &str) -> Result<String, String> {
        (self.peer_fingerprint)(peer)
    }
}

fn password_from(path: &Path, bytes: Vec<u8>) -> Result<Password, String> {
    // The installer stores the password without a newline; it is taken
    // exactly as stored.
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{} does not hold a UTF-8 password", path.display()))?;
    if text.is_empty() {
        return Err(format!("{} holds an empty password", path.display()));
    }
    Ok(Password::new(text))
}

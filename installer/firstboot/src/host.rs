//! What first boot needs from the node besides Proxmox: the peer's
//! password (a systemd credential) and the peer's certificate as seen from
//! here. A trait, so tests play the node without systemd or a network.

use std::path::{Path, PathBuf};

use tappaas_proxmox::client::Password;
use tappaas_proxmox::{CommandOutput, CommandRunner};

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

/// The real node: systemd credentials and `openssl`.
pub struct SystemHost<R: CommandRunner> {
    runner: R,
    /// `$CREDENTIALS_DIRECTORY`, set by systemd for the unit.
    credentials_dir: Option<PathBuf>,
    scratch: PathBuf,
}

impl<R: CommandRunner> SystemHost<R> {
    /// `credentials_dir`: where systemd put the decrypted credentials
    /// (`$CREDENTIALS_DIRECTORY`), if it did; `scratch`: a root-only folder
    /// for the peer's certificate while it is hashed.
    pub fn new(runner: R, credentials_dir: Option<PathBuf>, scratch: PathBuf) -> SystemHost<R> {
        SystemHost {
            runner,
            credentials_dir,
            scratch,
        }
    }

    fn run(&mut self, program: &str, args: &[&str]) -> Result<CommandOutput, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = self
            .runner
            .run(program, &args)
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if out.status != Some(0) {
            return Err(format!(
                "`{program} {}` failed ({}): {}",
                args.join(" "),
                out.status
                    .map(|s| format!("exit status {s}"))
                    .unwrap_or_else(|| "killed by a signal".into()),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(out)
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
        let out = self.run("systemd-creds", &["decrypt", &name, &file, "-"])?;
        Ok(Some(password_from(encrypted, out.stdout)?))
    }

    fn peer_fingerprint(&mut self, peer: &str) -> Result<String, String> {
        let connect = format!("{peer}:8006");
        // No -verify: the point is to see the certificate the peer shows,
        // whoever signed it, and compare it with what the user confirmed.
        let out = self.run(
            "openssl",
            &["s_client", "-connect", &connect, "-servername", peer],
        )?;
        let pem = first_certificate(&String::from_utf8_lossy(&out.stdout))
            .ok_or_else(|| format!("{connect} presented no certificate"))?;
        std::fs::create_dir_all(&self.scratch)
            .map_err(|e| format!("creating {}: {e}", self.scratch.display()))?;
        let file = self.scratch.join("peer-certificate.pem");
        std::fs::write(&file, pem).map_err(|e| format!("writing {}: {e}", file.display()))?;
        let path = file.display().to_string();
        let result = self.run(
            "openssl",
            &["x509", "-in", &path, "-noout", "-fingerprint", "-sha256"],
        );
        // A public certificate, but the scratch folder is for this run only.
        let _ = std::fs::remove_file(&file);
        parse_openssl_fingerprint(&String::from_utf8_lossy(&result?.stdout))
            .ok_or_else(|| "openssl printed no SHA-256 fingerprint".to_string())
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

/// The first PEM certificate in `openssl s_client` output.
pub(crate) fn first_certificate(text: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = text.find(BEGIN)?;
    let end = text[start..].find(END)? + start + END.len();
    Some(format!("{}\n", &text[start..end]))
}

/// `sha256 Fingerprint=AB:CD:...` (OpenSSL 3) or `SHA256 Fingerprint=...`.
pub(crate) fn parse_openssl_fingerprint(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("sha256 fingerprint")
            .then(|| value.trim().to_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_output() {
        let fp = vec!["ab"; 32].join(":");
        assert_eq!(
            parse_openssl_fingerprint(&format!("sha256 Fingerprint={fp}\n")),
            Some(fp.to_ascii_uppercase())
        );
        assert_eq!(
            parse_openssl_fingerprint(&format!("SHA256 Fingerprint={fp}")),
            Some(fp.to_ascii_uppercase())
        );
        assert_eq!(parse_openssl_fingerprint("nothing"), None);
        let out = "CONNECTED\n---\nServer certificate\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\nsubject=CN=x\n";
        assert_eq!(
            first_certificate(out).as_deref(),
            Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        );
        assert_eq!(first_certificate("no cert"), None);
    }
}

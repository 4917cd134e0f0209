//! The node side of first boot: where the peer password comes from.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use tappaas_firstboot::proxmox::{CommandOutput, CommandRunner};
use tappaas_firstboot::{Config, Host, SystemHost, PEER_PASSWORD_NAME};

/// Plays systemd-creds: records the command, prints `stdout`.
struct FakeCreds {
    commands: Vec<(String, Vec<String>)>,
    stdout: &'static str,
    status: i32,
}

impl CommandRunner for FakeCreds {
    fn run(&mut self, program: &str, args: &[String]) -> std::io::Result<CommandOutput> {
        self.commands.push((program.to_string(), args.to_vec()));
        Ok(CommandOutput {
            status: Some(self.status),
            stdout: self.stdout.as_bytes().to_vec(),
            stderr: b"Failed to decrypt".to_vec(),
        })
    }
}

fn host(creds: Option<&Path>, status: i32) -> SystemHost<FakeCreds> {
    SystemHost::new(
        FakeCreds {
            commands: Vec::new(),
            stdout: "from-systemd-creds",
            status,
        },
        creds.map(Path::to_path_buf),
        Box::new(|peer: &str| Ok(format!("fingerprint of {peer}"))),
    )
}

#[test]
fn the_unit_hands_the_password_over() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::under(dir.path());
    let creds = dir.path().join("run/credentials/tappaas-firstboot.service");
    std::fs::create_dir_all(&creds).unwrap();
    // Exactly as stored: no newline is added or taken away.
    std::fs::write(creds.join(PEER_PASSWORD_NAME), "pw with spaces ").unwrap();
    let mut h = host(Some(&creds), 0);
    let pw = h.peer_password(&config).unwrap().unwrap();
    assert_eq!(pw.expose(), "pw with spaces ");
    assert_eq!(
        h.peer_fingerprint("10.0.0.10").unwrap(),
        "fingerprint of 10.0.0.10"
    );
}

#[test]
fn by_hand_the_credential_is_decrypted_with_systemd_creds() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::under(dir.path());
    let mut h = host(None, 0);
    assert!(
        h.peer_password(&config).unwrap().is_none(),
        "no credential: no password"
    );

    std::fs::create_dir_all(config.peer_password_credential.parent().unwrap()).unwrap();
    std::fs::write(&config.peer_password_credential, "encrypted").unwrap();
    let pw = h.peer_password(&config).unwrap().unwrap();
    assert_eq!(pw.expose(), "from-systemd-creds");

    let mut failing = host(None, 1);
    let e = failing.peer_password(&config).unwrap_err();
    assert!(
        e.contains("Failed to decrypt") && e.contains("exit status 1"),
        "{e}"
    );
}

#[test]
fn systemd_creds_gets_the_name_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::under(dir.path());
    std::fs::create_dir_all(config.peer_password_credential.parent().unwrap()).unwrap();
    std::fs::write(&config.peer_password_credential, "encrypted").unwrap();
    let mut h = SystemHost::new(
        FakeCreds {
            commands: Vec::new(),
            stdout: "x",
            status: 0,
        },
        None,
        Box::new(|_: &str| Err("offline".into())),
    );
    h.peer_password(&config).unwrap();
    assert_eq!(h.peer_fingerprint("p").unwrap_err(), "offline");
    let (program, args) = &h.runner().commands[0];
    assert_eq!(program, "systemd-creds");
    assert_eq!(
        args,
        &[
            "decrypt".to_string(),
            format!("--name={PEER_PASSWORD_NAME}"),
            config.peer_password_credential.display().to_string(),
            "-".to_string(),
        ]
    );
}

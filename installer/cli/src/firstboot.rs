//! `tappaas-installer firstboot` (run by tappaas-firstboot.service on the
//! installed node, or by hand to continue) and `tappaas-installer status`.
//! The work is in the `tappaas-firstboot` crate; this is the terminal side.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tappaas_exec::{Event, LineProgress};
use tappaas_firstboot::proxmox::{Proxmox, PveshApi, Schema, SystemRunner};
use tappaas_firstboot::{Config, FirstbootError, Outcome, SystemHost, EXIT_NO_PROXMOX};
use tappaas_wizard::{PeerCertificate, TlsPeer};

#[derive(Debug, Args)]
pub struct FirstbootArgs {
    /// Check every Proxmox call against this API schema (JSON of the API
    /// viewer) before it is sent
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// How long to wait for Proxmox to answer (after boot, after a join),
    /// in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Check every Proxmox call against this API schema before it is sent
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

/// The typed client over pvesh, checked against a schema when one is given
/// (the node does not ship the schema; the tests check every call).
fn proxmox(schema: Option<&Path>) -> anyhow::Result<Proxmox<PveshApi<SystemRunner>>> {
    let api = PveshApi::system();
    Ok(match schema {
        Some(path) => {
            let schema = Schema::load(path)
                .with_context(|| format!("loading the Proxmox API schema {}", path.display()))?;
            Proxmox::new(api, Arc::new(schema))
        }
        None => Proxmox::without_validation(api),
    })
}

pub fn firstboot(args: &FirstbootArgs) -> anyhow::Result<ExitCode> {
    if !nix::unistd::Uid::effective().is_root() {
        anyhow::bail!(
            "first boot changes the node's Proxmox configuration: run it as root \
             (`tappaas-installer status` shows where it stands)"
        );
    }
    let mut config = Config::node();
    config.wait_timeout = Duration::from_secs(args.wait);
    let mut px = proxmox(args.schema.as_deref())?;
    // Under the unit, systemd hands the decrypted peer password over here.
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    // The peer's certificate is read by the wizard's own code, so first
    // boot compares exactly what the user was shown and confirmed.
    let peer = TlsPeer::default();
    let fingerprint = Box::new(move |p: &str| peer.fingerprint(p).map_err(|e| e.to_string()));
    let mut host = SystemHost::new(SystemRunner, credentials, fingerprint);

    println!("TAPPaaS first boot");
    // Plain lines: the console of a booting node, the serial port, the
    // journal. Each step's actions are shown: they say what was found and
    // what was changed.
    let mut progress = LineProgress::new(std::io::stdout(), false, true);
    let result = tappaas_firstboot::run(&config, &mut px, &mut host, &mut |event| match event {
        Event::Finished { elapsed } => {
            println!("first boot finished in {:.1} s", elapsed.as_secs_f64());
        }
        other => progress.event(other),
    });
    match result {
        Ok(Outcome::Finished { summary }) => {
            println!();
            print!("{summary}");
            println!();
            println!(
                "This summary is kept in {} (root only).",
                config.summary.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(Outcome::NoProxmox { message }) => {
            eprintln!("{message}");
            Ok(ExitCode::from(EXIT_NO_PROXMOX))
        }
        Err(FirstbootError::Step { step, .. }) => {
            // The failure itself was printed by the progress lines above.
            eprintln!();
            eprintln!("First boot stopped at step '{step}'; nothing after it ran.");
            eprintln!(
                "Fix the cause, then run `systemctl start tappaas-firstboot` or \
                 `tappaas-installer firstboot`: it continues where it stopped."
            );
            eprintln!("Journal: {}", config.journal.display());
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let config = Config::node();
    let mut px = proxmox(args.schema.as_deref())?;
    print!("{}", tappaas_firstboot::status(&config, &mut px));
    Ok(ExitCode::SUCCESS)
}

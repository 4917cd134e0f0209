//! `tappaas-installer firstboot` (run by tappaas-firstboot.service on the
//! installed node, or by hand to continue) and `tappaas-installer status`.
//! The work is in the `tappaas-firstboot` crate; this is the terminal side.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tappaas_exec::LineProgress;
use tappaas_firstboot::proxmox::{Proxmox, PveshApi, Schema, SystemRunner};
use tappaas_firstboot::{Config, FirstbootError, Outcome, SystemHost, EXIT_NO_PROXMOX};
use tappaas_wizard::{Charset, PeerCertificate, Progress, Screen, TlsPeer};

use crate::recovery::{recover, Recovery, Shell, Terminal};

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
    /// Plain progress lines even on a terminal (the default there is a
    /// full-screen progress display)
    #[arg(long)]
    pub plain: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Check every Proxmox call against this API schema before it is sent
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    #[command(subcommand)]
    pub command: ServicesCommand,
    /// Check every Proxmox call against this API schema before it is sent
    #[arg(long, value_name = "FILE", global = true, hide = true)]
    pub schema: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// The catalog with each service's state on this node
    List,
    /// Deploy services (and what they need) on this node, as first boot
    /// does; deployed, healthy ones are kept
    Deploy {
        /// Catalog names, e.g. vaultwarden
        #[arg(value_name = "NAME", required = true)]
        names: Vec<String>,
        /// A registry (mirror) to pull container images from (default: the
        /// answer file's services.container-registry, else Docker's own
        /// default registry)
        #[arg(long, value_name = "HOST")]
        container_registry: Option<String>,
        /// How long to wait for Proxmox to answer, in seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        wait: u64,
    },
    /// Print the cloud-init user-data this node gives a service, rendered
    /// as `services deploy` renders it; secrets show as
    /// <redacted SERVICE.SECRET> unless --show-secrets
    #[command(name = "user-data")]
    UserData {
        /// Catalog name, e.g. grafana
        #[arg(value_name = "NAME")]
        name: String,
        /// Print the secrets' values instead of <redacted ...> (they are in
        /// /root/tappaas-credentials.txt); secrets of a service not
        /// deployed yet do not exist and stay <not generated yet ...>
        #[arg(long)]
        show_secrets: bool,
        /// Registry host to pull container images from, as for deploy
        #[arg(long, value_name = "HOST")]
        container_registry: Option<String>,
    },
}

/// The typed client over pvesh, checked against a schema when one is given
/// (the node does not ship the schema; the tests check every call).
pub(crate) fn proxmox(schema: Option<&Path>) -> anyhow::Result<Proxmox<PveshApi<SystemRunner>>> {
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

/// The first-boot host: real commands, the credential systemd decrypted,
/// and the peer's certificate read by the wizard's own code (so first boot
/// compares exactly what the user was shown and confirmed).
fn system_host() -> SystemHost<SystemRunner> {
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    let peer = TlsPeer::default();
    let fingerprint = Box::new(move |p: &str| peer.fingerprint(p).map_err(|e| e.to_string()));
    SystemHost::new(SystemRunner, credentials, fingerprint)
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
    let term = std::env::var("TERM").ok();
    let full_screen = !args.plain
        && config.proxmox_installed()
        && std::io::stdout().is_terminal()
        && term.as_deref().is_some_and(|t| t != "dumb");
    if full_screen {
        return firstboot_full_screen(args, &config, Charset::from_term(term.as_deref()));
    }
    println!("TAPPaaS first boot");
    // Plain lines: the serial port, the journal, a pipe. Each step's
    // actions are shown: they say what was found and what was changed.
    let mut progress = LineProgress::new(std::io::stdout(), false, true).named("first boot");
    let mut px = proxmox(args.schema.as_deref())?;
    let result = tappaas_firstboot::run(&config, &mut px, &mut system_host(), &mut |event| {
        progress.event(event)
    });
    report(&config, result)
}

/// The console of a booting node (tty1 under the unit): the progress
/// screen, fed by first boot running in a thread; plain lines go on to
/// stderr (the journal and the serial console) unless that is this same
/// terminal. On a failure the screen offers retry, a shell, or saving the
/// journal to a USB stick.
fn firstboot_full_screen(
    args: &FirstbootArgs,
    config: &Config,
    charset: Charset,
) -> anyhow::Result<ExitCode> {
    use tappaas_wizard::app::{run_progress, Tui};

    let fqdn = tappaas_firstboot::load_plan(&config.plan)
        .map(|p| p.node.fqdn())
        .unwrap_or_else(|_| "this node".to_string());
    let lines_to_stderr = !std::io::stderr().is_terminal();
    let serial = serial_consoles();
    let recovery = Recovery {
        shell: Some(Shell {
            intro: "A shell, to look into the failure: give root's password. \
                    Exit it to retry first boot.",
            command: Box::new(|| {
                let tty = std::fs::read_link("/proc/self/fd/0").ok();
                console_shell(tty.as_deref())
            }),
            refused: Some("the password was not given"),
        }),
        log: config.journal.clone(),
        log_name: "The first-boot journal",
        log_prefix: "tappaas-firstboot",
        after_save: "Press Enter to retry first boot.",
    };
    let mut console = Terminal {
        save: crate::install::save_to_usb_stick,
    };
    let result = recover(&recovery, &mut console, &mut || {
        let (tx, rx) = std::sync::mpsc::channel();
        let serial = &serial;
        let (outcome, result) = std::thread::scope(|scope| {
            let worker = scope.spawn(move || -> anyhow::Result<_> {
                let mut px = proxmox(args.schema.as_deref())?;
                let mut out: Vec<Box<dyn Write + Send>> = serial_writers(serial);
                if lines_to_stderr {
                    out.push(Box::new(std::io::stderr()));
                }
                let mut lines = (!out.is_empty())
                    .then(|| LineProgress::new(Fanout(out), false, true).named("first boot"));
                Ok(tappaas_firstboot::run(
                    config,
                    &mut px,
                    &mut system_host(),
                    &mut |e| {
                        if let Some(l) = lines.as_mut() {
                            l.event(e);
                        }
                        let _ = tx.send(e.clone());
                    },
                ))
            });
            let outcome = Tui::on(Screen::Stdout).and_then(|mut tui| {
                let mut progress = Progress::first_boot(fqdn.clone(), std::time::Instant::now());
                run_progress(&mut tui, &mut progress, rx, charset)
            });
            let result = worker
                .join()
                .map_err(|_| anyhow::anyhow!("first boot stopped unexpectedly"));
            (outcome, result)
        });
        let result = result??;
        Ok((outcome?, result))
    })?;
    report(config, result)
}

/// The shell the failure screen opens on the node's console: `sulogin`,
/// which asks for root's password first. First boot runs as root on tty1
/// for up to four hours; a shell without a password there would give
/// root to anyone at the keyboard. `sulogin` starts no shell when root's
/// account is locked, unless told to (`--force`, or
/// `SYSTEMD_SULOGIN_FORCE` from the environment), which is never done here.
/// `tty`: the console this runs on; without it sulogin would prompt on
/// every console of the kernel, the serial ones too.
fn console_shell(tty: Option<&Path>) -> std::process::Command {
    let mut cmd = std::process::Command::new("sulogin");
    // A login shell as before; the prompt gives up after 10 minutes and
    // the failure screen comes back.
    cmd.args(["--login-shell", "--timeout", "600"]);
    if let Some(tty) = tty.filter(|t| t.starts_with("/dev/")) {
        cmd.arg(tty);
    }
    cmd.env_remove("SYSTEMD_SULOGIN_FORCE");
    cmd
}

/// The kernel's serial consoles (`console=ttyS0,...`): a headless node's
/// only screen, so first boot's plain lines go there too.
fn serial_consoles() -> Vec<PathBuf> {
    std::fs::read_to_string("/sys/class/tty/console/active")
        .map(|active| serial_console_paths(&active))
        .unwrap_or_default()
}

fn serial_console_paths(active: &str) -> Vec<PathBuf> {
    active
        .split_whitespace()
        .filter(|name| !(name.starts_with("tty") && name[3..].chars().all(|c| c.is_ascii_digit())))
        .map(|name| Path::new("/dev").join(name))
        .collect()
}

fn serial_writers(paths: &[PathBuf]) -> Vec<Box<dyn Write + Send>> {
    paths
        .iter()
        .filter_map(|p| std::fs::OpenOptions::new().write(true).open(p).ok())
        .map(|f| Box::new(f) as Box<dyn Write + Send>)
        .collect()
}

/// One stream of progress lines to several places; a place that fails is
/// skipped (the journal file has everything).
struct Fanout(Vec<Box<dyn Write + Send>>);

impl Write for Fanout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for w in &mut self.0 {
            let _ = w.write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        for w in &mut self.0 {
            let _ = w.flush();
        }
        Ok(())
    }
}

/// What the run's end means for the console and the unit's exit status.
fn report(config: &Config, result: Result<Outcome, FirstbootError>) -> anyhow::Result<ExitCode> {
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
            // The failure itself was shown by the progress above.
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

pub fn services(args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::node();
    match &args.command {
        ServicesCommand::UserData {
            name,
            show_secrets,
            container_registry,
        } => {
            if !nix::unistd::Uid::effective().is_root() {
                anyhow::bail!(
                    "the user-data is rendered with the services' credentials, which are \
                     root-only: run it as root"
                );
            }
            let data = tappaas_firstboot::service_user_data(
                &config,
                name,
                container_registry.as_deref(),
                *show_secrets,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            for note in &data.notes {
                eprintln!("note: {note}");
            }
            print!("{}", data.text);
            Ok(ExitCode::SUCCESS)
        }
        ServicesCommand::List => {
            let mut px = proxmox(args.schema.as_deref())?;
            let text = tappaas_firstboot::services_list(&config, &mut px)
                .map_err(|e| anyhow::anyhow!(e))?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        ServicesCommand::Deploy {
            names,
            container_registry,
            wait,
        } => {
            if !nix::unistd::Uid::effective().is_root() {
                anyhow::bail!(
                    "deploying a service creates VMs and root-only files: run it as root"
                );
            }
            if !config.proxmox_installed() {
                anyhow::bail!(
                    "Proxmox VE is not installed here ({} is missing): services run only on a TAPPaaS node",
                    config.pvesh.display()
                );
            }
            config.wait_timeout = Duration::from_secs(*wait);
            let mut progress =
                LineProgress::new(std::io::stdout(), false, true).named("services deploy");
            let mut px = proxmox(args.schema.as_deref())?;
            let result = tappaas_firstboot::deploy_services(
                &config,
                &mut px,
                &mut system_host(),
                names,
                container_registry.as_deref(),
                &mut |e| progress.event(e),
            );
            match result {
                Ok(left) if left.is_empty() => {
                    println!(
                        "Deployed; credentials are in {}.",
                        config.credentials.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Ok(left) => {
                    for (name, why) in &left {
                        eprintln!("{name}: not deployed: {why}");
                    }
                    eprintln!("Fix the cause and run the same command again: it deploys only what is missing.");
                    Ok(ExitCode::from(1))
                }
                Err(FirstbootError::Step { step, .. }) => {
                    eprintln!("Stopped at '{step}' (see above); nothing after it ran.");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_user_data_parses() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let mut all = vec!["tappaas-installer", "services"];
            all.extend_from_slice(args);
            match crate::Cli::try_parse_from(all).map(|c| c.command) {
                Ok(Some(crate::Command::Services(s))) => Ok(s.command),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.kind()),
            }
        };
        match parse(&["user-data", "grafana"]) {
            Ok(ServicesCommand::UserData {
                name,
                show_secrets,
                container_registry,
            }) => {
                assert_eq!(name, "grafana");
                assert!(!show_secrets, "redacted unless asked");
                assert_eq!(container_registry, None);
            }
            other => panic!("{other:?}"),
        }
        match parse(&[
            "user-data",
            "--show-secrets",
            "garage",
            "--container-registry",
            "mirror.example",
        ]) {
            Ok(ServicesCommand::UserData {
                name,
                show_secrets,
                container_registry,
            }) => {
                assert_eq!(name, "garage");
                assert!(show_secrets);
                assert_eq!(container_registry.as_deref(), Some("mirror.example"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(&["user-data"]).err(),
            Some(clap::error::ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            parse(&["user-data", "a", "b"]).err(),
            Some(clap::error::ErrorKind::UnknownArgument)
        );
    }

    #[test]
    fn only_serial_consoles_get_the_plain_lines() {
        assert_eq!(
            serial_console_paths("ttyS0 tty0\n"),
            vec![PathBuf::from("/dev/ttyS0")]
        );
        assert_eq!(
            serial_console_paths("tty1 hvc0 ttyAMA0"),
            vec![PathBuf::from("/dev/hvc0"), PathBuf::from("/dev/ttyAMA0")]
        );
        assert!(serial_console_paths("tty0").is_empty());
    }

    /// The failure screen's shell asks for root's password: it is
    /// sulogin on this console, never forced past a locked root.
    #[test]
    fn the_failure_shell_asks_for_roots_password() {
        let cmd = console_shell(Some(Path::new("/dev/tty1")));
        assert_eq!(cmd.get_program(), "sulogin");
        let args: Vec<&std::ffi::OsStr> = cmd.get_args().collect();
        assert_eq!(
            args.last().copied(),
            Some(std::ffi::OsStr::new("/dev/tty1"))
        );
        assert!(
            !args.iter().any(|a| *a == "-e" || *a == "--force"),
            "{args:?}"
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert!(
            envs.contains(&(std::ffi::OsStr::new("SYSTEMD_SULOGIN_FORCE"), None)),
            "{envs:?}"
        );
        // A stdin that is not a terminal device is not passed on.
        let cmd = console_shell(Some(Path::new("pipe:[1234]")));
        assert!(!cmd.get_args().any(|a| a == "pipe:[1234]"));
    }
}

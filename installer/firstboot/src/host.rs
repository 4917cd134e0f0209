//! What first boot needs from the node besides Proxmox: the peer's
//! password (a systemd credential), the peer's certificate as seen from
//! here, a VM's serial console, files for Proxmox (cloud-init snippets),
//! network checks and the default route. A trait, so tests play the node
//! without systemd, VMs or a network. The real node runs its commands and
//! writes its files through the effects crate (time-limited commands,
//! atomic writes).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tappaas_effects::write_atomic;
use tappaas_services::HealthCheck;

use tappaas_proxmox::client::Password;
use tappaas_proxmox::{CommandRunner, Invocation};

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

    /// The serial console of VM `vmid` (its `serial0: socket`).
    fn serial_console(&mut self, vmid: u32) -> Result<UnixStream, String>;

    /// Write `text` to the node's absolute `path`, root-only (0600),
    /// replacing it whole: a cloud-init snippet that Proxmox reads.
    fn write_node_file(&mut self, path: &str, text: &str) -> Result<(), String>;

    /// Wait until `addr` accepts a TCP connection, for at most `limit`.
    fn tcp_reachable(&mut self, addr: SocketAddr, limit: Duration) -> Result<(), String>;

    /// Run a service's health check until it passes, for at most `limit`;
    /// returns what passed.
    fn health(&mut self, check: &HealthCheck, limit: Duration) -> Result<String, String>;

    /// Make `via` the node's default gateway, now and after a reboot.
    fn set_default_gateway(&mut self, via: IpAddr) -> Result<(), String>;

    /// Once the node is in its cluster: its replication key and record
    /// and the other nodes' keys (docs/backup.md). The default does
    /// nothing, for hosts that are not a node.
    fn replication_setup(&mut self, _note: &mut dyn FnMut(String)) -> Result<(), String> {
        Ok(())
    }
}

/// How long a local helper (`systemd-creds`, `ip`) may run: they answer
/// at once, unless something is badly wrong.
pub const SHORT_COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// The directory of QEMU's per-VM sockets on a Proxmox node.
pub const QEMU_SOCKETS: &str = "/var/run/qemu-server";

/// Reads the certificate a peer presents on the Proxmox port and returns
/// its SHA-256 fingerprint (`AB:CD:...`).
pub type PeerFingerprint = Box<dyn FnMut(&str) -> Result<String, String>>;

/// The real node: the systemd credential, and the peer's certificate read
/// by the same code that showed it to the user in the wizard (the caller
/// passes the wizard's fetch in).
pub struct SystemHost<R: CommandRunner> {
    runner: R,
    /// `$CREDENTIALS_DIRECTORY`, set by systemd for the unit.
    credentials_dir: Option<PathBuf>,
    peer_fingerprint: PeerFingerprint,
    /// `/etc/network/interfaces`: its bridge `lan` carries the gateway.
    interfaces: PathBuf,
    poll: Duration,
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
            interfaces: PathBuf::from("/etc/network/interfaces"),
            poll: Duration::from_secs(2),
        }
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// Another network configuration file than `/etc/network/interfaces`
    /// (tests write a scratch copy).
    pub fn with_interfaces(mut self, path: PathBuf) -> SystemHost<R> {
        self.interfaces = path;
        self
    }
}

impl<R: CommandRunner> Host for SystemHost<R> {
    fn replication_setup(&mut self, note: &mut dyn FnMut(String)) -> Result<(), String> {
        let paths = crate::backup::replication::ReplicationPaths::node();
        let mut fx = tappaas_effects::Machine;
        crate::backup::replication_run::prepare(&mut fx, &paths, &mut |l| note(l.to_string()))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

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
            .run(&Invocation {
                program: "systemd-creds",
                args: &args,
                input: None,
                limit: SHORT_COMMAND_LIMIT,
                merge_stderr: false,
            })
            .map_err(|e| format!("cannot run `systemd-creds {}`: {e}", args.join(" ")))?;
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

    fn serial_console(&mut self, vmid: u32) -> Result<UnixStream, String> {
        let path = format!("{QEMU_SOCKETS}/{vmid}.serial0");
        UnixStream::connect(&path).map_err(|e| {
            format!("cannot open the serial console {path}: {e} (is VM {vmid} running with serial0: socket?)")
        })
    }

    fn write_node_file(&mut self, path: &str, text: &str) -> Result<(), String> {
        crate::private_file::write_private(Path::new(path), text)
            .map_err(|e| format!("cannot write {path}: {e}"))
    }

    fn tcp_reachable(&mut self, addr: SocketAddr, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        tappaas_opnsense::check_reachable(addr.ip(), addr.port(), deadline)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn health(&mut self, check: &HealthCheck, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let last = match probe(check) {
                Ok(passed) => return Ok(passed),
                Err(e) => e,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("{last} (for {} s)", limit.as_secs()));
            }
            std::thread::sleep(self.poll.min(left));
        }
    }

    fn set_default_gateway(&mut self, via: IpAddr) -> Result<(), String> {
        let args = [
            "route".to_string(),
            "replace".to_string(),
            "default".to_string(),
            "via".to_string(),
            via.to_string(),
        ];
        let out = self
            .runner
            .run(&Invocation {
                program: "ip",
                args: &args,
                input: None,
                limit: SHORT_COMMAND_LIMIT,
                merge_stderr: false,
            })
            .map_err(|e| format!("cannot run `ip {}`: {e}", args.join(" ")))?;
        if out.status != Some(0) {
            return Err(format!(
                "`ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let path = &self.interfaces;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let new = replace_gateway(&text, "lan", via).ok_or_else(|| {
            format!(
                "{} has no `iface lan` stanza with a gateway line; the route is moved until the next reboot only",
                path.display()
            )
        })?;
        // The file keeps its mode; it is replaced whole, or not at all.
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        write_atomic(path, mode, new.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// One attempt of a health check. TCP: a connection is accepted. HTTP: a
/// minimal `GET` whose status line has the expected code. HTTPS: the same
/// over TLS, accepting the service's self-signed certificate (the check
/// sends nothing secret; see tappaas-tls).
pub fn probe(check: &HealthCheck) -> Result<String, String> {
    const ATTEMPT: Duration = Duration::from_secs(5);
    match check {
        HealthCheck::Tcp { address } => TcpStream::connect_timeout(address, ATTEMPT)
            .map(|_| format!("{address} accepts TCP connections"))
            .map_err(|e| format!("{address}: {e}")),
        HealthCheck::Http {
            url,
            expect_status,
            tls,
        } => {
            let (addr, path) = split_url(url)?;
            let stream =
                TcpStream::connect_timeout(&addr, ATTEMPT).map_err(|e| format!("{url}: {e}"))?;
            stream
                .set_read_timeout(Some(ATTEMPT))
                .and_then(|()| stream.set_write_timeout(Some(ATTEMPT)))
                .map_err(|e| format!("{url}: {e}"))?;
            let request = format!(
                "GET {path} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
                addr.ip()
            );
            let head = if *tls {
                let mut tls = tappaas_tls::handshake(stream, &addr.ip().to_string())
                    .map_err(|e| format!("{url}: {e}"))?
                    .stream;
                exchange(&mut tls, &request)
            } else {
                let mut plain = stream;
                exchange(&mut plain, &request)
            }
            .map_err(|e| format!("{url}: {e}"))?;
            let status =
                status_code(&head).ok_or_else(|| format!("{url}: the answer is not HTTP"))?;
            if status == *expect_status {
                Ok(format!("{url} answers {status}"))
            } else {
                Err(format!("{url} answers {status}, not {expect_status}"))
            }
        }
    }
}

/// Sends `request` and reads the start of the answer (its status line).
fn exchange<S: Read + Write>(stream: &mut S, request: &str) -> std::io::Result<Vec<u8>> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    // Until the status line is complete: a TLS record may bring less.
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// `http://10.2.0.110:8080/path` -> the address and `/path`.
fn split_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| format!("{url}: not a URL"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let addr = host
        .parse::<SocketAddr>()
        .map_err(|e| format!("{url}: {host} is not address:port ({e})"))?;
    Ok((addr, path))
}

/// The code of `HTTP/1.x NNN ...`.
fn status_code(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let mut words = text.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    words.next()?.parse().ok()
}

/// `/etc/network/interfaces` with the `gateway` line of `iface BRIDGE`
/// set to `via`; `None` when that stanza has no gateway line.
pub fn replace_gateway(text: &str, bridge: &str, via: IpAddr) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut in_stanza = false;
    let mut replaced = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let mut words = trimmed.split_whitespace();
        let first = words.next();
        if matches!(
            first,
            Some("iface" | "auto" | "allow-hotplug" | "source" | "mapping")
        ) {
            in_stanza = first == Some("iface") && words.next() == Some(bridge);
        }
        if in_stanza && trimmed.starts_with("gateway") {
            let indent = &line[..line.len() - trimmed.len()];
            let end = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("{indent}gateway {via}{end}"));
            replaced = true;
        } else {
            out.push_str(line);
        }
    }
    replaced.then_some(out)
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

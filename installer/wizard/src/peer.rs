//! The peer's certificate fingerprint, for joining a cluster.
//!
//! A Proxmox node's API certificate is self-signed by the cluster's own CA,
//! which this machine cannot know yet. So, as SSH does on first contact,
//! the wizard accepts whatever certificate the peer presents, shows its
//! SHA-256 fingerprint, and lets the user compare it with the one the peer
//! shows (`pvenode cert info`). The join then pins that fingerprint.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The port of the Proxmox VE API (and web UI).
pub const PROXMOX_API_PORT: u16 = 8006;

/// Fetches the SHA-256 fingerprint (`AB:CD:...`) of a peer's certificate.
/// A trait so that the wizard's tests need no server.
pub trait PeerCertificate {
    fn fingerprint(&self, peer: &str) -> Result<String, PeerError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("cannot find the address of '{peer}': {reason}; check the name, or give the peer's IP address")]
    Resolve { peer: String, reason: String },
    #[error("{addr} did not answer within {secs} s: check that the peer is on and reachable on port {port} (its web UI)", secs = timeout.as_secs(), port = addr.port())]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error(
        "cannot connect to {addr}: {reason}; check the address and that the peer runs Proxmox VE"
    )]
    Connect { addr: SocketAddr, reason: String },
    #[error("the TLS handshake with {addr} failed: {reason}; is this the Proxmox web UI port?")]
    Tls { addr: SocketAddr, reason: String },
    #[error("{addr} sent no certificate")]
    NoCertificate { addr: SocketAddr },
}

/// `AB:CD:...`: SHA-256 of the DER certificate, as Proxmox shows it.
pub fn fingerprint_of(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// The real thing: a TLS connection to the peer's API port.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    pub port: u16,
    /// For connecting, and for each read and write of the handshake.
    pub timeout: Duration,
}

impl Default for TlsPeer {
    fn default() -> Self {
        TlsPeer {
            port: PROXMOX_API_PORT,
            timeout: Duration::from_secs(5),
        }
    }
}

impl TlsPeer {
    fn addresses(&self, peer: &str) -> Result<Vec<SocketAddr>, PeerError> {
        let resolve = |reason: String| PeerError::Resolve {
            peer: peer.to_string(),
            reason,
        };
        if let Ok(ip) = peer.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let addrs: Vec<SocketAddr> = (peer, self.port)
            .to_socket_addrs()
            .map_err(|e| resolve(e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(resolve("no address".into()));
        }
        Ok(addrs)
    }

    fn connect(&self, addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), PeerError> {
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(s) => return Ok((s, *addr)),
                Err(e) => last = Some(self.io_error(*addr, e, false)),
            }
        }
        Err(last.unwrap_or(PeerError::Resolve {
            peer: String::new(),
            reason: "no address".into(),
        }))
    }

    fn io_error(&self, addr: SocketAddr, e: io::Error, handshake: bool) -> PeerError {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => PeerError::Timeout {
                addr,
                timeout: self.timeout,
            },
            _ if handshake => PeerError::Tls {
                addr,
                reason: e.to_string(),
            },
            _ => PeerError::Connect {
                addr,
                reason: e.to_string(),
            },
        }
    }
}

impl PeerCertificate for TlsPeer {
    fn fingerprint(&self, peer: &str) -> Result<String, PeerError> {
        let addrs = self.addresses(peer)?;
        let (sock, addr) = self.connect(&addrs)?;
        let tls = |reason: String| PeerError::Tls { addr, reason };
        let timeout = Some(self.timeout);
        sock.set_read_timeout(timeout)
            .and_then(|_| sock.set_write_timeout(timeout))
            .map_err(|e| self.io_error(addr, e, false))?;

        // Only a completed handshake gives the certificate: the peer has
        // then signed with its key. A certificate from a handshake that
        // failed may be a replay of someone else's.
        match tappaas_tls::handshake(sock, peer) {
            Ok(done) => Ok(fingerprint_of(&done.certificate)),
            Err(tappaas_tls::HandshakeError::Io(e)) => Err(self.io_error(addr, e, true)),
            Err(tappaas_tls::HandshakeError::NoCertificate) => {
                Err(PeerError::NoCertificate { addr })
            }
            Err(tappaas_tls::HandshakeError::Setup(reason)) => Err(tls(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_format() {
        let fp = fingerprint_of(b"");
        // SHA-256 of nothing.
        assert!(fp.starts_with("E3:B0:C4:42:98:FC"));
        assert_eq!(tappaas_answer::checks::fingerprint(&fp), Ok(()));
    }
}

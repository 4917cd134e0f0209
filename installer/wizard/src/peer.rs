//! The peer's certificate fingerprint, for joining a cluster.
//!
//! A Proxmox node's API certificate is self-signed by the cluster's own CA,
//! which this machine cannot know yet. So, as SSH does on first contact,
//! the wizard accepts whatever certificate the peer presents, shows its
//! SHA-256 fingerprint, and lets the user compare it with the one the peer
//! shows (`pvenode cert info`). The join then pins that fingerprint.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
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

/// Accepts any certificate and keeps the one the server presented. The
/// handshake signatures are still checked, so the peer must hold the key
/// of the certificate whose fingerprint is shown.
#[derive(Debug)]
struct Recorder {
    provider: Arc<CryptoProvider>,
    seen: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.as_ref().to_vec());
        }
        // Trust is decided by the person comparing fingerprints.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
        let (mut sock, addr) = self.connect(&addrs)?;
        let tls = |reason: String| PeerError::Tls { addr, reason };
        let timeout = Some(self.timeout);
        sock.set_read_timeout(timeout)
            .and_then(|_| sock.set_write_timeout(timeout))
            .map_err(|e| self.io_error(addr, e, false))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let recorder = Arc::new(Recorder {
            provider: provider.clone(),
            seen: Mutex::new(None),
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        // The name only goes into SNI; the certificate is not checked
        // against it.
        let name = match peer.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(peer.to_string()).map_err(|e| tls(e.to_string()))?,
        };
        let mut conn =
            ClientConnection::new(Arc::new(config), name).map_err(|e| tls(e.to_string()))?;
        let mut result = Ok(());
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut sock) {
                result = Err(e);
                break;
            }
        }
        let seen = recorder.seen.lock().ok().and_then(|s| s.clone());
        match (seen, result) {
            // The certificate was seen: that is all this is for, even if
            // the server then ended the handshake (e.g. wanting a client
            // certificate).
            (Some(der), _) => Ok(fingerprint_of(&der)),
            (None, Err(e)) => Err(self.io_error(addr, e, true)),
            (None, Ok(())) => Err(PeerError::NoCertificate { addr }),
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

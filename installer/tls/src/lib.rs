//! TLS to hosts whose certificates nobody can check yet: a Proxmox peer
//! (self-signed by its cluster's own CA) and the service VMs (self-signed
//! at their first boot). Any certificate is accepted and kept, so the
//! caller decides what trust means: the wizard shows its fingerprint to the
//! user, a health check only wants the answer. The handshake signatures are
//! still checked, so the server holds the key of the certificate it
//! presented.

use std::io;
use std::net::{IpAddr, TcpStream};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

#[cfg(feature = "test-server")]
pub mod test_server;

/// A completed handshake on a socket.
pub struct Handshake {
    /// The DER of the server's certificate. Only a completed handshake
    /// gives it: the server has then proven, by signing the handshake,
    /// that it holds the certificate's key. A certificate alone proves
    /// nothing (anyone can replay a peer's public certificate).
    pub certificate: Vec<u8>,
    /// The connection, ready for requests.
    pub stream: StreamOwned<ClientConnection, TcpStream>,
}

/// Why no handshake was completed.
#[derive(Debug)]
pub enum HandshakeError {
    /// `server` is not a valid name, or rustls cannot be set up.
    Setup(String),
    /// The handshake failed (a timeout, a closed socket, a bad
    /// signature, an alert from the server).
    Io(io::Error),
    /// The handshake completed without a certificate.
    NoCertificate,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Setup(e) => f.write_str(e),
            HandshakeError::Io(e) => write!(f, "TLS handshake failed: {e}"),
            HandshakeError::NoCertificate => f.write_str("the server presented no certificate"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Runs a TLS handshake on `sock` (its timeouts apply to each read and
/// write) and returns the server's certificate only when it completed.
/// `server` (a host name or an IP address) only goes into SNI; the
/// certificate is not checked against it.
pub fn handshake(mut sock: TcpStream, server: &str) -> Result<Handshake, HandshakeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        provider: provider.clone(),
        seen: Mutex::new(None),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HandshakeError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = match server.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(server.to_string())
            .map_err(|e| HandshakeError::Setup(format!("'{server}' is not a host name: {e}")))?,
    };
    let mut conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| HandshakeError::Setup(e.to_string()))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(HandshakeError::Io)?;
    }
    // Recorded before the server's signature was checked: taken only now
    // that the whole handshake is done.
    let certificate = recorder
        .seen
        .lock()
        .ok()
        .and_then(|s| s.clone())
        .ok_or(HandshakeError::NoCertificate)?;
    Ok(Handshake {
        certificate,
        stream: StreamOwned::new(conn, sock),
    })
}

/// Accepts any certificate and keeps the one the server presented.
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
        // Trust is the caller's decision (see the module's comment).
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

//! A TLS server on 127.0.0.1 for tests: one connection, a fresh
//! self-signed certificate, a fixed answer; or one that presents a
//! certificate whose key it does not hold (a replayed certificate), so
//! its handshake fails after the certificate was sent.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};

/// The running server.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The DER of the certificate it presents.
    pub certificate: Vec<u8>,
    pub thread: thread::JoinHandle<()>,
}

/// Serves one connection: the handshake, then (after reading the request,
/// if any arrives within a second) `answer`, then close.
///
/// # Panics
/// When the certificate or the socket cannot be made (a broken test host).
pub fn serve_once(answer: &'static [u8]) -> TestServer {
    serve(answer, false)
}

/// Serves one connection with a certificate it holds no key for: it signs
/// the handshake with another key, so a client that checks the signature
/// fails the handshake after it has seen the certificate.
///
/// # Panics
/// As [`serve_once`].
pub fn serve_with_a_foreign_key() -> TestServer {
    serve(b"", true)
}

/// Always the one certificate and key.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[allow(clippy::expect_used)]
fn serve(answer: &'static [u8], foreign_key: bool) -> TestServer {
    let cert = rcgen::generate_simple_self_signed(vec!["tappaas1.lan".into()]).expect("cert");
    let der = cert.cert.der().to_vec();
    let key_der = if foreign_key {
        rcgen::KeyPair::generate().expect("key").serialize_der()
    } else {
        cert.key_pair.serialize_der()
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)))
        .expect("key");
    // Not with_single_cert: that refuses a key that does not match.
    let certified = CertifiedKey::new(vec![CertificateDer::from(der.clone())], key);
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(Arc::new(certified))));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let thread = thread::spawn(move || {
        let Ok((mut sock, _)) = listener.accept() else {
            return;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
        let Ok(mut conn) = ServerConnection::new(Arc::new(config)) else {
            return;
        };
        while conn.is_handshaking() {
            if conn.complete_io(&mut sock).is_err() {
                return;
            }
        }
        // The request, if the client sends one (a fingerprint fetch doesn't).
        let _ = sock.set_read_timeout(Some(Duration::from_secs(1)));
        if conn.complete_io(&mut sock).is_ok() {
            let mut request = [0u8; 1024];
            let _ = conn.reader().read(&mut request);
        }
        let _ = conn.writer().write_all(answer);
        conn.send_close_notify();
        let _ = conn.complete_io(&mut sock);
    });
    TestServer {
        addr,
        certificate: der,
        thread,
    }
}

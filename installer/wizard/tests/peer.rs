//! The real fingerprint fetch against a TLS server this test starts on
//! 127.0.0.1 with a self-signed certificate.

use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tappaas_wizard::{PeerCertificate, PeerError, TlsPeer};

/// Serves one TLS connection with a fresh self-signed certificate; returns
/// the port and the certificate's DER.
fn serve_once() -> (u16, Vec<u8>, thread::JoinHandle<()>) {
    let server = tappaas_tls::test_server::serve_once(b"HTTP/1.0 200 OK\r\n\r\n");
    (server.addr.port(), server.certificate, server.thread)
}

/// Computed here independently of the crate's formatter.
fn expected(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn the_fingerprint_is_the_sha256_of_the_served_certificate() {
    let (port, der, server) = serve_once();
    let peer = TlsPeer {
        port,
        timeout: Duration::from_secs(5),
    };
    let fp = peer.fingerprint("127.0.0.1").expect("fingerprint");
    assert_eq!(fp, expected(&der));
    assert_eq!(tappaas_answer::checks::fingerprint(&fp), Ok(()));
    server.join().expect("server");
}

#[test]
fn a_name_works_as_well_as_an_address() {
    let (port, der, server) = serve_once();
    let peer = TlsPeer {
        port,
        timeout: Duration::from_secs(5),
    };
    assert_eq!(
        peer.fingerprint("localhost").map_err(|e| e.to_string()),
        Ok(expected(&der))
    );
    server.join().expect("server");
}

#[test]
fn a_closed_port_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let peer = TlsPeer {
        port,
        timeout: Duration::from_secs(2),
    };
    let err = peer.fingerprint("127.0.0.1").expect_err("refused");
    assert!(matches!(err, PeerError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot connect to 127.0.0.1"),
        "{err}"
    );
}

#[test]
fn a_silent_server_times_out() {
    // Accepts (the kernel does, from the backlog) but never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let peer = TlsPeer {
        port,
        timeout: Duration::from_millis(300),
    };
    let start = Instant::now();
    let err = peer.fingerprint("127.0.0.1").expect_err("timeout");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, PeerError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("did not answer"), "{err}");
    drop(listener);
}

#[test]
fn a_server_that_is_not_tls_is_a_handshake_error() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        }
    });
    let peer = TlsPeer {
        port,
        timeout: Duration::from_secs(2),
    };
    let err = peer.fingerprint("127.0.0.1").expect_err("not tls");
    assert!(matches!(err, PeerError::Tls { .. }), "{err:?}");
    server.join().expect("server");
}

#[test]
fn an_unknown_name_is_a_resolve_error() {
    let err = TlsPeer::default()
        .fingerprint("no-such-host.invalid")
        .expect_err("no such host");
    assert!(matches!(err, PeerError::Resolve { .. }), "{err:?}");
}

/// A server that presents a certificate but cannot sign with its key (a
/// replay of a real peer's public certificate) gives no fingerprint: the
/// handshake must complete before the certificate counts.
#[test]
fn a_certificate_from_a_failed_handshake_gives_no_fingerprint() {
    let server = tappaas_tls::test_server::serve_with_a_foreign_key();
    let peer = TlsPeer {
        port: server.addr.port(),
        timeout: Duration::from_secs(5),
    };
    let err = peer
        .fingerprint("127.0.0.1")
        .expect_err("the handshake fails");
    assert!(matches!(err, PeerError::Tls { .. }), "{err:?}");
    assert!(
        !err.to_string().contains(&expected(&server.certificate)),
        "{err}"
    );
    let _ = server.thread.join();
}

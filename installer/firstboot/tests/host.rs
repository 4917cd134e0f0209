//! The node side of first boot: where the peer password comes from.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use tappaas_firstboot::proxmox::{CommandOutput, CommandRunner, Invocation};
use tappaas_firstboot::{Config, Host, SystemHost, PEER_PASSWORD_NAME};

/// Plays systemd-creds: records the command, prints `stdout`.
struct FakeCreds {
    commands: Vec<(String, Vec<String>)>,
    stdout: &'static str,
    status: i32,
}

impl CommandRunner for FakeCreds {
    fn run(&mut self, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput> {
        self.commands
            .push((cmd.program.to_string(), cmd.args.to_vec()));
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

#[test]
fn the_gateway_line_of_bridge_lan_is_replaced_and_nothing_else() {
    let text = "auto lo\niface lo inet loopback\n\nauto lan\niface lan inet static\n\taddress 10.0.0.10/24\n\tgateway 10.0.0.254\n\tbridge-ports enp1s0\n\nauto wan\niface wan inet manual\n\tgateway 192.0.2.1\n";
    let new = tappaas_firstboot::replace_gateway(text, "lan", "10.0.0.1".parse().unwrap()).unwrap();
    assert_eq!(
        new,
        text.replace("\tgateway 10.0.0.254", "\tgateway 10.0.0.1")
    );
    assert!(tappaas_firstboot::replace_gateway(
        "iface lan inet dhcp\n",
        "lan",
        "10.0.0.1".parse().unwrap()
    )
    .is_none());
}

#[test]
fn zone_dhcp_pools_stay_below_the_service_addresses() {
    use std::net::Ipv4Addr;
    use tappaas_opnsense::Ipv4Cidr;
    let r = tappaas_firstboot::zone_dhcp(Ipv4Cidr::new(Ipv4Addr::new(10, 2, 0, 1), 24)).unwrap();
    assert_eq!(
        (r.start, r.end),
        (Ipv4Addr::new(10, 2, 0, 2), Ipv4Addr::new(10, 2, 0, 99))
    );
    // A firewall at .50 keeps the pool below itself.
    let r = tappaas_firstboot::zone_dhcp(Ipv4Cidr::new(Ipv4Addr::new(10, 2, 0, 50), 24)).unwrap();
    assert_eq!(
        (r.start, r.end),
        (Ipv4Addr::new(10, 2, 0, 2), Ipv4Addr::new(10, 2, 0, 49))
    );
    // A /28 has no room above .14.
    let r = tappaas_firstboot::zone_dhcp(Ipv4Cidr::new(Ipv4Addr::new(10, 2, 0, 1), 28)).unwrap();
    assert_eq!(r.end, Ipv4Addr::new(10, 2, 0, 14));
    // A /30 has one address left for a pool.
    let r = tappaas_firstboot::zone_dhcp(Ipv4Cidr::new(Ipv4Addr::new(10, 2, 0, 1), 30)).unwrap();
    assert_eq!(
        (r.start, r.end),
        (Ipv4Addr::new(10, 2, 0, 2), Ipv4Addr::new(10, 2, 0, 2))
    );
}

#[test]
fn an_http_health_check_reads_the_status_line() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for answer in ["HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 503 Busy\r\n\r\n"] {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /health HTTP/1.0\r\n"));
            s.write_all(answer.as_bytes()).unwrap();
        }
    });
    let check = tappaas_services::HealthCheck::Http {
        url: format!("http://127.0.0.1:{port}/health"),
        expect_status: 200,
        tls: false,
    };
    assert!(tappaas_firstboot::probe(&check).unwrap().contains("200"));
    let e = tappaas_firstboot::probe(&check).unwrap_err();
    assert!(e.contains("503"), "{e}");
    server.join().unwrap();
}

#[test]
fn an_https_health_check_speaks_tls_to_a_self_signed_service() {
    use tappaas_tls::test_server::serve_once;
    let check = |addr: std::net::SocketAddr, expect_status| tappaas_services::HealthCheck::Http {
        url: format!("https://{addr}/alive"),
        expect_status,
        tls: true,
    };
    let server = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let said = tappaas_firstboot::probe(&check(server.addr, 200)).unwrap();
    assert!(said.contains("answers 200"), "{said}");
    server.thread.join().unwrap();

    // The status is read through TLS, not guessed from an open port.
    let server = serve_once(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
    let e = tappaas_firstboot::probe(&check(server.addr, 200)).unwrap_err();
    assert!(e.contains("502, not 200"), "{e}");
    server.thread.join().unwrap();

    // A port that answers in clear text is not a healthy HTTPS service.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let plain = std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
    });
    let e = tappaas_firstboot::probe(&check(addr, 200)).unwrap_err();
    assert!(e.contains("TLS handshake failed"), "{e}");
    plain.join().unwrap();
}

/// The gateway moves in `/etc/network/interfaces` too: the file is
/// replaced whole and keeps its mode, and no temporary file is left.
#[test]
fn the_default_gateway_is_kept_in_the_interfaces_file_with_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let interfaces = dir.path().join("interfaces");
    let text = "auto lan\niface lan inet static\n\taddress 10.0.0.10/24\n\tgateway 10.0.0.254\n";
    std::fs::write(&interfaces, text).unwrap();
    std::fs::set_permissions(&interfaces, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut h = host(None, 0).with_interfaces(interfaces.clone());
    h.set_default_gateway("10.0.0.1".parse().unwrap()).unwrap();
    assert_eq!(
        h.runner().commands[0],
        (
            "ip".to_string(),
            ["route", "replace", "default", "via", "10.0.0.1"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&interfaces).unwrap(),
        text.replace("10.0.0.254", "10.0.0.1")
    );
    let mode = std::fs::metadata(&interfaces).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the file keeps its mode");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["interfaces"]);
}

//! Settings shared by the tests.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use base64::Engine as _;
use tappaas_opnsense::{default_dhcp_range, hash_password, FirewallSettings, Ipv4Cidr, Wan, Zone};

pub const PASSWORD: &str = "Tr0ub4dor&3 <not in the file>";

pub fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hashing works"))
}

pub fn cidr(a: [u8; 4], prefix: u8) -> Ipv4Cidr {
    Ipv4Cidr::new(Ipv4Addr::from(a), prefix)
}

/// An OpenSSH ed25519 public key line with a well-formed blob.
pub fn ssh_key(comment: &str, fill: u8) -> String {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&[fill; 32]);
    let data = base64::engine::general_purpose::STANDARD.encode(blob);
    format!("ssh-ed25519 {data} {comment}")
}

pub fn zone(name: &str, vlan: u16, third: u8) -> Zone {
    let c = cidr([10, third, 0, 1], 24);
    Zone {
        name: name.into(),
        vlan,
        cidr: c,
        dhcp: default_dhcp_range(c),
    }
}

pub fn settings() -> FirewallSettings {
    let lan = cidr([10, 0, 0, 1], 24);
    FirewallSettings {
        hostname: "firewall".into(),
        domain: "tappaas.internal".into(),
        timezone: "Europe/Amsterdam".into(),
        dns_servers: vec![Ipv4Addr::new(9, 9, 9, 9), Ipv4Addr::new(1, 1, 1, 1)],
        lan,
        lan_dhcp: default_dhcp_range(lan),
        wan: Wan::Dhcp,
        zones: vec![
            zone("srv", 210, 2),
            zone("home", 310, 3),
            zone("iot", 410, 4),
        ],
        root_password_hash: hash().to_string(),
        ssh_authorized_keys: vec![ssh_key("admin@laptop", 7), ssh_key("backup <key> & co", 9)],
    }
}

//! What the firewall's configuration is made from, and its checks.
//!
//! Plain data: the lead fills it from the plan. [`FirewallSettings::validate`]
//! rejects what OPNsense would reject or what would make the firewall
//! unreachable, naming the field (`zones[1].vlan`) and what to do.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;

use base64::Engine as _;

use crate::password::{is_bcrypt_hash, BCRYPT_COST};

/// Hash `password` for [`crate::FirewallSettings::root_password_hash`].
pub fn hash_password(password: &str) -> Result<String, Error> {
    bcrypt::hash_with_result(password, BCRYPT_COST)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoY))
        .map_err(|e| Error::Hashing(e.to_string()))
}

/// The VM's first NIC (`net0`, on the `lan` bridge): OPNsense's LAN.
pub const LAN_DEVICE: &str = "vtnet0";
/// The VM's second NIC (`net1`, on the `wan` bridge): OPNsense's WAN.
pub const WAN_DEVICE: &str = "vtnet1";

/// An IPv4 address with its prefix length, written `10.0.0.1/24`. Here the
/// address is always the firewall's own address in that network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    pub fn new(address: Ipv4Addr, prefix: u8) -> Self {
        Self { address, prefix }
    }

    fn mask(&self) -> u32 {
        match self.prefix {
            0 => 0,
            p if p >= 32 => u32::MAX,
            p => u32::MAX << (32 - u32::from(p)),
        }
    }

    /// The network address (all host bits clear).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & self.mask())
    }

    /// The broadcast address (all host bits set).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | !self.mask())
    }

    /// Whether `addr` lies in this network.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == u32::from(self.network())
    }

    fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// How the WAN (`vtnet1`) gets its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wan {
    Dhcp,
    Static {
        address: Ipv4Cidr,
        gateway: Ipv4Addr,
    },
}

/// A DHCP address pool, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpRange {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

/// The upper half of the network's hosts (a /24 gets .128 to .254), leaving
/// the lower half for fixed addresses such as the firewall's own. `None`
/// for networks too small to share (prefix above 29).
pub fn default_dhcp_range(cidr: Ipv4Cidr) -> Option<DhcpRange> {
    if cidr.prefix > 29 {
        return None;
    }
    let network = u32::from(cidr.network());
    let broadcast = u32::from(cidr.broadcast());
    let size = broadcast - network + 1;
    Some(DhcpRange {
        start: Ipv4Addr::from(network + size / 2),
        end: Ipv4Addr::from(broadcast - 1),
    })
}

/// A network zone: a VLAN on the LAN NIC with its own interface (`optN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Becomes the interface's description in OPNsense (letters, digits,
    /// `_` and `-`, at most 32).
    pub name: String,
    /// 802.1Q tag, 1 to 4094, unique.
    pub vlan: u16,
    /// The firewall's address in the zone, e.g. `10.2.0.1/24`.
    pub cidr: Ipv4Cidr,
    /// The zone's DHCP pool; `None` runs no DHCP in the zone.
    pub dhcp: Option<DhcpRange>,
}

/// Everything the firewall's `config.xml` is made from.
#[derive(Clone, PartialEq, Eq)]
pub struct FirewallSettings {
    pub hostname: String,
    pub domain: String,
    /// An IANA zone name such as `Europe/Amsterdam` or `Etc/UTC`.
    pub timezone: String,
    /// Upstream DNS servers; empty lets the WAN's DHCP provide them.
    pub dns_servers: Vec<Ipv4Addr>,
    /// The LAN (`vtnet0`) address: the management network's gateway.
    pub lan: Ipv4Cidr,
    /// The LAN's DHCP pool; `None` runs no DHCP on the LAN.
    pub lan_dhcp: Option<DhcpRange>,
    pub wan: Wan,
    pub zones: Vec<Zone>,
    /// bcrypt hash of root's password (see [`crate::hash_password`]); the
    /// clear password never reaches the settings.
    pub root_password_hash: String,
    /// OpenSSH public keys (`ssh-ed25519 AAAA... comment`) for root.
    pub ssh_authorized_keys: Vec<String>,
}

impl fmt::Debug for FirewallSettings {
    // The hash is not a password, but it stays out of logs all the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirewallSettings")
            .field("hostname", &self.hostname)
            .field("domain", &self.domain)
            .field("timezone", &self.timezone)
            .field("dns_servers", &self.dns_servers)
            .field("lan", &self.lan)
            .field("lan_dhcp", &self.lan_dhcp)
            .field("wan", &self.wan)
            .field("zones", &self.zones)
            .field("root_password_hash", &"<redacted>")
            .field("ssh_authorized_keys", &self.ssh_authorized_keys)
            .finish()
    }
}

/// What is wrong with the settings; `field` names the offending field the
/// way the code spells it (`zones[2].cidr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{field}: {value:?} is not a valid host name: use 1 to 63 letters, digits and '-', not starting or ending with '-'")]
    InvalidHostname { field: String, value: String },
    #[error("{field}: {value:?} is not a valid domain: use dot-separated labels of letters, digits and '-' (e.g. home.arpa)")]
    InvalidDomain { field: String, value: String },
    #[error("{field}: {value:?} is not a time zone name: use an IANA name such as Europe/Amsterdam or Etc/UTC")]
    InvalidTimezone { field: String, value: String },
    #[error("{field}: prefix /{prefix} is out of range: use {min} to {max}")]
    PrefixOutOfRange {
        field: String,
        prefix: u8,
        min: u8,
        max: u8,
    },
    #[error("{field}: {cidr} is the network's {which} address, not a host address: give the firewall's own address in the network, e.g. the first host")]
    NotAHostAddress {
        field: String,
        cidr: Ipv4Cidr,
        which: &'static str,
    },
    #[error("{field}: {cidr} is not in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): internal networks must use private addresses")]
    NotPrivate { field: String, cidr: Ipv4Cidr },
    #[error(
        "{field}: the networks of {a} and {b} ({other}) overlap: give every network its own range"
    )]
    Overlap {
        field: String,
        a: Ipv4Cidr,
        b: Ipv4Cidr,
        other: String,
    },
    #[error("{field}: VLAN tag {tag} is out of range: use 1 to 4094")]
    VlanOutOfRange { field: String, tag: u16 },
    #[error("{field}: VLAN tag {tag} is already used by {other}: every zone needs its own tag")]
    DuplicateVlan {
        field: String,
        tag: u16,
        other: String,
    },
    #[error("{field}: {name:?} is not a valid zone name: use 1 to 32 letters, digits, '_' or '-', starting with a letter")]
    InvalidZoneName { field: String, name: String },
    #[error("{field}: zone name {name:?} is already used by {other}: zone names must be unique")]
    DuplicateZoneName {
        field: String,
        name: String,
        other: String,
    },
    #[error("{field}: DHCP range {start} - {end} is not valid in {cidr}: both ends must be host addresses of the network, start <= end, and the firewall's own address outside it")]
    BadDhcpRange {
        field: String,
        start: Ipv4Addr,
        end: Ipv4Addr,
        cidr: Ipv4Cidr,
    },
    #[error("{field}: gateway {gateway} is not in the WAN network {cidr} (or is the WAN address itself): give a gateway inside that network")]
    GatewayOutsideWan {
        field: String,
        gateway: Ipv4Addr,
        cidr: Ipv4Cidr,
    },
    #[error("{field}: {value:?} is not a usable DNS server address")]
    BadDnsServer { field: String, value: Ipv4Addr },
    #[error("{field}: not a bcrypt hash ($2y$/$2b$/$2a$, cost, 53 characters): make it with hash_password; never put a clear password here")]
    NotBcrypt { field: String },
    #[error("{field}: not an OpenSSH public key line (\"ssh-ed25519 AAAA... comment\", one key per entry): {reason}")]
    BadSshKey { field: String, reason: String },
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("writing the configuration XML failed: {0}")]
    Render(String),
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn is_private(cidr: &Ipv4Cidr) -> bool {
    const PRIVATE: [(Ipv4Addr, u8); 3] = [
        (Ipv4Addr::new(10, 0, 0, 0), 8),
        (Ipv4Addr::new(172, 16, 0, 0), 12),
        (Ipv4Addr::new(192, 168, 0, 0), 16),
    ];
    PRIVATE.iter().any(|&(net, prefix)| {
        let range = Ipv4Cidr::new(net, prefix);
        cidr.prefix >= prefix && range.contains(cidr.network())
    })
}

/// A host address of an internal network (LAN or zone): prefix 8 to 30, not
/// the network or broadcast address, in a private range.
fn check_internal(field: &str, cidr: Ipv4Cidr) -> Result<(), Error> {
    check_host(field, cidr, 8, 30)?;
    if !is_private(&cidr) {
        return Err(Error::NotPrivate {
            field: field.to_string(),
            cidr,
        });
    }
    Ok(())
}

fn check_host(field: &str, cidr: Ipv4Cidr, min: u8, max: u8) -> Result<(), Error> {
    if cidr.prefix < min || cidr.prefix > max {
        return Err(Error::PrefixOutOfRange {
            field: field.to_string(),
            prefix: cidr.prefix,
            min,
            max,
        });
    }
    if cidr.prefix <= 30 {
        let which = if cidr.address == cidr.network() {
            Some("network")
        } else if cidr.address == cidr.broadcast() {
            Some("broadcast")
        } else {
            None
        };
        if let Some(which) = which {
            return Err(Error::NotAHostAddress {
                field: field.to_string(),
                cidr,
                which,
            });
        }
    }
    Ok(())
}

fn check_dhcp(field: &str, cidr: Ipv4Cidr, range: DhcpRange) -> Result<(), Error> {
    let host = |a: Ipv4Addr| cidr.contains(a) && a != cidr.network() && a != cidr.broadcast();
    let own = u32::from(cidr.address);
    let ok = host(range.start)
        && host(range.end)
        && u32::from(range.start) <= u32::from(range.end)
        && !(u32::from(range.start)..=u32::from(range.end)).contains(&own);
    if ok {
        Ok(())
    } else {
        Err(Error::BadDhcpRange {
            field: field.to_string(),
            start: range.start,
            end: range.end,
            cidr,
        })
    }
}

const SSH_KEY_TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

fn check_ssh_key(field: &str, key: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::BadSshKey {
        field: field.to_string(),
        reason: reason.to_string(),
    };
    if key.contains(['\n', '\r']) {
        return Err(bad(
            "it spans several lines; give each key as its own entry",
        ));
    }
    let mut parts = key.split_whitespace();
    let kind = parts.next().ok_or_else(|| bad("it is empty"))?;
    if !SSH_KEY_TYPES.contains(&kind) {
        return Err(bad(&format!("unknown key type {kind:?}")));
    }
    let blob = parts
        .next()
        .ok_or_else(|| bad("the base64 key data is missing"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|e| bad(&format!("the key data is not base64 ({e})")))?;
    // The blob starts with its own type name, length-prefixed.
    let named = decoded
        .get(4..4 + kind.len())
        .is_some_and(|name| name == kind.as_bytes());
    if !named {
        return Err(bad("the key data does not match its type"));
    }
    Ok(())
}

impl FirewallSettings {
    /// Every check, in field order; the first problem found is returned.
    pub fn validate(&self) -> Result<(), Error> {
        if !valid_label(&self.hostname) {
            return Err(Error::InvalidHostname {
                field: "hostname".into(),
                value: self.hostname.clone(),
            });
        }
        if self.domain.len() > 253 || !self.domain.split('.').all(valid_label) {
            return Err(Error::InvalidDomain {
                field: "domain".into(),
                value: self.domain.clone(),
            });
        }
        let tz_ok = !self.timezone.is_empty()
            && !self.timezone.starts_with('/')
            && !self.timezone.contains("..")
            && self
                .timezone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
        if !tz_ok {
            return Err(Error::InvalidTimezone {
                field: "timezone".into(),
                value: self.timezone.clone(),
            });
        }
        for (i, dns) in self.dns_servers.iter().enumerate() {
            if dns.is_unspecified() || dns.is_broadcast() || dns.is_multicast() {
                return Err(Error::BadDnsServer {
                    field: format!("dns_servers[{i}]"),
                    value: *dns,
                });
            }
        }

        check_internal("lan", self.lan)?;
        if let Some(range) = self.lan_dhcp {
            check_dhcp("lan_dhcp", self.lan, range)?;
        }
        if let Wan::Static { address, gateway } = &self.wan {
            check_host("wan.address", *address, 1, 32)?;
            if !address.contains(*gateway) || *gateway == address.address {
                return Err(Error::GatewayOutsideWan {
                    field: "wan.gateway".into(),
                    gateway: *gateway,
                    cidr: *address,
                });
            }
        }

        // Every network seen so far, to catch overlaps and reused tags.
        let mut networks: Vec<(String, Ipv4Cidr)> = vec![("lan".into(), self.lan)];
        if let Wan::Static { address, .. } = &self.wan {
            if self.lan.overlaps(address) {
                return Err(Error::Overlap {
                    field: "wan.address".into(),
                    a: *address,
                    b: self.lan,
                    other: "lan".into(),
                });
            }
            networks.push(("wan.address".into(), *address));
        }
        let mut tags: HashMap<u16, String> = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for (i, zone) in self.zones.iter().enumerate() {
            let at = format!("zones[{i}]");
            let name_ok = !zone.name.is_empty()
                && zone.name.len() <= 32
                && zone.name.starts_with(|c: char| c.is_ascii_alphabetic())
                && zone
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !name_ok {
                return Err(Error::InvalidZoneName {
                    field: format!("{at}.name"),
                    name: zone.name.clone(),
                });
            }
            let lower = zone.name.to_ascii_lowercase();
            // OPNsense's own names for interfaces would clash in rules.
            let reserved = ["lan", "wan", "lo0", "any", "self"].contains(&lower.as_str())
                || (lower.starts_with("opt") && lower[3..].bytes().all(|b| b.is_ascii_digit()));
            if reserved {
                return Err(Error::DuplicateZoneName {
                    field: format!("{at}.name"),
                    name: zone.name.clone(),
                    other: "an OPNsense interface name".into(),
                });
            }
            if let Some(other) = names.insert(lower, at.clone()) {
                return Err(Error::DuplicateZoneName {
                    field: format!("{at}.name"),
                    name: zone.name.clone(),
                    other,
                });
            }
            if !(1..=4094).contains(&zone.vlan) {
                return Err(Error::VlanOutOfRange {
                    field: format!("{at}.vlan"),
                    tag: zone.vlan,
                });
            }
            if let Some(other) = tags.insert(zone.vlan, at.clone()) {
                return Err(Error::DuplicateVlan {
                    field: format!("{at}.vlan"),
                    tag: zone.vlan,
                    other,
                });
            }
            let field = format!("{at}.cidr");
            check_internal(&field, zone.cidr)?;
            if let Some((other, b)) = networks.iter().find(|(_, n)| n.overlaps(&zone.cidr)) {
                return Err(Error::Overlap {
                    field,
                    a: zone.cidr,
                    b: *b,
                    other: other.clone(),
                });
            }
            networks.push((field, zone.cidr));
            if let Some(range) = zone.dhcp {
                check_dhcp(&format!("{at}.dhcp"), zone.cidr, range)?;
            }
        }

        if !is_bcrypt_hash(&self.root_password_hash) {
            return Err(Error::NotBcrypt {
                field: "root_password_hash".into(),
            });
        }
        for (i, key) in self.ssh_authorized_keys.iter().enumerate() {
            check_ssh_key(&format!("ssh_authorized_keys[{i}]"), key)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::verify_password;

    #[test]
    fn hash_is_2y_and_verifies() {
        let hash = hash_password("correct horse").expect("hashing works");
        assert!(hash.starts_with("$2y$10$"), "{hash}");
        assert!(is_bcrypt_hash(&hash));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
    }

    fn cidr(s: &str) -> Ipv4Cidr {
        let (a, p) = s.split_once('/').expect("test cidr has a slash");
        Ipv4Cidr::new(
            a.parse().expect("test address parses"),
            p.parse().expect("test prefix parses"),
        )
    }

    #[test]
    fn network_arithmetic() {
        let c = cidr("10.2.0.1/24");
        assert_eq!(c.network(), Ipv4Addr::new(10, 2, 0, 0));
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 2, 0, 255));
        assert!(c.contains(Ipv4Addr::new(10, 2, 0, 77)));
        assert!(!c.contains(Ipv4Addr::new(10, 2, 1, 1)));
        assert!(cidr("10.0.0.1/16").overlaps(&cidr("10.0.5.1/24")));
        assert!(!cidr("10.0.0.1/24").overlaps(&cidr("10.0.1.1/24")));
        assert_eq!(c.to_string(), "10.2.0.1/24");
    }

    #[test]
    fn default_dhcp_range_is_the_upper_half() {
        let r = default_dhcp_range(cidr("10.0.0.1/24")).expect("a /24 has a range");
        assert_eq!(r.start, Ipv4Addr::new(10, 0, 0, 128));
        assert_eq!(r.end, Ipv4Addr::new(10, 0, 0, 254));
        let r = default_dhcp_range(cidr("172.16.0.1/16")).expect("a /16 has a range");
        assert_eq!(r.start, Ipv4Addr::new(172, 16, 128, 0));
        assert_eq!(r.end, Ipv4Addr::new(172, 16, 255, 254));
        assert_eq!(default_dhcp_range(cidr("10.0.0.1/30")), None);
        assert!(check_dhcp("x", cidr("10.0.0.1/24"), r).is_err());
    }

    #[test]
    fn private_ranges() {
        assert!(is_private(&cidr("10.9.0.1/24")));
        assert!(is_private(&cidr("172.31.255.1/24")));
        assert!(!is_private(&cidr("172.32.0.1/24")));
        assert!(is_private(&cidr("192.168.7.1/24")));
        assert!(!is_private(&cidr("8.8.8.1/24")));
        // A private address in a network wider than the private range.
        assert!(!is_private(&cidr("10.0.0.1/7")));
    }
}

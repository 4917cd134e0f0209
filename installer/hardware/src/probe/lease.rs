//! DHCP leases of the live system. The live ISO configures its NICs with
//! systemd-networkd (`overlays/live/etc/systemd/network`), which keeps each
//! IPv4 lease in `/run/systemd/netif/leases/<ifindex>` as `KEY=value`
//! lines. `/etc/resolv.conf` is of no use there: it is resolved's stub
//! (127.0.0.53), and the lease file holds the domain and DNS servers too.
//!
//! networkd calls the file private, so a lease that does not read as
//! expected (another systemd's format, a partial write) is no lease: the
//! wizard then offers the TAPPaaS defaults, which is always safe.

use std::net::Ipv4Addr;
use std::path::Path;

use super::{sysfs, ProbeError};
use crate::profile::DhcpLease;

/// Where networkd keeps the lease of the interface with this index.
pub fn lease_path(sysroot: &Path, ifindex: u64) -> std::path::PathBuf {
    sysroot.join(format!("run/systemd/netif/leases/{ifindex}"))
}

/// The lease of one interface, if networkd holds one that reads well.
pub(crate) fn read_lease(sysroot: &Path, ifindex: u64) -> Result<Option<DhcpLease>, ProbeError> {
    let path = lease_path(sysroot, ifindex);
    Ok(sysfs::read_optional(&path)?.and_then(|text| parse_networkd_lease(&text).ok()))
}

/// Parses a networkd lease file. Needs `ADDRESS` and `NETMASK`; `ROUTER`,
/// `DNS` (space-separated lists), `DOMAINNAME` and `DOMAIN_SEARCH_LIST`
/// are taken when present. Errors say which key was wrong.
pub fn parse_networkd_lease(text: &str) -> Result<DhcpLease, String> {
    let mut address = None;
    let mut netmask = None;
    let mut routers = Vec::new();
    let mut dns = Vec::new();
    let mut domain = None;
    let mut search = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: '{line}' is not KEY=value", n + 1));
        };
        let value = value.trim().trim_matches('"');
        let addr = |v: &str| {
            v.parse::<Ipv4Addr>()
                .map_err(|_| format!("line {}: {key}: '{v}' is not an IPv4 address", n + 1))
        };
        let addrs = |v: &str| {
            v.split_whitespace()
                .map(addr)
                .collect::<Result<Vec<_>, _>>()
        };
        match key {
            "ADDRESS" => address = Some(addr(value)?),
            "NETMASK" => netmask = Some(addr(value)?),
            "ROUTER" => routers = addrs(value)?,
            "DNS" => dns = addrs(value)?,
            "DOMAINNAME" if !value.is_empty() => domain = Some(value.to_string()),
            "DOMAIN_SEARCH_LIST" => {
                search = value.split_whitespace().map(str::to_string).collect();
            }
            _ => {}
        }
    }
    let address = address.ok_or("no ADDRESS line")?;
    let netmask = netmask.ok_or("no NETMASK line")?;
    Ok(DhcpLease {
        address,
        prefix: prefix_of(netmask)?,
        gateway: routers.first().copied(),
        dns,
        domain,
        search,
    })
}

/// The prefix length of a contiguous netmask (255.255.255.0 -> 24).
fn prefix_of(mask: Ipv4Addr) -> Result<u8, String> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) != 0 {
        return Err(format!("NETMASK {mask} is not contiguous"));
    }
    u8::try_from(ones).map_err(|_| format!("NETMASK {mask} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As networkd (systemd 257, Debian trixie) writes it for QEMU's
    /// user-mode network.
    const QEMU: &str = "# This is private data. Do not parse.
ADDRESS=10.0.2.15
NETMASK=255.255.255.0
ROUTER=10.0.2.2
SERVER_ADDRESS=10.0.2.2
NEXT_SERVER=10.0.2.2
BROADCAST=10.0.2.255
T1=43200
T2=75600
LIFETIME=86400
DNS=10.0.2.3
CLIENTID=ff5400123401000100012ef1a3c15254001234
";

    #[test]
    fn reads_address_prefix_gateway_and_dns() {
        let l = parse_networkd_lease(QEMU).expect("lease");
        assert_eq!(l.address, Ipv4Addr::new(10, 0, 2, 15));
        assert_eq!(l.prefix, 24);
        assert_eq!(l.gateway, Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(l.dns, vec![Ipv4Addr::new(10, 0, 2, 3)]);
        assert_eq!(l.domain, None);
        assert!(l.search.is_empty());
    }

    #[test]
    fn reads_lists_and_domains() {
        let l = parse_networkd_lease(
            "ADDRESS=192.168.178.23\nNETMASK=255.255.254.0\nROUTER=192.168.178.1 192.168.178.2\n\
             DNS=192.168.178.1 9.9.9.9\nDOMAINNAME=fritz.box\nDOMAIN_SEARCH_LIST=fritz.box home.arpa\n",
        )
        .expect("lease");
        assert_eq!(l.prefix, 23);
        assert_eq!(l.gateway, Some(Ipv4Addr::new(192, 168, 178, 1)));
        assert_eq!(l.dns.len(), 2);
        assert_eq!(l.domain.as_deref(), Some("fritz.box"));
        assert_eq!(l.search, ["fritz.box", "home.arpa"]);
    }

    #[test]
    fn says_what_is_wrong() {
        let e = parse_networkd_lease("ADDRESS=10.0.2.15\n").expect_err("no mask");
        assert!(e.contains("NETMASK"), "{e}");
        let e = parse_networkd_lease("ADDRESS=10.0.2.x\nNETMASK=255.0.0.0\n").expect_err("bad");
        assert!(e.contains("line 1") && e.contains("10.0.2.x"), "{e}");
        let e = parse_networkd_lease("ADDRESS=10.0.2.1\nNETMASK=255.0.255.0\n").expect_err("mask");
        assert!(e.contains("contiguous"), "{e}");
        // A future JSON format is not mistaken for a lease.
        assert!(parse_networkd_lease("{\n\"Address\": [10,0,2,15]\n}\n").is_err());
    }

    #[test]
    fn masks_to_prefixes() {
        assert_eq!(prefix_of(Ipv4Addr::new(255, 255, 255, 255)), Ok(32));
        assert_eq!(prefix_of(Ipv4Addr::new(0, 0, 0, 0)), Ok(0));
        assert_eq!(prefix_of(Ipv4Addr::new(255, 240, 0, 0)), Ok(12));
    }
}

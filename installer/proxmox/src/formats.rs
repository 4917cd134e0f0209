//! Validators for the named `format`s of the Proxmox schema that this
//! project's calls use.
//!
//! The schema names a format (`pve-node`, `pve-storage-id`, ...) but does not
//! define it: the definitions live in Proxmox's Perl code. The rules here are
//! written from Proxmox's documented behaviour (node names are host name
//! labels, storage ids start with a letter, ...). A format that is not listed
//! here is reported as unchecked by [`crate::Schema::unchecked_formats`]
//! rather than silently trusted, so tests can prove that every format our
//! own calls touch is really checked.

use std::net::IpAddr;

/// Outcome of checking one value against a named format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatCheck {
    Valid,
    Invalid(String),
    /// No validator for this format name here.
    Unknown,
}

/// Check `value` against the named format `name`. A `NAME-list` format is
/// checked element by element when `NAME` is known (Proxmox splits such
/// lists on commas, semicolons and white space).
pub fn check_format(name: &str, value: &str) -> FormatCheck {
    if let Some(result) = check_single(name, value) {
        return result;
    }
    if let Some(base) = name.strip_suffix("-list") {
        if check_single(base, "").is_none() {
            return FormatCheck::Unknown;
        }
        let items: Vec<&str> = split_list(value);
        if items.is_empty() {
            return FormatCheck::Invalid("empty list".to_string());
        }
        for item in items {
            if let Some(FormatCheck::Invalid(msg)) = check_single(base, item) {
                return FormatCheck::Invalid(format!("list element '{item}': {msg}"));
            }
        }
        return FormatCheck::Valid;
    }
    FormatCheck::Unknown
}

/// Split a Proxmox `-list` value the way Proxmox does: on commas,
/// semicolons, NUL and white space, ignoring empty pieces.
pub fn split_list(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c == ',' || c == ';' || c == '\0' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `None` when the format has no validator here.
fn check_single(name: &str, value: &str) -> Option<FormatCheck> {
    let result = match name {
        "pve-node" => verdict(is_node_name(value), "not a valid node name"),
        "pve-storage-id" => verdict(is_storage_id(value), "not a valid storage ID"),
        "pve-configid" => verdict(is_config_id(value), "not a valid configuration ID"),
        "pve-storage-content" => verdict(
            STORAGE_CONTENT.contains(&value),
            "not a storage content type",
        ),
        "pve-vmid" => verdict(is_vmid(value), "not a valid VM id (100 - 999999999)"),
        "ip" => verdict(value.parse::<IpAddr>().is_ok(), "not an IP address"),
        "ipv4" => verdict(
            value.parse::<std::net::Ipv4Addr>().is_ok(),
            "not an IPv4 address",
        ),
        "ipv6" => verdict(
            value.parse::<std::net::Ipv6Addr>().is_ok(),
            "not an IPv6 address",
        ),
        "dns-name" => verdict(is_dns_name(value), "not a DNS name"),
        "address" => verdict(
            value.parse::<IpAddr>().is_ok() || is_dns_name(value),
            "neither an IP address nor a DNS name",
        ),
        "CIDR" => verdict(is_cidr(value, None), "not an address/prefix (CIDR)"),
        "CIDRv4" => verdict(is_cidr(value, Some(false)), "not an IPv4 CIDR"),
        "CIDRv6" => verdict(is_cidr(value, Some(true)), "not an IPv6 CIDR"),
        "mac-addr" => verdict(is_unicast_mac(value), "not a unicast MAC address"),
        "pve-fingerprint" => verdict(
            is_fingerprint(value),
            "not a SHA-256 fingerprint (32 colon-separated hex pairs)",
        ),
        _ => return None,
    };
    Some(result)
}

fn verdict(ok: bool, msg: &str) -> FormatCheck {
    if ok {
        FormatCheck::Valid
    } else {
        FormatCheck::Invalid(msg.to_string())
    }
}

/// The content types a Proxmox storage can hold.
pub const STORAGE_CONTENT: &[&str] = &[
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none",
];

/// A node name is a single host name label: letters, digits and inner
/// hyphens (Proxmox uses it as the corosync and `/etc/pve/nodes` name).
pub fn is_node_name(s: &str) -> bool {
    is_label(s)
}

/// Storage ids: a letter first, then letters, digits, `-`, `_`, `.`, and a
/// letter or digit last.
pub fn is_storage_id(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) if b.len() >= 2 => {
            first.is_ascii_alphabetic()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Configuration ids: a letter first, at least two characters, then
/// letters, digits, `-` and `_`.
pub fn is_config_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
}

/// The cluster name: Proxmox types `clustername` as a node name of at most
/// 15 characters (corosync's limit on the name).
pub fn is_cluster_name(s: &str) -> bool {
    s.len() <= 15 && is_node_name(s)
}

/// VM ids are 100 to 999999999 written without leading zeros.
pub fn is_vmid(s: &str) -> bool {
    (3..=9).contains(&s.len()) && !s.starts_with('0') && s.bytes().all(|c| c.is_ascii_digit())
}

/// A certificate SHA-256 fingerprint: 32 hex pairs separated by colons, the
/// form Proxmox shows (`pvenode cert info`) and expects.
pub fn is_fingerprint(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 32
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

/// Dot-separated host name labels.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_label)
}

fn is_cidr(s: &str, v6: Option<bool>) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else {
        return false;
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    let max = if addr.is_ipv6() { 128 } else { 32 };
    prefix <= max && v6.is_none_or(|want| want == addr.is_ipv6())
}

fn is_unicast_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_hexdigit()))
        && u8::from_str_radix(parts[0], 16).is_ok_and(|b| b & 1 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert!(is_node_name("tappaas1"));
        assert!(is_node_name("a"));
        assert!(is_node_name("pve-01"));
        assert!(!is_node_name("-pve"));
        assert!(!is_node_name("pve-"));
        assert!(!is_node_name("pve.lan"));
        assert!(!is_node_name(""));
    }

    #[test]
    fn storage_ids() {
        assert!(is_storage_id("tank1"));
        assert!(is_storage_id("local-zfs"));
        assert!(!is_storage_id("1tank"));
        assert!(!is_storage_id("t"));
        assert!(!is_storage_id("tank-"));
        assert!(!is_storage_id("tank/1"));
    }

    #[test]
    fn lists_and_content() {
        assert_eq!(
            check_format("pve-storage-content-list", "images,rootdir"),
            FormatCheck::Valid
        );
        assert!(matches!(
            check_format("pve-storage-content-list", "images,disks"),
            FormatCheck::Invalid(_)
        ));
        assert_eq!(
            check_format("pve-node-list", "tappaas1,tappaas2"),
            FormatCheck::Valid
        );
        assert_eq!(check_format("pve-qm-boot", "x"), FormatCheck::Unknown);
        assert_eq!(check_format("pve-whatever-list", "x"), FormatCheck::Unknown);
    }

    #[test]
    fn fingerprints_and_addresses() {
        let fp = vec!["AB"; 32].join(":");
        assert!(is_fingerprint(&fp));
        assert!(!is_fingerprint(&fp[3..]));
        assert!(!is_fingerprint(&fp.replace("AB", "GG")));
        assert_eq!(check_format("ip", "10.0.0.10"), FormatCheck::Valid);
        assert_eq!(check_format("address", "pve1.lan"), FormatCheck::Valid);
        assert!(matches!(
            check_format("ipv4", "10.0.0.256"),
            FormatCheck::Invalid(_)
        ));
        assert!(is_cluster_name("tappaas"));
        assert!(!is_cluster_name("a-very-long-cluster-name"));
        assert!(is_vmid("100") && !is_vmid("99") && !is_vmid("0100"));
        assert_eq!(check_format("CIDRv4", "10.0.0.0/24"), FormatCheck::Valid);
        assert!(is_unicast_mac("02:00:00:00:00:01") && !is_unicast_mac("01:00:00:00:00:01"));
    }
}

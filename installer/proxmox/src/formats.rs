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
        "pve-bridge-id" => verdict(is_bridge_id(value), "not a valid bridge name"),
        "pve-tag" => verdict(is_tag(value), "not a valid tag"),
        "pve-volume-id" => verdict(is_volume_id(value), "not a volume id (STORAGE:VOLUME)"),
        "pve-volume-id-or-qm-path" => verdict(
            is_volume_id(value) || value == "none" || value == "cdrom" || value.starts_with('/'),
            "not a volume id (STORAGE:VOLUME), 'none', 'cdrom' or an absolute path",
        ),
        "pve-volume-id-or-absolute-path" => verdict(
            is_volume_id(value) || value.starts_with('/'),
            "neither a volume id (STORAGE:VOLUME) nor an absolute path",
        ),
        "urlencoded" => verdict(
            is_urlencoded(value),
            "not URL-encoded (only letters, digits, -_.!~*'() and %XX escapes)",
        ),
        "disk-size" => verdict(
            is_disk_size(value),
            "not a disk size (a number with an optional K, M, G or T)",
        ),
        "pve-storage-server" => verdict(
            value.parse::<IpAddr>().is_ok() || is_dns_name(value),
            "neither an IP address nor a DNS name",
        ),
        "prune-backups" => from_result(check_prune_backups(value)),
        "pve-calendar-event" => verdict(
            is_calendar_event(value),
            "not a calendar event of the forms this project sends ([DAYS] HH:MM, or a keyword such as daily)",
        ),
        "pve-qm-ipconfig" => from_result(check_ipconfig(value)),
        "pve-qm-cicustom" => from_result(check_cicustom(value)),
        "pve-qm-boot" => from_result(check_boot(value)),
        _ => return None,
    };
    Some(result)
}

fn from_result(r: Result<(), String>) -> FormatCheck {
    match r {
        Ok(()) => FormatCheck::Valid,
        Err(msg) => FormatCheck::Invalid(msg),
    }
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

/// `prune-backups`: `keep-NAME=N` pairs (N a count) or `keep-all=0|1`,
/// each option at most once, as pve-storage's `prune-backups` format.
fn check_prune_backups(s: &str) -> Result<(), String> {
    const COUNTS: &[&str] = &[
        "keep-last",
        "keep-hourly",
        "keep-daily",
        "keep-weekly",
        "keep-monthly",
        "keep-yearly",
    ];
    let mut seen = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not KEY=VALUE"))?;
        if seen.contains(&k) {
            return Err(format!("'{k}' is given twice"));
        }
        seen.push(k);
        let ok = match k {
            "keep-all" => v == "0" || v == "1",
            k if COUNTS.contains(&k) => !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()),
            _ => return Err(format!("unknown option '{k}'")),
        };
        if !ok {
            return Err(format!("'{v}' is not a valid value for '{k}'"));
        }
    }
    if seen.contains(&"keep-all") && seen.len() > 1 {
        return Err("keep-all cannot be combined with other keep options".into());
    }
    Ok(())
}

/// A subset of Proxmox's calendar events (systemd.time-like): the
/// keywords, or an optional list of weekdays (`mon,tue`, `mon..fri`)
/// followed by `HH:MM` or `HH:MM:SS`, each field a number, `*` or `*/N`.
/// Stricter than Proxmox: other valid forms are refused here, which only
/// matters to calls this project sends.
pub fn is_calendar_event(s: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "minutely",
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "yearly",
        "annually",
        "quarterly",
        "semiannually",
    ];
    const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    if KEYWORDS.contains(&s) {
        return true;
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    let (days, time) = match words.as_slice() {
        [time] => (None, *time),
        [days, time] => (Some(*days), *time),
        _ => return false,
    };
    let day_ok = |d: &str| {
        let mut ends = d.split("..");
        ends.all(|e| DAYS.contains(&e)) && d.split("..").count() <= 2
    };
    if days.is_some_and(|d| !d.split(',').all(day_ok)) {
        return false;
    }
    let field = |f: &str, max: u32| match f.strip_prefix("*/") {
        Some(n) => n.parse::<u32>().is_ok_and(|n| n >= 1 && n <= max),
        None => f == "*" || (f.len() <= 2 && f.parse::<u32>().is_ok_and(|n| n <= max)),
    };
    let parts: Vec<&str> = time.split(':').collect();
    match parts.as_slice() {
        [h, m] => field(h, 23) && field(m, 59),
        [h, m, sec] => field(h, 23) && field(m, 59) && field(sec, 59),
        _ => false,
    }
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

/// Bridge names: letters, digits, `-`, `_`, `.` (Proxmox's rule; the
/// kernel further limits an interface name to 15 characters).
pub fn is_bridge_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A VM tag: a letter, digit or `_` first, then also `-`, `+`, `.`.
pub fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(first) => {
            (first.is_ascii_alphanumeric() || *first == b'_')
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+' | b'.'))
        }
        None => false,
    }
}

/// A volume id: `STORAGE:VOLUME`, the storage a valid storage id, the
/// volume name not empty (`tank1:vm-100-disk-0`, `local:snippets/a.yaml`,
/// and the allocation forms `tank1:32`, `tank1:cloudinit`).
pub fn is_volume_id(s: &str) -> bool {
    match s.split_once(':') {
        Some((storage, volume)) => is_storage_id(storage) && !volume.is_empty(),
        None => false,
    }
}

/// Proxmox's `urlencoded` format: only unreserved characters and `%XX`
/// escapes (a space must be `%20`, never `+`).
pub fn is_urlencoded(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c)) {
            return false;
        }
        i += 1;
    }
    true
}

/// A disk size: digits, an optional fraction, an optional unit K/M/G/T.
pub fn is_disk_size(s: &str) -> bool {
    let num = s.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(s);
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (num, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// Split a property string `k=v,k=v` into pairs; a bare element is the
/// value of `default_key`. Duplicate and unknown keys are errors.
pub fn property_pairs<'a>(
    value: &'a str,
    default_key: Option<&'a str>,
    known: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for part in value.split(',') {
        let (k, v) = match (part.split_once('='), default_key) {
            (Some(kv), _) => kv,
            (None, Some(dk)) => (dk, part),
            (None, None) => return Err(format!("'{part}' is not key=value")),
        };
        if !known.contains(&k) {
            return Err(format!("unknown key '{k}' (known: {})", known.join(", ")));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(format!("key '{k}' given more than once"));
        }
        if v.is_empty() {
            return Err(format!("key '{k}' has an empty value"));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// `ipconfig[n]`: `ip=CIDRv4|dhcp`, `gw=IPv4`, `ip6=CIDRv6|dhcp|auto`,
/// `gw6=IPv6`. A gateway needs a static address of its family.
fn check_ipconfig(value: &str) -> Result<(), String> {
    let pairs = property_pairs(value, None, &["ip", "gw", "ip6", "gw6"])?;
    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    if let Some(ip) = get("ip") {
        if ip != "dhcp" && !is_cidr(ip, Some(false)) {
            return Err(format!("ip '{ip}' is neither 'dhcp' nor an IPv4 CIDR"));
        }
    }
    if let Some(ip6) = get("ip6") {
        if ip6 != "dhcp" && ip6 != "auto" && !is_cidr(ip6, Some(true)) {
            return Err(format!(
                "ip6 '{ip6}' is neither 'dhcp', 'auto' nor an IPv6 CIDR"
            ));
        }
    }
    for (gw, ip, v6) in [("gw", "ip", false), ("gw6", "ip6", true)] {
        if let Some(g) = get(gw) {
            let ok = if v6 {
                g.parse::<std::net::Ipv6Addr>().is_ok()
            } else {
                g.parse::<std::net::Ipv4Addr>().is_ok()
            };
            if !ok {
                return Err(format!(
                    "{gw} '{g}' is not an IPv{} address",
                    if v6 { 6 } else { 4 }
                ));
            }
            if !get(ip).is_some_and(|a| a.contains('/')) {
                return Err(format!("{gw} needs a static {ip} (an address/prefix)"));
            }
        }
    }
    Ok(())
}

/// `cicustom`: `meta=`, `network=`, `user=`, `vendor=`, each a volume id.
fn check_cicustom(value: &str) -> Result<(), String> {
    for (k, v) in property_pairs(value, None, &["meta", "network", "user", "vendor"])? {
        if !is_volume_id(v) {
            return Err(format!(
                "{k} '{v}' is not a volume id (STORAGE:snippets/FILE)"
            ));
        }
    }
    Ok(())
}

/// A device a VM can boot from: a disk slot or a network device.
pub fn is_boot_device(s: &str) -> bool {
    let digits_at = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (bus, n) = s.split_at(digits_at);
    let Ok(n) = n.parse::<u32>() else {
        return false;
    };
    if n.to_string().len() != s.len() - digits_at {
        return false;
    }
    match bus {
        "ide" => n <= 3,
        "sata" => n <= 5,
        "scsi" => n <= 30,
        "virtio" => n <= 15,
        "net" => n <= 31,
        "hostpci" => n <= 15,
        "usb" => n <= 13,
        _ => false,
    }
}

/// `boot`: `order=DEV;DEV...` (or the deprecated `legacy=[acdn]{1,4}`).
fn check_boot(value: &str) -> Result<(), String> {
    for (k, v) in property_pairs(value, Some("legacy"), &["legacy", "order"])? {
        match k {
            "order" => {
                for dev in v.split(';') {
                    if !is_boot_device(dev) {
                        return Err(format!(
                            "'{dev}' in the boot order is not a disk or network device"
                        ));
                    }
                }
            }
            _ => {
                if !(1..=4).contains(&v.len()) || !v.bytes().all(|c| b"acdn".contains(&c)) {
                    return Err(format!("legacy boot '{v}' is not 1 to 4 of a, c, d, n"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_formats() {
        for good in ["02:30", "daily", "mon..fri 22:00", "sat,sun 3:05", "*/2:00"] {
            assert_eq!(
                check_format("pve-calendar-event", good),
                FormatCheck::Valid,
                "{good}"
            );
        }
        for bad in ["", "25:00", "02:60", "noon", "mon 02:30 x", "fri..xyz 1:00"] {
            assert!(
                matches!(
                    check_format("pve-calendar-event", bad),
                    FormatCheck::Invalid(_)
                ),
                "{bad}"
            );
        }
        let prune = "keep-daily=7,keep-weekly=4,keep-monthly=6";
        assert_eq!(check_format("prune-backups", prune), FormatCheck::Valid);
        for bad in [
            "keep-daily=x",
            "keep-daily=1,keep-daily=2",
            "keep-all=1,keep-last=1",
            "keep-forever=1",
        ] {
            assert!(
                matches!(check_format("prune-backups", bad), FormatCheck::Invalid(_)),
                "{bad}"
            );
        }
    }

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
        assert_eq!(check_format("pve-vm-cpu-conf", "x"), FormatCheck::Unknown);
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

    fn valid(name: &str, v: &str) -> bool {
        check_format(name, v) == FormatCheck::Valid
    }

    #[test]
    fn vm_formats() {
        assert!(valid("pve-bridge-id", "lan") && valid("pve-bridge-id", "vmbr0.20"));
        assert!(!valid("pve-bridge-id", "lan bridge") && !valid("pve-bridge-id", ""));
        assert!(valid("pve-tag-list", "tappaas;firewall"));
        assert!(!valid("pve-tag-list", "-x"));
        assert!(valid("pve-volume-id", "tank1:vm-100-disk-0"));
        assert!(!valid("pve-volume-id", "vm-100-disk-0") && !valid("pve-volume-id", "tank1:"));
        assert!(valid(
            "pve-volume-id-or-absolute-path",
            "/var/lib/vz/import/a.qcow2"
        ));
        assert!(!valid("pve-volume-id-or-absolute-path", "import/a.qcow2"));
        assert!(valid("pve-volume-id-or-qm-path", "tank1:0"));
        assert!(valid("urlencoded", "ssh-ed25519%20AAAA%2Bx%0A"));
        assert!(!valid("urlencoded", "ssh-ed25519 AAAA"));
        assert!(!valid("urlencoded", "a+b") && !valid("urlencoded", "%2"));
        assert!(
            valid("disk-size", "32G") && valid("disk-size", "1.5T") && valid("disk-size", "1024")
        );
        assert!(!valid("disk-size", "+2G") && !valid("disk-size", "G"));
    }

    #[test]
    fn ipconfig_cicustom_boot() {
        assert!(valid("pve-qm-ipconfig", "ip=10.0.20.5/24,gw=10.0.20.1"));
        assert!(valid("pve-qm-ipconfig", "ip=dhcp"));
        assert!(valid("pve-qm-ipconfig", "ip6=auto"));
        assert!(valid(
            "pve-qm-ipconfig",
            "ip=10.0.0.2/24,ip6=fd00::2/64,gw6=fd00::1"
        ));
        assert!(!valid("pve-qm-ipconfig", "ip=10.0.20.5"));
        assert!(!valid("pve-qm-ipconfig", "ip=dhcp,gw=10.0.20.1"));
        assert!(!valid("pve-qm-ipconfig", "ip=10.0.0.2/24,gw=fd00::1"));
        assert!(!valid("pve-qm-ipconfig", "ip=10.0.0.2/24,ip=10.0.0.3/24"));
        assert!(!valid("pve-qm-ipconfig", "address=10.0.0.2/24"));
        assert!(valid("pve-qm-cicustom", "user=local:snippets/vault.yaml"));
        assert!(!valid(
            "pve-qm-cicustom",
            "user=/var/lib/vz/snippets/vault.yaml"
        ));
        assert!(!valid("pve-qm-cicustom", "users=local:snippets/a"));
        assert!(valid("pve-qm-boot", "order=scsi0;net0"));
        assert!(valid("pve-qm-boot", "cdn"));
        assert!(!valid("pve-qm-boot", "order=scsi31"));
        assert!(!valid("pve-qm-boot", "order=disk0"));
        assert!(!valid("pve-qm-boot", "order=scsi01"));
    }
}

//! The semantic rules: Proxmox's automated-installer rules for `[global]`,
//! `[network]` and `[disk-setup]`, and TAPPaaS's for its own sections.
//! Every rule runs, so that one pass reports every problem.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::checks;
use crate::filter::{disk_name, Glob};
use crate::lists::{self, COUNTRIES, KEYBOARDS, TIMEZONES};
use crate::path::KeyPath;
use crate::secret::REDACTED;
// TAPPaaS's own sections.
mod backup;
mod replication;
mod tappaas;
use tappaas::{cluster, firewall, node, services, tank1, tank2, zones};

use crate::{
    Answer, Cidr, ClusterAction, Filter, FilterMatch, Fqdn, NetworkSource, Secret, Services,
    Tank1Layout, WanMode, ZfsRaid,
};

/// One problem, before it is given a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    pub(crate) path: KeyPath,
    pub(crate) message: String,
}

/// TAPPaaS's management network when the answer does not set one.
pub(crate) const DEFAULT_MANAGEMENT: Cidr = Cidr {
    addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
    prefix: 24,
};

const COMPRESS: &[&str] = &["on", "off", "lzjb", "lz4", "zle", "gzip", "zstd"];
const CHECKSUM: &[&str] = &["on", "fletcher4", "sha256"];

#[derive(Default)]
struct Rules {
    issues: Vec<Issue>,
}

impl Rules {
    fn err(&mut self, path: KeyPath, message: impl Into<String>) {
        self.issues.push(Issue {
            path,
            message: message.into(),
        });
    }
}

/// Every problem in `answer`, in section order.
pub(crate) fn issues(answer: &Answer) -> Vec<Issue> {
    let mut r = Rules::default();
    global(&mut r, answer);
    network(&mut r, answer);
    let boot = disk_setup(&mut r, answer);
    node(&mut r, answer);
    cluster(&mut r, answer);
    let tank1 = tank1(&mut r, answer);
    let tank2 = tank2(&mut r, answer);
    roles(&mut r, [boot, tank1, tank2]);
    if let Some(f) = &answer.bridges.wan_filter {
        filter(&mut r, &KeyPath::of("bridges.wan-filter"), f);
    }
    zones(&mut r, answer);
    firewall(&mut r, answer);
    services(&mut r, &answer.services);
    backup::backup(&mut r, &answer.backup);
    replication::replication(&mut r, answer);
    r.issues
}

// ---------------------------------------------------------------- [global]

fn global(r: &mut Rules, a: &Answer) {
    let g = &a.global;
    let p = KeyPath::of("global");
    if !lists::contains(KEYBOARDS, &g.keyboard) {
        r.err(
            p.key("keyboard"),
            format!(
                "unknown keyboard layout '{}': use one of {}",
                g.keyboard,
                KEYBOARDS.join(", ")
            ),
        );
    }
    if !lists::contains(COUNTRIES, &g.country) {
        let lower = g.country.to_ascii_lowercase();
        let msg = if lists::contains(COUNTRIES, &lower) {
            format!(
                "'{}' must be written in lowercase: write \"{lower}\"",
                g.country
            )
        } else {
            format!(
                "'{}' is not an ISO 3166 country code: use the 2-letter lowercase code, e.g. \"de\", \"dk\" or \"us\"",
                g.country
            )
        };
        r.err(p.key("country"), msg);
    }
    match &g.fqdn {
        Fqdn::Name(name) => {
            if let Err(e) = checks::fqdn(name) {
                r.err(p.key("fqdn"), e);
            }
        }
        Fqdn::FromDhcp(d) => {
            if let Some(dom) = &d.domain {
                if let Err(e) = checks::domain(dom) {
                    r.err(p.key("fqdn").key("domain"), e);
                }
            }
        }
    }
    if let Err(e) = checks::email(&g.mailto) {
        r.err(p.key("mailto"), e);
    }
    if !lists::contains(TIMEZONES, &g.timezone) {
        let near = TIMEZONES
            .iter()
            .find(|z| z.eq_ignore_ascii_case(&g.timezone));
        let msg = match near {
            Some(z) => format!("unknown time zone '{}': did you mean \"{z}\"?", g.timezone),
            None => format!(
                "unknown time zone '{}': use an IANA zone name such as \"Europe/Copenhagen\", \"America/New_York\" or \"UTC\"",
                g.timezone
            ),
        };
        r.err(p.key("timezone"), msg);
    }
    match (&g.root_password, &g.root_password_hashed) {
        (None, None) => r.err(
            p.key("root-password"),
            "missing: set root-password (at least 8 characters) or root-password-hashed (a crypt(3) hash)",
        ),
        (Some(_), Some(_)) => r.err(
            p.key("root-password-hashed"),
            "root-password and root-password-hashed are both set: keep only one",
        ),
        _ => {}
    }
    if let Some(pw) = &g.root_password {
        if let Err(e) = secret(pw, 8) {
            r.err(p.key("root-password"), e);
        }
    }
    if let Some(h) = &g.root_password_hashed {
        if let Err(e) = checks::crypt_hash(h) {
            r.err(p.key("root-password-hashed"), e);
        }
    }
    for (i, key) in g.root_ssh_keys.iter().enumerate() {
        if let Err(e) = checks::ssh_key(key) {
            r.err(p.key("root-ssh-keys").index(i), e);
        }
    }
}

/// A password: not the redaction marker, and at least `min` characters.
/// The message never repeats the password.
fn secret(s: &Secret, min: usize) -> Result<(), String> {
    let text = s.expose();
    if text == REDACTED {
        return Err(format!(
            "is the marker \"{REDACTED}\": this answer was saved without its secrets; write the password in again"
        ));
    }
    let n = text.chars().count();
    if n < min {
        return Err(format!(
            "is too short ({n} characters): use at least {min} characters"
        ));
    }
    Ok(())
}

// --------------------------------------------------------------- [network]

/// The network that `cidr`'s address is in, as `10.0.0.0/24`.
pub(crate) fn network_of(c: &Cidr) -> Cidr {
    let addr = match c.addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32u32.saturating_sub(u32::from(c.prefix)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128u32.saturating_sub(u32::from(c.prefix)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    };
    Cidr {
        addr,
        prefix: c.prefix,
    }
}

/// A prefix length that fits the address (a wizard-built [`Cidr`] has not
/// been through its parser).
fn prefix(r: &mut Rules, p: &KeyPath, c: &Cidr) {
    let max = if c.addr.is_ipv4() { 32 } else { 128 };
    if c.prefix > max {
        r.err(
            p.clone(),
            format!("prefix length {} is out of range: use 0..={max}", c.prefix),
        );
    }
}

fn overlaps(a: &Cidr, b: &Cidr) -> bool {
    let wider = Cidr {
        addr: a.addr,
        prefix: a.prefix.min(b.prefix),
    };
    wider.contains(b.addr)
}

fn network(r: &mut Rules, a: &Answer) {
    let Some(n) = &a.network else { return };
    let p = KeyPath::of("network");
    match n.source {
        NetworkSource::FromAnswer => {
            for (key, present) in [
                ("cidr", n.cidr.is_some()),
                ("gateway", n.gateway.is_some()),
                ("dns", n.dns.is_some()),
            ] {
                if !present {
                    r.err(
                        p.key(key),
                        "missing: source = \"from-answer\" needs cidr, gateway and dns",
                    );
                }
            }
            if let Some(c) = &n.cidr {
                prefix(r, &p.key("cidr"), c);
                let net = network_of(c);
                if let IpAddr::V4(v4) = c.addr {
                    let host_bits = 32u32.saturating_sub(u32::from(c.prefix));
                    let broadcast = u32::from(v4) | !u32::MAX.checked_shl(host_bits).unwrap_or(0);
                    if c.prefix <= 30 && (c.addr == net.addr || u32::from(v4) == broadcast) {
                        r.err(
                            p.key("cidr"),
                            format!("{c} is the network's own or broadcast address: cidr is this node's address with its prefix, e.g. \"10.0.0.10/24\""),
                        );
                    }
                }
                if let Some(gw) = n.gateway {
                    if !c.contains(gw) {
                        r.err(
                            p.key("gateway"),
                            format!("{gw} is outside the node's network {net} (from cidr {c}): the gateway must be on that network"),
                        );
                    } else if gw == c.addr {
                        r.err(
                            p.key("gateway"),
                            format!(
                                "{gw} is the node's own address (cidr): give the router's address"
                            ),
                        );
                    }
                }
            }
        }
        NetworkSource::FromDhcp => {
            for (key, present) in [
                ("cidr", n.cidr.is_some()),
                ("gateway", n.gateway.is_some()),
                ("dns", n.dns.is_some()),
            ] {
                if present {
                    r.err(
                        p.key(key),
                        "only used with source = \"from-answer\": remove it, or set source = \"from-answer\"",
                    );
                }
            }
        }
    }
    if let Some(f) = &n.filter {
        filter(r, &p.key("filter"), f);
    }
}

/// A udev-property filter: names of uppercase letters, digits and '_',
/// values non-empty globs.
fn filter(r: &mut Rules, p: &KeyPath, f: &Filter) {
    if f.is_empty() {
        r.err(
            p.clone(),
            "is empty: give at least one udev property and glob, e.g. { ID_SERIAL = \"Samsung*\" }",
        );
    }
    for (key, value) in f {
        let name_ok = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            r.err(
                p.key(key),
                format!("'{key}' is not a udev property name: use uppercase letters, digits and '_' (e.g. ID_SERIAL, ID_NET_NAME_MAC), as `udevadm info` shows them"),
            );
        }
        if value.is_empty() {
            r.err(
                p.key(key),
                "the glob is empty: give a pattern such as \"Samsung*\" (\"*\" matches any value)",
            );
        } else if let Err(e) = Glob::new(value) {
            r.err(p.key(key), format!("bad glob \"{value}\": {e}"));
        }
    }
}

// ------------------------------------------------------ disks of one role

/// A role's disk-list: where it is and the names it holds.
struct Role {
    path: KeyPath,
    disks: Vec<String>,
}

/// The choice of disks of one role: exactly one way to select, filter-match
/// only with filter, a well-formed disk-list without duplicates. Returns the
/// disk-list (if any) and its number of distinct disks.
fn selection(
    r: &mut Rules,
    p: &KeyPath,
    disk_list: &Option<Vec<String>>,
    filt: &Option<Filter>,
    filter_match: &Option<FilterMatch>,
    boot_remainder: Option<bool>,
) -> (Option<Role>, Option<usize>) {
    let mut set = Vec::new();
    if disk_list.is_some() {
        set.push("disk-list");
    }
    if filt.is_some() {
        set.push("filter");
    }
    if boot_remainder == Some(true) {
        set.push("boot-remainder");
    }
    let choices = if boot_remainder.is_some() {
        "disk-list, filter or boot-remainder = true"
    } else {
        "disk-list or filter"
    };
    match set.as_slice() {
        [] => r.err(
            p.clone(),
            format!("no disks selected: set exactly one of {choices}"),
        ),
        [_] => {}
        [first, rest @ ..] => {
            for other in rest {
                r.err(
                    p.key(other),
                    format!("{first} and {other} are both set: use exactly one of {choices}"),
                );
            }
        }
    }
    if filter_match.is_some() && filt.is_none() {
        r.err(
            p.key("filter-match"),
            "only used with filter: remove it, or select the disks with filter",
        );
    }
    if let Some(f) = filt {
        filter(r, &p.key("filter"), f);
    }
    let Some(list) = disk_list else {
        return (None, None);
    };
    let lp = p.key("disk-list");
    if list.is_empty() {
        r.err(
            lp.clone(),
            "is empty: name at least one disk, e.g. [\"/dev/disk/by-id/ata-...\"]",
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, entry) in list.iter().enumerate() {
        let name = disk_name(entry);
        if name.is_empty() || entry.chars().any(char::is_whitespace) || name.contains('/') {
            r.err(
                lp.index(i),
                format!("'{entry}' is not a disk: use a kernel name (\"sda\"), \"/dev/sda\", a by-id name, \"/dev/disk/by-id/NAME\" or \"/dev/disk/by-path/NAME\""),
            );
            continue;
        }
        match seen.get(name) {
            Some(j) => r.err(
                lp.index(i),
                format!(
                    "disk '{entry}' is listed twice (also disk-list[{j}]): a disk can be used once"
                ),
            ),
            None => {
                seen.insert(name, i);
            }
        }
    }
    let distinct = seen.len();
    (
        Some(Role {
            path: lp,
            disks: list.clone(),
        }),
        Some(distinct),
    )
}

/// A disk named in two roles' disk-lists.
fn roles(r: &mut Rules, roles: [Option<Role>; 3]) {
    let roles: Vec<Role> = roles.into_iter().flatten().collect();
    for (j, later) in roles.iter().enumerate() {
        for earlier in &roles[..j] {
            for (i, entry) in later.disks.iter().enumerate() {
                let name = disk_name(entry);
                if let Some(k) = earlier.disks.iter().position(|d| disk_name(d) == name) {
                    r.err(
                        later.path.index(i),
                        format!(
                            "disk '{entry}' is also in {}[{k}]: a disk has only one role; remove it from one of them",
                            earlier.path
                        ),
                    );
                }
            }
        }
    }
}

// ------------------------------------------------------------ [disk-setup]

fn disk_setup(r: &mut Rules, a: &Answer) -> Option<Role> {
    let d = &a.disk_setup;
    let p = KeyPath::of("disk-setup");
    match d.filesystem.as_str() {
        "zfs" => {}
        fs @ ("ext4" | "xfs" | "btrfs") => r.err(
            p.key("filesystem"),
            format!(
                "{fs} is one of Proxmox's choices, but TAPPaaS needs ZFS: set filesystem = \"zfs\""
            ),
        ),
        other => r.err(
            p.key("filesystem"),
            format!("unknown filesystem '{other}': TAPPaaS needs ZFS: set filesystem = \"zfs\""),
        ),
    }
    let (role, distinct) = selection(r, &p, &d.disk_list, &d.filter, &d.filter_match, None);
    let z = p.key("zfs");
    let opts = d.zfs.clone().unwrap_or_default();
    // Absent, the planner takes raid0 for one boot disk and raid1 for two,
    // and asks for it with more.
    match (opts.raid, distinct) {
        (Some(raid), Some(n)) => {
            disk_count(r, z.key("raid"), raid.as_str(), raid.min_disks(), raid == ZfsRaid::Raid10, n);
        }
        (None, Some(n)) if n > 2 => r.err(
            z.key("raid"),
            format!("missing: with {n} boot disks, set the RAID level, e.g. zfs.raid = \"raidz-1\" (one of raid0, raid1, raid10, raidz-1, raidz-2, raidz-3)"),
        ),
        _ => {}
    }
    if let Some(x) = opts.ashift {
        if !(9..=16).contains(&x) {
            r.err(
                z.key("ashift"),
                format!(
                    "{x} is out of range: use 9..=16 (12, the default, suits 4 KiB-sector disks)"
                ),
            );
        }
    }
    if let Some(c) = &opts.compress {
        if !COMPRESS.contains(&c.as_str()) {
            r.err(
                z.key("compress"),
                format!(
                    "unknown compression '{c}': use one of {}",
                    COMPRESS.join(", ")
                ),
            );
        }
    }
    if let Some(c) = &opts.checksum {
        if !CHECKSUM.contains(&c.as_str()) {
            r.err(
                z.key("checksum"),
                format!("unknown checksum '{c}': use one of {}", CHECKSUM.join(", ")),
            );
        }
    }
    if let Some(c) = opts.copies {
        if !(1..=3).contains(&c) {
            r.err(z.key("copies"), format!("{c} is out of range: use 1..=3"));
        }
    }
    if let Some(m) = opts.arc_max {
        if m < 64 {
            r.err(
                z.key("arc-max"),
                format!(
                    "{m} MiB is too small: the ZFS ARC maximum is in MiB and must be at least 64"
                ),
            );
        }
    }
    if let Some(h) = opts.hdsize {
        if !(h.is_finite() && h > 0.0) {
            r.err(
                z.key("hdsize"),
                format!("{h} is not a size: give the size of rpool in GB, greater than 0"),
            );
        }
    }
    role
}

/// The disk count of a layout against its minimum (and raid10's pairs).
fn disk_count(r: &mut Rules, p: KeyPath, layout: &str, min: usize, pairs: bool, n: usize) {
    if n < min {
        r.err(
            p,
            format!("{layout} needs at least {min} disks, disk-list has {n}: add disks or choose another level"),
        );
    } else if pairs && n % 2 == 1 {
        r.err(
            p,
            format!("{layout} needs an even number of disks (mirrored pairs), disk-list has {n}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_overlaps() {
        let c = |s: &str| s.parse::<Cidr>().expect("cidr");
        assert_eq!(network_of(&c("10.0.0.10/24")).to_string(), "10.0.0.0/24");
        assert_eq!(network_of(&c("10.0.0.10/0")).to_string(), "0.0.0.0/0");
        assert_eq!(network_of(&c("fd00::1/64")).to_string(), "fd00::/64");
        assert!(overlaps(&c("10.0.0.1/16"), &c("10.0.5.1/24")));
        assert!(overlaps(&c("10.0.5.1/24"), &c("10.0.0.1/16")));
        assert!(!overlaps(&c("10.1.0.1/24"), &c("10.2.0.1/24")));
        assert!(!overlaps(&c("10.1.0.1/24"), &c("fd00::1/64")));
    }
}

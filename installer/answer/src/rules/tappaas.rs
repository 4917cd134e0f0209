//! TAPPaaS's own sections: `[node]`, `[cluster]`, `[tank1]`, `[tank2]`,
//! `[[zones]]`, `[firewall]` and `[services]`.

use super::*;

// ------------------------------------------------------- [node] [cluster]

pub(super) fn node(r: &mut Rules, a: &Answer) {
    let n = a.node.number;
    if !(1..=244).contains(&n) {
        r.err(
            KeyPath::of("node.number"),
            format!("{n} is out of range: use 1..=244 (node N gets the address 10.0.0.(9+N), which must stay a host address)"),
        );
    }
}

pub(super) fn cluster(r: &mut Rules, a: &Answer) {
    let c = &a.cluster;
    let p = KeyPath::of("cluster");
    match c.action {
        ClusterAction::Create => {
            if let Some(name) = &c.name {
                if let Err(e) = checks::cluster_name(name) {
                    r.err(p.key("name"), e);
                }
            }
            for (key, present) in [
                ("peer", c.peer.is_some()),
                ("fingerprint", c.fingerprint.is_some()),
                ("peer-password", c.peer_password.is_some()),
            ] {
                if present {
                    r.err(
                        p.key(key),
                        "only used with action = \"join\": remove it, or set action = \"join\"",
                    );
                }
            }
        }
        ClusterAction::Join => {
            if c.name.is_some() {
                r.err(
                    p.key("name"),
                    "only used with action = \"create\": a joining node takes the name of the peer's cluster; remove it",
                );
            }
            match &c.peer {
                None => r.err(
                    p.key("peer"),
                    "missing: action = \"join\" needs the address of a node already in the cluster, e.g. peer = \"10.0.0.10\"",
                ),
                Some(peer) => {
                    if let Err(e) = checks::ip_or_host(peer) {
                        r.err(p.key("peer"), e);
                    }
                }
            }
            match &c.fingerprint {
                None => r.err(
                    p.key("fingerprint"),
                    "missing: action = \"join\" needs the SHA-256 fingerprint of the peer's certificate (AB:CD:..., see `pvenode cert info` on the peer)",
                ),
                Some(fp) => {
                    if let Err(e) = checks::fingerprint(fp) {
                        r.err(p.key("fingerprint"), e);
                    }
                }
            }
            match &c.peer_password {
                None => r.err(
                    p.key("peer-password"),
                    "missing: action = \"join\" needs the root@pam password of the peer",
                ),
                Some(pw) => {
                    if let Err(e) = secret(pw, 1) {
                        r.err(p.key("peer-password"), e);
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------- [tank1] [tank2]

pub(super) fn tank1(r: &mut Rules, a: &Answer) -> Option<Role> {
    let t = a.tank1.as_ref()?;
    let p = KeyPath::of("tank1");
    let (role, distinct) = selection(r, &p, &t.disk_list, &t.filter, &t.filter_match, None);
    let layout = t.layout;
    if layout == Tank1Layout::Single && !t.allow_no_redundancy {
        r.err(
            p.key("layout"),
            "\"single\" has no redundancy: one failed disk loses tank1's data. Set allow-no-redundancy = true to accept that (in a cluster, storage replication to another node can cover it), or use mirror or raidz with more disks",
        );
    }
    if let Some(n) = distinct {
        if layout == Tank1Layout::Single && n > 1 {
            r.err(
                p.key("layout"),
                format!("single takes exactly one disk, disk-list has {n}: use mirror or raidz for redundancy, or tank2 for a stripe without it"),
            );
        } else {
            disk_count(
                r,
                p.key("layout"),
                layout.as_str(),
                layout.min_disks(),
                layout == Tank1Layout::Raid10,
                n,
            );
        }
    }
    role
}

pub(super) fn tank2(r: &mut Rules, a: &Answer) -> Option<Role> {
    let t = a.tank2.as_ref()?;
    let p = KeyPath::of("tank2");
    let (role, _) = selection(
        r,
        &p,
        &t.disk_list,
        &t.filter,
        &t.filter_match,
        Some(t.boot_remainder),
    );
    let hdsize = a.disk_setup.zfs.as_ref().and_then(|z| z.hdsize);
    if t.boot_remainder && hdsize.is_none() {
        r.err(
            p.key("boot-remainder"),
            "needs disk-setup.zfs.hdsize: without it rpool takes the whole boot disk and nothing remains; set zfs.hdsize to the size of rpool in GB",
        );
    }
    role
}

// ------------------------------------------------------ [[zones]] [services]

fn zone_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 15
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(super) fn zones(r: &mut Rules, a: &Answer) {
    let Some(zones) = &a.zones else { return };
    let mgmt = network_of(
        &a.network
            .as_ref()
            .and_then(|n| n.cidr)
            .unwrap_or(DEFAULT_MANAGEMENT),
    );
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut vlans: HashMap<u16, usize> = HashMap::new();
    for (i, z) in zones.iter().enumerate() {
        let p = KeyPath::of("zones").index(i);
        if !zone_name_ok(&z.name) {
            r.err(
                p.key("name"),
                format!("'{}' is not a zone name: use a lowercase letter, then up to 14 lowercase letters, digits or '-'", z.name),
            );
        }
        if let Some(j) = names.insert(&z.name, i) {
            r.err(
                p.key("name"),
                format!("zone '{}' is defined twice (also zones[{j}])", z.name),
            );
            names.insert(&z.name, j);
        }
        if !(2..=4094).contains(&z.vlan) {
            r.err(
                p.key("vlan"),
                format!("{} is out of range: use a VLAN tag 2..=4094 (1 is the untagged management network)", z.vlan),
            );
        }
        if let Some(j) = vlans.insert(z.vlan, i) {
            r.err(
                p.key("vlan"),
                format!("VLAN {} is used twice (also zones[{j}])", z.vlan),
            );
            vlans.insert(z.vlan, j);
        }
        prefix(r, &p.key("cidr"), &z.cidr);
        let net = network_of(&z.cidr);
        if overlaps(&z.cidr, &mgmt) {
            r.err(
                p.key("cidr"),
                format!("{net} overlaps the management network {mgmt}: give each zone a network of its own"),
            );
        }
        for (j, other) in zones[..i].iter().enumerate() {
            if overlaps(&z.cidr, &other.cidr) {
                r.err(
                    p.key("cidr"),
                    format!("{net} overlaps zone '{}' ({}, zones[{j}]): give each zone a network of its own", other.name, network_of(&other.cidr)),
                );
            }
        }
    }
}

// -------------------------------------------------------------- [firewall]

pub(super) fn firewall(r: &mut Rules, a: &Answer) {
    let f = &a.firewall;
    let p = KeyPath::of("firewall");
    if let Some(lan) = &f.lan_address {
        let key = p.key("lan-address");
        prefix(r, &key, lan);
        if !lan.addr.is_ipv4() {
            r.err(
                key.clone(),
                "use an IPv4 address: OPNsense's LAN is set up for IPv4 here",
            );
        }
        let node = a.network.as_ref().and_then(|n| n.cidr);
        let mgmt = node.unwrap_or(DEFAULT_MANAGEMENT);
        if !network_of(&mgmt).contains(lan.addr) || lan.prefix != mgmt.prefix {
            r.err(
                key.clone(),
                format!(
                    "{lan} is not in the management network {}: the firewall's LAN side is on that network",
                    network_of(&mgmt)
                ),
            );
        }
        if node.is_some_and(|n| n.addr == lan.addr) {
            r.err(
                key,
                format!(
                    "{} is this node's own address: give the firewall another one",
                    lan.addr
                ),
            );
        }
    }
    match f.wan {
        WanMode::Dhcp => {
            for (key, set) in [
                ("wan-address", f.wan_address.is_some()),
                ("wan-gateway", f.wan_gateway.is_some()),
            ] {
                if set {
                    r.err(
                        p.key(key),
                        "only used with wan = \"static\": remove it, or set wan = \"static\"",
                    );
                }
            }
        }
        WanMode::Static => match (&f.wan_address, &f.wan_gateway) {
            (Some(addr), Some(gw)) => {
                prefix(r, &p.key("wan-address"), addr);
                if !network_of(addr).contains(*gw) {
                    r.err(
                        p.key("wan-gateway"),
                        format!("{gw} is not in the WAN network {}: the gateway must be reachable on it", network_of(addr)),
                    );
                }
            }
            (addr, gw) => {
                for (key, missing) in [
                    ("wan-address", addr.is_none()),
                    ("wan-gateway", gw.is_none()),
                ] {
                    if missing {
                        r.err(
                            p.key(key),
                            "required with wan = \"static\" (or use wan = \"dhcp\")",
                        );
                    }
                }
            }
        },
    }
}

pub(super) fn services(r: &mut Rules, s: &Services) {
    let p = KeyPath::of("services.deploy");
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in s.deploy.iter().enumerate() {
        if !Services::KNOWN.contains(&name.as_str()) {
            r.err(
                p.index(i),
                format!(
                    "unknown service '{name}': use one of {}",
                    Services::KNOWN.join(", ")
                ),
            );
        }
        if let Some(j) = seen.insert(name, i) {
            r.err(
                p.index(i),
                format!("'{name}' is listed twice (also deploy[{j}])"),
            );
            seen.insert(name, j);
        }
    }
    if let Some(registry) = &s.container_registry {
        let bad = registry.is_empty()
            || registry.contains("://")
            || registry.starts_with('/')
            || registry.ends_with('/')
            || registry
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if bad {
            r.err(
                KeyPath::of("services.container-registry"),
                format!("'{registry}' is not a registry: give a host[:port][/namespace], without a scheme (https://) or spaces"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names() {
        assert!(zone_name_ok("srv"));
        assert!(zone_name_ok("a-1"));
        assert!(!zone_name_ok("1a"));
        assert!(!zone_name_ok("Srv"));
        assert!(!zone_name_ok(""));
        assert!(!zone_name_ok("abcdefghijklmnop"));
    }
}

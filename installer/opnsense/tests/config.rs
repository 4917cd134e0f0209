//! The rendered config.xml: well-formed for a real validator (xmllint), the
//! shape of OPNsense's own default configuration, our values in it, and no
//! clear-text password.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use common::{cidr, settings, ssh_key, PASSWORD};
use quick_xml::events::Event;
use quick_xml::Reader;
use tappaas_opnsense::{render_config, verify_password, DhcpRange, Error, FirewallSettings, Wan};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A parsed element: name, text, children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn at(&self, path: &str) -> &Node {
        path.split('/').fold(self, |node, name| {
            node.child(name)
                .unwrap_or_else(|| panic!("no element {name} (in {path}) under <{}>", node.name))
        })
    }

    fn text_at(&self, path: &str) -> &str {
        &self.at(path).text
    }

    /// Every element path below this node ("system/user/name").
    fn paths(&self, prefix: &str, out: &mut BTreeSet<String>) {
        for c in &self.children {
            let p = if prefix.is_empty() {
                c.name.clone()
            } else {
                format!("{prefix}/{}", c.name)
            };
            c.paths(&p, out);
            out.insert(p);
        }
    }
}

fn parse(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().expect("the XML parses") {
            Event::Start(e) => stack.push(Node {
                name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                ..Node::default()
            }),
            Event::Empty(e) => {
                let node = Node {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    ..Node::default()
                };
                stack.last_mut().expect("a parent").children.push(node);
            }
            Event::Text(t) => {
                let text = t.decode().expect("text decodes");
                let text = quick_xml::escape::unescape(&text).expect("text unescapes");
                stack
                    .last_mut()
                    .expect("a parent")
                    .text
                    .push_str(text.trim());
            }
            Event::GeneralRef(r) => {
                let name = r.decode().expect("reference decodes");
                let c = match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity &{other};"),
                };
                stack.last_mut().expect("a parent").text.push_str(c);
            }
            Event::End(_) => {
                let node = stack.pop().expect("an open element");
                stack.last_mut().expect("a parent").children.push(node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element is closed");
    let mut doc = stack.pop().expect("the document");
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.pop().expect("the root element")
}

#[test]
fn passes_xmllint() {
    let xml = render_config(&settings()).expect("renders");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("config.xml");
    std::fs::write(&file, &xml).expect("write the config");
    let out = match Command::new("xmllint").arg("--noout").arg(&file).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run xmllint ({e}): it is in the package libxml2-utils; run scripts/setup-host as root"
        ),
    };
    assert!(
        out.status.success(),
        "xmllint rejects the rendered config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn has_every_element_path_the_default_config_uses() {
    let sample_path = workspace_root().join("tests/fixtures/opnsense/config.xml.sample");
    let sample = std::fs::read_to_string(&sample_path)
        .unwrap_or_else(|e| panic!("read {}: {e}", sample_path.display()));
    let theirs = parse(&sample);
    let ours = parse(&render_config(&settings()).expect("renders"));
    assert_eq!(theirs.name, "opnsense");
    assert_eq!(ours.name, "opnsense");

    let sections = [
        "system/hostname",
        "system/domain",
        "system/timezone",
        "system/user",
        "system/group",
        "system/ssh",
        "system/webgui",
        "interfaces/wan",
        "interfaces/lan",
        "dhcpd",
        "dnsmasq",
        "unbound",
        "nat",
        "filter",
        "OPNsense/Firewall/Filter",
    ];
    let (mut their_paths, mut our_paths) = (BTreeSet::new(), BTreeSet::new());
    theirs.paths("", &mut their_paths);
    ours.paths("", &mut our_paths);
    let wanted: Vec<&String> = their_paths
        .iter()
        .filter(|p| {
            sections
                .iter()
                .any(|s| *p == s || p.starts_with(&format!("{s}/")))
        })
        .collect();
    assert!(wanted.len() > 60, "the sample was read: {wanted:?}");
    let missing: Vec<&&String> = wanted.iter().filter(|p| !our_paths.contains(**p)).collect();
    assert!(missing.is_empty(), "missing element paths: {missing:?}");
}

#[test]
fn carries_the_plan_values() {
    let s = settings();
    let doc = parse(&render_config(&s).expect("renders"));
    assert_eq!(doc.text_at("system/hostname"), "firewall");
    assert_eq!(doc.text_at("system/domain"), "tappaas.internal");
    assert_eq!(doc.text_at("system/timezone"), "Europe/Amsterdam");
    let dns: Vec<&str> = doc
        .at("system")
        .all("dnsserver")
        .iter()
        .map(|n| n.text.as_str())
        .collect();
    assert_eq!(dns, ["9.9.9.9", "1.1.1.1"]);
    assert!(doc.at("system").child("dnsallowoverride").is_none());
    assert!(doc.child("trigger_initial_wizard").is_none());
    // The console stays on the serial port and asks for a login.
    assert_eq!(doc.text_at("system/primaryconsole"), "serial");
    assert_eq!(doc.text_at("system/serialspeed"), "115200");
    assert!(doc.at("system").child("disableconsolemenu").is_some());

    assert_eq!(doc.text_at("interfaces/lan/if"), "vtnet0");
    assert_eq!(doc.text_at("interfaces/lan/ipaddr"), "10.0.0.1");
    assert_eq!(doc.text_at("interfaces/lan/subnet"), "24");
    assert_eq!(doc.text_at("interfaces/wan/if"), "vtnet1");
    assert_eq!(doc.text_at("interfaces/wan/ipaddr"), "dhcp");
    assert_eq!(doc.text_at("nat/outbound/mode"), "automatic");
    assert_eq!(doc.text_at("unbound/enable"), "1");

    let ssh = doc.at("system/ssh");
    assert_eq!(ssh.text_at("enabled"), "enabled");
    assert_eq!(ssh.text_at("permitrootlogin"), "1");
    assert!(ssh.child("passwordauth").is_none(), "keys only");
    let root = doc.at("system/user");
    assert_eq!(root.text_at("name"), "root");
    let keys = base64::engine::general_purpose::STANDARD
        .decode(root.text_at("authorizedkeys"))
        .expect("authorizedkeys is base64");
    assert_eq!(
        String::from_utf8(keys).expect("utf-8 keys"),
        s.ssh_authorized_keys.join("\n")
    );
}

#[test]
fn one_vlan_and_one_interface_per_zone() {
    let s = settings();
    let doc = parse(&render_config(&s).expect("renders"));
    let vlans = doc.at("vlans").all("vlan");
    assert_eq!(vlans.len(), s.zones.len());
    for (i, zone) in s.zones.iter().enumerate() {
        let vlan = vlans[i];
        assert_eq!(vlan.text_at("if"), "vtnet0");
        assert_eq!(vlan.text_at("tag"), zone.vlan.to_string());
        let device = format!("vlan0.{}", zone.vlan);
        assert_eq!(vlan.text_at("vlanif"), device);

        let opt = doc.at(&format!("interfaces/opt{}", i + 1));
        assert_eq!(opt.text_at("if"), device, "opt{} sits on its VLAN", i + 1);
        assert_eq!(opt.text_at("descr"), zone.name);
        assert_eq!(opt.text_at("enable"), "1");
        assert_eq!(opt.text_at("ipaddr"), zone.cidr.address.to_string());
        assert_eq!(opt.text_at("subnet"), "24");
    }
    assert!(doc.at("interfaces").child("opt4").is_none());

    // DHCP: one range per network, and dnsmasq listens on all of them.
    let ranges = doc.at("dnsmasq").all("dhcp_ranges");
    let got: Vec<(&str, &str, &str)> = ranges
        .iter()
        .filter(|r| r.child("ra_mode").is_none())
        .map(|r| {
            (
                r.text_at("interface"),
                r.text_at("start_addr"),
                r.text_at("end_addr"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("lan", "10.0.0.128", "10.0.0.254"),
            ("opt1", "10.2.0.128", "10.2.0.254"),
            ("opt2", "10.3.0.128", "10.3.0.254"),
            ("opt3", "10.4.0.128", "10.4.0.254"),
        ]
    );
    assert_eq!(doc.text_at("dnsmasq/interface"), "lan,opt1,opt2,opt3");

    // Allow rules: LAN (v4 + v6) and each zone, from its own network.
    let rules = doc.at("OPNsense/Firewall/Filter/rules").all("rule");
    let ifs: Vec<(&str, &str, &str)> = rules
        .iter()
        .map(|r| {
            (
                r.text_at("interface"),
                r.text_at("source_net"),
                r.text_at("ipprotocol"),
            )
        })
        .collect();
    assert_eq!(
        ifs,
        [
            ("lan", "lan", "inet"),
            ("lan", "lan", "inet6"),
            ("opt1", "opt1", "inet"),
            ("opt2", "opt2", "inet"),
            ("opt3", "opt3", "inet"),
        ]
    );
    assert!(rules
        .iter()
        .all(|r| r.text_at("action") == "pass" && r.text_at("destination_net") == "any"));
    assert!(
        !ifs.iter().any(|(i, _, _)| *i == "wan"),
        "nothing in from WAN"
    );
}

#[test]
fn static_wan_gets_its_gateway() {
    let mut s = settings();
    s.wan = Wan::Static {
        address: cidr([192, 168, 1, 20], 24),
        gateway: Ipv4Addr::new(192, 168, 1, 1),
    };
    let doc = parse(&render_config(&s).expect("renders"));
    assert_eq!(doc.text_at("interfaces/wan/ipaddr"), "192.168.1.20");
    assert_eq!(doc.text_at("interfaces/wan/subnet"), "24");
    let gw_name = doc.text_at("interfaces/wan/gateway");
    let gw = doc.at("OPNsense/Gateways/gateway_item");
    assert_eq!(gw.text_at("name"), gw_name);
    assert_eq!(gw.text_at("gateway"), "192.168.1.1");
    assert_eq!(gw.text_at("interface"), "wan");
    assert_eq!(gw.text_at("defaultgw"), "1");

    let dhcp = parse(&render_config(&settings()).expect("renders"));
    assert!(dhcp.at("OPNsense").child("Gateways").is_none());
}

#[test]
fn no_clear_text_password_and_the_hash_verifies() {
    let xml = render_config(&settings()).expect("renders");
    assert!(!xml.contains(PASSWORD));
    // Not even escaped.
    assert!(!xml.contains("Tr0ub4dor"));
    let doc = parse(&xml);
    let stored = doc.text_at("system/user/password");
    assert!(stored.starts_with("$2y$"), "{stored}");
    assert!(verify_password(PASSWORD, stored));
    assert!(!verify_password("opnsense", stored));
}

#[test]
fn without_zones_or_dhcp_it_still_renders() {
    let mut s = settings();
    s.zones.clear();
    s.lan_dhcp = None;
    s.dns_servers.clear();
    s.ssh_authorized_keys.clear();
    let xml = render_config(&s).expect("renders");
    let doc = parse(&xml);
    assert!(doc.at("vlans").children.is_empty());
    assert!(doc.at("interfaces").child("opt1").is_none());
    // Only OPNsense's default IPv6 range on the LAN is left.
    let ranges = doc.at("dnsmasq").all("dhcp_ranges");
    assert_eq!(ranges.len(), 1);
    assert_eq!(ranges[0].text_at("ra_mode"), "slaac");
    assert_eq!(doc.text_at("dnsmasq/interface"), "lan");
    assert_eq!(doc.text_at("system/dnsallowoverride"), "1");
    assert_eq!(doc.text_at("system/user/authorizedkeys"), "");
}

fn rejects(change: impl FnOnce(&mut FirewallSettings)) -> Error {
    let mut s = settings();
    change(&mut s);
    let err = render_config(&s).expect_err("invalid settings are rejected");
    assert_eq!(s.validate().expect_err("validate agrees"), err);
    err
}

#[test]
fn invalid_settings_get_clear_errors() {
    let e = rejects(|s| s.zones[2].vlan = 210);
    assert!(matches!(e, Error::DuplicateVlan { tag: 210, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("zones[2].vlan") && msg.contains("zones[0]"),
        "{msg}"
    );

    let e = rejects(|s| s.zones[0].vlan = 4095);
    assert!(
        matches!(e, Error::VlanOutOfRange { tag: 4095, .. }),
        "{e:?}"
    );
    let e = rejects(|s| s.zones[0].vlan = 0);
    assert!(matches!(e, Error::VlanOutOfRange { tag: 0, .. }), "{e:?}");

    let e = rejects(|s| s.zones[1].cidr.prefix = 33);
    assert!(
        matches!(e, Error::PrefixOutOfRange { prefix: 33, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("zones[1].cidr"), "{e}");
    let e = rejects(|s| s.lan.prefix = 31);
    assert!(matches!(e, Error::PrefixOutOfRange { .. }), "{e:?}");

    let e = rejects(|s| s.zones[0].cidr = cidr([8, 8, 8, 1], 24));
    assert!(matches!(e, Error::NotPrivate { .. }), "{e:?}");
    assert!(e.to_string().contains("private"), "{e}");

    let e = rejects(|s| s.zones[0].cidr = cidr([10, 2, 0, 0], 24));
    assert!(
        matches!(
            e,
            Error::NotAHostAddress {
                which: "network",
                ..
            }
        ),
        "{e:?}"
    );

    let e = rejects(|s| s.zones[1].cidr = cidr([10, 0, 0, 2], 16));
    assert!(matches!(e, Error::Overlap { .. }), "{e:?}");
    assert!(e.to_string().contains("lan"), "{e}");

    let e = rejects(|s| s.zones[1].name = "srv".into());
    assert!(matches!(e, Error::DuplicateZoneName { .. }), "{e:?}");
    let e = rejects(|s| s.zones[1].name = "opt1".into());
    assert!(matches!(e, Error::DuplicateZoneName { .. }), "{e:?}");
    let e = rejects(|s| s.zones[1].name = "my zone<".into());
    assert!(matches!(e, Error::InvalidZoneName { .. }), "{e:?}");

    let e = rejects(|s| {
        s.lan_dhcp = Some(DhcpRange {
            start: Ipv4Addr::new(10, 0, 0, 1),
            end: Ipv4Addr::new(10, 0, 0, 50),
        })
    });
    assert!(matches!(e, Error::BadDhcpRange { .. }), "{e:?}");

    let e = rejects(|s| {
        s.wan = Wan::Static {
            address: cidr([192, 168, 1, 20], 24),
            gateway: Ipv4Addr::new(192, 168, 2, 1),
        }
    });
    assert!(matches!(e, Error::GatewayOutsideWan { .. }), "{e:?}");

    let e = rejects(|s| s.root_password_hash = PASSWORD.into());
    assert!(matches!(e, Error::NotBcrypt { .. }), "{e:?}");
    assert!(
        !e.to_string().contains(PASSWORD),
        "the error does not repeat it"
    );

    let e = rejects(|s| s.ssh_authorized_keys.push("ssh-ed25519 not-base64!".into()));
    assert!(matches!(e, Error::BadSshKey { .. }), "{e:?}");
    let e = rejects(|s| {
        s.ssh_authorized_keys
            .push(format!("{}\n{}", ssh_key("a", 1), ssh_key("b", 2)))
    });
    assert!(matches!(e, Error::BadSshKey { .. }), "{e:?}");

    let e = rejects(|s| s.hostname = "fire_wall".into());
    assert!(matches!(e, Error::InvalidHostname { .. }), "{e:?}");
    let e = rejects(|s| s.domain = "bad..domain".into());
    assert!(matches!(e, Error::InvalidDomain { .. }), "{e:?}");
    let e = rejects(|s| s.timezone = "../../etc/passwd".into());
    assert!(matches!(e, Error::InvalidTimezone { .. }), "{e:?}");
}

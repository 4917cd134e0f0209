//! The firewall's `config.xml`, written element by element.
//!
//! It keeps the shape of OPNsense's own default configuration
//! (`config.xml.sample` in opnsense/core), with our values where the plan
//! decides: host name, domain, time zone, DNS, root's hash and SSH keys, the
//! LAN/WAN addresses, one VLAN and one `optN` interface per zone, DHCP pools
//! (dnsmasq, as the default configuration uses), unbound, automatic outbound
//! NAT, and one "allow to any" rule per internal network. Everything else is
//! OPNsense's default. Text goes through quick-xml's escaping.

use std::io::Cursor;

use base64::Engine as _;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::settings::{DhcpRange, Error, FirewallSettings, Wan, LAN_DEVICE, WAN_DEVICE};

/// Name of the WAN gateway entry when the WAN is static.
const WAN_GATEWAY_NAME: &str = "WAN_GW";
/// OPNsense's default NTP pool (from its default configuration).
const NTP_POOL: &str =
    "0.opnsense.pool.ntp.org 1.opnsense.pool.ntp.org 2.opnsense.pool.ntp.org 3.opnsense.pool.ntp.org";
/// The serial console's speed; the nano image's console is the serial port
/// at this speed and the configuration must keep it there.
const SERIAL_SPEED: &str = "115200";

struct Doc {
    w: Writer<Cursor<Vec<u8>>>,
}

type R = Result<(), Error>;

fn xml_err(e: impl std::fmt::Display) -> Error {
    Error::Render(e.to_string())
}

impl Doc {
    fn event(&mut self, e: Event<'_>) -> R {
        self.w.write_event(e).map_err(xml_err)
    }

    /// `<name>` ... children ... `</name>`.
    fn node(&mut self, name: &str, body: impl FnOnce(&mut Self) -> R) -> R {
        self.event(Event::Start(BytesStart::new(name)))?;
        body(self)?;
        self.event(Event::End(BytesEnd::new(name)))
    }

    /// `<name>text</name>`, or `<name/>` for empty text.
    fn leaf(&mut self, name: &str, text: &str) -> R {
        if text.is_empty() {
            return self.event(Event::Empty(BytesStart::new(name)));
        }
        self.event(Event::Start(BytesStart::new(name)))?;
        self.event(Event::Text(BytesText::new(text)))?;
        self.event(Event::End(BytesEnd::new(name)))
    }
}

/// One internal network that gets DHCP and an allow rule: the LAN or a zone.
struct Network<'a> {
    /// OPNsense's interface key: `lan`, `opt1`, ...
    key: String,
    descr: &'a str,
    dhcp: Option<DhcpRange>,
}

/// A complete OPNsense `config.xml` for `settings`, after validating them.
pub fn render_config(settings: &FirewallSettings) -> Result<String, Error> {
    settings.validate()?;
    let networks = networks(settings);
    let mut doc = Doc {
        w: Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2),
    };
    doc.event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
    doc.node("opnsense", |d| {
        d.leaf("theme", "opnsense")?;
        system(d, settings)?;
        interfaces(d, settings)?;
        vlans(d, settings)?;
        dnsmasq(d, &networks)?;
        d.node("unbound", |d| d.leaf("enable", "1"))?;
        d.node("nat", |d| {
            d.node("outbound", |d| d.leaf("mode", "automatic"))
        })?;
        // The rules live in the MVC model below, as in the default config.
        d.leaf("filter", "")?;
        d.node("rrd", |d| d.leaf("enable", ""))?;
        d.node("ntpd", |d| {
            d.leaf("prefer", "0.opnsense.pool.ntp.org")?;
            d.leaf("ispool", NTP_POOL)
        })?;
        d.node("OPNsense", |d| {
            firewall_rules(d, &networks)?;
            gateways(d, settings)
        })
    })?;
    let mut xml = String::from_utf8(doc.w.into_inner().into_inner()).map_err(xml_err)?;
    xml.push('\n');
    Ok(xml)
}

fn networks(settings: &FirewallSettings) -> Vec<Network<'_>> {
    let mut out = vec![Network {
        key: "lan".into(),
        descr: "LAN",
        dhcp: settings.lan_dhcp,
    }];
    out.extend(settings.zones.iter().enumerate().map(|(i, z)| Network {
        key: format!("opt{}", i + 1),
        descr: &z.name,
        dhcp: z.dhcp,
    }));
    out
}

/// The VLAN device of a zone's tag on the LAN NIC. OPNsense accepts device
/// names `vlan0` followed by digits and dots (its Vlan model's check).
fn vlan_device(tag: u16) -> String {
    format!("vlan0.{tag}")
}

fn system(d: &mut Doc, s: &FirewallSettings) -> R {
    d.node("system", |d| {
        d.leaf("optimization", "normal")?;
        d.leaf("hostname", &s.hostname)?;
        d.leaf("domain", &s.domain)?;
        // OPNsense tests these flags for presence, so "off" means absent.
        if s.dns_servers.is_empty() {
            d.leaf("dnsallowoverride", "1")?;
        }
        for dns in &s.dns_servers {
            d.leaf("dnsserver", &dns.to_string())?;
        }
        d.node("group", |d| {
            d.leaf("name", "admins")?;
            d.leaf("description", "System Administrators")?;
            d.leaf("scope", "system")?;
            d.leaf("gid", "1999")?;
            d.leaf("member", "0")?;
            d.leaf("priv", "page-all")
        })?;
        d.node("user", |d| {
            d.leaf("name", "root")?;
            d.leaf("descr", "System Administrator")?;
            d.leaf("scope", "system")?;
            d.leaf("groupname", "admins")?;
            d.leaf("password", &s.root_password_hash)?;
            d.leaf("uid", "0")?;
            // OPNsense keeps the keys as base64 of the newline-joined lines.
            let keys = s.ssh_authorized_keys.join("\n");
            d.leaf(
                "authorizedkeys",
                &base64::engine::general_purpose::STANDARD.encode(keys),
            )
        })?;
        d.leaf("nextuid", "2000")?;
        d.leaf("nextgid", "2000")?;
        d.leaf("timezone", &s.timezone)?;
        d.leaf("timeservers", NTP_POOL)?;
        d.node("webgui", |d| d.leaf("protocol", "https"))?;
        d.leaf("disablenatreflection", "yes")?;
        d.leaf("usevirtualterminal", "1")?;
        // Present: the console asks for a login before showing the menu.
        d.leaf("disableconsolemenu", "")?;
        d.leaf("enableserial", "1")?;
        d.leaf("serialspeed", SERIAL_SPEED)?;
        d.leaf("primaryconsole", "serial")?;
        d.leaf("ipv6allow", "1")?;
        d.leaf("powerd_ac_mode", "hadp")?;
        d.leaf("powerd_battery_mode", "hadp")?;
        d.leaf("powerd_normal_mode", "hadp")?;
        d.node("bogons", |d| d.leaf("interval", "monthly"))?;
        d.leaf("pf_share_forward", "1")?;
        d.leaf("lb_use_sticky", "1")?;
        d.node("ssh", |d| {
            d.leaf("group", "admins")?;
            // Keys only: no <passwordauth/>, so sshd refuses passwords.
            d.leaf("noauto", "1")?;
            d.leaf("interfaces", "")?;
            d.leaf("enabled", "enabled")?;
            d.leaf("permitrootlogin", "1")
        })
    })
}

fn interfaces(d: &mut Doc, s: &FirewallSettings) -> R {
    d.node("interfaces", |d| {
        d.node("wan", |d| {
            d.leaf("enable", "1")?;
            d.leaf("if", WAN_DEVICE)?;
            d.leaf("descr", "WAN")?;
            d.leaf("mtu", "")?;
            match &s.wan {
                Wan::Dhcp => {
                    d.leaf("ipaddr", "dhcp")?;
                    d.leaf("ipaddrv6", "dhcp6")?;
                    d.leaf("subnet", "")?;
                    d.leaf("gateway", "")?;
                }
                Wan::Static { address, .. } => {
                    d.leaf("ipaddr", &address.address.to_string())?;
                    d.leaf("ipaddrv6", "dhcp6")?;
                    d.leaf("subnet", &address.prefix.to_string())?;
                    d.leaf("gateway", WAN_GATEWAY_NAME)?;
                }
            }
            d.leaf("blockpriv", "1")?;
            d.leaf("blockbogons", "1")?;
            d.leaf("dhcphostname", "")?;
            d.leaf("media", "")?;
            d.leaf("mediaopt", "")?;
            d.leaf("dhcp6-ia-pd-len", "0")
        })?;
        d.node("lan", |d| {
            d.leaf("enable", "1")?;
            d.leaf("if", LAN_DEVICE)?;
            d.leaf("descr", "LAN")?;
            d.leaf("ipaddr", &s.lan.address.to_string())?;
            d.leaf("subnet", &s.lan.prefix.to_string())?;
            d.leaf("ipaddrv6", "idassoc6")?;
            d.leaf("subnetv6", "64")?;
            d.leaf("media", "")?;
            d.leaf("mediaopt", "")?;
            d.leaf("track6-interface", "wan")?;
            d.leaf("track6-prefix-id", "0")
        })?;
        for (i, zone) in s.zones.iter().enumerate() {
            d.node(&format!("opt{}", i + 1), |d| {
                d.leaf("enable", "1")?;
                d.leaf("if", &vlan_device(zone.vlan))?;
                d.leaf("descr", &zone.name)?;
                d.leaf("ipaddr", &zone.cidr.address.to_string())?;
                d.leaf("subnet", &zone.cidr.prefix.to_string())?;
                d.leaf("media", "")?;
                d.leaf("mediaopt", "")
            })?;
        }
        Ok(())
    })
}

fn vlans(d: &mut Doc, s: &FirewallSettings) -> R {
    if s.zones.is_empty() {
        return d.leaf("vlans", "");
    }
    d.node("vlans", |d| {
        for zone in &s.zones {
            d.node("vlan", |d| {
                d.leaf("if", LAN_DEVICE)?;
                d.leaf("tag", &zone.vlan.to_string())?;
                d.leaf("pcp", "0")?;
                d.leaf("proto", "")?;
                d.leaf("descr", &zone.name)?;
                d.leaf("vlanif", &vlan_device(zone.vlan))
            })?;
        }
        Ok(())
    })
}

fn dnsmasq(d: &mut Doc, networks: &[Network<'_>]) -> R {
    // The LAN is always served: it also carries OPNsense's default IPv6
    // router advertisements (the LAN tracks the WAN's IPv6 prefix).
    let served: Vec<&Network<'_>> = networks
        .iter()
        .filter(|n| n.key == "lan" || n.dhcp.is_some())
        .collect();
    d.node("dnsmasq", |d| {
        d.leaf("enable", "1")?;
        // DNS stays with unbound on 53; dnsmasq only serves DHCP and RA.
        d.leaf("port", "53053")?;
        let keys: Vec<&str> = served.iter().map(|n| n.key.as_str()).collect();
        d.leaf("interface", &keys.join(","))?;
        d.node("dhcp", |d| d.leaf("enable_ra", "1"))?;
        for net in &served {
            if let Some(range) = net.dhcp {
                d.node("dhcp_ranges", |d| {
                    d.leaf("interface", &net.key)?;
                    d.leaf("start_addr", &range.start.to_string())?;
                    d.leaf("end_addr", &range.end.to_string())?;
                    d.leaf("description", net.descr)
                })?;
            }
        }
        // As in OPNsense's default: SLAAC on the LAN's tracked prefix.
        d.node("dhcp_ranges", |d| {
            d.leaf("interface", "lan")?;
            d.leaf("start_addr", "::1000")?;
            d.leaf("end_addr", "::2000")?;
            d.leaf("constructor", "lan")?;
            d.leaf("ra_mode", "slaac")
        })
    })
}

struct Rule<'a> {
    sequence: u32,
    interface: &'a str,
    ipprotocol: &'a str,
    description: String,
}

fn rule(d: &mut Doc, r: &Rule<'_>) -> R {
    d.node("rule", |d| {
        d.leaf("enabled", "1")?;
        d.leaf("statetype", "keep")?;
        d.leaf("state-policy", "")?;
        d.leaf("sequence", &r.sequence.to_string())?;
        d.leaf("action", "pass")?;
        d.leaf("quick", "1")?;
        d.leaf("interfacenot", "0")?;
        d.leaf("interface", r.interface)?;
        d.leaf("direction", "in")?;
        d.leaf("ipprotocol", r.ipprotocol)?;
        d.leaf("protocol", "any")?;
        // "lan", "opt1": the interface's own network.
        d.leaf("source_net", r.interface)?;
        d.leaf("source_not", "0")?;
        d.leaf("source_port", "")?;
        d.leaf("destination_net", "any")?;
        d.leaf("destination_not", "0")?;
        d.leaf("disablereplyto", "0")?;
        d.leaf("log", "0")?;
        d.leaf("allowopts", "0")?;
        d.leaf("nosync", "0")?;
        d.leaf("nopfsync", "0")?;
        d.leaf("statetimeout", "")?;
        d.leaf("tcpflags_any", "0")?;
        d.leaf("description", &r.description)
    })
}

/// A first, permissive default: every internal network may reach anything
/// (the other zones and the internet); nothing is let in from the WAN.
fn firewall_rules(d: &mut Doc, networks: &[Network<'_>]) -> R {
    let mut rules = vec![
        Rule {
            sequence: 1,
            interface: "lan",
            ipprotocol: "inet",
            description: "Default allow LAN to any rule".into(),
        },
        Rule {
            sequence: 11,
            interface: "lan",
            ipprotocol: "inet6",
            description: "Default allow LAN IPv6 to any rule".into(),
        },
    ];
    let mut sequence = 100;
    for net in networks.iter().skip(1) {
        sequence += 10;
        rules.push(Rule {
            sequence,
            interface: &net.key,
            ipprotocol: "inet",
            description: format!("TAPPaaS: allow zone {} to any", net.descr),
        });
    }
    d.node("Firewall", |d| {
        d.node("Filter", |d| {
            d.node("rules", |d| rules.iter().try_for_each(|r| rule(d, r)))?;
            d.leaf("snatrules", "")?;
            d.leaf("npt", "")?;
            d.leaf("onetoone", "")
        })
    })
}

fn gateways(d: &mut Doc, s: &FirewallSettings) -> R {
    let Wan::Static { gateway, .. } = &s.wan else {
        return Ok(());
    };
    d.node("Gateways", |d| {
        d.node("gateway_item", |d| {
            d.leaf("disabled", "0")?;
            d.leaf("name", WAN_GATEWAY_NAME)?;
            d.leaf("descr", "WAN gateway (TAPPaaS plan)")?;
            d.leaf("interface", "wan")?;
            d.leaf("ipprotocol", "inet")?;
            d.leaf("gateway", &gateway.to_string())?;
            d.leaf("defaultgw", "1")?;
            d.leaf("fargw", "0")?;
            d.leaf("monitor_disable", "1")?;
            d.leaf("priority", "255")?;
            d.leaf("weight", "1")
        })
    })
}

//! Network: the node number, the management NIC and address, gateway and
//! DNS, the WAN NIC for the firewall, the host name and domain.
//!
//! Defaults come from the machine profile. The management NIC is the first
//! NIC that holds a DHCP lease on the live system, else the first with a
//! link; another one is the WAN. When the management NIC has a lease, its
//! address (as a static address), gateway, first DNS server and domain are
//! the defaults; without one, the TAPPaaS convention: node N at
//! 10.0.0.(9+N)/24, gateway and DNS 10.0.0.1 (the firewall), domain `lan`.
//! A field the user typed in keeps what was typed.

use std::net::IpAddr;

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_answer::{checks, Answer, Cidr, Filter, Fqdn, Network, NetworkSource};
use tappaas_hardware::{DhcpLease, MachineProfile, Nic};

use super::{next_unless, FormScreen, Handled, Screen};
use crate::context::Context;
use crate::form::{errors_for, Choice, Form, FormEvent, Item, TextField};

pub const NODE: usize = 0;
pub const MGMT: usize = 1;
pub const CIDR: usize = 2;
pub const GATEWAY: usize = 3;
pub const DNS: usize = 4;
pub const WAN: usize = 5;
pub const HOSTNAME: usize = 6;
pub const DOMAIN: usize = 7;
pub const NEXT: usize = 8;

const FIELDS: [usize; 8] = [NODE, MGMT, CIDR, GATEWAY, DNS, WAN, HOSTNAME, DOMAIN];

/// What a WAN choice says when there is no second NIC.
const NO_WAN: &str = "none (only one NIC)";

#[derive(Debug)]
pub struct NetworkScreen {
    pub form: Form,
    /// The NICs, in the order of the management choice's options.
    nics: Vec<Nic>,
    /// The NIC names of the WAN choice's options, in their order (none
    /// when the only option is that there is no WAN NIC).
    wan_nics: Vec<String>,
    mgmt_touched: bool,
    wan_touched: bool,
}

fn nic_option(n: &Nic) -> String {
    let link = match n.link {
        Some(true) => "link up",
        Some(false) => "no link",
        None => "link ?",
    };
    format!("{} ({}, {link})", n.name, n.mac)
}

/// A filter that picks exactly this NIC: the MAC-based name survives a
/// renamed or moved card; the path-based one is next best.
pub fn nic_filter(nic: &Nic) -> Option<Filter> {
    [
        "ID_NET_NAME_MAC",
        "ID_NET_NAME_PATH",
        "ID_NET_NAME",
        "INTERFACE",
    ]
    .iter()
    .find_map(|k| nic.udev.get(*k).map(|v| (k.to_string(), v.clone())))
    .map(|(k, v)| Filter::from([(k, v)]))
}

impl NetworkScreen {
    pub fn new(machine: &MachineProfile) -> Self {
        let nics = machine.nics.clone();
        let items = vec![
            Item::text("Node number (N)", TextField::new("1")),
            Item::choice(
                "Management NIC",
                Choice::new(nics.iter().map(nic_option).collect(), 0),
            ),
            Item::text("Address/prefix", TextField::new("10.0.0.10/24")),
            Item::text("Gateway", TextField::new("10.0.0.1")),
            Item::text("DNS server", TextField::new("10.0.0.1")),
            Item::choice("WAN NIC (firewall)", Choice::new(vec![NO_WAN.into()], 0)),
            Item::text("Host name", TextField::new("tappaas1")),
            Item::text("Domain", TextField::new("lan")),
            Item::button("Next"),
        ];
        let mut s = NetworkScreen {
            form: Form::new(items, 20),
            nics,
            wan_nics: Vec::new(),
            mgmt_touched: false,
            wan_touched: false,
        };
        s.defaults(1);
        s
    }

    /// The NIC chosen in `item` (MGMT or WAN), by the chosen option's
    /// index, not its text.
    fn nic(&self, item: usize) -> Option<&Nic> {
        let at = self.form.selected(item)?;
        match item {
            MGMT => self.nics.get(at),
            _ => {
                let name = self.wan_nics.get(at)?;
                self.nics.iter().find(|n| &n.name == name)
            }
        }
    }

    /// Fills every field the user has not typed in: from the management
    /// NIC's DHCP lease when it has one, else from the convention.
    fn defaults(&mut self, node: u8) {
        let with_link = |n: &&&Nic| n.link == Some(true);
        if !self.mgmt_touched {
            let leased = |n: &Nic| n.dhcp.is_some() && n.link != Some(false);
            if let Some(i) = self
                .nics
                .iter()
                .position(leased)
                .or_else(|| self.nics.iter().position(|n| n.link == Some(true)))
                .or(if self.nics.is_empty() { None } else { Some(0) })
            {
                if let Some(c) = self.form.choice_mut(MGMT) {
                    c.selected = i;
                }
            }
        }
        let mgmt = self.nic(MGMT).map(|n| n.name.clone()).unwrap_or_default();
        let others: Vec<&Nic> = self.nics.iter().filter(|n| n.name != mgmt).collect();
        let current_wan = self.nic(WAN).map(|n| n.name.clone()).unwrap_or_default();
        let mut options: Vec<String> = others.iter().map(|n| nic_option(n)).collect();
        if options.is_empty() {
            options.push(NO_WAN.into());
        }
        let keep = self.wan_touched && others.iter().any(|n| n.name == current_wan);
        let wan_default = others
            .iter()
            .find(with_link)
            .or(others.first())
            .map(|n| n.name.clone());
        let want = if keep { Some(current_wan) } else { wan_default };
        let at = want
            .and_then(|w| others.iter().position(|n| n.name == w))
            .unwrap_or(0);
        self.wan_nics = others.iter().map(|n| n.name.clone()).collect();
        if let Some(c) = self.form.choice_mut(WAN) {
            c.options = options;
            c.selected = at;
        }
        let facts = match self.nic(MGMT).and_then(|n| n.dhcp.as_ref()) {
            Some(lease) => Facts::from_lease(lease),
            None => Facts::convention(node),
        };
        for (item, value) in [
            (CIDR, facts.cidr),
            (GATEWAY, facts.gateway),
            (DNS, facts.dns),
            (DOMAIN, facts.domain),
            (HOSTNAME, format!("tappaas{node}")),
        ] {
            if let Some(f) = self.form.field_mut(item) {
                f.set_default(value);
            }
        }
    }

    fn node_number(&self) -> Result<u8, String> {
        let t = self.form.text(NODE).trim();
        t.parse::<u8>()
            .map_err(|_| format!("'{t}' is not a node number: give N of tappaasN, 1..=244"))
    }
}

/// The defaults of the address fields, as the fields show them.
struct Facts {
    cidr: String,
    gateway: String,
    dns: String,
    domain: String,
}

impl Facts {
    /// The TAPPaaS convention for node N (no lease to go by).
    fn convention(node: u8) -> Self {
        let addr = u32::from(node).saturating_add(9).min(255);
        Facts {
            cidr: format!("10.0.0.{addr}/24"),
            gateway: "10.0.0.1".into(),
            dns: "10.0.0.1".into(),
            domain: "lan".into(),
        }
    }

    /// What the network the NIC is plugged into said; the convention for
    /// what the lease lacks, or for a domain our rules would refuse.
    fn from_lease(lease: &DhcpLease) -> Self {
        let fallback = Facts::convention(1);
        let domain = lease
            .domain
            .iter()
            .chain(lease.search.iter())
            .find(|d| checks::domain(d).is_ok())
            .cloned()
            .unwrap_or(fallback.domain);
        Facts {
            cidr: format!("{}/{}", lease.address, lease.prefix),
            gateway: lease
                .gateway
                .map(|g| g.to_string())
                .unwrap_or(fallback.gateway),
            dns: lease
                .dns
                .first()
                .map(|d| d.to_string())
                .unwrap_or(fallback.dns),
            domain,
        }
    }
}

impl FormScreen for NetworkScreen {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    /// The message for one field, from its own parser or from the answer's
    /// rules (with the other fields as they are now).
    fn field_error(&self, item: usize, errors: &[tappaas_answer::AnswerError]) -> Option<String> {
        let text = self.form.text(item).trim();
        match item {
            NODE => match self.node_number() {
                Err(e) => Some(e),
                Ok(_) => errors_for(errors, "node.number"),
            },
            MGMT => errors_for(errors, "network.filter"),
            CIDR => match text.parse::<Cidr>() {
                Err(e) => Some(e),
                Ok(_) => errors_for(errors, "network.cidr"),
            },
            GATEWAY | DNS => match text.parse::<IpAddr>() {
                Err(_) => Some(format!("'{text}' is not an IP address, e.g. 10.0.0.1")),
                Ok(_) => errors_for(
                    errors,
                    if item == GATEWAY {
                        "network.gateway"
                    } else {
                        "network.dns"
                    },
                ),
            },
            WAN => errors_for(errors, "bridges.wan-filter"),
            HOSTNAME => {
                if checks::domain(self.form.text(DOMAIN).trim()).is_ok() {
                    errors_for(errors, "global.fqdn")
                } else {
                    None
                }
            }
            DOMAIN => checks::domain(text).err(),
            _ => None,
        }
    }
}

impl Screen for NetworkScreen {
    fn title(&self) -> &'static str {
        "Network"
    }

    fn keys(&self) -> &'static str {
        "Tab/Up/Down: move  Left/Right: choose NIC  Enter: confirm  Esc: back"
    }

    fn enter(&mut self, ctx: &Context) {
        // The leases may have changed since the screen was made (DHCP
        // finished late); the NICs themselves do not.
        for nic in &mut self.nics {
            if let Some(now) = ctx.machine.nic(&nic.name) {
                nic.dhcp = now.dhcp.clone();
            }
        }
        if let Some(f) = self.form.field_mut(NODE) {
            f.set_default(ctx.answer.node.number.to_string());
        }
        let n = self.node_number().unwrap_or(ctx.answer.node.number);
        self.defaults(n);
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled {
        match self.form.handle_key(key) {
            FormEvent::Ignored => Handled::Ignored,
            FormEvent::Consumed => Handled::Consumed,
            FormEvent::Changed(i) => {
                match i {
                    MGMT => self.mgmt_touched = true,
                    WAN => self.wan_touched = true,
                    _ => {}
                }
                if let Ok(n) = self.node_number() {
                    self.defaults(n);
                } else if i == MGMT {
                    self.defaults(1);
                }
                Handled::Consumed
            }
            FormEvent::Left(i) => {
                self.check_fields(ctx, &[i]);
                Handled::Consumed
            }
            FormEvent::Pressed(_) => {
                let any_error = self.check_fields(ctx, &FIELDS);
                next_unless(&mut self.form, any_error)
            }
        }
    }

    fn apply(&self, answer: &mut Answer) {
        if let Ok(n) = self.node_number() {
            answer.node.number = n;
        }
        answer.network = Some(Network {
            source: NetworkSource::FromAnswer,
            cidr: self.form.text(CIDR).trim().parse().ok(),
            gateway: self.form.text(GATEWAY).trim().parse().ok(),
            dns: self.form.text(DNS).trim().parse().ok(),
            filter: self.nic(MGMT).and_then(nic_filter),
        });
        answer.bridges.wan_filter = self.nic(WAN).and_then(nic_filter);
        answer.global.fqdn = Fqdn::Name(format!(
            "{}.{}",
            self.form.text(HOSTNAME).trim(),
            self.form.text(DOMAIN).trim()
        ));
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        self.form.render(area, buf, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chosen NICs come from the options' order, whatever the
    /// options' text says.
    #[test]
    fn nics_are_read_by_index_not_by_their_labels() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/machines/nvme2-hdd4/profile.json"
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        let m = MachineProfile::from_json(&text).expect("profile");
        let mut s = NetworkScreen::new(&m);
        let mgmt = s
            .nic(MGMT)
            .map(|n| n.name.clone())
            .expect("a management NIC");
        let wan = s.nic(WAN).map(|n| n.name.clone()).expect("a WAN NIC");
        assert_ne!(mgmt, wan);
        for item in [MGMT, WAN] {
            if let Some(c) = s.form.choice_mut(item) {
                c.options = c.options.iter().map(|o| format!("NIC {o}")).collect();
            }
        }
        assert_eq!(s.nic(MGMT).map(|n| n.name.as_str()), Some(mgmt.as_str()));
        assert_eq!(s.nic(WAN).map(|n| n.name.as_str()), Some(wan.as_str()));
        s.defaults(1);
        assert_eq!(s.nic(WAN).map(|n| n.name.as_str()), Some(wan.as_str()));
    }
}

//! Firewall: whether the first node deploys the OPNsense VM, its LAN
//! address, and how its WAN side gets an address (DHCP, or a static
//! address and gateway). The `[firewall]` section of the answer file.
//!
//! The LAN address's default is the planner's proposal for the management
//! network the network screen chose (`tappaas_plan::propose_firewall_lan`):
//! the convention's first address, unless the router of a DHCP lease (or
//! another known address) holds it; then a free one, and the screen says
//! why. While the field holds the convention's address the answer leaves
//! `lan-address` out, as a file that does not set it; any other address is
//! written, so the saved file plans the same.

use std::net::IpAddr;

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_answer::{Answer, Cidr, Firewall, WanMode};

use super::{next_unless, FormScreen, Handled, Screen};
use crate::context::Context;
use crate::form::{errors_for, Choice, Form, FormEvent, Item, TextField};

pub const DEPLOY: usize = 0;
pub const NO_FIREWALL: usize = 1;
pub const LAN: usize = 2;
pub const WAN: usize = 3;
pub const WAN_ADDRESS: usize = 4;
pub const WAN_GATEWAY: usize = 5;
pub const NEXT: usize = 6;

const FIELDS: [usize; 3] = [LAN, WAN_ADDRESS, WAN_GATEWAY];

/// The WAN choice's options, in `WanMode` order.
const WAN_MODES: [(WanMode, &str); 2] = [
    (WanMode::Dhcp, "DHCP (from the upstream router)"),
    (WanMode::Static, "static"),
];

#[derive(Debug)]
pub struct FirewallScreen {
    pub form: Form,
    /// What a file without `lan-address` means for the management network
    /// as it is now (None: the planner has no address to give).
    lan_convention: Option<Cidr>,
}

impl Default for FirewallScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl FirewallScreen {
    pub fn new() -> Self {
        let items = vec![
            Item::check("Deploy the OPNsense firewall", true).with_detail(vec![
                "first boot runs it as a VM: the router between the management network (LAN) and the WAN NIC of the network screen".into(),
            ]),
            Item::note("").with_detail(vec![
                "No firewall: first boot deploys none of the services either (they live in the firewall's zones), whatever the next screen ticks.".into(),
            ]),
            Item::text("LAN address/prefix", TextField::new("")),
            Item::choice(
                "WAN mode",
                Choice::new(WAN_MODES.iter().map(|(_, s)| s.to_string()).collect(), 0),
            ),
            Item::text("WAN address/prefix", TextField::new("")),
            Item::text("WAN gateway", TextField::new("")),
            Item::button("Next"),
        ];
        let mut s = FirewallScreen {
            form: Form::new(items, 20),
            lan_convention: None,
        };
        s.show();
        s
    }

    pub fn deploy(&self) -> bool {
        self.form.checked(DEPLOY)
    }

    pub fn wan_mode(&self) -> WanMode {
        let selected = self.form.choice(WAN).map_or(0, |c| c.selected);
        WAN_MODES
            .get(selected)
            .map_or(WanMode::Dhcp, |(mode, _)| *mode)
    }

    /// Shows the fields that the choices made so far use.
    fn show(&mut self) {
        let deploy = self.deploy();
        self.form.set_visible(NO_FIREWALL, !deploy);
        for i in [LAN, WAN] {
            self.form.set_visible(i, deploy);
        }
        let fixed = deploy && self.wan_mode() == WanMode::Static;
        for i in [WAN_ADDRESS, WAN_GATEWAY] {
            self.form.set_visible(i, fixed);
        }
    }

    /// The `[firewall]` section these fields make. Hidden fields keep what
    /// was typed, but the answer holds only what the choices use.
    pub fn firewall(&self) -> Firewall {
        if !self.deploy() {
            return Firewall {
                deploy: false,
                ..Firewall::default()
            };
        }
        let lan = self.form.text(LAN).trim();
        let lan_address = match lan.parse::<Cidr>() {
            Ok(c) if Some(c) == self.lan_convention => None,
            parsed => parsed.ok(),
        };
        let wan = self.wan_mode();
        let (wan_address, wan_gateway) = match wan {
            WanMode::Dhcp => (None, None),
            WanMode::Static => (
                self.form.text(WAN_ADDRESS).trim().parse().ok(),
                self.form.text(WAN_GATEWAY).trim().parse().ok(),
            ),
        };
        Firewall {
            deploy: true,
            lan_address,
            wan,
            wan_address,
            wan_gateway,
        }
    }
}

impl FormScreen for FirewallScreen {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    /// The message for one field, from its own parser or from the answer's
    /// rules. An empty WAN field parses to nothing, so the rule says that
    /// static needs it.
    fn field_error(&self, item: usize, errors: &[tappaas_answer::AnswerError]) -> Option<String> {
        let text = self.form.text(item).trim();
        match item {
            LAN => match text.parse::<Cidr>() {
                Err(e) => Some(e),
                Ok(_) => errors_for(errors, "firewall.lan-address"),
            },
            WAN_ADDRESS => match text.parse::<Cidr>() {
                Err(e) if !text.is_empty() => Some(e),
                _ => errors_for(errors, "firewall.wan-address"),
            },
            WAN_GATEWAY => match text.parse::<IpAddr>() {
                Err(_) if !text.is_empty() => {
                    Some(format!("'{text}' is not an IP address, e.g. 192.168.1.1"))
                }
                _ => errors_for(errors, "firewall.wan-gateway"),
            },
            _ => None,
        }
    }
}

impl Screen for FirewallScreen {
    fn title(&self) -> &'static str {
        "Firewall"
    }

    fn keys(&self) -> &'static str {
        "Tab/Up/Down: move  Space: tick  Left/Right: choose  Enter: confirm  Esc: back"
    }

    fn enter(&mut self, ctx: &Context) {
        // The management network may have changed on the network screen:
        // the default follows it, a typed address stays.
        let management = ctx.answer.network.as_ref().and_then(|n| n.cidr);
        self.lan_convention = management.and_then(|c| tappaas_plan::firewall_lan_default(&c));
        let proposal =
            management.and_then(|c| tappaas_plan::propose_firewall_lan(&ctx.machine, &c));
        let shown = proposal
            .as_ref()
            .map(|p| p.address.to_string())
            .unwrap_or_default();
        if let Some(f) = self.form.field_mut(LAN) {
            f.set_default(shown);
        }
        if let Some(it) = self.form.items.get_mut(LAN) {
            it.detail = match proposal {
                Some(p) => vec![p.reason],
                None => vec![
                    "the management network has no address free for it: type an address in that network".into(),
                ],
            };
        }
        self.show();
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled {
        match self.form.handle_key(key) {
            FormEvent::Ignored => Handled::Ignored,
            FormEvent::Consumed => Handled::Consumed,
            FormEvent::Changed(i) => {
                if i == DEPLOY || i == WAN {
                    self.show();
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
        answer.firewall = self.firewall();
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        self.form.render(area, buf, true);
    }
}

//! The summary: the real planner's verdict on the answer, every disk that
//! will be erased, saving the answer file, the full plan, and the explicit
//! confirmation. Nothing is written to a disk before "yes" here.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_hardware::human_bytes;
use tappaas_plan::{Address, ClusterPlan, Plan, PlanError};

use super::{Handled, Msg, Reply, Screen};
use crate::context::Context;
use crate::form::{Form, FormEvent, Item, TextField};

/// What the user must type to confirm.
pub const CONFIRM_WORD: &str = "yes";

#[derive(Debug)]
pub struct Summary {
    pub form: Form,
    pub plan: Option<Result<Plan, Vec<PlanError>>>,
    save_path: TextField,
    saved: Option<String>,
    /// Item indices of the fields, which follow a varying number of notes.
    pub save_item: usize,
    pub save_button: usize,
    pub view_button: usize,
    pub confirm_item: usize,
    pub install_button: usize,
    dry_run: bool,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            form: Form::default(),
            plan: None,
            save_path: TextField::new("answer.toml"),
            saved: None,
            save_item: 0,
            save_button: 0,
            view_button: 0,
            confirm_item: 0,
            install_button: 0,
            dry_run: false,
        }
    }
}

fn overview(plan: &Plan) -> Vec<String> {
    let n = &plan.node;
    let cluster = match &n.cluster {
        ClusterPlan::Create { name } => format!("creates cluster \"{name}\""),
        ClusterPlan::Join { peer, .. } => format!("joins the cluster of {peer}"),
    };
    let net = &plan.network;
    let addr = match &net.address {
        Address::Static(a) => a.to_string(),
        Address::FromDhcp => "from DHCP".to_string(),
    };
    let pools: Vec<String> = plan
        .pools
        .iter()
        .map(|p| {
            let keyword = p.vdevs.first().and_then(|v| v.kind.keyword());
            let kind = keyword.unwrap_or("stripe");
            let groups = if p.vdevs.len() > 1 && keyword.is_some() {
                format!("{} x {kind}", p.vdevs.len())
            } else {
                kind.to_string()
            };
            format!("{} ({groups}, {} device(s))", p.name, p.disks.len())
        })
        .collect();
    let mut lines = vec![
        format!("Node {} (node {}), {cluster}", n.fqdn(), n.number),
        format!(
            "Management {addr} on {} (bridge lan), WAN {}",
            net.management_nic,
            net.wan_nic.as_deref().unwrap_or("none")
        ),
        format!("Pools: {}", pools.join(", ")),
    ];
    for (i, line) in plan.snapshot_lines().into_iter().enumerate() {
        let label = if i == 0 { "Snapshots: " } else { "           " };
        lines.push(format!("{label}{line}"));
    }
    // Only a first node deploys the firewall (and the services).
    if let ClusterPlan::Create { .. } = &n.cluster {
        lines.push(match &plan.firewall {
            Some(fw) => format!(
                "Firewall: OPNsense VM {}, LAN {}, WAN {}",
                fw.vmid, fw.lan, fw.wan
            ),
            None => "Firewall: none".to_string(),
        });
    }
    lines.push(format!(
        "Services: {}",
        if plan.services.is_empty() {
            "none".to_string()
        } else {
            plan.services.join(", ")
        }
    ));
    lines
}

impl Summary {
    fn build(&mut self, ctx: &Context) {
        let mut items = Vec::new();
        let errored = |text: String| {
            let mut it = Item::note("");
            it.error = Some(text);
            it
        };
        match &self.plan {
            Some(Ok(plan)) => {
                items.push(Item::note("").with_detail(overview(plan)));
                for w in &plan.warnings {
                    items.push(errored(format!(
                        "warning: {}; what to do: {}",
                        w.message, w.hint
                    )));
                }
            }
            Some(Err(errors)) => {
                items.push(Item::note(
                    "The planner found problems; go back (Esc) and change what they name:",
                ));
                for e in errors {
                    let key = e.key.map(|k| format!("{k}: ")).unwrap_or_default();
                    items.push(errored(format!(
                        "{key}{}; what to do: {}",
                        e.message, e.hint
                    )));
                }
            }
            None => {}
        }
        self.save_item = items.len();
        items.push(Item::text("Save answer to", self.save_path.clone()));
        self.save_button = items.len();
        let mut save = Item::button("Save the answer file (passwords are written as <redacted>)");
        if let Some(s) = &self.saved {
            save.detail = vec![s.clone()];
        }
        items.push(save);
        self.view_button = items.len();
        items.push(Item::button("View the full plan"));
        if let Some(Ok(plan)) = &self.plan {
            let erased: Vec<_> = plan.disks_to_erase().collect();
            if erased.is_empty() {
                items.push(Item::note("No disk is erased."));
            } else {
                items.push(Item::note(format!(
                    "{} disk(s) will be ERASED, everything on them lost:",
                    erased.len()
                )));
                for d in erased {
                    // What is on it now only when there is something: an
                    // empty disk loses nothing.
                    let now = if !d.holds_data {
                        String::new()
                    } else {
                        format!("; now: {}", d.current_content)
                    };
                    items.push(Item::note("").with_detail(vec![format!(
                        "{} -> {}: {}, serial {}, {}{now}",
                        d.kernel_name,
                        d.role,
                        d.model.as_deref().unwrap_or("unknown model"),
                        d.serial.as_deref().unwrap_or("none"),
                        human_bytes(d.size_bytes),
                    )]));
                }
            }
        }
        self.confirm_item = items.len();
        items.push(Item::text(
            format!("Type {CONFIRM_WORD} to confirm"),
            TextField::new(""),
        ));
        self.install_button = items.len();
        items.push(Item::button(if ctx.dry_run {
            "Finish the dry run (print the plan, write nothing)"
        } else {
            "Erase these disks and install"
        }));
        self.form = Form::new(items, 20);
        self.form.focus_on(self.confirm_item);
    }

    fn save_text(&self) -> String {
        self.form.text(self.save_item).trim().to_string()
    }
}

impl Screen for Summary {
    fn title(&self) -> &'static str {
        "Summary"
    }

    fn keys(&self) -> &'static str {
        "Tab/Up/Down: move  Enter: confirm/press  Esc: back  Ctrl-C: quit"
    }

    fn enter(&mut self, ctx: &Context) {
        self.dry_run = ctx.dry_run;
        if self.save_item < self.form.items.len() {
            if let Some(f) = self.form.field_mut(self.save_item) {
                self.save_path = f.clone();
            }
        }
        // The plan is made afresh each time: what is confirmed is exactly
        // what the answer now says, and an earlier "yes" does not carry
        // over to a changed plan.
        self.plan = Some(tappaas_plan::plan(&ctx.machine, &ctx.answer, &ctx.env));
        self.build(ctx);
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &Context) -> Handled {
        let ok = matches!(self.plan, Some(Ok(_)));
        match self.form.handle_key(key) {
            FormEvent::Ignored => Handled::Ignored,
            FormEvent::Consumed | FormEvent::Changed(_) | FormEvent::Left(_) => Handled::Consumed,
            FormEvent::Pressed(i) if i == self.save_button => {
                let path = self.save_text();
                if path.is_empty() {
                    self.form.set_error(
                        self.save_item,
                        Some("give a file name, e.g. /root/answer.toml".into()),
                    );
                    Handled::Consumed
                } else {
                    self.form.set_error(self.save_item, None);
                    Handled::Msg(Msg::SaveAnswer { path })
                }
            }
            FormEvent::Pressed(i) if i == self.view_button => {
                if ok {
                    Handled::Msg(Msg::ShowPlan)
                } else {
                    self.form.set_error(
                        i,
                        Some("there is no plan while the problems above remain".into()),
                    );
                    Handled::Consumed
                }
            }
            FormEvent::Pressed(_) => {
                if !ok {
                    self.form.set_error(
                        self.install_button,
                        Some("the plan has problems (listed above): go back with Esc and change the answers they name".into()),
                    );
                    return Handled::Consumed;
                }
                if self.form.text(self.confirm_item).trim() != CONFIRM_WORD {
                    self.form.set_error(
                        self.confirm_item,
                        Some(format!(
                            "type {CONFIRM_WORD} to confirm that the disks listed above are erased"
                        )),
                    );
                    self.form.focus_on(self.confirm_item);
                    return Handled::Consumed;
                }
                self.form.set_error(self.confirm_item, None);
                Handled::Msg(Msg::Install)
            }
        }
    }

    fn receive(&mut self, reply: Reply) {
        if let Reply::Saved(result) = reply {
            match result {
                Ok(path) => {
                    let s = format!("saved to {path}; passwords are written as <redacted>: write them in before using it");
                    self.saved = Some(s.clone());
                    if let Some(it) = self.form.items.get_mut(self.save_button) {
                        it.detail = vec![s];
                        it.error = None;
                    }
                }
                Err(e) => self.form.set_error(self.save_button, Some(e)),
            }
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        self.form.render(area, buf, true);
    }
}

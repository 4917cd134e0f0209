//! Services to deploy at first boot, after the firewall: a checklist of
//! every known service, the base ones ticked. Without the firewall the
//! screen says that none of them will be deployed.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_answer::{Answer, Services as AnswerServices};

use super::{Handled, Msg, Screen};
use crate::context::Context;
use crate::form::{errors_for, Form, FormEvent, Item};

/// The note shown when the firewall screen said no; the services follow.
pub const NO_FIREWALL: usize = 0;
const FIRST_SERVICE: usize = 1;

#[derive(Debug)]
pub struct Services {
    pub form: Form,
}

impl Default for Services {
    fn default() -> Self {
        Self::new()
    }
}

impl Services {
    pub fn new() -> Self {
        let mut items = vec![Item::note("").with_detail(vec![
            "No firewall (previous screen): first boot deploys none of these, as they live in its zones. Esc goes back to it.".into(),
        ])];
        items.extend(AnswerServices::KNOWN.iter().map(|s| {
            let base = AnswerServices::BASE.contains(s);
            let label = if base {
                format!("{s} (base)")
            } else {
                s.to_string()
            };
            Item::check(label, base)
        }));
        items.push(Item::button("Next"));
        let mut form = Form::new(items, 0);
        form.set_visible(NO_FIREWALL, false);
        Services { form }
    }

    fn next_index(&self) -> usize {
        FIRST_SERVICE + AnswerServices::KNOWN.len()
    }

    pub fn chosen(&self) -> Vec<String> {
        AnswerServices::KNOWN
            .iter()
            .enumerate()
            .filter(|(i, _)| self.form.checked(FIRST_SERVICE + *i))
            .map(|(_, s)| s.to_string())
            .collect()
    }
}

impl Screen for Services {
    fn title(&self) -> &'static str {
        "Services"
    }

    fn keys(&self) -> &'static str {
        "Up/Down: move  Space: tick  End: Next  Esc: back"
    }

    fn enter(&mut self, ctx: &Context) {
        self.form
            .set_visible(NO_FIREWALL, !ctx.answer.firewall.deploy);
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled {
        match self.form.handle_key(key) {
            FormEvent::Ignored => Handled::Ignored,
            FormEvent::Consumed | FormEvent::Changed(_) | FormEvent::Left(_) => Handled::Consumed,
            FormEvent::Pressed(_) => {
                let errors = super::check(self, ctx);
                let e = errors_for(&errors, "services");
                let next = self.next_index();
                let blocked = e.is_some();
                self.form.set_error(next, e);
                if blocked {
                    Handled::Consumed
                } else {
                    Handled::Msg(Msg::Next)
                }
            }
        }
    }

    fn apply(&self, answer: &mut Answer) {
        answer.services.deploy = self.chosen();
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        self.form.render(area, buf, true);
    }
}

//! Services to deploy at first boot, after the firewall: a checklist of
//! every known service, the base ones ticked.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_answer::{Answer, Services as AnswerServices};

use super::{Handled, Msg, Screen};
use crate::context::Context;
use crate::form::{errors_for, Form, FormEvent, Item};

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
        let mut items: Vec<Item> = AnswerServices::KNOWN
            .iter()
            .map(|s| {
                let base = AnswerServices::BASE.contains(s);
                let label = if base {
                    format!("{s} (base)")
                } else {
                    s.to_string()
                };
                Item::check(label, base)
            })
            .collect();
        items.push(Item::button("Next"));
        Services {
            form: Form::new(items, 0),
        }
    }

    fn next_index(&self) -> usize {
        AnswerServices::KNOWN.len()
    }

    pub fn chosen(&self) -> Vec<String> {
        AnswerServices::KNOWN
            .iter()
            .enumerate()
            .filter(|(i, _)| self.form.checked(*i))
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

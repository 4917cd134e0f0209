//! Credentials and locale: the root password (twice), SSH keys, the
//! admin e-mail, time zone, keyboard and country.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_answer::{Answer, Secret, KEYBOARDS};

use super::{next_unless, FormScreen, Handled, Screen};
use crate::context::Context;
use crate::form::{errors_for, Choice, Form, FormEvent, Item, TextField};

pub const PASSWORD: usize = 0;
pub const PASSWORD2: usize = 1;
pub const KEY1: usize = 2;
pub const KEY2: usize = 3;
pub const MAIL: usize = 4;
pub const TIMEZONE: usize = 5;
pub const KEYBOARD: usize = 6;
pub const COUNTRY: usize = 7;
pub const NEXT: usize = 8;

const FIELDS: [usize; 8] = [
    PASSWORD, PASSWORD2, KEY1, KEY2, MAIL, TIMEZONE, KEYBOARD, COUNTRY,
];

#[derive(Debug)]
pub struct Credentials {
    pub form: Form,
}

impl Default for Credentials {
    fn default() -> Self {
        Self::new()
    }
}

impl Credentials {
    pub fn new() -> Self {
        let keyboards: Vec<String> = KEYBOARDS.iter().map(|k| k.to_string()).collect();
        let en_us = keyboards.iter().position(|k| k == "en-us").unwrap_or(0);
        let items = vec![
            Item::text("Root password", TextField::masked()),
            Item::text("Root password again", TextField::masked()),
            Item::text("SSH public key", TextField::new("")),
            Item::text("Another SSH key", TextField::new("")),
            Item::text("Admin e-mail", TextField::new("")),
            Item::text("Time zone", TextField::new("UTC")),
            Item::choice("Keyboard", Choice::new(keyboards, en_us)),
            Item::text("Country (ISO code)", TextField::new("us")),
            Item::button("Next"),
        ];
        Credentials {
            form: Form::new(items, 20),
        }
    }

    /// The SSH key fields that hold something, with their field index.
    fn keys(&self) -> Vec<(usize, String)> {
        [KEY1, KEY2]
            .into_iter()
            .map(|i| (i, self.form.text(i).trim().to_string()))
            .filter(|(_, k)| !k.is_empty())
            .collect()
    }
}

impl FormScreen for Credentials {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    fn field_error(&self, item: usize, errors: &[tappaas_answer::AnswerError]) -> Option<String> {
        match item {
            PASSWORD => errors_for(errors, "global.root-password"),
            PASSWORD2 => (self.form.text(PASSWORD) != self.form.text(PASSWORD2))
                .then(|| "the two passwords differ: type the same password twice".to_string()),
            KEY1 | KEY2 => {
                let n = self.keys().iter().position(|(i, _)| *i == item)?;
                errors_for(errors, &format!("global.root-ssh-keys[{n}]"))
            }
            MAIL => errors_for(errors, "global.mailto"),
            TIMEZONE => errors_for(errors, "global.timezone"),
            KEYBOARD => errors_for(errors, "global.keyboard"),
            COUNTRY => errors_for(errors, "global.country"),
            _ => None,
        }
    }
}

impl Screen for Credentials {
    fn title(&self) -> &'static str {
        "Credentials"
    }

    fn keys(&self) -> &'static str {
        "Tab/Up/Down: move  Left/Right: keyboard  Enter: confirm  Esc: back"
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled {
        match self.form.handle_key(key) {
            FormEvent::Ignored => Handled::Ignored,
            FormEvent::Consumed | FormEvent::Changed(_) => Handled::Consumed,
            FormEvent::Left(i) => {
                // The second password is checked when the first changes
                // too, so a fixed mismatch does not stay flagged.
                let also = if i == PASSWORD && !self.form.text(PASSWORD2).is_empty() {
                    vec![i, PASSWORD2]
                } else {
                    vec![i]
                };
                self.check_fields(ctx, &also);
                Handled::Consumed
            }
            FormEvent::Pressed(_) => {
                let any_error = self.check_fields(ctx, &FIELDS);
                next_unless(&mut self.form, any_error)
            }
        }
    }

    fn apply(&self, answer: &mut Answer) {
        let g = &mut answer.global;
        let pw = self.form.text(PASSWORD);
        g.root_password = (!pw.is_empty()).then(|| Secret::new(pw));
        g.root_password_hashed = None;
        g.root_ssh_keys = self.keys().into_iter().map(|(_, k)| k).collect();
        g.mailto = self.form.text(MAIL).trim().to_string();
        g.timezone = self.form.text(TIMEZONE).trim().to_string();
        g.keyboard = self.form.text(KEYBOARD).to_string();
        g.country = self.form.text(COUNTRY).trim().to_string();
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        self.form.render(area, buf, true);
    }
}

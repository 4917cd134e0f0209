//! Create a new cluster (the first node) or join an existing one.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};
use tappaas_answer::{Answer, ClusterAction};

use super::{Handled, Msg, Screen};
use crate::context::Context;
use crate::theme;

#[derive(Debug)]
pub struct Mode {
    pub action: ClusterAction,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            action: ClusterAction::Create,
        }
    }
}

const OPTIONS: [(ClusterAction, &str, &str); 2] = [
    (
        ClusterAction::Create,
        "Create a new TAPPaaS cluster",
        "This is the first node: it becomes tappaas1 and deploys the firewall and services.",
    ),
    (
        ClusterAction::Join,
        "Join an existing cluster",
        "Add this machine as another node; you need the address and root password of a node already in the cluster.",
    ),
];

impl Screen for Mode {
    fn title(&self) -> &'static str {
        "New cluster or join"
    }

    fn keys(&self) -> &'static str {
        "Up/Down: choose  Enter: confirm  Esc: back  Ctrl-C: quit"
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &Context) -> Handled {
        match key.code {
            KeyCode::Up | KeyCode::BackTab => self.action = ClusterAction::Create,
            KeyCode::Down | KeyCode::Tab => self.action = ClusterAction::Join,
            KeyCode::Char('c') => self.action = ClusterAction::Create,
            KeyCode::Char('j') => self.action = ClusterAction::Join,
            KeyCode::Enter | KeyCode::Char(' ') => return Handled::Msg(Msg::Next),
            _ => return Handled::Ignored,
        }
        Handled::Consumed
    }

    fn apply(&self, answer: &mut Answer) {
        if answer.cluster.action != self.action {
            answer.cluster.action = self.action;
            // The convention: the first node is tappaas1; a joining node
            // is at least the second (the network screen can change it).
            answer.node.number = match self.action {
                ClusterAction::Create => 1,
                ClusterAction::Join => answer.node.number.max(2),
            };
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        let mut lines = vec![
            Line::raw(
                "Is this the first node of a new cluster, or another node for an existing one?",
            ),
            Line::raw(""),
        ];
        for (action, label, help) in OPTIONS {
            let chosen = action == self.action;
            let text = format!(
                "{} ({}) {label}",
                if chosen { ">" } else { " " },
                if chosen { "*" } else { " " }
            );
            lines.push(if chosen {
                Line::styled(text, theme::focused())
            } else {
                Line::raw(text)
            });
            for l in crate::form::wrap(help, usize::from(area.width).saturating_sub(7)) {
                lines.push(Line::raw(format!("      {l}")));
            }
            lines.push(Line::raw(""));
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }
}

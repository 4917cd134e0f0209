//! The first screen: what this is and what will happen.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{Handled, Msg, Screen};
use crate::context::Context;
use crate::theme;

#[derive(Debug, Default)]
pub struct Welcome;

impl Screen for Welcome {
    fn title(&self) -> &'static str {
        "Welcome"
    }

    fn keys(&self) -> &'static str {
        "Enter: start  Ctrl-C: quit"
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &Context) -> Handled {
        match key.code {
            KeyCode::Enter => Handled::Msg(Msg::Next),
            // Nothing to go back to.
            KeyCode::Esc => Handled::Consumed,
            _ => Handled::Ignored,
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, ctx: &Context) {
        let mut lines = vec![
            Line::styled(ctx.banner.clone(), theme::heading()),
            Line::raw(""),
            Line::raw("This installs a TAPPaaS node: Proxmox VE on ZFS, with the data pools"),
            Line::raw("tank1 (redundant) and tank2 (not redundant), the bridges lan and wan,"),
            Line::raw("and a first boot that creates or joins the cluster and deploys the"),
            Line::raw("firewall and the services."),
            Line::raw(""),
            Line::raw("What will happen:"),
            Line::raw(" 1. You choose: a new cluster, or join an existing one."),
            Line::raw(" 2. The hardware check shows what was found."),
            Line::raw(" 3. You choose the disks, the network, the credentials, the services."),
            Line::raw(" 4. The summary lists every disk that will be erased. Nothing is"),
            Line::raw("    written before you confirm there."),
        ];
        if ctx.dry_run {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "! Dry run: this machine is a recording; the wizard ends with the plan.",
                theme::warning(),
            ));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("> [ Start ]", theme::focused()));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }
}

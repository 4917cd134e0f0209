//! The whole plan as `tappaas-installer plan` prints it, scrollable.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use tappaas_plan::Plan;

use super::{Handled, Screen};
use crate::context::Context;

#[derive(Debug, Default)]
pub struct PlanView {
    pub lines: Vec<String>,
    pub scroll: usize,
    /// Rows per PgUp/PgDn: what an 80x24 screen shows of the plan.
    page: usize,
}

impl PlanView {
    pub fn new(plan: &Plan) -> Self {
        PlanView {
            // Tabs (in the files' contents) would be drawn as one cell.
            lines: tappaas_plan::render_text(plan)
                .lines()
                .map(|l| l.replace('\t', "    "))
                .collect(),
            scroll: 0,
            page: 18,
        }
    }

    /// Scrolls to the first line that contains `text`, for tests and for
    /// a person looking for a disk.
    pub fn find(&mut self, text: &str) -> bool {
        match self.lines.iter().position(|l| l.contains(text)) {
            Some(i) => {
                self.scroll = i;
                true
            }
            None => false,
        }
    }
}

impl Screen for PlanView {
    fn title(&self) -> &'static str {
        "The full plan"
    }

    fn keys(&self) -> &'static str {
        "Up/Down/PgUp/PgDn/Home/End: scroll  Esc: back to the summary"
    }

    fn handle_key(&mut self, key: KeyEvent, _ctx: &Context) -> Handled {
        let max = self.lines.len().saturating_sub(1);
        let page = self.page.max(1);
        self.scroll = match key.code {
            KeyCode::Up => self.scroll.saturating_sub(1),
            KeyCode::Down => self.scroll + 1,
            KeyCode::PageUp => self.scroll.saturating_sub(page),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll + page,
            KeyCode::Home => 0,
            KeyCode::End => max,
            _ => return Handled::Ignored,
        }
        .min(max);
        Handled::Consumed
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        let h = usize::from(area.height);
        let total = self.lines.len();
        let end = (self.scroll + h.saturating_sub(1)).min(total);
        let mut lines: Vec<Line> = self.lines[self.scroll.min(total)..end]
            .iter()
            .map(|l| Line::raw(l.clone()))
            .collect();
        while lines.len() < h.saturating_sub(1) {
            lines.push(Line::raw(""));
        }
        lines.push(Line::raw(format!(
            "-- lines {}-{} of {total} --",
            (self.scroll + 1).min(total),
            end
        )));
        Paragraph::new(lines).render(area, buf);
    }
}

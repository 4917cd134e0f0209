//! The install stopped: the failing command, its exit status and the end
//! of its output, and what the user can do about it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use tappaas_exec::CommandFailure;

use crate::form::wrap;
use crate::theme;

/// What the user chose on the failure screen; the caller acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureChoice {
    /// Run the failed step again (the journal keeps the ones before it).
    Retry,
    /// A root shell on this console, to look and repair.
    Shell,
    /// Write the install log to a file (a USB stick, say).
    SaveLogs,
}

pub const CHOICES: [(FailureChoice, &str); 3] = [
    (FailureChoice::Retry, "Retry the step"),
    (FailureChoice::Shell, "Open a shell"),
    (FailureChoice::SaveLogs, "Save the logs"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub index: usize,
    pub step_title: String,
    pub failure: CommandFailure,
    pub selected: usize,
    /// A line from the caller, e.g. where the logs were saved.
    pub status: Option<String>,
}

impl Failure {
    pub fn new(index: usize, step_title: String, failure: CommandFailure) -> Self {
        Failure {
            index,
            step_title,
            failure,
            selected: 0,
            status: None,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Option<FailureChoice> {
        let n = CHOICES.len();
        match key.code {
            KeyCode::Left | KeyCode::Up | KeyCode::BackTab => {
                self.selected = (self.selected + n - 1) % n;
            }
            KeyCode::Right | KeyCode::Down | KeyCode::Tab => {
                self.selected = (self.selected + 1) % n
            }
            KeyCode::Char('r') => return Some(FailureChoice::Retry),
            KeyCode::Char('s') => return Some(FailureChoice::Shell),
            KeyCode::Char('l') => return Some(FailureChoice::SaveLogs),
            KeyCode::Enter | KeyCode::Char(' ') => {
                return CHOICES.get(self.selected).map(|(c, _)| *c);
            }
            _ => {}
        }
        None
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let width = usize::from(area.width);
        let f = &self.failure;
        let status = match f.status {
            Some(code) => format!("exit status {code}"),
            None => "no exit status (it did not start, or a signal killed it)".to_string(),
        };
        let mut lines = vec![Line::styled(
            format!("! Step {} failed: {}", self.index + 1, self.step_title),
            theme::error(),
        )];
        for l in wrap(&format!("Command: {}", f.what), width) {
            lines.push(Line::raw(l));
        }
        lines.push(Line::raw(format!("Result: {status}")));
        for l in wrap(&format!("Why: {}", f.message), width) {
            lines.push(Line::raw(l));
        }
        lines.push(Line::raw(
            "Nothing after this step ran. The end of its output:",
        ));
        let mut choices = vec![Span::raw(" ")];
        for (i, (_, label)) in CHOICES.iter().enumerate() {
            let chosen = i == self.selected;
            let text = format!("{}[ {label} ]", if chosen { ">" } else { " " });
            choices.push(if chosen {
                Span::styled(text, theme::focused())
            } else {
                Span::raw(text)
            });
            choices.push(Span::raw(" "));
        }
        // The tail gets what is left, keeping its last lines.
        let reserved = lines.len() + 2 + usize::from(self.status.is_some());
        let room = usize::from(area.height).saturating_sub(reserved);
        let tail: Vec<&String> = f.output_tail.iter().collect();
        let skip = tail.len().saturating_sub(room);
        for l in &tail[skip..] {
            lines.push(Line::raw(format!("  | {l}")));
        }
        lines.push(Line::raw(""));
        lines.push(Line::from(choices));
        if let Some(s) = &self.status {
            lines.push(Line::raw(s.clone()));
        }
        Paragraph::new(lines).render(area, buf);
    }
}

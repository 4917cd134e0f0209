//! An install that stopped before its end was found: continue it, or start
//! over with the plan just confirmed.

use std::io;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::app::Tui;
use crate::form::wrap;
use crate::keys::{Crossterm, Keys};
use crate::theme::{self, Charset};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeChoice {
    /// Continue the interrupted install where it stopped (its plan).
    Resume,
    /// Forget it and install the plan just confirmed, from its start.
    StartOver,
}

pub const CHOICES: [(ResumeChoice, &str); 2] = [
    (ResumeChoice::Resume, "Resume the interrupted install"),
    (ResumeChoice::StartOver, "Start over"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeOffer {
    /// What was found, in words (the engine's description).
    pub found: String,
    pub selected: usize,
}

impl ResumeOffer {
    pub fn new(found: impl Into<String>) -> Self {
        ResumeOffer {
            found: found.into(),
            selected: 0,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Option<ResumeChoice> {
        let n = CHOICES.len();
        match key.code {
            KeyCode::Left | KeyCode::Up | KeyCode::BackTab => {
                self.selected = (self.selected + n - 1) % n;
            }
            KeyCode::Right | KeyCode::Down | KeyCode::Tab => {
                self.selected = (self.selected + 1) % n;
            }
            KeyCode::Char('r') => return Some(ResumeChoice::Resume),
            KeyCode::Char('s') => return Some(ResumeChoice::StartOver),
            KeyCode::Enter | KeyCode::Char(' ') => {
                return CHOICES.get(self.selected).map(|(c, _)| *c);
            }
            _ => {}
        }
        None
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let width = usize::from(area.width);
        let mut lines = vec![Line::styled(
            "An install on these disks stopped before its end",
            theme::heading(),
        )];
        lines.push(Line::raw(""));
        for l in wrap(&self.found, width) {
            lines.push(Line::raw(l));
        }
        lines.push(Line::raw(""));
        for l in wrap(
            "Resume continues with the steps that did not finish (the ones done are not run again). Start over installs the plan you just confirmed from its first step: the disks are erased again.",
            width,
        ) {
            lines.push(Line::raw(l));
        }
        lines.push(Line::raw(""));
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
        lines.push(Line::from(choices));
        Paragraph::new(lines).render(area, buf);
    }
}

/// Show the offer until a choice is made.
pub fn ask(tui: &mut Tui, offer: &mut ResumeOffer, charset: Charset) -> io::Result<ResumeChoice> {
    let mut keys = Keys::new(Crossterm);
    loop {
        tui.terminal.draw(|f| {
            let area = f.area();
            let buf = f.buffer_mut();
            let block = Block::default()
                .borders(Borders::ALL)
                .border_set(charset.border());
            let inner = block.inner(area);
            block.render(area, buf);
            offer.render(inner, buf);
            charset.sanitise(buf);
        })?;
        if let Some(key) = keys.next(Some(Duration::from_millis(500)))? {
            if let Some(choice) = offer.handle_key(key) {
                return Ok(choice);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn offers_resume_first_and_start_over_on_the_second_choice() {
        let mut o =
            ResumeOffer::new("An install of tappaas1.home.lan stopped after 6 of 10 steps.");
        assert_eq!(
            o.handle_key(key(KeyCode::Enter)),
            Some(ResumeChoice::Resume)
        );
        assert_eq!(o.handle_key(key(KeyCode::Right)), None);
        assert_eq!(
            o.handle_key(key(KeyCode::Enter)),
            Some(ResumeChoice::StartOver)
        );
        assert_eq!(
            o.handle_key(key(KeyCode::Char('r'))),
            Some(ResumeChoice::Resume)
        );

        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        o.render(area, &mut buf);
        let text: String = (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    + "\n"
            })
            .collect();
        assert!(text.contains("stopped after 6 of 10 steps"), "{text}");
        assert!(
            text.contains("[ Resume the interrupted install ]"),
            "{text}"
        );
        assert!(
            text.contains(">[ Start over ]"),
            "the chosen one is marked: {text}"
        );
    }
}

//! Keys from the terminal, with escape sequences put back together.
//!
//! Over a serial line the bytes of an arrow key (`ESC [ C`) can arrive in
//! separate reads; crossterm then reports Esc, '[' and 'C' as three keys,
//! and Esc would take the wizard a screen back. A lone Esc is therefore
//! held for a moment: if '[' or 'O' and the rest of a known sequence follow
//! at once, they are one key.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// How long the rest of a sequence may take after its Esc. At 9600 baud a
/// byte takes about 1 ms; people do not type Esc and '[' this fast.
pub const SEQUENCE_GAP: Duration = Duration::from_millis(60);

/// Where keys come from: `None` when none came within `timeout` (`None`
/// timeout: wait as long as it takes).
pub trait KeySource {
    fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<KeyEvent>>;
}

/// The terminal, through crossterm. Events that are not key presses (a
/// resize, a key release) come back as `None`, so the caller redraws.
pub struct Crossterm;

impl KeySource for Crossterm {
    fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<KeyEvent>> {
        if let Some(t) = timeout {
            if !event::poll(t)? {
                return Ok(None);
            }
        }
        Ok(match event::read()? {
            // Some terminals report releases too; act once per key.
            TermEvent::Key(k) if k.kind != KeyEventKind::Release => Some(k),
            _ => None,
        })
    }
}

/// Keys with split escape sequences joined again.
pub struct Keys<S> {
    source: S,
    pending: VecDeque<KeyEvent>,
}

impl<S: KeySource> Keys<S> {
    pub fn new(source: S) -> Self {
        Keys {
            source,
            pending: VecDeque::new(),
        }
    }

    pub fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<KeyEvent>> {
        if let Some(k) = self.pending.pop_front() {
            return Ok(Some(k));
        }
        let Some(first) = self.source.next(timeout)? else {
            return Ok(None);
        };
        if first.code != KeyCode::Esc || !first.modifiers.is_empty() {
            return Ok(Some(first));
        }
        // An Esc: is it the start of a sequence that came apart?
        let mut seen: Vec<KeyEvent> = Vec::new();
        while seen.len() < 6 {
            let Some(k) = self.source.next(Some(SEQUENCE_GAP))? else {
                break;
            };
            let KeyCode::Char(c) = k.code else {
                seen.push(k);
                break;
            };
            seen.push(k);
            let chars: String = seen
                .iter()
                .filter_map(|k| match k.code {
                    KeyCode::Char(c) => Some(c),
                    _ => None,
                })
                .collect();
            if let Some(code) = sequence(&chars) {
                return Ok(Some(key(code)));
            }
            if !could_continue(&chars) || c == '~' {
                break;
            }
        }
        // A real Esc, then whatever came after it.
        self.pending.extend(seen);
        Ok(Some(first))
    }
}

fn key(code: KeyCode) -> KeyEvent {
    let modifiers = if code == KeyCode::BackTab {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(code, modifiers)
}

/// The key an escape sequence (without its Esc) stands for, once complete.
fn sequence(s: &str) -> Option<KeyCode> {
    let body = s.strip_prefix('[').or_else(|| s.strip_prefix('O'))?;
    Some(match body {
        "A" => KeyCode::Up,
        "B" => KeyCode::Down,
        "C" => KeyCode::Right,
        "D" => KeyCode::Left,
        "H" | "1~" | "7~" => KeyCode::Home,
        "F" | "4~" | "8~" => KeyCode::End,
        "Z" if s.starts_with('[') => KeyCode::BackTab,
        "2~" => KeyCode::Insert,
        "3~" => KeyCode::Delete,
        "5~" => KeyCode::PageUp,
        "6~" => KeyCode::PageDown,
        _ => return None,
    })
}

/// Whether more characters could still make `s` a known sequence.
fn could_continue(s: &str) -> bool {
    match s.strip_prefix('[') {
        Some(rest) => rest.chars().all(|c| c.is_ascii_digit()) && rest.len() < 2,
        None => s == "O",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scripted keys; `None` is a pause longer than the sequence gap.
    struct Script(VecDeque<Option<KeyEvent>>);

    impl KeySource for Script {
        fn next(&mut self, _timeout: Option<Duration>) -> io::Result<Option<KeyEvent>> {
            Ok(self.0.pop_front().flatten())
        }
    }

    fn c(ch: char) -> Option<KeyEvent> {
        Some(KeyEvent::new(KeyCode::Char(ch), KeyModifiers::NONE))
    }

    fn esc() -> Option<KeyEvent> {
        Some(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE))
    }

    fn all(script: Vec<Option<KeyEvent>>) -> Vec<KeyCode> {
        let mut keys = Keys::new(Script(script.into()));
        let mut out = Vec::new();
        while let Some(k) = keys.next(Some(Duration::ZERO)).expect("scripted") {
            out.push(k.code);
        }
        out
    }

    #[test]
    fn split_arrows_and_shift_tab_are_one_key() {
        assert_eq!(all(vec![esc(), c('['), c('C')]), vec![KeyCode::Right]);
        assert_eq!(all(vec![esc(), c('O'), c('A')]), vec![KeyCode::Up]);
        assert_eq!(all(vec![esc(), c('['), c('Z')]), vec![KeyCode::BackTab]);
        assert_eq!(
            all(vec![
                esc(),
                c('['),
                c('5'),
                c('~'),
                esc(),
                c('['),
                c('6'),
                c('~')
            ]),
            vec![KeyCode::PageUp, KeyCode::PageDown]
        );
    }

    #[test]
    fn a_lone_esc_stays_esc_and_what_follows_is_kept() {
        assert_eq!(all(vec![esc()]), vec![KeyCode::Esc]);
        // A pause after Esc: the user pressed Esc, then typed.
        assert_eq!(
            all(vec![esc(), None, c('['), c('C')]),
            vec![KeyCode::Esc, KeyCode::Char('['), KeyCode::Char('C')]
        );
        assert_eq!(
            all(vec![esc(), c('x'), c('y')]),
            vec![KeyCode::Esc, KeyCode::Char('x'), KeyCode::Char('y')]
        );
        // '[' then something that is no sequence: every key, in order.
        assert_eq!(
            all(vec![esc(), c('['), c('q')]),
            vec![KeyCode::Esc, KeyCode::Char('['), KeyCode::Char('q')]
        );
    }

    #[test]
    fn whole_keys_pass_through() {
        let tab = Some(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
        assert_eq!(
            all(vec![tab, c('a')]),
            vec![KeyCode::Tab, KeyCode::Char('a')]
        );
    }
}

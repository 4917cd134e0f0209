//! The form every input screen is made of: a column of items (text
//! fields, choices, check boxes, buttons, notes), one of which has the
//! focus. Keys move the focus or edit the focused item; the screen learns
//! what happened (a field was left, a button pressed) and decides.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::theme;

/// A line of text the user types. Masked fields show `*` per character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextField {
    pub value: String,
    /// Cursor position in characters.
    pub cursor: usize,
    pub masked: bool,
    /// The user typed in it: defaults computed from other fields no longer
    /// replace its value.
    pub edited: bool,
}

impl TextField {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        TextField {
            cursor: value.chars().count(),
            value,
            masked: false,
            edited: false,
        }
    }

    pub fn masked() -> Self {
        TextField {
            masked: true,
            ..TextField::default()
        }
    }

    /// Replaces the value unless the user has typed in the field.
    pub fn set_default(&mut self, value: impl Into<String>) {
        if !self.edited {
            self.value = value.into();
            self.cursor = self.value.chars().count();
        }
    }

    pub fn text(&self) -> &str {
        &self.value
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.value
            .char_indices()
            .nth(chars)
            .map(|(i, _)| i)
            .unwrap_or(self.value.len())
    }

    /// Edits the text; false when the key is not an editing key.
    fn handle_key(&mut self, key: KeyEvent) -> bool {
        let len = self.value.chars().count();
        match key.code {
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.value.clear();
                self.cursor = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                let at = self.byte_at(self.cursor);
                self.value.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.value.remove(at);
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.value.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        self.edited = true;
        true
    }

    /// What is shown in `width` columns: the end of a long value near the
    /// cursor, with the cursor as a `_` when focused.
    fn shown(&self, width: usize, focused: bool) -> String {
        let chars: Vec<char> = if self.masked {
            vec!['*'; self.value.chars().count()]
        } else {
            self.value.chars().collect()
        };
        let mut text: Vec<char> = chars.clone();
        if focused {
            // A visible cursor that needs no terminal support: the cell
            // after the text, or the character under the cursor, underlined
            // would be colour-like; `_` at the end is enough for a line
            // editor whose cursor is usually at the end.
            if self.cursor >= chars.len() {
                text.push('_');
            }
        }
        let width = width.max(1);
        if text.len() <= width {
            return text.into_iter().collect();
        }
        // Keep the cursor visible: show the window that ends at it.
        let end = (self.cursor + 1).clamp(width, text.len());
        let start = end - width;
        let mut s: String = text[start..end].iter().collect();
        if start > 0 {
            s.replace_range(0..1, "<");
        }
        s
    }
}

/// One of a fixed list of values, changed with Left/Right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub options: Vec<String>,
    pub selected: usize,
}

impl Choice {
    pub fn new(options: Vec<String>, selected: usize) -> Self {
        Choice { options, selected }
    }

    pub fn value(&self) -> &str {
        self.options
            .get(self.selected)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Selects option `index` (a screen keeps its typed values in the
    /// options' order and decides by the index, never by the text).
    pub fn select_at(&mut self, index: usize) {
        if index < self.options.len() {
            self.selected = index;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Text(TextField),
    Choice(Choice),
    Check(bool),
    Button,
    /// Shown, never focused.
    Note,
}

/// One row of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub label: String,
    pub kind: Kind,
    /// Lines shown under the item (a disk's model and serial).
    pub detail: Vec<String>,
    /// Why the value is not acceptable, shown under it with `!`.
    pub error: Option<String>,
    pub visible: bool,
    /// Shown but cannot take the focus (the installer medium).
    pub disabled: bool,
}

impl Item {
    fn new(label: impl Into<String>, kind: Kind) -> Self {
        Item {
            label: label.into(),
            kind,
            detail: Vec::new(),
            error: None,
            visible: true,
            disabled: false,
        }
    }

    pub fn text(label: impl Into<String>, field: TextField) -> Self {
        Item::new(label, Kind::Text(field))
    }

    pub fn choice(label: impl Into<String>, choice: Choice) -> Self {
        Item::new(label, Kind::Choice(choice))
    }

    pub fn check(label: impl Into<String>, checked: bool) -> Self {
        Item::new(label, Kind::Check(checked))
    }

    pub fn button(label: impl Into<String>) -> Self {
        Item::new(label, Kind::Button)
    }

    pub fn note(label: impl Into<String>) -> Self {
        Item::new(label, Kind::Note)
    }

    pub fn with_detail(mut self, detail: Vec<String>) -> Self {
        self.detail = detail;
        self
    }

    fn focusable(&self) -> bool {
        self.visible && !self.disabled && self.kind != Kind::Note
    }
}

/// What a key did to the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormEvent {
    /// Not a key for the form (Esc, or Enter/arrows with nowhere to go).
    Ignored,
    /// Handled inside the focused item or a no-op.
    Consumed,
    /// The value of this item changed.
    Changed(usize),
    /// The focus left this item (check it now).
    Left(usize),
    /// Enter or Space on this button.
    Pressed(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    pub items: Vec<Item>,
    pub focus: usize,
    /// Width of the label column.
    pub label_width: usize,
}

impl Form {
    pub fn new(items: Vec<Item>, label_width: usize) -> Self {
        let mut f = Form {
            items,
            focus: 0,
            label_width,
        };
        f.focus_first();
        f
    }

    pub fn focus_first(&mut self) {
        if let Some(i) = self.items.iter().position(Item::focusable) {
            self.focus = i;
        }
    }

    pub fn item(&self, i: usize) -> Option<&Item> {
        self.items.get(i)
    }

    pub fn text(&self, i: usize) -> &str {
        match self.items.get(i).map(|it| &it.kind) {
            Some(Kind::Text(t)) => t.text(),
            Some(Kind::Choice(c)) => c.value(),
            _ => "",
        }
    }

    pub fn field_mut(&mut self, i: usize) -> Option<&mut TextField> {
        match self.items.get_mut(i).map(|it| &mut it.kind) {
            Some(Kind::Text(t)) => Some(t),
            _ => None,
        }
    }

    pub fn choice(&self, i: usize) -> Option<&Choice> {
        match self.items.get(i).map(|it| &it.kind) {
            Some(Kind::Choice(c)) => Some(c),
            _ => None,
        }
    }

    /// The index of the option chosen in choice item `i`.
    pub fn selected(&self, i: usize) -> Option<usize> {
        match self.items.get(i).map(|it| &it.kind) {
            Some(Kind::Choice(c)) => Some(c.selected),
            _ => None,
        }
    }

    /// `values[i]` for the option chosen in choice item `item`, whose
    /// options were made from `values` in that order.
    pub fn chosen<T: Copy>(&self, item: usize, values: &[T]) -> Option<T> {
        self.selected(item).and_then(|i| values.get(i).copied())
    }

    pub fn choice_mut(&mut self, i: usize) -> Option<&mut Choice> {
        match self.items.get_mut(i).map(|it| &mut it.kind) {
            Some(Kind::Choice(c)) => Some(c),
            _ => None,
        }
    }

    pub fn checked(&self, i: usize) -> bool {
        matches!(
            self.items.get(i).map(|it| &it.kind),
            Some(Kind::Check(true))
        )
    }

    pub fn set_checked(&mut self, i: usize, value: bool) {
        if let Some(Kind::Check(c)) = self.items.get_mut(i).map(|it| &mut it.kind) {
            *c = value;
        }
    }

    pub fn set_error(&mut self, i: usize, error: Option<String>) {
        if let Some(it) = self.items.get_mut(i) {
            it.error = error;
        }
    }

    pub fn error(&self, i: usize) -> Option<&str> {
        self.items.get(i).and_then(|it| it.error.as_deref())
    }

    pub fn set_visible(&mut self, i: usize, visible: bool) {
        if let Some(it) = self.items.get_mut(i) {
            it.visible = visible;
            if !visible {
                it.error = None;
            }
        }
        if !self.items.get(self.focus).is_some_and(Item::focusable) {
            self.focus_first();
        }
    }

    /// Moves the focus to item `i` if it can take it.
    pub fn focus_on(&mut self, i: usize) {
        if self.items.get(i).is_some_and(Item::focusable) {
            self.focus = i;
        }
    }

    /// The first visible item with an error.
    pub fn first_error(&self) -> Option<usize> {
        self.items
            .iter()
            .position(|it| it.visible && it.error.is_some())
    }

    fn step(&mut self, forward: bool) -> bool {
        let n = self.items.len();
        let mut i = self.focus;
        for _ in 0..n {
            i = if forward {
                i + 1
            } else {
                match i.checked_sub(1) {
                    Some(j) => j,
                    None => return false,
                }
            };
            if i >= n {
                return false;
            }
            if self.items[i].focusable() {
                self.focus = i;
                return true;
            }
        }
        false
    }

    /// Moves the focus; reports the item that was left.
    fn move_focus(&mut self, forward: bool) -> FormEvent {
        let left = self.focus;
        if self.step(forward) {
            FormEvent::Left(left)
        } else {
            FormEvent::Consumed
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> FormEvent {
        let focus = self.focus;
        let Some(item) = self.items.get_mut(focus) else {
            return FormEvent::Ignored;
        };
        match (&mut item.kind, key.code) {
            (_, KeyCode::Esc) => FormEvent::Ignored,
            (_, KeyCode::Tab | KeyCode::Down) => self.move_focus(true),
            (_, KeyCode::BackTab | KeyCode::Up) => self.move_focus(false),
            // Outside a text field (where they move the cursor), Home and
            // End jump to the first item and to the last (the Next button).
            (Kind::Check(_) | Kind::Choice(_) | Kind::Button, KeyCode::Home) => {
                let left = self.focus;
                self.focus_first();
                if self.focus == left {
                    FormEvent::Consumed
                } else {
                    FormEvent::Left(left)
                }
            }
            (Kind::Check(_) | Kind::Choice(_) | Kind::Button, KeyCode::End) => {
                let left = self.focus;
                while self.step(true) {}
                if self.focus == left {
                    FormEvent::Consumed
                } else {
                    FormEvent::Left(left)
                }
            }
            (Kind::Button, KeyCode::Enter | KeyCode::Char(' ')) => FormEvent::Pressed(focus),
            (_, KeyCode::Enter) => {
                // Enter confirms the field: it is checked like any field
                // that is left, and the next one takes the focus.
                let left = self.move_focus(true);
                if left == FormEvent::Consumed {
                    FormEvent::Left(focus)
                } else {
                    left
                }
            }
            (Kind::Check(c), KeyCode::Char(' ')) => {
                *c = !*c;
                FormEvent::Changed(focus)
            }
            (Kind::Choice(ch), KeyCode::Left | KeyCode::Right | KeyCode::Char(' ')) => {
                let n = ch.options.len().max(1);
                ch.selected = if key.code == KeyCode::Left {
                    (ch.selected + n - 1) % n
                } else {
                    (ch.selected + 1) % n
                };
                FormEvent::Changed(focus)
            }
            (Kind::Text(t), _) => {
                if t.handle_key(key) {
                    FormEvent::Changed(focus)
                } else {
                    FormEvent::Ignored
                }
            }
            _ => FormEvent::Ignored,
        }
    }

    /// The form as lines, and the range of lines of the focused item, so a
    /// caller can scroll it into view.
    pub fn lines(&self, width: u16, has_focus: bool) -> (Vec<Line<'static>>, (usize, usize)) {
        let width = usize::from(width);
        let mut out = Vec::new();
        let mut focus_range = (0, 0);
        for (i, item) in self.items.iter().enumerate() {
            if !item.visible {
                continue;
            }
            let start = out.len();
            let focused = has_focus && i == self.focus;
            let marker = if focused { "> " } else { "  " };
            let style = if focused {
                theme::focused()
            } else if item.disabled {
                theme::dim()
            } else {
                Style::new()
            };
            let label = format!("{:<w$}", item.label, w = self.label_width);
            let value_width = width.saturating_sub(2 + label.chars().count() + 1);
            let line = match &item.kind {
                Kind::Text(t) => Line::from(vec![
                    Span::raw(marker),
                    Span::raw(label),
                    Span::raw(" "),
                    Span::styled(t.shown(value_width, focused), style),
                ]),
                Kind::Choice(c) => Line::from(vec![
                    Span::raw(marker),
                    Span::raw(label),
                    Span::raw(" "),
                    Span::styled(format!("< {} >", c.value()), style),
                ]),
                Kind::Check(checked) => Line::from(vec![
                    Span::raw(marker),
                    Span::styled(
                        format!("[{}] {}", if *checked { "x" } else { " " }, item.label),
                        style,
                    ),
                ]),
                Kind::Button => Line::from(vec![
                    Span::raw(marker),
                    Span::styled(format!("[ {} ]", item.label), style),
                ]),
                Kind::Note => Line::from(vec![
                    Span::raw("  "),
                    Span::styled(item.label.clone(), style),
                ]),
            };
            // A note without a label carries only its detail or error.
            if !(item.kind == Kind::Note && item.label.is_empty()) {
                out.push(line);
            }
            let detail_style = if item.disabled {
                theme::dim()
            } else {
                Style::new()
            };
            for d in &item.detail {
                for l in wrap(d, width.saturating_sub(6).max(20)) {
                    out.push(Line::from(Span::styled(format!("      {l}"), detail_style)));
                }
            }
            if let Some(e) = &item.error {
                for l in wrap(&format!("! {e}"), width.saturating_sub(4).max(20)) {
                    out.push(Line::from(Span::styled(format!("    {l}"), theme::error())));
                }
            }
            if i == self.focus {
                focus_range = (start, out.len());
            }
        }
        (out, focus_range)
    }

    /// Draws the form, scrolled so that the focused item is visible.
    pub fn render(&self, area: Rect, buf: &mut Buffer, has_focus: bool) {
        let (lines, (start, end)) = self.lines(area.width, has_focus);
        let height = usize::from(area.height);
        let scroll = scroll_for(start, end, lines.len(), height);
        Paragraph::new(lines)
            .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0))
            .render(area, buf);
    }
}

/// The first line to show so that lines `start..end` are visible in
/// `height` rows, preferring to show the top of the form.
pub fn scroll_for(start: usize, end: usize, total: usize, height: usize) -> usize {
    if total <= height || end <= height {
        return 0;
    }
    let s = end.saturating_sub(height);
    s.min(start)
}

/// Greedy word wrap to `width` columns (long words are cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let wl = word.chars().count();
        let cl = cur.chars().count();
        if cl > 0 && cl + 1 + wl > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        while cur.chars().count() > width {
            let head: String = cur.chars().take(width).collect();
            let tail: String = cur.chars().skip(width).collect();
            lines.push(head);
            cur = tail;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Whether an answer key (`network.cidr`, `tank1.disk-list[2]`) is `key`
/// or lies under it.
pub fn key_under(error_key: &str, key: &str) -> bool {
    error_key == key
        || error_key
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The messages of `validate` for the keys under `key`, joined.
pub fn errors_for(errors: &[tappaas_answer::AnswerError], key: &str) -> Option<String> {
    let msgs: Vec<&str> = errors
        .iter()
        .filter(|e| key_under(&e.key, key))
        .map(|e| e.message.as_str())
        .collect();
    if msgs.is_empty() {
        None
    } else {
        Some(msgs.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_words() {
        assert_eq!(wrap("aaa bbb ccc", 8), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("", 8), vec![""]);
        assert_eq!(wrap("abcdefghijkl", 8), vec!["abcdefgh", "ijkl"]);
    }

    #[test]
    fn keys_under() {
        assert!(key_under("network.cidr", "network.cidr"));
        assert!(key_under("tank1.disk-list[2]", "tank1"));
        assert!(key_under("global.root-ssh-keys[0]", "global.root-ssh-keys"));
        assert!(!key_under(
            "global.root-password-hashed",
            "global.root-password"
        ));
    }

    #[test]
    fn text_field_edits_at_the_cursor() {
        let mut t = TextField::new("ac");
        t.handle_key(KeyEvent::from(KeyCode::Left));
        t.handle_key(KeyEvent::from(KeyCode::Char('b')));
        assert_eq!(t.text(), "abc");
        t.handle_key(KeyEvent::from(KeyCode::Backspace));
        assert_eq!(t.text(), "ac");
        assert!(t.edited);
        t.set_default("zz");
        assert_eq!(t.text(), "ac");
    }

    #[test]
    fn home_and_end_jump_outside_text_fields() {
        let mut f = Form::new(
            vec![
                Item::check("a", false),
                Item::check("b", false),
                Item::button("Next"),
            ],
            0,
        );
        assert_eq!(
            f.handle_key(KeyEvent::from(KeyCode::End)),
            FormEvent::Left(0)
        );
        assert_eq!(f.focus, 2);
        assert_eq!(
            f.handle_key(KeyEvent::from(KeyCode::Home)),
            FormEvent::Left(2)
        );
        assert_eq!(f.focus, 0);
    }

    #[test]
    fn long_values_show_their_end() {
        let t = TextField::new("0123456789");
        assert_eq!(t.shown(5, true), "<789_");
        assert_eq!(t.shown(20, false), "0123456789");
        let mut m = TextField::masked();
        m.value = "secret".into();
        assert_eq!(m.shown(20, false), "******");
    }
}

//! How things look: the character set and the few styles. Meaning is never
//! carried by colour alone: a selected item also has `>`, a checked box
//! `[x]`, an error a leading `!`, so a monochrome serial console loses
//! nothing.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

/// Which characters the screen may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Plain ASCII: the Linux console's default font and serial terminals
    /// (`TERM=vt100`, `vt220`, `linux`) do not all draw box characters.
    Ascii,
    /// ASCII plus the basic box-drawing characters.
    Unicode,
}

impl Charset {
    /// Chooses from `$TERM`: ASCII for the console, serial lines and
    /// anything unknown, box drawing only for terminal emulators.
    pub fn from_term(term: Option<&str>) -> Self {
        match term {
            Some(t)
                if t.starts_with("xterm") || t.starts_with("screen") || t.starts_with("tmux") =>
            {
                Charset::Unicode
            }
            Some(t) if t.contains("256color") || t == "alacritty" || t == "foot" => {
                Charset::Unicode
            }
            _ => Charset::Ascii,
        }
    }

    pub fn border(self) -> border::Set {
        match self {
            Charset::Ascii => border::Set {
                top_left: "+",
                top_right: "+",
                bottom_left: "+",
                bottom_right: "+",
                vertical_left: "|",
                vertical_right: "|",
                horizontal_top: "-",
                horizontal_bottom: "-",
            },
            Charset::Unicode => border::PLAIN,
        }
    }

    /// Replaces whatever a screen drew that this charset cannot show (a disk
    /// model with an accent, say) with `?`, so the whole frame is safe.
    pub fn sanitise(self, buf: &mut Buffer) {
        if self == Charset::Unicode {
            return;
        }
        for cell in buf.content.iter_mut() {
            if !cell.symbol().is_ascii() {
                cell.set_symbol("?");
            }
        }
    }
}

/// The item that has the focus (also marked with `>`).
pub fn focused() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// A problem (also prefixed with `!`).
pub fn error() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// A warning (also prefixed with `!`).
pub fn warning() -> Style {
    Style::new().fg(Color::Yellow)
}

/// Headings and the title bar.
pub fn heading() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// Something shown but not selectable (the installer medium).
pub fn dim() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

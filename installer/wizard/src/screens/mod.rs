//! The screens, one file each. A screen owns the state of its fields,
//! handles the keys it is given, and asks the wizard for anything beyond
//! itself (go on, go back, fetch a certificate, save a file) with a
//! [`Msg`]; it never calls another screen.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_answer::Answer;

use crate::context::Context;
use crate::peer::PeerError;

pub mod cluster;
pub mod credentials;
pub mod disks;
pub mod failure;
pub mod firewall;
pub mod hardware;
pub mod mode;
pub mod network;
pub mod plan_view;
pub mod progress;
pub mod resume;
pub mod services;
pub mod summary;
pub mod welcome;

/// What a screen asks of the wizard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Its fields are complete and valid: store them, show the next screen.
    Next,
    /// Show the previous screen (what was typed stays).
    Back,
    Cancel,
    /// Connect to the peer and report its certificate's fingerprint.
    FetchFingerprint {
        peer: String,
    },
    /// Write the answer file (secrets redacted) to this path.
    SaveAnswer {
        path: String,
    },
    /// Show the whole plan, scrollable.
    ShowPlan,
    /// The user confirmed: install (or end the dry run).
    Install,
}

/// The wizard's reply to a [`Msg`] that a screen waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Fingerprint(Result<String, PeerError>),
    Saved(Result<String, String>),
}

/// What a screen did with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Consumed,
    /// Not for this screen: the wizard applies its own meaning (Esc: back).
    Ignored,
    Msg(Msg),
}

/// One step of the wizard.
pub trait Screen {
    /// The title shown in the frame.
    fn title(&self) -> &'static str;

    /// The keys this screen understands, for the help line.
    fn keys(&self) -> &'static str {
        "Tab/arrows: move  Enter: confirm  Esc: back  Ctrl-C: quit"
    }

    /// Called each time the screen is shown: refresh what depends on
    /// earlier screens (defaults, the plan).
    fn enter(&mut self, _ctx: &Context) {}

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled;

    /// Writes this screen's values into the answer.
    fn apply(&self, _answer: &mut Answer) {}

    fn receive(&mut self, _reply: Reply) {}

    fn render(&self, area: Rect, buf: &mut Buffer, ctx: &Context);
}

/// The answer with this screen's values, checked by the same rules as an
/// answer file; the errors are filtered per field by the caller.
pub(crate) fn check(screen: &dyn Screen, ctx: &Context) -> Vec<tappaas_answer::AnswerError> {
    let mut answer = ctx.answer.clone();
    screen.apply(&mut answer);
    tappaas_answer::validate(&answer)
}

/// A screen of form fields whose errors come from validating the answer.
/// A form's Next button: on to the next screen, unless a field has an
/// error, which then gets the focus.
pub(crate) fn next_unless(form: &mut crate::form::Form, any_error: bool) -> Handled {
    if !any_error {
        return Handled::Msg(Msg::Next);
    }
    if let Some(i) = form.first_error() {
        form.focus_on(i);
    }
    Handled::Consumed
}

pub(crate) trait FormScreen: Screen {
    fn form(&self) -> &crate::form::Form;
    fn form_mut(&mut self) -> &mut crate::form::Form;
    /// The error of field `item`, from the answer's validation `errors`.
    fn field_error(&self, item: usize, errors: &[tappaas_answer::AnswerError]) -> Option<String>;

    /// Check the visible fields `which` as they are left, showing each
    /// field's error beside it; true when any has one.
    fn check_fields(&mut self, ctx: &Context, which: &[usize]) -> bool
    where
        Self: Sized,
    {
        let errors = check(self, ctx);
        let mut any = false;
        for &i in which {
            if !self.form().item(i).is_some_and(|it| it.visible) {
                continue;
            }
            let e = self.field_error(i, &errors);
            any |= e.is_some();
            self.form_mut().set_error(i, e);
        }
        any
    }
}

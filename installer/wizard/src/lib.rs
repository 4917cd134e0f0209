//! The console wizard: the same answer, validation and plan as an answer
//! file, asked screen by screen.
//!
//! [`Wizard`] is the state machine (keys in, [`Outcome`] out, no
//! terminal); [`app`] runs it on a real terminal. The screens are in
//! [`screens`], one file each.

pub mod app;
pub mod context;
pub mod form;
pub mod keys;
pub mod peer;
pub mod screens;
pub mod theme;
mod wizard;

pub use app::Screen;
pub use context::Context;
pub use peer::{fingerprint_of, PeerCertificate, PeerError, TlsPeer};
pub use screens::progress::{Job, Progress, ProgressOutcome};
pub use theme::Charset;
pub use wizard::{LeaseRefresh, Outcome, Screens, Step, Wizard, WizardOutcome};

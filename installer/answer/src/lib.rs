//! The answer: everything the user decides, from an answer file or the wizard.
//!
//! `parse` turns TOML text into a validated [`Answer`] or a list of
//! [`AnswerError`]s, each naming the key and the line. The wizard builds the
//! same [`Answer`] and goes through the same [`validate`].

mod model;
mod secret;

pub use model::*;
pub use secret::Secret;

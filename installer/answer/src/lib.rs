//! The answer: everything the user decides, from an answer file or the wizard.
//!
//! `parse` turns TOML text into a validated [`Answer`] or a list of
//! [`AnswerError`]s, each naming the key and the line. The wizard builds the
//! same [`Answer`] and goes through the same [`validate`].
//!
//! The file format is documented in `docs/answer-file.md`.

mod backup;
pub mod checks;
mod filter;
mod lists;
mod mac;
mod model;
mod parse;
mod path;
mod rules;
mod schedule;
mod secret;
mod write;

pub use backup::{Backup, Replication, ReplicationTarget, Retention, RetentionKeys};
pub use filter::{disk_list_entry_matches, filter_matches, Glob};
pub use lists::{COUNTRIES, KEYBOARDS, TIMEZONES};
pub use mac::MacAddr;
pub use model::*;
pub use parse::{parse, parse_file, validate, FileErrors};
pub use schedule::schedule_period;
pub use secret::{Secret, REDACTED};
pub use write::{has_secrets, redacted, to_toml};

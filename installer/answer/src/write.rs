//! Answer -> answer file, for the wizard's "save answer".

use crate::secret::REDACTED;
use crate::{Answer, Secret};

/// Whether the answer holds a clear-text secret (root-password or
/// cluster.peer-password) that [`to_toml`] will write as `<redacted>`.
pub fn has_secrets(answer: &Answer) -> bool {
    let real = |s: &Option<Secret>| s.as_ref().is_some_and(|s| s.expose() != REDACTED);
    real(&answer.global.root_password) || real(&answer.cluster.peer_password)
}

/// A copy of `answer` whose secrets are the `<redacted>` marker, e.g. to
/// keep on the installed node or to show. [`parse`](crate::parse) rejects
/// the marker as a password, so a redacted answer cannot install by mistake
/// with a password nobody knows.
pub fn redacted(answer: &Answer) -> Answer {
    let mut a = answer.clone();
    let hide = |s: &mut Option<Secret>| {
        if s.is_some() {
            *s = Some(Secret::new(REDACTED));
        }
    };
    hide(&mut a.global.root_password);
    hide(&mut a.cluster.peer_password);
    a
}

/// The answer as an answer file. Secrets are written as `<redacted>` (a
/// header comment says so, when there are any); `parse` reads everything
/// else back to the same value.
pub fn to_toml(answer: &Answer) -> String {
    let mut out =
        String::from("# TAPPaaS answer file (see docs/answer-file.md in the TAPPaaS installer).\n");
    if has_secrets(answer) {
        out.push_str(&format!(
            "# Passwords are written as \"{REDACTED}\": write them in before installing with this file.\n"
        ));
    }
    out.push('\n');
    match toml::to_string_pretty(answer) {
        Ok(body) => out.push_str(&tidy(body)),
        // Not expected: every field of Answer has a TOML form. Say so in the
        // file rather than write half an answer.
        Err(e) => out.push_str(&format!("# The answer could not be written: {e}\n")),
    }
    out
}

/// Drops top-level tables that came out empty (`[bridges]` without a
/// wan-filter): they mean the same as no table, and only add noise.
fn tidy(body: String) -> String {
    match body.parse::<toml_edit::DocumentMut>() {
        Ok(mut doc) => {
            doc.as_table_mut()
                .retain(|_, item| !item.as_table().is_some_and(|t| t.is_empty()));
            doc.to_string()
        }
        Err(_) => body,
    }
}

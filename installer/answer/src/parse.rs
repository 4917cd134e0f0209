//! Text -> [`Answer`]: TOML and type errors from deserialisation, then the
//! semantic rules, each error with its key path and line.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::path::{KeyPath, Seg, Spans};
use crate::rules;
use crate::{Answer, AnswerError};

/// Parses and validates an answer file. On failure, returns every semantic
/// problem (sorted by line), or the first TOML syntax or type problem (the
/// TOML library stops at the first one).
pub fn parse(text: &str) -> Result<Answer, Vec<AnswerError>> {
    let spans = Spans::new(text);
    let answer: Answer = match toml::from_str(text) {
        Ok(a) => a,
        Err(e) => return Err(vec![toml_error(&spans, &e)]),
    };
    let mut errors: Vec<AnswerError> = rules::issues(&answer)
        .into_iter()
        .map(|i| AnswerError {
            line: spans.line_of_path(&i.path),
            key: i.path.to_string(),
            message: i.message,
        })
        .collect();
    // Stable: problems on the same line keep the rules' order.
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    if errors.is_empty() {
        Ok(answer)
    } else {
        Err(errors)
    }
}

/// Checks an answer built in code (by the wizard): the same rules as
/// [`parse`], with no line numbers.
pub fn validate(answer: &Answer) -> Vec<AnswerError> {
    rules::issues(answer)
        .into_iter()
        .map(|i| AnswerError {
            key: i.path.to_string(),
            line: None,
            message: i.message,
        })
        .collect()
}

/// The errors of one answer file, shown each on a line that starts with
/// the file's name (`answer.toml: line 7: disk-setup.zfs.raid: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileErrors {
    pub file: PathBuf,
    pub errors: Vec<AnswerError>,
}

impl FileErrors {
    /// One line per error, each prefixed with the file name.
    pub fn lines(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|e| format!("{}: {e}", self.file.display()))
            .collect()
    }
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl std::error::Error for FileErrors {}

/// Reads and parses an answer file; errors (including one that the file
/// cannot be read) name the file.
pub fn parse_file(path: &Path) -> Result<Answer, FileErrors> {
    let fail = |errors| FileErrors {
        file: path.to_path_buf(),
        errors,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(vec![AnswerError {
            key: String::new(),
            line: None,
            message: format!("cannot read the answer file: {e}"),
        }])
    })?;
    parse(&text).map_err(fail)
}

/// Turns the TOML library's error (message + byte span) into one that
/// names the key and the line, in the same words as the semantic rules.
fn toml_error(spans: &Spans<'_>, e: &toml::de::Error) -> AnswerError {
    let raw: Vec<&str> = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let msg = raw.join("; ");
    let span = e.span();
    let line = span
        .as_ref()
        .filter(|r| !r.is_empty())
        .map(|r| spans.line_of(r.start));
    if !spans.is_toml() {
        return AnswerError {
            key: String::new(),
            line: span.as_ref().map(|r| spans.line_of(r.start)),
            message: if msg.is_empty() {
                "TOML syntax error: check quotes, brackets and `key = value` lines".to_string()
            } else {
                format!("TOML syntax error: {msg}")
            },
        };
    }
    // An empty span (a missing top-level section) points nowhere in the file.
    let path = match &span {
        Some(r) if !r.is_empty() => spans.path_at(r.start),
        _ => KeyPath::default(),
    };
    let (path, mut message) = reword(path, &msg);
    // serde quotes the value it found; for a password that would print it.
    let secret =
        matches!(path.0.last(), Some(Seg::Key(k)) if k == "root-password" || k == "peer-password");
    if secret && (message.starts_with("wrong type") || message.starts_with("invalid value")) {
        message = "wrong type: expected a string: write the password in quotes".to_string();
    }
    AnswerError {
        key: path.to_string(),
        line,
        message,
    }
}

/// serde's messages, reworded to say what to do. Returns the path the
/// error is about (a missing key's path is its table's plus the key).
fn reword(path: KeyPath, msg: &str) -> (KeyPath, String) {
    let unquote = |s: &str| s.replace('`', "");
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|s| s.strip_suffix('`'))
    {
        let message = if path.0.is_empty() {
            format!("missing: this section is required: add [{field}]")
        } else {
            "missing: this key is required".to_string()
        };
        return (path.key(field), message);
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let expected = rest.split_once("`, ").map_or("", |(_, e)| e);
        let what = if path.0.len() == 1 { "section" } else { "key" };
        let message = if expected.is_empty() || expected == "there are no fields" {
            format!("unknown {what} (this table takes no keys)")
        } else {
            format!("unknown {what} ({})", unquote(expected))
        };
        return (path, message);
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once("`, ").unwrap_or((rest, ""));
        return (
            path,
            format!("unknown value \"{value}\" ({})", unquote(expected)),
        );
    }
    for (prefix, what) in [
        ("invalid type: ", "wrong type"),
        ("invalid value: ", "invalid value"),
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.split_once(", expected ") {
                return (
                    path,
                    format!(
                        "{what}: expected {}, found {}",
                        expected_words(expected),
                        unquote(found)
                    ),
                );
            }
        }
    }
    if msg.starts_with("data did not match any variant of untagged enum Fqdn") {
        return (
            path,
            "expected a host name with its domain (\"tappaas1.example.com\") or { source = \"from-dhcp\", domain = \"example.com\" }".to_string(),
        );
    }
    if msg == "invalid IP address syntax" {
        return (
            path,
            "invalid IP address: write e.g. \"10.0.0.1\"".to_string(),
        );
    }
    (path, msg.to_string())
}

/// serde names integer types by their Rust names; say their ranges.
fn expected_words(expected: &str) -> String {
    match expected {
        "u8" => "an integer 0..=255".to_string(),
        "u16" => "an integer 0..=65535".to_string(),
        "u32" | "u64" | "usize" => "a non-negative integer".to_string(),
        "f64" | "f32" => "a number".to_string(),
        other => other.replace('`', ""),
    }
}

impl Spans<'_> {
    /// Whether the text is TOML at all (else the error is a syntax error).
    fn is_toml(&self) -> bool {
        self.has_doc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewording() {
        let p = KeyPath::of("global");
        assert_eq!(
            reword(p.clone(), "missing field `keyboard`"),
            (
                KeyPath::of("global.keyboard"),
                "missing: this key is required".to_string()
            )
        );
        assert_eq!(
            reword(p.key("x"), "unknown field `x`, expected `deploy`").1,
            "unknown key (expected deploy)"
        );
        assert_eq!(
            reword(p.key("x"), "unknown field `x`, there are no fields").1,
            "unknown key (this table takes no keys)"
        );
        assert_eq!(
            reword(
                p.clone(),
                "unknown variant `joinn`, expected `create` or `join`"
            )
            .1,
            "unknown value \"joinn\" (expected create or join)"
        );
        assert_eq!(
            reword(p.clone(), "invalid value: integer `300`, expected u8").1,
            "invalid value: expected an integer 0..=255, found integer 300"
        );
        assert_eq!(
            reword(p, "invalid type: integer `5`, expected a string").1,
            "wrong type: expected a string, found integer 5"
        );
    }
}

//! Errors of the catalog: what was wrong, where (file, line, key), and what to do.

use std::fmt;
use std::path::PathBuf;

/// One problem in one catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The catalog file, e.g. `authentik.toml` (embedded) or a path (loaded).
    pub file: String,
    /// 1-based line of the key, when it can be found.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `depends[1]` or `health.port`; empty for the file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The catalog itself is wrong: every problem found, not just the first.
    #[error("the service catalog has {} problem(s):\n{}", .0.len(), list(.0))]
    Catalog(Vec<Problem>),

    #[error("reading the service catalog {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("unknown service '{name}': the catalog has {}; run `tappaas-installer services list`", known.join(", "))]
    Unknown { name: String, known: Vec<String> },

    #[error("service '{name}' cannot be deployed yet: {reason}; remove it from [services] deploy")]
    Unavailable { name: String, reason: String },

    /// A template did not render: the entry, where in it, and what is missing.
    #[error("service '{service}': {template} of {file}: {message}")]
    Render {
        service: String,
        file: String,
        /// `user-data` or `urls[N]`.
        template: String,
        message: String,
    },

    /// The address rule (see `address`) gives no usable address.
    #[error("service '{service}': {message}")]
    Address { service: String, message: String },

    #[error("secrets: {0}")]
    Secrets(String),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

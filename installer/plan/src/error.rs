use std::fmt;

use serde::Serialize;

/// Something that stops the plan: what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanError {
    /// The answer key the problem comes from, when there is one.
    pub key: Option<String>,
    pub message: String,
    pub hint: String,
}

impl PlanError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        PlanError {
            key: None,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn at(key: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        PlanError {
            key: Some(key.into()),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  what to do: {}", self.hint)?;
        }
        Ok(())
    }
}

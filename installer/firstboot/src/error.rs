//! What can stop first boot.

use std::path::PathBuf;

use tappaas_exec::{CommandFailure, JournalError};
use tappaas_proxmox::ApiError;

/// Why first boot stopped. When a step failed, a [`tappaas_exec::Event::Failed`]
/// with the same details was reported first.
#[derive(Debug, thiserror::Error)]
pub enum FirstbootError {
    #[error("cannot read the install plan {path}: {message}")]
    Plan { path: PathBuf, message: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(
        "{holder} is running and holds {path}: first boot, `tappaas-installer firstboot` and \
         `services deploy` change the same VMs and secrets, one at a time. Wait until it ends \
         (`systemctl status tappaas-firstboot` shows the unit's run), then try again."
    )]
    Busy { path: PathBuf, holder: String },
    #[error("cannot take the run lock {path}: {message}")]
    Lock { path: PathBuf, message: String },
    #[error("first boot stopped at step '{step}': {}", .failure.message)]
    Step {
        step: String,
        failure: CommandFailure,
    },
}

/// A failed step: what was being done, and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepError {
    pub what: String,
    pub message: String,
    pub output: Vec<String>,
}

impl StepError {
    pub fn new(what: impl Into<String>, message: impl Into<String>) -> StepError {
        StepError {
            what: what.into(),
            message: message.into(),
            output: Vec::new(),
        }
    }

    /// A Proxmox call that failed, with Proxmox's own words as output.
    pub fn api(what: impl Into<String>, e: &ApiError) -> StepError {
        StepError {
            what: what.into(),
            message: e.to_string(),
            output: e
                .refusal()
                .map(|r| r.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }

    /// Add advice after the error.
    pub fn hint(mut self, hint: &str) -> StepError {
        self.message = format!("{}\n{hint}", self.message);
        self
    }

    pub fn into_failure(self) -> CommandFailure {
        CommandFailure {
            what: self.what,
            status: None,
            message: self.message,
            output_tail: self.output,
        }
    }
}

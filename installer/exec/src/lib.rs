//! The install engine: runs a [`tappaas_plan::Plan`], one journaled step at
//! a time, and reports what it does as typed [`Event`]s that a front end
//! (the wizard's progress screen, or plain lines on a serial console)
//! renders.

mod engine;
mod events;
mod journal;
mod progress;
mod resume;
mod system;

pub use engine::{
    answer_digest, plan_digest, Engine, Persist, Secrets, Stopped, ANSWER_DIGEST_FILE,
    JOURNAL_FILE, LOG_FILE, PLAN_FILE,
};
pub use events::{CommandFailure, Event, StepInfo};
pub use journal::{Journal, JournalError};
pub use progress::LineProgress;
pub use resume::{
    forget_interrupted_install, look_for_interrupted_install, start_over, Found, NODE_LOG_DIR,
};
pub use system::{DiskIdentity, LiveSystem, OnEffects, System, COMMAND_LIMIT};

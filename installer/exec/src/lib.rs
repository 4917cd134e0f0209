//! The install engine: runs a [`tappaas_plan::Plan`], one journaled step at
//! a time, and reports what it does as typed [`Event`]s that a front end
//! (the wizard's progress screen, or plain lines on a serial console)
//! renders. Its [`Runner`] is the one journaled step loop, which first boot
//! runs its own steps through too.

mod engine;
mod events;
mod journal;
mod progress;
mod resume;
mod runner;
mod system;

pub use engine::{
    answer_digest, Engine, Persist, Secrets, ANSWER_DIGEST_FILE, JOURNAL_FILE, LOG_FILE, PLAN_FILE,
};
pub use events::{CommandFailure, Event, StepInfo};
pub use journal::{Journal, JournalError};
pub use progress::LineProgress;
pub use resume::{
    forget_interrupted_install, look_for_interrupted_install, start_over, Found, NODE_LOG_DIR,
};
pub use runner::{forget, plan_digest, Runner, Step, StepBodies, StepEnd, Stopped};
pub use system::{DiskIdentity, LiveSystem, OnEffects, System, COMMAND_LIMIT};

//! The install engine: runs a [`tappaas_plan::Plan`], one journaled step at
//! a time, and reports what it does as typed [`Event`]s that a front end
//! (the wizard's progress screen, or plain lines on a serial console)
//! renders.

mod events;

pub use events::{CommandFailure, Event, StepInfo};

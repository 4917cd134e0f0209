use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the engine reports while it runs a plan, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "event")]
pub enum Event {
    /// The run begins: every step, so a front end can show the whole list.
    Started {
        steps: Vec<StepInfo>,
    },
    /// The journal says this step finished in an earlier run.
    StepSkipped {
        index: usize,
        id: String,
    },
    StepStarted {
        index: usize,
        id: String,
        title: String,
    },
    /// One action of the current step, as a person reads it (`$ zpool ...`).
    Action {
        index: usize,
        text: String,
    },
    /// A line a command printed (stdout or stderr), for the log pane.
    Output {
        line: String,
    },
    StepFinished {
        index: usize,
        id: String,
        elapsed: Duration,
    },
    /// The run stopped at this step; nothing after it ran.
    Failed {
        index: usize,
        id: String,
        failure: CommandFailure,
    },
    Finished {
        elapsed: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StepInfo {
    pub id: String,
    pub title: String,
}

/// Why a step stopped: what ran, how it ended, and the end of its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommandFailure {
    /// The command line, or the action (e.g. `write /etc/hosts`).
    pub what: String,
    /// Exit status, `None` when it did not start or was killed by a signal.
    pub status: Option<i32>,
    pub message: String,
    /// The last lines of its output.
    pub output_tail: Vec<String>,
}

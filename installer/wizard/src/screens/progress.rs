//! The install, as the engine reports it: overall progress, the current
//! step and how long it has run, a scrollable log; on failure the failure
//! screen; at the end what to do next.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use tappaas_exec::{Event, StepInfo};
use tappaas_plan::{Address, Plan};

use super::failure::{Failure, FailureChoice};
use crate::form::wrap;
use crate::theme::{self, Charset};

/// The log keeps this many lines; older ones are dropped (the engine's own
/// log file has them all).
pub const LOG_LINES: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Pending,
    /// Done in an earlier run (the journal says so).
    Skipped,
    Running,
    Done(Duration),
    Failed,
}

/// What the user asked for; the caller acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressOutcome {
    Retry {
        index: usize,
    },
    Shell,
    SaveLogs,
    /// The install finished and the user read what to do next.
    Done,
}

/// Which run the screen follows: the wording and how it ends differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Ends on "what to do next" and waits for Enter before the reboot.
    Install,
    /// Ends as soon as the run ends: the caller prints the summary on the
    /// console, where it stays above the login prompt, and nobody needs to
    /// be at a booting node to let it go on.
    FirstBoot,
}

#[derive(Debug, Clone)]
pub struct Progress {
    pub job: Job,
    pub steps: Vec<StepInfo>,
    pub states: Vec<StepState>,
    /// The running step and when it started.
    pub current: Option<(usize, Instant)>,
    /// The clock the elapsed time is shown against (set by [`tick`]).
    pub now: Instant,
    pub log: Vec<String>,
    /// Lines scrolled back from the end; 0 follows new lines.
    pub back: usize,
    pub failure: Option<Failure>,
    pub finished: Option<Duration>,
    /// `tappaas1.lan` and `10.0.0.10` (or "its DHCP address").
    pub fqdn: String,
    pub address: String,
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

impl Progress {
    pub fn new(plan: &Plan, now: Instant) -> Self {
        let address = match &plan.network.address {
            Address::Static(cidr) => cidr.addr.to_string(),
            Address::FromDhcp => "the address its DHCP server gives it".to_string(),
        };
        let steps: Vec<StepInfo> = plan
            .steps
            .iter()
            .map(|s| StepInfo {
                id: s.id.clone(),
                title: s.title.clone(),
            })
            .collect();
        Progress {
            states: vec![StepState::Pending; steps.len()],
            steps,
            address,
            ..Self::empty(Job::Install, plan.node.fqdn(), now)
        }
    }

    /// First boot's screen: its steps come with the engine's `Started`.
    pub fn first_boot(fqdn: String, now: Instant) -> Self {
        Self::empty(Job::FirstBoot, fqdn, now)
    }

    fn empty(job: Job, fqdn: String, now: Instant) -> Self {
        Progress {
            job,
            steps: Vec::new(),
            states: Vec::new(),
            current: None,
            now,
            log: Vec::new(),
            back: 0,
            failure: None,
            finished: None,
            fqdn,
            address: String::new(),
        }
    }

    /// The bar at the top of the screen.
    pub fn screen_title(&self) -> &'static str {
        match self.job {
            Job::Install => " TAPPaaS installer - installing",
            Job::FirstBoot => " TAPPaaS first boot",
        }
    }

    /// Whether the finished screen waits for Enter (see [`Job`]).
    pub fn waits_for_confirmation(&self) -> bool {
        self.job == Job::Install
    }

    pub fn tick(&mut self, now: Instant) {
        self.now = now;
    }

    fn push_log(&mut self, line: String) {
        self.log.push(line);
        if self.log.len() > LOG_LINES {
            let extra = self.log.len() - LOG_LINES;
            self.log.drain(..extra);
        }
    }

    fn title(&self, index: usize) -> String {
        self.steps
            .get(index)
            .map(|s| s.title.clone())
            .unwrap_or_else(|| format!("step {}", index + 1))
    }

    fn set(&mut self, index: usize, state: StepState) {
        if index >= self.states.len() {
            self.states.resize(index + 1, StepState::Pending);
        }
        self.states[index] = state;
    }

    pub fn on_event(&mut self, event: Event, now: Instant) {
        self.now = now;
        match event {
            Event::Started { steps } => {
                self.states = vec![StepState::Pending; steps.len()];
                self.steps = steps;
            }
            Event::StepSkipped { index, .. } => {
                self.set(index, StepState::Skipped);
                let t = self.title(index);
                self.push_log(format!("== {t}: done in an earlier run, skipped"));
            }
            Event::StepStarted { index, title, .. } => {
                self.set(index, StepState::Running);
                self.current = Some((index, now));
                self.failure = None;
                self.push_log(format!("== {}. {title}", index + 1));
            }
            Event::Action { text, .. } => self.push_log(text),
            Event::Output { line } => self.push_log(format!("  {line}")),
            Event::StepFinished { index, elapsed, .. } => {
                self.set(index, StepState::Done(elapsed));
                self.current = None;
            }
            Event::Failed { index, failure, .. } => {
                self.set(index, StepState::Failed);
                self.current = None;
                self.push_log(format!("! {} failed: {}", failure.what, failure.message));
                self.failure = Some(Failure::new(index, self.title(index), failure));
            }
            Event::Finished { elapsed } => {
                self.current = None;
                self.finished = Some(elapsed);
            }
        }
    }

    /// Steps that are done, now or in an earlier run.
    pub fn done(&self) -> usize {
        self.states
            .iter()
            .filter(|s| matches!(s, StepState::Done(_) | StepState::Skipped))
            .count()
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Option<ProgressOutcome> {
        if let Some(f) = &mut self.failure {
            let index = f.index;
            return f.handle_key(key).map(|c| match c {
                FailureChoice::Retry => ProgressOutcome::Retry { index },
                FailureChoice::Shell => ProgressOutcome::Shell,
                FailureChoice::SaveLogs => ProgressOutcome::SaveLogs,
            });
        }
        if self.finished.is_some() && key.code == KeyCode::Enter {
            return Some(ProgressOutcome::Done);
        }
        let max = self.log.len();
        self.back = match key.code {
            KeyCode::Up => self.back + 1,
            KeyCode::Down => self.back.saturating_sub(1),
            KeyCode::PageUp => self.back + 10,
            KeyCode::PageDown => self.back.saturating_sub(10),
            KeyCode::End => 0,
            KeyCode::Home => max,
            _ => self.back,
        }
        .min(max);
        None
    }

    /// A status line from the caller (e.g. where the logs were saved).
    pub fn set_status(&mut self, status: impl Into<String>) {
        if let Some(f) = &mut self.failure {
            f.status = Some(status.into());
        }
    }

    fn bar(&self, width: usize) -> String {
        let total = self.steps.len().max(1);
        let done = self.done();
        let inner = width.saturating_sub(2).max(1);
        let filled = inner * done / total;
        format!("[{}{}]", "#".repeat(filled), ".".repeat(inner - filled))
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, charset: Charset) {
        if let Some(f) = &self.failure {
            f.render(area, buf);
            return;
        }
        if let Some(elapsed) = self.finished {
            self.render_done(area, buf, elapsed);
            return;
        }
        let [head, log_area] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(3)]).areas(area);
        let total = self.steps.len();
        let done = self.done();
        let pct = (done * 100).checked_div(total).unwrap_or(0);
        let now = match self.current {
            Some((i, started)) => format!(
                "Now: {}. {} ({})",
                i + 1,
                self.title(i),
                human_duration(self.now.saturating_duration_since(started))
            ),
            None => "Now: between steps".to_string(),
        };
        let doing = match self.job {
            Job::Install => format!("Installing {}", self.fqdn),
            Job::FirstBoot => format!("First boot of {}", self.fqdn),
        };
        Paragraph::new(vec![
            Line::raw(format!("{doing}: {done} of {total} steps done ({pct}%)")),
            Line::raw(self.bar(usize::from(head.width).min(60))),
            Line::styled(now, theme::heading()),
        ])
        .render(head, buf);

        let block = Block::default()
            .borders(Borders::ALL)
            .border_set(charset.border())
            .title(if self.back == 0 {
                " Log (Up/PgUp: scroll back) ".to_string()
            } else {
                format!(" Log ({} lines back; End: follow) ", self.back)
            });
        let inner = block.inner(log_area);
        block.render(log_area, buf);
        let rows = usize::from(inner.height);
        let end = self.log.len().saturating_sub(self.back);
        let start = end.saturating_sub(rows);
        let lines: Vec<Line> = self.log[start..end]
            .iter()
            .map(|l| Line::raw(l.clone()))
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }

    fn render_done(&self, area: Rect, buf: &mut Buffer, elapsed: Duration) {
        let width = usize::from(area.width).saturating_sub(2);
        let mut lines = vec![
            Line::styled(
                format!(
                    "The node {} is installed ({} steps, {}).",
                    self.fqdn,
                    self.steps.len(),
                    human_duration(elapsed)
                ),
                theme::heading(),
            ),
            Line::raw(""),
            Line::raw("What to do next:"),
        ];
        for (n, text) in [
            "Remove the installer medium (USB stick), then press Enter to reboot.".to_string(),
            "The node boots into Proxmox VE; its first boot registers the pools, creates or joins the cluster and, on the first node, deploys the firewall and the services. Watch it on this console.".to_string(),
            format!(
                "The Proxmox web UI will be at https://{}:8006 (user root, the password you chose); the node answers to ssh root@{}.",
                self.address, self.address
            ),
        ]
        .iter()
        .enumerate()
        {
            for (i, l) in wrap(text, width.saturating_sub(4)).into_iter().enumerate() {
                let lead = if i == 0 {
                    format!(" {}. ", n + 1)
                } else {
                    "    ".to_string()
                };
                lines.push(Line::raw(format!("{lead}{l}")));
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("> [ Reboot ]", theme::focused()));
        Paragraph::new(lines).render(area, buf);
    }
}

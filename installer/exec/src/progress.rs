//! Progress without a full-screen UI: one line per step with its elapsed
//! time (serial console, unattended installs, logs), and on a terminal an
//! overall bar below those lines.

use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};

use crate::Event;

pub struct LineProgress<W: Write> {
    out: W,
    total: usize,
    bar: Option<ProgressBar>,
    /// Print every command and its output too (`--verbose`).
    verbose: bool,
    /// What finished, for the last line ("install", "first boot").
    job: &'static str,
}

impl<W: Write> LineProgress<W> {
    /// `with_bar`: draw an overall bar (only on a terminal).
    pub fn new(out: W, with_bar: bool, verbose: bool) -> Self {
        let bar = with_bar.then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {elapsed}")
            {
                bar.set_style(style);
            }
            bar
        });
        LineProgress {
            out,
            total: 0,
            bar,
            verbose,
            job: "install",
        }
    }

    /// Names the run in the last line, e.g. "first boot finished in 12.0 s".
    pub fn named(mut self, job: &'static str) -> Self {
        self.job = job;
        self
    }

    fn line(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                // Progress output that cannot be written has nowhere else
                // to go; the install log still has everything.
                let _ = writeln!(self.out, "{text}");
                let _ = self.out.flush();
            }
        }
    }

    pub fn event(&mut self, event: &Event) {
        let n = self.total;
        match event {
            Event::Started { steps } => {
                self.total = steps.len();
                if let Some(bar) = &self.bar {
                    bar.set_length(steps.len() as u64);
                }
            }
            Event::StepSkipped { index, id } => {
                self.line(&format!("[{:>2}/{n}] {id}: already done", index + 1));
                self.tick();
            }
            Event::StepStarted { index, title, .. } => {
                self.line(&format!("[{:>2}/{n}] {title} ...", index + 1));
            }
            Event::Action { text, .. } if self.verbose => self.line(&format!("        {text}")),
            Event::Output { line } if self.verbose => self.line(&format!("        | {line}")),
            Event::Action { .. } | Event::Output { .. } => {}
            Event::StepFinished { index, id, elapsed } => {
                self.line(&format!(
                    "[{:>2}/{n}] {id}: done in {:.1} s",
                    index + 1,
                    elapsed.as_secs_f64()
                ));
                self.tick();
            }
            Event::Failed { index, id, failure } => {
                let status = failure
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into());
                self.line(&format!("[{:>2}/{n}] {id}: FAILED", index + 1));
                self.line(&format!("  what:        {}", failure.what));
                self.line(&format!("  exit status: {status}"));
                self.line(&format!("  error:       {}", failure.message));
                if !failure.output_tail.is_empty() {
                    self.line("  last output:");
                    for l in failure.output_tail.clone() {
                        self.line(&format!("  | {l}"));
                    }
                }
                if let Some(bar) = &self.bar {
                    bar.abandon();
                }
            }
            Event::Finished { elapsed } => {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
                self.line(&format!(
                    "{} finished in {:.1} s",
                    self.job,
                    elapsed.as_secs_f64()
                ));
            }
        }
    }

    fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

//! `backup replicate`, `backup receive-guard` and the replication part of
//! `backup status`: the terminal side of
//! `tappaas_firstboot::backup::replication`.

use std::process::ExitCode;

use std::time::Duration;

use tappaas_effects::{Effects, Invocation, Machine};
use tappaas_firstboot::backup::replication::{self, ReplicationPaths, TargetStatus};
use tappaas_firstboot::backup::replication_guard;

/// Exit status of a run whose copy failed (recorded; retried next run).
const EXIT_COPY_FAILED: u8 = 1;

pub(crate) fn replicate(now: i64) -> anyhow::Result<ExitCode> {
    let mut print = |l: &str| println!("{l}");
    let copied = tappaas_firstboot::backup::replication_run::run(
        &mut Machine,
        &ReplicationPaths::node(),
        now,
        &mut print,
    )?;
    Ok(if copied {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_COPY_FAILED)
    })
}

/// The forced command of another node's key: decide on
/// SSH_ORIGINAL_COMMAND, run it or refuse it with a line in the journal.
pub(crate) fn receive_guard(source: &str) -> anyhow::Result<ExitCode> {
    let request = std::env::var("SSH_ORIGINAL_COMMAND").unwrap_or_default();
    match replication_guard::decide(source, &request) {
        Ok(allowed) => {
            let status = replication_guard::execute(&allowed)?;
            Ok(ExitCode::from(u8::try_from(status).unwrap_or(1)))
        }
        Err(why) => {
            let message = format!("refused from node {source}: {why}: {request:?}");
            // The journal (through logger) and the sender's stderr.
            log_refusal(&mut Machine, &message);
            eprintln!("tappaas receive guard: {message}");
            Ok(ExitCode::from(crate::EXIT_INVALID))
        }
    }
}

/// A refused request, to the journal as an auth warning. Best effort, and
/// soon: the guard answers the sender whatever the journal does.
fn log_refusal(fx: &mut dyn Effects, message: &str) {
    let args: Vec<String> = [
        "-t",
        "tappaas-receive-guard",
        "-p",
        "auth.warning",
        "--",
        message,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let _ = fx.run(
        &Invocation {
            program: "logger",
            args: &args,
            input: None,
            limit: Duration::from_secs(10),
            merge_stderr: false,
        },
        &mut |_| {},
    );
}

/// What `backup status` adds: the targets (for `--json`), their text, and
/// whether one is overdue.
pub(crate) fn status(now: i64) -> anyhow::Result<(Vec<TargetStatus>, String, bool)> {
    let paths = ReplicationPaths::node();
    let conf = replication::load_conf(&paths)?;
    let state = replication::load_state(&paths)?;
    let rows = match &conf {
        Some(c) => replication::evaluate(c, &state, now),
        None => Vec::new(),
    };
    let text = replication::render(conf.as_ref(), &state, &rows);
    let overdue = rows.iter().any(|r| r.overdue);
    Ok((rows, text, overdue))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tappaas_effects::{Call, Recorder};

    #[test]
    fn a_refusal_goes_to_the_journal_through_effects_within_a_limit() {
        let mut fx = Recorder::new();
        log_refusal(&mut fx, "refused from node tappaas1: zfs destroy");
        match fx.calls().as_slice() {
            [Call::Run {
                command,
                input,
                limit,
            }] => {
                assert!(
                    command.starts_with("logger -t tappaas-receive-guard -p auth.warning -- ")
                        && command.contains("refused from node tappaas1: zfs destroy"),
                    "{command}"
                );
                assert!(input.is_none());
                assert_eq!(*limit, Duration::from_secs(10));
            }
            other => panic!("{other:?}"),
        }
    }
}

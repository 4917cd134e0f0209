//! `backup replicate`, `backup receive-guard` and the replication part of
//! `backup status`: the terminal side of
//! `tappaas_firstboot::backup::replication`.

use std::process::ExitCode;

use tappaas_effects::Machine;
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
            let _ = std::process::Command::new("logger")
                .args([
                    "-t",
                    "tappaas-receive-guard",
                    "-p",
                    "auth.warning",
                    "--",
                    &message,
                ])
                .status();
            eprintln!("tappaas receive guard: {message}");
            Ok(ExitCode::from(crate::EXIT_INVALID))
        }
    }
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

//! One run at a time: first boot (the unit), `tappaas-installer firstboot`
//! by hand and `services deploy` change the same VMs, journal, service
//! records and generated secrets. Two at once could each generate a
//! secret and one overwrite the other's, so each takes an exclusive lock
//! first and a second one stops at once, naming the run that holds it.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::{Config, FirstbootError};

/// Held while a run changes the node; the kernel releases it when this is
/// dropped or the process ends (even killed), so no stale lock remains.
#[derive(Debug)]
pub struct RunLock {
    _file: Flock<File>,
}

/// Take the lock for `what` (a description for whoever finds it taken:
/// "first boot", "services deploy grafana"), or fail at once with who
/// holds it.
pub fn acquire(config: &Config, what: &str) -> Result<RunLock, FirstbootError> {
    let path = &config.lock;
    let io = |e: std::io::Error| FirstbootError::Lock {
        path: path.clone(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        // Root-only: the file names what runs, nothing more, but no other
        // user may hold it to stop first boot.
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    // Not truncated before the lock is ours: it says who holds it.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    let mut held = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(held) => held,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(FirstbootError::Busy {
                path: path.clone(),
                holder: if holder.is_empty() {
                    "another run (it did not say which)".to_string()
                } else {
                    holder.to_string()
                },
            });
        }
        Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
    };
    let note = format!("{what} (pid {})\n", std::process::id());
    held.set_len(0)
        .and_then(|()| held.rewind())
        .and_then(|()| held.write_all(note.as_bytes()))
        .map_err(io)?;
    Ok(RunLock { _file: held })
}

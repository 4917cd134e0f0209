//! Every side effect of the installer behind one trait, [`Effects`]: run a
//! command (its output passed on line by line while it runs, secrets on
//! stdin only, a time limit), write a file atomically, mount a filesystem
//! and unmount it again. [`Machine`] does it for real; [`Recorder`] records
//! every call and answers from a script, for tests.
//!
//! The install engine, first boot's host, the Proxmox transport and the
//! CLI's log save all go through it, so each effect has one set of
//! guarantees.

mod command;
mod fake;
mod file;
mod mount;

use std::io;
use std::path::Path;

pub use command::{format_limit, Invocation, Line, Ran, RunError, Stream, TAIL_LINES};
pub use fake::{Answer, Call, Recorder};
pub use file::write_atomic;
pub use mount::{is_mount_point, mount_points, Mount, MountSpec};

/// What the installer does to the machine.
pub trait Effects {
    /// Run `cmd` to its end, at most `cmd.limit`: every line it prints
    /// (stdout and stderr) goes to `line` as it is printed. A command still
    /// running at its limit is killed with its whole process group and is
    /// a [`RunError::TimedOut`].
    fn run(
        &mut self,
        cmd: &Invocation<'_>,
        line: &mut dyn FnMut(&Line<'_>),
    ) -> Result<Ran, RunError>;

    /// Replace `path` whole with `content`, mode `mode` (parent directories
    /// are created): after a power cut the old file or the new one is
    /// there, never a part.
    fn write_file(&mut self, path: &Path, mode: u32, content: &[u8]) -> io::Result<()>;

    /// Mount `spec`; the guard unmounts on drop (or [`Mount::close`]) only
    /// if this call mounted it: a target that was mounted already is left
    /// as it is.
    fn mount(&mut self, spec: &MountSpec) -> io::Result<Mount>;
}

/// The machine the installer runs on.
#[derive(Debug, Default, Clone, Copy)]
pub struct Machine;

impl Effects for Machine {
    fn run(
        &mut self,
        cmd: &Invocation<'_>,
        line: &mut dyn FnMut(&Line<'_>),
    ) -> Result<Ran, RunError> {
        command::run(cmd, line)
    }

    fn write_file(&mut self, path: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
        write_atomic(path, mode, content)
    }

    fn mount(&mut self, spec: &MountSpec) -> io::Result<Mount> {
        mount::mount(spec)
    }
}

//! Every side effect of the engine, behind one small trait, so the engine
//! is tested without touching a disk and the live system does it for real.

use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use tappaas_effects::{Effects, Invocation, Machine, RunError};
use tappaas_plan::Command;

/// What the disk a path leads to says it is now, read from the device the
/// path ends at (never by looking the name up among the disks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskIdentity {
    /// Device number `MAJOR:MINOR` of the device the path ends at.
    pub device: String,
    /// Its kernel name, for messages.
    pub kernel_name: String,
    pub serial: Option<String>,
    pub size_bytes: u64,
    /// Other disks that share its name or identity: kernel name and what
    /// they share.
    pub shared_with: Vec<(String, String)>,
    /// The boot the device number belongs to.
    pub boot_id: Option<String>,
}

pub trait System {
    /// Run a command to its end, feeding `stdin` and passing every line it
    /// prints (stdout and stderr) to `line`. Returns the exit status, `None`
    /// when a signal ended it; `Err` when it could not be started.
    fn run(
        &mut self,
        command: &Command,
        stdin: Option<&str>,
        line: &mut dyn FnMut(&str),
    ) -> io::Result<Option<i32>>;

    /// Write a whole file atomically (parent directories are created),
    /// with `mode`.
    fn write_file(&mut self, path: &Path, mode: u32, content: &[u8]) -> io::Result<()>;

    /// Make `path` a symbolic link to `target`, replacing what was there.
    fn symlink(&mut self, path: &Path, target: &str) -> io::Result<()>;

    /// The disk a `/dev/...` path (by-id, by-path, kernel name) leads to
    /// now, `None` if it leads nowhere.
    fn disk_identity(&mut self, path: &str) -> io::Result<Option<DiskIdentity>>;

    /// Flush everything written to the filesystem that holds `path` to
    /// its disk (what a step wrote, before the step is journaled done).
    fn sync(&mut self, path: &Path) -> io::Result<()>;
}

/// How long one command of a plan may run before it counts as hung and is
/// killed. The longest, copying the system, takes minutes.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60 * 60);

/// The machine the installer runs on ([`OnEffects`] over the real
/// machine, each command limited to [`COMMAND_LIMIT`]); made by
/// `LiveSystem::live()`.
pub type LiveSystem = OnEffects<Machine>;

impl LiveSystem {
    pub fn live() -> LiveSystem {
        OnEffects::new(Machine, COMMAND_LIMIT)
    }
}

/// The engine's [`System`] on the installer's one [`Effects`]: commands and
/// file writes go through it (each command limited to `limit`); links,
/// disk identities and syncs are read and made on this machine.
#[derive(Debug, Clone)]
pub struct OnEffects<E> {
    effects: E,
    limit: Duration,
}

impl<E: Effects> OnEffects<E> {
    pub fn new(effects: E, limit: Duration) -> OnEffects<E> {
        OnEffects { effects, limit }
    }

    pub fn effects(&self) -> &E {
        &self.effects
    }
}

impl<E: Effects> System for OnEffects<E> {
    fn run(
        &mut self,
        command: &Command,
        stdin: Option<&str>,
        line: &mut dyn FnMut(&str),
    ) -> io::Result<Option<i32>> {
        let Some((program, args)) = command.argv.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
        };
        let cmd = Invocation {
            program,
            args,
            // Commands must never wait for a person: without input, stdin
            // is closed.
            input: stdin.map(str::as_bytes),
            limit: self.limit,
            // The log shows the lines in the order they were printed.
            merge_stderr: true,
        };
        match self.effects.run(&cmd, &mut |l| line(l.text)) {
            Ok(ran) => Ok(ran.status),
            // The engine says the command could not be started, and why.
            Err(RunError::Spawn { source, .. }) => Err(source),
            Err(e) => Err(e.into()),
        }
    }

    fn write_file(&mut self, path: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
        self.effects.write_file(path, mode, content)
    }

    fn symlink(&mut self, path: &Path, target: &str) -> io::Result<()> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => std::fs::remove_file(path)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        symlink(target, path)
    }

    fn sync(&mut self, path: &Path) -> io::Result<()> {
        // syncfs(2) of the filesystem that holds `path`.
        let cmd = Command::new(["sync", "-f", &path.display().to_string()]);
        let mut out = Vec::new();
        match self.run(&cmd, None, &mut |l| out.push(l.to_string()))? {
            Some(0) => Ok(()),
            status => Err(io::Error::other(format!(
                "{cmd} ended with {status:?}: {}",
                out.join(" ")
            ))),
        }
    }

    fn disk_identity(&mut self, path: &str) -> io::Result<Option<DiskIdentity>> {
        let resolved =
            tappaas_hardware::resolve_disk(Path::new("/"), path).map_err(io::Error::other)?;
        Ok(resolved.map(|r| DiskIdentity {
            device: r.disk.device,
            kernel_name: r.disk.name,
            serial: r.disk.serial,
            size_bytes: r.disk.size_bytes,
            shared_with: r.shared_with,
            boot_id: r.boot_id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn run(argv: &[&str], stdin: Option<&str>) -> (io::Result<Option<i32>>, Vec<String>) {
        let mut lines = Vec::new();
        let r = LiveSystem::live().run(&Command::new(argv.iter().copied()), stdin, &mut |l| {
            lines.push(l.to_string())
        });
        (r, lines)
    }

    #[test]
    fn runs_real_commands_with_output_stdin_and_status() {
        let (r, lines) = run(&["sh", "-c", "echo out; echo err >&2; exit 3"], None);
        assert_eq!(r.expect("ran"), Some(3));
        assert_eq!(lines, ["out", "err"]);
        let (r, lines) = run(&["cat"], Some("root:secret\n"));
        assert_eq!(r.expect("ran"), Some(0));
        assert_eq!(lines, ["root:secret"]);
        // Without stdin a command reading it sees end of file at once.
        let (r, lines) = run(&["cat"], None);
        assert_eq!((r.expect("ran"), lines.len()), (Some(0), 0));
        let (r, _) = run(&["/nonexistent/program"], None);
        assert!(r.is_err(), "a command that cannot start is an error");
    }

    #[test]
    fn syncs_a_filesystem_and_reports_a_missing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        LiveSystem::live().sync(dir.path()).expect("sync");
        assert!(LiveSystem::live().sync(&dir.path().join("gone")).is_err());
    }

    #[test]
    fn writes_files_with_mode_and_replaces_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("etc/tappaas/answer.toml");
        LiveSystem::live()
            .write_file(&f, 0o600, b"x = 1\n")
            .expect("write");
        let meta = std::fs::metadata(&f).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "x = 1\n");
        let l = dir.path().join("etc/localtime");
        std::fs::write(&l, "old").expect("write");
        LiveSystem::live()
            .symlink(&l, "/usr/share/zoneinfo/UTC")
            .expect("link");
        LiveSystem::live()
            .symlink(&l, "/usr/share/zoneinfo/Europe/Amsterdam")
            .expect("relink");
        assert_eq!(
            std::fs::read_link(&l).expect("readlink"),
            Path::new("/usr/share/zoneinfo/Europe/Amsterdam")
        );
    }
}

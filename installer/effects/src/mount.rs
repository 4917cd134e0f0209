//! Mounting a filesystem for a while: the guard undoes only what it did.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::command::{self, Invocation};

/// How long `mount` or `umount` may take.
const MOUNT_LIMIT: Duration = Duration::from_secs(120);

/// What to mount where: `mount [-t FSTYPE] [-o OPTIONS] SOURCE TARGET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: String,
    pub target: PathBuf,
    pub fstype: Option<String>,
    pub options: Option<String>,
}

impl MountSpec {
    pub fn new(source: impl Into<String>, target: impl Into<PathBuf>) -> MountSpec {
        MountSpec {
            source: source.into(),
            target: target.into(),
            fstype: None,
            options: None,
        }
    }

    pub fn fstype(mut self, fstype: impl Into<String>) -> MountSpec {
        self.fstype = Some(fstype.into());
        self
    }

    pub fn options(mut self, options: impl Into<String>) -> MountSpec {
        self.options = Some(options.into());
        self
    }

    /// The arguments after `mount`.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(t) = &self.fstype {
            args.extend(["-t".to_string(), t.clone()]);
        }
        if let Some(o) = &self.options {
            args.extend(["-o".to_string(), o.clone()]);
        }
        args.push(self.source.clone());
        args.push(self.target.display().to_string());
        args
    }
}

type Unmount = Box<dyn FnOnce(&Path) -> io::Result<()> + Send>;

/// A mounted filesystem. Dropping it unmounts what [`Effects::mount`]
/// mounted, ignoring a failure; [`Mount::close`] reports it.
///
/// [`Effects::mount`]: crate::Effects::mount
pub struct Mount {
    target: PathBuf,
    /// `None`: the target was mounted before, or is unmounted already.
    unmount: Option<Unmount>,
}

impl Mount {
    /// A mount this guard undoes with `unmount`.
    pub fn mounted_here(target: PathBuf, unmount: Unmount) -> Mount {
        Mount {
            target,
            unmount: Some(unmount),
        }
    }

    /// A target mounted by someone else: left alone.
    pub fn found_mounted(target: PathBuf) -> Mount {
        Mount {
            target,
            unmount: None,
        }
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Whether this guard mounted it (and so will unmount it).
    pub fn is_ours(&self) -> bool {
        self.unmount.is_some()
    }

    /// Unmount now if this guard mounted it, and say whether that worked.
    pub fn close(mut self) -> io::Result<()> {
        match self.unmount.take() {
            Some(unmount) => unmount(&self.target),
            None => Ok(()),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(unmount) = self.unmount.take() {
            let _ = unmount(&self.target);
        }
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("target", &self.target)
            .field("ours", &self.is_ours())
            .finish()
    }
}

pub(crate) fn mount(spec: &MountSpec) -> io::Result<Mount> {
    if is_mount_point(&spec.target)? {
        return Ok(Mount::found_mounted(spec.target.clone()));
    }
    checked("mount", &spec.args())?;
    Ok(Mount::mounted_here(
        spec.target.clone(),
        Box::new(|target: &Path| checked("umount", &[target.display().to_string()])),
    ))
}

/// Runs a mount tool; anything but exit status 0 is an error with what it
/// printed.
fn checked(program: &str, args: &[String]) -> io::Result<()> {
    let cmd = Invocation {
        program,
        args,
        input: None,
        limit: MOUNT_LIMIT,
        merge_stderr: true,
    };
    let ran = command::run(&cmd, &mut |_| {})?;
    match ran.status {
        Some(0) => Ok(()),
        status => Err(io::Error::other(format!(
            "`{}` failed ({}): {}",
            cmd.display(),
            status.map_or("killed by a signal".into(), |s| format!("exit status {s}")),
            ran.tail.join(" / ")
        ))),
    }
}

/// Whether something is mounted on `target` now (per this process's view
/// of the mounts).
pub fn is_mount_point(target: &Path) -> io::Result<bool> {
    let target = match target.canonicalize() {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mount_points(&text).contains(&target))
}

/// The mount points of a `/proc/self/mountinfo` text (its fifth field,
/// with the kernel's octal escapes for space, tab, newline and backslash
/// undone).
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mount_points_with_escapes() {
        let text = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 22 0:30 / /media/my\\040stick rw - vfat /dev/sdb1 rw
36 22 0:31 / /a\\134b rw - tmpfs tmpfs rw
";
        assert_eq!(
            mount_points(text),
            [
                PathBuf::from("/"),
                PathBuf::from("/media/my stick"),
                PathBuf::from("/a\\b")
            ]
        );
    }

    #[test]
    fn the_mount_command_line() {
        let spec = MountSpec::new("/dev/sdb1", "/run/usb")
            .fstype("vfat")
            .options("rw");
        assert_eq!(
            spec.args(),
            ["-t", "vfat", "-o", "rw", "/dev/sdb1", "/run/usb"]
        );
    }

    #[test]
    fn the_root_is_a_mount_point_and_a_missing_folder_is_not() {
        assert!(is_mount_point(Path::new("/")).expect("read"));
        assert!(!is_mount_point(Path::new("/nonexistent/folder")).expect("read"));
    }
}

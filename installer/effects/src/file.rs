//! Writing a file so that a power cut leaves the old one or the new one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Replace `path` whole with `content`, mode `mode`, creating its parent
/// directories: a temporary file beside it gets the mode (before any
/// content, so a secret is never readable by others), the content, an
/// fsync; then the rename and an fsync of the directory, so that the new
/// name is on the disk too. On an error the old file is left as it was.
pub fn write_atomic(path: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let tmp = temp_path(path)?;
    // A left-over of a write a power cut interrupted.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = write_new(&tmp, mode, content).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)?.sync_all()
}

/// `.NAME.tappaas-new` beside `path`.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(".tappaas-new");
    Ok(path.with_file_name(tmp))
}

fn write_new(tmp: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)?;
    // The mode at creation is narrowed by the umask: set it exactly.
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.write_all(content)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_mode_exactly_and_replaces_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("etc/tappaas/answer.toml");
        write_atomic(&f, 0o600, b"old").expect("write");
        // 0664 would lose its group write bit to a 022 umask.
        write_atomic(&f, 0o664, b"x = 1\n").expect("write");
        let meta = fs::metadata(&f).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o664);
        assert_eq!(fs::read_to_string(&f).expect("read"), "x = 1\n");
        let left: Vec<_> = fs::read_dir(f.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["answer.toml"], "no temporary file is left");
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        assert!(write_atomic(Path::new("/"), 0o600, b"x").is_err());
    }
}

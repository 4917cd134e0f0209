//! Small helpers to read sysfs/procfs attribute files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::ProbeError;

fn read_error(path: &Path, source: io::Error) -> ProbeError {
    ProbeError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// A file that must exist.
pub(crate) fn read_required(path: &Path) -> Result<String, ProbeError> {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| read_error(path, e))
}

/// A file that may be absent (a disk without a serial is normal). Other
/// read errors still surface: they mean the machine is not what we think.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, ProbeError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if device_has_no_value(&e) => Ok(None),
        Err(e) => Err(read_error(path, e)),
    }
}

/// Errors with which sysfs says "this device has no such value": the file
/// is listed but reading it fails. A USB stick's `device/wwid` gives ENXIO,
/// a NIC that is down gives EINVAL for `speed`. Not a permission problem,
/// which still surfaces.
fn device_has_no_value(e: &io::Error) -> bool {
    const EIO: i32 = 5;
    const ENXIO: i32 = 6;
    const ENODEV: i32 = 19;
    const EINVAL: i32 = 22;
    const EOPNOTSUPP: i32 = 95;
    e.kind() == io::ErrorKind::NotFound
        || matches!(
            e.raw_os_error(),
            Some(EIO | ENXIO | ENODEV | EINVAL | EOPNOTSUPP)
        )
}

/// An optional one-line attribute, trimmed; empty counts as absent
/// (sysfs pads `model` with spaces and leaves `serial` empty when unknown).
pub(crate) fn attr(path: &Path) -> Result<Option<String>, ProbeError> {
    Ok(read_optional(path)?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty()))
}

/// A required numeric attribute.
pub(crate) fn required_u64(path: &Path) -> Result<u64, ProbeError> {
    let text = read_required(path)?;
    parse_u64(path, &text)
}

/// An optional numeric attribute.
pub(crate) fn optional_u64(path: &Path) -> Result<Option<u64>, ProbeError> {
    attr(path)?.map(|text| parse_u64(path, &text)).transpose()
}

fn parse_u64(path: &Path, text: &str) -> Result<u64, ProbeError> {
    let text = text.trim();
    text.parse()
        .map_err(|_| ProbeError::parse(path, format!("expected a number, found {text:?}")))
}

/// Names of the entries of a directory that must exist, sorted.
pub(crate) fn list_dir(path: &Path) -> Result<Vec<String>, ProbeError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(path).map_err(|e| read_error(path, e))? {
        let entry = entry.map_err(|e| read_error(path, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The target of a symlink, when `path` is one.
pub(crate) fn link_target(path: &Path) -> Option<PathBuf> {
    fs::read_link(path).ok()
}

/// The last component of a symlink's target: how sysfs names a driver
/// (`device/driver -> ../../bus/pci/drivers/igc`).
pub(crate) fn link_basename(path: &Path) -> Option<String> {
    link_target(path)
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_a_device_does_not_have_are_absent_not_errors() {
        for errno in [5, 6, 19, 22, 95] {
            assert!(
                device_has_no_value(&io::Error::from_raw_os_error(errno)),
                "errno {errno}"
            );
        }
        assert!(device_has_no_value(&io::Error::from(
            io::ErrorKind::NotFound
        )));
        // EACCES: not root, or a sandbox: the caller must hear of it.
        assert!(!device_has_no_value(&io::Error::from_raw_os_error(13)));
    }
}

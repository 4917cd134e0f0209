//! Root-only files written whole (the summary, the credentials, the
//! services' state, files on the node a step writes): apart from the
//! summary, so that writing them needs nothing of it.

use std::path::Path;

/// Write `text` to `path`, readable by root only, replacing any older copy
/// whole (a half-written summary is never left behind).
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    tappaas_effects::write_atomic(path, 0o600, text.as_bytes())
}

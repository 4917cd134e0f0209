//! The four targets and the fixtures they start from.

mod answer;
mod console;
mod machine;
mod proxmox;

use std::fs;
use std::path::{Path, PathBuf};

pub use answer::AnswerTarget;
pub use console::{ConsoleScript, ConsoleTarget};
pub use machine::{Edit, MachineCase, MachineTarget};
pub use proxmox::{ProxmoxCase, ProxmoxTarget, CALLS};

use serde::{Deserialize, Serialize};

use crate::target::Target;

/// Text when it is UTF-8 (readable in a saved case), else the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bytes {
    Text(String),
    Raw(Vec<u8>),
}

impl Bytes {
    pub fn new(bytes: Vec<u8>) -> Bytes {
        match String::from_utf8(bytes) {
            Ok(s) => Bytes::Text(s),
            Err(e) => Bytes::Raw(e.into_bytes()),
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Text(s) => s.as_bytes(),
            Bytes::Raw(b) => b,
        }
    }
}

pub const TARGET_NAMES: &[&str] = &["answer", "machine", "console", "proxmox"];

/// The repository's test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The files of `dir` with extension `ext`, sorted by name, with their
/// text.
pub(crate) fn read_texts(dir: &Path, ext: &str) -> Vec<(PathBuf, String)> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| fs::read_to_string(&p).ok().map(|t| (p, t)))
        .collect()
}

/// The recorded machines (`tests/fixtures/machines/*/`), sorted.
pub(crate) fn machine_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixtures().join("machines"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("sysroot").is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A target by its name.
pub fn target_by_name(name: &str) -> Result<Box<dyn Target>, String> {
    Ok(match name {
        "answer" => Box::new(AnswerTarget::new()?),
        "machine" => Box::new(MachineTarget::new()?),
        "console" => Box::new(ConsoleTarget::new()),
        "proxmox" => Box::new(ProxmoxTarget::new()),
        other => {
            return Err(format!(
                "unknown target '{other}' (targets: {})",
                TARGET_NAMES.join(", ")
            ))
        }
    })
}

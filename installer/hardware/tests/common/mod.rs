//! Helpers the probe tests share.

use std::fs;
use std::path::Path;

use tappaas_hardware::{Disk, MachineProfile};

pub fn disk<'a>(p: &'a MachineProfile, name: &str) -> &'a Disk {
    p.disk(name)
        .unwrap_or_else(|| panic!("no disk {name} in {:?}", names(p)))
}

pub fn names(p: &MachineProfile) -> Vec<&str> {
    p.disks.iter().map(|d| d.name.as_str()).collect()
}

/// Write `text` to `rel` below `root`, making its directories.
pub fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

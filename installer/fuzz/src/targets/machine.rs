//! Recorded machines with odd values: a copy of a fixture's sysroot
//! (tests/fixtures/machines/*/sysroot) with a few files changed (emptied,
//! huge, negative, not UTF-8, cut, garbled), removed, or turned into a
//! directory or a symlink, then `probe` on it and, when it reads, the
//! machine's golden answer planned on the profile.
//!
//! The copies live in one scratch directory (in /dev/shm when there is
//! one) for the whole run; each case's edits are undone at the start of
//! the next from the repository's fixture, so a case that panics leaves
//! nothing behind.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use tappaas_answer::Answer;
use tappaas_hardware::{probe, MachineProfile};
use tappaas_plan::{plan, Environment, Flavour};

use super::{fixtures, machine_names, Bytes};
use crate::mutate::{mutate_some, ODD_NUMBERS};
use crate::rng::Rng;
use crate::target::{Outcome, Target};

/// One change to a sysroot; `path` is relative to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Edit {
    /// The file's bytes replaced (created if absent).
    Write { path: String, bytes: Bytes },
    /// Gone, whatever it was.
    Remove { path: String },
    /// An empty directory where a file was.
    Directory { path: String },
    /// A symlink, `target` relative to the sysroot (itself: a loop).
    Symlink { path: String, target: String },
}

/// One case: which machine, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineCase {
    pub machine: String,
    pub edits: Vec<Edit>,
}

/// Words of /proc, sysfs, the udev database and networkd's leases.
const TOKENS: &[&str] = &[
    "\n",
    "\n\n",
    ":",
    "=",
    " ",
    "\t",
    "\\",
    "\\040",
    "\\x20",
    "\\x",
    "\\xZZ",
    "-",
    "/",
    "E:ID_FS_TYPE=zfs_member\n",
    "E:ID_FS_LABEL=rpool\n",
    "E:ID_FS_LABEL_ENC=TAPPAAS\\x5fINSTALLER\n",
    "E:ID_FS_TYPE=iso9660\n",
    "E:ID_FS_LABEL=TAPPAAS_INSTALLER\n",
    "E:ID_BUS=usb\n",
    "E:ID_BUS=scsi\n",
    "E:ID_BUS=ata\n",
    "E:ID_PATH=pci-0000:00:1f.2-sas-0x5000\n",
    "E:ID_PART_TABLE_TYPE=gpt\n",
    "E:ID_SERIAL=\n",
    "E:ID_MODEL_ENC=\\x20\\x20\n",
    "E:ID_WWN=0x\n",
    "E:\n",
    "S:\n",
    "S:disk/by-id/\n",
    "S:disk/by-id/ata-X_1\n",
    "S:disk/by-id/a/b\n",
    "S:disk/by-label/TAPPAAS_INSTALLER\n",
    "MemTotal:",
    "MemTotal: 1 MB\n",
    " kB",
    "processor\t: 0\n",
    "physical id\t: 0\n",
    "core id\t: 0\n",
    "cpu cores\t: 0\n",
    "cpu cores\t: 4294967295\n",
    "model name\t: \n",
    "flags\t\t: vmx svm\n",
    "ADDRESS=",
    "NETMASK=255.0.255.0\n",
    "NETMASK=",
    "ROUTER=",
    "DNS=",
    "DOMAINNAME=\n",
    "ADDRESS=10.0.0.300\n",
    "/dev/sr0 /run/live/medium iso9660 ro 0 0\n",
    "/run/live/medium",
    "/dev/disk/by-label/TAPPAAS_INSTALLER /run/live/medium vfat ro 0 0\n",
    "8:0",
    "259:0",
    ":0",
    "8:",
    "naa.",
    "eui.",
    "t10.",
    "nvme.",
    "1",
    "0",
    "-1",
    "up",
    "down",
    "ff:ff:ff:ff:ff:ff",
];

/// Names a sysfs directory may hold: added where absent.
const NEW_FILES: &[&str] = &[
    "hidden",
    "size",
    "dev",
    "partition",
    "removable",
    "serial",
    "wwid",
    "speed",
    "carrier",
    "ifindex",
    "address",
    "model",
    "device",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Link,
    Dir,
}

/// A machine: its pristine tree's entries and the answer to plan.
struct Machine {
    /// Relative path -> kind and (for files) contents.
    entries: BTreeMap<String, (Kind, Vec<u8>)>,
    answer: Option<Answer>,
    env: Environment,
}

pub struct MachineTarget {
    machines: BTreeMap<String, Machine>,
    names: Vec<String>,
    scratch: tempfile::TempDir,
    /// Paths changed by the last case, undone before the next.
    dirty: Vec<(String, String)>,
}

fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<String, (Kind, Vec<u8>)>) -> io::Result<()> {
    for entry in fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let rel = rel.join(entry.file_name());
        let key = rel.to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            out.insert(key, (Kind::Link, Vec::new()));
        } else if kind.is_dir() {
            out.insert(key, (Kind::Dir, Vec::new()));
            walk(root, &rel, out)?;
        } else {
            out.insert(key, (Kind::File, fs::read(root.join(&rel))?));
        }
    }
    Ok(())
}

/// Copy `from` to `to`: files, directories and symlinks as they are.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else if meta.is_dir() {
        fs::create_dir(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::copy(from, to).map(drop)
    }
}

/// Remove whatever is at `path` (a symlink itself, not its target).
fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A relative path that stays inside the sysroot and passes through no
/// symlink (so an edit changes only the path it names, and undoing it
/// restores everything).
fn safe_path(sysroot: &Path, rel: &str) -> Option<PathBuf> {
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let mut at = sysroot.to_path_buf();
    let parts: Vec<_> = rel_path.components().collect();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        let meta = fs::symlink_metadata(&at).ok()?;
        if !meta.is_dir() {
            return None;
        }
    }
    Some(sysroot.join(rel_path))
}

fn apply(sysroot: &Path, edit: &Edit) -> io::Result<()> {
    let rel = match edit {
        Edit::Write { path, .. }
        | Edit::Remove { path }
        | Edit::Directory { path }
        | Edit::Symlink { path, .. } => path,
    };
    let Some(full) = safe_path(sysroot, rel) else {
        return Ok(());
    };
    remove_any(&full)?;
    match edit {
        Edit::Write { bytes, .. } => fs::write(&full, bytes.as_slice()),
        Edit::Remove { .. } => Ok(()),
        Edit::Directory { .. } => fs::create_dir(&full),
        Edit::Symlink { target, .. } => {
            // Relative to the link's directory, so the copy can move.
            if target.contains("..") || target.starts_with('/') {
                return Ok(());
            }
            let depth = Path::new(rel).components().count() - 1;
            let up = "../".repeat(depth);
            std::os::unix::fs::symlink(format!("{up}{target}"), &full)
        }
    }
}

fn load_machine(root: &Path, name: &str) -> Result<Machine, String> {
    let sysroot = root.join("machines").join(name).join("sysroot");
    let mut entries = BTreeMap::new();
    walk(&sysroot, Path::new(""), &mut entries)
        .map_err(|e| format!("{}: {e}", sysroot.display()))?;
    let case = root.join("plans").join(name);
    let answer = fs::read_to_string(case.join("answer.toml"))
        .ok()
        .map(|text| {
            tappaas_answer::parse(&text)
                .map_err(|e| format!("{}/answer.toml does not parse: {e:?}", case.display()))
        })
        .transpose()?;
    let mut env = Environment::default();
    if fs::read_to_string(case.join("flavour")).is_ok_and(|f| f.trim() == "test") {
        env.flavour = Flavour::Test;
        env.target_image = "/run/live/medium/.tappaas/target-test.squashfs".into();
    }
    Ok(Machine {
        entries,
        answer,
        env,
    })
}

/// An odd value for a file that held `original`.
fn odd_value(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let tokens: Vec<&[u8]> = TOKENS.iter().map(|t| t.as_bytes()).collect();
    let newline = |mut v: Vec<u8>, rng: &mut Rng| {
        if rng.chance(1, 2) {
            v.push(b'\n');
        }
        v
    };
    match rng.below(16) {
        0 => Vec::new(),
        1 | 2 => newline(rng.pick(ODD_NUMBERS).as_bytes().to_vec(), rng),
        3 => {
            let mut v = b"-".to_vec();
            v.extend_from_slice(original);
            v
        }
        4 => {
            // Not UTF-8: the original with invalid bytes, or noise.
            let mut v = original.to_vec();
            let at = rng.below(v.len() + 1);
            v.splice(at..at, [0xff, 0xfe, 0xc3]);
            if rng.chance(1, 3) {
                let n = rng.below(64);
                v = rng.bytes(n);
            }
            v
        }
        5 => rng
            .pick(&[&b" \n"[..], b"\n\n\n", b"\0", b"\t", b"   "])
            .to_vec(),
        6 => {
            // Long: a huge number, or the original many times over.
            if rng.chance(1, 2) {
                let n = rng.between(20, 5000);
                newline(vec![b'9'; n], rng)
            } else {
                let times = rng.between(2, 200);
                original.repeat(times).into_iter().take(1 << 16).collect()
            }
        }
        _ => {
            let mut v = original.to_vec();
            mutate_some(rng, &mut v, &tokens, 4);
            v
        }
    }
}

impl MachineTarget {
    pub fn new() -> Result<MachineTarget, String> {
        let root = fixtures();
        let names = machine_names();
        if names.is_empty() {
            return Err(format!("no recorded machines under {}", root.display()));
        }
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let scratch = tempfile::Builder::new()
            .prefix("tappaas-fuzz-machines-")
            .tempdir_in(base)
            .map_err(|e| format!("scratch directory: {e}"))?;
        let mut machines = BTreeMap::new();
        for name in &names {
            let from = root.join("machines").join(name).join("sysroot");
            copy_tree(&from, &scratch.path().join(name))
                .map_err(|e| format!("copying {}: {e}", from.display()))?;
            machines.insert(name.clone(), load_machine(&root, name)?);
        }
        Ok(MachineTarget {
            machines,
            names,
            scratch,
            dirty: Vec::new(),
        })
    }

    fn sysroot(&self, machine: &str) -> PathBuf {
        self.scratch.path().join(machine)
    }

    /// Undo the last case's edits from the repository's fixture.
    fn restore(&mut self) {
        let pristine = fixtures().join("machines");
        while let Some((machine, rel)) = self.dirty.pop() {
            let full = self.sysroot(&machine).join(&rel);
            // Under a directory a later edit removed: restoring that
            // directory (next in this loop) brings the path back too.
            if full.parent().is_some_and(|p| !p.is_dir()) {
                continue;
            }
            let from = pristine.join(&machine).join("sysroot").join(&rel);
            let undone = remove_any(&full).and_then(|()| match fs::symlink_metadata(&from) {
                Ok(_) => copy_tree(&from, &full),
                Err(_) => Ok(()),
            });
            if let Err(e) = undone {
                // A half-restored copy would make every later case wrong.
                panic!("cannot restore {}: {e}", full.display());
            }
        }
    }

    fn generate_edit(&self, rng: &mut Rng, m: &Machine) -> Edit {
        let entries: Vec<(&String, &(Kind, Vec<u8>))> = m.entries.iter().collect();
        let pick_kind = |rng: &mut Rng, want: Kind| {
            let of_kind: Vec<_> = entries.iter().filter(|(_, (k, _))| *k == want).collect();
            (!of_kind.is_empty()).then(|| **rng.pick(&of_kind))
        };
        let roll = rng.below(100);
        if roll < 5 {
            // A file sysfs could have but this machine has not.
            if let Some((dir, _)) = pick_kind(rng, Kind::Dir) {
                let path = format!("{dir}/{}", rng.pick(NEW_FILES));
                let bytes = odd_value(rng, b"1\n");
                return Edit::Write {
                    path,
                    bytes: Bytes::new(bytes),
                };
            }
        }
        if roll < 12 {
            if let Some((path, _)) = pick_kind(rng, Kind::Link) {
                let path = path.clone();
                return match rng.below(3) {
                    0 => Edit::Remove { path },
                    1 => Edit::Symlink {
                        target: path.clone(),
                        path,
                    },
                    _ => Edit::Symlink {
                        path,
                        target: "nowhere".into(),
                    },
                };
            }
        }
        if roll < 15 {
            if let Some((path, _)) = pick_kind(rng, Kind::Dir) {
                return Edit::Remove { path: path.clone() };
            }
        }
        let Some((path, (_, original))) = pick_kind(rng, Kind::File) else {
            return Edit::Remove {
                path: "proc".into(),
            };
        };
        let path = path.clone();
        match rng.below(20) {
            0 | 1 => Edit::Remove { path },
            2 => Edit::Directory { path },
            3 => {
                // A link to another file or directory of the machine, or
                // to itself.
                let (target, _) = rng.pick(&entries);
                let target = if rng.chance(1, 3) {
                    path.clone()
                } else {
                    (*target).clone()
                };
                Edit::Symlink { path, target }
            }
            _ => Edit::Write {
                path,
                bytes: Bytes::new(odd_value(rng, original)),
            },
        }
    }
}

impl MachineTarget {
    /// Every machine unchanged, as inputs: each must probe.
    pub fn seed_inputs(&self) -> Vec<Vec<u8>> {
        self.names
            .iter()
            .map(|machine| {
                let case = MachineCase {
                    machine: machine.clone(),
                    edits: Vec::new(),
                };
                serde_json::to_vec(&case).unwrap_or_default()
            })
            .collect()
    }
}

impl Drop for MachineTarget {
    fn drop(&mut self) {
        // The scratch directory goes with the TempDir; nothing to undo.
        self.dirty.clear();
    }
}

impl Target for MachineTarget {
    fn name(&self) -> &'static str {
        "machine"
    }

    fn extension(&self) -> &'static str {
        "json"
    }

    fn generate(&mut self, rng: &mut Rng) -> Vec<u8> {
        let machine = rng.pick(&self.names).clone();
        let m = &self.machines[&machine];
        // Mostly one or two odd values, sometimes many.
        let n = if rng.chance(1, 8) {
            rng.between(3, 12)
        } else {
            rng.between(1, 2)
        };
        let edits = (0..n).map(|_| self.generate_edit(rng, m)).collect();
        let case = MachineCase { machine, edits };
        serde_json::to_vec(&case).unwrap_or_default()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        self.restore();
        let Ok(case) = serde_json::from_slice::<MachineCase>(input) else {
            return Outcome::Refused;
        };
        if !self.machines.contains_key(&case.machine) {
            return Outcome::Refused;
        }
        let sysroot = self.sysroot(&case.machine);
        for edit in &case.edits {
            let (Edit::Write { path, .. }
            | Edit::Remove { path }
            | Edit::Directory { path }
            | Edit::Symlink { path, .. }) = edit;
            self.dirty.push((case.machine.clone(), path.clone()));
            // An edit that cannot be made (its directory is gone) is
            // skipped: the case is still a machine to probe.
            let _ = apply(&sysroot, edit);
        }
        let profile = match probe(&sysroot) {
            Ok(p) => p,
            Err(_) => return Outcome::Refused,
        };
        let _ = tappaas_hardware::render_text(&profile);
        let json = serde_json::to_string(&profile).unwrap_or_default();
        let _ = MachineProfile::from_json(&json);
        let m = &self.machines[&case.machine];
        if let Some(answer) = &m.answer {
            if let Ok(p) = plan(&profile, answer, &m.env) {
                let _ = tappaas_plan::render_text(&p);
            }
        }
        Outcome::Accepted
    }
}

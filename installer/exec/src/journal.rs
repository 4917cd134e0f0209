//! A run's journal (the install's, first boot's, `services deploy`'s):
//! which steps of which plan have started and finished.
//!
//! JSON lines, appended and flushed to the disk one record at a time, so a
//! power cut loses at most the record being written. The first line names
//! the plan by its digest; a journal of another plan is never resumed.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "record")]
enum Record {
    Plan { digest: String },
    Started { step: String, unix_time: u64 },
    Done { step: String, unix_time: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("reading the journal {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("writing the journal {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "the journal {path} belongs to another plan (digest {found}); this plan is {expected}"
    )]
    OtherPlan {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

#[derive(Debug)]
pub struct Journal {
    /// Every place the journal is kept; records go to each that can take
    /// them (the live system's RAM, and the installed disk once it exists).
    paths: Vec<PathBuf>,
    digest: String,
    done: BTreeSet<String>,
}

impl Journal {
    /// Open the journal at `path` for the plan with `digest`, reading what
    /// an earlier run recorded there.
    pub fn open(path: &Path, digest: &str) -> Result<Journal, JournalError> {
        let mut journal = Journal {
            paths: vec![path.to_path_buf()],
            digest: digest.to_string(),
            done: BTreeSet::new(),
        };
        match read_records(path)? {
            None => journal.append(&Record::Plan {
                digest: digest.to_string(),
            })?,
            Some(records) => {
                if let Some(Record::Plan { digest: found }) = records.first() {
                    if found != digest {
                        return Err(JournalError::OtherPlan {
                            path: path.to_path_buf(),
                            found: found.clone(),
                            expected: digest.to_string(),
                        });
                    }
                }
                for r in records {
                    if let Record::Done { step, .. } = r {
                        journal.done.insert(step);
                    }
                }
            }
        }
        Ok(journal)
    }

    /// The plan digest recorded in the journal at `path`, if there is one.
    pub fn digest_at(path: &Path) -> Result<Option<String>, JournalError> {
        Ok(
            read_records(path)?.and_then(|r| match r.into_iter().next() {
                Some(Record::Plan { digest }) => Some(digest),
                _ => None,
            }),
        )
    }

    pub fn is_done(&self, step: &str) -> bool {
        self.done.contains(step)
    }

    pub fn started(&mut self, step: &str) -> Result<(), JournalError> {
        self.append(&Record::Started {
            step: step.to_string(),
            unix_time: now(),
        })
    }

    pub fn done(&mut self, step: &str) -> Result<(), JournalError> {
        self.done.insert(step.to_string());
        self.append(&Record::Done {
            step: step.to_string(),
            unix_time: now(),
        })
    }

    /// Keep the journal at `path` too, from now on: it gets the whole
    /// journal so far, then every new record.
    pub fn also_keep_at(&mut self, path: &Path) -> Result<(), JournalError> {
        let mut records = vec![Record::Plan {
            digest: self.digest.clone(),
        }];
        records.extend(self.done.iter().map(|s| Record::Done {
            step: s.clone(),
            unix_time: now(),
        }));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        }
        // Whole or not at all: a copy cut short would lose records.
        let mut text = String::new();
        for r in &records {
            let line = serde_json::to_string(r).map_err(|e| JournalError::Write {
                path: path.to_path_buf(),
                source: io::Error::other(e),
            })?;
            text.push_str(&line);
            text.push('\n');
        }
        tappaas_effects::write_atomic(path, 0o644, text.as_bytes()).map_err(|source| {
            JournalError::Write {
                path: path.to_path_buf(),
                source,
            }
        })?;
        self.paths.push(path.to_path_buf());
        Ok(())
    }

    fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut written = false;
        let mut last_err = None;
        for path in &self.paths {
            // A copy whose disk has been unmounted (after the last step) is
            // no longer written; one copy must take every record.
            if path.parent().is_some_and(|d| !d.exists()) {
                continue;
            }
            match write_record(path, record) {
                Ok(()) => written = true,
                Err(e) => last_err = Some(e),
            }
        }
        match (written, last_err) {
            (true, _) => Ok(()),
            (false, Some(e)) => Err(e),
            (false, None) => Err(JournalError::Write {
                path: self.paths.first().cloned().unwrap_or_default(),
                source: io::Error::new(io::ErrorKind::NotFound, "no journal location is writable"),
            }),
        }
    }
}

fn write_record(path: &Path, record: &Record) -> Result<(), JournalError> {
    let err = |source| JournalError::Write {
        path: path.to_path_buf(),
        source,
    };
    let line = serde_json::to_string(record).map_err(|e| err(io::Error::other(e)))?;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    writeln!(f, "{line}").map_err(err)?;
    // Flushed to the disk before the step it records goes on.
    f.sync_all().map_err(err)
}

fn read_records(path: &Path) -> Result<Option<Vec<Record>>, JournalError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(JournalError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut records = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|source| JournalError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // A power cut can leave the last line half written: it recorded
        // nothing that happened, so it is skipped.
        if let Ok(r) = serde_json::from_str::<Record>(&line) {
            records.push(r);
        }
    }
    Ok(Some(records))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_what_was_done_and_refuses_another_plan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path, "abc").expect("open");
        j.started("one").expect("write");
        j.done("one").expect("write");
        j.started("two").expect("write");
        drop(j);

        let j = Journal::open(&path, "abc").expect("reopen");
        assert!(j.is_done("one"));
        assert!(!j.is_done("two"), "started but not done must run again");

        match Journal::open(&path, "other") {
            Err(JournalError::OtherPlan { found, .. }) => assert_eq!(found, "abc"),
            other => panic!("expected OtherPlan, got {other:?}"),
        }
        assert_eq!(Journal::digest_at(&path).expect("read"), Some("abc".into()));
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path, "abc").expect("open");
        j.done("one").expect("write");
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        write!(f, "{{\"record\":\"done\",\"st").expect("write");
        drop(f);
        let j = Journal::open(&path, "abc").expect("reopen");
        assert!(j.is_done("one"));
    }

    #[test]
    fn a_second_copy_takes_the_past_and_the_future() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ram = dir.path().join("run/journal.jsonl");
        std::fs::create_dir_all(dir.path().join("run")).expect("mkdir");
        let disk = dir.path().join("target/var/log/journal.jsonl");
        let mut j = Journal::open(&ram, "abc").expect("open");
        j.done("one").expect("write");
        j.also_keep_at(&disk).expect("copy");
        j.done("two").expect("write");
        let on_disk = Journal::open(&disk, "abc").expect("open copy");
        assert!(on_disk.is_done("one") && on_disk.is_done("two"));
        // The disk copy's folder goes away (unmounted): RAM still records.
        std::fs::remove_dir_all(dir.path().join("target")).expect("rm");
        j.done("three").expect("RAM copy still written");
        assert!(Journal::open(&ram, "abc").expect("open").is_done("three"));
    }
}

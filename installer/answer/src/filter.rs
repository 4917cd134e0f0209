//! Disk and NIC selection: udev-property filters with shell-style globs, and
//! `disk-list` entries.
//!
//! The glob matcher is our own small one rather than a crate: the answer
//! file needs only `*`, `?` and `[...]` classes, matched against a whole
//! property value, and keeping it here keeps the crate free of extra
//! dependencies. Its syntax is that of Proxmox's installer (which uses the
//! `glob` crate's `Pattern`): `*` any run of characters, `?` one character,
//! `[abc]`, `[a-z]`, `[!abc]` a class (`]` first in a class is literal, so
//! `[]]` matches `]`, and `[*]` matches a literal `*`).

use std::collections::BTreeMap;

use crate::{Filter, FilterMatch};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    toks: Vec<Tok>,
}

impl Glob {
    /// Compiles `pattern`; the error says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    // `**` means the same as `*`; one token keeps matching linear.
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                    i += 1;
                }
                '?' => {
                    toks.push(Tok::One);
                    i += 1;
                }
                '[' => {
                    let (tok, next) = class(&chars, i)?;
                    toks.push(tok);
                    i = next;
                }
                c => {
                    toks.push(Tok::Lit(c));
                    i += 1;
                }
            }
        }
        Ok(Glob { toks })
    }

    /// Whether the pattern matches the whole of `value`.
    pub fn matches(&self, value: &str) -> bool {
        let s: Vec<char> = value.chars().collect();
        let (mut p, mut v) = (0usize, 0usize);
        // Where to resume after the last `*`: (pattern index after it, value index).
        let mut resume: Option<(usize, usize)> = None;
        while v < s.len() {
            match self.toks.get(p) {
                Some(Tok::Star) => {
                    resume = Some((p + 1, v));
                    p += 1;
                }
                Some(t) if one_matches(t, s[v]) => {
                    p += 1;
                    v += 1;
                }
                _ => match resume {
                    // Let the last `*` swallow one more character and retry;
                    // later stars never need to revisit earlier ones.
                    Some((rp, rv)) => {
                        p = rp;
                        v = rv + 1;
                        resume = Some((rp, rv + 1));
                    }
                    None => return false,
                },
            }
        }
        self.toks[p.min(self.toks.len())..]
            .iter()
            .all(|t| *t == Tok::Star)
    }
}

/// Parses the class that starts at `chars[start] == '['`; returns the token
/// and the index after its `]`.
fn class(chars: &[char], start: usize) -> Result<(Tok, usize), String> {
    let mut i = start + 1;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("'[' is not closed by ']' (write [[] for a literal '[')".to_string());
        };
        if c == ']' && !first {
            return Ok((Tok::Class { negated, ranges }, i + 1));
        }
        first = false;
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|e| *e != ']') {
            let end = chars[i + 2];
            if end < c {
                return Err(format!("range '{c}-{end}' in [...] is reversed"));
            }
            ranges.push((c, end));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

fn one_matches(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Lit(l) => *l == c,
        Tok::One => true,
        Tok::Star => false,
        Tok::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
    }
}

/// Whether a device with udev properties `props` is selected by `filter`:
/// with [`FilterMatch::Any`] one entry must match, with
/// [`FilterMatch::All`] every entry. An entry matches when the property is
/// present and its glob matches the whole value. An empty filter, or a glob
/// that does not compile, selects nothing (never "everything").
pub fn filter_matches(
    filter: &Filter,
    mode: FilterMatch,
    props: &BTreeMap<String, String>,
) -> bool {
    if filter.is_empty() {
        return false;
    }
    let entry = |(key, pattern): (&String, &String)| {
        props
            .get(key)
            .is_some_and(|value| Glob::new(pattern).is_ok_and(|g| g.matches(value)))
    };
    match mode {
        FilterMatch::Any => filter.iter().any(entry),
        FilterMatch::All => filter.iter().all(entry),
    }
}

/// What a `disk-list` entry names once its `/dev/`, `/dev/disk/by-id/` or
/// `/dev/disk/by-path/` prefix is off: `sda`, a by-id or a by-path name.
pub(crate) fn disk_name(entry: &str) -> &str {
    entry
        .strip_prefix("/dev/disk/by-id/")
        .or_else(|| entry.strip_prefix("/dev/disk/by-path/"))
        .or_else(|| entry.strip_prefix("/dev/"))
        .unwrap_or(entry)
}

/// Whether a `disk-list` entry names the disk with kernel name
/// `kernel_name` (`sda`, or `/dev/sda`), by-id links `by_id` (names or
/// full `/dev/disk/by-id/` paths) and by-path link `by_path` (its name).
/// Entries may be a kernel name as in Proxmox (`sda`), `/dev/sda`, a by-id
/// name, `/dev/disk/by-id/NAME`, or `/dev/disk/by-path/NAME` (what the
/// installer names a disk without a serial by).
pub fn disk_list_entry_matches(
    entry: &str,
    kernel_name: &str,
    by_id: &[String],
    by_path: Option<&str>,
) -> bool {
    let entry = entry.trim();
    if entry.is_empty() {
        return false;
    }
    if let Some(id) = entry.strip_prefix("/dev/disk/by-id/") {
        return by_id.iter().any(|b| disk_name(b) == id);
    }
    if let Some(path) = entry.strip_prefix("/dev/disk/by-path/") {
        return by_path == Some(path);
    }
    let name = disk_name(entry);
    name == disk_name(kernel_name)
        || (!entry.starts_with("/dev/") && by_id.iter().any(|b| disk_name(b) == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, v: &str) -> bool {
        Glob::new(p).expect("pattern").matches(v)
    }

    #[test]
    fn globs_match_whole_values() {
        assert!(g("Samsung*", "Samsung_SSD_870"));
        assert!(!g("Samsung", "Samsung_SSD_870"));
        assert!(g("*870*", "Samsung_SSD_870_EVO"));
        assert!(g("*", ""));
        assert!(!g("?", ""));
        assert!(g("sd?", "sdb"));
        assert!(g("nvme[0-3]n1", "nvme2n1"));
        assert!(!g("nvme[!0-3]n1", "nvme2n1"));
        assert!(g("a[]]b", "a]b"));
        assert!(g("a[*]", "a*"));
        assert!(!g("a[*]", "ab"));
        assert!(g("*a*b*c", "xxaxxbxxbc"));
        assert!(!g("*a*b*c", "xxaxxbxxbcd"));
        assert!(g("**x", "yyx"));
        assert!(g("ü*", "über"));
    }

    #[test]
    fn bad_globs_are_errors() {
        assert!(Glob::new("abc[").is_err());
        assert!(Glob::new("[!").is_err());
        assert!(Glob::new("[z-a]").is_err());
        assert!(Glob::new("[a-]").is_ok());
    }

    #[test]
    fn filters_any_and_all() {
        let props: BTreeMap<String, String> = [("ID_MODEL", "Samsung_SSD"), ("ID_SERIAL", "S1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let f = |pairs: &[(&str, &str)]| -> Filter {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let one = f(&[("ID_MODEL", "Samsung*"), ("ID_SERIAL", "X*")]);
        assert!(filter_matches(&one, FilterMatch::Any, &props));
        assert!(!filter_matches(&one, FilterMatch::All, &props));
        let both = f(&[("ID_MODEL", "Samsung*"), ("ID_SERIAL", "S?")]);
        assert!(filter_matches(&both, FilterMatch::All, &props));
        let missing = f(&[("ID_WWN", "*")]);
        assert!(!filter_matches(&missing, FilterMatch::Any, &props));
        assert!(!filter_matches(&Filter::new(), FilterMatch::All, &props));
    }

    #[test]
    fn disk_list_entries() {
        let ids = vec![
            "ata-Samsung_SSD_S1".to_string(),
            "/dev/disk/by-id/wwn-0x5002".to_string(),
        ];
        assert!(disk_list_entry_matches("sda", "sda", &ids, None));
        assert!(disk_list_entry_matches("/dev/sda", "sda", &ids, None));
        assert!(disk_list_entry_matches("sda", "/dev/sda", &ids, None));
        assert!(disk_list_entry_matches(
            "ata-Samsung_SSD_S1",
            "sda",
            &ids,
            None
        ));
        assert!(disk_list_entry_matches(
            "/dev/disk/by-id/wwn-0x5002",
            "sda",
            &ids,
            None
        ));
        assert!(disk_list_entry_matches("wwn-0x5002", "sda", &ids, None));
        assert!(!disk_list_entry_matches("sdb", "sda", &ids, None));
        assert!(!disk_list_entry_matches(
            "/dev/disk/by-id/sda",
            "sda",
            &ids,
            None
        ));
        assert!(!disk_list_entry_matches(
            "/dev/ata-Samsung_SSD_S1",
            "sda",
            &ids,
            None
        ));
        assert!(!disk_list_entry_matches("", "sda", &ids, None));
        let slot = Some("pci-0000:00:04.0");
        assert!(disk_list_entry_matches(
            "/dev/disk/by-path/pci-0000:00:04.0",
            "vda",
            &[],
            slot
        ));
        assert!(!disk_list_entry_matches(
            "/dev/disk/by-path/pci-0000:00:05.0",
            "vda",
            &[],
            slot
        ));
        assert!(!disk_list_entry_matches(
            "/dev/disk/by-path/pci-0000:00:04.0",
            "vda",
            &[],
            None
        ));
    }
}

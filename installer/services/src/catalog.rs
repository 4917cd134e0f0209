//! The catalog: its entries and the checks of their data (the loading and
//! the template check are in `load`, above the renderer).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::Problem;
use crate::model::{Entry, SECRET_LENGTH};

/// The service catalog: every entry, checked as a whole.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Sorted by name.
    pub(crate) entries: Vec<Entry>,
    /// Name -> (file, text): to find the line of a key in later errors.
    pub(crate) sources: BTreeMap<String, (String, String)>,
}

impl Catalog {
    /// Every entry, sorted by name.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// The file an entry came from, e.g. `authentik.toml`.
    pub fn file_of(&self, name: &str) -> &str {
        self.sources.get(name).map_or("", |(file, _)| file.as_str())
    }

    /// The problem at `key` of entry `name`, with the line of the key.
    pub(crate) fn problem_at(&self, name: &str, key: &[Part], message: String) -> Problem {
        match self.sources.get(name) {
            Some((file, text)) => problem(file, text, key, message),
            None => Problem {
                file: name.to_string(),
                line: None,
                key: key_path(key),
                message,
            },
        }
    }

    /// The checks that need only the data (not the templates).
    pub(crate) fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let zones: Vec<String> = tappaas_answer::Zone::defaults()
            .into_iter()
            .map(|z| z.name)
            .collect();
        let mut vmids: BTreeMap<u32, &str> = BTreeMap::new();
        for e in &self.entries {
            let mut at = |key: &[Part], message: String| {
                problems.push(self.problem_at(&e.name, key, message));
            };
            let file = self.file_of(&e.name);
            let stem = Path::new(file)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("");
            if e.name != stem {
                at(
                    &[Part::Key("name")],
                    format!(
                        "is '{}' but the file is {file}: name the file {}.toml",
                        e.name, e.name
                    ),
                );
            }
            if !is_word(&e.name) {
                at(
                    &[Part::Key("name")],
                    "use lower-case letters, digits and '-' only".into(),
                );
            }
            if !e.vmid_range().contains(&e.vmid) {
                let range = e.vmid_range();
                let kind = if e.optional { "an optional" } else { "a base" };
                at(
                    &[Part::Key("vmid")],
                    format!(
                        "{} is outside {}-{}, the range of {kind} service",
                        e.vmid,
                        range.start(),
                        range.end()
                    ),
                );
            }
            if let Some(other) = vmids.insert(e.vmid, &e.name) {
                at(
                    &[Part::Key("vmid")],
                    format!("{} is also the VM id of '{other}': pick a free one", e.vmid),
                );
            }
            if e.cores == 0 {
                at(&[Part::Key("cores")], "must be at least 1".into());
            }
            if e.memory_mib < 512 {
                at(
                    &[Part::Key("memory-mib")],
                    format!("{} MiB is less than 512", e.memory_mib),
                );
            }
            if e.disk_gib < 4 {
                at(
                    &[Part::Key("disk-gib")],
                    format!("{} GiB is less than 4", e.disk_gib),
                );
            }
            if !zones.contains(&e.zone) {
                at(
                    &[Part::Key("zone")],
                    format!("unknown zone '{}': use one of {}", e.zone, zones.join(", ")),
                );
            }
            match (e.available, &e.reason) {
                (true, Some(_)) => at(
                    &[Part::Key("reason")],
                    "only an unavailable service (available = false) has a reason".into(),
                ),
                (false, None) => at(
                    &[Part::Key("available")],
                    "an unavailable service needs reason = \"why, and what would make it possible\"".into(),
                ),
                _ => {}
            }
            if e.available {
                if e.user_data.is_none() {
                    at(
                        &[],
                        "an available service needs user-data (a cloud-config template)".into(),
                    );
                }
                if e.health.is_none() {
                    at(
                        &[],
                        "an available service needs a health check ([health])".into(),
                    );
                }
            }
            let mut seen = BTreeSet::new();
            for (i, dep) in e.depends.iter().enumerate() {
                let key = [Part::Key("depends"), Part::Index(i)];
                if !seen.insert(dep) {
                    at(&key, format!("'{dep}' is listed twice"));
                } else if dep == &e.name {
                    at(&key, "a service cannot depend on itself".into());
                } else {
                    match self.get(dep) {
                        None => at(
                            &key,
                            format!(
                                "unknown service '{dep}': the catalog has {}",
                                self.names().join(", ")
                            ),
                        ),
                        Some(d) if e.available && !d.available => at(
                            &key,
                            format!("'{dep}' is not available, so this service cannot be either"),
                        ),
                        Some(d) if e.available => {
                            for needed in &d.dependant_secrets {
                                if !e.secrets.iter().any(|s| &s.name == needed) {
                                    at(
                                        &key,
                                        format!(
                                            "'{dep}' needs each service that depends on it to declare the secret '{needed}': add {{ name = \"{needed}\", length = 32 }} to secrets"
                                        ),
                                    );
                                }
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
            for (i, word) in e.provides.iter().enumerate() {
                if !is_word(word) {
                    at(
                        &[Part::Key("provides"), Part::Index(i)],
                        format!("'{word}': use lower-case letters, digits and '-' only"),
                    );
                }
            }
            if let Some(action) = &e.add_dependant {
                let at_key = |k: &'static str| [Part::Key("add-dependant"), Part::Key(k)];
                match action.command.first() {
                    None => at(
                        &at_key("command"),
                        "is empty: give the program and its arguments".into(),
                    ),
                    Some(program) if !program.starts_with('/') && !program.starts_with("{{") => {
                        at(
                            &[
                                Part::Key("add-dependant"),
                                Part::Key("command"),
                                Part::Index(0),
                            ],
                            format!(
                                "the program '{program}' is not an absolute path (the guest agent runs it without a shell)"
                            ),
                        )
                    }
                    Some(_) => {}
                }
                for (i, f) in action.files.iter().enumerate() {
                    if !f.path.starts_with('/') && !f.path.starts_with("{{") {
                        at(
                            &[
                                Part::Key("add-dependant"),
                                Part::Key("files"),
                                Part::Index(i),
                            ],
                            format!("path '{}' is not absolute", f.path),
                        );
                    }
                }
            } else if e.available && !e.dependant_secrets.is_empty() {
                at(
                    &[Part::Key("dependant-secrets")],
                    "a service that hands its dependants secrets needs add-dependant: how the node gives them to a dependant deployed after this VM was made (docs/services.md, \"Adding a service\")".into(),
                );
            }
            let mut names = BTreeSet::new();
            for (i, s) in e.secrets.iter().enumerate() {
                let key = [Part::Key("secrets"), Part::Index(i)];
                if !is_word(&s.name) {
                    at(
                        &key,
                        format!(
                            "secret name '{}': use lower-case letters, digits and '-'",
                            s.name
                        ),
                    );
                }
                if !names.insert(&s.name) {
                    at(&key, format!("secret '{}' is declared twice", s.name));
                }
                if !SECRET_LENGTH.contains(&s.length) {
                    at(
                        &key,
                        format!(
                            "secret '{}': length {} is outside {}-{}",
                            s.name,
                            s.length,
                            SECRET_LENGTH.start(),
                            SECRET_LENGTH.end()
                        ),
                    );
                }
            }
        }
        if problems.is_empty() {
            if let Some(cycle) = self.find_cycle() {
                problems.push(self.problem_at(
                    &cycle[0],
                    &[Part::Key("depends")],
                    format!(
                        "dependency cycle: {}; remove one of these dependencies",
                        cycle.join(" -> ")
                    ),
                ));
            }
        }
        problems
    }

    /// A dependency cycle as names, first name repeated at the end.
    fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        fn visit(
            catalog: &Catalog,
            name: &str,
            marks: &mut BTreeMap<String, Mark>,
            path: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            match marks.get(name).copied().unwrap_or(Mark::New) {
                Mark::Done => return None,
                Mark::Open => {
                    let start = path.iter().position(|n| n == name).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(name.to_string());
                    return Some(cycle);
                }
                Mark::New => {}
            }
            marks.insert(name.to_string(), Mark::Open);
            path.push(name.to_string());
            if let Some(entry) = catalog.get(name) {
                for dep in &entry.depends {
                    if let Some(cycle) = visit(catalog, dep, marks, path) {
                        return Some(cycle);
                    }
                }
            }
            path.pop();
            marks.insert(name.to_string(), Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        for e in &self.entries {
            if let Some(cycle) = visit(self, &e.name, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
        None
    }
}

/// Lower-case ASCII letters, digits and inner '-'.
pub(crate) fn is_word(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A step of a key path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part<'a> {
    Key(&'a str),
    Index(usize),
}

/// A dotted key path with indexes (`add-dependant.files[0].path`) as
/// parts, to find its line.
pub(crate) fn parse_key(key: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    for word in key.split('.').filter(|w| !w.is_empty()) {
        let mut pieces = word.split('[');
        if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
            parts.push(Part::Key(name));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                parts.push(Part::Index(i));
            }
        }
    }
    parts
}

fn key_path(parts: &[Part]) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Key(k) if out.is_empty() => out.push_str(k),
            Part::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Part::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

pub(crate) fn problem(file: &str, text: &str, key: &[Part], message: String) -> Problem {
    Problem {
        file: file.to_string(),
        line: locate(text, key),
        key: key_path(key),
        message,
    }
}

/// The 1-based line of a key path in a TOML text (of the key itself, or of
/// an array element).
pub(crate) fn locate(text: &str, parts: &[Part]) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    let mut span = None;
    for (n, part) in parts.iter().enumerate() {
        match part {
            Part::Key(k) => {
                let table = item.as_table_like()?;
                let (key, value) = table.get_key_value(k)?;
                span = key.span().or_else(|| value.span());
                item = value;
            }
            Part::Index(i) => {
                if let Some(array) = item.as_array() {
                    let value = array.get(*i)?;
                    span = value.span();
                    // An inline table in the array: go on into it.
                    match value.as_inline_table() {
                        Some(t) => {
                            return locate_in_inline(text, t, &parts[n + 1..])
                                .or_else(|| span.map(|s| line_at(text, s.start)))
                        }
                        None => return span.map(|s| line_at(text, s.start)),
                    }
                }
                let tables = item.as_array_of_tables()?;
                let table = tables.get(*i)?;
                span = table.span();
                return span.map(|s| line_at(text, s.start));
            }
        }
    }
    span.map(|s| line_at(text, s.start))
}

/// The line of a key inside an inline table (`{ path = "..." }`).
fn locate_in_inline(text: &str, table: &toml_edit::InlineTable, parts: &[Part]) -> Option<usize> {
    let Some(Part::Key(k)) = parts.first() else {
        return table.span().map(|s| line_at(text, s.start));
    };
    let (key, value) = table.get_key_value(k)?;
    key.span()
        .or_else(|| value.span())
        .map(|s| line_at(text, s.start))
}

pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

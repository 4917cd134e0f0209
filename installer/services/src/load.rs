//! Loading the catalog: the built-in files, a directory, and the checks of
//! the whole (data, then every template rendered). Apart from `catalog` so
//! that the catalog's type does not depend on the renderer that reads it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::catalog::{line_at, locate, parse_key, problem, Catalog, Part};
use crate::context::Context;
use crate::error::{Error, Problem};
use crate::model::Entry;
use crate::render::{render, render_add_dependant};
use crate::resolve::resolve;

// `EMBEDDED`: (file name, text) of every `catalog/*.toml`, made by build.rs so
// that a new service needs only a new file.
include!(concat!(env!("OUT_DIR"), "/embedded_catalog.rs"));

impl Catalog {
    /// The catalog built into the installer (`installer/services/catalog/`).
    pub fn embedded() -> Result<Catalog, Error> {
        Self::from_sources(
            EMBEDDED
                .iter()
                .map(|(file, text)| (file.to_string(), text.to_string()))
                .collect(),
        )
    }

    /// A catalog made only of the `*.toml` files of `dir`.
    pub fn load_dir(dir: &Path) -> Result<Catalog, Error> {
        Self::from_sources(read_dir(dir)?)
    }

    /// The built-in catalog plus the `*.toml` files of `dir` (a node's own
    /// extra services). A name or VM id used twice is an error.
    pub fn embedded_and_dir(dir: &Path) -> Result<Catalog, Error> {
        let mut files: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(file, text)| (file.to_string(), text.to_string()))
            .collect();
        files.extend(read_dir(dir)?);
        Self::from_sources(files)
    }

    /// Parses and checks `(file name, text)` pairs; reports every problem.
    pub fn from_sources(files: Vec<(String, String)>) -> Result<Catalog, Error> {
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        let mut sources: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (file, text) in files {
            match toml::from_str::<Entry>(&text) {
                Ok(entry) => {
                    if sources.contains_key(&entry.name) {
                        problems.push(problem(
                            &file,
                            &text,
                            &[Part::Key("name")],
                            format!(
                                "service '{}' is already defined in {}; rename one of them",
                                entry.name, sources[&entry.name].0
                            ),
                        ));
                        continue;
                    }
                    sources.insert(entry.name.clone(), (file, text));
                    entries.push(entry);
                }
                Err(e) => problems.push(Problem {
                    line: e.span().map(|s| line_at(&text, s.start)),
                    file,
                    key: String::new(),
                    message: e.message().trim().to_string(),
                }),
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let catalog = Catalog { entries, sources };
        problems.extend(catalog.check());
        if problems.is_empty() {
            problems.extend(catalog.check_templates());
        }
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(Error::Catalog(problems))
        }
    }

    /// Every available entry renders with the example context, all of the
    /// catalog selected (so every dependency and dependant is present).
    fn check_templates(&self) -> Vec<Problem> {
        let names: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.available)
            .map(|e| e.name.clone())
            .collect();
        let resolved = match resolve(self, &names) {
            Ok(r) => r,
            Err(e) => {
                return vec![Problem {
                    file: String::new(),
                    line: None,
                    key: String::new(),
                    message: e.to_string(),
                }]
            }
        };
        let context = Context::example(&resolved);
        let mut problems = Vec::new();
        let mut report = |name: &str, e: Error| {
            let (key, message) = match e {
                Error::Render {
                    template, message, ..
                } => (template, message),
                other => (String::new(), other.to_string()),
            };
            let (file, text) = self.sources.get(name).cloned().unwrap_or_default();
            problems.push(Problem {
                line: locate(&text, &parse_key(&key)),
                file,
                key,
                message,
            });
        };
        for entry in &resolved.order {
            if let Err(e) = render(self, &resolved, &entry.name, &context) {
                report(&entry.name, e);
            }
            // The action, for every dependant the catalog has (the first
            // problem is enough: the others are the same template).
            for d in resolved
                .order
                .iter()
                .filter(|d| d.depends.contains(&entry.name))
            {
                if let Err(e) =
                    render_add_dependant(self, &resolved, &entry.name, &d.name, &context)
                {
                    report(&entry.name, e);
                    break;
                }
            }
        }
        problems
    }
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for item in std::fs::read_dir(dir).map_err(io)? {
        let path = item.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        files.push((path.display().to_string(), text));
    }
    files.sort();
    Ok(files)
}

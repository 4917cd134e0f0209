//! Selection: the services asked for plus what they need, in deploy order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;

use crate::catalog::Catalog;
use crate::error::Error;
use crate::model::Entry;

/// A dependency that was not selected and was added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub name: String,
    /// The (first) selected or added service that needs it.
    pub needed_by: String,
}

impl fmt::Display for Added {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} needs {}: added", self.needed_by, self.name)
    }
}

/// The services to deploy, in order: every service after its dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub order: Vec<Entry>,
    pub added: Vec<Added>,
}

impl Resolved {
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.order.iter().find(|e| e.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.order.iter().map(|e| e.name.as_str()).collect()
    }
}

/// Adds missing dependencies to `selected` and orders the whole: a
/// topological order where, among services that are ready, the lowest VM id
/// goes first (so the order is stable and reads like the id plan).
/// Unknown or unavailable names are refused; duplicates are ignored.
pub fn resolve(catalog: &Catalog, selected: &[String]) -> Result<Resolved, Error> {
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let mut added = Vec::new();
    let mut queue: VecDeque<(String, Option<String>)> =
        selected.iter().map(|n| (n.clone(), None)).collect();
    // Selected names first, so that "added" is said only of what the user
    // did not select, whatever the order of the list.
    for name in selected {
        lookup(catalog, name)?;
    }
    let wanted: BTreeSet<&String> = selected.iter().collect();
    while let Some((name, needed_by)) = queue.pop_front() {
        let entry = lookup(catalog, &name)?;
        if !chosen.insert(name.clone()) {
            continue;
        }
        if let Some(by) = needed_by {
            if !wanted.contains(&name) {
                added.push(Added {
                    name: name.clone(),
                    needed_by: by,
                });
            }
        }
        for dep in &entry.depends {
            queue.push_back((dep.clone(), Some(name.clone())));
        }
    }

    // Kahn's algorithm over the chosen services.
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependants: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    let mut ready = BinaryHeap::new();
    for name in &chosen {
        let entry = lookup(catalog, name)?;
        waiting.insert(&entry.name, entry.depends.len());
        if entry.depends.is_empty() {
            ready.push(Reverse((entry.vmid, entry.name.as_str())));
        }
        for dep in &entry.depends {
            dependants.entry(dep.as_str()).or_default().push(entry);
        }
    }
    let mut order = Vec::new();
    while let Some(Reverse((_, name))) = ready.pop() {
        let entry = lookup(catalog, name)?;
        order.push(entry.clone());
        for d in dependants.get(name).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(n) = waiting.get_mut(d.name.as_str()) {
                *n -= 1;
                if *n == 0 {
                    ready.push(Reverse((d.vmid, d.name.as_str())));
                }
            }
        }
    }
    if order.len() != chosen.len() {
        // A checked catalog has no cycle; one built by hand might.
        let stuck: Vec<&str> = waiting
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(name, _)| *name)
            .collect();
        return Err(Error::Catalog(vec![crate::Problem {
            file: String::new(),
            line: None,
            key: "depends".into(),
            message: format!("dependency cycle among {}", stuck.join(", ")),
        }]));
    }
    Ok(Resolved { order, added })
}

fn lookup<'c>(catalog: &'c Catalog, name: &str) -> Result<&'c Entry, Error> {
    let entry = catalog.get(name).ok_or_else(|| Error::Unknown {
        name: name.to_string(),
        known: catalog.names().iter().map(|n| n.to_string()).collect(),
    })?;
    if !entry.available {
        return Err(Error::Unavailable {
            name: name.to_string(),
            reason: entry.reason.clone().unwrap_or_default(),
        });
    }
    Ok(entry)
}

//! The snapshot policy: sanoid's configuration (`/etc/sanoid/sanoid.conf`)
//! read into typed data by a pure parser, every problem with its line.
//!
//! The format is sanoid's INI-like one: `[template_NAME]` sections hold
//! settings to share, every other section names a dataset (`[tank1]`)
//! that uses templates (`use_template = a,b`) and may override them.
//! Settings not given anywhere take sanoid's own defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A snapshot period, as sanoid names it in the snapshot's name and in
/// its settings (`hourly = 24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Frequently,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Period {
    pub const ALL: [Period; 6] = [
        Period::Frequently,
        Period::Hourly,
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Yearly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Period::Frequently => "frequently",
            Period::Hourly => "hourly",
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Yearly => "yearly",
        }
    }

    pub fn from_name(name: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Its length in seconds, as sanoid counts it when pruning (a month is
    /// 31 days); `frequent_minutes` is the section's `frequent_period`.
    pub fn seconds(self, frequent_minutes: u32) -> u64 {
        const DAY: u64 = 24 * 3600;
        match self {
            Period::Frequently => u64::from(frequent_minutes) * 60,
            Period::Hourly => 3600,
            Period::Daily => DAY,
            Period::Weekly => 7 * DAY,
            Period::Monthly => 31 * DAY,
            Period::Yearly => 366 * DAY,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What sanoid does for one dataset section, templates applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetPolicy {
    /// The dataset the section names, e.g. `tank1` or `rpool/ROOT`.
    pub dataset: String,
    /// The line of its `[section]`.
    pub line: usize,
    /// Its descendants get the same settings (`recursive = yes` or `zfs`).
    pub recursive: bool,
    /// Only the descendants are snapshotted, not the dataset itself.
    pub children_only: bool,
    /// Sanoid takes snapshots of it (`autosnap`).
    pub autosnap: bool,
    /// Sanoid prunes its snapshots (`autoprune`).
    pub autoprune: bool,
    /// How many snapshots of each period are kept (0: none taken).
    pub keep: BTreeMap<Period, u32>,
    /// The length of a `frequently` period, in minutes.
    pub frequent_minutes: u32,
}

impl DatasetPolicy {
    /// The shortest period it takes snapshots for, if any.
    pub fn smallest_period(&self) -> Option<Period> {
        if !self.autosnap {
            return None;
        }
        Period::ALL
            .into_iter()
            .find(|p| self.keep.get(p).copied().unwrap_or(0) > 0)
    }
}

/// The policy: every dataset section of sanoid.conf, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub file: PathBuf,
    pub datasets: Vec<DatasetPolicy>,
}

impl Policy {
    /// The section that decides for `dataset`: its own, else that of its
    /// nearest ancestor with `recursive`. `None`: not in the policy (or a
    /// section with `process_children_only` names it).
    pub fn covering(&self, dataset: &str) -> Option<&DatasetPolicy> {
        let own = self.datasets.iter().find(|d| d.dataset == dataset);
        if let Some(own) = own {
            return (!own.children_only).then_some(own);
        }
        // Sanoid gives a recursive section's settings to every descendant
        // without a section of its own, past non-recursive sections on
        // the way.
        let mut name = dataset;
        while let Some((parent, _)) = name.rsplit_once('/') {
            if let Some(d) = self
                .datasets
                .iter()
                .find(|d| d.dataset == parent && d.recursive)
            {
                return Some(d);
            }
            name = parent;
        }
        None
    }
}

/// One problem in sanoid.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// sanoid's own defaults (its sanoid.defaults.conf) for what the
/// status reads.
const DEFAULT_KEEP: [(Period, u32); 6] = [
    (Period::Frequently, 0),
    (Period::Hourly, 48),
    (Period::Daily, 90),
    (Period::Weekly, 0),
    (Period::Monthly, 6),
    (Period::Yearly, 0),
];
const DEFAULT_FREQUENT_MINUTES: u32 = 15;

/// A `[section]` as written: its settings with their lines.
struct Section {
    name: String,
    line: usize,
    settings: Vec<(String, String, usize)>,
}

/// Read sanoid.conf's text (`file` is for messages). Every problem is
/// returned, each with its line.
pub fn parse_policy(file: &Path, text: &str) -> Result<Policy, Vec<ConfError>> {
    let mut errors = Vec::new();
    let err = |line: usize, message: String| ConfError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut sections: Vec<Section> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']').map(str::trim) else {
                errors.push(err(line, format!("`{t}`: a section is `[NAME]`")));
                continue;
            };
            if name.is_empty() {
                errors.push(err(line, "a section without a name: `[]`".into()));
                continue;
            }
            if let Some(first) = sections.iter().find(|s| s.name == name) {
                errors.push(err(
                    line,
                    format!("[{name}] is given twice (first at line {})", first.line),
                ));
                continue;
            }
            sections.push(Section {
                name: name.to_string(),
                line,
                settings: Vec::new(),
            });
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            errors.push(err(
                line,
                format!("expected `[section]` or `key = value`, found `{t}`"),
            ));
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            errors.push(err(line, format!("`{t}` has no key before `=`")));
            continue;
        }
        match sections.last_mut() {
            Some(s) => s.settings.push((key, value.trim().to_string(), line)),
            None => errors.push(err(
                line,
                format!(
                    "`{key}` is outside any section: put it under `[DATASET]` or `[template_NAME]`"
                ),
            )),
        }
    }
    let templates: BTreeMap<&str, &Section> = sections
        .iter()
        .filter_map(|s| s.name.strip_prefix("template_").map(|n| (n, s)))
        .collect();
    let mut datasets = Vec::new();
    for s in sections.iter().filter(|s| !s.name.starts_with("template_")) {
        if let Err(why) = check_dataset_name(&s.name) {
            errors.push(err(s.line, format!("[{}]: {why}", s.name)));
            continue;
        }
        // Lowest first: sanoid's defaults, template_default, the
        // templates used (in order), the section's own settings.
        let mut chain: Vec<&Section> = templates.get("default").copied().into_iter().collect();
        for (key, value, line) in &s.settings {
            if key != "use_template" {
                continue;
            }
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match templates.get(name) {
                    Some(t) => chain.push(t),
                    None => errors.push(err(
                        *line,
                        format!("use_template = {name}: there is no [template_{name}] section"),
                    )),
                }
            }
        }
        chain.push(s);
        match resolve(s, &chain) {
            Ok(d) => datasets.push(d),
            Err(e) => errors.extend(e.into_iter().map(|(line, m)| err(line, m))),
        }
    }
    if errors.is_empty() {
        Ok(Policy {
            file: file.to_path_buf(),
            datasets,
        })
    } else {
        errors.sort_by_key(|e| e.line);
        errors.dedup();
        Err(errors)
    }
}

/// One dataset's settings from `chain` (lowest precedence first).
fn resolve(section: &Section, chain: &[&Section]) -> Result<DatasetPolicy, Vec<(usize, String)>> {
    let mut errors = Vec::new();
    let mut d = DatasetPolicy {
        dataset: section.name.clone(),
        line: section.line,
        recursive: false,
        children_only: false,
        autosnap: true,
        autoprune: true,
        keep: DEFAULT_KEEP.into_iter().collect(),
        frequent_minutes: DEFAULT_FREQUENT_MINUTES,
    };
    for s in chain {
        for (key, value, line) in &s.settings {
            let line = *line;
            if let Some(period) = Period::from_name(key) {
                match value.parse::<u32>() {
                    Ok(n) => {
                        d.keep.insert(period, n);
                    }
                    Err(_) => errors.push((
                        line,
                        format!(
                            "{key} = {value}: expected how many to keep, a whole number (0: none)"
                        ),
                    )),
                }
                continue;
            }
            match key.as_str() {
                "autosnap" => set_flag(&mut d.autosnap, key, value, line, &mut errors),
                "autoprune" => set_flag(&mut d.autoprune, key, value, line, &mut errors),
                "process_children_only" => {
                    set_flag(&mut d.children_only, key, value, line, &mut errors)
                }
                "recursive" if value.eq_ignore_ascii_case("zfs") => d.recursive = true,
                "recursive" => set_flag(&mut d.recursive, key, value, line, &mut errors),
                "frequent_period" => match value.parse::<u32>() {
                    Ok(n) if n > 0 => d.frequent_minutes = n,
                    _ => errors.push((
                        line,
                        format!(
                            "frequent_period = {value}: expected minutes, a whole number above 0"
                        ),
                    )),
                },
                // Sanoid's other settings (times of day, monitoring
                // levels, hooks) do not change what the status reads.
                _ => {}
            }
        }
    }
    if errors.is_empty() {
        Ok(d)
    } else {
        Err(errors)
    }
}

/// A yes/no setting, as sanoid reads it.
fn set_flag(
    target: &mut bool,
    key: &str,
    value: &str,
    line: usize,
    errors: &mut Vec<(usize, String)>,
) {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "1" | "true" | "on" => *target = true,
        "no" | "0" | "false" | "off" => *target = false,
        _ => errors.push((line, format!("{key} = {value}: expected yes or no"))),
    }
}

/// A ZFS dataset name as the policy and the restore accept it: a pool
/// and components of letters, digits and `_-.:`, no `.` or `..`.
pub fn check_dataset_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an empty dataset name".into());
    }
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!(
                "`{name}` is not a dataset name (an empty, `.` or `..` part)"
            ));
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_-.:".contains(*c)))
        {
            return Err(format!(
                "`{name}` is not a dataset name (`{c}` is not allowed)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, Vec<ConfError>> {
        parse_policy(Path::new("/etc/sanoid/sanoid.conf"), text)
    }

    #[test]
    fn templates_and_overrides_apply_in_order() {
        let p = parse(
            "# TAPPaaS\n[tank1]\n  use_template = data\n  recursive = yes\n  hourly = 12\n\n\
             [template_data]\n  frequently = 4\n  hourly = 24\n  daily = 30\n  weekly = 8\n  monthly = 12\n  autosnap = yes\n",
        )
        .expect("valid");
        let d = &p.datasets[0];
        assert_eq!(
            (d.dataset.as_str(), d.line, d.recursive),
            ("tank1", 2, true)
        );
        assert_eq!(d.keep[&Period::Hourly], 12);
        assert_eq!(d.keep[&Period::Frequently], 4);
        // sanoid's default for what no section sets.
        assert_eq!(d.keep[&Period::Yearly], 0);
        assert_eq!(d.smallest_period(), Some(Period::Frequently));
    }

    #[test]
    fn a_dataset_is_covered_by_its_own_section_or_a_recursive_ancestor() {
        let p = parse(
            "[tank1]\nrecursive = yes\n[tank1/scratch]\nautosnap = no\n\
             [rpool/data]\n[tank2]\nrecursive = zfs\nprocess_children_only = yes\n",
        )
        .expect("valid");
        let by = |n: &str| p.covering(n).map(|d| d.dataset.as_str());
        assert_eq!(by("tank1/photos/2024"), Some("tank1"));
        assert_eq!(by("tank1/scratch"), Some("tank1/scratch"));
        assert_eq!(by("tank1/scratch/tmp"), Some("tank1"));
        assert_eq!(by("rpool/data/vm-100-disk-0"), None);
        assert_eq!(by("rpool"), None);
        assert_eq!((by("tank2"), by("tank2/backup")), (None, Some("tank2")));
    }

    #[test]
    fn every_problem_has_its_line() {
        let e = parse(
            "hourly = 3\n[tank1]\nuse_template = missing\ndaily = many\nautosnap = maybe\njunk\n[tank1]\n[bad name]\n",
        )
        .expect_err("invalid");
        let got: Vec<(usize, bool)> = e.iter().map(|e| (e.line, !e.message.is_empty())).collect();
        assert_eq!(
            got.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [1, 3, 4, 5, 6, 7, 8]
        );
        assert!(e[1].message.contains("template_missing"), "{}", e[1]);
        assert!(
            e[0].to_string().starts_with("/etc/sanoid/sanoid.conf:1: "),
            "{}",
            e[0]
        );
    }
}

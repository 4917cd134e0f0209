//! What ZFS says, read by pure parsers: the snapshots (`zfs list -H -p -t
//! snapshot -o name,creation`) and the datasets with their mount points
//! (`zfs list -H -p -t filesystem,volume -o name,mountpoint`).

use std::fmt;

use super::policy::Period;

/// The command lines these parsers read the output of.
pub const LIST_SNAPSHOTS: [&str; 7] = ["list", "-H", "-p", "-t", "snapshot", "-o", "name,creation"];
pub const LIST_DATASETS: [&str; 7] = [
    "list",
    "-H",
    "-p",
    "-t",
    "filesystem,volume",
    "-o",
    "name,mountpoint",
];

/// One snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub dataset: String,
    /// The part after `@`.
    pub name: String,
    /// When it was taken (seconds since the epoch).
    pub created: i64,
    /// The period, for sanoid's `autosnap_DATE_TIME_PERIOD` names.
    pub period: Option<Period>,
}

impl Snapshot {
    /// `dataset@name`.
    pub fn full_name(&self) -> String {
        format!("{}@{}", self.dataset, self.name)
    }
}

/// A dataset and where it is mounted (`None`: a volume, or not mounted
/// by path: `none`, `legacy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub name: String,
    pub mountpoint: Option<String>,
}

/// A line of `zfs list` output that is not what was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zfs list output, line {}: {}", self.line, self.message)
    }
}

/// The period of a snapshot sanoid took: `autosnap_2026-12-07_14:00:00_hourly`.
pub fn sanoid_period(name: &str) -> Option<Period> {
    let rest = name.strip_prefix("autosnap_")?;
    let (stamp, period) = rest.rsplit_once('_')?;
    let (date, time) = stamp.split_once('_')?;
    let digits = |s: &str, seps: &[usize], sep: char| {
        s.char_indices().all(|(i, c)| {
            if seps.contains(&i) {
                c == sep
            } else {
                c.is_ascii_digit()
            }
        })
    };
    let date_ok = date.len() == 10 && digits(date, &[4, 7], '-');
    let time_ok = time.len() == 8 && digits(time, &[2, 5], ':');
    if date_ok && time_ok {
        Period::from_name(period)
    } else {
        None
    }
}

/// Every snapshot in `zfs list -H -p -t snapshot -o name,creation`.
pub fn parse_snapshots(text: &str) -> Result<Vec<Snapshot>, ListError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| ListError {
            line: i + 1,
            message,
        };
        let Some((full, created)) = line.split_once('\t') else {
            return Err(err(format!("`{line}`: expected NAME<tab>CREATION")));
        };
        let Some((dataset, name)) = full.split_once('@') else {
            return Err(err(format!("`{full}` is not a snapshot (no `@`)")));
        };
        let created = created.trim().parse::<i64>().map_err(|_| {
            err(format!(
                "`{created}`: the creation time of {full} is not a number of seconds (was -p given?)"
            ))
        })?;
        out.push(Snapshot {
            dataset: dataset.to_string(),
            name: name.to_string(),
            created,
            period: sanoid_period(name),
        });
    }
    Ok(out)
}

/// Every dataset in `zfs list -H -p -t filesystem,volume -o name,mountpoint`.
pub fn parse_datasets(text: &str) -> Result<Vec<Dataset>, ListError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, mountpoint)) = line.split_once('\t') else {
            return Err(ListError {
                line: i + 1,
                message: format!("`{line}`: expected NAME<tab>MOUNTPOINT"),
            });
        };
        let mountpoint = match mountpoint {
            "-" | "none" | "legacy" | "" => None,
            m => Some(m.to_string()),
        };
        out.push(Dataset {
            name: name.to_string(),
            mountpoint,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_parse_with_their_period() {
        let s = parse_snapshots(
            "tank1@autosnap_2026-12-07_14:00:00_hourly\t1796652000\n\
             tank1/photos@before-upgrade\t1796600000\n",
        )
        .expect("valid");
        assert_eq!(s[0].period, Some(Period::Hourly));
        assert_eq!(s[0].created, 1_796_652_000);
        assert_eq!((s[1].dataset.as_str(), s[1].period), ("tank1/photos", None));
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse_snapshots("tank1@a\t1\ntank1@b 2\n").expect_err("no tab");
        assert_eq!(e.line, 2);
        let e = parse_snapshots("tank1@a\tyesterday\n").expect_err("not -p");
        assert!(
            e.to_string().starts_with("zfs list output, line 1: "),
            "{e}"
        );
        let e = parse_snapshots("tank1\t1\n").expect_err("no @");
        assert!(e.message.contains("not a snapshot"), "{e}");
        assert_eq!(parse_datasets("tank1\n").expect_err("no tab").line, 1);
    }

    #[test]
    fn only_sanoid_names_have_a_period() {
        assert_eq!(
            sanoid_period("autosnap_2026-12-07_14:00:00_frequently"),
            Some(Period::Frequently)
        );
        for other in [
            "autosnap_2026-12-07_14:00:00_hourlyish",
            "autosnap_2026-12-7_14:00:00_hourly",
            "syncoid_node2_2026-12-07:14:00:00",
            "manual",
        ] {
            assert_eq!(sanoid_period(other), None, "{other}");
        }
    }
}

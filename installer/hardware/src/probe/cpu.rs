//! `/proc/cpuinfo` and `/proc/meminfo`.

use std::collections::BTreeSet;

use crate::profile::{Cpu, Virtualization};

/// Parses `/proc/cpuinfo` (x86 layout: one block per logical CPU).
pub fn parse_cpuinfo(text: &str) -> Result<Cpu, String> {
    let mut threads = 0u32;
    let mut model: Option<String> = None;
    let mut virtualization = None;
    // (physical id, core id) of every logical CPU that reports both.
    let mut cores = BTreeSet::new();
    let mut all_have_topology = true;
    let mut sockets = BTreeSet::new();
    let mut cores_per_socket: Option<u32> = None;

    for block in text.split("\n\n") {
        let mut is_cpu = false;
        let mut physical_id = None;
        let mut core_id = None;
        for line in block.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "processor" => is_cpu = true,
                "model name" if model.is_none() && !value.is_empty() => {
                    // Old Xeons pad their model names with runs of spaces.
                    model = Some(value.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                "physical id" => physical_id = Some(value.to_string()),
                "core id" => core_id = Some(value.to_string()),
                "cpu cores" => cores_per_socket = value.parse().ok().or(cores_per_socket),
                "flags" => {
                    for flag in value.split_whitespace() {
                        match flag {
                            "vmx" => virtualization = Some(Virtualization::Vmx),
                            "svm" => virtualization = Some(Virtualization::Svm),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if !is_cpu {
            continue;
        }
        threads += 1;
        if let Some(p) = &physical_id {
            sockets.insert(p.clone());
        }
        match (physical_id, core_id) {
            (Some(p), Some(c)) => {
                cores.insert((p, c));
            }
            _ => all_have_topology = false,
        }
    }

    if threads == 0 {
        return Err("no \"processor\" entries".to_string());
    }
    let cores = if all_have_topology && !cores.is_empty() {
        cores.len() as u32
    } else if let (Some(per), false) = (cores_per_socket, sockets.is_empty()) {
        per.saturating_mul(sockets.len() as u32)
    } else {
        // No topology at all (some hypervisors): count each thread as a core.
        threads
    };
    Ok(Cpu {
        model: model.unwrap_or_else(|| "unknown CPU".to_string()),
        cores: cores.clamp(1, threads),
        threads,
        virtualization,
    })
}

/// Total memory in bytes from `/proc/meminfo`'s `MemTotal` (given in KiB).
pub fn parse_meminfo(text: &str) -> Result<u64, String> {
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("MemTotal:") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let number = words
            .next()
            .ok_or_else(|| "MemTotal has no value".to_string())?;
        let kib: u64 = number
            .parse()
            .map_err(|_| format!("MemTotal is not a number: {number:?}"))?;
        return match words.next() {
            Some("kB") | None => kib
                .checked_mul(1024)
                .ok_or_else(|| "MemTotal is too large".to_string()),
            Some(unit) => Err(format!("MemTotal has an unknown unit {unit:?}")),
        };
    }
    Err("no MemTotal line".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(n: u32, physical: u32, core: u32, flags: &str) -> String {
        format!(
            "processor\t: {n}\nvendor_id\t: GenuineIntel\n\
             model name\t: Intel(R) Xeon(R) CPU           E5-2620 0 @ 2.00GHz\n\
             physical id\t: {physical}\nsiblings\t: 4\ncore id\t\t: {core}\n\
             cpu cores\t: 2\nflags\t\t: fpu {flags} sse2\n\n"
        )
    }

    #[test]
    fn counts_cores_across_sockets_and_threads() {
        // Two sockets, two cores each, hyper-threading; core ids repeat per
        // socket, so counting core ids alone would give 2.
        let mut text = String::new();
        let mut n = 0;
        for socket in 0..2 {
            for _ht in 0..2 {
                for core in [0, 1] {
                    text.push_str(&block(n, socket, core, "vmx"));
                    n += 1;
                }
            }
        }
        let cpu = parse_cpuinfo(&text).expect("parses");
        assert_eq!(cpu.threads, 8);
        assert_eq!(cpu.cores, 4);
        assert_eq!(cpu.model, "Intel(R) Xeon(R) CPU E5-2620 0 @ 2.00GHz");
        assert_eq!(cpu.virtualization, Some(Virtualization::Vmx));
    }

    #[test]
    fn amd_v_and_missing_topology() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu svm lm\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu svm lm\n";
        let cpu = parse_cpuinfo(text).expect("parses");
        assert_eq!((cpu.cores, cpu.threads), (2, 2));
        assert_eq!(cpu.virtualization, Some(Virtualization::Svm));
    }

    #[test]
    fn no_virtualisation_flag() {
        let cpu = parse_cpuinfo("processor : 0\nflags : fpu vme hypervisor\n").expect("parses");
        assert_eq!(cpu.virtualization, None);
        assert_eq!(cpu.model, "unknown CPU");
        // "vmx" must be a whole flag, not a substring.
        let cpu = parse_cpuinfo("processor : 0\nflags : vmxnet svmx\n").expect("parses");
        assert_eq!(cpu.virtualization, None);
    }

    #[test]
    fn empty_cpuinfo_is_an_error() {
        assert!(parse_cpuinfo("").is_err());
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       16135724 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_meminfo(text), Ok(16_135_724 * 1024));
        assert!(parse_meminfo("MemFree: 1 kB\n").is_err());
        assert!(parse_meminfo("MemTotal: lots kB\n").is_err());
        assert!(parse_meminfo("MemTotal: 1 MB\n").is_err());
    }
}

//! The human-readable `probe` report. Fits 80 columns: it is read on a
//! server's console and over a serial line.

use std::fmt::Write;

use crate::profile::{
    human_bytes, transport_name, Disk, DiskNameKind, Firmware, MachineProfile, Nic, Virtualization,
};

const WIDTH: usize = 80;

pub fn render_text(profile: &MachineProfile) -> String {
    let mut out = String::new();
    let cpu = &profile.cpu;
    let virt = match cpu.virtualization {
        Some(Virtualization::Vmx) => "VT-x",
        Some(Virtualization::Svm) => "AMD-V",
        None => "none",
    };
    let counts = format!(
        "{} cores, {} threads, virtualisation: {virt}",
        cpu.cores, cpu.threads
    );
    let one_line = format!("CPU:       {}, {counts}", cpu.model);
    if one_line.chars().count() <= WIDTH {
        push_line(&mut out, &one_line);
    } else {
        push_line(
            &mut out,
            &format!("CPU:       {}", fit(&cpu.model, WIDTH - 11)),
        );
        push_line(&mut out, &format!("           {counts}"));
    }
    push_line(
        &mut out,
        &format!("Memory:    {}", human_bytes(profile.memory_bytes)),
    );
    push_line(
        &mut out,
        match profile.firmware {
            Firmware::Uefi => "Firmware:  UEFI",
            Firmware::Bios => "Firmware:  BIOS (legacy)",
        },
    );

    out.push('\n');
    if profile.disks.is_empty() {
        push_line(&mut out, "Disks:     none found");
    } else {
        push_line(&mut out, &format!("Disks ({}):", profile.disks.len()));
        let rows: Vec<DiskRow> = profile.disks.iter().map(DiskRow::new).collect();
        let widths = DiskWidths::new(&rows);
        push_line(
            &mut out,
            &widths.row(&DiskRow {
                mark: "",
                name: "NAME".into(),
                size: "SIZE".into(),
                kind: "TYPE".into(),
                model: "MODEL".into(),
                serial: "SERIAL".into(),
            }),
        );
        let shared = profile.shared_identities();
        for (disk, row) in profile.disks.iter().zip(&rows) {
            push_line(&mut out, &widths.row(row));
            render_disk_details(&mut out, disk, 2 + widths.name + 1);
            let indent = " ".repeat(2 + widths.name + 1);
            for (a, b, what) in &shared {
                let other = match (a.name == disk.name, b.name == disk.name) {
                    (true, _) => b,
                    (_, true) => a,
                    _ => continue,
                };
                // The planner refuses the machine; say why here already.
                let text = format!("* shares {what} with {}: cannot be told apart", other.name);
                for line in wrap(&text, WIDTH - indent.len()) {
                    push_line(&mut out, &format!("{indent}{line}"));
                }
            }
        }
    }

    out.push('\n');
    if profile.nics.is_empty() {
        push_line(&mut out, "NICs:      none found");
    } else {
        push_line(&mut out, &format!("NICs ({}):", profile.nics.len()));
        push_line(&mut out, &nic_row("NAME", "MAC", "DRIVER", "LINK", "SPEED"));
        for nic in &profile.nics {
            render_nic(&mut out, nic);
        }
    }
    out
}

/// The cells of one disk's table row, before fitting.
struct DiskRow {
    mark: &'static str,
    name: String,
    size: String,
    kind: String,
    model: String,
    serial: String,
}

impl DiskRow {
    fn new(disk: &Disk) -> Self {
        // The kernel calls CD drives and USB sticks "rotational"; saying HDD
        // for them would mislead whoever picks the disks.
        let media = if disk.name.starts_with("sr") {
            "CD/DVD"
        } else if disk.removable {
            "removable"
        } else if disk.rotational {
            "HDD"
        } else {
            "SSD"
        };
        DiskRow {
            mark: if disk.boot_medium { "*" } else { "" },
            name: disk.name.clone(),
            size: human_bytes(disk.size_bytes),
            kind: format!("{media} {}", transport_name(disk.transport)),
            model: disk.model.clone().unwrap_or_else(|| "-".into()),
            serial: disk.serial.clone().unwrap_or_else(|| "-".into()),
        }
    }
}

/// Column widths sized to the machine's disks, so that long models get
/// the room short serials leave (and the other way round).
struct DiskWidths {
    name: usize,
    size: usize,
    kind: usize,
    model: usize,
    serial: usize,
}

impl DiskWidths {
    fn new(rows: &[DiskRow]) -> Self {
        let max = |f: fn(&DiskRow) -> &str, header: usize| {
            rows.iter()
                .map(|r| f(r).chars().count())
                .max()
                .unwrap_or(0)
                .max(header)
        };
        let name = max(|r| &r.name, 4).min(10);
        let size = max(|r| &r.size, 4);
        let kind = max(|r| &r.kind, 4).min(16);
        let serial = max(|r| &r.serial, 6).min(24);
        // Mark, then four separating spaces after name, size, kind, model.
        let fixed = 2 + name + 1 + size + 1 + kind + 1 + 1 + serial;
        let model = max(|r| &r.model, 5).min(WIDTH.saturating_sub(fixed));
        DiskWidths {
            name,
            size,
            kind,
            model,
            serial,
        }
    }

    fn row(&self, r: &DiskRow) -> String {
        format!(
            "{:<1} {:<nw$} {:<sw$} {:<kw$} {:<mw$} {}",
            r.mark,
            fit(&r.name, self.name),
            fit(&r.size, self.size),
            fit(&r.kind, self.kind),
            fit(&r.model, self.model),
            fit(&r.serial, self.serial),
            nw = self.name,
            sw = self.size,
            kw = self.kind,
            mw = self.model,
        )
    }
}

/// The lines under a disk's row, starting under its SIZE cell.
fn render_disk_details(out: &mut String, disk: &Disk, indent_width: usize) {
    let indent = " ".repeat(indent_width);
    let path = match disk.name_kind() {
        DiskNameKind::ById => disk.stable_path(),
        DiskNameKind::ByPath => format!("{} (slot: no by-id name)", disk.stable_path()),
        DiskNameKind::Kernel => format!("{} (no stable name)", disk.stable_path()),
    };
    // A path must stay whole to be copied: move it left rather than cut it
    // (udev's by-id names stay well under 80 characters in practice).
    let room = WIDTH.saturating_sub(path.chars().count()).min(indent_width);
    push_line(out, &format!("{}{path}", " ".repeat(room)));
    for line in wrap(
        &format!("contents: {}", disk.contents()),
        WIDTH - indent_width,
    ) {
        push_line(out, &format!("{indent}{line}"));
    }
    if disk.boot_medium {
        push_line(out, &format!("{indent}* installer medium: never a target"));
    }
}

fn render_nic(out: &mut String, nic: &Nic) {
    let link = match nic.link {
        Some(true) => "up",
        Some(false) => "down",
        None => "unknown",
    };
    let speed = nic
        .speed_mbps
        .map(|s| format!("{s} Mb/s"))
        .unwrap_or_else(|| "-".to_string());
    push_line(
        out,
        &nic_row(
            &nic.name,
            if nic.mac.is_empty() { "-" } else { &nic.mac },
            nic.driver.as_deref().unwrap_or("-"),
            link,
            &speed,
        ),
    );
    if let Some(model) = nic.udev.get("ID_MODEL_FROM_DATABASE") {
        let vendor = nic
            .udev
            .get("ID_VENDOR_FROM_DATABASE")
            .map(|v| format!("{v} "))
            .unwrap_or_default();
        let text = fit(&format!("{vendor}{model}"), WIDTH - 4);
        push_line(out, &format!("    {text}"));
    }
    if let Some(l) = &nic.dhcp {
        let mut text = format!("DHCP {}/{}", l.address, l.prefix);
        if let Some(g) = l.gateway {
            text.push_str(&format!(", gateway {g}"));
        }
        if !l.dns.is_empty() {
            let dns: Vec<String> = l.dns.iter().map(|d| d.to_string()).collect();
            text.push_str(&format!(", DNS {}", dns.join(" ")));
        }
        if let Some(d) = &l.domain {
            text.push_str(&format!(", {d}"));
        }
        push_line(out, &format!("    {}", fit(&text, WIDTH - 4)));
    }
}

fn nic_row(name: &str, mac: &str, driver: &str, link: &str, speed: &str) -> String {
    format!(
        "  {:<15} {:<17} {:<14} {:<7} {}",
        fit(name, 15),
        fit(mac, 17),
        fit(driver, 14),
        link,
        fit(speed, 20),
    )
}

/// Cuts `text` to `width` characters, marking the cut with `~`.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('~');
        s
    }
}

/// Word-wraps `text` to `width`; words longer than a line are cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&fit(word, width));
    }
    lines.push(line);
    lines
}

fn push_line(out: &mut String, line: &str) {
    let _ = writeln!(out, "{}", line.trim_end());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::DhcpLease;
    use std::net::Ipv4Addr;

    fn long_profile() -> MachineProfile {
        let long = "X".repeat(120);
        let mut udev = std::collections::BTreeMap::new();
        udev.insert("ID_BUS".to_string(), "ata".to_string());
        let nic_udev = [
            ("ID_VENDOR_FROM_DATABASE".to_string(), long.clone()),
            ("ID_MODEL_FROM_DATABASE".to_string(), long.clone()),
        ]
        .into_iter()
        .collect();
        MachineProfile {
            profile_version: crate::PROFILE_VERSION,
            cpu: crate::Cpu {
                model: long.clone(),
                cores: 1024,
                threads: 2048,
                virtualization: Some(Virtualization::Svm),
            },
            memory_bytes: u64::MAX,
            firmware: Firmware::Bios,
            disks: vec![Disk {
                name: "nvme1000n1000".into(),
                device: "259:0".into(),
                by_id: vec![format!("nvme-{}", "Y".repeat(55))],
                by_path: None,
                model: Some(long.clone()),
                serial: Some(long.clone()),
                wwn: None,
                size_bytes: u64::MAX,
                logical_sector_bytes: 512,
                physical_sector_bytes: 512,
                rotational: false,
                transport: crate::Transport::Unknown,
                removable: true,
                partition_table: Some("gpt".into()),
                partitions: (1..40)
                    .map(|n| crate::Partition {
                        name: format!("p{n}"),
                        number: n,
                        size_bytes: 1,
                        filesystem: Some(crate::Filesystem {
                            fs_type: "ext4".into(),
                            label: Some(long.clone()),
                            uuid: None,
                        }),
                    })
                    .collect(),
                filesystem: None,
                zfs_pools: vec![long.clone()],
                boot_medium: true,
                udev,
            }],
            nics: vec![Nic {
                name: long.clone(),
                mac: long.clone(),
                driver: Some(long.clone()),
                link: None,
                speed_mbps: Some(u32::MAX),
                udev: nic_udev,
                dhcp: Some(DhcpLease {
                    address: Ipv4Addr::new(192, 168, 100, 200),
                    prefix: 24,
                    gateway: Some(Ipv4Addr::new(192, 168, 100, 254)),
                    dns: vec![Ipv4Addr::new(192, 168, 100, 253); 3],
                    domain: Some(long.clone()),
                    search: vec![long.clone()],
                }),
            }],
            boot_id: None,
        }
    }

    #[test]
    fn long_values_still_fit_80_columns() {
        let text = render_text(&long_profile());
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        assert!(text.contains("* installer medium: never a target"));
        assert!(text.contains("virtualisation: AMD-V"));
    }

    #[test]
    fn fit_and_wrap() {
        assert_eq!(fit("abcdef", 4), "abc~");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 4), ["abc~"]);
    }
}

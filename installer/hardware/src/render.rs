//! The human-readable `probe` report. Fits 80 columns: it is read on a
//! server's console and over a serial line.

use std::fmt::Write;

use crate::profile::{
    human_bytes, transport_name, Disk, Firmware, MachineProfile, Nic, Virtualization,
};

const WIDTH: usize = 80;
/// Where the second and third lines of a disk start (under MODEL's left
/// neighbour, the SIZE column).
const DETAIL_INDENT: usize = 11;

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
        push_line(&mut out, &format!("CPU:       {}", cpu.model));
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
        push_line(
            &mut out,
            &disk_row("", "NAME", "SIZE", "TYPE", "MODEL", "SERIAL"),
        );
        for disk in &profile.disks {
            render_disk(&mut out, disk);
        }
    }

    out.push('\n');
    if profile.nics.is_empty() {
        push_line(&mut out, "NICs:      none found");
    } else {
        push_line(&mut out, &format!("NICs ({}):", profile.nics.len()));
        push_line(
            &mut out,
            &nic_row("NAME", "MAC", "DRIVER", "LINK", "SPEED"),
        );
        for nic in &profile.nics {
            render_nic(&mut out, nic);
        }
    }
    out
}

fn render_disk(out: &mut String, disk: &Disk) {
    let kind = format!(
        "{} {}",
        if disk.rotational { "HDD" } else { "SSD" },
        transport_name(disk.transport)
    );
    push_line(
        out,
        &disk_row(
            if disk.boot_medium { "*" } else { "" },
            &disk.name,
            &human_bytes(disk.size_bytes),
            &kind,
            disk.model.as_deref().unwrap_or("-"),
            disk.serial.as_deref().unwrap_or("-"),
        ),
    );
    let indent = " ".repeat(DETAIL_INDENT);
    let path = if disk.has_stable_path() {
        disk.stable_path()
    } else {
        format!("{} (no stable by-id name)", disk.stable_path())
    };
    // A path must stay whole to be copied: move it left rather than cut it.
    let room = WIDTH.saturating_sub(path.chars().count()).min(DETAIL_INDENT);
    push_line(out, &format!("{}{path}", " ".repeat(room)));
    for line in wrap(&format!("contents: {}", disk.contents()), WIDTH - DETAIL_INDENT) {
        push_line(out, &format!("{indent}{line}"));
    }
    if disk.boot_medium {
        push_line(out, &format!("{indent}* installer medium: never a target"));
    }
}

fn disk_row(mark: &str, name: &str, size: &str, kind: &str, model: &str, serial: &str) -> String {
    // 1 + 1 + 8 + 1 + 10 + 1 + 11 + 1 + 23 + 1 + 23 = 81 minus the final
    // padding, which is trimmed.
    format!(
        "{:<1} {:<8} {:<10} {:<11} {:<23} {}",
        mark,
        fit(name, 8),
        fit(size, 10),
        fit(kind, 11),
        fit(model, 23),
        fit(serial, 22),
    )
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

    #[test]
    fn fit_and_wrap() {
        assert_eq!(fit("abcdef", 4), "abc~");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 4), ["abc~"]);
    }
}

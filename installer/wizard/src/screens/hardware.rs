//! What the installer found: CPU, memory, disks, NICs, and the planner's
//! findings about the machine, each with what to do.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use tappaas_hardware::{human_bytes, transport_name, Firmware, MachineProfile, Virtualization};
use tappaas_plan::Finding;

use super::{Handled, Msg, Screen};
use crate::context::{initial_answer, Context};
use crate::form::wrap;
use crate::theme;

#[derive(Debug, Default)]
pub struct Hardware {
    /// Problems that stop any install on this machine.
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub scroll: u16,
}

/// The planner's verdict on the machine alone. The planner checks the
/// machine as part of a whole plan, so it is asked for a plan of the
/// smallest install (one boot disk, no data pools, default network): what
/// it then says without naming an answer key is about the machine.
pub fn machine_findings(ctx: &Context) -> (Vec<Finding>, Vec<Finding>) {
    let mut answer = initial_answer();
    answer.global.mailto = "root@localhost".into();
    answer.global.root_password = Some(tappaas_answer::Secret::new("placeholder"));
    answer.node.erase_disks_with_data = true;
    if let Some(d) = ctx.machine.disks.iter().find(|d| !d.boot_medium) {
        answer.disk_setup.disk_list = Some(vec![d.stable_path()]);
    }
    match tappaas_plan::plan(&ctx.machine, &answer, &ctx.env) {
        Ok(plan) => (Vec::new(), plan.warnings),
        Err(errors) => (
            errors
                .into_iter()
                .filter(|e| e.key.is_none())
                .map(|e| Finding {
                    message: e.message,
                    hint: e.hint,
                })
                .collect(),
            Vec::new(),
        ),
    }
}

/// The machine, as lines (long ones are cut by the frame, not wrapped:
/// a table reads better cut than folded).
pub fn machine_lines(m: &MachineProfile) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let virt = match m.cpu.virtualization {
        Some(Virtualization::Vmx) => "Intel VT-x: yes".to_string(),
        Some(Virtualization::Svm) => "AMD-V: yes".to_string(),
        None => "hardware virtualisation: NO".to_string(),
    };
    out.push(Line::styled("CPU and memory", theme::heading()));
    out.push(Line::raw(format!(
        "  {} ({} cores, {} threads), {virt}",
        m.cpu.model, m.cpu.cores, m.cpu.threads
    )));
    out.push(Line::raw(format!(
        "  memory {}, boots by {}",
        human_bytes(m.memory_bytes),
        match m.firmware {
            Firmware::Uefi => "UEFI",
            Firmware::Bios => "BIOS",
        }
    )));
    out.push(Line::styled(
        format!("Disks ({})", m.disks.len()),
        theme::heading(),
    ));
    for d in &m.disks {
        let kind = format!(
            "{} {}",
            transport_name(d.transport),
            if d.rotational { "HDD" } else { "SSD" }
        );
        out.push(Line::raw(format!(
            "  {:<9} {:>10}  {:<11} now: {}",
            d.name,
            human_bytes(d.size_bytes),
            kind,
            if d.boot_medium {
                "the installer medium (never a target)".to_string()
            } else {
                d.contents()
            }
        )));
        out.push(Line::raw(format!(
            "            {}, serial {}",
            d.model.as_deref().unwrap_or("unknown model"),
            d.serial.as_deref().unwrap_or("none")
        )));
    }
    out.push(Line::styled(
        format!("Network interfaces ({})", m.nics.len()),
        theme::heading(),
    ));
    for n in &m.nics {
        let link = match n.link {
            Some(true) => match n.speed_mbps {
                Some(s) => format!("link up, {s} Mb/s"),
                None => "link up".to_string(),
            },
            Some(false) => "no link".to_string(),
            None => "link unknown".to_string(),
        };
        out.push(Line::raw(format!(
            "  {:<10} {}  {:<8} {link}",
            n.name,
            n.mac,
            n.driver.as_deref().unwrap_or("?")
        )));
    }
    out
}

/// Findings as `! message` and `what to do: hint` lines.
pub fn finding_lines(errors: &[Finding], warnings: &[Finding], width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (kind, list, style) in [
        ("error", errors, theme::error()),
        ("warning", warnings, theme::warning()),
    ] {
        for f in list {
            for (i, l) in wrap(&format!("! {kind}: {}", f.message), width.saturating_sub(2))
                .into_iter()
                .enumerate()
            {
                let indent = if i == 0 { "  " } else { "    " };
                out.push(Line::styled(format!("{indent}{l}"), style));
            }
            if !f.hint.is_empty() {
                for l in wrap(&format!("what to do: {}", f.hint), width.saturating_sub(4)) {
                    out.push(Line::raw(format!("    {l}")));
                }
            }
        }
    }
    out
}

impl Hardware {
    fn lines(&self, ctx: &Context, width: usize) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        if self.errors.is_empty() && self.warnings.is_empty() {
            lines.push(Line::raw("Findings: none; this machine can run TAPPaaS."));
        } else {
            lines.push(Line::styled("Findings", theme::heading()));
            lines.extend(finding_lines(&self.errors, &self.warnings, width));
        }
        lines.extend(machine_lines(&ctx.machine));
        lines
    }
}

impl Screen for Hardware {
    fn title(&self) -> &'static str {
        "Hardware check"
    }

    fn keys(&self) -> &'static str {
        "Up/Down/PgUp/PgDn: scroll  Enter: continue  Esc: back  Ctrl-C: quit"
    }

    fn enter(&mut self, ctx: &Context) {
        let (errors, warnings) = machine_findings(ctx);
        self.errors = errors;
        self.warnings = warnings;
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled {
        match key.code {
            KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down => self.scroll = self.scroll.saturating_add(1),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_add(10),
            KeyCode::Enter => return Handled::Msg(Msg::Next),
            _ => return Handled::Ignored,
        }
        // Not past the last line, so that Up answers at once after a long
        // Down; the frame's height is not known here, the line count is.
        let total = self.lines(ctx, 80).len().saturating_sub(1);
        self.scroll = self.scroll.min(u16::try_from(total).unwrap_or(u16::MAX));
        Handled::Consumed
    }

    fn render(&self, area: Rect, buf: &mut Buffer, ctx: &Context) {
        let lines = self.lines(ctx, usize::from(area.width));
        let max = lines.len().saturating_sub(usize::from(area.height));
        let scroll = self.scroll.min(u16::try_from(max).unwrap_or(u16::MAX));
        Paragraph::new(lines).scroll((scroll, 0)).render(area, buf);
    }
}

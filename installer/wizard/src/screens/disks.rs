//! Disks: a role for each disk (boot, tank1, tank2 or none), the RAID
//! level of the boot pool, the layout of tank1, and where tank2 lives.
//!
//! The screen starts from the planner's proposal
//! (`tappaas_plan::propose_disks`), which never names a disk that holds
//! data: each row says why it got its role, and Enter on Next (where the
//! focus starts) accepts it. Without a proposal every disk starts
//! unassigned.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use tappaas_answer::{Answer, ExistingPool, Secret, Tank1, Tank1Layout, ZfsOptions, ZfsRaid};
use tappaas_hardware::{human_bytes, transport_name, Disk, MachineProfile};
use tappaas_plan::{AnswerKey, DiskProposal, DiskRole, PlanError, Section};

use super::{next_unless, Handled, Screen};
use crate::context::Context;
use crate::form::{errors_for, wrap, Choice, Form, FormEvent, Item, TextField};

/// What a disk is used for. The order is the order of the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    None,
    Boot,
    Tank1,
    Tank2,
}

const ROLES: [(Role, &str); 4] = [
    (Role::None, "-"),
    (Role::Boot, "boot"),
    (Role::Tank1, "tank1"),
    (Role::Tank2, "tank2"),
];

const TANK1_LAYOUTS: [Tank1Layout; 6] = [
    Tank1Layout::Single,
    Tank1Layout::Mirror,
    Tank1Layout::Raid10,
    Tank1Layout::RaidZ1,
    Tank1Layout::RaidZ2,
    Tank1Layout::RaidZ3,
];

/// Where tank2 lives: `false` on its own disks, `true` on the rest of the
/// boot disk(s). The order is the order of the choice.
const TANK2_PLACES: [(bool, &str); 2] = [
    (false, "the tank2 disks above"),
    (true, "rest of the boot disk(s)"),
];

/// What to do with a pool found on the disks. The order is the order of
/// the choice.
const EXISTING: [(ExistingPool, &str); 2] = [
    (ExistingPool::Keep, "keep (import)"),
    (ExistingPool::Wipe, "wipe"),
];

/// Values of a table of (value, label), in its order.
fn values<T: Copy, const N: usize>(table: &[(T, &str); N]) -> [T; N] {
    table.map(|(v, _)| v)
}

/// Labels of a table of (value, label), in its order.
fn labels<T: Copy>(table: &[(T, &str)]) -> Vec<String> {
    table.iter().map(|(_, s)| s.to_string()).collect()
}

/// Indices of the items after the disk rows, relative to the first one.
#[derive(Debug, Clone, Copy)]
struct Fixed {
    raid: usize,
    t1_layout: usize,
    t1_single: usize,
    t1_existing: usize,
    t2_mode: usize,
    t2_size: usize,
    t2_existing: usize,
    erase: usize,
}

#[derive(Debug)]
pub struct Disks {
    pub form: Form,
    /// Form item of each disk of the machine, in the machine's order.
    rows: Vec<usize>,
    /// Stable path of each disk, as the answer names it.
    paths: Vec<String>,
    fixed: Fixed,
    /// The user chose a RAID level / layout: stop suggesting one.
    raid_touched: bool,
    layout_touched: bool,
    /// The proposal in a sentence, or why there is none.
    proposal: String,
    /// There is a proposal to accept.
    proposed: bool,
}

impl Role {
    fn proposed(role: DiskRole) -> Role {
        match role {
            DiskRole::Boot => Role::Boot,
            DiskRole::Tank1 => Role::Tank1,
            DiskRole::Tank2 => Role::Tank2,
            DiskRole::Untouched | DiskRole::InstallerMedium => Role::None,
        }
    }

    fn label(self) -> &'static str {
        ROLES
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("-", |(_, s)| s)
    }
}

/// The line under a disk that says why the proposal gave it its role.
fn proposal_line(proposal: &DiskProposal, disk: &Disk) -> Option<String> {
    let p = proposal.disks.iter().find(|p| p.name == disk.name)?;
    match Role::proposed(p.role) {
        _ if disk.boot_medium || p.reason.is_empty() => None,
        Role::None => Some(format!("not proposed: {}", p.reason)),
        role => Some(format!("proposed as {}: {}", role.label(), p.reason)),
    }
}

fn describe_row(d: &Disk) -> (String, Vec<String>) {
    let kind = format!(
        "{} {}",
        transport_name(d.transport),
        if d.rotational { "HDD" } else { "SSD" }
    );
    let label = format!(
        "{:<8} {:>10} {:<10}",
        d.name,
        human_bytes(d.size_bytes),
        kind
    );
    let content = if d.boot_medium {
        "the installer medium: not selectable".to_string()
    } else {
        format!("now: {}", d.contents())
    };
    let detail = vec![format!(
        "{}, serial {}; {content}",
        d.model.as_deref().unwrap_or("unknown model"),
        d.serial.as_deref().unwrap_or("none"),
    )];
    (label, detail)
}

impl Disks {
    pub fn new(machine: &MachineProfile) -> Self {
        let proposal = tappaas_plan::propose_disks(machine);
        let mut items = Vec::new();
        let mut rows = Vec::new();
        for d in &machine.disks {
            let (label, mut detail) = describe_row(d);
            detail.extend(proposal_line(&proposal, d));
            let mut item = if d.boot_medium {
                let mut it = Item::choice(label, Choice::new(vec!["installer".into()], 0));
                it.disabled = true;
                it
            } else {
                let role = Role::proposed(proposal.role_of(&d.name));
                let at = ROLES.iter().position(|(r, _)| *r == role).unwrap_or(0);
                Item::choice(label, Choice::new(labels(&ROLES), at))
            };
            item = item.with_detail(detail);
            rows.push(items.len());
            items.push(item);
        }
        let base = items.len();
        let fixed = Fixed {
            raid: base,
            t1_layout: base + 1,
            t1_single: base + 2,
            t1_existing: base + 3,
            t2_mode: base + 4,
            t2_size: base + 5,
            t2_existing: base + 6,
            erase: base + 7,
        };
        let existing = || Choice::new(labels(&EXISTING), 0);
        items.push(Item::choice(
            "Boot pool RAID level",
            Choice::new(ZfsRaid::ALL.iter().map(|r| r.to_string()).collect(), 0),
        ));
        items.push(Item::choice(
            "tank1 layout",
            Choice::new(
                TANK1_LAYOUTS
                    .iter()
                    .map(|l| l.as_str().to_string())
                    .collect(),
                1,
            ),
        ));
        items.push(Item::check(
            "Accept a tank1 without redundancy (one failed disk loses its data)",
            false,
        ));
        items.push(Item::choice("Existing pool tank1", existing()));
        items.push(Item::choice(
            "tank2 is",
            Choice::new(labels(&TANK2_PLACES), usize::from(proposal.split.is_some())),
        ));
        items.push(Item::text("rpool size (GiB)", TextField::new("")));
        items.push(Item::choice("Existing pool tank2", existing()));
        items.push(Item::check(
            "Erase the selected disks that hold data (listed in the summary)",
            false,
        ));
        items.push(Item::button("Next"));
        let mut s = Disks {
            form: Form::new(items, 24),
            rows,
            paths: machine.disks.iter().map(Disk::stable_path).collect(),
            fixed,
            raid_touched: false,
            layout_touched: false,
            proposal: proposal.summary.clone(),
            proposed: !proposal.is_empty(),
        };
        s.refresh(machine);
        if !proposal.is_empty() {
            // One key accepts the proposal.
            let next = s.form.items.len() - 1;
            s.form.focus_on(next);
        }
        s
    }

    pub fn role(&self, disk: usize) -> Role {
        let Some(item) = self.rows.get(disk) else {
            return Role::None;
        };
        if self.form.item(*item).is_some_and(|it| it.disabled) {
            return Role::None;
        }
        self.form
            .chosen(*item, &values(&ROLES))
            .unwrap_or(Role::None)
    }

    /// Sets the role of disk `disk` (by machine order), as Left/Right would.
    pub fn set_role(&mut self, disk: usize, role: Role, machine: &MachineProfile) {
        if let Some(item) = self.rows.get(disk).copied() {
            if let Some(c) = self.form.choice_mut(item) {
                if let Some(at) = ROLES.iter().position(|(r, _)| *r == role) {
                    c.select_at(at);
                }
            }
        }
        self.refresh(machine);
    }

    fn disks_with<'m>(&self, machine: &'m MachineProfile, role: Role) -> Vec<&'m Disk> {
        machine
            .disks
            .iter()
            .enumerate()
            .filter(|(i, _)| self.role(*i) == role)
            .map(|(_, d)| d)
            .collect()
    }

    fn tank2_rest(&self) -> bool {
        self.form
            .chosen(self.fixed.t2_mode, &values(&TANK2_PLACES))
            .unwrap_or(false)
    }

    /// Shows the options that apply to the chosen roles, and suggests the
    /// RAID level and layout from the number of disks until the user picks
    /// one.
    fn refresh(&mut self, machine: &MachineProfile) {
        let f = self.fixed;
        let boot = self.disks_with(machine, Role::Boot).len();
        let tank1: Vec<&Disk> = self.disks_with(machine, Role::Tank1);
        let tank2: Vec<&Disk> = self.disks_with(machine, Role::Tank2);
        if !self.raid_touched {
            let raid = tappaas_plan::boot_raid_for(boot);
            if let Some(c) = self.form.choice_mut(f.raid) {
                if let Some(at) = ZfsRaid::ALL.iter().position(|r| *r == raid) {
                    c.select_at(at);
                }
            }
        }
        if !self.layout_touched {
            let layout = tappaas_plan::tank1_layout_for(tank1.len());
            if let Some(c) = self.form.choice_mut(f.t1_layout) {
                if let Some(at) = TANK1_LAYOUTS.iter().position(|l| *l == layout) {
                    c.select_at(at);
                }
            }
        }
        self.refresh_rpool_size(machine);
        let single = self.form.chosen(f.t1_layout, &TANK1_LAYOUTS) == Some(Tank1Layout::Single);
        let has_pool = |disks: &[&Disk], pool: &str| {
            disks.iter().any(|d| d.zfs_pools.iter().any(|p| p == pool))
        };
        let rest = self.tank2_rest();
        self.form.set_visible(f.t1_layout, !tank1.is_empty());
        self.form
            .set_visible(f.t1_single, !tank1.is_empty() && single);
        self.form
            .set_visible(f.t1_existing, has_pool(&tank1, "tank1"));
        self.form.set_visible(f.t2_size, rest);
        self.form
            .set_visible(f.t2_existing, has_pool(&tank2, "tank2"));
        let selected_with_data = machine
            .disks
            .iter()
            .enumerate()
            .any(|(i, d)| self.role(i) != Role::None && d.holds_data());
        self.form.set_visible(f.erase, selected_with_data);
    }

    /// rpool's size beside tank2 on the rest of the boot disk: the
    /// planner's proposal for the smallest boot disk until the user types
    /// one, and what then remains for tank2.
    fn refresh_rpool_size(&mut self, machine: &MachineProfile) {
        let item = self.fixed.t2_size;
        let smallest = self
            .disks_with(machine, Role::Boot)
            .iter()
            .map(|d| d.size_bytes)
            .min();
        let split = smallest.and_then(tappaas_plan::propose_boot_split);
        if let Some(field) = self.form.field_mut(item) {
            field.set_default(split.map(|s| s.rpool_gib.to_string()).unwrap_or_default());
        }
        let typed = self.form.text(item).trim().parse::<f64>().ok();
        let line = match (smallest, typed) {
            (None, _) => "choose a boot disk: tank2 gets what rpool leaves of it".to_string(),
            (Some(size), Some(gib)) => match tappaas_plan::boot_remainder(size, gib) {
                Some(rest) => format!(
                    "tank2 gets the rest: {} of each boot disk",
                    human_bytes(rest)
                ),
                None => format!(
                    "{gib} GiB does not fit: the boot disk leaves {} for rpool",
                    human_bytes(tappaas_plan::boot_remainder(size, 0.0).unwrap_or(0))
                ),
            },
            (Some(_), None) if split.is_none() => {
                "the boot disk is too small to hold rpool and tank2".to_string()
            }
            (Some(_), None) => {
                "rpool's size in GiB; tank2 gets the rest of each boot disk".to_string()
            }
        };
        if let Some(it) = self.form.items.get_mut(item) {
            it.detail = vec![line];
        }
    }

    /// Puts the messages of `validate` (and of the planner, which knows
    /// the disks) beside the items they are about.
    fn show_errors(&mut self, ctx: &Context, with_planner: bool) -> bool {
        let f = self.fixed;
        let errors = super::check(self, ctx);
        let boot = self.disks_with(&ctx.machine, Role::Boot).len();
        let mut raid_err = if boot == 0 {
            Some("choose at least one boot disk: Left/Right on a disk gives it a role".to_string())
        } else {
            errors_for(&errors, "disk-setup")
        };
        let mut t1_err = errors_for(&errors, "tank1");
        let mut t2_err = errors_for(&errors, "tank2");
        let mut erase_err = None;
        if with_planner && raid_err.is_none() && t1_err.is_none() && t2_err.is_none() {
            for e in planner_errors(self, ctx) {
                let text = if e.hint.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}; what to do: {}", e.message, e.hint)
                };
                let erase_offered = self.form.item(f.erase).is_some_and(|i| i.visible)
                    && !self.form.checked(f.erase);
                let slot = error_slot(&e, erase_offered);
                let text = if slot == ErrorSlot::Consent {
                    format!("{text} (here: tick \"Erase the selected disks that hold data\")")
                } else {
                    text
                };
                let slot = match slot {
                    ErrorSlot::Consent | ErrorSlot::Erase => &mut erase_err,
                    ErrorSlot::Tank1 => &mut t1_err,
                    ErrorSlot::Tank2 => &mut t2_err,
                    ErrorSlot::Raid => &mut raid_err,
                };
                match slot {
                    Some(s) => {
                        s.push_str("; ");
                        s.push_str(&text);
                    }
                    None => *slot = Some(text),
                }
            }
        }
        // An error goes to an item that is shown: tank1's layout is hidden
        // when no disk is in tank1.
        let t1_item = if self.form.item(f.t1_layout).is_some_and(|i| i.visible) {
            f.t1_layout
        } else {
            f.raid
        };
        let erase_item = if self.form.item(f.erase).is_some_and(|i| i.visible) {
            f.erase
        } else {
            f.raid
        };
        let any = raid_err.is_some() || t1_err.is_some() || t2_err.is_some() || erase_err.is_some();
        self.form.set_error(f.raid, None);
        self.form.set_error(f.t1_layout, None);
        self.form.set_error(f.erase, None);
        self.form.set_error(f.t2_mode, t2_err);
        self.form.set_error(erase_item, erase_err);
        let joined = |a: Option<String>, b: Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        if t1_item == f.raid {
            let cur = self.form.error(f.raid).map(str::to_string);
            self.form
                .set_error(f.raid, joined(joined(raid_err, t1_err), cur));
        } else {
            self.form.set_error(f.t1_layout, t1_err);
            let cur = self.form.error(f.raid).map(str::to_string);
            self.form.set_error(f.raid, joined(raid_err, cur));
        }
        let size_err = self.size_error();
        self.form.set_error(f.t2_size, size_err.clone());
        any || size_err.is_some()
    }

    fn size_error(&self) -> Option<String> {
        if !self.tank2_rest() {
            return None;
        }
        let text = self.form.text(self.fixed.t2_size).trim();
        match text.parse::<f64>() {
            Ok(_) => None,
            Err(_) => Some(format!(
                "'{text}' is not a size: give the size of rpool in GiB; the rest of the boot disk becomes tank2"
            )),
        }
    }
}

/// Where a planner error about the disks is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorSlot {
    Raid,
    Tank1,
    Tank2,
    /// At the erase check box, about that key.
    Erase,
    /// At the erase check box, whose tick would lift it (the planner
    /// names the consent it needs; here that key is the check box).
    Consent,
}

/// The item a planner error goes to, by its typed key and consent;
/// `erase_offered`: the erase check box is shown and not ticked.
fn error_slot(e: &PlanError, erase_offered: bool) -> ErrorSlot {
    if erase_offered && e.consent == Some(AnswerKey::ERASE_DISKS_WITH_DATA) {
        ErrorSlot::Consent
    } else if e.key == Some(AnswerKey::ERASE_DISKS_WITH_DATA) {
        ErrorSlot::Erase
    } else if e.is_under(Section::Tank1) {
        ErrorSlot::Tank1
    } else if e.is_under(Section::Tank2) {
        ErrorSlot::Tank2
    } else {
        ErrorSlot::Raid
    }
}

/// What the planner says about the disk choice, with placeholders for what
/// later screens ask (the planner does not check those).
fn planner_errors(s: &Disks, ctx: &Context) -> Vec<PlanError> {
    let mut answer = ctx.answer.clone();
    s.apply(&mut answer);
    answer.global.root_password = Some(Secret::new("placeholder"));
    answer.global.mailto = "root@localhost".into();
    match tappaas_plan::plan(&ctx.machine, &answer, &ctx.env) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .filter(|e| {
                [Section::DiskSetup, Section::Tank1, Section::Tank2]
                    .into_iter()
                    .any(|s| e.is_under(s))
                    || e.key == Some(AnswerKey::ERASE_DISKS_WITH_DATA)
            })
            .collect(),
    }
}

impl Screen for Disks {
    fn title(&self) -> &'static str {
        "Disks"
    }

    fn keys(&self) -> &'static str {
        "Up/Down/Tab: move  Left/Right: role or option  Space: tick  Esc: back"
    }

    fn enter(&mut self, ctx: &Context) {
        self.refresh(&ctx.machine);
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled {
        let f = self.fixed;
        match self.form.handle_key(key) {
            FormEvent::Ignored => Handled::Ignored,
            FormEvent::Consumed => Handled::Consumed,
            FormEvent::Changed(i) => {
                if i == f.raid {
                    self.raid_touched = true;
                }
                if i == f.t1_layout {
                    self.layout_touched = true;
                }
                self.refresh(&ctx.machine);
                Handled::Consumed
            }
            FormEvent::Left(i) => {
                if i == f.t2_size {
                    let e = self.size_error();
                    self.form.set_error(f.t2_size, e);
                }
                Handled::Consumed
            }
            FormEvent::Pressed(_) => {
                let any_error = self.show_errors(ctx, true);
                next_unless(&mut self.form, any_error)
            }
        }
    }

    fn apply(&self, answer: &mut Answer) {
        let f = self.fixed;
        let paths = |role: Role| -> Vec<String> {
            self.rows
                .iter()
                .enumerate()
                .filter(|(i, _)| self.role(*i) == role)
                .filter_map(|(i, _)| self.paths.get(i).cloned())
                .collect()
        };
        let boot = paths(Role::Boot);
        let tank1 = paths(Role::Tank1);
        let tank2 = paths(Role::Tank2);
        let rest = self.tank2_rest();
        answer.disk_setup.disk_list = if boot.is_empty() { None } else { Some(boot) };
        let raid = self.form.chosen(f.raid, &ZfsRaid::ALL);
        let hdsize = if rest {
            self.form.text(f.t2_size).trim().parse::<f64>().ok()
        } else {
            None
        };
        answer.disk_setup.zfs = Some(ZfsOptions {
            raid,
            hdsize,
            ..answer.disk_setup.zfs.clone().unwrap_or_default()
        });
        let existing = |item: usize| {
            if self.form.item(item).is_some_and(|i| i.visible) {
                self.form
                    .chosen(item, &values(&EXISTING))
                    .unwrap_or(ExistingPool::Keep)
            } else {
                ExistingPool::Keep
            }
        };
        answer.tank1 = if tank1.is_empty() {
            None
        } else {
            let layout = self
                .form
                .chosen(f.t1_layout, &TANK1_LAYOUTS)
                .unwrap_or(Tank1Layout::Mirror);
            Some(Tank1 {
                layout,
                disk_list: Some(tank1),
                filter: None,
                filter_match: None,
                allow_no_redundancy: layout == Tank1Layout::Single
                    && self.form.checked(f.t1_single),
                existing: existing(f.t1_existing),
            })
        };
        answer.tank2 = tappaas_plan::tank2_section(rest, tank2, existing(f.t2_existing));
        answer.node.erase_disks_with_data =
            self.form.item(f.erase).is_some_and(|i| i.visible) && self.form.checked(f.erase);
    }

    /// The proposal and how to take it stay above the rows, which scroll.
    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        let chosen = self
            .rows
            .iter()
            .enumerate()
            .filter(|(i, _)| self.role(*i) != Role::None)
            .count();
        let keys = if self.proposed {
            "Enter on Next accepts it; Left/Right changes a disk's role"
        } else {
            "Left/Right gives a disk its role"
        };
        let width = usize::from(area.width);
        let lines: Vec<Line> = [
            self.proposal.clone(),
            format!(
                "{chosen} of {} disk(s) chosen. {keys}: boot (rpool), tank1 (redundant), tank2.",
                self.rows.len()
            ),
        ]
        .iter()
        .flat_map(|t| wrap(t, width))
        .map(Line::raw)
        .collect();
        let height = u16::try_from(lines.len())
            .unwrap_or(u16::MAX)
            .min(area.height / 3);
        let [top, rest] =
            Layout::vertical([Constraint::Length(height), Constraint::Min(1)]).areas(area);
        Paragraph::new(lines).render(top, buf);
        self.form.render(rest, buf, true);
    }
}

#[cfg(test)]
mod tests {
    use tappaas_plan::Field;

    use super::*;

    fn machine() -> MachineProfile {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/machines/nvme2-hdd4/profile.json"
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        MachineProfile::from_json(&text).expect("profile")
    }

    /// The screen decides by the chosen option, whatever its text says.
    #[test]
    fn roles_and_options_are_read_by_index_not_by_their_labels() {
        let m = machine();
        let mut s = Disks::new(&m);
        for i in 0..m.disks.len() {
            s.set_role(i, Role::None, &m);
        }
        s.set_role(2, Role::Tank1, &m);
        s.set_role(3, Role::Tank1, &m);
        let f = s.fixed;
        // Relabel every choice: nothing may change.
        for item in s
            .rows
            .iter()
            .copied()
            .chain([f.t1_layout, f.t2_mode, f.raid])
        {
            if let Some(c) = s.form.choice_mut(item) {
                c.options = (0..c.options.len())
                    .map(|i| format!("option {i}"))
                    .collect();
            }
        }
        assert_eq!(s.role(2), Role::Tank1);
        assert_eq!(s.role(3), Role::Tank1);
        let mut answer = crate::context::initial_answer();
        s.apply(&mut answer);
        let tank1 = answer.tank1.expect("tank1");
        assert_eq!(tank1.disk_list.map(|l| l.len()), Some(2));
        assert_eq!(tank1.layout, Tank1Layout::Mirror);
        assert!(!s.tank2_rest());
    }

    #[test]
    fn planner_errors_are_placed_by_their_key_and_consent() {
        let erase = AnswerKey::ERASE_DISKS_WITH_DATA;
        // A hint that does not name the key: the typed consent decides.
        let data =
            PlanError::at(Section::Tank1, "sdc holds data", "choose another disk").lifted_by(erase);
        assert_eq!(error_slot(&data, true), ErrorSlot::Consent);
        assert_eq!(error_slot(&data, false), ErrorSlot::Tank1);
        let hint_only = PlanError::at(
            Section::Tank2,
            "sde holds data",
            "set node.erase-disks-with-data = true",
        );
        assert_eq!(error_slot(&hint_only, true), ErrorSlot::Tank2);
        assert_eq!(
            error_slot(&PlanError::at(erase, "x", ""), false),
            ErrorSlot::Erase
        );
        assert_eq!(
            error_slot(
                &PlanError::at(Section::DiskSetup.key(Field::ZfsRaid), "x", ""),
                true
            ),
            ErrorSlot::Raid
        );
    }
}

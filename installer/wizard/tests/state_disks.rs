//! The state machine on the disks screen: roles, the proposal, tank2 on
//! the rest of the boot disk, rpool's size.

mod common;

use common::state::*;
use common::*;
use crossterm::event::KeyCode;
use tappaas_wizard::Step;

#[test]
fn disks_need_a_boot_disk_and_never_offer_the_installer_medium() {
    let mut w = wizard_on("usb-boot");
    to_disks(&mut w);
    let m = machine("usb-boot");
    let medium = m
        .disks
        .iter()
        .position(|d| d.boot_medium)
        .expect("a medium");
    // The proposal leaves the medium alone; without any role (every
    // proposed one taken back), Next is refused, with the reason.
    assert_eq!(
        w.screens.disks.role(medium),
        tappaas_wizard::screens::disks::Role::None
    );
    for i in 0..m.disks.len() {
        w.screens
            .disks
            .set_role(i, tappaas_wizard::screens::disks::Role::None, &m);
    }
    let last = w.screens.disks.form.items.len() - 1;
    w.screens.disks.form.focus = last;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Disks);
    let text = text_of(&draw(&w, 80, 24));
    assert!(text.contains("! choose at least one boot disk"), "{text}");
    // Walking every row never lands on the medium.
    w.screens.disks.form.focus_first();
    for _ in 0..20 {
        press(&mut w, KeyCode::Right, 1);
        press(&mut w, KeyCode::Down, 1);
    }
    assert_eq!(
        w.screens.disks.role(medium),
        tappaas_wizard::screens::disks::Role::None
    );
    let medium_path = m.disks[medium].stable_path();
    let mut answer = w.ctx.answer.clone();
    tappaas_wizard::screens::Screen::apply(&w.screens.disks, &mut answer);
    let all: Vec<String> = [
        answer.disk_setup.disk_list.clone(),
        answer.tank1.as_ref().and_then(|t| t.disk_list.clone()),
        answer.tank2.as_ref().and_then(|t| t.disk_list.clone()),
    ]
    .into_iter()
    .flatten()
    .flatten()
    .collect();
    assert!(!all.contains(&medium_path));
    assert!(text_of(&draw(&w, 120, 40)).contains("installer medium: not selectable"));
}

#[test]
fn the_rest_of_the_boot_disk_can_be_tank2() {
    let mut w = wizard_on("mini-pc");
    let t2 = to_tank2_on_the_rest(&mut w);
    press(&mut w, KeyCode::Down, 1);
    type_text(&mut w, "abc");
    press(&mut w, KeyCode::Tab, 1);
    assert!(w
        .screens
        .disks
        .form
        .error(t2 + 1)
        .is_some_and(|e| e.contains("not a size")));
    w.screens.disks.form.focus = t2 + 1;
    retype(&mut w, "100");
    // The disk holds a filesystem: Next says so, beside the erase box.
    let last = w.screens.disks.form.items.len() - 1;
    w.screens.disks.form.focus = last;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Disks);
    let erase = last - 1;
    assert!(w
        .screens
        .disks
        .form
        .error(erase)
        .is_some_and(|e| e.contains("holds data") && e.contains("tick")));
    w.screens.disks.form.focus = erase;
    press(&mut w, KeyCode::Char(' '), 1);
    w.screens.disks.form.focus = last;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network, "{:?}", w.screens.disks.form.items);
    assert!(w.ctx.answer.node.erase_disks_with_data);
    let t2 = w.ctx.answer.tank2.as_ref().expect("tank2");
    assert!(t2.boot_remainder);
    assert_eq!(
        w.ctx.answer.disk_setup.zfs.as_ref().and_then(|z| z.hdsize),
        Some(100.0)
    );
}

#[test]
fn the_proposed_layout_is_shown_with_its_reasons_and_accepted_with_one_key() {
    let m = machine("server12");
    let mut w = wizard_on("server12");
    to_disks(&mut w);
    let text = text_of(&draw(&w, 120, 40));
    assert!(
        text.contains("Proposed: rpool raid1 on sda, sdb, tank1 raidz-2 on sdc,"),
        "{text}"
    );
    assert!(text.contains("Enter on Next accepts it"), "{text}");
    // Every disk says why it has its role (the focus is on Next, at the
    // bottom: the first rows are read at the top of a taller screen).
    let text = text_of(&draw(&w, 120, 60));
    assert!(
        text.contains("proposed as boot: the smallest matching pair of SSDs"),
        "{text}"
    );
    assert!(
        text.contains("proposed as tank1: the largest group of matching disks: 10 x 7.3"),
        "{text}"
    );
    // One key: Enter on Next.
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    let mut expected = tappaas_wizard::context::initial_answer();
    tappaas_plan::propose_disks(&m).apply(&mut expected);
    assert_eq!(disk_sections(&w.ctx.answer), disk_sections(&expected));
    let tank1 = w.ctx.answer.tank1.as_ref().expect("tank1");
    assert_eq!(tank1.layout, tappaas_answer::Tank1Layout::RaidZ2);
    assert_eq!(tank1.disk_list.as_ref().map(Vec::len), Some(10));

    // Changed with Left/Right: one HDD to tank2, and the layout follows
    // the count by the same rule.
    press(&mut w, KeyCode::Esc, 1);
    use tappaas_wizard::screens::disks::Role;
    w.screens.disks.set_role(11, Role::Tank2, &m);
    w.screens.disks.form.focus = w.screens.disks.form.items.len() - 1;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    let tank1 = w.ctx.answer.tank1.as_ref().expect("tank1");
    assert_eq!(tank1.disk_list.as_ref().map(Vec::len), Some(9));
    assert_eq!(tank1.layout, tappaas_plan::tank1_layout_for(9));
    assert_eq!(
        w.ctx
            .answer
            .tank2
            .as_ref()
            .and_then(|t| t.disk_list.clone()),
        Some(vec![m.disks[11].stable_path()])
    );
}

#[test]
fn a_disk_that_holds_data_is_never_proposed() {
    for name in ["existing-pools", "mini-pc"] {
        let mut w = wizard_on(name);
        to_disks(&mut w);
        let d = &w.screens.disks;
        for i in 0..w.ctx.machine.disks.len() {
            assert_eq!(
                d.role(i),
                tappaas_wizard::screens::disks::Role::None,
                "{name}"
            );
        }
        // Nothing to accept: the focus is on the first disk, and the
        // screen says why nothing is proposed.
        let first_row = d
            .form
            .items
            .iter()
            .position(|i| i.label.starts_with(&w.ctx.machine.disks[0].name))
            .expect("first row");
        assert_eq!(d.form.focus, first_row, "{name}");
        let text = text_of(&draw(&w, 120, 40));
        assert!(
            text.contains("No layout is proposed: no disk is empty"),
            "{name}: {text}"
        );
        assert!(
            text.contains("not proposed: it holds data"),
            "{name}: {text}"
        );
    }
}

#[test]
fn the_rpool_size_starts_at_the_planners_size_and_says_what_tank2_gets() {
    let mut w = wizard_on("mini-pc");
    let t2 = to_tank2_on_the_rest(&mut w);
    let disk = w.ctx.machine.disks[0].size_bytes;
    let split = tappaas_plan::propose_boot_split(disk).expect("a split");
    let f = &w.screens.disks.form;
    assert_eq!(f.text(t2 + 1), split.rpool_gib.to_string());
    let remains = format!(
        "tank2 gets the rest: {} of each boot disk",
        tappaas_hardware::human_bytes(split.tank2_bytes)
    );
    assert_eq!(f.items[t2 + 1].detail, std::slice::from_ref(&remains));
    assert!(text_of(&draw(&w, 120, 40)).contains(&remains));
    // A typed size: what remains follows it.
    w.screens.disks.form.focus = t2 + 1;
    retype(&mut w, "100");
    let rest = tappaas_plan::boot_remainder(disk, 100.0).expect("fits");
    assert_eq!(
        w.screens.disks.form.items[t2 + 1].detail,
        [format!(
            "tank2 gets the rest: {} of each boot disk",
            tappaas_hardware::human_bytes(rest)
        )]
    );
    // Cleared and left: the default comes back only for an untouched
    // field, so an empty one is refused as before.
    retype(&mut w, "");
    press(&mut w, KeyCode::Tab, 1);
    assert!(w
        .screens
        .disks
        .form
        .error(t2 + 1)
        .is_some_and(|e| e.contains("not a size")));
    w.screens.disks.form.focus = t2 + 1;
    retype(&mut w, &split.rpool_gib.to_string());
    // The disk holds a filesystem: tick erase; Next takes the default size.
    let last = w.screens.disks.form.items.len() - 1;
    w.screens.disks.form.focus = last - 1;
    press(&mut w, KeyCode::Char(' '), 1);
    w.screens.disks.form.focus = last;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network, "{:?}", w.screens.disks.form.items);
    assert_eq!(
        w.ctx.answer.disk_setup.zfs.as_ref().and_then(|z| z.hdsize),
        Some(split.rpool_gib as f64)
    );
}

#[test]
fn the_rpool_size_default_needs_no_typing() {
    // As a new user does it: boot, tank2 on the rest, erase, Next.
    let mut w = wizard_on("mini-pc");
    to_tank2_on_the_rest(&mut w);
    let last = w.screens.disks.form.items.len() - 1;
    w.screens.disks.form.focus = last - 1;
    press(&mut w, KeyCode::Char(' '), 1);
    w.screens.disks.form.focus = last;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network, "{:?}", w.screens.disks.form.items);
    let hdsize = w.ctx.answer.disk_setup.zfs.as_ref().and_then(|z| z.hdsize);
    assert_eq!(hdsize, Some(tappaas_plan::PROPOSED_RPOOL_GIB as f64));
    assert!(w
        .ctx
        .answer
        .tank2
        .as_ref()
        .is_some_and(|t| t.boot_remainder));
}

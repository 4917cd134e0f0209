//! Every screen rendered at 80x24 and 120x40 on a recorded machine
//! (nvme2-hdd4), as insta snapshots; and the styled buffer where the
//! highlight carries meaning.

mod common;

use std::time::Instant;

use common::*;
use crossterm::event::KeyCode;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use tappaas_wizard::{Charset, Progress, Step, Wizard};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// Snapshots a state at both sizes; the ASCII frames must be pure ASCII.
fn snap(name: &str, w: &Wizard) {
    for (width, height) in SIZES {
        let buf = draw(w, width, height);
        let text = text_of(&buf);
        if w.ctx.charset == Charset::Ascii {
            assert!(text.is_ascii(), "{name}: not ASCII:\n{text}");
        }
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), text);
    }
}

fn snap_progress(name: &str, p: &Progress) {
    for (width, height) in SIZES {
        let text = screen(p, width, height);
        assert!(text.is_ascii(), "{name}: not ASCII:\n{text}");
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), text);
    }
}

#[test]
fn every_screen() {
    let mut w = wizard_on("nvme2-hdd4");
    snap("01_welcome", &w);
    press(&mut w, KeyCode::Enter, 1);
    snap("02_mode", &w);
    press(&mut w, KeyCode::Enter, 1);
    snap("03_hardware", &w);
    press(&mut w, KeyCode::Enter, 1);
    // The proposal, accepted as it is.
    snap("04_disks_proposed", &w);
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    snap("05_network", &w);
    press(&mut w, KeyCode::Tab, 2);
    retype(&mut w, "10.0.0");
    press(&mut w, KeyCode::Tab, 1);
    snap("05_network_error", &w);
    press(&mut w, KeyCode::BackTab, 1);
    retype(&mut w, "10.0.0.10/24");
    press(&mut w, KeyCode::Tab, 5);
    retype(&mut w, "home.lan");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Cluster);
    snap("06_cluster_create", &w);
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    snap("07_credentials", &w);
    type_text(&mut w, "short");
    press(&mut w, KeyCode::Tab, 1);
    type_text(&mut w, "other");
    press(&mut w, KeyCode::Tab, 1);
    snap("07_credentials_errors", &w);
    press(&mut w, KeyCode::BackTab, 2);
    retype(&mut w, PASSWORD);
    press(&mut w, KeyCode::Tab, 1);
    retype(&mut w, PASSWORD);
    press(&mut w, KeyCode::Tab, 1);
    type_text(&mut w, SSH_KEY);
    press(&mut w, KeyCode::Tab, 2);
    type_text(&mut w, "admin@home.lan");
    press(&mut w, KeyCode::Tab, 1);
    retype(&mut w, "Europe/Amsterdam");
    press(&mut w, KeyCode::Tab, 2);
    retype(&mut w, "nl");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Firewall);
    snap("08_firewall", &w);
    accept_firewall(&mut w);
    assert_eq!(w.step, Step::Services);
    snap("09_services", &w);
    press(&mut w, KeyCode::Tab, 16);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Summary);
    snap("10_summary", &w);
    type_text(&mut w, "no");
    press(&mut w, KeyCode::Enter, 2);
    snap("10_summary_not_confirmed", &w);
    let view = w.screens.summary.view_button;
    w.screens.summary.form.focus = view;
    press(&mut w, KeyCode::Enter, 1);
    snap("11_plan", &w);
    if let Some(v) = &mut w.plan_view {
        assert!(v.find("Steps:"));
    }
    snap("11_plan_steps", &w);
}

#[test]
fn the_disks_screen_proposes_or_says_why_not() {
    // Two SSDs and ten HDDs: the boot mirror and a raidz-2 tank1.
    let mut w = wizard_on("server12");
    to_disks(&mut w);
    snap("04_disks_server12", &w);
    // Every disk holds data: nothing proposed, every disk says why.
    let mut w = wizard_on("existing-pools");
    to_disks(&mut w);
    snap("04_disks_no_proposal", &w);
    // One disk (with data, so chosen by hand), tank2 on the rest: rpool's
    // size starts at the planner's, and what remains for tank2 is shown.
    let mut w = wizard_on("mini-pc");
    to_disks(&mut w);
    press(&mut w, KeyCode::Right, 1);
    let t2 = w
        .screens
        .disks
        .form
        .items
        .iter()
        .position(|i| i.label == "tank2 is")
        .expect("tank2 item");
    w.screens.disks.form.focus = t2;
    press(&mut w, KeyCode::Right, 1);
    snap("04_disks_rest_of_boot", &w);
}

#[test]
fn the_firewall_screen_beside_a_home_router() {
    let mut w = wizard_for(nvme2_hdd4_with_lease());
    to_firewall(&mut w);
    snap("08_firewall_home_router", &w);
}

#[test]
fn the_network_screen_with_a_dhcp_lease() {
    let mut w = wizard_for(nvme2_hdd4_with_lease());
    to_disks(&mut w);
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    snap("05_network_dhcp", &w);
}

#[test]
fn the_join_screens() {
    let mut w = wizard_on("nvme2-hdd4");
    press(&mut w, KeyCode::Enter, 1);
    press(&mut w, KeyCode::Down, 1);
    snap("02_mode_join", &w);
    press(&mut w, KeyCode::Enter, 2);
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    fill_network(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    snap("06_cluster_join", &w);
    type_text(&mut w, "10.0.0.10");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    snap("06_cluster_join_fingerprint", &w);
}

#[test]
fn the_firewall_screen_static_and_without_a_firewall() {
    use tappaas_wizard::screens::firewall::{DEPLOY, NEXT, WAN};
    let mut w = wizard_on("nvme2-hdd4");
    to_firewall(&mut w);
    w.screens.firewall.form.focus = WAN;
    press(&mut w, KeyCode::Right, 1);
    w.screens.firewall.form.focus = NEXT;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Firewall);
    snap("08_firewall_static_error", &w);
    type_text(&mut w, "192.168.1.2/24");
    press(&mut w, KeyCode::Tab, 1);
    type_text(&mut w, "192.168.1.1");
    press(&mut w, KeyCode::Tab, 1);
    snap("08_firewall_static", &w);
    w.screens.firewall.form.focus = DEPLOY;
    press(&mut w, KeyCode::Char(' '), 1);
    snap("08_firewall_none", &w);
    w.screens.firewall.form.focus = NEXT;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Services);
    snap("09_services_no_firewall", &w);
}

#[test]
fn the_progress_screens() {
    let t0 = Instant::now();
    snap_progress("12_progress", &running(t0));
    snap_progress("13_failure", &failed(t0));
    snap_progress("14_done", &finished(t0));
}

#[test]
fn a_machine_with_the_installer_medium_and_data() {
    let mut w = wizard_on("usb-boot");
    press(&mut w, KeyCode::Enter, 3);
    snap("04_disks_usb_boot", &w);
    let mut w = wizard_on("existing-pools");
    press(&mut w, KeyCode::Enter, 2);
    snap("03_hardware_existing_pools", &w);
}

#[test]
fn box_drawing_only_outside_the_console() {
    let mut w = wizard_on("nvme2-hdd4");
    w.ctx.charset = Charset::Unicode;
    press(&mut w, KeyCode::Enter, 3);
    let text = text_of(&draw(&w, 80, 24));
    assert!(text.contains('\u{250c}'), "{text}");
    insta::assert_snapshot!("04_disks_unicode_80x24", text);
    assert_eq!(Charset::from_term(Some("vt100")), Charset::Ascii);
    assert_eq!(Charset::from_term(Some("linux")), Charset::Ascii);
    assert_eq!(Charset::from_term(None), Charset::Ascii);
    assert_eq!(Charset::from_term(Some("xterm-256color")), Charset::Unicode);
}

/// The row on screen that contains `needle`.
fn row_of(buf: &Buffer, needle: &str) -> u16 {
    let text = text_of(buf);
    let y = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not on screen:\n{text}"));
    u16::try_from(y).expect("row")
}

#[test]
fn the_focus_is_marked_and_reversed_and_errors_are_red_with_a_bang() {
    let mut w = wizard_on("nvme2-hdd4");
    to_disks(&mut w);
    // The proposal taken back: no role, the focus on the first disk.
    let m = w.ctx.machine.clone();
    for i in 0..m.disks.len() {
        w.screens
            .disks
            .set_role(i, tappaas_wizard::screens::disks::Role::None, &m);
    }
    w.screens.disks.form.focus_first();
    let buf = draw(&w, 80, 24);
    let y = row_of(&buf, "nvme0n1   931");
    // `>` in the first column of the frame's inside, then the value
    // reversed; the next disk has neither.
    assert_eq!(buf[(1, y)].symbol(), ">");
    let value_x = (0..80)
        .find(|x| buf[(*x, y)].symbol() == "<")
        .expect("choice on the row");
    assert!(buf[(value_x, y)].modifier.contains(Modifier::REVERSED));
    let y2 = row_of(&buf, "nvme1n1   931");
    assert_eq!(buf[(1, y2)].symbol(), " ");
    assert!(!buf[(value_x, y2)].modifier.contains(Modifier::REVERSED));

    let last = w.screens.disks.form.items.len() - 1;
    w.screens.disks.form.focus = last;
    press(&mut w, KeyCode::Enter, 1);
    let buf = draw(&w, 80, 24);
    let y = row_of(&buf, "! choose at least one boot disk");
    let x = (0..80)
        .find(|x| buf[(*x, y)].symbol() == "!")
        .expect("bang");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    // The title bar says where the user is.
    assert!(text_of(&buf).starts_with(" TAPPaaS installer - step 4 of 10: Disks"));
}

#[test]
fn a_narrow_or_short_terminal_does_not_panic() {
    let mut w = wizard_on("server12");
    for _ in 0..4 {
        for (width, height) in [(20, 5), (40, 10), (80, 24), (200, 60)] {
            let mut t = Terminal::new(TestBackend::new(width, height)).expect("terminal");
            t.draw(|f| f.render_widget(&w, f.area())).expect("draw");
        }
        press(&mut w, KeyCode::Enter, 1);
    }
}

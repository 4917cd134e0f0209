//! The state machine, key by key: every screen, back and forth, invalid
//! input kept and explained, Esc keeping what was typed.

mod common;

use common::*;
use crossterm::event::KeyCode;
use tappaas_answer::ClusterAction;
use tappaas_plan::Environment;
use tappaas_wizard::{Outcome, PeerError, Step, WizardOutcome};

fn fixture_answer() -> tappaas_answer::Answer {
    let path = repo().join("tests/fixtures/wizard/nvme2-hdd4.toml");
    tappaas_answer::parse_file(&path).expect("the fixture answer is valid")
}

#[test]
fn a_walk_through_every_screen_builds_the_fixture_answer_and_its_plan() {
    let mut w = wizard_on("nvme2-hdd4");
    to_summary(&mut w);
    assert_eq!(
        w.ctx.answer,
        fixture_answer(),
        "\n{}",
        tappaas_answer::to_toml(&w.ctx.answer)
    );
    type_text(&mut w, "yes");
    press(&mut w, KeyCode::Enter, 1);
    match press(&mut w, KeyCode::Enter, 1) {
        Outcome::Finished(WizardOutcome::Install { answer, plan }) => {
            assert_eq!(*answer, fixture_answer());
            let expected = tappaas_plan::plan(
                &machine("nvme2-hdd4"),
                &fixture_answer(),
                &Environment::default(),
            )
            .expect("plan");
            assert_eq!(*plan, expected);
        }
        other => panic!("expected Install, got {other:?}"),
    }
}

#[test]
fn a_dry_run_ends_with_the_plan() {
    let mut w = wizard_on("nvme2-hdd4");
    w.ctx.dry_run = true;
    to_summary(&mut w);
    type_text(&mut w, "yes");
    press(&mut w, KeyCode::Enter, 1);
    assert!(matches!(
        press(&mut w, KeyCode::Enter, 1),
        Outcome::Finished(WizardOutcome::DryRun(_))
    ));
}

#[test]
fn nothing_is_confirmed_without_yes() {
    let mut w = wizard_on("nvme2-hdd4");
    to_summary(&mut w);
    type_text(&mut w, "y");
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(press(&mut w, KeyCode::Enter, 1), Outcome::Continue);
    let s = &w.screens.summary;
    assert_eq!(s.form.focus, s.confirm_item);
    assert!(s
        .form
        .error(s.confirm_item)
        .is_some_and(|e| e.contains("type yes")));
    // The summary lists every disk that will be erased.
    let text = text_of(&draw(&w, 120, 40));
    for serial in [
        "S4EWNX0R401234B",
        "S4EWNX0R401299K",
        "WD-WX12D80ABC01",
        "WD-WX12D80ABC04",
    ] {
        assert!(text.contains(serial), "{serial} missing:\n{text}");
    }
}

#[test]
fn esc_goes_back_without_losing_what_was_typed() {
    let mut w = wizard_on("nvme2-hdd4");
    to_disks(&mut w);
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    press(&mut w, KeyCode::Tab, 7);
    retype(&mut w, "example.org");
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Step::Disks);
    assert_eq!(
        w.ctx.answer.disk_setup.disk_list.as_ref().map(Vec::len),
        Some(2)
    );
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Step::Hardware);
    press(&mut w, KeyCode::Enter, 1);
    // The roles are still there: Next goes straight on.
    w.screens.disks.form.focus = w.screens.disks.form.items.len() - 1;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    assert_eq!(
        w.screens
            .network
            .form
            .text(tappaas_wizard::screens::network::DOMAIN),
        "example.org"
    );
}

#[test]
fn back_and_forth_through_every_screen_keeps_the_answer() {
    let mut w = wizard_on("nvme2-hdd4");
    to_summary(&mut w);
    let answer = w.ctx.answer.clone();
    let mut seen = vec![w.step];
    while w.step != Step::Welcome {
        press(&mut w, KeyCode::Esc, 1);
        seen.push(w.step);
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
    // Esc on the first screen stays there.
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Step::Welcome);
    // Forward again: each screen's Next (the last item) without typing.
    press(&mut w, KeyCode::Enter, 3);
    for _ in 0..6 {
        let step = w.step;
        let form = match step {
            Step::Disks => &mut w.screens.disks.form,
            Step::Network => &mut w.screens.network.form,
            Step::Cluster => &mut w.screens.cluster.form,
            Step::Credentials => &mut w.screens.credentials.form,
            Step::Firewall => &mut w.screens.firewall.form,
            Step::Services => &mut w.screens.services.form,
            other => panic!("unexpected {other:?}"),
        };
        form.focus = form.items.len() - 1;
        press(&mut w, KeyCode::Enter, 1);
        assert_ne!(w.step, step, "stuck on {step:?}");
    }
    assert_eq!(w.step, Step::Summary);
    assert_eq!(w.ctx.answer, answer);
}

#[test]
fn invalid_input_is_kept_and_explained_where_it_is() {
    let mut w = wizard_on("nvme2-hdd4");
    to_disks(&mut w);
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    use tappaas_wizard::screens::network::{CIDR, GATEWAY, NEXT};
    press(&mut w, KeyCode::Tab, 2);
    retype(&mut w, "10.0.0");
    press(&mut w, KeyCode::Tab, 1);
    let f = &w.screens.network.form;
    assert_eq!(f.text(CIDR), "10.0.0");
    assert!(f.error(CIDR).is_some_and(|e| e.contains("CIDR")));
    // A rule of the answer (not of the field): the gateway must be on the
    // node's network.
    press(&mut w, KeyCode::BackTab, 1);
    retype(&mut w, "10.0.0.10/24");
    press(&mut w, KeyCode::Tab, 1);
    retype(&mut w, "192.168.1.1");
    press(&mut w, KeyCode::Tab, 1);
    let f = &w.screens.network.form;
    assert_eq!(f.error(CIDR), None);
    assert!(f.error(GATEWAY).is_some_and(|e| e.contains("outside")));
    // Next refuses and puts the focus on the problem.
    w.screens.network.form.focus = NEXT;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    assert_eq!(w.screens.network.form.focus, GATEWAY);
    assert_eq!(w.screens.network.form.text(GATEWAY), "192.168.1.1");
    // The reason is on screen, with its `!`.
    let text = text_of(&draw(&w, 80, 24));
    assert!(text.contains("! 192.168.1.1 is outside"), "{text}");
}

#[test]
fn credentials_are_checked_by_the_answer_rules() {
    use tappaas_wizard::screens::credentials::{KEY1, PASSWORD as PW, PASSWORD2, TIMEZONE};
    let mut w = wizard_on("nvme2-hdd4");
    to_summary(&mut w);
    // Back over the services and the firewall.
    press(&mut w, KeyCode::Esc, 3);
    assert_eq!(w.step, Step::Credentials);
    w.screens.credentials.form.focus = PW;
    retype(&mut w, "pw-xy");
    press(&mut w, KeyCode::Tab, 1);
    let f = &w.screens.credentials.form;
    assert!(f.error(PW).is_some_and(|e| e.contains("too short")));
    assert!(f.error(PASSWORD2).is_some_and(|e| e.contains("differ")));
    // The password is never shown.
    assert!(!text_of(&draw(&w, 80, 24)).contains("pw-xy"));
    w.screens.credentials.form.focus = KEY1;
    retype(&mut w, "ssh-dss AAAA");
    press(&mut w, KeyCode::Tab, 1);
    assert!(w
        .screens
        .credentials
        .form
        .error(KEY1)
        .is_some_and(|e| e.contains("DSA")));
    w.screens.credentials.form.focus = TIMEZONE;
    retype(&mut w, "europe/amsterdam");
    press(&mut w, KeyCode::Tab, 1);
    assert!(w
        .screens
        .credentials
        .form
        .error(TIMEZONE)
        .is_some_and(|e| e.contains("did you mean \"Europe/Amsterdam\"")));
}

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

/// mini-pc's only disk as boot and tank2 on the rest of it, chosen by key
/// (the disk holds data, so nothing is proposed); the item "tank2 is".
fn to_tank2_on_the_rest(w: &mut tappaas_wizard::Wizard) -> usize {
    to_disks(w);
    press(w, KeyCode::Right, 1);
    let d = &mut w.screens.disks;
    let t2 = d
        .form
        .items
        .iter()
        .position(|i| i.label == "tank2 is")
        .expect("tank2 item");
    d.form.focus = t2;
    press(w, KeyCode::Right, 1);
    t2
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

/// The disk sections of an answer: what the disks screen writes.
fn disk_sections(
    a: &tappaas_answer::Answer,
) -> (
    tappaas_answer::DiskSetup,
    Option<tappaas_answer::Tank1>,
    Option<tappaas_answer::Tank2>,
    bool,
) {
    (
        a.disk_setup.clone(),
        a.tank1.clone(),
        a.tank2.clone(),
        a.node.erase_disks_with_data,
    )
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

#[test]
fn the_node_number_moves_the_default_address_and_name() {
    use tappaas_wizard::screens::network::{CIDR, HOSTNAME, NODE};
    let mut w = wizard_on("nvme2-hdd4");
    to_disks(&mut w);
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.screens.network.form.focus, NODE);
    retype(&mut w, "3");
    press(&mut w, KeyCode::Tab, 1);
    assert_eq!(w.screens.network.form.text(CIDR), "10.0.0.12/24");
    assert_eq!(w.screens.network.form.text(HOSTNAME), "tappaas3");
}

/// Welcome, "join", the disks and the network: on to the cluster screen.
fn to_join(w: &mut tappaas_wizard::Wizard) {
    press(w, KeyCode::Enter, 1);
    press(w, KeyCode::Down, 1);
    press(w, KeyCode::Enter, 2);
    fill_disks(w);
    press(w, KeyCode::Enter, 1);
    fill_network(w);
    press(w, KeyCode::Enter, 1);
}

/// The network screen of a wizard, after the disks.
fn to_network(w: &mut tappaas_wizard::Wizard) {
    to_disks(w);
    fill_disks(w);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
}

fn network_texts(w: &tappaas_wizard::Wizard) -> Vec<String> {
    use tappaas_wizard::screens::network::{CIDR, DNS, DOMAIN, GATEWAY, MGMT, WAN};
    [MGMT, CIDR, GATEWAY, DNS, WAN, DOMAIN]
        .iter()
        .map(|i| {
            let t = w.screens.network.form.text(*i);
            // The NIC name is enough (the rest is MAC and link).
            t.split_whitespace().next().unwrap_or("").to_string()
        })
        .collect()
}

#[test]
fn a_dhcp_lease_gives_the_network_defaults() {
    let mut w = wizard_for(nvme2_hdd4_with_lease());
    to_network(&mut w);
    // The leased NIC is the management NIC; the other one the WAN.
    assert_eq!(
        network_texts(&w),
        [
            "enp6s0",
            "192.168.178.23/24",
            "192.168.178.1",
            "192.168.178.1",
            "enp5s0",
            "fritz.box"
        ]
    );
    // Accepted as they are, they are the answer (a static address).
    press(&mut w, KeyCode::Tab, 8);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Cluster);
    let net = w.ctx.answer.network.as_ref().expect("network");
    assert_eq!(net.source, tappaas_answer::NetworkSource::FromAnswer);
    assert_eq!(
        net.cidr.map(|c| c.to_string()).as_deref(),
        Some("192.168.178.23/24")
    );
    assert_eq!(
        net.gateway.map(|g| g.to_string()).as_deref(),
        Some("192.168.178.1")
    );
    assert_eq!(
        w.ctx.answer.global.fqdn,
        tappaas_answer::Fqdn::Name("tappaas1.fritz.box".into())
    );
}

#[test]
fn without_a_lease_the_defaults_are_the_convention() {
    let mut w = wizard_on("nvme2-hdd4");
    to_network(&mut w);
    assert_eq!(
        network_texts(&w),
        [
            "enp5s0",
            "10.0.0.10/24",
            "10.0.0.1",
            "10.0.0.1",
            "enp6s0",
            "lan"
        ]
    );
}

#[test]
fn the_defaults_follow_the_management_nic_but_never_replace_what_was_typed() {
    use tappaas_wizard::screens::network::{CIDR, DNS, GATEWAY, NODE};
    let mut w = wizard_for(nvme2_hdd4_with_lease());
    to_network(&mut w);
    // Type a gateway of one's own.
    press(&mut w, KeyCode::Tab, 3);
    assert_eq!(w.screens.network.form.focus, GATEWAY);
    retype(&mut w, "192.168.178.254");
    // Choose the NIC without a lease: the untouched fields fall back to
    // the convention, the typed gateway stays.
    press(&mut w, KeyCode::BackTab, 2);
    press(&mut w, KeyCode::Left, 1);
    assert_eq!(
        network_texts(&w),
        [
            "enp5s0",
            "10.0.0.10/24",
            "192.168.178.254",
            "10.0.0.1",
            "enp6s0",
            "lan"
        ]
    );
    // And back to the leased NIC: its facts again, the gateway still typed.
    press(&mut w, KeyCode::Right, 1);
    assert_eq!(w.screens.network.form.text(CIDR), "192.168.178.23/24");
    assert_eq!(w.screens.network.form.text(DNS), "192.168.178.1");
    assert_eq!(w.screens.network.form.text(GATEWAY), "192.168.178.254");
    // A typed address survives a new node number, Esc and coming back.
    press(&mut w, KeyCode::Tab, 1);
    retype(&mut w, "192.168.178.50/24");
    press(&mut w, KeyCode::BackTab, 2);
    assert_eq!(w.screens.network.form.focus, NODE);
    retype(&mut w, "2");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Step::Disks);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    assert_eq!(w.screens.network.form.text(CIDR), "192.168.178.50/24");
    assert_eq!(w.screens.network.form.text(GATEWAY), "192.168.178.254");
    assert_eq!(
        w.screens
            .network
            .form
            .text(tappaas_wizard::screens::network::HOSTNAME),
        "tappaas2"
    );
}

#[test]
fn a_lease_that_came_after_the_start_is_read_on_the_network_screen() {
    // Started before DHCP finished: no lease in the profile, one by the
    // time the network screen is entered.
    let leased = nvme2_hdd4_with_lease();
    let late: Vec<_> = leased
        .nics
        .iter()
        .map(|n| (n.name.clone(), n.dhcp.clone()))
        .collect();
    let mut start = machine("nvme2-hdd4");
    start.nics = leased.nics.clone();
    for n in &mut start.nics {
        n.dhcp = None;
    }
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let counted = calls.clone();
    let mut w = wizard_for(start).with_lease_refresh(Box::new(move || {
        counted.set(counted.get() + 1);
        late.clone()
    }));
    to_disks(&mut w);
    assert_eq!(calls.get(), 0, "read only for the network screen");
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    assert_eq!(calls.get(), 1);
    assert_eq!(network_texts(&w)[1], "192.168.178.23/24");
    assert_eq!(network_texts(&w)[5], "fritz.box");
}

#[test]
fn a_recorded_lease_is_the_default_on_the_recorded_vm() {
    // qemu-vm: both NICs leased by QEMU's user network; the first is the
    // management NIC.
    let mut w = wizard_on("qemu-vm");
    let ctx = w.ctx.clone();
    tappaas_wizard::screens::Screen::enter(&mut w.screens.network, &ctx);
    assert_eq!(
        network_texts(&w),
        [
            "enp0s2",
            "10.0.2.15/24",
            "10.0.2.2",
            "10.0.2.3",
            "enp0s3",
            "lan"
        ]
    );
}

#[test]
fn joining_shows_the_peer_fingerprint_and_needs_it_confirmed() {
    use tappaas_wizard::screens::cluster::{CONFIRM, FETCH, NEXT, PASSWORD as PEER_PW, PEER};
    let mut w = wizard_on("nvme2-hdd4");
    press(&mut w, KeyCode::Enter, 1);
    press(&mut w, KeyCode::Down, 1);
    press(&mut w, KeyCode::Enter, 2);
    assert_eq!(w.ctx.answer.cluster.action, ClusterAction::Join);
    fill_disks(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    // A joining node is node 2 by default.
    assert_eq!(
        w.screens
            .network
            .form
            .text(tappaas_wizard::screens::network::CIDR),
        "10.0.0.11/24"
    );
    fill_network(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Cluster);
    assert_eq!(w.screens.cluster.form.focus, PEER);
    type_text(&mut w, "10.0.0.10");
    press(&mut w, KeyCode::Tab, 1);
    assert_eq!(w.screens.cluster.form.focus, FETCH);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.screens.cluster.fingerprint(), Some(FINGERPRINT));
    assert_eq!(w.screens.cluster.form.focus, CONFIRM);
    let text = text_of(&draw(&w, 80, 24));
    assert!(
        text.contains("AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"),
        "{text}"
    );
    // Not confirmed: refused.
    w.screens.cluster.form.focus = NEXT;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Cluster);
    assert_eq!(w.screens.cluster.form.focus, CONFIRM);
    press(&mut w, KeyCode::Char(' '), 1);
    press(&mut w, KeyCode::Tab, 1);
    assert_eq!(w.screens.cluster.form.focus, PEER_PW);
    type_text(&mut w, "peer-secret");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Credentials);
    let c = &w.ctx.answer.cluster;
    assert_eq!(c.peer.as_deref(), Some("10.0.0.10"));
    assert_eq!(c.fingerprint.as_deref(), Some(FINGERPRINT));
    assert_eq!(c.name, None);
    // Services are the first node's business: the summary comes next.
    fill_credentials(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Summary);
    // Another peer address forgets the fingerprint.
    press(&mut w, KeyCode::Esc, 2);
    w.screens.cluster.form.focus = PEER;
    type_text(&mut w, "1");
    assert_eq!(w.screens.cluster.fingerprint(), None);
}

#[test]
fn a_peer_that_cannot_be_reached_is_explained() {
    let mut w = wizard_on("nvme2-hdd4");
    let ctx = w.ctx.clone();
    w = tappaas_wizard::Wizard::new(
        ctx,
        Box::new(FakePeer(Err(PeerError::Resolve {
            peer: "nowhere".into(),
            reason: "no such host".into(),
        }))),
    );
    to_join(&mut w);
    type_text(&mut w, "nowhere");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    let text = text_of(&draw(&w, 80, 24));
    assert!(
        text.contains("! cannot find the address of 'nowhere'"),
        "{text}"
    );
    assert_eq!(w.screens.cluster.fingerprint(), None);
}

#[test]
fn the_answer_is_saved_without_passwords_and_the_plan_can_be_read() {
    let mut w = wizard_on("nvme2-hdd4");
    to_summary(&mut w);
    let dir = std::env::temp_dir().join(format!("tappaas-wizard-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("answer.toml");
    let s = &mut w.screens.summary;
    s.form.focus = s.save_item;
    retype(&mut w, &path.display().to_string());
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(saved.contains("<redacted>"));
    assert!(!saved.contains(PASSWORD));
    assert!(text_of(&draw(&w, 120, 40)).contains("saved to"));
    let _ = std::fs::remove_dir_all(&dir);

    // View the plan, scroll it, and come back.
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert!(w.plan_view.is_some());
    press(&mut w, KeyCode::End, 1);
    let text = text_of(&draw(&w, 80, 24));
    assert!(text.contains("-- lines"), "{text}");
    press(&mut w, KeyCode::Esc, 1);
    assert!(w.plan_view.is_none());
    assert_eq!(w.step, Step::Summary);
}

#[test]
fn ctrl_c_cancels_anywhere() {
    let mut w = wizard_on("nvme2-hdd4");
    to_disks(&mut w);
    assert_eq!(
        w.handle_key(ctrl('c')),
        Outcome::Finished(WizardOutcome::Cancelled)
    );
}

#[test]
fn the_summary_shows_the_planners_errors_and_refuses_to_install() {
    let mut m = machine("nvme2-hdd4");
    m.memory_bytes = 1024 * 1024 * 1024;
    let mut ctx = tappaas_wizard::Context::new(m, Environment::default());
    ctx.charset = tappaas_wizard::Charset::Ascii;
    let mut w = tappaas_wizard::Wizard::new(ctx, Box::new(FakePeer(Ok(FINGERPRINT.into()))));
    press(&mut w, KeyCode::Enter, 2);
    let text = text_of(&draw(&w, 80, 24));
    assert!(
        text.contains("! error: this machine has 1.0 GiB of memory"),
        "{text}"
    );
    assert!(text.contains("what to do:"), "{text}");
    // The same problem stops the plan at the summary.
    let mut w2 = wizard_on("nvme2-hdd4");
    w2.ctx.machine.memory_bytes = 1024 * 1024 * 1024;
    to_summary(&mut w2);
    assert!(matches!(w2.screens.summary.plan, Some(Err(_))));
    let text = text_of(&draw(&w2, 120, 40));
    assert!(text.contains("The planner found problems"), "{text}");
    assert!(text.contains("2 GiB"), "{text}");
    type_text(&mut w2, "yes");
    press(&mut w2, KeyCode::Enter, 1);
    assert_eq!(press(&mut w2, KeyCode::Enter, 1), Outcome::Continue);
    assert!(text_of(&draw(&w2, 120, 40)).contains("! the plan has problems"));
}

#[test]
fn a_pool_found_on_chosen_disks_can_be_kept_or_wiped() {
    let m = machine("existing-pools");
    let Some(i) = m
        .disks
        .iter()
        .position(|d| d.zfs_pools.iter().any(|p| p == "tank1"))
    else {
        panic!("existing-pools has no tank1 disk");
    };
    let mut w = wizard_on("existing-pools");
    to_disks(&mut w);
    w.screens
        .disks
        .set_role(i, tappaas_wizard::screens::disks::Role::Tank1, &m);
    let text = text_of(&draw(&w, 120, 40));
    assert!(text.contains("Existing pool tank1"), "{text}");
    assert!(text.contains("< keep (import) >"), "{text}");
}

#[test]
fn the_fetch_waits_for_a_frame_that_says_so() {
    let mut w = wizard_on("nvme2-hdd4");
    to_join(&mut w);
    type_text(&mut w, "10.0.0.10");
    press(&mut w, KeyCode::Tab, 1);
    // Enter on the button, without the helper that runs the request.
    w.handle_key(key(KeyCode::Enter));
    assert!(w.has_pending());
    let text = text_of(&draw(&w, 80, 24));
    assert!(
        text.contains("connecting to 10.0.0.10 port 8006 ..."),
        "{text}"
    );
    w.run_pending();
    assert!(!w.has_pending());
    assert_eq!(w.screens.cluster.fingerprint(), Some(FINGERPRINT));
    assert!(!text_of(&draw(&w, 80, 24)).contains("connecting"));
}

// ------------------------------------------------------------ firewall

/// The ISO without the OPNsense image (the VM tests' test ISO).
fn without_firewall_image() -> Environment {
    Environment {
        firewall_image: None,
        ..Environment::default()
    }
}

/// What an answer file says about `key` when the fixture answer gets
/// this `[firewall]` section: the message the wizard must show too.
fn file_message(firewall: &str, key: &str) -> String {
    let path = repo().join("tests/fixtures/wizard/nvme2-hdd4.toml");
    let text = std::fs::read_to_string(path).expect("fixture");
    let errors = tappaas_answer::parse(&format!("{text}\n[firewall]\n{firewall}\n"))
        .expect_err("the section is refused");
    let e = errors
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no error for {key}: {errors:?}"));
    e.message.clone()
}

#[test]
fn without_the_opnsense_image_the_screens_are_the_same_as_before() {
    use Step::*;
    let env = without_firewall_image();
    assert_eq!(
        Step::shown(ClusterAction::Create, &env),
        [
            Welcome,
            Mode,
            Hardware,
            Disks,
            Network,
            Cluster,
            Credentials,
            Services,
            Summary
        ]
    );
    assert_eq!(
        Step::shown(ClusterAction::Join, &env),
        [
            Welcome,
            Mode,
            Hardware,
            Disks,
            Network,
            Cluster,
            Credentials,
            Summary
        ]
    );
    // With it, only the first node sets up the firewall.
    let full = Environment::default();
    assert!(Step::shown(ClusterAction::Create, &full).contains(&Firewall));
    assert_eq!(
        Step::shown(ClusterAction::Join, &full),
        Step::shown(ClusterAction::Join, &env)
    );

    // Walked key by key: the same answer as before (the fixture), the
    // same titles, and Esc skips the screen too.
    let mut ctx = tappaas_wizard::Context::new(machine("nvme2-hdd4"), env);
    ctx.charset = tappaas_wizard::Charset::Ascii;
    let mut w = tappaas_wizard::Wizard::new(ctx, Box::new(FakePeer(Ok(FINGERPRINT.into()))));
    to_summary(&mut w);
    assert_eq!(w.ctx.answer, fixture_answer());
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Services);
    assert!(text_of(&draw(&w, 80, 24)).contains("step 8 of 9: Services"));
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Credentials);
}

#[test]
fn a_joining_node_skips_the_firewall_both_ways() {
    let mut w = wizard_on("nvme2-hdd4");
    to_join(&mut w);
    type_text(&mut w, "10.0.0.10");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    press(&mut w, KeyCode::Char(' '), 1);
    press(&mut w, KeyCode::Tab, 1);
    type_text(&mut w, "peer-secret");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Credentials);
    fill_credentials(&mut w);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Summary);
    assert!(text_of(&draw(&w, 80, 24)).contains("step 8 of 8: Summary"));
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Step::Credentials);
}

#[test]
fn the_lan_address_defaults_to_the_first_address_of_the_management_network() {
    use tappaas_wizard::screens::firewall::{DEPLOY, LAN, WAN, WAN_ADDRESS, WAN_GATEWAY};
    let mut w = wizard_on("nvme2-hdd4");
    to_firewall(&mut w);
    let f = &w.screens.firewall.form;
    assert!(f.checked(DEPLOY));
    assert_eq!(f.text(LAN), "10.0.0.1/24");
    assert!(f.text(WAN).starts_with("DHCP"));
    for i in [WAN_ADDRESS, WAN_GATEWAY] {
        assert!(!f.items[i].visible, "item {i} shown with DHCP");
    }
    // Accepted as shown: the answer leaves it to the convention, as a
    // file without lan-address does.
    accept_firewall(&mut w);
    assert_eq!(w.step, Step::Services);
    assert_eq!(w.ctx.answer.firewall, tappaas_answer::Firewall::default());

    // Another management network moves the default with it.
    press(&mut w, KeyCode::Esc, 4);
    assert_eq!(w.step, Step::Network);
    w.screens.network.form.focus = tappaas_wizard::screens::network::CIDR;
    retype(&mut w, "192.168.5.10/24");
    press(&mut w, KeyCode::Tab, 1);
    retype(&mut w, "192.168.5.1");
    press(&mut w, KeyCode::Tab, 1);
    retype(&mut w, "192.168.5.1");
    w.screens.network.form.focus = tappaas_wizard::screens::network::NEXT;
    press(&mut w, KeyCode::Enter, 3);
    assert_eq!(w.step, Step::Firewall);
    assert_eq!(w.screens.firewall.form.text(LAN), "192.168.5.1/24");
}

#[test]
fn the_lan_address_is_never_the_routers_on_a_home_network() {
    use tappaas_wizard::screens::firewall::LAN;
    // The management network from a home router's lease on .1.
    let mut w = wizard_for(nvme2_hdd4_with_lease());
    to_firewall(&mut w);
    let net = w.ctx.answer.network.as_ref().expect("network");
    assert_eq!(
        net.cidr.map(|c| c.to_string()).as_deref(),
        Some("192.168.178.23/24")
    );
    let f = &w.screens.firewall.form;
    assert_eq!(f.text(LAN), "192.168.178.254/24");
    let why = f.items[LAN].detail.join(" ");
    assert!(
        why.contains("192.168.178.1") && why.contains("router that gave enp6s0 its DHCP lease"),
        "{why}"
    );
    assert!(text_of(&draw(&w, 120, 40)).contains("router that gave enp6s0"));
    // Accepted as shown: the answer names it (it is not the convention's),
    // and the summary's plan deploys the firewall there, without errors.
    accept_firewall(&mut w);
    assert_eq!(w.step, Step::Services);
    assert_eq!(
        w.ctx
            .answer
            .firewall
            .lan_address
            .map(|c| c.to_string())
            .as_deref(),
        Some("192.168.178.254/24")
    );
    press(&mut w, KeyCode::Tab, 16);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Summary);
    let Some(Ok(plan)) = &w.screens.summary.plan else {
        panic!("no plan: {:?}", w.screens.summary.plan);
    };
    assert_eq!(
        plan.firewall.as_ref().map(|f| f.lan.to_string()).as_deref(),
        Some("192.168.178.254/24")
    );
    // The saved file plans the same.
    let text = tappaas_answer::to_toml(&w.ctx.answer);
    assert!(
        text.contains("lan-address = \"192.168.178.254/24\""),
        "{text}"
    );
}

#[test]
fn a_lan_address_outside_the_management_network_is_refused_at_the_field() {
    use tappaas_wizard::screens::firewall::{LAN, NEXT};
    let mut w = wizard_on("nvme2-hdd4");
    to_firewall(&mut w);
    press(&mut w, KeyCode::Tab, 1);
    assert_eq!(w.screens.firewall.form.focus, LAN);
    retype(&mut w, "192.168.1.1/24");
    press(&mut w, KeyCode::Tab, 1);
    let expected = file_message("lan-address = \"192.168.1.1/24\"", "firewall.lan-address");
    assert_eq!(w.screens.firewall.form.error(LAN), Some(expected.as_str()));
    // The node's own address, and text that is no address at all.
    w.screens.firewall.form.focus = LAN;
    retype(&mut w, "10.0.0.10/24");
    press(&mut w, KeyCode::Tab, 1);
    assert!(w
        .screens
        .firewall
        .form
        .error(LAN)
        .is_some_and(|e| e.contains("this node's own address")));
    w.screens.firewall.form.focus = LAN;
    retype(&mut w, "10.0.0.1");
    w.screens.firewall.form.focus = NEXT;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Firewall);
    assert_eq!(w.screens.firewall.form.focus, LAN);
    let text = text_of(&draw(&w, 80, 24));
    assert!(
        text.contains("! '10.0.0.1' is not in CIDR notation"),
        "{text}"
    );
}

#[test]
fn a_static_wan_without_an_address_is_refused_with_the_rules_message() {
    use tappaas_wizard::screens::firewall::{NEXT, WAN, WAN_ADDRESS, WAN_GATEWAY};
    let mut w = wizard_on("nvme2-hdd4");
    to_firewall(&mut w);
    w.screens.firewall.form.focus = WAN;
    press(&mut w, KeyCode::Right, 1);
    assert!(w.screens.firewall.form.items[WAN_ADDRESS].visible);
    assert!(w.screens.firewall.form.items[WAN_GATEWAY].visible);
    w.screens.firewall.form.focus = NEXT;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Firewall);
    let f = &w.screens.firewall.form;
    assert_eq!(f.focus, WAN_ADDRESS);
    let required = file_message("wan = \"static\"", "firewall.wan-address");
    assert_eq!(f.error(WAN_ADDRESS), Some(required.as_str()));
    assert_eq!(
        f.error(WAN_GATEWAY),
        Some(file_message("wan = \"static\"", "firewall.wan-gateway").as_str())
    );
    let text = text_of(&draw(&w, 80, 24));
    assert!(text.contains("! required with wan = \"static\""), "{text}");
    // A gateway outside the WAN network: the rule's message again.
    type_text(&mut w, "192.168.1.2/24");
    press(&mut w, KeyCode::Tab, 1);
    type_text(&mut w, "192.168.2.1");
    press(&mut w, KeyCode::Tab, 1);
    let expected = file_message(
        "wan = \"static\"\nwan-address = \"192.168.1.2/24\"\nwan-gateway = \"192.168.2.1\"",
        "firewall.wan-gateway",
    );
    let f = &w.screens.firewall.form;
    assert_eq!(f.error(WAN_ADDRESS), None);
    assert_eq!(f.error(WAN_GATEWAY), Some(expected.as_str()));
}

#[test]
fn the_typed_firewall_is_the_answer_and_the_plan() {
    use tappaas_answer::{Firewall, WanMode};
    use tappaas_wizard::screens::firewall::{LAN, WAN};
    let mut w = wizard_on("nvme2-hdd4");
    to_firewall(&mut w);
    w.screens.firewall.form.focus = LAN;
    retype(&mut w, "10.0.0.2/24");
    w.screens.firewall.form.focus = WAN;
    press(&mut w, KeyCode::Right, 1);
    press(&mut w, KeyCode::Tab, 1);
    type_text(&mut w, "192.168.1.2/24");
    press(&mut w, KeyCode::Tab, 1);
    type_text(&mut w, "192.168.1.1");
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Services);
    let expected = Firewall {
        deploy: true,
        lan_address: "10.0.0.2/24".parse().ok(),
        wan: WanMode::Static,
        wan_address: "192.168.1.2/24".parse().ok(),
        wan_gateway: "192.168.1.1".parse().ok(),
    };
    assert_eq!(w.ctx.answer.firewall, expected);
    // Saved and read back as a file: the same section.
    let text = tappaas_answer::to_toml(&w.ctx.answer);
    assert!(text.contains("wan = \"static\""), "{text}");
    let back =
        tappaas_answer::parse(&text.replace(tappaas_answer::REDACTED, PASSWORD)).expect("parses");
    assert_eq!(back.firewall, expected);
    // And the plan deploys it so.
    press(&mut w, KeyCode::Tab, 16);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Summary);
    let Some(Ok(plan)) = &w.screens.summary.plan else {
        panic!("no plan: {:?}", w.screens.summary.plan);
    };
    let fw = plan.firewall.as_ref().expect("a firewall");
    assert_eq!(fw.lan.to_string(), "10.0.0.2/24");
    assert_eq!(
        fw.wan,
        tappaas_plan::WanPlan::Static {
            address: "192.168.1.2/24".parse().expect("cidr"),
            gateway: "192.168.1.1".parse().expect("ip"),
        }
    );
    // Back to DHCP: the static values stay on the screen but leave the
    // answer (the rules refuse them with DHCP).
    press(&mut w, KeyCode::Esc, 2);
    assert_eq!(w.step, Step::Firewall);
    w.screens.firewall.form.focus = WAN;
    press(&mut w, KeyCode::Left, 1);
    w.screens.firewall.form.focus = w.screens.firewall.form.items.len() - 1;
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Services);
    assert_eq!(w.ctx.answer.firewall.wan, WanMode::Dhcp);
    assert_eq!(w.ctx.answer.firewall.wan_address, None);
    assert_eq!(w.ctx.answer.firewall.wan_gateway, None);
    assert_eq!(
        w.ctx.answer.firewall.lan_address,
        "10.0.0.2/24".parse().ok()
    );
}

#[test]
fn no_firewall_says_what_it_means_for_the_services() {
    use tappaas_wizard::screens::firewall::{DEPLOY, LAN, NO_FIREWALL, WAN};
    use tappaas_wizard::screens::services;
    let mut w = wizard_on("nvme2-hdd4");
    to_firewall(&mut w);
    assert!(!w.screens.firewall.form.items[NO_FIREWALL].visible);
    assert_eq!(w.screens.firewall.form.focus, DEPLOY);
    press(&mut w, KeyCode::Char(' '), 1);
    let f = &w.screens.firewall.form;
    assert!(f.items[NO_FIREWALL].visible);
    assert!(!f.items[LAN].visible && !f.items[WAN].visible);
    let text = text_of(&draw(&w, 80, 24));
    assert!(
        text.contains("first boot deploys none of the services"),
        "{text}"
    );
    press(&mut w, KeyCode::End, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Services);
    assert_eq!(
        w.ctx.answer.firewall,
        tappaas_answer::Firewall {
            deploy: false,
            ..Default::default()
        }
    );
    // The services screen says it too, and the focus skips the note.
    let s = &w.screens.services.form;
    assert!(s.items[services::NO_FIREWALL].visible);
    assert_ne!(s.focus, services::NO_FIREWALL);
    let text = text_of(&draw(&w, 80, 24));
    assert!(text.contains("first boot deploys none of these"), "{text}");
    // Back to the firewall, flip its tick, and on to the services again.
    let flip_firewall = |w: &mut tappaas_wizard::Wizard| {
        press(w, KeyCode::Esc, 1);
        assert_eq!(w.step, Step::Firewall);
        for key in [
            KeyCode::Home,
            KeyCode::Char(' '),
            KeyCode::End,
            KeyCode::Enter,
        ] {
            press(w, key, 1);
        }
        assert_eq!(w.step, Step::Services);
    };
    // Ticked again: the note goes.
    flip_firewall(&mut w);
    assert!(!w.screens.services.form.items[services::NO_FIREWALL].visible);
    let text = text_of(&draw(&w, 80, 24));
    assert!(!text.contains("first boot deploys none"), "{text}");
    // And without it once more, for the planner.
    flip_firewall(&mut w);
    assert!(w.screens.services.form.items[services::NO_FIREWALL].visible);
    // The planner agrees: no firewall, no services, and it says why.
    press(&mut w, KeyCode::Tab, 16);
    press(&mut w, KeyCode::Enter, 1);
    let Some(Ok(plan)) = &w.screens.summary.plan else {
        panic!("no plan");
    };
    assert_eq!(plan.firewall, None);
    assert!(plan.services.is_empty());
    assert!(plan
        .warnings
        .iter()
        .any(|f| f.message.contains("no firewall, so none of the services")));
}

#[test]
fn switching_to_join_forgets_the_firewall_the_screen_set() {
    use tappaas_wizard::screens::firewall::DEPLOY;
    let mut w = wizard_on("nvme2-hdd4");
    to_firewall(&mut w);
    assert_eq!(w.screens.firewall.form.focus, DEPLOY);
    press(&mut w, KeyCode::Char(' '), 1);
    press(&mut w, KeyCode::End, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert!(!w.ctx.answer.firewall.deploy);
    while w.step != Step::Mode {
        press(&mut w, KeyCode::Esc, 1);
    }
    press(&mut w, KeyCode::Down, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.ctx.answer.cluster.action, ClusterAction::Join);
    assert_eq!(w.ctx.answer.firewall, tappaas_answer::Firewall::default());
    // Back to create: the screen still holds what was chosen.
    press(&mut w, KeyCode::Esc, 1);
    press(&mut w, KeyCode::Up, 1);
    press(&mut w, KeyCode::Enter, 1);
    assert!(!w.screens.firewall.deploy());
}

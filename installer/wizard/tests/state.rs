//! The state machine, key by key: every screen, back and forth, invalid
//! input kept and explained, Esc keeping what was typed.
//! The screens have their own files: state_disks.rs, state_network.rs,
//! state_firewall.rs.

mod common;

use common::state::*;
use common::*;
use crossterm::event::KeyCode;
use tappaas_plan::Environment;
use tappaas_wizard::{Outcome, Step, WizardOutcome};

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
fn the_answer_is_saved_without_passwords_and_the_plan_can_be_read() {
    let mut w = wizard_on("nvme2-hdd4");
    to_summary(&mut w);
    let dir = std::env::temp_dir().join(format!("tappaas-wizard-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("answer.toml");
    // An older file there is replaced whole, and the answer (hosts, keys,
    // pins) is root's alone.
    std::fs::write(&path, "old answer").expect("old file");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("mode");
    let s = &mut w.screens.summary;
    s.form.focus = s.save_item;
    retype(&mut w, &path.display().to_string());
    press(&mut w, KeyCode::Tab, 1);
    press(&mut w, KeyCode::Enter, 1);
    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(saved.contains("<redacted>"));
    assert!(!saved.contains(PASSWORD));
    assert!(!saved.contains("old answer"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&path).expect("saved").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
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

#[test]
fn the_summary_says_what_an_erased_disk_holds_now_and_nothing_for_an_empty_one() {
    let mut w = wizard_on("nvme2-hdd4");
    to_summary(&mut w);
    let text = text_of(&draw(&w, 120, 40));
    assert!(text.contains("will be ERASED"), "{text}");
    assert!(!text.contains("now:"), "blank disks lose nothing: {text}");
    // The last HDD turns out to hold a filesystem; the plan is made afresh
    // when the summary is entered again.
    w.ctx.machine.disks[5].filesystem = Some(tappaas_hardware::Filesystem {
        fs_type: "ext4".into(),
        label: Some("photos".into()),
        uuid: None,
    });
    w.ctx.answer.node.erase_disks_with_data = true;
    press(&mut w, KeyCode::Esc, 1);
    assert_eq!(w.step, Step::Services);
    press(&mut w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Summary);
    let text = text_of(&draw(&w, 120, 40));
    let name = &w.ctx.machine.disks[5].name;
    assert!(
        text.lines()
            .any(|l| l.contains(name.as_str()) && l.contains("now: ext4")),
        "{text}"
    );
    assert_eq!(text.matches("now:").count(), 1, "{text}");
}

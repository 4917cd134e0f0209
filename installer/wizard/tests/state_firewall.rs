//! The state machine on the firewall screen: its defaults, its checks,
//! and what it means for the services.

mod common;

use common::state::*;
use common::*;
use crossterm::event::KeyCode;
use tappaas_answer::ClusterAction;
use tappaas_plan::Environment;
use tappaas_wizard::Step;

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

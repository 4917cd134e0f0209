//! The state machine on the network and cluster screens: the defaults
//! from the lease or the convention, joining a peer.

mod common;

use common::state::*;
use common::*;
use crossterm::event::KeyCode;
use tappaas_answer::ClusterAction;
use tappaas_wizard::{PeerError, Step};

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

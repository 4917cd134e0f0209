//! What the state tests (state*.rs) share: the fixture answer and the
//! ways to reach a screen.

use tappaas_plan::Environment;

use super::*;

pub fn fixture_answer() -> tappaas_answer::Answer {
    let path = repo().join("tests/fixtures/wizard/nvme2-hdd4.toml");
    tappaas_answer::parse_file(&path).expect("the fixture answer is valid")
}

/// mini-pc's only disk as boot and tank2 on the rest of it, chosen by key
/// (the disk holds data, so nothing is proposed); the item "tank2 is".
pub fn to_tank2_on_the_rest(w: &mut tappaas_wizard::Wizard) -> usize {
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

/// The disk sections of an answer: what the disks screen writes.
pub fn disk_sections(
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

/// Welcome, "join", the disks and the network: on to the cluster screen.
pub fn to_join(w: &mut tappaas_wizard::Wizard) {
    press(w, KeyCode::Enter, 1);
    press(w, KeyCode::Down, 1);
    press(w, KeyCode::Enter, 2);
    fill_disks(w);
    press(w, KeyCode::Enter, 1);
    fill_network(w);
    press(w, KeyCode::Enter, 1);
}

/// The network screen of a wizard, after the disks.
pub fn to_network(w: &mut tappaas_wizard::Wizard) {
    to_disks(w);
    fill_disks(w);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
}

pub fn network_texts(w: &tappaas_wizard::Wizard) -> Vec<String> {
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

/// The ISO without the OPNsense image (the VM tests' test ISO).
pub fn without_firewall_image() -> Environment {
    Environment {
        firewall_image: None,
        ..Environment::default()
    }
}

/// What an answer file says about `key` when the fixture answer gets
/// this `[firewall]` section: the message the wizard must show too.
pub fn file_message(firewall: &str, key: &str) -> String {
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

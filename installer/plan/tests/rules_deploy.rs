//! The planner's rules for what first boot deploys: the firewall and
//! the services, one test each.

mod common;

use common::rules::*;
use common::*;
use tappaas_plan::{plan, Environment};

#[test]
fn the_first_node_deploys_the_firewall_at_the_management_networks_first_address() {
    let p = ok(&home_server(), STANDARD);
    let fw = p.firewall.as_ref().expect("firewall");
    assert_eq!(fw.vmid, tappaas_plan::FIREWALL_VMID);
    assert_eq!(fw.lan.to_string(), "10.0.0.1/24");
    assert_eq!(fw.wan, tappaas_plan::WanPlan::Dhcp);
    assert_eq!(fw.image, tappaas_plan::FIREWALL_IMAGE_ON_NODE);
    assert!(!p.services.is_empty());
    let copies: Vec<String> = p
        .steps
        .iter()
        .find(|s| s.id == "copy-vm-images")
        .expect("copy step")
        .actions
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    assert!(
        copies.iter().any(|c| c.contains("opnsense.img")),
        "{copies:?}"
    );
    assert!(
        copies.iter().any(|c| c.contains("debian-cloud.qcow2")),
        "{copies:?}"
    );
}

#[test]
fn a_static_wan_and_a_chosen_lan_address_are_kept() {
    let p = ok(
        &home_server(),
        &with("[firewall]\nlan-address = \"10.0.0.254/24\"\nwan = \"static\"\nwan-address = \"192.168.1.2/24\"\nwan-gateway = \"192.168.1.1\"\n"),
    );
    let fw = p.firewall.expect("firewall");
    assert_eq!(fw.lan.to_string(), "10.0.0.254/24");
    assert_eq!(
        fw.wan,
        tappaas_plan::WanPlan::Static {
            address: "192.168.1.2/24".parse().expect("cidr"),
            gateway: "192.168.1.1".parse().expect("ip")
        }
    );
}

#[test]
fn without_a_firewall_no_service_is_deployed_and_the_user_is_told() {
    let p = ok(&home_server(), &with("[firewall]\ndeploy = false\n"));
    assert!(p.firewall.is_none());
    assert!(p.services.is_empty());
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("no firewall, so none of the services")));
    assert!(!p.steps.iter().any(|s| s.id == "copy-vm-images"));
}

#[test]
fn an_iso_without_the_opnsense_image_deploys_neither_and_says_how_to_build_one() {
    let env = Environment {
        firewall_image: None,
        ..env()
    };
    let p = plan(&home_server(), &answer(STANDARD), &env).expect("plan");
    assert!(p.firewall.is_none());
    assert!(p.services.is_empty());
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("no OPNsense image") && w.hint.contains("--opnsense-image")));
}

#[test]
fn an_iso_without_the_template_deploys_the_firewall_but_no_service() {
    let env = Environment {
        service_template: None,
        ..env()
    };
    let p = plan(&home_server(), &answer(STANDARD), &env).expect("plan");
    assert!(p.firewall.is_some());
    assert!(p.services.is_empty());
    assert!(p
        .warnings
        .iter()
        .any(|w| w.message.contains("no service VM template")));
}

#[test]
fn the_firewall_may_not_take_the_address_of_the_router_that_leased_the_management_nic() {
    // enp2s0 has a lease from the home router at 192.168.1.1, and the
    // answer puts management on that network.
    let mut m = home_server();
    m.nics[1].dhcp = Some(tappaas_hardware::DhcpLease {
        address: "192.168.1.20".parse().expect("ip"),
        prefix: 24,
        gateway: Some("192.168.1.1".parse().expect("ip")),
        dns: vec!["192.168.1.1".parse().expect("ip")],
        domain: None,
        search: Vec::new(),
    });
    let network = "[network]\nsource = \"from-answer\"\ncidr = \"192.168.1.20/24\"\ngateway = \"192.168.1.1\"\ndns = \"192.168.1.1\"\nfilter.INTERFACE = \"enp2s0\"\n[bridges]\nwan-filter.INTERFACE = \"enp1s0\"\n";
    // The default LAN address, the network's first, is the router's.
    let e = err(&m, &with(network));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        e[0].key.map(|k| k.to_string()).as_deref(),
        Some("firewall.lan-address")
    );
    assert!(
        e[0].message
            .contains("192.168.1.1 is the address of the router that gave enp2s0 its DHCP lease"),
        "{}",
        e[0].message
    );
    assert!(e[0].hint.contains("Firewall screen"), "{}", e[0].hint);
    // Another address on that network is accepted.
    let p = ok(
        &m,
        &with(&format!(
            "{network}[firewall]\nlan-address = \"192.168.1.254/24\"\n"
        )),
    );
    assert_eq!(
        p.firewall.expect("a firewall").lan.to_string(),
        "192.168.1.254/24"
    );
    // Without the lease nothing says the address is taken.
    let p = ok(&home_server(), &with(network));
    assert_eq!(
        p.firewall.expect("a firewall").lan.to_string(),
        "192.168.1.1/24"
    );
}

#[test]
fn the_container_registry_reaches_the_plan() {
    let p = ok(
        &home_server(),
        &with("[services]\ncontainer-registry = \"registry.home.lan:5000\"\n"),
    );
    assert_eq!(
        p.container_registry.as_deref(),
        Some("registry.home.lan:5000")
    );
}

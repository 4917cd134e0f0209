//! Management address, bridges `lan` and `wan`, and the zones.

use std::net::{IpAddr, Ipv4Addr};

use tappaas_answer::{filter_matches, Answer, Cidr, FilterMatch, NetworkSource, Zone};
use tappaas_hardware::{MachineProfile, Nic};

use crate::{Address, Field, Finding, NetworkPlan, PlanError, Section, ZonePlan};

/// SPEC.md: management network 10.0.0.0/24, firewall .1, node N at .(9+N).
pub(crate) fn default_address(node: u8) -> Cidr {
    Cidr {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9u8.saturating_add(node))),
        prefix: 24,
    }
}

pub(crate) const DEFAULT_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

pub(crate) fn plan_network(
    machine: &MachineProfile,
    answer: &Answer,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> Option<NetworkPlan> {
    if machine.nics.is_empty() {
        return None; // reported by the machine check
    }
    let mgmt_filter = answer.network.as_ref().and_then(|n| n.filter.as_ref());
    let mgmt: &Nic = match mgmt_filter {
        Some(filter) => {
            let found: Vec<&Nic> = machine
                .nics
                .iter()
                .filter(|n| filter_matches(filter, FilterMatch::All, &n.udev))
                .collect();
            match found.as_slice() {
                [] => {
                    errors.push(PlanError::at(
                        Section::Network.key(Field::Filter),
                        "matches no network interface on this machine",
                        format!("check the udev properties with `tappaas-installer probe --json`; interfaces: {}", nic_names(machine)),
                    ));
                    return None;
                }
                [one] => one,
                [first, ..] => {
                    warnings.push(Finding {
                        message: format!(
                            "network.filter matches {} interfaces; {} is used for management",
                            found.len(),
                            first.name
                        ),
                        hint: "make the filter match one interface (e.g. ID_NET_NAME_MAC)".into(),
                    });
                    first
                }
            }
        }
        // Prefer a NIC with a cable in: that is where the network is.
        None => machine
            .nics
            .iter()
            .find(|n| n.link == Some(true))
            .or(machine.nics.first())?,
    };

    let others = || machine.nics.iter().filter(|n| n.name != mgmt.name);
    let wan = match &answer.bridges.wan_filter {
        Some(filter) => {
            if filter_matches(filter, FilterMatch::All, &mgmt.udev) {
                errors.push(PlanError::at(
                    Section::Bridges.key(Field::WanFilter),
                    format!("matches {}, the management interface", mgmt.name),
                    "the WAN port must be another interface: make the filter match only it",
                ));
                return None;
            }
            match others().find(|n| filter_matches(filter, FilterMatch::All, &n.udev)) {
                Some(n) => Some(n),
                None => {
                    errors.push(PlanError::at(
                        Section::Bridges.key(Field::WanFilter),
                        "matches no network interface on this machine",
                        format!("interfaces: {}", nic_names(machine)),
                    ));
                    return None;
                }
            }
        }
        None => others()
            .find(|n| n.link == Some(true))
            .or_else(|| others().next()),
    };

    let (address, gateway, dns) = match &answer.network {
        None => {
            let a = default_address(answer.node.number);
            (
                Address::Static(a),
                Some(IpAddr::V4(DEFAULT_GATEWAY)),
                Some(IpAddr::V4(DEFAULT_GATEWAY)),
            )
        }
        Some(n) => match n.source {
            NetworkSource::FromDhcp => (Address::FromDhcp, None, None),
            NetworkSource::FromAnswer => match n.cidr {
                Some(cidr) => (Address::Static(cidr), n.gateway, n.dns),
                None => {
                    errors.push(PlanError::at(
                        Section::Network.key(Field::Cidr),
                        "source = \"from-answer\" needs an address",
                        "set network.cidr, e.g. \"10.0.0.10/24\"",
                    ));
                    return None;
                }
            },
        },
    };

    let zones = answer.zones.clone().unwrap_or_else(Zone::defaults);
    Some(NetworkPlan {
        management_nic: mgmt.name.clone(),
        management_mac: mgmt.mac.parse().ok(),
        address,
        gateway,
        dns,
        wan_nic: wan.map(|n| n.name.clone()),
        zones: zones
            .iter()
            .map(|z| ZonePlan {
                name: z.name.clone(),
                vlan: z.vlan,
                cidr: z.cidr,
            })
            .collect(),
    })
}

fn nic_names(machine: &MachineProfile) -> String {
    let n: Vec<&str> = machine.nics.iter().map(|n| n.name.as_str()).collect();
    n.join(", ")
}

/// `/etc/network/interfaces` as Proxmox's ifupdown2 reads it.
pub(crate) fn interfaces_file(net: &NetworkPlan) -> String {
    let mut s =
        String::from("# Written by the TAPPaaS installer.\n\nauto lo\niface lo inet loopback\n\n");
    s.push_str(&format!("iface {} inet manual\n\n", net.management_nic));
    // Carries the untagged management network and the zones' VLANs.
    s.push_str("auto lan\n");
    match &net.address {
        Address::Static(cidr) => {
            s.push_str(&format!("iface lan inet static\n\taddress {cidr}\n"));
            if let Some(gw) = &net.gateway {
                s.push_str(&format!("\tgateway {gw}\n"));
            }
        }
        Address::FromDhcp => s.push_str("iface lan inet dhcp\n"),
    }
    s.push_str(&format!(
        "\tbridge-ports {}\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n\n",
        net.management_nic
    ));
    if let Some(wan) = &net.wan_nic {
        s.push_str(&format!("iface {wan} inet manual\n\n"));
    }
    // Only the firewall VM uses the uplink: the node has no address on it.
    s.push_str("auto wan\niface wan inet manual\n");
    s.push_str(&format!(
        "\tbridge-ports {}\n\tbridge-stp off\n\tbridge-fd 0\n",
        net.wan_nic.as_deref().unwrap_or("none")
    ));
    s.push_str("\nsource /etc/network/interfaces.d/*\n");
    s
}

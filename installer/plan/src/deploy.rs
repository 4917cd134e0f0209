//! What first boot deploys on the first node: the firewall, then the
//! services behind it. Each reason to deploy less is a finding the user
//! reads before confirming.

use std::net::{IpAddr, Ipv4Addr};

use tappaas_answer::{Answer, Cidr, WanMode};

use tappaas_hardware::MachineProfile;

use crate::{
    Address, Environment, Field, Finding, FirewallPlan, NetworkPlan, NodePlan, PlanError, Section,
    WanPlan, FIREWALL_IMAGE_ON_NODE, FIREWALL_VMID,
};

pub(crate) struct Deploy {
    pub firewall: Option<FirewallPlan>,
    pub services: Vec<String>,
}

pub(crate) fn plan_deploy(
    machine: &MachineProfile,
    node: &NodePlan,
    network: &NetworkPlan,
    answer: &Answer,
    env: &Environment,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) -> Deploy {
    let wanted = answer.services.deploy.clone();
    if node.cluster_is_join() {
        if !wanted.is_empty() && answer.services != Default::default() {
            warnings.push(Finding {
                message: "services are deployed by the first node of the cluster; this node joins, so [services] is ignored".into(),
                hint: "deploy further services later with `tappaas-installer services deploy NAME` on the first node".into(),
            });
        }
        return Deploy {
            firewall: None,
            services: Vec::new(),
        };
    }
    let firewall = firewall(network, answer, env, warnings);
    if let Some(fw) = &firewall {
        check_lan_address_is_free(machine, network, fw, errors);
    }
    let services = match (&firewall, &env.service_template) {
        _ if wanted.is_empty() => Vec::new(),
        (None, _) => {
            warnings.push(Finding {
                message: format!(
                    "no firewall, so none of the services ({}) is deployed: they live in the firewall's zones",
                    wanted.join(", ")
                ),
                hint: "deploy the firewall (see the finding about it), or set [services] deploy = []".into(),
            });
            Vec::new()
        }
        (Some(_), None) => {
            warnings.push(Finding {
                message: "this ISO carries no service VM template, so no service is deployed"
                    .into(),
                hint: "use an ISO built with its template (image/build-iso without --no-template)"
                    .into(),
            });
            Vec::new()
        }
        (Some(_), Some(_)) => wanted,
    };
    Deploy { firewall, services }
}

fn firewall(
    network: &NetworkPlan,
    answer: &Answer,
    env: &Environment,
    warnings: &mut Vec<Finding>,
) -> Option<FirewallPlan> {
    let f = &answer.firewall;
    if !f.deploy {
        return None;
    }
    if env.firewall_image.is_none() {
        warnings.push(Finding {
            message: "this ISO carries no OPNsense image: first boot deploys no firewall".into(),
            hint: "build the ISO with `image/build-iso --opnsense-image FILE` (OPNsense's nano image), or set [firewall] deploy = false".into(),
        });
        return None;
    }
    let lan = match (&f.lan_address, &network.address) {
        (Some(c), _) => *c,
        (None, Address::Static(cidr)) => match firewall_lan_default(cidr) {
            Some(c) => c,
            None => {
                warnings.push(Finding {
                    message: format!(
                        "the management network {cidr} has no first address for the firewall"
                    ),
                    hint: "set [firewall] lan-address".into(),
                });
                return None;
            }
        },
        (None, Address::FromDhcp) => {
            warnings.push(Finding {
                message: "the management address comes from DHCP, so the firewall's LAN address is unknown: first boot deploys no firewall".into(),
                hint: "set [firewall] lan-address (an address on the management network)".into(),
            });
            return None;
        }
    };
    if network.wan_nic.is_none() {
        warnings.push(Finding {
            message: "the firewall's WAN side (bridge `wan`) has no port on this machine".into(),
            hint: "add a second NIC and put it in bridge `wan`; until then the firewall has no internet side".into(),
        });
    }
    let wan = match (f.wan, f.wan_address, f.wan_gateway) {
        (WanMode::Static, Some(address), Some(gateway)) => WanPlan::Static { address, gateway },
        // The answer's validation requires both with a static WAN.
        (WanMode::Static, _, _) => {
            warnings.push(Finding {
                message: "[firewall] wan = \"static\" without wan-address and wan-gateway: first boot deploys no firewall".into(),
                hint: "set [firewall] wan-address and wan-gateway, or wan = \"dhcp\"".into(),
            });
            return None;
        }
        (WanMode::Dhcp, _, _) => WanPlan::Dhcp,
    };
    Some(FirewallPlan {
        vmid: FIREWALL_VMID,
        lan,
        wan,
        image: FIREWALL_IMAGE_ON_NODE.to_string(),
    })
}

/// The firewall's LAN address when `[firewall] lan-address` is absent:
/// the management network's first address, with its prefix
/// (`10.0.0.10/24` -> `10.0.0.1/24`, TAPPaaS's gateway convention). None
/// when there is no such address for it: IPv6, a network too small, or
/// the node holds it. The wizard shows the same default.
pub fn firewall_lan_default(management: &Cidr) -> Option<Cidr> {
    let IpAddr::V4(addr) = management.addr else {
        return None;
    };
    if management.prefix > 30 {
        return None;
    }
    let mask = u32::MAX
        .checked_shl(32 - u32::from(management.prefix))
        .unwrap_or(0);
    let first = Ipv4Addr::from((u32::from(addr) & mask) + 1);
    (first != addr).then_some(Cidr {
        addr: IpAddr::V4(first),
        prefix: management.prefix,
    })
}

/// The firewall must not take the address of the router that is already
/// on the management network: the one that gave the management NIC its
/// DHCP lease (a common case: the wizard offers the lease's network, and
/// home routers sit on its first address, the firewall's default).
fn check_lan_address_is_free(
    machine: &MachineProfile,
    network: &NetworkPlan,
    fw: &FirewallPlan,
    errors: &mut Vec<PlanError>,
) {
    let lan = fw.lan;
    let nic = &network.management_nic;
    let router = machine
        .nics
        .iter()
        .find(|n| &n.name == nic)
        .and_then(|n| n.dhcp.as_ref())
        .and_then(|lease| lease.gateway);
    if let Some(router) = router.filter(|r| IpAddr::V4(*r) == lan.addr) {
        errors.push(PlanError::at(
            Section::Firewall.key(Field::LanAddress),
            format!(
                "the firewall's LAN address {} is the address of the router that gave {nic} its DHCP lease: both would answer on it",
                router
            ),
            "give the firewall another address on the management network (the wizard's Firewall screen, or [firewall] lan-address), or give the management network one of its own behind the firewall (e.g. 10.0.0.0/24) and connect the existing router to the WAN NIC",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_host(cidr: &str) -> Option<String> {
        let cidr: Cidr = cidr.parse().ok()?;
        firewall_lan_default(&cidr).map(|c| c.to_string())
    }

    #[test]
    fn the_first_host_is_the_gateway_convention() {
        assert_eq!(first_host("10.0.0.10/24").as_deref(), Some("10.0.0.1/24"));
        assert_eq!(
            first_host("192.168.8.77/22").as_deref(),
            Some("192.168.8.1/22")
        );
        // The node itself holds the first address: no room for the firewall.
        assert_eq!(first_host("10.0.0.1/24"), None);
        assert_eq!(first_host("10.0.0.1/31"), None);
        assert_eq!(first_host("fd00::10/64"), None);
    }
}

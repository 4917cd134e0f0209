//! What a template is filled from: the plan's facts, as plain data.

use std::net::{IpAddr, Ipv4Addr};

use tappaas_answer::{Cidr, Secret, Zone};

use crate::model::Entry;
use crate::resolve::Resolved;
use crate::secrets::Secrets;

/// The host part of a service's address is its VM id minus this: VM 210
/// in zone srv (10.2.0.0/24) is 10.2.0.110. It keeps .2-.99 of each zone
/// for the firewall's DHCP pool and hand-made hosts, and a /24 holds VM ids
/// up to 354 (.254).
pub const HOST_OFFSET: u32 = 100;

/// The facts of the plan that the templates use. The lead fills it from
/// the plan and the node; `example` is a complete one for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The Proxmox node the VMs run on.
    pub node_hostname: String,
    /// DNS domain of the installation; a service is `<name>.<domain>`.
    pub domain: String,
    /// IANA time zone, e.g. "Europe/Copenhagen".
    pub timezone: String,
    /// Keys that may log in as user `tappaas` on every service VM.
    pub ssh_authorized_keys: Vec<String>,
    /// The DNS server the VMs use (the firewall's address in their zone,
    /// or the one of the answer).
    pub dns_server: IpAddr,
    /// The zones (VLANs) of the plan; a service lands in the one it names.
    pub zones: Vec<Zone>,
    /// Base URI of Proxmox's Debian repositories, without the product
    /// part: the Proxmox Backup Server VM uses `<this>/pbs`. Filled from
    /// the node's own Proxmox source (the repository names no host).
    pub proxmox_repository: String,
    /// Proxmox's archive signing key (the node's
    /// `/usr/share/keyrings/proxmox-archive-keyring.gpg`), base64.
    pub proxmox_archive_key_b64: String,
    /// Where container images come from: a host (and optional path)
    /// serving the Docker Hub namespaces the catalog names, e.g. a local
    /// mirror. `None`: Docker's own default registry (the repository
    /// names no registry host). Filled from the plan.
    pub container_registry: Option<String>,
    pub secrets: Secrets,
}

impl Context {
    /// A complete context with documentation values (TEST-NET keys and the
    /// default zones) and fixed, obviously fake secrets for `resolved`.
    pub fn example(resolved: &Resolved) -> Context {
        let mut secrets = Secrets::default();
        for entry in &resolved.order {
            for spec in &entry.secrets {
                let value: String = match spec.charset {
                    crate::model::Charset::Alnum => "Example0".repeat(spec.length / 8 + 1),
                    crate::model::Charset::Hex => "0123456789abcdef".repeat(spec.length / 16 + 1),
                };
                secrets.insert(&entry.name, &spec.name, Secret::new(&value[..spec.length]));
            }
        }
        Context {
            node_hostname: "pve1".into(),
            domain: "home.arpa".into(),
            timezone: "Europe/Copenhagen".into(),
            ssh_authorized_keys: vec![
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAtUaOwTC6ADfeZ1W2BbJqJ3f8m6vgTVbUVBGzFhNJ2N admin@example".into(),
            ],
            dns_server: IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1)),
            zones: Zone::defaults(),
            proxmox_repository: "http://proxmox-repository.example/debian".into(),
            proxmox_archive_key_b64: "bm90IGEgcmVhbCBrZXk=".into(),
            container_registry: Some("registry.example".into()),
            secrets,
        }
    }

    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }
}

/// A service's place on its zone's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub address: Ipv4Addr,
    pub prefix: u8,
    /// The zone's network address, e.g. 10.2.0.0.
    pub network: Ipv4Addr,
    /// The zone's own address: the firewall.
    pub gateway: Ipv4Addr,
    pub vlan: u16,
}

/// The address rule: zone network + (VM id - `HOST_OFFSET`). Never the
/// network address, the gateway (the zone's own address, normally .1) or
/// the broadcast address; an error says which rule failed.
pub fn place(entry: &Entry, zone: &Zone) -> Result<Placement, String> {
    place_vmid(entry.vmid, zone)
}

pub(crate) fn place_vmid(vmid: u32, zone: &Zone) -> Result<Placement, String> {
    let Cidr { addr, prefix } = zone.cidr;
    let IpAddr::V4(gateway) = addr else {
        return Err(format!(
            "zone '{}' is IPv6 ({}): service addresses are IPv4 only",
            zone.name, zone.cidr
        ));
    };
    if !(8..=30).contains(&prefix) {
        return Err(format!(
            "zone '{}' has prefix /{prefix}: use /8 to /30",
            zone.name
        ));
    }
    let size: u64 = 1 << (32 - prefix);
    let mask: u32 = u32::MAX << (32 - prefix);
    let network = u32::from(gateway) & mask;
    let host = u64::from(vmid.saturating_sub(HOST_OFFSET));
    if vmid < HOST_OFFSET || host < 1 || host >= size - 1 {
        return Err(format!(
            "VM id {vmid} gives host number {host} (VM id - {HOST_OFFSET}), outside 1-{} of zone '{}' ({}): pick another VM id or a larger zone",
            size - 2,
            zone.name,
            zone.cidr
        ));
    }
    // host < size <= 2^24, so it fits the host bits.
    let address = Ipv4Addr::from(network | host as u32);
    if address == gateway {
        return Err(format!(
            "VM id {vmid} gives {address}, the address of zone '{}' itself (the firewall): pick another VM id",
            zone.name
        ));
    }
    Ok(Placement {
        address,
        prefix,
        network: Ipv4Addr::from(network),
        gateway,
        vlan: zone.vlan,
    })
}

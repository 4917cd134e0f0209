//! The firewall: the OPNsense VM (create, start), its configuration put
//! in place through the serial console, then the node's default route
//! moved to it once it answers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tappaas_answer::Cidr;
use tappaas_opnsense::{
    hash_password, install_config, render_config, ConsoleEvent, ConsoleFailure, Credentials,
    DhcpRange, FirewallSettings, Ipv4Cidr, Wan, Zone,
};
use tappaas_plan::{FirewallPlan, Plan, WanPlan};
use tappaas_proxmox::client::{
    BootDevice, BridgeName, CreateVm, DiskResize, DiskSlot, DiskSpec, ImportSource, NetDevice,
    NodeName, OsType, ScsiHw, StorageId, VmName, VmSettings, VmState,
};
use tappaas_proxmox::{Api, Proxmox};

use crate::deploy::{self, FIREWALL_NAME, FIREWALL_PASSWORD, FIREWALL_SECRET_OWNER};
use crate::error::StepError;
use crate::vm;
use crate::{Config, Host};

/// The firewall VM's size: OPNsense's minimum is 1 core and 1 GiB; two
/// cores and 2 GiB carry unbound, DHCP and the web GUI comfortably.
pub const FIREWALL_CORES: u16 = 2;
pub const FIREWALL_MEMORY_MIB: u32 = 2048;
/// The nano image is small; its file system grows to the disk at boot.
pub const FIREWALL_DISK_GIB: u32 = 16;
/// Where the VM's disks go: the redundant pool.
pub const FIREWALL_STORAGE: &str = "tank1";
/// The web GUI's port, the firewall's sign of life.
pub const FIREWALL_HTTPS: u16 = 443;

fn name(s: &str) -> Result<VmName, StepError> {
    VmName::new(s).map_err(|e| StepError::api("name the VM", &e))
}

fn bridge(s: &str) -> Result<BridgeName, StepError> {
    BridgeName::new(s).map_err(|e| StepError::api("name the bridge", &e))
}

/// Create VM `fw.vmid` from the OPNsense image unless it exists, and start
/// it unless it runs.
pub(crate) fn ensure_vm<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    fw: &FirewallPlan,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let id = vm::vmid(fw.vmid)?;
    let what = format!("POST /nodes/{node}/qemu");
    match vm::find(px, node, id)? {
        Some(existing) => {
            vm::check_owner(&existing, FIREWALL_NAME)?;
            note(format!(
                "VM {id} '{FIREWALL_NAME}' exists: not created again"
            ));
        }
        None => {
            let storage =
                StorageId::new(FIREWALL_STORAGE).map_err(|e| StepError::api(&what, &e))?;
            let image = ImportSource::path(&fw.image).map_err(|e| StepError::api(&what, &e))?;
            let settings = VmSettings::new()
                .name(&name(FIREWALL_NAME)?)
                .description("TAPPaaS firewall (OPNsense), made by first boot")
                .cores(FIREWALL_CORES)
                .memory_mib(FIREWALL_MEMORY_MIB)
                .ostype(OsType::Other)
                .scsihw(ScsiHw::VirtioScsiSingle)
                .net(0, &NetDevice::virtio(bridge("lan")?))
                .net(1, &NetDevice::virtio(bridge("wan")?))
                .disk(DiskSlot::scsi0(), &DiskSpec::import(storage, image))
                .serial_socket(0)
                .vga_serial(0)
                .boot_order(&[BootDevice::Disk(DiskSlot::scsi0())])
                .onboot(true);
            note(format!(
                "create VM {id} '{FIREWALL_NAME}' from {} on {FIREWALL_STORAGE} (net0 lan, net1 wan, serial console)",
                fw.image
            ));
            let upid = px
                .create_vm(node, &CreateVm::new(id, settings))
                .map_err(|e| {
                    StepError::api(&what, &e).hint(&format!(
                        "Check that {} exists on the node (the installer copies it from the ISO) \
                         and that storage {FIREWALL_STORAGE} is active.",
                        fw.image
                    ))
                })?;
            vm::task(px, config, node, &upid)?;
        }
    }
    let status = vm::wait_unlocked(px, config, node, id)?;
    let cfg = px
        .vm_config(node, id)
        .map_err(|e| StepError::api(format!("GET /nodes/{node}/qemu/{id}/config"), &e))?;
    if status.status == VmState::Stopped {
        if vm::disk_gib(&cfg, DiskSlot::scsi0()).is_some_and(|g| g < u64::from(FIREWALL_DISK_GIB)) {
            note(format!("grow its disk to {FIREWALL_DISK_GIB} GiB"));
            let upid = px
                .resize_disk(
                    node,
                    id,
                    DiskSlot::scsi0(),
                    DiskResize::To {
                        gib: FIREWALL_DISK_GIB,
                    },
                )
                .map_err(|e| StepError::api(format!("PUT /nodes/{node}/qemu/{id}/resize"), &e))?;
            vm::task(px, config, node, &upid)?;
        }
        note(format!("start VM {id}"));
        let upid = px.start_vm(node, id).map_err(|e| {
            StepError::api(format!("POST /nodes/{node}/qemu/{id}/status/start"), &e)
        })?;
        vm::task(px, config, node, &upid)?;
    } else {
        note(format!("VM {id} runs"));
    }
    Ok(())
}

/// A zone's DHCP pool: .2 to .99 of its network (at most up to the
/// broadcast's neighbour), below the services' addresses (.100 + ...),
/// skipping the firewall's own address.
pub fn zone_dhcp(cidr: Ipv4Cidr) -> Option<DhcpRange> {
    let net = u32::from(cidr.network());
    let last = u32::from(cidr.broadcast()).checked_sub(1)?;
    let own = u32::from(cidr.address);
    let mut start = net + 2;
    let end = (net + 99).min(last);
    if own == start {
        start += 1;
    }
    if own > start && own <= end {
        // The firewall sits inside the pool: keep the pool below it.
        return (own > start).then(|| DhcpRange {
            start: Ipv4Addr::from(start),
            end: Ipv4Addr::from(own - 1),
        });
    }
    (start <= end).then(|| DhcpRange {
        start: Ipv4Addr::from(start),
        end: Ipv4Addr::from(end),
    })
}

/// OPNsense's settings take IPv4 networks only.
fn ipv4_cidr(what: &str, cidr: &Cidr) -> Result<Ipv4Cidr, StepError> {
    let IpAddr::V4(address) = cidr.addr else {
        return Err(StepError::new(
            "read the plan's firewall",
            format!("{what} '{cidr}' is not an IPv4 address with a prefix"),
        ));
    };
    Ok(Ipv4Cidr::new(address, cidr.prefix))
}

/// The firewall's settings from the plan: the clear password is only
/// hashed here, never stored in the plan or the settings.
pub(crate) fn settings(
    plan: &Plan,
    fw: &FirewallPlan,
    password: &str,
    ssh_keys: Vec<String>,
) -> Result<FirewallSettings, StepError> {
    let lan = ipv4_cidr("lan", &fw.lan)?;
    let wan = match &fw.wan {
        WanPlan::Dhcp => Wan::Dhcp,
        WanPlan::Static { address, gateway } => Wan::Static {
            address: ipv4_cidr("wan address", address)?,
            gateway: match gateway {
                IpAddr::V4(g) => *g,
                IpAddr::V6(_) => {
                    return Err(StepError::new(
                        "read the plan's firewall",
                        format!("wan gateway '{gateway}' is not an IPv4 address"),
                    ))
                }
            },
        },
    };
    let mut zones = Vec::new();
    for z in &plan.network.zones {
        let cidr = ipv4_cidr(&format!("zone {}", z.name), &z.cidr)?;
        zones.push(Zone {
            name: z.name.clone(),
            vlan: z.vlan,
            cidr,
            dhcp: zone_dhcp(cidr),
        });
    }
    // The old router's DNS, unless the firewall takes over its address:
    // then the WAN's DHCP tells the firewall where to ask.
    let dns_servers = plan
        .network
        .dns
        .and_then(|d| match d {
            IpAddr::V4(d) => Some(d),
            IpAddr::V6(_) => None,
        })
        .filter(|d| *d != lan.address)
        .into_iter()
        .collect();
    let hash = hash_password(password)
        .map_err(|e| StepError::new("hash the firewall's root password", e.to_string()))?;
    Ok(FirewallSettings {
        hostname: FIREWALL_NAME.into(),
        domain: deploy::domain(plan),
        timezone: plan.node.timezone.clone(),
        dns_servers,
        lan,
        // The management network's addresses are fixed (nodes, the
        // firewall) and its old router may still serve DHCP there: no
        // second DHCP server on it.
        lan_dhcp: None,
        wan,
        zones,
        root_password_hash: hash,
        ssh_authorized_keys: ssh_keys,
    })
}

/// Put the configuration in place through the serial console, then wait
/// until the firewall answers on its LAN address.
pub(crate) fn configure(
    config: &Config,
    plan: &Plan,
    fw: &FirewallPlan,
    host: &mut dyn Host,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let secrets = deploy::credentials(config, None, note)?;
    let password = secrets
        .get(FIREWALL_SECRET_OWNER, FIREWALL_PASSWORD)
        .map(|s| s.expose().to_string())
        .unwrap_or_default();
    let settings = settings(plan, fw, &password, deploy::ssh_keys(config)?)?;
    let xml = render_config(&settings)
        .map_err(|e| StepError::new("render the firewall's config.xml", e.to_string()))?;
    note(format!(
        "firewall: LAN {}, WAN {}, {} zone(s), root password in {}",
        fw.lan,
        fw.wan,
        settings.zones.len(),
        config.credentials.display()
    ));
    // A fresh image has root's factory password; after our configuration
    // is in (a re-run whose journal was lost), it has ours.
    let attempts = [
        ("factory", Credentials::default()),
        (
            "generated",
            Credentials {
                user: "root".into(),
                password,
            },
        ),
    ];
    let console_what = format!(
        "configure the firewall through VM {}'s serial console",
        fw.vmid
    );
    for (i, (which, creds)) in attempts.iter().enumerate() {
        let stream = host
            .serial_console(fw.vmid)
            .map_err(|e| StepError::new(&console_what, e))?;
        note(format!(
            "log in on the console with root's {which} password"
        ));
        let mut events = |e: &ConsoleEvent| {
            if let Some(text) = console_note(e) {
                note(text);
            }
        };
        match install_config(stream, creds, &xml, config.console, &mut events) {
            Ok(()) => break,
            Err(e) if i == 0 && matches!(*e.failure, ConsoleFailure::LoginRejected { .. }) => {
                note(
                    "the factory password is refused: this firewall has a configuration already"
                        .into(),
                );
            }
            Err(e) => {
                return Err(StepError {
                    what: console_what,
                    message: e.to_string(),
                    output: e.last_lines.lines().map(str::to_string).collect(),
                })
            }
        }
    }
    let lan = deploy::firewall_ip(fw)?;
    let addr = SocketAddr::new(IpAddr::V4(lan), FIREWALL_HTTPS);
    host.tcp_reachable(addr, config.firewall_timeout)
        .map_err(|e| {
            StepError::new(format!("reach the firewall at {addr}"), e).hint(
                "The configuration was installed, but the firewall does not answer on its LAN \
                 address. Look at its console (`qm terminal 100`), then run first boot again.",
            )
        })?;
    note(format!("the firewall answers at https://{lan}/"));
    Ok(())
}

/// The console's progress as a person reads it (upload lines are too many
/// to show each).
fn console_note(e: &ConsoleEvent) -> Option<String> {
    Some(match e {
        ConsoleEvent::Uploading { line, lines, .. } if line == lines => {
            format!("uploaded config.xml ({lines} lines)")
        }
        ConsoleEvent::Uploading { .. } => return None,
        other => format!("console: {other:?}"),
    })
}

/// Move the node's default route to the firewall when the plan's gateway
/// is another machine, check that the outside still answers through it,
/// and move it back if not.
pub(crate) fn route(
    config: &Config,
    plan: &Plan,
    fw: &FirewallPlan,
    host: &mut dyn Host,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let lan = deploy::firewall_ip(fw)?;
    let old: Option<IpAddr> = plan.network.gateway;
    if old == Some(IpAddr::V4(lan)) {
        note(format!(
            "the node's gateway is already the firewall's address {lan}: nothing to move"
        ));
        return Ok(());
    }
    // Only a firewall that answers gets the route.
    let gui = SocketAddr::new(IpAddr::V4(lan), FIREWALL_HTTPS);
    host.tcp_reachable(gui, config.firewall_timeout).map_err(|e| {
        StepError::new(format!("reach the firewall at {gui}"), e).hint(
            "The node's default route was not changed. Check the firewall VM's console, then run first boot again.",
        )
    })?;
    // What proves the outside is reachable: the DNS server when it is
    // outside the management network (it is reached through the default
    // route); else the firewall's own resolver, which needs its WAN.
    let lan_cidr = ipv4_cidr("lan", &fw.lan)?;
    let probe = plan
        .network
        .dns
        .and_then(|d| match d {
            IpAddr::V4(d) => Some(d),
            IpAddr::V6(_) => None,
        })
        .filter(|d| !lan_cidr.contains(*d))
        .unwrap_or(lan);
    let probe = SocketAddr::new(IpAddr::V4(probe), 53);
    note(format!(
        "move the node's default route from {} to the firewall {lan}",
        old.map(|g| g.to_string()).unwrap_or_else(|| "none".into())
    ));
    host.set_default_gateway(IpAddr::V4(lan))
        .map_err(|e| StepError::new(format!("set the default route via {lan}"), e))?;
    match host.tcp_reachable(probe, config.firewall_timeout) {
        Ok(()) => {
            note(format!("{probe} answers through the firewall"));
            Ok(())
        }
        Err(e) => {
            let back = match old {
                Some(g) => match host.set_default_gateway(g) {
                    Ok(()) => format!("the default route is back on {g}"),
                    Err(e2) => format!("moving the default route back to {g} failed too: {e2}; fix it by hand (`ip route replace default via {g}` and /etc/network/interfaces)"),
                },
                None => "there was no gateway before to move back to".into(),
            };
            note(back.clone());
            Err(StepError::new(
                format!("reach {probe} through the firewall"),
                format!(
                    "{e}. {back}. The firewall answers on its LAN, but not the outside through it: \
                     check its WAN (cable in the `wan` bridge's port, DHCP or the static address), \
                     then run first boot again."
                ),
            ))
        }
    }
}

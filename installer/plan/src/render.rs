//! The plan as a person reads it: what is erased first, then the details.

use std::fmt::Write;

use tappaas_hardware::human_bytes;

use crate::{Action, ClusterPlan, DiskRole, FileContent, Plan, PoolAction};

pub fn render_text(plan: &Plan) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let node = &plan.node;
    let cluster = match &node.cluster {
        ClusterPlan::Create { name } => format!("creates cluster \"{name}\""),
        ClusterPlan::Join { peer, .. } => format!("joins the cluster of {peer}"),
    };
    let _ = writeln!(
        s,
        "TAPPaaS install plan: {} (node {}), {cluster}",
        node.fqdn(),
        node.number
    );
    let firmware = match node.firmware {
        tappaas_hardware::Firmware::Uefi => "UEFI",
        tappaas_hardware::Firmware::Bios => "legacy BIOS",
    };
    let _ = writeln!(
        s,
        "Target system: {} flavour; this machine boots by {firmware} (the node can boot either way)",
        node.flavour
    );
    if let ClusterPlan::Join { fingerprint, .. } = &node.cluster {
        let _ = writeln!(s, "Peer certificate fingerprint (confirmed): {fingerprint}");
    }

    if !plan.warnings.is_empty() {
        let _ = writeln!(s, "\nWarnings:");
        for w in &plan.warnings {
            let _ = writeln!(s, "  ! {}\n    -> {}", w.message, w.hint);
        }
    }

    let _ = writeln!(
        s,
        "\nDisks that will be ERASED (everything on them is lost):"
    );
    let erased: Vec<_> = plan.disks_to_erase().collect();
    if erased.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for d in &erased {
        disk_line(&mut s, d);
    }
    let kept: Vec<_> = plan.disks.iter().filter(|d| !d.erase).collect();
    if !kept.is_empty() {
        let _ = writeln!(s, "\nDisks kept as they are:");
        for d in kept {
            disk_line(&mut s, d);
        }
    }

    let _ = writeln!(s, "\nPartitions:");
    for p in &plan.partitions {
        let size = p
            .size_bytes
            .map(human_bytes)
            .unwrap_or_else(|| "rest of disk".into());
        let _ = writeln!(
            s,
            "  {}  {} ({size}, type {})",
            p.path, p.purpose, p.type_code
        );
    }

    let _ = writeln!(s, "\nZFS pools:");
    for pool in &plan.pools {
        match pool.action {
            PoolAction::Import => {
                let _ = writeln!(
                    s,
                    "  {}: existing pool, kept with its data, on {}",
                    pool.name,
                    pool.disks.join(", ")
                );
            }
            PoolAction::Create => {
                let _ = writeln!(s, "  {}: new", pool.name);
                for v in &pool.vdevs {
                    let kind = v.kind.keyword().unwrap_or("disk");
                    let _ = writeln!(s, "    {kind}: {}", v.devices.join(" "));
                }
                let props: Vec<String> = pool
                    .properties
                    .iter()
                    .chain(pool.filesystem_properties.iter())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let _ = writeln!(s, "    properties: {}", props.join(" "));
                for ds in &pool.datasets {
                    let _ = writeln!(s, "    dataset {}", ds.name);
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "  ZFS ARC maximum: {}",
        human_bytes(plan.zfs_arc_max_bytes)
    );

    let _ = writeln!(
        s,
        "\nSnapshots (sanoid, every 15 minutes; each dataset with its children):"
    );
    for line in plan.snapshot_lines() {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(s, "  {}", plan.replication_line());

    let net = &plan.network;
    let _ = writeln!(s, "\nNetwork:");
    let _ = writeln!(
        s,
        "  bridge lan: port {} ({}), address {}",
        net.management_nic,
        net.management_mac
            .map_or_else(|| "MAC unknown".to_string(), |m| m.to_string()),
        net.address
    );
    if let Some(gw) = &net.gateway {
        let _ = writeln!(
            s,
            "  gateway {gw}, DNS {}",
            net.dns.map_or_else(|| "-".to_string(), |d| d.to_string())
        );
    }
    let _ = writeln!(
        s,
        "  bridge wan: port {}",
        net.wan_nic.as_deref().unwrap_or("none (one NIC only)")
    );
    for z in &net.zones {
        let _ = writeln!(s, "  zone {}: VLAN {} on lan, {}", z.name, z.vlan, z.cidr);
    }
    if let Some(fw) = &plan.firewall {
        let _ = writeln!(
            s,
            "\nFirewall deployed at first boot: OPNsense VM {} from {}, LAN {} (bridge lan), WAN {} (bridge wan)",
            fw.vmid, fw.image, fw.lan, fw.wan
        );
    }
    if !plan.services.is_empty() {
        let _ = writeln!(
            s,
            "Services deployed at first boot, after the firewall: {}",
            plan.services.join(", ")
        );
        if let Some(r) = &plan.container_registry {
            let _ = writeln!(s, "  container images from {r}");
        }
    }

    let _ = writeln!(s, "\nFiles written on the node:");
    for f in plan.files() {
        let _ = writeln!(s, "  {} (mode {})", f.path, f.mode);
        match &f.content {
            FileContent::Text(t) => {
                for line in t.lines() {
                    let _ = writeln!(s, "  | {line}");
                }
            }
            FileContent::ThePlan => {
                let _ = writeln!(s, "  | (this plan, as JSON)");
            }
            FileContent::HostsForLease => {
                let _ = writeln!(
                    s,
                    "  | (hostname -> the address leased by DHCP at install time)"
                );
            }
        }
    }

    let _ = writeln!(s, "\nSteps:");
    for (i, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(s, "  {}. {} [{}]", i + 1, step.title, step.id);
        for a in &step.actions {
            match a {
                Action::CheckDisk {
                    path,
                    serial,
                    size_bytes,
                    ..
                } => {
                    let _ = writeln!(
                        s,
                        "     check {path}: serial {}, {size_bytes} bytes",
                        serial.as_deref().unwrap_or("(none)")
                    );
                }
                Action::Run(c) => {
                    let _ = writeln!(s, "     $ {c}");
                }
                Action::WriteFile(f) => {
                    let _ = writeln!(s, "     write {} (mode {})", f.path, f.mode);
                }
                Action::Symlink { path, target } => {
                    let _ = writeln!(s, "     link {path} -> {target}");
                }
            }
        }
    }
    s
}

fn disk_line(s: &mut String, d: &crate::DiskPlan) {
    let what = match d.role {
        DiskRole::Untouched => "not selected".to_string(),
        DiskRole::InstallerMedium => "installer medium, never a target".to_string(),
        role => role.to_string(),
    };
    let _ = writeln!(
        s,
        "  {} -> {what}\n    {} serial {} {}; now: {}",
        d.kernel_name,
        d.model.as_deref().unwrap_or("unknown model"),
        d.serial.as_deref().unwrap_or("(none)"),
        human_bytes(d.size_bytes),
        d.current_content
    );
    let _ = writeln!(s, "    {}", d.path);
}

//! What the wizard offers before the user has said anything: a disk
//! layout, rpool's size when tank2 takes the rest of the boot disk, and a
//! free LAN address for the firewall. Pure functions of the machine, kept
//! beside the rules a plan is checked against, so that what is proposed is
//! a plan the planner accepts. An answer file is never completed from
//! these: an unattended install names its disks.

use std::net::{IpAddr, Ipv4Addr};

use tappaas_answer::{Answer, Cidr, ExistingPool, Tank1, Tank1Layout, Tank2, ZfsRaid};
use tappaas_hardware::{human_bytes, transport_name, Disk, MachineProfile};

use crate::deploy::firewall_lan_default;
use crate::pools::{hdsize_bytes, rpool_room, sizes_differ, GIB, MIN_RPOOL, MIN_TANK2_REMAINDER};
use crate::DiskRole;

/// rpool's proposed size when tank2 takes the rest of the boot disk, and
/// the room a boot disk should have to be preferred: Proxmox VE with its
/// updates, ISO images and container templates.
pub const PROPOSED_RPOOL_GIB: u64 = 64;

/// The boot pool's RAID level for `disks` boot disks: one disk alone, two
/// mirrored, more as striped mirrors (even) or raidz-1 (odd).
pub fn boot_raid_for(disks: usize) -> ZfsRaid {
    match disks {
        0 | 1 => ZfsRaid::Raid0,
        2 => ZfsRaid::Raid1,
        n if n.is_multiple_of(2) => ZfsRaid::Raid10,
        _ => ZfsRaid::RaidZ1,
    }
}

/// tank1's layout for `disks` disks: a mirror of two, raidz-1 of three,
/// striped mirrors of four, raidz-2 from five on (large disks take long
/// to resilver: a second failure then must not lose the pool). One disk
/// is `single`, which the planner accepts only when asked explicitly.
pub fn tank1_layout_for(disks: usize) -> Tank1Layout {
    match disks {
        0 | 1 => Tank1Layout::Single,
        2 => Tank1Layout::Mirror,
        3 => Tank1Layout::RaidZ1,
        4 => Tank1Layout::Raid10,
        _ => Tank1Layout::RaidZ2,
    }
}

/// rpool and tank2 sharing the boot disk(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootSplit {
    /// rpool's partition (`zfs.hdsize`), in GiB.
    pub rpool_gib: u64,
    /// What remains for tank2 on each boot disk (on the smallest).
    pub tank2_bytes: u64,
}

/// rpool's size when tank2 takes the rest of a boot disk of `disk_bytes`
/// (the smallest, with several): [`PROPOSED_RPOOL_GIB`], or half of the
/// room when that is less, never below what the system needs. None when
/// the disk cannot hold both.
pub fn propose_boot_split(disk_bytes: u64) -> Option<BootSplit> {
    let room = rpool_room(disk_bytes);
    if room < MIN_RPOOL + MIN_TANK2_REMAINDER {
        return None;
    }
    let half_gib = room / 2 / GIB;
    let rpool_gib = half_gib
        .min(PROPOSED_RPOOL_GIB)
        .max(MIN_RPOOL.div_ceil(GIB));
    Some(BootSplit {
        rpool_gib,
        tank2_bytes: boot_remainder(disk_bytes, rpool_gib as f64)?,
    })
}

/// What remains for tank2 on a boot disk of `disk_bytes` after an rpool of
/// `rpool_gib` (`zfs.hdsize`); None when rpool does not fit.
pub fn boot_remainder(disk_bytes: u64, rpool_gib: f64) -> Option<u64> {
    rpool_room(disk_bytes).checked_sub(hdsize_bytes(rpool_gib))
}

/// One disk of the machine in a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedDisk {
    /// Kernel name (for the eye) and stable path (for the answer).
    pub name: String,
    pub path: String,
    /// `Untouched` for a disk the proposal leaves alone.
    pub role: DiskRole,
    /// Why it got this role, or why it got none (without the role: "the
    /// smallest matching pair of SSDs ...", "it holds data ...").
    pub reason: String,
}

/// A disk layout for the machine, or none (every disk holds data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskProposal {
    /// Every disk of the machine, in the machine's order.
    pub disks: Vec<ProposedDisk>,
    /// None: nothing is proposed.
    pub boot_raid: Option<ZfsRaid>,
    pub tank1_layout: Option<Tank1Layout>,
    /// Some: tank2 is the rest of the boot disk, after rpool's size.
    pub split: Option<BootSplit>,
    /// The layout in one sentence, or why there is none.
    pub summary: String,
}

impl DiskProposal {
    /// Whether there is a layout to accept.
    pub fn is_empty(&self) -> bool {
        self.boot_raid.is_none()
    }

    pub fn role_of(&self, name: &str) -> DiskRole {
        self.disks
            .iter()
            .find(|d| d.name == name)
            .map_or(DiskRole::Untouched, |d| d.role)
    }

    fn paths(&self, role: DiskRole) -> Vec<String> {
        self.disks
            .iter()
            .filter(|d| d.role == role)
            .map(|d| d.path.clone())
            .collect()
    }

    /// The answer's disk sections as the proposal has them (what the
    /// wizard's disks screen writes when it is accepted as shown).
    pub fn apply(&self, answer: &mut Answer) {
        let Some(raid) = self.boot_raid else {
            return;
        };
        answer.disk_setup.disk_list = Some(self.paths(DiskRole::Boot));
        let mut zfs = answer.disk_setup.zfs.clone().unwrap_or_default();
        zfs.raid = Some(raid);
        zfs.hdsize = self.split.map(|s| s.rpool_gib as f64);
        answer.disk_setup.zfs = Some(zfs);
        answer.tank1 = self.tank1_layout.map(|layout| Tank1 {
            layout,
            disk_list: Some(self.paths(DiskRole::Tank1)),
            filter: None,
            filter_match: None,
            allow_no_redundancy: false,
            existing: ExistingPool::Keep,
        });
        answer.tank2 = tank2_section(
            self.split.is_some(),
            self.paths(DiskRole::Tank2),
            ExistingPool::Keep,
        );
    }
}

/// The answer's `[tank2]` for the rest of the boot disk(s), or for these
/// disks (None without either): as the disks screen and a proposal write
/// it.
pub fn tank2_section(
    boot_remainder: bool,
    disks: Vec<String>,
    existing: ExistingPool,
) -> Option<Tank2> {
    if !boot_remainder && disks.is_empty() {
        return None;
    }
    Some(Tank2 {
        disk_list: (!boot_remainder).then_some(disks),
        filter: None,
        filter_match: None,
        boot_remainder,
        existing,
    })
}

fn kind(d: &Disk) -> &'static str {
    if d.is_ssd() {
        "SSD"
    } else {
        "HDD"
    }
}

/// Why a disk is never proposed, if it is not.
fn excluded(d: &Disk) -> Option<String> {
    if d.boot_medium {
        Some("it is the installer medium: never a target".into())
    } else if d.holds_data() {
        Some("it holds data; choose it yourself only if that may be erased".into())
    } else if d.removable {
        Some("it is removable (a USB stick or card)".into())
    } else if d.size_bytes < MIN_TANK2_REMAINDER {
        Some("it is too small for a pool".into())
    } else {
        None
    }
}

/// Disks that can share a vdev without waste: the same kind (SSD/HDD) on
/// the same bus, sizes within the planner's mismatch margin. Each group
/// is sorted by size; the groups by their smallest disk.
fn matching_groups<'m>(disks: &[&'m Disk]) -> Vec<Vec<&'m Disk>> {
    let mut sorted = disks.to_vec();
    sorted.sort_by_key(|d| (d.rotational, transport_name(d.transport), d.size_bytes));
    let mut groups: Vec<Vec<&Disk>> = Vec::new();
    for d in sorted {
        match groups.last_mut() {
            Some(g)
                if g[0].rotational == d.rotational
                    && g[0].transport == d.transport
                    && !sizes_differ(g[0].size_bytes, d.size_bytes) =>
            {
                g.push(d)
            }
            _ => groups.push(vec![d]),
        }
    }
    groups.sort_by_key(|g| g[0].size_bytes);
    groups
}

fn names(disks: &[&Disk]) -> String {
    let n: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    n.join(", ")
}

/// The boot disk(s) among `candidates`, and why: a matching pair of the
/// smallest SSDs with room for the system (a mirror), else the smallest
/// such SSD; HDDs only when no SSD can hold rpool; with no disk of
/// comfortable size, the largest.
fn choose_boot<'m>(candidates: &[&'m Disk]) -> Option<(Vec<&'m Disk>, String)> {
    let fits = |d: &&&Disk| rpool_room(d.size_bytes) >= MIN_RPOOL;
    let roomy = |d: &Disk| rpool_room(d.size_bytes) >= PROPOSED_RPOOL_GIB * GIB;
    let ssds: Vec<&Disk> = candidates
        .iter()
        .filter(fits)
        .filter(|d| d.is_ssd())
        .copied()
        .collect();
    let pool: Vec<&Disk> = if ssds.is_empty() {
        candidates.iter().filter(fits).copied().collect()
    } else {
        ssds
    };
    let (what, one) = if pool.iter().all(|d| d.is_ssd()) {
        ("SSDs", "SSD")
    } else {
        ("disks (no SSD)", "disk (no SSD)")
    };
    let groups = matching_groups(&pool);
    if let Some(g) = groups.iter().find(|g| g.len() >= 2 && roomy(g[0])) {
        return Some((
            g[..2].to_vec(),
            format!("the smallest matching pair of {what}, mirrored"),
        ));
    }
    let mut by_size = pool.clone();
    by_size.sort_by_key(|d| d.size_bytes);
    if let Some(d) = by_size.iter().find(|d| roomy(d)) {
        return Some((
            vec![*d],
            format!("the smallest {one} with room for the system"),
        ));
    }
    by_size.last().map(|d| {
        (
            vec![*d],
            format!("the largest disk (none has room for a {PROPOSED_RPOOL_GIB} GiB system)"),
        )
    })
}

/// A disk layout for `machine`: rpool on the smallest matching SSDs (a
/// mirror when there are two), tank1 on the largest group of matching
/// disks left (its layout by count), tank2 on the rest; a single disk gets
/// rpool and tank2 on the rest of it. A disk that holds data (partitions,
/// filesystems, pool labels, or contents unknown), the installer medium
/// and removable disks are never proposed; each disk says why it got its
/// role or none.
pub fn propose_disks(machine: &MachineProfile) -> DiskProposal {
    let mut disks: Vec<ProposedDisk> = machine
        .disks
        .iter()
        .map(|d| ProposedDisk {
            name: d.name.clone(),
            path: d.stable_path(),
            role: if d.boot_medium {
                DiskRole::InstallerMedium
            } else {
                DiskRole::Untouched
            },
            reason: excluded(d).unwrap_or_default(),
        })
        .collect();
    // The planner refuses a machine whose disks it cannot tell apart,
    // whatever their roles: propose nothing and say why.
    if let Some((a, b, what)) = machine.shared_identities().first() {
        for d in disks.iter_mut().filter(|d| d.reason.is_empty()) {
            d.reason = format!("disks {} and {} share {what}", a.name, b.name);
        }
        return DiskProposal {
            disks,
            boot_raid: None,
            tank1_layout: None,
            split: None,
            summary: format!(
                "No layout is proposed: disks {} and {} share {what}, so the installer cannot tell them apart.",
                a.name, b.name
            ),
        };
    }
    let candidates: Vec<&Disk> = machine
        .disks
        .iter()
        .filter(|d| excluded(d).is_none())
        .collect();
    let Some((boot, boot_reason)) = choose_boot(&candidates) else {
        let why = if candidates.is_empty() {
            "No layout is proposed: no disk is empty (a disk that holds data is never proposed)."
        } else {
            "No layout is proposed: no empty disk has room for the system."
        };
        for d in disks.iter_mut().filter(|d| d.reason.is_empty()) {
            d.reason = format!(
                "no empty disk has room for the system (rpool needs {})",
                human_bytes(MIN_RPOOL)
            );
        }
        return DiskProposal {
            disks,
            boot_raid: None,
            tank1_layout: None,
            split: None,
            summary: why.into(),
        };
    };
    let mut set = |list: &[&Disk], role: DiskRole, reason: &str| {
        for d in list {
            if let Some(p) = disks.iter_mut().find(|p| p.name == d.name) {
                p.role = role;
                p.reason = reason.to_string();
            }
        }
    };

    let rest: Vec<&Disk> = candidates
        .iter()
        .filter(|d| !boot.iter().any(|b| b.name == d.name))
        .copied()
        .collect();
    let boot_raid = boot_raid_for(boot.len());
    let smallest_boot = boot.iter().map(|d| d.size_bytes).min().unwrap_or(0);
    let split = if rest.is_empty() && boot.len() == 1 {
        propose_boot_split(smallest_boot)
    } else {
        None
    };
    let boot_reason = match split {
        Some(s) => format!(
            "the only empty disk: rpool {} GiB, tank2 the rest ({})",
            s.rpool_gib,
            human_bytes(s.tank2_bytes)
        ),
        None => boot_reason,
    };
    set(&boot, DiskRole::Boot, &boot_reason);

    // tank1: the most disks that match (ties: the most bytes).
    let groups = matching_groups(&rest);
    let tank1: Vec<&Disk> = groups
        .iter()
        .filter(|g| g.len() >= 2)
        .max_by_key(|g| (g.len(), g.iter().map(|d| d.size_bytes).sum::<u64>()))
        .cloned()
        .unwrap_or_default();
    let tank1_layout = (!tank1.is_empty()).then(|| tank1_layout_for(tank1.len()));
    if let Some(first) = tank1.first() {
        set(
            &tank1,
            DiskRole::Tank1,
            &format!(
                "the largest group of matching disks: {} x {} {} {}",
                tank1.len(),
                human_bytes(first.size_bytes),
                transport_name(first.transport),
                kind(first),
            ),
        );
    }
    let tank2: Vec<&Disk> = rest
        .iter()
        .filter(|d| !tank1.iter().any(|t| t.name == d.name))
        .copied()
        .collect();
    set(
        &tank2,
        DiskRole::Tank2,
        "no matching disks for a redundant pool",
    );

    let mut summary = match boot.len() {
        1 => format!("Proposed: rpool on {}", names(&boot)),
        _ => format!("Proposed: rpool {} on {}", boot_raid.as_str(), names(&boot)),
    };
    if let Some(layout) = tank1_layout {
        summary.push_str(&format!(", tank1 {} on {}", layout.as_str(), names(&tank1)));
    }
    if let Some(s) = split {
        summary.push_str(&format!(
            ", tank2 on the rest of {} ({})",
            names(&boot),
            human_bytes(s.tank2_bytes)
        ));
    } else if !tank2.is_empty() {
        summary.push_str(&format!(", tank2 on {}", names(&tank2)));
    }
    summary.push('.');
    DiskProposal {
        disks,
        boot_raid: Some(boot_raid),
        tank1_layout,
        split,
        summary,
    }
}

/// The firewall's proposed LAN address on the management network, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanProposal {
    pub address: Cidr,
    pub reason: String,
}

/// A LAN address for the firewall on the management network `management`
/// (the node's address/prefix): the convention's first address
/// ([`firewall_lan_default`]) unless something known holds it (the node,
/// the router or DNS server of a DHCP lease the live system holds, a
/// leased address), else the highest free address of the network, which
/// home routers' DHCP ranges rarely hand out. None for IPv6 or a network
/// with no address left.
pub fn propose_firewall_lan(machine: &MachineProfile, management: &Cidr) -> Option<LanProposal> {
    let IpAddr::V4(node) = management.addr else {
        return None;
    };
    if management.prefix > 30 {
        return None;
    }
    let mut taken: Vec<(Ipv4Addr, String)> = vec![(node, "this node's own address".into())];
    for nic in &machine.nics {
        let Some(lease) = &nic.dhcp else { continue };
        if let Some(router) = lease.gateway {
            taken.push((
                router,
                format!("the router that gave {} its DHCP lease", nic.name),
            ));
        }
        for dns in &lease.dns {
            taken.push((*dns, format!("the DNS server of {}'s DHCP lease", nic.name)));
        }
        taken.push((
            lease.address,
            format!("the address {} has from DHCP", nic.name),
        ));
    }
    let why_taken = |a: Ipv4Addr| taken.iter().find(|(t, _)| *t == a).map(|(_, w)| w.clone());
    let convention = firewall_lan_default(management);
    if let Some(c) = convention {
        if let IpAddr::V4(first) = c.addr {
            if why_taken(first).is_none() {
                return Some(LanProposal {
                    address: c,
                    reason: format!(
                        "the management network's gateway; by convention its first address, {first}"
                    ),
                });
            }
        }
    }
    let mask = u32::MAX
        .checked_shl(32 - u32::from(management.prefix))
        .unwrap_or(0);
    let network = u32::from(node) & mask;
    let broadcast = network | !mask;
    let free = (network + 1..broadcast)
        .rev()
        .map(Ipv4Addr::from)
        .find(|a| why_taken(*a).is_none())?;
    let first = Ipv4Addr::from(network + 1);
    let because = match why_taken(first) {
        Some(w) => format!("{first}, the convention's first address, is {w}"),
        None => "the network has no first address for it".to_string(),
    };
    Some(LanProposal {
        address: Cidr {
            addr: IpAddr::V4(free),
            prefix: management.prefix,
        },
        reason: format!(
            "{because}, so the firewall gets the network's last free address, {free}: make sure no other device uses it (outside the router's DHCP range)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_by_count() {
        let layouts: Vec<&str> = (1..=6).map(|n| tank1_layout_for(n).as_str()).collect();
        assert_eq!(
            layouts,
            ["single", "mirror", "raidz-1", "raid10", "raidz-2", "raidz-2"]
        );
        // Each fits its count as the planner counts.
        for n in 2..=12 {
            let l = tank1_layout_for(n);
            assert!(n >= l.min_disks(), "{n}: {l:?}");
            assert!(l != Tank1Layout::Raid10 || n % 2 == 0);
            let r = boot_raid_for(n);
            assert!(n >= r.min_disks(), "{n}: {r:?}");
        }
    }

    #[test]
    fn the_boot_split_leaves_room_for_both() {
        // A 500 GB disk: 64 GiB of rpool, the rest tank2.
        let s = propose_boot_split(500_107_862_016).expect("split");
        assert_eq!(s.rpool_gib, PROPOSED_RPOOL_GIB);
        assert_eq!(Some(s.tank2_bytes), boot_remainder(500_107_862_016, 64.0));
        // 16 GiB: half each, about.
        let s = propose_boot_split(16 * GIB).expect("split");
        assert_eq!(s.rpool_gib, 7);
        assert!(s.tank2_bytes >= MIN_TANK2_REMAINDER);
        // 9 GiB: rpool's 6 and tank2's 1 fit after the boot partitions;
        // 8 GiB: no.
        assert_eq!(propose_boot_split(9 * GIB).map(|s| s.rpool_gib), Some(6));
        assert_eq!(propose_boot_split(8 * GIB), None);
        assert_eq!(boot_remainder(8 * GIB, 100.0), None);
    }
}

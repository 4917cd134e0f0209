//! The planner: a machine profile and an answer in, a plan out.
//!
//! Pure: no disk is read or written here. The same plan is printed by
//! `plan`/`--dry-run`, shown by the wizard's summary and run by the
//! executor, so what the user confirms is exactly what runs.

mod backup_check;
mod deploy;
mod disks;
mod error;
mod files;
mod model;
mod network;
mod node_config;
mod old_rpool;
mod own_pool;
mod pools;
mod propose;
mod render;
mod replication;
mod snapshots;
mod steps;

use tappaas_answer::{Answer, ClusterAction, Fqdn, DEFAULT_CLUSTER_NAME};
use tappaas_hardware::MachineProfile;

pub use backup_check::{BACKUP_CHECK_SERVICE, BACKUP_CHECK_TIMER};
pub use deploy::firewall_lan_default;
pub use error::{AnswerKey, Field, PlanError, Section};
pub use files::PEER_PASSWORD_CREDENTIAL;
pub use model::*;
pub use node_config::{node_config_dataset, NODE_CONFIG_SERVICE, NODE_CONFIG_TIMER};
pub use own_pool::{check_kept_pool, if_own_pool, own_pool_check, NOT_OURS_STATUS};
pub use propose::{
    boot_raid_for, boot_remainder, propose_boot_split, propose_disks, propose_firewall_lan,
    tank1_layout_for, tank2_section, BootSplit, DiskProposal, LanProposal, ProposedDisk,
    PROPOSED_RPOOL_GIB,
};
pub use render::render_text;
pub use replication::{
    ReplicationPlan, REPLICATION_CONF, REPLICATION_SERVICE, REPLICATION_TIMER, REPLICA_ROOT,
};
pub use snapshots::{SnapshotPolicy, SnapshotTemplate, SANOID_CONF, SANOID_TIMER};

/// Below this the installed node cannot run Proxmox VE at all.
const MIN_MEMORY_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Below this the firewall and the base services do not all fit.
const RECOMMENDED_MEMORY_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// Turn what the machine has and what the user wants into a plan, or say
/// everything that stands in the way.
pub fn plan(
    machine: &MachineProfile,
    answer: &Answer,
    env: &Environment,
) -> Result<Plan, Vec<PlanError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    check_machine(machine, &mut errors, &mut warnings);

    let roles = disks::assign_roles(machine, answer, &mut errors, &mut warnings);
    let network = network::plan_network(machine, answer, &mut errors, &mut warnings);

    let (roles, network) = match (roles, network) {
        (Some(r), Some(n)) if errors.is_empty() => (r, n),
        _ => return Err(errors),
    };

    let renamed_pools =
        old_rpool::plan_old_rpools(machine, answer, &roles, &mut errors, &mut warnings);
    let layout = pools::plan_pools(
        machine,
        answer,
        env.flavour,
        &roles,
        &mut errors,
        &mut warnings,
    );
    let replication = layout
        .as_ref()
        .and_then(|l| replication::plan_replication(answer, &l.pools, &network, &mut errors));
    let Some(layout) = layout.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };

    let node = node_plan(machine, answer, env);
    let deploy = deploy::plan_deploy(
        machine,
        &node,
        &network,
        answer,
        env,
        &mut errors,
        &mut warnings,
    );
    if !errors.is_empty() {
        return Err(errors);
    }

    let arc = zfs_arc_max(machine.memory_bytes, answer);
    let snapshots = snapshots::plan_snapshots(answer, &layout.pools);
    let mut plan = Plan {
        plan_version: PLAN_VERSION,
        node,
        warnings,
        disks: disks::disk_plans(machine, &roles),
        partitions: layout.partitions,
        pools: layout.pools,
        network,
        zfs_arc_max_bytes: arc,
        firewall: deploy.firewall,
        services: deploy.services,
        container_registry: answer.services.container_registry.clone(),
        renamed_pools,
        snapshots,
        replication,
        steps: Vec::new(),
    };
    plan.steps = steps::plan_steps(&plan, machine, answer, env);
    Ok(plan)
}

/// The devices rpool is made of when this answer is planned on this
/// machine, whatever else the plan would say (e.g. a disk that needs
/// consent): the only devices an interrupted install of it may be imported
/// from. Empty when the answer selects no boot disk here.
pub fn planned_rpool_devices(machine: &MachineProfile, answer: &Answer) -> Vec<String> {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    disks::assign_roles(machine, answer, &mut errors, &mut warnings)
        .map(|roles| {
            roles
                .boot
                .iter()
                .map(|d| tappaas_hardware::partition_path(&d.stable_path(), pools::RPOOL_PARTITION))
                .collect()
        })
        .unwrap_or_default()
}

fn check_machine(
    machine: &MachineProfile,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Finding>,
) {
    let mem = tappaas_hardware::human_bytes(machine.memory_bytes);
    if machine.memory_bytes < MIN_MEMORY_BYTES {
        errors.push(PlanError::new(
            format!("this machine has {mem} of memory; Proxmox VE needs at least 2 GiB"),
            "install on a machine with more memory",
        ));
    } else if machine.memory_bytes < RECOMMENDED_MEMORY_BYTES {
        warnings.push(Finding {
            message: format!(
                "this machine has {mem} of memory; the firewall and all base services need about 16 GiB"
            ),
            hint: "add memory, or deploy fewer services ([services] deploy) on this node".into(),
        });
    }
    if machine.cpu.virtualization.is_none() {
        warnings.push(Finding {
            message: "the CPU reports no hardware virtualisation (VT-x/AMD-V): the firewall and service VMs will not start".into(),
            hint: "enable Intel VT-x or AMD-V (SVM) in the firmware setup and run the installer again".into(),
        });
    }
    for (a, b, what) in machine.shared_identities() {
        errors.push(PlanError::new(
            format!(
                "disks {} and {} share {what}: {} and {}; the installer cannot tell them apart and could write to the wrong one",
                a.name,
                b.name,
                a.describe(),
                b.describe()
            ),
            "give each disk its own serial (cloned virtual disks: change the serial in the VM's disk settings), set up multipath for a disk seen through two paths, or unplug one of them (USB bridges that report one serial for every disk), then run the installer again",
        ));
    }
    if machine.nics.is_empty() {
        errors.push(PlanError::new(
            "no network interface found: the node needs one for management",
            "add a network card (check that its driver is supported)",
        ));
    } else if machine.nics.len() == 1 {
        warnings.push(Finding {
            message: format!(
                "only one network interface ({}): the firewall gets no WAN port, bridge `wan` is created without a port",
                machine.nics[0].name
            ),
            hint: "add a second NIC (a USB NIC works) for the firewall's WAN, then add it to bridge `wan` in /etc/network/interfaces".into(),
        });
    }
}

fn node_plan(machine: &MachineProfile, answer: &Answer, env: &Environment) -> NodePlan {
    let number = answer.node.number;
    let (hostname, domain) = match &answer.global.fqdn {
        Fqdn::Name(fqdn) => match fqdn.split_once('.') {
            Some((host, domain)) => (host.to_string(), Some(domain.to_string())),
            None => (fqdn.clone(), None),
        },
        Fqdn::FromDhcp(d) => (format!("tappaas{number}"), d.domain.clone()),
    };
    let cluster = match answer.cluster.action {
        ClusterAction::Create => ClusterPlan::Create {
            name: answer
                .cluster
                .name
                .clone()
                .unwrap_or_else(|| DEFAULT_CLUSTER_NAME.to_string()),
        },
        ClusterAction::Join => ClusterPlan::Join {
            peer: answer.cluster.peer.clone().unwrap_or_default(),
            fingerprint: answer
                .cluster
                .fingerprint
                .clone()
                .unwrap_or_default()
                .to_ascii_uppercase(),
        },
    };
    NodePlan {
        hostname,
        domain,
        number,
        flavour: env.flavour,
        firmware: machine.firmware,
        cluster,
        timezone: answer.global.timezone.clone(),
        keyboard: answer.global.keyboard.clone(),
        country: answer.global.country.clone(),
        mailto: answer.global.mailto.clone(),
    }
}

impl NodePlan {
    pub fn cluster_is_join(&self) -> bool {
        matches!(self.cluster, ClusterPlan::Join { .. })
    }

    pub fn fqdn(&self) -> String {
        match &self.domain {
            Some(d) => format!("{}.{d}", self.hostname),
            None => self.hostname.clone(),
        }
    }
}

/// Proxmox's rule: 10% of the memory, at least 64 MiB and at most 16 GiB,
/// unless the answer sets `zfs.arc-max` (MiB).
pub fn zfs_arc_max(memory_bytes: u64, answer: &Answer) -> u64 {
    const MIB: u64 = 1024 * 1024;
    if let Some(mib) = answer.disk_setup.zfs.as_ref().and_then(|z| z.arc_max) {
        return mib.saturating_mul(MIB);
    }
    (memory_bytes / 10).clamp(64 * MIB, 16 * 1024 * MIB)
}

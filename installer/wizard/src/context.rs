//! What every screen may read: the machine, the installer's environment,
//! and the answer built so far.

use tappaas_answer::{
    Answer, Cluster, DiskSetup, Fqdn, Global, Node, RebootMode, Services, DEFAULT_CLUSTER_NAME,
};
use tappaas_hardware::MachineProfile;
use tappaas_plan::Environment;

use crate::theme::Charset;

#[derive(Debug, Clone)]
pub struct Context {
    pub machine: MachineProfile,
    pub env: Environment,
    pub answer: Answer,
    /// Runs the whole wizard but ends with the plan instead of installing.
    pub dry_run: bool,
    pub charset: Charset,
    /// "TAPPaaS installer 0.1.0, pve flavour", for the welcome screen.
    pub banner: String,
}

impl Context {
    pub fn new(machine: MachineProfile, env: Environment) -> Self {
        Context {
            machine,
            banner: format!(
                "TAPPaaS installer {}, {} flavour",
                env!("CARGO_PKG_VERSION"),
                env.flavour
            ),
            env,
            answer: initial_answer(),
            dry_run: false,
            charset: Charset::Ascii,
        }
    }
}

/// The answer before the user has said anything: the defaults the screens
/// start from. Fields without a sensible default (the password, the
/// disks) stay empty so that `validate` asks for them.
pub fn initial_answer() -> Answer {
    Answer {
        global: Global {
            keyboard: "en-us".into(),
            country: "us".into(),
            fqdn: Fqdn::Name("tappaas1.lan".into()),
            mailto: String::new(),
            timezone: "UTC".into(),
            root_password: None,
            root_password_hashed: None,
            root_ssh_keys: Vec::new(),
            reboot_on_error: false,
            reboot_mode: RebootMode::Reboot,
        },
        network: None,
        disk_setup: DiskSetup {
            filesystem: "zfs".into(),
            disk_list: None,
            filter: None,
            filter_match: None,
            zfs: None,
        },
        node: Node::default(),
        cluster: Cluster {
            name: Some(DEFAULT_CLUSTER_NAME.into()),
            ..Cluster::default()
        },
        tank1: None,
        tank2: None,
        bridges: Default::default(),
        zones: None,
        firewall: Default::default(),
        services: Services::default(),
        backup: Default::default(),
    }
}

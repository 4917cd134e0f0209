//! The first node with its firewall and services: the plan, the world
//! whose node 1 carries the ISO's images, the node's files, one run.

use std::time::Duration;

use super::*;
use tappaas_exec::{CommandFailure, Event};
use tappaas_firstboot::proxmox::{Method, SimExec, Simulator};
use tappaas_firstboot::{FirstbootError, Outcome};
use tappaas_plan::{Plan, FIREWALL_IMAGE_ON_NODE, SERVICE_TEMPLATE_ON_NODE};

pub const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAtUaOwTC6ADfeZ1W2BbJqJ3f8m6vgTVbUVBGzFhNJ2N admin@example";
pub const BASE: [&str; 7] = [
    "postgresql",
    "garage",
    "authentik",
    "vaultwarden",
    "grafana",
    "uptime-kuma",
    "backup-server",
];

/// The fixture's first-node plan with its firewall and services.
pub fn deploy_plan() -> Plan {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/plans/mini-pc/plan.json"
    ))
    .unwrap();
    let full: Plan = serde_json::from_str(&text).unwrap();
    let mut p = plan(1, None);
    p.firewall = full.firewall.clone();
    p.services = full.services.clone();
    p.container_registry = Some("registry.example".into());
    p
}

/// The backup server VM's certificate fingerprint, as its
/// `proxmox-backup-manager cert info` prints it (lower case).
pub const PBS_FINGERPRINT: &str =
    "3d:a1:5e:07:9c:42:b8:10:6f:e2:d4:83:0b:77:c9:5a:e8:21:94:3f:60:bd:0c:7e:a5:19:f3:48:d2:6b:80:ce";

/// What `proxmox-backup-manager cert info` prints with `fingerprint`.
pub fn pbs_cert_info(fingerprint: &str) -> SimExec {
    SimExec {
        out_data: format!(
            "Subject: OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=backup-server\n\
             Issuer: OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=backup-server\n\
             Validity:\n    Not Before: Dec  7 14:00:00 2026 GMT\n    Not After : Dec  7 14:00:00 2028 GMT\n\
             Fingerprint (sha256): {fingerprint}\n\
             Public key type: rsaEncryption\nPublic key bits: 4096\n"
        ),
        ..SimExec::default()
    }
}

/// A world whose node 1 carries the ISO's two images, and whose backup
/// server VM (270), once made, shows [`PBS_FINGERPRINT`].
pub fn deploy_world() -> Simulator {
    let sim = world();
    sim.add_file("tappaas1", FIREWALL_IMAGE_ON_NODE, 3 * GIB);
    sim.add_file("tappaas1", SERVICE_TEMPLATE_ON_NODE, 2 * GIB);
    sim.guest_program(
        270,
        "proxmox-backup-manager",
        pbs_cert_info(PBS_FINGERPRINT),
    );
    sim
}

pub struct Site {
    pub node: Node,
    pub firewall: tempfile::TempDir,
}

/// Node 1's files: the plan, root's SSH key, Proxmox's APT source and
/// key (for the backup server), quick time limits.
pub fn site(plan: &Plan) -> Site {
    let mut node = Node::new(1, plan);
    write(&node.config.authorized_keys, &format!("# root\n{KEY}\n"));
    write(
        &node.config.apt_sources.join("pve.sources"),
        "Types: deb\nURIs: http://proxmox-repository.example/debian/pve\nSuites: trixie\nComponents: pve-no-subscription\n",
    );
    write(&node.config.proxmox_keyring, "not a real key");
    node.config.guest_timeout = Duration::from_millis(50);
    node.config.health_timeout = Duration::from_millis(10);
    node.config.firewall_timeout = Duration::from_millis(10);
    node.config.console = tappaas_opnsense::ConsoleTimeouts {
        boot: Duration::from_secs(10),
        wake: Duration::from_secs(5),
        prompt: Duration::from_secs(10),
        command: Duration::from_secs(10),
        apply: Duration::from_secs(20),
    };
    Site {
        node,
        firewall: tempfile::tempdir().unwrap(),
    }
}

pub fn host(sim: &Simulator, site: &Site) -> TestHost {
    let mut h = TestHost::for_node(sim, &site.node, site.firewall.path());
    h.firewall_ip = Some(ip("10.0.0.1"));
    h
}

/// The deploy world and node 1's files for `plan`.
pub fn deployment(plan: &Plan) -> (Simulator, Site) {
    (deploy_world(), site(plan))
}

/// One first-boot run with a fresh host, which `adjust` may change first;
/// the host as the run left it.
pub fn run_adjusted(
    sim: &Simulator,
    site: &Site,
    adjust: impl FnOnce(&mut TestHost),
) -> (TestHost, Ran) {
    let mut h = host(sim, site);
    adjust(&mut h);
    let ran = run_node(sim, &site.node, &mut h);
    h.finish_consoles();
    (h, ran)
}

pub fn run(sim: &Simulator, site: &Site) -> (TestHost, Ran) {
    run_adjusted(sim, site, |_| {})
}

pub fn assert_finished(ran: &Ran, case: &str) {
    assert!(
        matches!(ran.result, Ok(Outcome::Finished { .. })),
        "{case}: {:?}",
        ran.result
    );
}

/// The step a run failed at, and why.
pub fn failed_step(ran: &Ran) -> (&str, &CommandFailure) {
    let Err(FirstbootError::Step { step, failure }) = &ran.result else {
        panic!("{:?}", ran.result);
    };
    (step, failure)
}

pub fn clones(sim: &Simulator) -> Vec<String> {
    sim.calls()
        .into_iter()
        .filter(|(_, r)| r.method == Method::Post && r.path == "/nodes/tappaas1/qemu/9000/clone")
        .map(|(_, r)| r.get_param("name").unwrap().to_string())
        .collect()
}

pub fn actions(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Action { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

pub fn credentials(site: &Site) -> String {
    std::fs::read_to_string(&site.node.config.credentials).unwrap()
}

/// `[service] name = "value"` from the credentials file.
pub fn secret(site: &Site, service: &str, name: &str) -> String {
    let t: toml::Table = toml::from_str(&credentials(site)).unwrap();
    t[service][name].as_str().unwrap().to_string()
}

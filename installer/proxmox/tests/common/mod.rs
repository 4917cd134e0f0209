//! Shared test support: the schema, loaded once per test binary (the file
//! is 1.2 MB), and a small three-machine world.
#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use tappaas_proxmox::client::{BridgeName, NodeName, StorageId, VmId};
use tappaas_proxmox::Schema;
use tappaas_proxmox::{MachineSpec, Proxmox, SimNode, Simulator};

/// The repository's own copy of the schema (origin in its README).
pub const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schema/pve-api-schema-9.1.3.json"
);

pub fn schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| match Schema::load(SCHEMA_PATH) {
            Ok(s) => Arc::new(s),
            // A missing schema must fail loudly: skipping would let every
            // Proxmox call go unchecked.
            Err(e) => panic!(
                "the Proxmox API schema is required for these tests; looked for it at {SCHEMA_PATH}: {e}"
            ),
        })
        .clone()
}

pub const GIB: u64 = 1 << 30;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn node(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

/// The root password of machine N in the test world.
pub fn password(n: u32) -> String {
    format!("root-pw-{n}")
}

/// tappaas1..3 at 10.0.0.10..12, each with tank1 and tank2, except that
/// tappaas3 has no tank2.
pub fn world() -> Simulator {
    let sim = Simulator::new(schema());
    for n in 1..=3u32 {
        let mut spec = MachineSpec::new(
            &format!("tappaas{n}"),
            ip(&format!("10.0.0.{}", 9 + n)),
            &password(n),
        )
        .pool("rpool", 100 * GIB)
        .pool("tank1", 2000 * GIB);
        if n != 3 {
            spec = spec.pool("tank2", 4000 * GIB);
        }
        sim.add_machine(spec).unwrap();
    }
    sim
}

/// The typed client on one simulated node, schema check on.
pub fn client(sim: &Simulator, name: &str) -> Proxmox<SimNode> {
    Proxmox::new(sim.client(name), schema())
}

pub fn vmid(n: u32) -> VmId {
    VmId::new(n).expect("a valid VM id")
}

pub fn storage(s: &str) -> StorageId {
    StorageId::new(s).expect("a valid storage id")
}

pub fn bridge(s: &str) -> BridgeName {
    BridgeName::new(s).expect("a valid bridge name")
}

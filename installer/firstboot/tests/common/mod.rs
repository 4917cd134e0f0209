//! Shared test support: the API schema (loaded once per test binary), a
//! world of three simulated Proxmox machines, and an installed node's
//! files in a temporary folder.
#![allow(dead_code)]

pub mod site;

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tappaas_exec::Event;
use tappaas_firstboot::proxmox::client::{Password, StorageConfig};
use tappaas_firstboot::proxmox::{MachineSpec, Proxmox, Schema, SimNode, Simulator};
use tappaas_firstboot::{run, Config, FirstbootError, Host, Outcome};
use tappaas_plan::{Address, ClusterPlan, Flavour, Plan};

/// The repository's own copy of the schema (origin in its README).
pub const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../proxmox/schema/pve-api-schema-9.1.3.json"
);

/// A plan the planner made for a real machine profile; the tests change
/// only the node's identity, cluster and pools.
const BASE_PLAN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/plans/mini-pc/plan.json"
);

pub fn schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| match Schema::load(SCHEMA_PATH) {
            Ok(s) => Arc::new(s),
            // Skipping would leave every Proxmox call unchecked.
            Err(e) => panic!("the Proxmox API schema is required; looked at {SCHEMA_PATH}: {e}"),
        })
        .clone()
}

pub const GIB: u64 = 1 << 30;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn address(n: u8) -> String {
    format!("10.0.0.{}", 9 + n)
}

pub fn root_password(n: u8) -> String {
    format!("root-pw-{n}")
}

/// tappaas1..3 at 10.0.0.10..12 with rpool and tank1; tappaas3 has no
/// tank2 (a node without the second pool).
pub fn world() -> Simulator {
    let sim = Simulator::new(schema());
    for n in 1..=3u8 {
        let mut spec = MachineSpec::new(&format!("tappaas{n}"), ip(&address(n)), &root_password(n))
            .pool("rpool", 100 * GIB)
            .pool("tank1", 2000 * GIB);
        if n != 3 {
            spec = spec.pool("tank2", 4000 * GIB);
        }
        sim.add_machine(spec).unwrap();
    }
    sim
}

/// The plan of node `n`: create on node 1, join through node 1 with
/// `fingerprint` on the others; tank1 everywhere, tank2 except on node 3.
pub fn plan(n: u8, fingerprint: Option<&str>) -> Plan {
    let text = std::fs::read_to_string(BASE_PLAN).unwrap();
    let mut plan: Plan = serde_json::from_str(&text).unwrap();
    plan.node.hostname = format!("tappaas{n}");
    plan.node.number = n;
    plan.node.cluster = match fingerprint {
        None => ClusterPlan::Create {
            name: "tappaas".into(),
        },
        Some(fp) => ClusterPlan::Join {
            peer: address(1),
            fingerprint: fp.to_string(),
        },
    };
    plan.network.address = Address::Static(format!("{}/24", address(n)).parse().unwrap());
    // The cluster tests deploy nothing; tests/deploy.rs puts it back.
    plan.firewall = None;
    plan.services = Vec::new();
    let rpool = plan
        .pools
        .iter()
        .find(|p| p.name == "rpool")
        .unwrap()
        .clone();
    let tank2 = plan
        .pools
        .iter()
        .find(|p| p.name == "tank2")
        .unwrap()
        .clone();
    let mut tank1 = tank2.clone();
    tank1.name = "tank1".into();
    plan.pools = vec![rpool, tank1];
    if n != 3 {
        plan.pools.push(tank2);
    }
    plan
}

/// An installed node's files in a temporary folder: the plan, the marker,
/// a stand-in for pvesh (its presence means Proxmox VE is installed), and
/// for a join the peer password credential.
pub struct Node {
    pub n: u8,
    pub name: String,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl Node {
    pub fn new(n: u8, plan: &Plan) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::under(dir.path());
        // Retries happen at once: the simulator answers or not, it is not
        // slow.
        config.wait_timeout = Duration::from_millis(500);
        config.poll_interval = Duration::from_millis(2);
        write(&config.plan, &serde_json::to_string_pretty(plan).unwrap());
        write(&config.marker, "pending\n");
        if plan.node.flavour == Flavour::Pve {
            write(&config.pvesh, "#!/bin/sh\n");
        }
        if matches!(plan.node.cluster, ClusterPlan::Join { .. }) {
            // The node's decrypting is systemd's; here the file holds the
            // password itself, and TestHost reads it.
            write(&config.peer_password_credential, &root_password(1));
        }
        Node {
            n,
            name: format!("tappaas{n}"),
            dir,
            config,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The node outside Proxmox: the credential read as the unit would hand it
/// over, and the peer's certificate as the simulator holds it (or, with
/// `sees_peer` false, not readable from here). For the deployment: the
/// firewall's serial console is the OPNsense console emulation over a
/// directory of its own; files for Proxmox go below the node's folder and
/// onto the simulated machine; a service is healthy when a running
/// simulated VM has its address; the network answers as the flags say.
pub struct TestHost {
    pub sim: Simulator,
    pub sees_peer: bool,
    pub password_reads: usize,
    /// The simulated machine and the node's folder.
    pub node: String,
    pub root: Option<PathBuf>,
    /// The emulated firewall's files, and how its console behaves.
    pub firewall_root: PathBuf,
    pub console: tappaas_opnsense::emulator::Setup,
    pub emulators: Vec<tappaas_opnsense::emulator::Emulator>,
    /// The firewall's LAN address answers on 443.
    pub firewall_answers: bool,
    /// The outside answers through the firewall (its WAN works).
    pub wan_works: bool,
    pub firewall_ip: Option<IpAddr>,
    /// Every default gateway set, in order.
    pub routes: Vec<IpAddr>,
    /// Services (by address) that never pass their health check.
    pub sick: Vec<IpAddr>,
}

impl TestHost {
    pub fn new(sim: &Simulator) -> TestHost {
        TestHost {
            sim: sim.clone(),
            sees_peer: true,
            password_reads: 0,
            node: "tappaas1".into(),
            root: None,
            firewall_root: std::env::temp_dir().join("tappaas-no-firewall"),
            console: Default::default(),
            emulators: Vec::new(),
            firewall_answers: true,
            wan_works: true,
            firewall_ip: None,
            routes: Vec::new(),
            sick: Vec::new(),
        }
    }

    /// The host of `node`, whose firewall keeps its files in `firewall`.
    pub fn for_node(sim: &Simulator, node: &Node, firewall: &Path) -> TestHost {
        let mut h = TestHost::new(sim);
        h.node = node.name.clone();
        h.root = Some(node.root().to_path_buf());
        h.firewall_root = firewall.to_path_buf();
        h
    }

    /// Wait for every console emulation to end (the driver closed it).
    pub fn finish_consoles(&mut self) -> Vec<tappaas_opnsense::emulator::Report> {
        self.emulators
            .drain(..)
            .map(|e| e.finish().expect("the console emulation ends"))
            .collect()
    }

    fn gateway_is_firewall(&self) -> bool {
        self.routes.last().is_none() || self.routes.last() == self.firewall_ip.as_ref()
    }
}

impl Host for TestHost {
    fn peer_password(&mut self, config: &Config) -> Result<Option<Password>, String> {
        self.password_reads += 1;
        match std::fs::read_to_string(&config.peer_password_credential) {
            Ok(p) => Ok(Some(Password::new(p))),
            Err(_) => Ok(None),
        }
    }

    fn peer_fingerprint(&mut self, peer: &str) -> Result<String, String> {
        if !self.sees_peer {
            return Err("no route from the test to the peer".into());
        }
        let n: u8 = peer
            .strip_prefix("10.0.0.")
            .and_then(|last| last.parse::<u8>().ok())
            .map(|last| last - 9)
            .ok_or("unknown peer")?;
        self.sim
            .fingerprint(&format!("tappaas{n}"))
            .ok_or_else(|| "no such machine".to_string())
    }

    fn serial_console(&mut self, vmid: u32) -> Result<UnixStream, String> {
        let vm = self
            .sim
            .vm(&self.node, vmid)
            .ok_or_else(|| format!("VM {vmid} does not exist"))?;
        if !vm.running || vm.config.get("serial0").map(String::as_str) != Some("socket") {
            return Err(format!("VM {vmid} runs no serial socket"));
        }
        let (emulator, stream) =
            tappaas_opnsense::emulator::Emulator::start(&self.firewall_root, self.console.clone())
                .map_err(|e| e.to_string())?;
        self.emulators.push(emulator);
        Ok(stream)
    }

    fn write_node_file(&mut self, path: &str, text: &str) -> Result<(), String> {
        let root = self
            .root
            .as_ref()
            .ok_or("this test host has no node folder")?;
        let local = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(local.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&local, text).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        self.sim.add_file(&self.node, path, text.len() as u64);
        Ok(())
    }

    fn tcp_reachable(&mut self, addr: SocketAddr, _limit: Duration) -> Result<(), String> {
        let firewall = Some(addr.ip()) == self.firewall_ip;
        let up = match addr.port() {
            443 => firewall && self.firewall_answers,
            // DNS: the firewall's resolver needs its WAN; an outside server
            // is reached through the default route.
            53 if firewall => self.firewall_answers && self.wan_works,
            53 => !self.gateway_is_firewall() || self.wan_works,
            _ => false,
        };
        if up {
            Ok(())
        } else {
            Err(format!("{addr}: connection timed out"))
        }
    }

    fn health(
        &mut self,
        check: &tappaas_services::HealthCheck,
        _limit: Duration,
    ) -> Result<String, String> {
        let ip = match check {
            tappaas_services::HealthCheck::Tcp { address } => address.ip(),
            tappaas_services::HealthCheck::Http { url, .. } => url
                .split("://")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .and_then(|h| h.parse().ok())
                .ok_or("bad url")?,
        };
        let needle = format!("ip={ip}/");
        let running = self.sim.vm_ids(&self.node).into_iter().any(|id| {
            self.sim.vm(&self.node, id).is_some_and(|vm| {
                vm.running
                    && vm
                        .config
                        .get("ipconfig0")
                        .is_some_and(|c| c.starts_with(&needle))
            })
        });
        if running && !self.sick.contains(&ip) {
            Ok(format!("{ip} answers"))
        } else {
            Err(format!("{ip} does not answer"))
        }
    }

    fn set_default_gateway(&mut self, via: IpAddr) -> Result<(), String> {
        self.routes.push(via);
        Ok(())
    }
}

pub fn client(sim: &Simulator, name: &str) -> Proxmox<SimNode> {
    Proxmox::new(sim.client(name), schema())
}

/// One run of first boot on `node`, with the events it reported.
pub struct Ran {
    pub result: Result<Outcome, FirstbootError>,
    pub events: Vec<Event>,
}

pub fn run_node(sim: &Simulator, node: &Node, host: &mut TestHost) -> Ran {
    let mut px = client(sim, &node.name);
    let mut events = Vec::new();
    let result = run(&node.config, &mut px, host, &mut |e| events.push(e.clone()));
    Ran { result, events }
}

/// Run first boot and require it to finish.
pub fn run_ok(sim: &Simulator, node: &Node) -> String {
    let ran = run_node(sim, node, &mut TestHost::new(sim));
    match ran.result {
        Ok(Outcome::Finished { summary }) => summary,
        other => panic!(
            "first boot of {} did not finish: {other:?}\n{:#?}",
            node.name, ran.events
        ),
    }
}

/// The fingerprint of node 1 as the user confirmed it when installing a
/// later node.
pub fn confirmed(sim: &Simulator) -> String {
    sim.fingerprint("tappaas1").unwrap()
}

pub fn storages(sim: &Simulator, on: &str) -> Vec<StorageConfig> {
    client(sim, on).storages().unwrap()
}

pub fn storage_nodes(sim: &Simulator, on: &str, id: &str) -> Option<Vec<String>> {
    let mut nodes = storages(sim, on)
        .into_iter()
        .find(|s| s.storage == id)?
        .nodes
        .unwrap_or_default();
    nodes.sort();
    Some(nodes)
}

/// How many requests `node` sent with this method to this exact path.
pub fn count(
    sim: &Simulator,
    node: &str,
    method: tappaas_firstboot::proxmox::Method,
    path: &str,
) -> usize {
    sim.calls()
        .iter()
        .filter(|(n, r)| n == node && r.method == method && r.path == path)
        .count()
}

/// Requests that change something, sent by `node`.
pub fn writes(sim: &Simulator, node: &str) -> usize {
    sim.calls()
        .iter()
        .filter(|(n, r)| n == node && r.method != tappaas_firstboot::proxmox::Method::Get)
        .count()
}

pub fn step_ids(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

pub fn path_in(node: &Node, rel: &str) -> PathBuf {
    node.root().join(rel)
}

/// Plays the Proxmox command-line tools on a simulated node: turns each
/// command back into the API request it stands for, the way the tool
/// reads its options and stdin, and answers as the tool prints (JSON on
/// stdout, or the refusal on stderr with a non-zero exit). Records every
/// command line, and what each got on stdin.
pub struct NodeCommands {
    pub node: SimNode,
    pub name: String,
    /// Every command as the process list shows it: program, then args.
    pub argv: Vec<Vec<String>>,
    pub inputs: Vec<Option<Vec<u8>>>,
}

impl tappaas_firstboot::proxmox::CommandRunner for NodeCommands {
    fn run(
        &mut self,
        cmd: &tappaas_firstboot::proxmox::Invocation<'_>,
    ) -> std::io::Result<tappaas_firstboot::proxmox::CommandOutput> {
        use tappaas_firstboot::proxmox::{Api, CommandOutput, Method, Request};
        let args = cmd.args;
        self.argv.push(
            std::iter::once(cmd.program.to_string())
                .chain(args.iter().cloned())
                .collect(),
        );
        self.inputs.push(cmd.input.map(<[u8]>::to_vec));
        let answer = |r: Result<serde_json::Value, tappaas_firstboot::proxmox::ApiError>| match r {
            Ok(serde_json::Value::Null) => CommandOutput {
                status: Some(0),
                stdout: Vec::new(),
                stderr: Vec::new(),
            },
            Ok(v) => CommandOutput {
                status: Some(0),
                stdout: serde_json::to_vec_pretty(&v).unwrap(),
                stderr: Vec::new(),
            },
            Err(e) => CommandOutput {
                status: Some(255),
                stdout: Vec::new(),
                stderr: format!("{}\n", e.refusal().unwrap_or("failed")).into_bytes(),
            },
        };
        let req = match cmd.program {
            // `pvecm add HOST --key value ...`, the password one line on
            // stdin. A failed join task: its error on stderr, exit 0.
            "pvecm" => {
                assert_eq!(args[0], "add");
                let line =
                    String::from_utf8(cmd.input.expect("the password on stdin").to_vec()).unwrap();
                let mut req = Request::post("/cluster/config/join")
                    .param("hostname", args[1].clone())
                    .param("password", line.strip_suffix('\n').expect("one line"));
                for pair in args[2..].chunks(2) {
                    req = req.param(pair[0].strip_prefix("--").unwrap(), pair[1].clone());
                }
                return Ok(match self.node.call(&req) {
                    Ok(_) => answer(Ok(serde_json::Value::Null)),
                    Err(e) => CommandOutput {
                        status: Some(0),
                        stdout: Vec::new(),
                        stderr: format!("{}\n", e.refusal().unwrap_or("failed")).into_bytes(),
                    },
                });
            }
            // `pvesm add TYPE ID --key value ... --password` or `pvesm set
            // ID ... --password`: a bare --password is one line on stdin.
            "pvesm" => {
                let line =
                    String::from_utf8(cmd.input.expect("the password on stdin").to_vec()).unwrap();
                assert_eq!(args.last().unwrap(), "--password", "{args:?}");
                let (mut req, rest) = match args[0].as_str() {
                    "add" => (
                        Request::post("/storage")
                            .param("type", args[1].clone())
                            .param("storage", args[2].clone()),
                        &args[3..args.len() - 1],
                    ),
                    "set" => (
                        Request::put(format!("/storage/{}", args[1])),
                        &args[2..args.len() - 1],
                    ),
                    verb => panic!("pvesm {verb} is not played"),
                };
                req = req.param("password", line.strip_suffix('\n').expect("one line"));
                for pair in rest.chunks(2) {
                    req = req.param(pair[0].strip_prefix("--").unwrap(), pair[1].clone());
                }
                return Ok(answer(
                    self.node.call(&req).map(|_| serde_json::Value::Null),
                ));
            }
            // `qm guest exec VMID --pass-stdin 1 -- /bin/sh -c SCRIPT sh FILE`:
            // the guest's `cat` writes stdin to FILE.
            "qm" => {
                use base64::Engine;
                assert_eq!(args[..2], ["guest", "exec"]);
                assert_eq!(
                    args[3..10],
                    [
                        "--pass-stdin",
                        "1",
                        "--",
                        "/bin/sh",
                        "-c",
                        tappaas_firstboot::proxmox::pvesh::GUEST_WRITE_SCRIPT,
                        "sh"
                    ]
                );
                let content = base64::engine::general_purpose::STANDARD
                    .encode(cmd.input.expect("the content on stdin"));
                let req = Request::post(format!(
                    "/nodes/{}/qemu/{}/agent/file-write",
                    self.name, args[2]
                ))
                .param("file", args[10].clone())
                .param("content", content)
                .param("encode", "0");
                return Ok(answer(
                    self.node
                        .call(&req)
                        .map(|_| serde_json::json!({"exitcode": 0, "exited": 1})),
                ));
            }
            "pvesh" => {
                let method = match args[0].as_str() {
                    "get" => Method::Get,
                    "create" => Method::Post,
                    "set" => Method::Put,
                    "delete" => Method::Delete,
                    verb => panic!("pvesh has no '{verb}'"),
                };
                let mut req = Request::new(method, args[1].clone());
                for pair in args[2..].chunks(2) {
                    let key = pair[0].strip_prefix("--").unwrap();
                    if key == "output-format" {
                        continue;
                    }
                    if let Some(list) = req.lists.get_mut(key) {
                        list.push(pair[1].clone());
                    } else if let Some(first) = req.params.remove(key) {
                        // A repeated option is an array.
                        req.lists
                            .insert(key.to_string(), vec![first, pair[1].clone()]);
                    } else {
                        req.params.insert(key.to_string(), pair[1].clone());
                    }
                }
                req
            }
            other => panic!("first boot ran {other}, which no test plays"),
        };
        Ok(answer(self.node.call(&req)))
    }
}

/// A client of `name` through the command-line tools (pvesh, pvecm, qm)
/// played on the simulator.
pub fn over_pvesh(
    sim: &Simulator,
    name: &str,
) -> Proxmox<tappaas_firstboot::proxmox::PveshApi<NodeCommands>> {
    Proxmox::new(
        tappaas_firstboot::proxmox::PveshApi::new(NodeCommands {
            node: sim.client(name),
            name: name.to_string(),
            argv: Vec::new(),
            inputs: Vec::new(),
        }),
        schema(),
    )
}

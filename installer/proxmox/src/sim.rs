//! A stateful in-memory stand-in for a group of Proxmox VE machines, for
//! tests of everything that drives Proxmox (first boot above all).
//!
//! The [`Simulator`] holds several machines, each with its own ZFS pools,
//! root password, address and TLS certificate fingerprint; a machine is
//! standalone until it creates or joins a cluster. A client is bound to one
//! machine ([`Simulator::client`]), as `pvesh` is bound to the local node.
//!
//! Every request is first checked against the API schema: an invalid call
//! panics (so a test fails even if the caller swallows errors) unless
//! [`Simulator::set_panic_on_invalid`] turned that off. Then the state
//! changes the way Proxmox's does, with Proxmox's refusals where this
//! project can run into them. Where the simulator is deliberately stricter
//! than Proxmox, its message says so.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{json, Value};

use crate::client::{Api, ApiError};
use crate::formats::split_list;
use crate::request::{Method, Request};
use crate::schema::{format_errors, PathMatch, Schema};

// Virtual machines: their state and the qemu calls (a child module so it
// shares the state types below).
mod vm;
use vm::Vm;
pub use vm::{GuestBoot, SimExec, SimVm};

/// One machine to put into the simulator.
#[derive(Clone, Debug)]
pub struct MachineSpec {
    pub name: String,
    pub address: IpAddr,
    pub root_password: String,
    /// Imported ZFS pools: name and size in bytes.
    pub pools: Vec<(String, u64)>,
    /// The certificate fingerprint; `None` derives a distinct one from the
    /// name.
    pub fingerprint: Option<String>,
    /// Linux bridges configured on the machine (default `lan`, `wan`).
    pub bridges: Vec<String>,
    /// Files on the machine: absolute path and size in bytes (images to
    /// import, files in a directory storage such as snippets).
    pub files: Vec<(String, u64)>,
}

impl MachineSpec {
    pub fn new(name: &str, address: IpAddr, root_password: &str) -> MachineSpec {
        MachineSpec {
            name: name.to_string(),
            address,
            root_password: root_password.to_string(),
            pools: Vec::new(),
            fingerprint: None,
            bridges: vec!["lan".to_string(), "wan".to_string()],
            files: Vec::new(),
        }
    }

    /// Replace the list of bridges.
    pub fn bridges(mut self, names: &[&str]) -> MachineSpec {
        self.bridges = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Put a file of `size` bytes at the absolute `path`.
    pub fn file(mut self, path: &str, size: u64) -> MachineSpec {
        self.files.push((path.to_string(), size));
        self
    }

    pub fn pool(mut self, name: &str, size: u64) -> MachineSpec {
        self.pools.push((name.to_string(), size));
        self
    }
}

/// When an injected failure strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailWhen {
    /// The call fails and changes nothing.
    Before,
    /// The call takes effect, but the caller gets an error (a lost answer,
    /// a crash right after the change): the case that re-runs must survive.
    After,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Injected {
    method: Method,
    path: String,
    when: FailWhen,
    message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Storage {
    id: String,
    kind: String,
    content: Vec<String>,
    pool: Option<String>,
    path: Option<String>,
    /// `None`: every node.
    nodes: Option<Vec<String>>,
    sparse: bool,
    disable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Machine {
    name: String,
    address: IpAddr,
    password: String,
    fingerprint: String,
    pools: Vec<(String, u64)>,
    online: bool,
    cluster: Option<usize>,
    /// `/etc/pve/storage.cfg` while standalone; replaced by the cluster's
    /// on join (Proxmox overwrites the joining node's `/etc/pve`).
    storage: BTreeMap<String, Storage>,
    bridges: Vec<String>,
    /// Absolute path -> size in bytes. Directory storages keep their
    /// volumes here too (`/var/lib/vz/images/100/vm-100-disk-0.raw`).
    files: BTreeMap<String, u64>,
    /// zvols of zfspool storages on this machine: volume id -> size.
    zvols: BTreeMap<String, u64>,
    vms: BTreeMap<u32, Vm>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    name: String,
    nodeid: u64,
    votes: u64,
    link0: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cluster {
    name: String,
    /// corosync config version: 1 at create, +1 per join.
    version: u64,
    members: Vec<Member>,
    storage: BTreeMap<String, Storage>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Task {
    node: String,
    kind: String,
    starttime: u64,
    /// `OK`, or the error the task ended with.
    exitstatus: String,
    /// Status polls for which the task still reports `running`.
    polls_left: u32,
    /// VM locks (node, vmid) held until the task is seen finished.
    unlock: Vec<(String, u32)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct State {
    machines: BTreeMap<String, Machine>,
    clusters: Vec<Cluster>,
    tasks: BTreeMap<String, Task>,
    clock: u64,
    /// How each VM's guest comes up (by VM id); absent: at once.
    guests: BTreeMap<u32, GuestBoot>,
    /// Polls for which a new VM task reports `running`.
    task_polls: u32,
    /// How the next commands run through each VM's guest agent end (by VM
    /// id, in order); absent: exit code 0 at once, no output.
    exec_outcomes: BTreeMap<u32, std::collections::VecDeque<SimExec>>,
    /// Set by a handler whose refusal still changes state (a failed agent
    /// ping counts towards the guest's boot); reset after each call.
    keep_on_error: bool,
}

/// An opaque copy of the whole simulated state, to assert that a failed
/// call changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(State);

struct Shared {
    state: Mutex<State>,
    injected: Mutex<Vec<Injected>>,
    log: Mutex<Vec<(String, Request)>>,
    violations: Mutex<Vec<String>>,
    panic_on_invalid: AtomicBool,
    schema: Arc<Schema>,
}

/// The simulated machines. Cloning gives another handle to the same state.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

/// An [`Api`] bound to one simulated machine, like `pvesh` on that node.
#[derive(Clone)]
pub struct SimNode {
    sim: Simulator,
    node: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide the state
    // from the next assertion.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Simulator {
    pub fn new(schema: Arc<Schema>) -> Simulator {
        Simulator {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                injected: Mutex::new(Vec::new()),
                log: Mutex::new(Vec::new()),
                violations: Mutex::new(Vec::new()),
                panic_on_invalid: AtomicBool::new(true),
                schema,
            }),
        }
    }

    /// Add a standalone machine with Proxmox's default `local` storage.
    /// Names and addresses must be unique.
    pub fn add_machine(&self, spec: MachineSpec) -> Result<(), String> {
        let mut st = lock(&self.shared.state);
        if st.machines.contains_key(&spec.name) {
            return Err(format!("machine '{}' exists", spec.name));
        }
        if st.machines.values().any(|m| m.address == spec.address) {
            return Err(format!("address {} is taken", spec.address));
        }
        let fingerprint = spec
            .fingerprint
            .unwrap_or_else(|| fake_fingerprint(&spec.name));
        let storage = default_storage();
        st.machines.insert(
            spec.name.clone(),
            Machine {
                name: spec.name,
                address: spec.address,
                password: spec.root_password,
                fingerprint,
                pools: spec.pools,
                online: true,
                cluster: None,
                storage,
                bridges: spec.bridges,
                files: spec.files.into_iter().collect(),
                zvols: BTreeMap::new(),
                vms: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Reinstall a machine: it comes back standalone, with a new
    /// certificate and Proxmox's default storage, while its cluster (if
    /// any) still lists it as a member; as after a disk swap, or when an
    /// install is re-run on a node that had joined.
    pub fn reinstall(&self, node: &str) {
        let mut st = lock(&self.shared.state);
        st.clock += 1;
        let generation = st.clock;
        if let Some(m) = st.machines.get_mut(node) {
            m.cluster = None;
            m.storage = default_storage();
            m.fingerprint = fake_fingerprint(&format!("{node}#{generation}"));
            // The system disk is new; the VM configurations lived in the
            // old /etc/pve.
            m.vms.clear();
        }
    }

    /// A client bound to `node`, as `pvesh` on that machine.
    pub fn client(&self, node: &str) -> SimNode {
        SimNode {
            sim: self.clone(),
            node: node.to_string(),
        }
    }

    /// The machine's certificate fingerprint (what `pvenode cert info`
    /// shows on it), for tests that play the user confirming it.
    pub fn fingerprint(&self, node: &str) -> Option<String> {
        lock(&self.shared.state)
            .machines
            .get(node)
            .map(|m| m.fingerprint.clone())
    }

    /// Switch a machine off or on: it stops answering, and its votes stop
    /// counting for quorum.
    pub fn set_online(&self, node: &str, online: bool) {
        if let Some(m) = lock(&self.shared.state).machines.get_mut(node) {
            m.online = online;
        }
    }

    /// Add or remove a pool on a machine (a disk that went missing).
    pub fn set_pool(&self, node: &str, pool: &str, size: Option<u64>) {
        if let Some(m) = lock(&self.shared.state).machines.get_mut(node) {
            m.pools.retain(|(p, _)| p != pool);
            if let Some(size) = size {
                m.pools.push((pool.to_string(), size));
            }
        }
    }

    /// Make the next call of `method` to exactly `path` (on any node) fail
    /// once with `message`.
    pub fn fail_next(&self, method: Method, path: &str, when: FailWhen, message: &str) {
        lock(&self.shared.injected).push(Injected {
            method,
            path: path.to_string(),
            when,
            message: message.to_string(),
        });
    }

    /// Injected failures not yet triggered.
    pub fn pending_failures(&self) -> usize {
        lock(&self.shared.injected).len()
    }

    /// `false`: an invalid request returns [`ApiError::Invalid`] instead of
    /// panicking (for tests of the simulator's own checks).
    pub fn set_panic_on_invalid(&self, panic: bool) {
        self.shared.panic_on_invalid.store(panic, Ordering::SeqCst);
    }

    /// Every request received, with the node it was sent to.
    pub fn calls(&self) -> Vec<(String, Request)> {
        lock(&self.shared.log).clone()
    }

    /// Schema violations seen (also when they did not panic).
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.violations).clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot(lock(&self.shared.state).clone())
    }

    /// What the machines hold (clusters, storages, pools, files, VMs and
    /// their configurations), without the history of how they got there
    /// (tasks, the clock, the guests' boot progress, what guest agents
    /// were asked to write and run): two runs that end the same compare
    /// equal.
    pub fn end_state(&self) -> Snapshot {
        let mut st = lock(&self.shared.state).clone();
        for m in st.machines.values_mut() {
            for vm in m.vms.values_mut() {
                vm.forget_history();
            }
        }
        st.tasks.clear();
        st.clock = 0;
        st.guests.clear();
        st.exec_outcomes.clear();
        st.keep_on_error = false;
        Snapshot(st)
    }

    /// The cluster name and member names `node` belongs to, if any.
    pub fn cluster_of(&self, node: &str) -> Option<(String, Vec<String>)> {
        let st = lock(&self.shared.state);
        let c = &st.clusters[st.machines.get(node)?.cluster?];
        Some((
            c.name.clone(),
            c.members.iter().map(|m| m.name.clone()).collect(),
        ))
    }

    fn call(&self, node: &str, req: &Request) -> Result<Value, ApiError> {
        let refused = |message: String| ApiError::Refused {
            method: req.method,
            path: req.path.clone(),
            message,
        };
        lock(&self.shared.log).push((node.to_string(), req.clone()));

        if let Err(errors) = self.shared.schema.validate_request(req) {
            let text = format!(
                "invalid request {} {} to the simulator:\n{}",
                req.method,
                req.path,
                format_errors(&errors)
            );
            lock(&self.shared.violations).push(text.clone());
            if self.shared.panic_on_invalid.load(Ordering::SeqCst) {
                panic!("{text}");
            }
            return Err(ApiError::Invalid {
                method: req.method,
                path: req.path.clone(),
                errors,
            });
        }
        let Some(m) = self.shared.schema.match_path(&req.path) else {
            return Err(refused("no such path".into()));
        };

        let injected = {
            let mut inj = lock(&self.shared.injected);
            inj.iter()
                .position(|i| i.method == req.method && i.path == req.path)
                .map(|at| inj.remove(at))
        };
        if let Some(Injected {
            when: FailWhen::Before,
            message,
            ..
        }) = &injected
        {
            return Err(refused(message.clone()));
        }

        let mut st = lock(&self.shared.state);
        // Work on a copy and keep it only on success, so a refused call
        // can never leave half a change behind.
        let mut next = st.clone();
        let result = next.handle(node, req, &m).map_err(refused);
        if result.is_ok() || next.keep_on_error {
            next.keep_on_error = false;
            *st = next;
        }
        match injected {
            Some(Injected { message, .. }) => Err(refused(message)),
            None => result,
        }
    }
}

impl Api for SimNode {
    fn call(&mut self, req: &Request) -> Result<Value, ApiError> {
        self.sim.call(&self.node, req)
    }
}

impl SimNode {
    pub fn node(&self) -> &str {
        &self.node
    }
}

/// What a fresh Proxmox install has in `/etc/pve/storage.cfg`.
fn default_storage() -> BTreeMap<String, Storage> {
    let local = Storage {
        id: "local".to_string(),
        kind: "dir".to_string(),
        content: vec!["iso".into(), "vztmpl".into(), "backup".into()],
        pool: None,
        path: Some("/var/lib/vz".to_string()),
        nodes: None,
        sparse: false,
        disable: false,
    };
    BTreeMap::from([(local.id.clone(), local)])
}

/// A distinct, stable fingerprint per machine name (not a real hash of
/// anything: there is no certificate).
fn fake_fingerprint(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut bytes = Vec::with_capacity(32);
    for i in 0..32u64 {
        for b in name.bytes().chain(i.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        bytes.push(format!("{:02X}", (h >> 24) as u8));
    }
    bytes.join(":")
}

fn flag(v: bool) -> u8 {
    u8::from(v)
}

/// The `address` of a link property string (`address=IP,...` or bare IP).
fn link_address(link: &str) -> String {
    for part in link.split(',') {
        match part.split_once('=') {
            Some(("address", v)) => return v.to_string(),
            Some(_) => {}
            None => return part.to_string(),
        }
    }
    String::new()
}

impl State {
    fn machine(&self, name: &str) -> Result<&Machine, String> {
        self.machines
            .get(name)
            .ok_or_else(|| format!("no such machine '{name}' in the simulator"))
    }

    fn cluster_idx(&self, node: &str) -> Result<Option<usize>, String> {
        Ok(self.machine(node)?.cluster)
    }

    /// The storage configuration `node` sees.
    fn storage_cfg(&self, node: &str) -> Result<&BTreeMap<String, Storage>, String> {
        Ok(match self.cluster_idx(node)? {
            Some(c) => &self.clusters[c].storage,
            None => &self.machine(node)?.storage,
        })
    }

    fn storage_cfg_mut(&mut self, node: &str) -> Result<&mut BTreeMap<String, Storage>, String> {
        match self.cluster_idx(node)? {
            Some(c) => Ok(&mut self.clusters[c].storage),
            None => self
                .machines
                .get_mut(node)
                .map(|m| &mut m.storage)
                .ok_or_else(|| format!("no such machine '{node}'")),
        }
    }

    /// The node names `node` can see: its cluster's members, or itself.
    fn members(&self, node: &str) -> Result<Vec<String>, String> {
        Ok(match self.cluster_idx(node)? {
            Some(c) => self.clusters[c]
                .members
                .iter()
                .map(|m| m.name.clone())
                .collect(),
            None => vec![node.to_string()],
        })
    }

    fn quorate(&self, c: usize) -> bool {
        let cl = &self.clusters[c];
        let total: u64 = cl.members.iter().map(|m| m.votes).sum();
        let online: u64 = cl
            .members
            .iter()
            .filter(|m| self.machines.get(&m.name).is_some_and(|x| x.online))
            .map(|m| m.votes)
            .sum();
        online * 2 > total
    }

    /// Writes to `/etc/pve` need quorum, as on Proxmox.
    fn need_quorum(&self, node: &str) -> Result<(), String> {
        match self.cluster_idx(node)? {
            Some(c) if !self.quorate(c) => Err("cluster not ready - no quorum?".into()),
            _ => Ok(()),
        }
    }

    /// A node that `local` may ask about (itself or a cluster member),
    /// online.
    fn reachable_node(&self, local: &str, node: &str) -> Result<&Machine, String> {
        if !self.members(local)?.iter().any(|n| n == node) {
            return Err(format!("no such cluster node '{node}'"));
        }
        let m = self.machine(node)?;
        if !m.online {
            return Err(format!("node '{node}' is offline"));
        }
        Ok(m)
    }

    fn new_task(&mut self, node: &str, kind: &str) -> String {
        self.new_vm_task(node, kind, "", "OK", Vec::new())
    }

    /// A task with an id (a VM id for qemu tasks), its outcome, and the
    /// VM locks it holds while it reports running.
    fn new_vm_task(
        &mut self,
        node: &str,
        kind: &str,
        id: &str,
        exitstatus: &str,
        unlock: Vec<(String, u32)>,
    ) -> String {
        self.clock += 1;
        let upid = format!(
            "UPID:{node}:{:08X}:{:08X}:{:08X}:{kind}:{id}:root@pam:",
            1000 + self.clock,
            self.clock,
            1_700_000_000 + self.clock
        );
        let polls_left = if id.is_empty() { 0 } else { self.task_polls };
        self.tasks.insert(
            upid.clone(),
            Task {
                node: node.to_string(),
                kind: kind.to_string(),
                starttime: 1_700_000_000 + self.clock,
                exitstatus: exitstatus.to_string(),
                polls_left,
                unlock,
            },
        );
        upid
    }

    fn task_status(&mut self, local: &str, node: &str, upid: &str) -> Result<Value, String> {
        self.reachable_node(local, node)?;
        let Some(t) = self.tasks.get_mut(upid).filter(|t| t.node == node) else {
            return Err(format!("no such task '{upid}'"));
        };
        let mut v = json!({
            "upid": upid, "node": t.node, "type": t.kind, "id": "",
            "user": "root@pam", "pid": 1000, "pstart": 1,
            "starttime": t.starttime, "status": "running",
        });
        if t.polls_left > 0 {
            t.polls_left -= 1;
            return Ok(v);
        }
        let unlock = std::mem::take(&mut t.unlock);
        v["status"] = json!("stopped");
        v["exitstatus"] = json!(t.exitstatus);
        for (n, vmid) in unlock {
            if let Some(vm) = self.machines.get_mut(&n).and_then(|m| m.vms.get_mut(&vmid)) {
                vm.set_lock(None);
            }
        }
        Ok(v)
    }

    fn handle(&mut self, local: &str, req: &Request, m: &PathMatch) -> Result<Value, String> {
        if !self.machine(local)?.online {
            return Err(format!("node '{local}' is offline"));
        }
        let p = |k: &str| req.get_param(k);
        let var = |k: &str| m.vars.get(k).map(String::as_str).unwrap_or_default();
        match (req.method, m.template.as_str()) {
            (Method::Get, "/version") => Ok(json!({
                "version": "9.1.3",
                "release": "9.1",
                "repoid": "e5010dc0",
            })),
            (Method::Get, "/cluster/status") => self.cluster_status(local),
            (Method::Get, "/cluster/config/join") => self.join_info(local, p("node")),
            (Method::Get, "/cluster/config/nodes") => Ok(Value::Array(
                match self.cluster_idx(local)? {
                    Some(_) => self.members(local)?,
                    None => Vec::new(),
                }
                .into_iter()
                .map(|n| json!({ "node": n }))
                .collect(),
            )),
            (Method::Post, "/cluster/config") => self.create_cluster(local, req),
            (Method::Post, "/cluster/config/join") => self.join(local, req),
            (Method::Get, "/storage") => Ok(Value::Array(
                self.storage_cfg(local)?
                    .values()
                    .filter(|s| p("type").is_none_or(|t| t == s.kind))
                    .map(storage_json)
                    .collect(),
            )),
            (Method::Get, "/storage/{storage}") => self
                .storage_cfg(local)?
                .get(var("storage"))
                .map(storage_json)
                .ok_or_else(|| format!("storage '{}' does not exist", var("storage"))),
            (Method::Post, "/storage") => self.add_storage(local, req),
            (Method::Put, "/storage/{storage}") => self.update_storage(local, var("storage"), req),
            (Method::Get, "/nodes") => self.nodes(local),
            (Method::Get, "/nodes/{node}/status") => {
                let n = self.reachable_node(local, var("node"))?;
                Ok(json!({
                    "pveversion": "pve-manager/9.1.3/e5010dc0",
                    "kversion": "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC",
                    "uptime": 3600,
                    "cpu": 0.01,
                    "cpuinfo": {"cpus": 4, "cores": 4, "sockets": 1, "model": "simulated"},
                    "memory": {"total": 17_179_869_184_u64, "used": 2_147_483_648_u64},
                    "name": n.name,
                }))
            }
            (Method::Get, "/nodes/{node}/disks/zfs") => {
                let n = self.reachable_node(local, var("node"))?;
                Ok(Value::Array(
                    n.pools
                        .iter()
                        .map(|(name, size)| {
                            json!({
                                "name": name, "size": size, "alloc": 0, "free": size,
                                "frag": 0, "dedup": 1.0, "health": "ONLINE",
                            })
                        })
                        .collect(),
                ))
            }
            (Method::Get, "/nodes/{node}/storage") => self.node_storage(local, var("node")),
            (Method::Get, "/nodes/{node}/tasks/{upid}/status") => {
                self.task_status(local, var("node"), var("upid"))
            }
            (method, template) if vm::handles(method, template) => self.handle_vm(local, req, m),
            (method, template) => Err(format!(
                "{method} {template} is valid but not simulated; extend sim.rs to use it"
            )),
        }
    }

    fn cluster_status(&self, local: &str) -> Result<Value, String> {
        let node_entry = |name: &str, nodeid: u64| -> Result<Value, String> {
            let m = self.machine(name)?;
            Ok(json!({
                "type": "node", "id": format!("node/{name}"), "name": name,
                "ip": m.address.to_string(), "nodeid": nodeid, "level": "",
                "online": flag(m.online), "local": flag(name == local),
            }))
        };
        match self.cluster_idx(local)? {
            None => Ok(Value::Array(vec![node_entry(local, 0)?])),
            Some(c) => {
                let cl = &self.clusters[c];
                let mut out = vec![json!({
                    "type": "cluster", "id": "cluster", "name": cl.name,
                    "nodes": cl.members.len(), "quorate": flag(self.quorate(c)),
                    "version": cl.version,
                })];
                for mb in &cl.members {
                    out.push(node_entry(&mb.name, mb.nodeid)?);
                }
                Ok(Value::Array(out))
            }
        }
    }

    fn join_info(&self, local: &str, node: Option<&str>) -> Result<Value, String> {
        let Some(c) = self.cluster_idx(local)? else {
            return Err("node is not in a cluster, no join info available!".into());
        };
        let cl = &self.clusters[c];
        let preferred = node.unwrap_or(local);
        if !cl.members.iter().any(|m| m.name == preferred) {
            return Err(format!("no such cluster node '{preferred}'"));
        }
        let mut nodelist = Vec::new();
        for mb in &cl.members {
            let m = self.machine(&mb.name)?;
            nodelist.push(json!({
                "name": mb.name, "nodeid": mb.nodeid, "quorum_votes": mb.votes,
                "pve_addr": m.address.to_string(), "pve_fp": m.fingerprint,
                "ring0_addr": mb.link0,
            }));
        }
        Ok(json!({
            "nodelist": nodelist,
            "preferred_node": preferred,
            "config_digest": format!("{:040x}", cl.version),
            "totem": {
                "cluster_name": cl.name, "config_version": cl.version.to_string(),
                "interface": {"0": {"linknumber": "0"}}, "ip_version": "ipv4-6",
                "link_mode": "passive", "secauth": "on", "version": "2",
            },
        }))
    }

    /// A link address must be configured on the node itself.
    fn local_link(&self, local: &str, link0: Option<&str>) -> Result<String, String> {
        let own = self.machine(local)?.address.to_string();
        let addr = link0.map(link_address).unwrap_or_else(|| own.clone());
        if addr != own {
            return Err(format!(
                "cannot use IP '{addr}', it must be configured exactly once on local node!"
            ));
        }
        Ok(addr)
    }

    fn create_cluster(&mut self, local: &str, req: &Request) -> Result<Value, String> {
        if self.cluster_idx(local)?.is_some() {
            return Err("cluster config '/etc/pve/corosync.conf' already exists".into());
        }
        let link0 = self.local_link(local, req.get_param("link0"))?;
        let num = |k: &str, d: u64| req.get_param(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let storage = std::mem::take(
            &mut self
                .machines
                .get_mut(local)
                .ok_or("no local machine")?
                .storage,
        );
        self.clusters.push(Cluster {
            name: req.get_param("clustername").unwrap_or_default().to_string(),
            version: 1,
            members: vec![Member {
                name: local.to_string(),
                nodeid: num("nodeid", 1),
                votes: num("votes", 1),
                link0,
            }],
            storage,
        });
        let idx = self.clusters.len() - 1;
        if let Some(m) = self.machines.get_mut(local) {
            m.cluster = Some(idx);
        }
        Ok(Value::String(self.new_task(local, "clustercreate")))
    }

    /// `POST /cluster/config/join` on the joining node `local`: it reaches
    /// the peer over HTTPS (checking the fingerprint), logs in as root, and
    /// asks the cluster to add it.
    fn join(&mut self, local: &str, req: &Request) -> Result<Value, String> {
        if self.cluster_idx(local)?.is_some() {
            return Err("cluster config '/etc/pve/corosync.conf' already exists".into());
        }
        let host = req.get_param("hostname").unwrap_or_default();
        let peer = self
            .machines
            .values()
            .find(|m| m.name == host || m.address.to_string() == host)
            .filter(|m| m.online && m.name != local)
            .ok_or_else(|| format!("unable to connect to '{host}:8006' - no route to host"))?;
        let given_fp = req.get_param("fingerprint").unwrap_or_default();
        if !peer.fingerprint.eq_ignore_ascii_case(given_fp) {
            return Err(format!(
                "certificate of '{host}' does not match fingerprint '{given_fp}' - refusing to connect"
            ));
        }
        if peer.password != req.get_param("password").unwrap_or_default() {
            return Err("authentication failure".into());
        }
        if !self.machine(local)?.vms.is_empty() {
            return Err(
                "detected the following error(s):\n* this host already contains virtual guests"
                    .into(),
            );
        }
        let Some(c) = peer.cluster else {
            return Err(format!(
                "'{host}' is not in a cluster, no join info available!"
            ));
        };
        if !self.quorate(c) {
            return Err("cluster not ready - no quorum?".into());
        }
        let link0 = self.local_link(local, req.get_param("link0"))?;
        let force = req.get_param("force") == Some("1");
        let cl = &self.clusters[c];
        if let Some(existing) = cl.members.iter().find(|m| m.name == local) {
            if !force {
                return Err(format!("can't add existing node '{}'", existing.name));
            }
        }
        if let Some(other) = cl
            .members
            .iter()
            .find(|m| m.link0 == link0 && m.name != local)
        {
            return Err(format!(
                "corosync link address '{link0}' is already used by node '{}'",
                other.name
            ));
        }
        let next_id = cl.members.iter().map(|m| m.nodeid).max().unwrap_or(0) + 1;
        let nodeid = match req.get_param("nodeid").and_then(|v| v.parse::<u64>().ok()) {
            Some(id) => {
                if let Some(m) = cl
                    .members
                    .iter()
                    .find(|m| m.nodeid == id && m.name != local)
                {
                    return Err(format!("Node ID {id} already defined as '{}'", m.name));
                }
                id
            }
            None => next_id,
        };
        let votes = req
            .get_param("votes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);

        let cl = &mut self.clusters[c];
        cl.members.retain(|m| m.name != local);
        cl.members.push(Member {
            name: local.to_string(),
            nodeid,
            votes,
            link0,
        });
        cl.version += 1;
        self.clock += 1;
        let generation = self.clock;
        if let Some(m) = self.machines.get_mut(local) {
            m.cluster = Some(c);
            // The cluster's /etc/pve replaces the node's own.
            m.storage.clear();
            // The join re-issues the node's certificate under the cluster's
            // CA, so its fingerprint changes: a fingerprint noted before the
            // join is stale afterwards.
            m.fingerprint = fake_fingerprint(&format!("{local}#{generation}"));
        }
        Ok(Value::String(self.new_task(local, "clusterjoin")))
    }

    fn nodes(&self, local: &str) -> Result<Value, String> {
        let mut out = Vec::new();
        for name in self.members(local)? {
            let m = self.machine(&name)?;
            out.push(json!({
                "node": name, "id": format!("node/{name}"), "type": "node",
                "status": if m.online { "online" } else { "offline" },
                "ssl_fingerprint": m.fingerprint, "level": "",
                "maxcpu": 4, "maxmem": 17_179_869_184_u64, "uptime": 3600,
            }));
        }
        Ok(Value::Array(out))
    }

    fn node_storage(&self, local: &str, node: &str) -> Result<Value, String> {
        let m = self.reachable_node(local, node)?;
        let mut out = Vec::new();
        for s in self.storage_cfg(local)?.values() {
            let here = s.nodes.as_ref().is_none_or(|l| l.iter().any(|n| n == node));
            if s.disable || !here {
                continue;
            }
            let pool_size = s
                .pool
                .as_ref()
                .and_then(|p| m.pools.iter().find(|(n, _)| pool_root(p) == n))
                .map(|(_, size)| *size);
            let active = s.kind != "zfspool" || pool_size.is_some();
            let total = pool_size.unwrap_or(100 << 30);
            out.push(json!({
                "storage": s.id, "type": s.kind, "content": s.content.join(","),
                "active": flag(active), "enabled": 1, "shared": 0,
                "total": total, "used": 0, "avail": total,
            }));
        }
        Ok(Value::Array(out))
    }

    /// Checks shared by add and update: content types a zfspool can hold,
    /// member nodes, and the pool on each node that will use the storage.
    fn check_zfspool(
        &self,
        local: &str,
        id: &str,
        pool: &str,
        content: &[String],
        nodes: Option<&[String]>,
        adding: bool,
    ) -> Result<(), String> {
        if let Some(bad) = content.iter().find(|c| *c != "images" && *c != "rootdir") {
            return Err(format!("storage does not support content type '{bad}'"));
        }
        let members = self.members(local)?;
        let users: Vec<String> = match nodes {
            Some(list) => list.to_vec(),
            None => members.clone(),
        };
        for node in &users {
            if !members.contains(node) {
                return Err(format!(
                    "simulator (stricter than Proxmox): node '{node}' in 'nodes' is not a cluster member"
                ));
            }
            let m = self.machine(node)?;
            if m.pools.iter().any(|(p, _)| p == pool_root(pool)) {
                continue;
            }
            // Proxmox activates a new storage on the local node and fails
            // there; other nodes (and updates) would only fail when the
            // storage is used. The simulator checks them all, so a plan
            // that registers a pool for a node without it is caught here.
            return Err(if adding && node == local {
                format!(
                    "could not activate storage '{id}', zfs error: cannot import '{pool}': no such pool available"
                )
            } else {
                format!(
                    "simulator (stricter than Proxmox): zfs pool '{pool}' does not exist on node '{node}'"
                )
            });
        }
        Ok(())
    }

    fn add_storage(&mut self, local: &str, req: &Request) -> Result<Value, String> {
        self.need_quorum(local)?;
        let id = req.get_param("storage").unwrap_or_default().to_string();
        let kind = req.get_param("type").unwrap_or_default().to_string();
        if self.storage_cfg(local)?.contains_key(&id) {
            return Err(format!("storage ID '{id}' already defined"));
        }
        if kind != "zfspool" {
            return Err(format!(
                "the simulator models zfspool storages only, not '{kind}'"
            ));
        }
        let pool = req
            .get_param("pool")
            .ok_or("missing value for required option 'pool'")?
            .to_string();
        let content: Vec<String> = match req.get_param("content") {
            Some(c) => split_list(c).into_iter().map(str::to_string).collect(),
            None => vec!["images".into(), "rootdir".into()],
        };
        let nodes: Option<Vec<String>> = req
            .get_param("nodes")
            .map(|n| split_list(n).into_iter().map(str::to_string).collect());
        self.check_zfspool(local, &id, &pool, &content, nodes.as_deref(), true)?;
        let storage = Storage {
            id: id.clone(),
            kind: kind.clone(),
            content,
            pool: Some(pool),
            path: None,
            nodes,
            sparse: req.get_param("sparse") == Some("1"),
            disable: req.get_param("disable") == Some("1"),
        };
        self.storage_cfg_mut(local)?.insert(id.clone(), storage);
        Ok(json!({ "storage": id, "type": kind }))
    }

    fn update_storage(&mut self, local: &str, id: &str, req: &Request) -> Result<Value, String> {
        self.need_quorum(local)?;
        let mut s = self
            .storage_cfg(local)?
            .get(id)
            .cloned()
            .ok_or_else(|| format!("storage ID '{id}' does not exist"))?;
        for fixed in ["pool", "type"] {
            if req.get_param(fixed).is_some() {
                return Err(format!("can't change value of fixed parameter '{fixed}'"));
            }
        }
        for key in split_list(req.get_param("delete").unwrap_or_default()) {
            match key {
                "nodes" => s.nodes = None,
                "sparse" => s.sparse = false,
                "disable" => s.disable = false,
                other => return Err(format!("the simulator cannot delete '{other}'")),
            }
        }
        if let Some(n) = req.get_param("nodes") {
            s.nodes = Some(split_list(n).into_iter().map(str::to_string).collect());
        }
        if let Some(c) = req.get_param("content") {
            s.content = split_list(c).into_iter().map(str::to_string).collect();
        }
        if let Some(v) = req.get_param("sparse") {
            s.sparse = v == "1";
        }
        if let Some(v) = req.get_param("disable") {
            s.disable = v == "1";
        }
        if s.kind == "zfspool" {
            let pool = s.pool.clone().unwrap_or_default();
            self.check_zfspool(local, id, &pool, &s.content, s.nodes.as_deref(), false)?;
        }
        let kind = s.kind.clone();
        self.storage_cfg_mut(local)?.insert(id.to_string(), s);
        Ok(json!({ "storage": id, "type": kind }))
    }
}

/// A dataset `tank1/vm` lives in pool `tank1`.
fn pool_root(dataset: &str) -> &str {
    dataset.split('/').next().unwrap_or(dataset)
}

fn storage_json(s: &Storage) -> Value {
    let mut v = json!({
        "storage": s.id,
        "type": s.kind,
        "content": s.content.join(","),
        "digest": "0000000000000000000000000000000000000000",
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(pool) = &s.pool {
            o.insert("pool".into(), json!(pool));
        }
        if let Some(path) = &s.path {
            o.insert("path".into(), json!(path));
        }
        if let Some(nodes) = &s.nodes {
            o.insert("nodes".into(), json!(nodes.join(",")));
        }
        if s.sparse {
            o.insert("sparse".into(), json!(1));
        }
        if s.disable {
            o.insert("disable".into(), json!(1));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_fingerprints_are_valid_and_distinct() {
        let a = fake_fingerprint("tappaas1");
        let b = fake_fingerprint("tappaas2");
        assert!(crate::formats::is_fingerprint(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, fake_fingerprint("tappaas1"));
    }

    #[test]
    fn link_addresses() {
        assert_eq!(link_address("address=10.0.0.10,priority=1"), "10.0.0.10");
        assert_eq!(link_address("10.0.0.11"), "10.0.0.11");
    }
}

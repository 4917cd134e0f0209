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
// The cluster calls, and the node and storage calls (`impl State`).
mod cluster;
mod storage;
use storage::storage_json;
// The backup jobs (`/cluster/backup`).
mod backup;
use backup::Job;

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
    /// A `pbs` storage's server, datastore, username and fingerprint.
    pbs: Option<PbsTarget>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct PbsTarget {
    server: String,
    datastore: String,
    username: Option<String>,
    fingerprint: Option<String>,
    /// Kept in `/etc/pve/priv/storage/ID.pw`, never shown.
    password: Option<String>,
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
    /// `/etc/pve/jobs.cfg`'s backup jobs while standalone.
    jobs: BTreeMap<String, Job>,
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
    jobs: BTreeMap<String, Job>,
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
    /// How a command whose program is the key's runs in a VM's guest (by
    /// VM id and program), when nothing is queued: the guest's software.
    guest_programs: BTreeMap<(u32, String), SimExec>,
    /// Set by a handler whose refusal still changes state (a failed agent
    /// ping counts towards the guest's boot); reset after each call.
    keep_on_error: bool,
    /// The wall clock when a test set it (else time is 1_700_000_000 plus
    /// the clock); it moves on a second per task and per guest backed up.
    wall: Option<u64>,
    /// The backups of each Proxmox Backup Server datastore (`server/name`),
    /// by volume name below `backup/`.
    datastores: BTreeMap<String, BTreeMap<String, vm::PbsBackup>>,
    /// Guests whose backups fail, with the error.
    backup_failures: BTreeMap<u32, String>,
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
                jobs: BTreeMap::new(),
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
            m.jobs.clear();
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
        pbs: None,
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
        let start = self.now();
        let polls_left = if id.is_empty() { 0 } else { self.task_polls };
        self.task_at(node, kind, id, exitstatus, start, polls_left, unlock)
    }

    /// A task that started at `start`.
    #[allow(clippy::too_many_arguments)]
    fn task_at(
        &mut self,
        node: &str,
        kind: &str,
        id: &str,
        exitstatus: &str,
        start: u64,
        polls_left: u32,
        unlock: Vec<(String, u32)>,
    ) -> String {
        let upid = format!(
            "UPID:{node}:{:08X}:{:08X}:{:08X}:{kind}:{id}:root@pam:",
            1000 + self.clock,
            self.clock,
            start
        );
        self.tasks.insert(
            upid.clone(),
            Task {
                node: node.to_string(),
                kind: kind.to_string(),
                starttime: start,
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
            (_, "/cluster/backup") => self.handle_backup(local, req, None),
            (_, "/cluster/backup/{id}") => self.handle_backup(local, req, Some(var("id"))),
            (Method::Get, "/cluster/backup/{id}/included_volumes") => {
                self.job_guests(local, var("id"))
            }
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
            (Method::Post, "/nodes/{node}/vzdump") => self.vzdump(local, var("node"), req),
            (Method::Get, "/nodes/{node}/tasks") => self.node_tasks(local, var("node"), req),
            (Method::Get, "/nodes/{node}/tasks/{upid}/status") => {
                self.task_status(local, var("node"), var("upid"))
            }
            (method, template) if vm::handles(method, template) => self.handle_vm(local, req, m),
            (method, template) => Err(format!(
                "{method} {template} is valid but not simulated; extend sim.rs to use it"
            )),
        }
    }
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

//! Simulated QEMU VMs: configuration, running state, template flag and
//! locks per VM on its machine; VM ids unique in the cluster; disks as
//! zvols (zfspool) or files (directory storage) with sizes.
//!
//! Proxmox's refusals are modelled where deployment can run into them;
//! where the simulator is stricter than Proxmox its message says so.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{lock, Machine, PathMatch, Simulator, State, Storage};
use crate::formats::split_list;
use crate::request::{Method, Request};

// The guest agent's files and commands (a child module so it shares the
// VM state).
mod agent;
pub use agent::SimExec;
// The volume calls, and the lifecycle calls (`impl State`).
mod lifecycle;
mod volumes;
// Backups to a Proxmox Backup Server and restores from them.
mod backups;
pub(super) use backups::PbsBackup;

/// How a VM's guest comes up after a start, for tests of waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestBoot {
    /// The agent answers from the (N+1)-th ping after the start.
    AfterPings(u32),
    /// The guest never comes up: the agent never answers and a shutdown
    /// request is ignored.
    Never,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Vm {
    config: BTreeMap<String, String>,
    running: bool,
    lock: Option<String>,
    /// Agent pings since the last start.
    pings: u32,
    /// What the guest agent wrote and ran in the guest.
    guest: agent::Guest,
}

/// A copy of one simulated VM, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimVm {
    pub config: BTreeMap<String, String>,
    pub running: bool,
    pub template: bool,
    pub lock: Option<String>,
}

impl Vm {
    /// Forget how the guest got where it is: agent pings and what the
    /// agent wrote and ran (an add-dependant action may run once more
    /// after a stopped run, which its contract makes harmless).
    pub(super) fn forget_history(&mut self) {
        self.pings = 0;
        self.guest = agent::Guest::default();
    }

    pub(super) fn set_lock(&mut self, lock: Option<String>) {
        self.lock = lock;
    }

    fn is_template(&self) -> bool {
        self.config.get("template").map(String::as_str) == Some("1")
    }

    fn snapshot(&self) -> SimVm {
        SimVm {
            config: self.config.clone(),
            running: self.running,
            template: self.is_template(),
            lock: self.lock.clone(),
        }
    }
}

impl Simulator {
    /// Replace the bridges configured on a machine.
    pub fn set_bridges(&self, node: &str, bridges: &[&str]) {
        if let Some(m) = lock(&self.shared.state).machines.get_mut(node) {
            m.bridges = bridges.iter().map(|b| b.to_string()).collect();
        }
    }

    /// Put a file on a machine (or replace it): an image to import, a
    /// snippet in a directory storage (`/var/lib/vz/snippets/x.yaml`).
    pub fn add_file(&self, node: &str, path: &str, size: u64) {
        if let Some(m) = lock(&self.shared.state).machines.get_mut(node) {
            m.files.insert(path.to_string(), size);
        }
    }

    /// Whether a file exists on a machine.
    pub fn has_file(&self, node: &str, path: &str) -> bool {
        lock(&self.shared.state)
            .machines
            .get(node)
            .is_some_and(|m| m.files.contains_key(path))
    }

    /// How the guest of VM `vmid` comes up after each start (the VM need
    /// not exist yet). Without this it answers at once.
    pub fn set_guest_boot(&self, vmid: u32, boot: GuestBoot) {
        lock(&self.shared.state).guests.insert(vmid, boot);
    }

    /// VM tasks (create, clone, start, ...) report `running` for `polls`
    /// status polls before they finish; create and clone hold their VM
    /// locks until then. 0 (the default): tasks finish at once.
    pub fn set_task_polls(&self, polls: u32) {
        lock(&self.shared.state).task_polls = polls;
    }

    /// A copy of VM `vmid` on `node`.
    pub fn vm(&self, node: &str, vmid: u32) -> Option<SimVm> {
        lock(&self.shared.state)
            .machines
            .get(node)?
            .vms
            .get(&vmid)
            .map(Vm::snapshot)
    }

    /// The VM ids on `node`.
    pub fn vm_ids(&self, node: &str) -> Vec<u32> {
        lock(&self.shared.state)
            .machines
            .get(node)
            .map(|m| m.vms.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The disk volumes on `node` (zvols and directory-storage images):
    /// volume id and size in bytes.
    pub fn volumes(&self, node: &str) -> Vec<(String, u64)> {
        let st = lock(&self.shared.state);
        let Some(m) = st.machines.get(node) else {
            return Vec::new();
        };
        let mut out: Vec<(String, u64)> = m.zvols.iter().map(|(k, v)| (k.clone(), *v)).collect();
        if let Ok(cfg) = st.storage_cfg(node) {
            for s in cfg.values().filter(|s| s.kind == "dir") {
                for (path, size) in &m.files {
                    if let Some((volname, "images")) = dir_volname(s, path) {
                        out.push((format!("{}:{volname}", s.id), *size));
                    }
                }
            }
        }
        out.sort();
        out
    }
}

/// The templates this module answers.
pub(super) fn handles(method: Method, template: &str) -> bool {
    matches!(
        (method, template),
        (Method::Get, "/cluster/nextid")
            | (Method::Get, "/cluster/resources")
            | (Method::Get, "/nodes/{node}/qemu")
            | (Method::Post, "/nodes/{node}/qemu")
            | (Method::Delete, "/nodes/{node}/qemu/{vmid}")
            | (Method::Get, "/nodes/{node}/qemu/{vmid}/config")
            | (Method::Put, "/nodes/{node}/qemu/{vmid}/config")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/clone")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/template")
            | (Method::Put, "/nodes/{node}/qemu/{vmid}/resize")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/status/start")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/status/shutdown")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/status/stop")
            | (Method::Get, "/nodes/{node}/qemu/{vmid}/status/current")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/agent/ping")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/agent/file-write")
            | (Method::Post, "/nodes/{node}/qemu/{vmid}/agent/exec")
            | (Method::Get, "/nodes/{node}/qemu/{vmid}/agent/exec-status")
            | (Method::Get, "/nodes/{node}/storage/{storage}/content")
    )
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn is_disk_key(k: &str) -> bool {
    crate::formats::is_boot_device(k)
        && !k.starts_with("net")
        && !k.starts_with("hostpci")
        && !k.starts_with("usb")
        || k == "efidisk0"
        || k == "tpmstate0"
}

fn is_net_key(k: &str) -> bool {
    k.starts_with("net") && crate::formats::is_boot_device(k)
}

/// Proxmox writes sizes as `32G`, `2252M`, ...
fn human_size(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{}G", bytes / GIB)
    } else if bytes.is_multiple_of(MIB) {
        format!("{}M", bytes / MIB)
    } else if bytes.is_multiple_of(1024) {
        format!("{}K", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

/// `32G`, `+2G`, `1.5T`, `1024` (bytes) -> (relative, bytes).
fn parse_size(s: &str) -> Option<(bool, u64)> {
    let (plus, s) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (num, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 'B'),
    };
    let mult = match unit {
        'B' => 1.0,
        'K' => 1024.0,
        'M' => MIB as f64,
        'G' => GIB as f64,
        'T' => (GIB as f64) * 1024.0,
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    Some((plus, (n * mult) as u64))
}

/// The first element of a drive's property string (its volume) and the
/// other `key=value` parts.
fn split_drive(value: &str) -> (String, Vec<(String, String)>) {
    let mut file = String::new();
    let mut rest = Vec::new();
    for part in value.split(',') {
        match part.split_once('=') {
            Some(("file" | "volume", v)) => file = v.to_string(),
            Some((k, v)) => rest.push((k.to_string(), v.to_string())),
            None => file = part.to_string(),
        }
    }
    (file, rest)
}

fn join_drive(file: &str, rest: &[(String, String)]) -> String {
    let mut s = file.to_string();
    for (k, v) in rest {
        s.push_str(&format!(",{k}={v}"));
    }
    s
}

/// Where a directory storage keeps each content type other than VM
/// images: (volume name prefix, directory below the storage, content).
const DIR_LAYOUT: [(&str, &str, &str); 5] = [
    ("iso/", "template/iso/", "iso"),
    ("vztmpl/", "template/cache/", "vztmpl"),
    ("snippets/", "snippets/", "snippets"),
    ("import/", "import/", "import"),
    ("backup/", "dump/", "backup"),
];

/// A directory storage's file `path` as (volume name, content type).
fn dir_volname(s: &Storage, path: &str) -> Option<(String, &'static str)> {
    let rel = path.strip_prefix(s.path.as_deref()?)?.strip_prefix('/')?;
    if let Some(name) = rel.strip_prefix("images/") {
        return Some((name.to_string(), "images"));
    }
    DIR_LAYOUT.iter().find_map(|(prefix, dir, content)| {
        rel.strip_prefix(dir)
            .map(|name| (format!("{prefix}{name}"), *content))
    })
}

/// The file path of a directory storage's volume name, and its content.
fn dir_path(s: &Storage, volname: &str) -> Option<(String, &'static str)> {
    let base = s.path.as_deref()?;
    DIR_LAYOUT
        .iter()
        .find_map(|(prefix, dir, content)| {
            volname
                .strip_prefix(prefix)
                .map(|name| (format!("{base}/{dir}{name}"), *content))
        })
        .or_else(|| {
            // `100/vm-100-disk-0.raw`: a VM image.
            volname
                .split_once('/')
                .filter(|(id, _)| id.bytes().all(|c| c.is_ascii_digit()))
                .map(|_| (format!("{base}/images/{volname}"), "images"))
        })
}

/// A deterministic MAC in Proxmox's default prefix (BC:24:11).
fn make_mac(vmid: u32, net: &str, salt: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in vmid
        .to_le_bytes()
        .into_iter()
        .chain(net.bytes())
        .chain(salt.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        (h >> 16) as u8,
        (h >> 8) as u8,
        h as u8
    )
}

fn no_such_vm(node: &str, vmid: u32) -> String {
    format!("Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")
}

/// What a drive value asks for.
enum Alloc {
    /// `STORAGE:N` (GiB), with optional `import-from`.
    New {
        storage: String,
        gib: f64,
        import: Option<String>,
    },
    CloudInit {
        storage: String,
    },
    /// An existing volume, `none`, `cdrom` or a path: kept as it is.
    Keep,
}

fn alloc_of(file: &str, rest: &[(String, String)]) -> Alloc {
    let import = rest
        .iter()
        .find(|(k, _)| k == "import-from")
        .map(|(_, v)| v.clone());
    match file.split_once(':') {
        Some((storage, "cloudinit")) => Alloc::CloudInit {
            storage: storage.to_string(),
        },
        Some((storage, size)) => match size.parse::<f64>() {
            Ok(gib) => Alloc::New {
                storage: storage.to_string(),
                gib,
                import,
            },
            Err(_) => Alloc::Keep,
        },
        None => Alloc::Keep,
    }
}

impl State {
    pub(super) fn handle_vm(
        &mut self,
        local: &str,
        req: &Request,
        m: &PathMatch,
    ) -> Result<Value, String> {
        let var = |k: &str| m.vars.get(k).map(String::as_str).unwrap_or_default();
        let vmid = || -> Result<u32, String> {
            var("vmid")
                .parse()
                .map_err(|_| format!("bad VM id '{}'", var("vmid")))
        };
        if let Some(node) = m.vars.get("node") {
            self.reachable_node(local, node)?;
        }
        let node = var("node");
        match (req.method, m.template.as_str()) {
            (Method::Get, "/cluster/nextid") => self.next_id(local, req),
            (Method::Get, "/cluster/resources") => self.resources(local, req),
            (Method::Get, "/nodes/{node}/qemu") => self.list_vms(node),
            (Method::Post, "/nodes/{node}/qemu") => self.create(local, node, req),
            (Method::Delete, "/nodes/{node}/qemu/{vmid}") => self.destroy(local, node, vmid()?),
            (Method::Get, "/nodes/{node}/qemu/{vmid}/config") => {
                let vm = self.vm(node, vmid()?)?;
                let mut out = serde_json::Map::new();
                for (k, v) in &vm.config {
                    out.insert(k.clone(), json!(v));
                }
                out.insert("digest".into(), json!(config_digest(&vm.config)));
                Ok(Value::Object(out))
            }
            (Method::Put, "/nodes/{node}/qemu/{vmid}/config") => {
                self.set_config(local, node, vmid()?, req)
            }
            (Method::Post, "/nodes/{node}/qemu/{vmid}/clone") => {
                self.clone_vm(local, node, vmid()?, req)
            }
            (Method::Post, "/nodes/{node}/qemu/{vmid}/template") => {
                self.make_template(local, node, vmid()?)
            }
            (Method::Put, "/nodes/{node}/qemu/{vmid}/resize") => {
                self.resize(local, node, vmid()?, req)
            }
            (Method::Post, "/nodes/{node}/qemu/{vmid}/status/start") => {
                self.start(local, node, vmid()?)
            }
            (Method::Post, "/nodes/{node}/qemu/{vmid}/status/shutdown") => {
                self.shutdown(node, vmid()?, req.get_param("forceStop") == Some("1"))
            }
            (Method::Post, "/nodes/{node}/qemu/{vmid}/status/stop") => {
                let id = vmid()?;
                let vm = self.vm_mut(node, id)?;
                if !vm.running {
                    return Err(format!("VM {id} not running"));
                }
                vm.running = false;
                Ok(json!(self.new_vm_task(
                    node,
                    "qmstop",
                    &id.to_string(),
                    "OK",
                    Vec::new()
                )))
            }
            (Method::Get, "/nodes/{node}/qemu/{vmid}/status/current") => {
                let id = vmid()?;
                let vm = self.vm(node, id)?;
                Ok(status_json(id, vm))
            }
            (Method::Post, "/nodes/{node}/qemu/{vmid}/agent/ping") => self.ping(node, vmid()?),
            (Method::Post, "/nodes/{node}/qemu/{vmid}/agent/file-write") => {
                self.agent_file_write(node, vmid()?, req)
            }
            (Method::Post, "/nodes/{node}/qemu/{vmid}/agent/exec") => {
                self.agent_exec(node, vmid()?, req)
            }
            (Method::Get, "/nodes/{node}/qemu/{vmid}/agent/exec-status") => {
                self.agent_exec_status(node, vmid()?, req)
            }
            (Method::Get, "/nodes/{node}/storage/{storage}/content") => {
                self.content(local, node, var("storage"), req.get_param("content"))
            }
            (method, template) => Err(format!("{method} {template} is not simulated")),
        }
    }

    fn vm(&self, node: &str, vmid: u32) -> Result<&Vm, String> {
        self.machine(node)?
            .vms
            .get(&vmid)
            .ok_or_else(|| no_such_vm(node, vmid))
    }

    fn vm_mut(&mut self, node: &str, vmid: u32) -> Result<&mut Vm, String> {
        self.machines
            .get_mut(node)
            .and_then(|m| m.vms.get_mut(&vmid))
            .ok_or_else(|| no_such_vm(node, vmid))
    }

    fn machine_mut(&mut self, node: &str) -> Result<&mut Machine, String> {
        self.machines
            .get_mut(node)
            .ok_or_else(|| format!("no such machine '{node}' in the simulator"))
    }

    fn unlocked(&self, node: &str, vmid: u32) -> Result<&Vm, String> {
        let vm = self.vm(node, vmid)?;
        match &vm.lock {
            Some(l) => Err(format!("VM is locked ({l})")),
            None => Ok(vm),
        }
    }

    /// Every VM id in `local`'s cluster (or on the standalone machine),
    /// with the node it is on.
    pub(super) fn cluster_vmids(&self, local: &str) -> Result<BTreeMap<u32, String>, String> {
        let mut out = BTreeMap::new();
        for n in self.members(local)? {
            for id in self.machine(&n)?.vms.keys() {
                out.insert(*id, n.clone());
            }
        }
        Ok(out)
    }

    /// The `name` of VM `vmid` on `node`, if it has one.
    pub(super) fn vm_name(&self, node: &str, vmid: u32) -> Option<String> {
        self.machines
            .get(node)?
            .vms
            .get(&vmid)?
            .config
            .get("name")
            .cloned()
    }

    fn vmid_free(&self, local: &str, vmid: u32) -> Result<(), String> {
        match self.cluster_vmids(local)?.get(&vmid) {
            Some(on) => Err(format!(
                "unable to create VM {vmid} - VM {vmid} already exists on node '{on}'"
            )),
            None => Ok(()),
        }
    }

    /// A lock held for the duration of a task, when tasks take time.
    fn task_lock(&self, node: &str, vmid: u32) -> Vec<(String, u32)> {
        if self.task_polls > 0 {
            vec![(node.to_string(), vmid)]
        } else {
            Vec::new()
        }
    }

    fn next_id(&self, local: &str, req: &Request) -> Result<Value, String> {
        let used = self.cluster_vmids(local)?;
        if let Some(want) = req.get_param("vmid") {
            let id: u32 = want.parse().map_err(|_| format!("bad VM id '{want}'"))?;
            if used.contains_key(&id) {
                return Err(format!("VM {id} already exists"));
            }
            return Ok(json!(id.to_string()));
        }
        let free = (100u32..).find(|id| !used.contains_key(id)).unwrap_or(100);
        // Proxmox answers this integer as a string.
        Ok(json!(free.to_string()))
    }

    fn resources(&self, local: &str, req: &Request) -> Result<Value, String> {
        if req.get_param("type") != Some("vm") {
            return Err("the simulator answers /cluster/resources for type=vm only".into());
        }
        let mut out = Vec::new();
        for n in self.members(local)? {
            let m = self.machine(&n)?;
            for (id, vm) in &m.vms {
                let mut v = json!({
                    "id": format!("qemu/{id}"), "type": "qemu", "vmid": id, "node": n,
                    "status": if !m.online { "unknown" } else if vm.running { "running" } else { "stopped" },
                    "template": u8::from(vm.is_template()),
                });
                if let Some(name) = vm.config.get("name") {
                    v["name"] = json!(name);
                }
                if let Some(l) = &vm.lock {
                    v["lock"] = json!(l);
                }
                out.push(v);
            }
        }
        Ok(Value::Array(out))
    }

    fn list_vms(&self, node: &str) -> Result<Value, String> {
        let m = self.machine(node)?;
        Ok(Value::Array(
            m.vms
                .iter()
                .map(|(id, vm)| {
                    let mut v = json!({
                        "vmid": id,
                        "status": if vm.running { "running" } else { "stopped" },
                        "cpus": vm.config.get("cores").and_then(|c| c.parse::<u64>().ok()).unwrap_or(1),
                        "maxmem": memory_bytes(&vm.config),
                        "uptime": if vm.running { 60 } else { 0 },
                    });
                    for key in ["name", "tags"] {
                        if let Some(x) = vm.config.get(key) {
                            v[key] = json!(x);
                        }
                    }
                    if vm.is_template() {
                        v["template"] = json!(1);
                    }
                    if let Some(l) = &vm.lock {
                        v["lock"] = json!(l);
                    }
                    v
                })
                .collect(),
        ))
    }

    /// A `net[n]` value with its bridge checked and a MAC filled in
    /// (kept from `old` when the model is unchanged).
    fn net_value(
        &mut self,
        node: &str,
        vmid: u32,
        key: &str,
        value: &str,
        old: Option<&str>,
    ) -> Result<String, String> {
        let bridge = value
            .split(',')
            .find_map(|p| p.strip_prefix("bridge="))
            .unwrap_or_default();
        if !self.machine(node)?.bridges.iter().any(|b| b == bridge) {
            return Err(format!(
                "simulator (stricter than Proxmox, which fails only at start): {key}: bridge '{bridge}' does not exist on node '{node}'"
            ));
        }
        let mut parts: Vec<String> = value.split(',').map(str::to_string).collect();
        let model_with_mac = parts[0].contains('=') && !parts[0].starts_with("model=");
        let has_mac = model_with_mac || parts.iter().any(|p| p.starts_with("macaddr="));
        if !has_mac {
            let model = parts[0]
                .strip_prefix("model=")
                .unwrap_or(&parts[0])
                .to_string();
            let old_mac = old.and_then(|o| {
                let first = o.split(',').next()?;
                let (m, mac) = first.split_once('=')?;
                (m == model).then(|| mac.to_string())
            });
            self.clock += 1;
            let mac = old_mac.unwrap_or_else(|| make_mac(vmid, key, self.clock));
            parts[0] = format!("{model}={mac}");
        }
        Ok(parts.join(","))
    }
}

fn memory_bytes(config: &BTreeMap<String, String>) -> u64 {
    let mib = config
        .get("memory")
        .map(|m| m.trim_start_matches("current="))
        .and_then(|m| m.parse::<u64>().ok())
        .unwrap_or(512);
    mib * MIB
}

fn status_json(vmid: u32, vm: &Vm) -> Value {
    let mut v = json!({
        "vmid": vmid,
        "status": if vm.running { "running" } else { "stopped" },
        "qmpstatus": if vm.running { "running" } else { "stopped" },
        "agent": u8::from(crate::client::agent_enabled(vm.config.get("agent").map(String::as_str))),
        "cpus": vm.config.get("cores").and_then(|c| c.parse::<u64>().ok()).unwrap_or(1),
        "maxmem": memory_bytes(&vm.config),
        "uptime": if vm.running { 60 } else { 0 },
        "ha": {"managed": 0},
    });
    if let Some(n) = vm.config.get("name") {
        v["name"] = json!(n);
    }
    if let Some(l) = &vm.lock {
        v["lock"] = json!(l);
    }
    if vm.is_template() {
        v["template"] = json!(1);
    }
    v
}

/// A stable digest of a configuration (40 hex digits, like Proxmox's
/// SHA-1), changing whenever the configuration does.
fn config_digest(config: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(40);
    for round in 0u8..5 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(round);
        for (k, v) in config {
            for b in k.bytes().chain([0]).chain(v.bytes()).chain([1]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        out.push_str(&format!("{:08x}", h as u32));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(32 * GIB), "32G");
        assert_eq!(human_size(2252 * MIB), "2252M");
        assert_eq!(parse_size("+2G"), Some((true, 2 * GIB)));
        assert_eq!(parse_size("1.5T"), Some((false, 1536 * GIB)));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn drive_values() {
        let (f, rest) = split_drive("tank1:0,import-from=/a.img,discard=on");
        assert_eq!(f, "tank1:0");
        assert_eq!(rest[0], ("import-from".to_string(), "/a.img".to_string()));
        assert!(matches!(
            alloc_of(&f, &rest),
            Alloc::New {
                import: Some(_),
                ..
            }
        ));
        assert!(matches!(
            alloc_of("tank1:cloudinit", &[]),
            Alloc::CloudInit { .. }
        ));
        assert!(matches!(alloc_of("tank1:vm-100-disk-0", &[]), Alloc::Keep));
        assert!(is_disk_key("scsi0") && is_disk_key("ide2") && is_disk_key("efidisk0"));
        assert!(!is_disk_key("net0") && !is_disk_key("scsihw"));
    }

    #[test]
    fn digests_change_with_the_config() {
        let mut c = BTreeMap::from([("cores".to_string(), "2".to_string())]);
        let a = config_digest(&c);
        assert_eq!(a.len(), 40);
        c.insert("cores".into(), "4".into());
        assert_ne!(a, config_digest(&c));
    }
}

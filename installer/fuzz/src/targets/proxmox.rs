//! Proxmox's answers: every call of the typed client (`Proxmox`) over the
//! `pvesh` transport, with what `pvesh` prints replaced: the real answer's
//! JSON with values swapped for odd ones (wrong types, extreme numbers,
//! missing or extra fields, lists for objects), the JSON text garbled,
//! task output before it, arbitrary bytes, or a failed command. Accepted
//! answers then go through the accessors callers use (property strings,
//! ssh keys, fingerprints).

use std::io;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tappaas_proxmox::client::{
    CloneVm, ConfigUpdate, Content, CreateCluster, CreateVm, DiskResize, DiskSlot, Fingerprint,
    GuestCommand, GuestPath, JoinCluster, Link, NodeName, Password, StorageId, VmId, VmName,
    VmSettings, ZfsPoolStorage,
};
use tappaas_proxmox::{ApiError, CommandOutput, CommandRunner, Invocation, Proxmox, PveshApi};

use super::Bytes;
use crate::mutate::{mutate_some, token_soup, ODD_NUMBERS};
use crate::rng::Rng;
use crate::target::{Outcome, Target};

/// Every call the typed client makes.
pub const CALLS: &[&str] = &[
    "version",
    "cluster_status",
    "join_info",
    "cluster_config_nodes",
    "create_cluster",
    "join_cluster",
    "storages",
    "storage",
    "add_zfspool_storage",
    "set_storage_nodes",
    "nodes",
    "node_status",
    "node_storages",
    "zfs_pools",
    "task_status",
    "next_vmid",
    "node_vms",
    "cluster_vms",
    "create_vm",
    "vm_config",
    "set_vm_config",
    "clone_vm",
    "convert_to_template",
    "resize_disk",
    "start_vm",
    "shutdown_vm",
    "stop_vm",
    "vm_status",
    "agent_ping",
    "destroy_vm",
    "storage_content",
    "set_storage_content",
    "agent_file_write",
    "agent_exec",
    "agent_exec_status",
];

const UPID: &str = "UPID:tappaas1:00001A2B:0003C4D5:6571A2B3:qmstart:100:root@pam:";
const FP: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

/// What Proxmox VE 9 answers to each call (shapes as `pvesh get ...
/// --output-format json` prints them: Perl's 0/1 for booleans, some
/// numbers as strings).
pub fn seed_answer(call: &str) -> Value {
    match call {
        "version" => json!({"version": "9.1.3", "release": "9.1", "repoid": "8e9a2b4c"}),
        "cluster_status" => json!([
            {"type": "cluster", "id": "cluster", "name": "tappaas", "nodes": 2, "quorate": 1, "version": 3},
            {"type": "node", "id": "node/tappaas1", "name": "tappaas1", "nodeid": 1, "ip": "10.0.0.10", "online": 1, "local": 1, "level": ""},
            {"type": "node", "id": "node/tappaas2", "name": "tappaas2", "nodeid": 2, "ip": "10.0.0.11", "online": 0, "local": 0}
        ]),
        "join_info" => json!({
            "preferred_node": "tappaas1", "config_digest": "5b0c6a1e",
            "nodelist": [{"name": "tappaas1", "nodeid": "1", "pve_addr": "10.0.0.10", "pve_fp": FP, "quorum_votes": "1", "ring0_addr": "10.0.0.10"}],
            "totem": {"cluster_name": "tappaas", "config_version": "3", "ip_version": "ipv4-6"}
        }),
        "cluster_config_nodes" => {
            json!([{"node": "tappaas1", "nodeid": 1, "quorum_votes": 1, "ring0_addr": "10.0.0.10"}])
        }
        "create_cluster"
        | "join_cluster"
        | "create_vm"
        | "clone_vm"
        | "convert_to_template"
        | "resize_disk"
        | "start_vm"
        | "shutdown_vm"
        | "stop_vm"
        | "destroy_vm" => json!(UPID),
        "storages" => json!([
            {"storage": "local", "type": "dir", "content": "iso,vztmpl,backup,snippets", "path": "/var/lib/vz", "digest": "d1"},
            {"storage": "tank1", "type": "zfspool", "pool": "tank1", "content": "images,rootdir", "nodes": "tappaas1,tappaas2", "sparse": 1, "digest": "d1"}
        ]),
        "storage" => {
            json!({"storage": "tank1", "type": "zfspool", "pool": "tank1", "content": "images,rootdir", "nodes": "tappaas1", "sparse": 1, "disable": 0, "digest": "d1"})
        }
        "add_zfspool_storage" => json!({"storage": "tank1", "type": "zfspool"}),
        "set_storage_nodes" | "set_vm_config" | "set_storage_content" => Value::Null,
        // The write goes through `qm guest exec --pass-stdin` (the content
        // is a secret: stdin, never argv), which prints the exec status.
        "agent_file_write" => json!({"exited": 1, "exitcode": 0}),
        "nodes" => {
            json!([{"node": "tappaas1", "status": "online", "ssl_fingerprint": FP, "cpu": 0.012, "maxcpu": 8, "mem": 2147483648u64, "maxmem": 68719476736u64, "uptime": 3600, "level": "", "id": "node/tappaas1", "type": "node"}])
        }
        "node_status" => {
            json!({"pveversion": "pve-manager/9.1.3/8e9a2b4c", "kversion": "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC", "uptime": 3600, "cpu": 0.01, "memory": {"total": 68719476736u64, "used": 2147483648u64, "free": 66571993088u64}, "loadavg": ["0.01", "0.02", "0.00"]})
        }
        "node_storages" => {
            json!([{"storage": "tank1", "type": "zfspool", "content": "images,rootdir", "active": 1, "enabled": 1, "shared": 0, "total": 1967128576000u64, "avail": 1967000000000u64, "used": 128576000, "used_fraction": 0.0001}])
        }
        "zfs_pools" => {
            json!([{"name": "tank1", "size": 1992864825344u64, "alloc": 1335296, "free": 1992863490048u64, "frag": 0, "dedup": 1.0, "health": "ONLINE"}])
        }
        "task_status" => {
            json!({"status": "stopped", "exitstatus": "OK", "upid": UPID, "node": "tappaas1", "pid": 6699, "pstart": 246997, "starttime": 1701945011, "type": "qmstart", "id": "100", "user": "root@pam"})
        }
        "next_vmid" => json!("100"),
        "node_vms" => json!([
            {"vmid": 100, "name": "firewall", "status": "running", "template": 0, "tags": "tappaas;firewall", "cpus": 2, "maxmem": 4294967296u64, "uptime": 60},
            {"vmid": 9000, "name": "debian-template", "status": "stopped", "template": 1, "lock": "create"}
        ]),
        "cluster_vms" => json!([
            {"id": "qemu/100", "type": "qemu", "vmid": 100, "node": "tappaas1", "name": "firewall", "status": "running", "template": 0},
            {"id": "lxc/200", "type": "lxc", "vmid": 200, "node": "tappaas1", "name": "ct", "status": "stopped"}
        ]),
        "vm_config" => json!({
            "name": "firewall", "cores": 2, "memory": "4096", "ostype": "other", "bios": "ovmf",
            "net0": "virtio=02:AA:00:00:00:01,bridge=lan,firewall=1", "net1": "virtio,bridge=wan,tag=20",
            "scsi0": "tank1:vm-100-disk-0,discard=on,iothread=1,size=32G", "ide2": "tank1:vm-100-cloudinit,media=cdrom",
            "agent": "enabled=1", "serial0": "socket", "boot": "order=scsi0",
            "sshkeys": "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIB%2Bx%2Fy%3D%20admin%40tappaas",
            "template": 0, "digest": "0a1b2c3d4e5f"
        }),
        "vm_status" => {
            json!({"vmid": 100, "status": "running", "qmpstatus": "running", "name": "firewall", "agent": 1, "uptime": 120, "cpus": 2, "pid": 4321})
        }
        "agent_ping" => json!({"result": {}}),
        "storage_content" => json!([
            {"volid": "local:iso/debian.iso", "format": "iso", "size": 662700032, "content": "iso", "ctime": 1701945011},
            {"volid": "tank1:vm-100-disk-0", "format": "raw", "size": 34359738368u64, "content": "images", "vmid": 100}
        ]),
        "agent_exec" => json!({"pid": 1234}),
        "agent_exec_status" => {
            json!({"exited": 1, "exitcode": 0, "out-data": "ok\n", "err-data": "", "out-truncated": 0})
        }
        _ => Value::Null,
    }
}

/// One case: a call and what pvesh printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxmoxCase {
    pub call: String,
    /// Exit status; `None`: killed by a signal.
    pub status: Option<i32>,
    pub stdout: Bytes,
    #[serde(default = "no_bytes")]
    pub stderr: Bytes,
}

fn no_bytes() -> Bytes {
    Bytes::Text(String::new())
}

/// Plays pvesh: whatever the command, this output.
struct Printed(CommandOutput);

impl CommandRunner for Printed {
    fn run(&mut self, _call: &Invocation<'_>) -> io::Result<CommandOutput> {
        Ok(self.0.clone())
    }
}

fn node() -> NodeName {
    NodeName::new("tappaas1").unwrap_or_else(|e| panic!("{e}"))
}

fn vmid() -> VmId {
    VmId::new(100).unwrap_or_else(|e| panic!("{e}"))
}

fn storage() -> StorageId {
    StorageId::new("tank1").unwrap_or_else(|e| panic!("{e}"))
}

fn ok<T, E>(r: Result<T, E>) -> T
where
    E: std::fmt::Display,
{
    // The call's typed arguments are fixed and valid.
    r.unwrap_or_else(|e| panic!("a fixed argument was refused: {e}"))
}

/// Make `call` with `px`; what callers do with the answer, too.
fn invoke(px: &mut Proxmox<PveshApi<Printed>>, call: &str) -> Result<(), ApiError> {
    let (n, id, st) = (node(), vmid(), storage());
    match call {
        "version" => {
            let _ = px.version()?;
        }
        "cluster_status" => {
            let s = px.cluster_status()?;
            let _ = (s.is_clustered(), s.local_node());
        }
        "join_info" => {
            let j = px.join_info(Some(&n))?;
            if let Some(fp) = j.preferred_fingerprint() {
                let _ = Fingerprint::parse(fp);
            }
        }
        "cluster_config_nodes" => {
            let _ = px.cluster_config_nodes()?;
        }
        "create_cluster" => {
            let c = CreateCluster {
                name: ok(tappaas_proxmox::client::ClusterName::new("tappaas")),
                link0: Link::new(ok("10.0.0.10".parse())),
            };
            let _ = px.create_cluster(&c)?;
        }
        "join_cluster" => {
            let j = ok(JoinCluster::new(
                "10.0.0.10",
                ok(Fingerprint::parse(FP)),
                Password::new("secret"),
                Link::new(ok("10.0.0.11".parse())),
            ));
            let _ = px.join_cluster(&j)?;
        }
        "storages" => {
            for s in px.storages()? {
                let _ = s.available_on("tappaas1");
            }
        }
        "storage" => {
            let _ = px.storage(&st)?.available_on("tappaas1");
        }
        "add_zfspool_storage" => {
            let pool = ok(tappaas_proxmox::client::PoolName::new("tank1"));
            let s = ok(ZfsPoolStorage::new(st, pool, vec![n]));
            px.add_zfspool_storage(&s)?;
        }
        "set_storage_nodes" => px.set_storage_nodes(&st, &[n])?,
        "nodes" => {
            let _ = px.nodes()?;
        }
        "node_status" => {
            let _ = px.node_status(&n)?;
        }
        "node_storages" => {
            let _ = px.node_storages(&n)?;
        }
        "zfs_pools" => {
            let _ = px.zfs_pools(&n)?;
        }
        "task_status" => {
            let _ = px.task_status(&n, UPID)?.succeeded();
        }
        "next_vmid" => {
            let _ = px.next_vmid(Some(id))?;
        }
        "node_vms" => {
            let _ = px.node_vms(&n)?;
        }
        "cluster_vms" => {
            let _ = px.cluster_vms()?;
        }
        "create_vm" => {
            let settings = VmSettings::new().name(&ok(VmName::new("firewall")));
            let _ = px.create_vm(&n, &CreateVm::new(id, settings))?;
        }
        "vm_config" => {
            let c = px.vm_config(&n, id)?;
            let _ = (
                c.is_template(),
                c.agent_enabled(),
                c.disk_volume(DiskSlot::scsi0()),
            );
            for i in 0..4 {
                let _ = c.net(i);
            }
            let _ = c.sshkeys();
        }
        "set_vm_config" => {
            let u = ConfigUpdate::set(VmSettings::new().cores(2));
            px.set_vm_config(&n, id, &u)?;
        }
        "clone_vm" => {
            let c = CloneVm::new(ok(VmId::new(101)), ok(VmName::new("clone")));
            let _ = px.clone_vm(&n, id, &c)?;
        }
        "convert_to_template" => {
            let _ = px.convert_to_template(&n, id)?;
        }
        "resize_disk" => {
            let _ = px.resize_disk(&n, id, DiskSlot::scsi0(), DiskResize::To { gib: 32 })?;
        }
        "start_vm" => {
            let _ = px.start_vm(&n, id)?;
        }
        "shutdown_vm" => {
            let _ = px.shutdown_vm(&n, id, Some(60), true)?;
        }
        "stop_vm" => {
            let _ = px.stop_vm(&n, id)?;
        }
        "vm_status" => {
            let _ = px.vm_status(&n, id)?;
        }
        "agent_ping" => px.agent_ping(&n, id)?,
        "destroy_vm" => {
            let _ = px.destroy_vm(&n, id, true)?;
        }
        "storage_content" => {
            let _ = px.storage_content(&n, &st, Some(Content::Iso))?;
        }
        "set_storage_content" => px.set_storage_content(&st, &[Content::Images])?,
        "agent_file_write" => {
            px.agent_file_write(&n, id, &ok(GuestPath::new("/etc/x")), b"data")?;
        }
        "agent_exec" => {
            let command = ok(GuestCommand::new(vec!["/bin/true".into()]));
            let _ = px.agent_exec(&n, id, &command)?;
        }
        "agent_exec_status" => {
            let s = px.agent_exec_status(&n, id, 1234)?;
            let _ = (s.succeeded(), s.ending());
        }
        other => panic!("the proxmox target has no call '{other}'"),
    }
    Ok(())
}

/// An odd JSON value: another type, an extreme number, an odd string.
fn odd_value(rng: &mut Rng, keys: &[String]) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(rng.chance(1, 2)),
        2 => {
            let n = rng.pick(ODD_NUMBERS);
            serde_json::from_str(n).unwrap_or_else(|_| json!(n))
        }
        3 => json!(rng.pick(ODD_NUMBERS)),
        4 => json!(rng.pick(&[
            "", "1", "0", "running", "stopped", "qemu", "cluster", "node", "OK", "UPID:", "ONLINE",
            "virtio", "bridge=", ",,,", "=", "%", "%zz", "%ff", "ü", "\u{0}", "a,b;c", "enabled=",
        ])),
        5 => json!("x".repeat(rng.between(200, 5000))),
        6 => json!([]),
        7 => json!({}),
        8 => json!([odd_leaf(rng)]),
        9 => {
            let key = rng.pick(keys).clone();
            json!({ key: odd_leaf(rng) })
        }
        10 => json!(u64::MAX),
        11 => json!(i64::MIN),
        12 => json!(-0.5),
        _ => json!(1e300),
    }
}

fn odd_leaf(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!("1"),
        _ => json!(1.5),
    }
}

/// The JSON pointers of every value in `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One structural change to `v`.
fn mutate_value(rng: &mut Rng, v: &mut Value, keys: &[String]) {
    let mut all = Vec::new();
    pointers(v, String::new(), &mut all);
    let at = rng.pick(&all).clone();
    let Some(target) = v.pointer_mut(&at) else {
        return;
    };
    match rng.below(6) {
        0 | 1 => *target = odd_value(rng, keys),
        2 => match target {
            // A field gone.
            Value::Object(map) if !map.is_empty() => {
                let key = map
                    .keys()
                    .nth(rng.below(map.len()))
                    .cloned()
                    .unwrap_or_default();
                map.remove(&key);
            }
            Value::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                items.remove(i);
            }
            other => *other = Value::Null,
        },
        3 => match target {
            // A field added, or an entry repeated.
            Value::Object(map) => {
                map.insert(rng.pick(keys).clone(), odd_value(rng, keys));
            }
            Value::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                let copy = items[i].clone();
                items.push(copy);
            }
            other => *other = json!([other.clone()]),
        },
        // The whole answer nested one level deeper.
        4 => *target = json!([target.clone()]),
        _ => {
            if let Value::Array(items) = target {
                if let Some(first) = items.first().cloned() {
                    *target = first;
                }
            } else {
                *target = odd_value(rng, keys);
            }
        }
    }
}

/// Every key of every seed answer: the fields the client looks for.
fn all_keys() -> Vec<String> {
    let mut keys = Vec::new();
    fn collect(v: &Value, keys: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    keys.push(k.clone());
                    collect(item, keys);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| collect(i, keys)),
            _ => {}
        }
    }
    for call in CALLS {
        collect(&seed_answer(call), &mut keys);
    }
    keys.sort();
    keys.dedup();
    keys
}

pub struct ProxmoxTarget {
    keys: Vec<String>,
}

impl ProxmoxTarget {
    pub fn new() -> ProxmoxTarget {
        ProxmoxTarget { keys: all_keys() }
    }

    /// The unchanged answer to `call`, as a case.
    pub fn seed_case(call: &str) -> ProxmoxCase {
        ProxmoxCase {
            call: call.to_string(),
            status: Some(0),
            stdout: Bytes::new(seed_answer(call).to_string().into_bytes()),
            stderr: no_bytes(),
        }
    }
}

impl Default for ProxmoxTarget {
    fn default() -> Self {
        Self::new()
    }
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "-",
    ".",
    "e",
    "E",
    "\\u0000",
    "\\ud800",
    "\\",
    "\n",
    "UPID:",
    "{\"data\":",
    "]]]]",
    "[[[[",
];

impl Target for ProxmoxTarget {
    fn name(&self) -> &'static str {
        "proxmox"
    }

    fn extension(&self) -> &'static str {
        "json"
    }

    fn generate(&mut self, rng: &mut Rng) -> Vec<u8> {
        let call = *rng.pick(CALLS);
        let mut value = seed_answer(call);
        let mut status = Some(0);
        let mut stderr = Vec::new();
        let tokens: Vec<&[u8]> = JSON_TOKENS.iter().map(|t| t.as_bytes()).collect();
        let stdout = match rng.below(20) {
            0 => {
                let n = rng.below(200);
                rng.bytes(n)
            }
            1 => token_soup(rng, &tokens, 40),
            2 | 3 => {
                let mut text = value.to_string().into_bytes();
                mutate_some(rng, &mut text, &tokens, 4);
                text
            }
            4 => {
                // Task output before the answer, as when pvesh waits.
                let mut text = b"trying to acquire lock...\n OK\n".to_vec();
                if rng.chance(1, 2) {
                    mutate_value(rng, &mut value, &self.keys);
                }
                text.extend_from_slice(value.to_string().as_bytes());
                text
            }
            5 => {
                // A refusal: non-zero exit (or a signal), message on stderr.
                status = *rng.pick(&[None, Some(1), Some(-1), Some(255), Some(i32::MIN)]);
                stderr = token_soup(rng, &tokens, 20);
                value.to_string().into_bytes()
            }
            _ => {
                for _ in 0..rng.between(1, 4) {
                    mutate_value(rng, &mut value, &self.keys);
                }
                if rng.chance(1, 3) {
                    serde_json::to_vec_pretty(&value).unwrap_or_default()
                } else {
                    value.to_string().into_bytes()
                }
            }
        };
        let case = ProxmoxCase {
            call: call.to_string(),
            status,
            stdout: Bytes::new(stdout),
            stderr: Bytes::new(stderr),
        };
        serde_json::to_vec(&case).unwrap_or_default()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let Ok(case) = serde_json::from_slice::<ProxmoxCase>(input) else {
            return Outcome::Refused;
        };
        if !CALLS.contains(&case.call.as_str()) {
            return Outcome::Refused;
        }
        let printed = Printed(CommandOutput {
            status: case.status,
            stdout: case.stdout.as_slice().to_vec(),
            stderr: case.stderr.as_slice().to_vec(),
        });
        let mut px = Proxmox::without_validation(PveshApi::new(printed));
        match invoke(&mut px, &case.call) {
            Ok(()) => Outcome::Accepted,
            Err(e) => {
                // Errors are shown to the user: they must render.
                let _ = (e.to_string(), e.refusal().map(str::len));
                Outcome::Refused
            }
        }
    }
}

//! The simulated guest agent's files and commands: `file-write` keeps the
//! file in the VM's state, `exec` runs nothing but records the command and
//! hands out a pid, `exec-status` reports it ended the way the test asked
//! ([`Simulator::queue_exec`] for the next command,
//! [`Simulator::guest_program`] for every run of one program), by default
//! at once with exit code 0.
//!
//! Each answers only when an agent ping would (a running VM with the agent
//! enabled, its guest up), without counting as a ping. The guest's own
//! file system is not modelled: a write into a directory that does not
//! exist succeeds here.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Value};

use super::{lock, GuestBoot, Simulator, State, Vm};
use crate::request::Request;

/// How a command run through a simulated guest agent ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimExec {
    /// 0 unless set.
    pub exitcode: u64,
    pub out_data: String,
    pub err_data: String,
    /// Status reads that report it still running before it has exited.
    pub running_polls: u32,
}

impl SimExec {
    /// Ends at once with `exitcode` and `stderr`.
    pub fn exit(exitcode: u64, stderr: &str) -> SimExec {
        SimExec {
            exitcode,
            err_data: stderr.to_string(),
            ..SimExec::default()
        }
    }
}

/// What the guest agent did in one VM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Guest {
    /// Files written: path -> content.
    files: BTreeMap<String, Vec<u8>>,
    /// Every command started, in order.
    commands: Vec<Vec<String>>,
    /// Started commands whose exit has not been read yet, by pid.
    live: BTreeMap<u64, SimExec>,
    /// Pids count up from 1000, per guest.
    last_pid: u64,
}

impl Simulator {
    /// The next command started through the guest agent of VM `vmid` (the
    /// VM need not exist yet) ends like `exec`; queue several for several
    /// commands. Without one, a command exits 0 at once with no output.
    pub fn queue_exec(&self, vmid: u32, exec: SimExec) {
        lock(&self.shared.state)
            .exec_outcomes
            .entry(vmid)
            .or_default()
            .push_back(exec);
    }

    /// Every command of `program` (its first word) started through VM
    /// `vmid`'s guest agent, when none is queued, ends like `exec`: what
    /// the guest's installed software answers.
    pub fn guest_program(&self, vmid: u32, program: &str, exec: SimExec) {
        lock(&self.shared.state)
            .guest_programs
            .insert((vmid, program.to_string()), exec);
    }

    /// A file written into VM `vmid`'s guest through its agent.
    pub fn guest_file(&self, node: &str, vmid: u32, path: &str) -> Option<Vec<u8>> {
        lock(&self.shared.state)
            .machines
            .get(node)?
            .vms
            .get(&vmid)?
            .guest
            .files
            .get(path)
            .cloned()
    }

    /// Every command started through VM `vmid`'s guest agent, in order.
    pub fn guest_commands(&self, node: &str, vmid: u32) -> Vec<Vec<String>> {
        lock(&self.shared.state)
            .machines
            .get(node)
            .and_then(|m| m.vms.get(&vmid))
            .map(|vm| vm.guest.commands.clone())
            .unwrap_or_default()
    }
}

impl State {
    /// The VM, when its guest agent would answer a ping now. `ping`: this
    /// is a ping, which counts towards an agent that starts after some.
    pub(super) fn agent_guest(
        &mut self,
        node: &str,
        vmid: u32,
        ping: bool,
    ) -> Result<&mut Vm, String> {
        let boot = self.guests.get(&vmid).copied();
        let vm = self.vm_mut(node, vmid)?;
        if !vm.running {
            return Err(format!("VM {vmid} is not running"));
        }
        if !crate::client::agent_enabled(vm.config.get("agent").map(String::as_str)) {
            return Err("No QEMU guest agent configured".into());
        }
        if ping {
            vm.pings += 1;
        }
        let up = match boot {
            None => true,
            Some(GuestBoot::AfterPings(n)) => vm.pings > n,
            Some(GuestBoot::Never) => false,
        };
        if !up {
            return Err("QEMU guest agent is not running".into());
        }
        Ok(vm)
    }

    pub(super) fn agent_file_write(
        &mut self,
        node: &str,
        vmid: u32,
        req: &Request,
    ) -> Result<Value, String> {
        let file = req.get_param("file").unwrap_or_default().to_string();
        let content = req.get_param("content").unwrap_or_default();
        // `encode` defaults to 1: Proxmox encodes the text for QEMU. With
        // 0 the caller did, and QEMU decodes it.
        let bytes = if req.get_param("encode") == Some("0") {
            base64::engine::general_purpose::STANDARD
                .decode(content)
                .map_err(|_| {
                    format!("VM {vmid} qmp command 'guest-file-write' failed - Invalid base64 data")
                })?
        } else {
            content.as_bytes().to_vec()
        };
        let vm = self.agent_guest(node, vmid, false)?;
        vm.guest.files.insert(file, bytes);
        Ok(Value::Null)
    }

    pub(super) fn agent_exec(
        &mut self,
        node: &str,
        vmid: u32,
        req: &Request,
    ) -> Result<Value, String> {
        let command: Vec<String> = req
            .get_list("command")
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string)
            .collect();
        let program = command.first().cloned().unwrap_or_default();
        let outcome = self
            .exec_outcomes
            .get_mut(&vmid)
            .and_then(|q| q.pop_front())
            .or_else(|| self.guest_programs.get(&(vmid, program)).cloned())
            .unwrap_or_default();
        let vm = self.agent_guest(node, vmid, false)?;
        let pid = 1000.max(vm.guest.last_pid + 1);
        vm.guest.last_pid = pid;
        vm.guest.commands.push(command);
        vm.guest.live.insert(pid, outcome);
        Ok(json!({ "pid": pid }))
    }

    pub(super) fn agent_exec_status(
        &mut self,
        node: &str,
        vmid: u32,
        req: &Request,
    ) -> Result<Value, String> {
        let pid: u64 = req
            .get_param("pid")
            .and_then(|p| p.parse().ok())
            .unwrap_or_default();
        let vm = self.agent_guest(node, vmid, false)?;
        let invalid = || {
            format!("VM {vmid} qmp command 'guest-exec-status' failed - Invalid parameter 'pid'")
        };
        let exec = vm.guest.live.get_mut(&pid).ok_or_else(invalid)?;
        if exec.running_polls > 0 {
            exec.running_polls -= 1;
            return Ok(json!({ "exited": false }));
        }
        // QEMU forgets a command once its exit has been read.
        let exec = vm.guest.live.remove(&pid).ok_or_else(invalid)?;
        let mut v = json!({ "exited": true, "exitcode": exec.exitcode });
        if !exec.out_data.is_empty() {
            v["out-data"] = json!(exec.out_data);
        }
        if !exec.err_data.is_empty() {
            v["err-data"] = json!(exec.err_data);
        }
        Ok(v)
    }
}

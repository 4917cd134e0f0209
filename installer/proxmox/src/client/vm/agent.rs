//! The QEMU guest agent calls beyond `ping`: write a file into a running
//! guest, run a command in it, and read how the command ended. First boot
//! uses them to hand a deployed service (PostgreSQL) what a service added
//! later needs from it, see docs/services.md.
//!
//! The guest agent runs the command itself (no shell) and keeps its
//! output until the status is read once after it exited.

use std::fmt;

use base64::Engine as _;

use super::{qemu, VmId};
use crate::client::{input, Api, ApiError, NodeName, Obj, Proxmox};
use crate::request::Request;

/// The most `content` that `agent/file-write` takes (schema `maxLength`).
pub const AGENT_WRITE_MAX: usize = 61440;

/// The most bytes one `agent/file-write` can carry: the content travels
/// base64-encoded (4 characters per 3 bytes) within [`AGENT_WRITE_MAX`].
pub const AGENT_WRITE_MAX_BYTES: usize = AGENT_WRITE_MAX / 4 * 3;

fn is_guest_path(s: &str) -> bool {
    s.starts_with('/') && s.len() <= 4096 && !s.chars().any(char::is_control)
}

checked_name!(
    /// An absolute file path inside a guest (`/etc/tappaas/secrets/x`).
    GuestPath,
    "guest file path",
    is_guest_path,
    "an absolute path without control characters"
);

/// A command for the guest agent: the program and its arguments, each one
/// string, run without a shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestCommand(Vec<String>);

impl GuestCommand {
    /// At least the program; no argument may hold a NUL byte (the guest
    /// agent passes C strings).
    pub fn new(args: Vec<String>) -> Result<GuestCommand, ApiError> {
        match args.first() {
            None => return Err(input("guest command", "", "name at least the program")),
            Some(p) if p.is_empty() => {
                return Err(input("guest command", "", "the program name is empty"))
            }
            Some(_) => {}
        }
        if let Some(bad) = args.iter().find(|a| a.contains('\0')) {
            return Err(input(
                "guest command argument",
                &bad.replace('\0', "\\0"),
                "an argument cannot hold a NUL byte",
            ));
        }
        Ok(GuestCommand(args))
    }

    pub fn args(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for GuestCommand {
    /// The command as a shell would read it back: plain words bare, the
    /// others in single quotes (for messages; it is never run by a shell).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self
            .0
            .iter()
            .map(|a| {
                let plain = !a.is_empty()
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b));
                if plain {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            })
            .collect();
        f.write_str(&words.join(" "))
    }
}

/// `GET /nodes/{node}/qemu/{vmid}/agent/exec-status`: a command started by
/// [`Proxmox::agent_exec`], running or ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecStatus {
    pub exited: bool,
    /// The exit code, when it ended normally.
    pub exitcode: Option<u64>,
    /// The signal that ended it, when one did.
    pub signal: Option<u64>,
    /// Its standard output and error (Proxmox decodes them from QEMU's
    /// base64); `*_truncated` when the agent did not keep all of it.
    pub out_data: String,
    pub err_data: String,
    pub out_truncated: bool,
    pub err_truncated: bool,
}

impl ExecStatus {
    /// Ended with exit code 0.
    pub fn succeeded(&self) -> bool {
        self.exited && self.signal.is_none() && self.exitcode == Some(0)
    }

    /// How it ended, for a message: `exit code 1`, `killed by signal 9`.
    pub fn ending(&self) -> String {
        match (self.exited, self.exitcode, self.signal) {
            (false, _, _) => "still running".into(),
            (true, _, Some(s)) => format!("killed by signal {s}"),
            (true, Some(c), None) => format!("exit code {c}"),
            (true, None, None) => "ended without an exit code".into(),
        }
    }
}

/// The guest agent calls' request builders, re-exported in
/// [`crate::client::requests`].
pub mod requests {
    use super::*;

    /// `POST /nodes/{node}/qemu/{vmid}/agent/file-write`: create or replace
    /// `file` in the guest with `content`. The content is sent
    /// base64-encoded with `encode=0` (Proxmox would otherwise encode it
    /// itself, and cannot carry bytes that are not text), and marked
    /// secret: it is never shown.
    pub fn agent_file_write(
        node: &NodeName,
        vmid: VmId,
        file: &GuestPath,
        content: &[u8],
    ) -> Request {
        Request::post(format!("{}/agent/file-write", qemu(node, vmid)))
            .param("file", file.as_str())
            .secret_param(
                "content",
                base64::engine::general_purpose::STANDARD.encode(content),
            )
            .param("encode", "0")
    }

    /// `POST /nodes/{node}/qemu/{vmid}/agent/exec`: start a command in the
    /// guest; the answer is its pid.
    pub fn agent_exec(node: &NodeName, vmid: VmId, command: &GuestCommand) -> Request {
        Request::post(format!("{}/agent/exec", qemu(node, vmid)))
            .list_param("command", command.args().to_vec())
    }

    /// `GET /nodes/{node}/qemu/{vmid}/agent/exec-status`: whether the
    /// command `pid` has ended, its exit code and output.
    pub fn agent_exec_status(node: &NodeName, vmid: VmId, pid: u64) -> Request {
        Request::get(format!("{}/agent/exec-status", qemu(node, vmid)))
            .param("pid", pid.to_string())
    }
}

impl<A: Api> Proxmox<A> {
    /// Write a whole file into a running guest whose agent answers. A new
    /// file is made root-only (the guest agent creates files 0600); an
    /// existing one keeps its mode. The directory must exist.
    pub fn agent_file_write(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        file: &GuestPath,
        content: &[u8],
    ) -> Result<(), ApiError> {
        if content.len() > AGENT_WRITE_MAX_BYTES {
            return Err(input(
                "guest file",
                file.as_str(),
                &format!(
                    "{} bytes is more than one guest agent write takes ({AGENT_WRITE_MAX_BYTES})",
                    content.len()
                ),
            ));
        }
        self.call(&requests::agent_file_write(node, vmid, file, content))
            .map(drop)
    }

    /// Start `command` in the guest; returns its pid for
    /// [`Proxmox::agent_exec_status`].
    pub fn agent_exec(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        command: &GuestCommand,
    ) -> Result<u64, ApiError> {
        let req = requests::agent_exec(node, vmid, command);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        o.opt_u64("pid")?
            .ok_or_else(|| o.bad("field 'pid' is missing"))
    }

    /// How the command `pid` stands. Once it reported `exited`, the guest
    /// agent forgets it: ask until then, not after.
    pub fn agent_exec_status(
        &mut self,
        node: &NodeName,
        vmid: VmId,
        pid: u64,
    ) -> Result<ExecStatus, ApiError> {
        let req = requests::agent_exec_status(node, vmid, pid);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        Ok(ExecStatus {
            exited: o.flag("exited"),
            exitcode: o.opt_u64("exitcode")?,
            signal: o.opt_u64("signal")?,
            out_data: o.opt_string("out-data").unwrap_or_default(),
            err_data: o.opt_string("err-data").unwrap_or_default(),
            out_truncated: o.flag("out-truncated"),
            err_truncated: o.flag("err-truncated"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn commands_need_a_program_and_show_quoted() {
        assert!(GuestCommand::new(vec![]).is_err());
        assert!(GuestCommand::new(vec![String::new()]).is_err());
        assert!(GuestCommand::new(vec!["/bin/echo".into(), "a\0b".into()]).is_err());
        let c = GuestCommand::new(vec![
            "/usr/local/sbin/tappaas-pg-ensure".into(),
            "grafana".into(),
            "10.2.0.150".into(),
            "it's here".into(),
        ])
        .unwrap();
        assert_eq!(
            c.to_string(),
            r"/usr/local/sbin/tappaas-pg-ensure grafana 10.2.0.150 'it'\''s here'"
        );
    }

    #[test]
    fn guest_paths_are_absolute() {
        assert!(GuestPath::new("/etc/tappaas/secrets/grafana.db-password").is_ok());
        assert!(GuestPath::new("etc/x").is_err());
        assert!(GuestPath::new("/etc/x\n").is_err());
    }

    #[test]
    fn the_content_is_base64_and_secret() {
        let node = NodeName::new("tappaas1").unwrap();
        let r = requests::agent_file_write(
            &node,
            VmId::new(210).unwrap(),
            &GuestPath::new("/etc/x").unwrap(),
            b"hunter2",
        );
        assert_eq!(r.get_param("content"), Some("aHVudGVyMg=="));
        assert_eq!(r.get_param("encode"), Some("0"));
        assert!(r.is_secret("content"));
        assert!(!format!("{r:?}").contains("aHVudGVyMg=="));
    }

    #[test]
    fn endings() {
        let mut s = ExecStatus {
            exited: true,
            exitcode: Some(0),
            signal: None,
            out_data: String::new(),
            err_data: String::new(),
            out_truncated: false,
            err_truncated: false,
        };
        assert!(s.succeeded());
        s.exitcode = Some(2);
        assert!(!s.succeeded());
        assert_eq!(s.ending(), "exit code 2");
        s.signal = Some(9);
        assert_eq!(s.ending(), "killed by signal 9");
        s.exited = false;
        assert_eq!(s.ending(), "still running");
    }
}

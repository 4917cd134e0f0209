//! The transport used on an installed node: `pvesh`, Proxmox's own CLI to
//! its API, run as root on the local node (so no ticket or TLS is needed).
//!
//! `pvesh <get|create|set|delete> PATH --key value ... --output-format json`
//! maps one to one onto an API request. Commands go through the
//! [`CommandRunner`] trait so tests record the argv instead of spawning.
//!
//! An HTTP transport (port 8006, API token) is left for later: first boot
//! runs on the node itself, where pvesh needs no credentials.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::client::{Api, ApiError};
use crate::request::{is_secret_param, Request, REDACTED};

/// What a finished command left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code; `None` when killed by a signal.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs one program with arguments and waits for it. The only way this
/// crate starts processes, so tests can substitute a recorder.
pub trait CommandRunner {
    fn run(&mut self, program: &str, args: &[String]) -> std::io::Result<CommandOutput>;
}

/// Runs commands for real, with stdin closed so nothing can prompt.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&mut self, program: &str, args: &[String]) -> std::io::Result<CommandOutput> {
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        Ok(CommandOutput {
            status: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// [`Api`] over `pvesh`.
#[derive(Debug)]
pub struct PveshApi<R = SystemRunner> {
    runner: R,
    program: String,
}

impl PveshApi<SystemRunner> {
    pub fn system() -> PveshApi<SystemRunner> {
        PveshApi::new(SystemRunner)
    }
}

impl<R: CommandRunner> PveshApi<R> {
    pub fn new(runner: R) -> PveshApi<R> {
        PveshApi {
            runner,
            program: "pvesh".to_string(),
        }
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }

    pub fn runner_mut(&mut self) -> &mut R {
        &mut self.runner
    }

    /// The arguments after `pvesh` for a request. Parameters come in name
    /// order, each as `--key value` (two arguments, so no value is ever
    /// split or shell-interpreted); an array parameter is the option
    /// repeated, once per element, in order.
    pub fn argv(req: &Request) -> Vec<String> {
        let mut args = vec![req.method.pvesh_verb().to_string(), req.path.clone()];
        let mut options: Vec<(&String, &String)> = req.params.iter().collect();
        for (k, values) in &req.lists {
            options.extend(values.iter().map(|v| (k, v)));
        }
        // Stable: the elements of one list keep their order.
        options.sort_by_key(|(k, _)| *k);
        for (k, v) in options {
            args.push(format!("--{k}"));
            args.push(v.clone());
        }
        args.push("--output-format".to_string());
        args.push("json".to_string());
        args
    }

    /// The command line for messages, with secrets replaced.
    pub fn display_command(&self, req: &Request) -> String {
        let mut words = vec![self.program.clone()];
        let mut hide_next = false;
        for a in Self::argv(req) {
            if hide_next {
                words.push(REDACTED.to_string());
                hide_next = false;
                continue;
            }
            hide_next = a
                .strip_prefix("--")
                .is_some_and(|k| is_secret_param(k) || req.secret.contains(k));
            words.push(a);
        }
        words.join(" ")
    }
}

impl<R: CommandRunner> Api for PveshApi<R> {
    fn call(&mut self, req: &Request) -> Result<Value, ApiError> {
        let args = Self::argv(req);
        let out = self
            .runner
            .run(&self.program, &args)
            .map_err(|source| ApiError::Spawn {
                command: self.display_command(req),
                source,
            })?;
        let stderr = tail(&String::from_utf8_lossy(&out.stderr));
        if out.status != Some(0) {
            let status = match out.status {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_string(),
            };
            // pvesh prints Proxmox's refusal on stderr and exits non-zero;
            // the message is what a caller (and the user) needs.
            return Err(ApiError::Command {
                command: self.display_command(req),
                status,
                stderr,
            });
        }
        parse_output(req, &String::from_utf8_lossy(&out.stdout))
    }
}

/// pvesh prints nothing for calls that return null, and one JSON document
/// otherwise. Task output lines may come before the JSON when pvesh waits
/// for a worker, so the last line is tried when the whole does not parse.
fn parse_output(req: &Request, stdout: &str) -> Result<Value, ApiError> {
    let trimmed = stdout.trim();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    if let Ok(v) = serde_json::from_str(trimmed) {
        return Ok(v);
    }
    if let Some(last) = trimmed.lines().last() {
        if let Ok(v) = serde_json::from_str(last.trim()) {
            return Ok(v);
        }
    }
    Err(ApiError::Decode {
        method: req.method,
        path: req.path.clone(),
        message: format!("pvesh printed no JSON: {}", tail(trimmed)),
    })
}

/// The last lines of a command's output: enough to see the error without
/// flooding the screen.
fn tail(s: &str) -> String {
    const LINES: usize = 20;
    let lines: Vec<&str> = s.trim_end().lines().collect();
    let start = lines.len().saturating_sub(LINES);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_parsing() {
        let r = Request::get("/version");
        assert_eq!(parse_output(&r, "").unwrap(), Value::Null);
        assert_eq!(parse_output(&r, "{\"a\":1}\n").unwrap()["a"], 1);
        assert_eq!(
            parse_output(&r, "task started\n\"UPID:x\"\n").unwrap(),
            Value::String("UPID:x".into())
        );
        assert!(parse_output(&r, "oops").is_err());
    }

    #[test]
    fn tail_keeps_last_lines() {
        let s: String = (0..30).map(|i| format!("{i}\n")).collect();
        let t = tail(&s);
        assert!(t.starts_with("10\n") && t.ends_with("29"));
    }
}

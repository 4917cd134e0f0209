//! The transport used on an installed node: `pvesh`, Proxmox's own CLI to
//! its API, run as root on the local node (so no ticket or TLS is needed).
//!
//! `pvesh <get|create|set|delete> PATH --key value ... --output-format json`
//! maps one to one onto an API request. Commands go through the
//! [`CommandRunner`] trait so tests record the argv instead of spawning.
//!
//! A secret never goes on a command line: every local user can read a
//! process's argv in `/proc/PID/cmdline`, and pvesh reads its parameters
//! from argv only. The calls that carry one go through the CLI tool that
//! reads it from stdin instead: the join through `pvecm add` (which reads
//! the peer's password as one line from a stdin that is not a terminal),
//! a storage with a password (a backup server's user) through `pvesm add`
//! or `pvesm set` with a bare `--password` (pvesm then reads it the same
//! way), a guest file through `qm guest exec --pass-stdin` (the content
//! becomes the stdin of a `cat` in the guest). Any other request with a
//! secret is refused before anything runs.
//!
//! Every command has a time limit by kind ([`Limits`]): a hung pvesh ends
//! with an error naming it, never stalls first boot.
//!
//! An HTTP transport (port 8006, API token) is left for later: first boot
//! runs on the node itself, where pvesh needs no credentials.

use std::time::Duration;

use serde_json::Value;
use tappaas_effects::{Effects, Machine, Stream};

use crate::client::{Api, ApiError};
use crate::request::{is_secret_param, Method, Request, REDACTED};

/// What a finished command left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code; `None` when killed by a signal.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub use tappaas_effects::{format_limit, Invocation};

/// Runs one program and waits for it, at most its limit. The only way
/// this crate (and first boot) starts processes, so tests can substitute
/// a recorder.
pub trait CommandRunner {
    fn run(&mut self, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput>;
}

/// Runs commands for real, through the installer's one way of running a
/// command ([`tappaas_effects::Machine`]). A command still running at its
/// limit is killed with what it started, and the error (kind `TimedOut`)
/// names it and says after how long.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&mut self, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput> {
        run_on(&mut Machine, cmd)
    }
}

/// Runs commands on other effects than the real machine's (the recording
/// fake, in tests).
#[derive(Debug, Default, Clone)]
pub struct EffectsRunner<E>(pub E);

impl<E: Effects> CommandRunner for EffectsRunner<E> {
    fn run(&mut self, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput> {
        run_on(&mut self.0, cmd)
    }
}

/// Runs `cmd` on `effects`, keeping each stream's bytes as printed (a
/// credential on stdout is taken exactly).
pub fn run_on<E: Effects>(effects: &mut E, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput> {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let ran = effects.run(cmd, &mut |line| match line.stream {
        Stream::Stdout => stdout.extend_from_slice(line.raw),
        Stream::Stderr => stderr.extend_from_slice(line.raw),
    })?;
    Ok(CommandOutput {
        status: ran.status,
        stdout,
        stderr,
    })
}

/// How long each kind of command may run before it is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A read (`pvesh get`): Proxmox answers from its configuration.
    pub read: Duration,
    /// A change (`pvesh create|set|delete`). pvesh runs a task in the
    /// foreground and waits for it, so this covers an image import or a
    /// full clone.
    pub change: Duration,
    /// The join (`pvecm add`): certificates, corosync, pmxcfs restart.
    pub join: Duration,
    /// A guest file write (`qm guest exec`).
    pub guest: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            read: Duration::from_secs(120),
            change: Duration::from_secs(30 * 60),
            join: Duration::from_secs(15 * 60),
            guest: Duration::from_secs(120),
        }
    }
}

impl Limits {
    /// Every kind with the same limit (tests).
    pub fn all(limit: Duration) -> Limits {
        Limits {
            read: limit,
            change: limit,
            join: limit,
            guest: limit,
        }
    }
}

/// [`Api`] over `pvesh` (and `pvecm add`, `pvesm`, `qm guest exec` for the calls
/// that carry a secret).
#[derive(Debug)]
pub struct PveshApi<R = SystemRunner> {
    runner: R,
    program: String,
    limits: Limits,
}

/// A request as the command that carries it.
struct Planned {
    program: &'static str,
    args: Vec<String>,
    /// The secret, for stdin.
    input: Option<Vec<u8>>,
    limit: Duration,
    /// The answer is not pvesh's JSON (see [`PveshApi::call`]).
    kind: Carrier,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Pvesh,
    PvecmAdd,
    Pvesm,
    GuestExec,
}

/// What `qm guest exec` runs in the guest to write a file from its
/// stdin: a new file is root-only (as the agent's own file-write makes
/// it), an existing one keeps its mode. The path is `$1`, never part of
/// the script.
pub const GUEST_WRITE_SCRIPT: &str = "umask 077 && cat > \"$1\"";

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
            limits: Limits::default(),
        }
    }

    /// Other time limits than [`Limits::default`].
    pub fn with_limits(mut self, limits: Limits) -> PveshApi<R> {
        self.limits = limits;
        self
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
    /// repeated, once per element, in order. Secrets included: callers
    /// must not run this for a request with a secret ([`PveshApi::call`]
    /// never does).
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

    /// The command for `req`: pvesh unless the request carries a secret.
    fn plan(&self, req: &Request) -> Result<Planned, ApiError> {
        let secrets: Vec<&String> = req.params.keys().filter(|k| req.is_secret(k)).collect();
        if secrets.is_empty() {
            let limit = match req.method {
                Method::Get => self.limits.read,
                _ => self.limits.change,
            };
            return Ok(Planned {
                program: "pvesh",
                args: Self::argv(req),
                input: None,
                limit,
                kind: Carrier::Pvesh,
            });
        }
        let refuse = |message: String| ApiError::Input {
            what: "request",
            value: format!("{} {}", req.method, req.path),
            message,
        };
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match (req.method, segments.as_slice()) {
            (Method::Post, ["cluster", "config", "join"]) => self.pvecm_add(req, refuse),
            (Method::Post, ["nodes", _, "qemu", vmid, "agent", "file-write"]) => {
                self.guest_write(req, vmid, refuse)
            }
            (Method::Post, ["storage"]) => self.pvesm(req, None, refuse),
            (Method::Put, ["storage", id]) => self.pvesm(req, Some(id), refuse),
            _ => Err(refuse(format!(
                "it carries a secret ({}) that pvesh would show in the process list; \
                 no command here takes it on stdin",
                secrets
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// `pvecm add HOSTNAME --fingerprint FP --link0 ...`, the password on
    /// stdin (one line, as `pvecm` reads it when stdin is not a terminal).
    fn pvecm_add(
        &self,
        req: &Request,
        refuse: impl Fn(String) -> ApiError,
    ) -> Result<Planned, ApiError> {
        let hostname = req
            .get_param("hostname")
            .ok_or_else(|| refuse("the join names no hostname".into()))?;
        let password = req
            .get_param("password")
            .ok_or_else(|| refuse("the join has no password".into()))?;
        if password.contains(['\n', '\r']) {
            return Err(refuse(
                "the peer's password contains a line break, which pvecm cannot read from stdin"
                    .into(),
            ));
        }
        let mut args = vec!["add".to_string(), hostname.to_string()];
        for (k, v) in &req.params {
            if k == "hostname" || k == "password" {
                continue;
            }
            if req.is_secret(k) {
                return Err(refuse(format!(
                    "pvecm add has no way to read {k} from stdin"
                )));
            }
            args.push(format!("--{k}"));
            args.push(v.clone());
        }
        Ok(Planned {
            program: "pvecm",
            args,
            input: Some(format!("{password}\n").into_bytes()),
            limit: self.limits.join,
            kind: Carrier::PvecmAdd,
        })
    }

    /// `pvesm add TYPE ID --key value ... --password` (or `pvesm set ID
    /// ...` for `existing`), the password on stdin: pvesm's `--password`
    /// without a value reads one line from a stdin that is not a terminal.
    fn pvesm(
        &self,
        req: &Request,
        existing: Option<&str>,
        refuse: impl Fn(String) -> ApiError,
    ) -> Result<Planned, ApiError> {
        let password = req
            .get_param("password")
            .ok_or_else(|| refuse("pvesm can read only a password from stdin".into()))?;
        if password.is_empty() || password.contains(['\n', '\r']) {
            return Err(refuse(
                "the storage password is empty or contains a line break, which pvesm cannot read from stdin"
                    .into(),
            ));
        }
        let mut args = match existing {
            Some(id) => vec!["set".to_string(), id.to_string()],
            None => {
                let kind = req.get_param("type");
                let id = req.get_param("storage");
                let (Some(kind), Some(id)) = (kind, id) else {
                    return Err(refuse("the storage has no type or id".into()));
                };
                vec!["add".to_string(), kind.to_string(), id.to_string()]
            }
        };
        for (k, v) in &req.params {
            if matches!(k.as_str(), "type" | "storage" | "password") {
                continue;
            }
            if req.is_secret(k) {
                return Err(refuse(format!("pvesm has no way to read {k} from stdin")));
            }
            args.push(format!("--{k}"));
            args.push(v.clone());
        }
        if !req.lists.is_empty() {
            return Err(refuse("a storage takes no list parameters".into()));
        }
        // Last, so that it has no value and pvesm asks for it.
        args.push("--password".to_string());
        Ok(Planned {
            program: "pvesm",
            args,
            input: Some(format!("{password}\n").into_bytes()),
            limit: self.limits.change,
            kind: Carrier::Pvesm,
        })
    }

    /// `qm guest exec VMID --pass-stdin 1 -- /bin/sh -c SCRIPT sh FILE`,
    /// the file's content on stdin. `qm` acts on the VMs of this node.
    fn guest_write(
        &self,
        req: &Request,
        vmid: &str,
        refuse: impl Fn(String) -> ApiError,
    ) -> Result<Planned, ApiError> {
        let file = req
            .get_param("file")
            .ok_or_else(|| refuse("the guest file write names no file".into()))?;
        let encoded = req
            .get_param("content")
            .ok_or_else(|| refuse("the guest file write has no content".into()))?;
        // The API's `encode=0` content is base64; the guest's `cat` takes
        // the bytes themselves.
        let content = if req.get_param("encode") == Some("0") {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| refuse(format!("the content is not base64: {e}")))?
        } else {
            encoded.as_bytes().to_vec()
        };
        let args = [
            "guest",
            "exec",
            vmid,
            "--pass-stdin",
            "1",
            "--",
            "/bin/sh",
            "-c",
            GUEST_WRITE_SCRIPT,
            "sh",
            file,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Ok(Planned {
            program: "qm",
            args,
            input: Some(content),
            limit: self.limits.guest,
            kind: Carrier::GuestExec,
        })
    }
}

impl<R: CommandRunner> Api for PveshApi<R> {
    fn call(&mut self, req: &Request) -> Result<Value, ApiError> {
        let planned = self.plan(req)?;
        let program = if planned.kind == Carrier::Pvesh {
            self.program.as_str()
        } else {
            planned.program
        };
        let invocation = Invocation {
            program,
            args: &planned.args,
            input: planned.input.as_deref(),
            limit: planned.limit,
            // Proxmox's JSON on stdout, its refusals on stderr.
            merge_stderr: false,
        };
        // No secret is in the argv of pvecm or qm; pvesh's never has one.
        let command = if planned.kind == Carrier::Pvesh {
            self.display_command(req)
        } else {
            invocation.display()
        };
        let out = self
            .runner
            .run(&invocation)
            .map_err(|source| ApiError::Spawn {
                command: command.clone(),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = tail(&String::from_utf8_lossy(&out.stderr));
        let failed = |status: String, text: String| ApiError::Command {
            command: command.clone(),
            status,
            stderr: text,
        };
        if out.status != Some(0) {
            let status = match out.status {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_string(),
            };
            // pvesh prints Proxmox's refusal on stderr and exits non-zero;
            // the message is what a caller (and the user) needs.
            return Err(failed(status, stderr));
        }
        match planned.kind {
            Carrier::Pvesh => parse_output(req, &stdout),
            Carrier::PvecmAdd => {
                // pvecm runs the join as a task in the foreground and
                // exits 0 even when the task failed, printing only the
                // task's error on stderr. So anything on stderr is taken
                // as a failure; the caller reads the cluster status
                // afterwards either way and trusts that.
                if !stderr.trim().is_empty() {
                    return Err(failed(
                        "exit status 0, with an error from the join task".into(),
                        stderr,
                    ));
                }
                Ok(Value::Null)
            }
            // pvesm prints no JSON; its exit status says it all.
            Carrier::Pvesm => Ok(Value::Null),
            Carrier::GuestExec => {
                let v = parse_output(req, &stdout)?;
                let exited = v
                    .get("exited")
                    .and_then(|e| e.as_bool().or(e.as_i64().map(|n| n != 0)));
                let code = v.get("exitcode").and_then(Value::as_i64);
                if exited == Some(true) && code == Some(0) {
                    return Ok(Value::Null);
                }
                let err = v
                    .get("err-data")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                let status = match (exited, code) {
                    (Some(true), Some(c)) => format!("the write in the guest exited with {c}"),
                    _ => "the write in the guest did not end in time".to_string(),
                };
                Err(failed(status, err))
            }
        }
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

    /// A command that hangs is killed at its limit, and the error names
    /// the command and the limit.
    #[test]
    fn a_hung_command_is_killed_at_its_limit() {
        let args = vec!["30".to_string()];
        let began = std::time::Instant::now();
        let e = SystemRunner
            .run(&Invocation {
                program: "sleep",
                args: &args,
                input: None,
                limit: Duration::from_millis(200),
                merge_stderr: false,
            })
            .unwrap_err();
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("0.2 s"), "{e}");

        // Through the transport: the message names the pvesh command.
        let mut api = PveshApi::new(Hang).with_limits(Limits::all(Duration::from_millis(200)));
        let e = api.call(&Request::get("/version")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("pvesh get /version") && text.contains("0.2 s"),
            "{text}"
        );
    }

    /// Runs `sleep 30` in place of any command.
    struct Hang;

    impl CommandRunner for Hang {
        fn run(&mut self, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput> {
            SystemRunner.run(&Invocation {
                program: "sleep",
                args: &["30".to_string()],
                ..*cmd
            })
        }
    }

    /// The input reaches the command's stdin, and the command's output
    /// comes back.
    #[test]
    fn input_goes_to_stdin() {
        let args = vec![];
        let out = SystemRunner
            .run(&Invocation {
                program: "cat",
                args: &args,
                input: Some(b"s3cret\n"),
                limit: Duration::from_secs(30),
                merge_stderr: false,
            })
            .unwrap();
        assert_eq!(
            (out.status, out.stdout.as_slice()),
            (Some(0), &b"s3cret\n"[..])
        );
    }

    /// The transport on the recording fake: the JSON pvesh prints comes
    /// back, and a command that hangs is an error naming it.
    #[test]
    fn runs_through_the_effects() {
        use tappaas_effects::{Answer, Recorder};
        let fake = Recorder::new()
            .answer(
                "pvesh get /version",
                Answer::prints(&["{\"version\":\"8.4\"}"], 0),
            )
            .answer("pvesh get /nodes", Answer::Hang { lines: Vec::new() });
        let mut api =
            PveshApi::new(EffectsRunner(fake)).with_limits(Limits::all(Duration::from_secs(7)));
        assert_eq!(
            api.call(&Request::get("/version")).unwrap()["version"],
            "8.4"
        );
        let text = api.call(&Request::get("/nodes")).unwrap_err().to_string();
        assert!(
            text.contains("pvesh get /nodes") && text.contains("7 s"),
            "{text}"
        );
        assert_eq!(
            api.runner().0.commands(),
            [
                "pvesh get /version --output-format json",
                "pvesh get /nodes --output-format json"
            ]
        );
    }

    #[test]
    fn tail_keeps_last_lines() {
        let s: String = (0..30).map(|i| format!("{i}\n")).collect();
        let t = tail(&s);
        assert!(t.starts_with("10\n") && t.ends_with("29"));
    }
}

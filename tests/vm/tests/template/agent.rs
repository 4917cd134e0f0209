//! The template test's client of the QEMU guest agent.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A client of the QEMU guest agent on QEMU's socket for the agent's
/// virtio port: the protocol behind Proxmox's agent calls (`agent/ping`,
/// `agent/file-write`, `agent/exec`, `agent/exec-status`).
pub struct Agent {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Agent {
    pub fn connect(socket: &Path) -> Result<Agent, String> {
        let s = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let reader = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        let mut agent = Agent { writer: s, reader };
        // guest-sync first: whatever an earlier client left unread is skipped.
        let id = std::process::id();
        writeln!(
            agent.writer,
            r#"{{"execute":"guest-sync","arguments":{{"id":{id}}}}}"#
        )
        .map_err(|e| e.to_string())?;
        loop {
            let answer = agent.answer("guest-sync")?;
            if answer.get("return") == Some(&serde_json::json!(id)) {
                return Ok(agent);
            }
        }
    }

    pub fn answer(&mut self, what: &str) -> Result<serde_json::Value, String> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| format!("no answer to {what}: {e}"))?;
        if line.is_empty() {
            return Err("the agent's socket closed".to_string());
        }
        serde_json::from_str(&line).map_err(|e| format!("{what}: not JSON ({e}): {line}"))
    }

    /// One command; its `return` value, or the agent's error.
    pub fn call(
        &mut self,
        execute: &str,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let request = serde_json::json!({ "execute": execute, "arguments": arguments });
        writeln!(self.writer, "{request}").map_err(|e| e.to_string())?;
        let mut answer = self.answer(execute)?;
        match answer.get_mut("return") {
            Some(value) => Ok(value.take()),
            None => Err(format!("{execute}: {answer}")),
        }
    }

    /// As Proxmox's `agent/file-write`: open for writing, write, close.
    pub fn write_file(&mut self, path: &str, content: &[u8]) -> Result<(), String> {
        use base64::Engine as _;
        let handle = self.call(
            "guest-file-open",
            serde_json::json!({ "path": path, "mode": "w" }),
        )?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(content);
        let written = self.call(
            "guest-file-write",
            serde_json::json!({ "handle": handle, "buf-b64": b64 }),
        );
        self.call("guest-file-close", serde_json::json!({ "handle": handle }))?;
        written.map(|_| ())
    }

    /// As Proxmox's `agent/exec` then `agent/exec-status` until it has
    /// exited: the exit code, stdout and stderr.
    pub fn exec(&mut self, argv: &[String]) -> Result<(i64, String, String), String> {
        use base64::Engine as _;
        let (program, args) = argv.split_first().ok_or("an empty command")?;
        let started = self.call(
            "guest-exec",
            serde_json::json!({ "path": program, "arg": args, "capture-output": true }),
        )?;
        let pid = started["pid"].clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        loop {
            let status = self.call("guest-exec-status", serde_json::json!({ "pid": pid }))?;
            if status["exited"] == serde_json::json!(true) {
                let text = |key: &str| {
                    let data = status[key].as_str().unwrap_or_default();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .unwrap_or_default();
                    String::from_utf8_lossy(&bytes).into_owned()
                };
                let code = status["exitcode"].as_i64().unwrap_or(-1);
                return Ok((code, text("out-data"), text("err-data")));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("{argv:?} still runs after 300 s"));
            }
            // The agent has no event for an exit: poll, as Proxmox's
            // callers do.
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

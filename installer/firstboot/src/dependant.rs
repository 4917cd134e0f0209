//! A service deployed after one it depends on: the dependency's
//! `add-dependant` action (catalog data, see docs/services.md, "Later."),
//! run in the dependency's VM through its QEMU guest agent. PostgreSQL's
//! makes the new service's role and database.
//!
//! The dependency's record lists the dependants its VM has given what
//! they need (those its user-data named, and those added here), so the
//! action runs once per dependant; running it again would be safe too.

use std::time::Instant;

use tappaas_proxmox::client::{ExecStatus, GuestCommand, GuestPath, NodeName, VmId};
use tappaas_proxmox::{Api, ApiError, Proxmox};
use tappaas_services::{render_add_dependant, DependantAction};

use crate::deploy::{self, Deployment};
use crate::error::StepError;
use crate::{vm, Config};

/// Before service `name` is deployed: every dependency of it with an
/// `add-dependant` action whose VM has not given `name` what it needs
/// gets the action. An error names the VM, the command and its output.
pub(crate) fn ensure<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    dep: &Deployment,
    name: &str,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let depends = dep
        .resolved
        .get(name)
        .map(|e| e.depends.clone())
        .unwrap_or_default();
    for d in &depends {
        let action = render_add_dependant(&dep.catalog, &dep.resolved, d, name, &dep.context)
            .map_err(|e| {
                StepError::new(
                    format!("render {d}'s add-dependant for {name}"),
                    e.to_string(),
                )
            })?;
        let Some(action) = action else { continue };
        if deploy::given_dependants(config, d, action.vmid)?
            .iter()
            .any(|x| x == name)
        {
            continue;
        }
        run(px, config, node, &action, note)?;
        deploy::add_given_dependant(config, d, action.vmid, name)?;
    }
    Ok(())
}

/// Write the action's files and run its command in the service's VM,
/// waiting (up to `config.wait_timeout`) until the command has exited.
fn run<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    action: &DependantAction,
    note: &mut dyn FnMut(String),
) -> Result<(), StepError> {
    let id = vm::vmid(action.vmid)?;
    let (service, dependant) = (&action.service, &action.dependant);
    let qemu = format!("/nodes/{node}/qemu/{id}");
    let unreachable = |call: String, e: &ApiError| {
        StepError::api(call, e).hint(&format!(
            "{dependant} needs {service} (VM {id}) running, with its guest agent answering \
             (`qm agent {id} ping`); then run again: it continues with what is missing."
        ))
    };
    for (path, content) in &action.files {
        let file = GuestPath::new(path.as_str())
            .map_err(|e| StepError::api(format!("name a file in VM {id}"), &e))?;
        note(format!(
            "write {path} into VM {id} '{service}' for {dependant} (guest agent)"
        ));
        px.agent_file_write(node, id, &file, content.expose().as_bytes())
            .map_err(|e| unreachable(format!("POST {qemu}/agent/file-write ({path})"), &e))?;
    }
    let command = GuestCommand::new(action.command.clone())
        .map_err(|e| StepError::api(format!("run a command in VM {id}"), &e))?;
    note(format!(
        "run `{command}` in VM {id} '{service}' (guest agent)"
    ));
    let status = exec(px, config, node, id, service, &command, &unreachable)?;
    if status.succeeded() {
        note(format!("{service} has added {dependant}"));
        return Ok(());
    }
    // The output is the script's; keep any secret it might echo out of
    // messages and logs.
    let secrets: Vec<&str> = action.files.iter().map(|(_, c)| c.expose()).collect();
    Err(
        failed(&status, &command, id, service, &secrets).hint(&format!(
            "Nothing of {dependant} was made. Fix the cause in {service}'s VM {id} (log in as \
         tappaas over SSH), then run again: it continues with what is missing."
        )),
    )
}

/// Run `command` in service `service`'s VM `id` through its guest agent
/// and wait (up to `config.wait_timeout`) until it has exited, whatever
/// its exit code. `unreachable` words an agent that does not answer.
pub(crate) fn exec<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    id: VmId,
    service: &str,
    command: &GuestCommand,
    unreachable: &dyn Fn(String, &ApiError) -> StepError,
) -> Result<ExecStatus, StepError> {
    let qemu = format!("/nodes/{node}/qemu/{id}");
    let pid = px
        .agent_exec(node, id, command)
        .map_err(|e| unreachable(format!("POST {qemu}/agent/exec"), &e))?;
    wait_exit(px, config, node, id, pid).map_err(|e| match e {
        Wait::Api(e) => StepError::api(format!("GET {qemu}/agent/exec-status (pid {pid})"), &e),
        Wait::Timeout => StepError::new(
            format!("run `{command}` in VM {id} '{service}' through its guest agent"),
            format!(
                "still running after {} s (pid {pid} in the VM)",
                config.wait_timeout.as_secs()
            ),
        ),
    })
}

/// The error for a command that ended badly: how it ended and what it
/// said, with every value of `secrets` replaced.
pub(crate) fn failed(
    status: &ExecStatus,
    command: &GuestCommand,
    id: VmId,
    service: &str,
    secrets: &[&str],
) -> StepError {
    let clean = |text: &str| {
        secrets
            .iter()
            .filter(|c| !c.is_empty())
            .fold(text.trim_end().to_string(), |t, c| {
                t.replace(c, "<redacted>")
            })
    };
    let (stderr, stdout) = (clean(&status.err_data), clean(&status.out_data));
    let said = if stderr.is_empty() { &stdout } else { &stderr };
    let mut output: Vec<String> = stderr.lines().map(str::to_string).collect();
    output.extend(stdout.lines().map(str::to_string));
    StepError {
        what: format!("run `{command}` in VM {id} '{service}' through its guest agent"),
        message: format!(
            "{}: {}",
            status.ending(),
            if said.is_empty() {
                "no output"
            } else {
                said.as_str()
            }
        ),
        output,
    }
}

enum Wait {
    Api(ApiError),
    Timeout,
}

/// Poll the command's status until it has exited.
fn wait_exit<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    id: VmId,
    pid: u64,
) -> Result<ExecStatus, Wait> {
    let deadline = Instant::now() + config.wait_timeout;
    loop {
        let status = px.agent_exec_status(node, id, pid).map_err(Wait::Api)?;
        if status.exited {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            return Err(Wait::Timeout);
        }
        std::thread::sleep(config.poll_interval);
    }
}

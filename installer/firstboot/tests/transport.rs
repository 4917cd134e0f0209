//! First boot over the transports a node really has: pvesh (its argv read
//! back and answered by the simulator), a Proxmox that does not answer,
//! and one whose task status fails for a moment.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tappaas_exec::Event;
use tappaas_firstboot::proxmox::{Api, ApiError, Proxmox, Request, SimNode};
use tappaas_firstboot::{run, FirstbootError, Outcome};

#[test]
fn create_and_join_over_pvesh() {
    let sim = world();
    let n1 = Node::new(1, &plan(1, None));
    let mut px = over_pvesh(&sim, "tappaas1");
    let r = run(&n1.config, &mut px, &mut TestHost::new(&sim), &mut |_| {});
    assert!(matches!(r, Ok(Outcome::Finished { .. })), "{r:?}");
    let argv = &px.api().runner().argv;
    assert!(argv.contains(&vec![
        "pvesh".to_string(),
        "create".into(),
        "/cluster/config".into(),
        "--clustername".into(),
        "tappaas".into(),
        "--link0".into(),
        "address=10.0.0.10".into(),
        "--output-format".into(),
        "json".into(),
    ]));

    // The join through pvesh, with a refusal first (wrong password): the
    // failure shows Proxmox's words, never the password.
    let n2 = Node::new(2, &plan(2, Some(&confirmed(&sim))));
    write(&n2.config.peer_password_credential, "not-the-password");
    let mut px = over_pvesh(&sim, "tappaas2");
    let mut events = Vec::new();
    let r = run(&n2.config, &mut px, &mut TestHost::new(&sim), &mut |e| {
        events.push(e.clone())
    });
    let Err(FirstbootError::Step { failure, .. }) = r else {
        panic!("{r:?}")
    };
    assert!(
        failure
            .output_tail
            .iter()
            .any(|l| l.contains("authentication failure")),
        "{failure:?}"
    );
    let shown = format!("{events:?} {failure:?}");
    assert!(
        !shown.contains("not-the-password"),
        "a password was shown: {shown}"
    );
    assert!(sim.cluster_of("tappaas2").is_none());

    write(&n2.config.peer_password_credential, &root_password(1));
    let r = run(&n2.config, &mut px, &mut TestHost::new(&sim), &mut |_| {});
    assert!(matches!(r, Ok(Outcome::Finished { .. })), "{r:?}");
    // The join went through `pvecm add`, the password on its stdin and
    // on no command line (every local user can read those).
    let runner = px.api().runner();
    let joins: Vec<usize> = (0..runner.argv.len())
        .filter(|&i| runner.argv[i][..2] == ["pvecm", "add"])
        .collect();
    assert_eq!(joins.len(), 2, "{:?}", runner.argv);
    assert_eq!(
        runner.inputs[joins[1]].as_deref(),
        Some(format!("{}\n", root_password(1)).as_bytes())
    );
    for argv in &runner.argv {
        let line = argv.join(" ");
        assert!(
            !line.contains(&root_password(1)) && !line.contains("not-the-password"),
            "a password on a command line: {line}"
        );
    }
    assert_eq!(sim.cluster_of("tappaas2").unwrap().1.len(), 2);
    assert_eq!(
        storage_nodes(&sim, "tappaas2", "tank1").unwrap(),
        ["tappaas1", "tappaas2"]
    );
    assert!(sim.violations().is_empty());
}

/// pve-cluster never starts.
struct Silent;

impl Api for Silent {
    fn call(&mut self, req: &Request) -> Result<serde_json::Value, ApiError> {
        Err(ApiError::Command {
            command: format!("pvesh get {}", req.path),
            status: "exit status 255".into(),
            stderr: "ipcc_send_rec[1] failed: Connection refused".into(),
        })
    }
}

#[test]
fn waiting_for_proxmox_is_bounded() {
    let n1 = Node::new(1, &plan(1, None));
    let mut config = n1.config.clone();
    config.wait_timeout = Duration::from_millis(100);
    config.poll_interval = Duration::from_millis(10);
    let mut px = Proxmox::new(Silent, schema());
    let sim = world();
    let mut events = Vec::new();
    let began = Instant::now();
    let r = run(&config, &mut px, &mut TestHost::new(&sim), &mut |e| {
        events.push(e.clone())
    });
    assert!(began.elapsed() < Duration::from_secs(5));
    let Err(FirstbootError::Step { step, failure }) = r else {
        panic!("{r:?}")
    };
    assert_eq!(step, "proxmox-ready");
    assert!(
        failure.message.contains("did not answer within 100 ms"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("systemctl status pve-cluster"),
        "{}",
        failure.message
    );
    assert!(failure
        .output_tail
        .iter()
        .any(|l| l.contains("Connection refused")));
    assert!(n1.config.marker.exists());
}

/// Fails the first task status query: pve-cluster restarting right after
/// the create.
struct TaskHiccup {
    inner: SimNode,
    failed: bool,
}

impl Api for TaskHiccup {
    fn call(&mut self, req: &Request) -> Result<serde_json::Value, ApiError> {
        if !self.failed && req.path.contains("/tasks/") {
            self.failed = true;
            return Err(ApiError::Refused {
                method: req.method,
                path: req.path.clone(),
                message: "cluster not ready".into(),
            });
        }
        self.inner.call(req)
    }
}

#[test]
fn a_task_status_hiccup_is_waited_out() {
    let sim = world();
    let n1 = Node::new(1, &plan(1, None));
    let mut px = Proxmox::new(
        TaskHiccup {
            inner: sim.client("tappaas1"),
            failed: false,
        },
        schema(),
    );
    let mut events = Vec::new();
    let r = run(&n1.config, &mut px, &mut TestHost::new(&sim), &mut |e| {
        events.push(e.clone())
    });
    assert!(matches!(r, Ok(Outcome::Finished { .. })), "{r:?}");
    assert!(px.api().failed);
    assert!(matches!(events.last(), Some(Event::Finished { .. })));
}

//! First boot stopped at every step and every Proxmox call, then run
//! again: every node ends in the same state as a run never stopped.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::site::*;
use common::*;
use tappaas_exec::Event;
use tappaas_firstboot::proxmox::Simulator;
use tappaas_firstboot::Outcome;
use tappaas_plan::Plan;

/// Proxmox as a first boot that is stopped sees it: once `dead` is set,
/// or right after call number `stop_after` took effect (its answer lost),
/// every call fails, as if the process had been killed there.
struct Stopping {
    inner: tappaas_firstboot::proxmox::SimNode,
    calls: usize,
    stop_after: Option<usize>,
    dead: std::rc::Rc<std::cell::Cell<bool>>,
}

impl tappaas_firstboot::proxmox::Api for Stopping {
    fn call(
        &mut self,
        req: &tappaas_firstboot::proxmox::Request,
    ) -> Result<serde_json::Value, tappaas_firstboot::proxmox::ApiError> {
        let stopped = || tappaas_firstboot::proxmox::ApiError::Spawn {
            command: format!("pvesh {} {}", req.method, req.path),
            source: std::io::Error::other("first boot was stopped here"),
        };
        if self.dead.get() {
            return Err(stopped());
        }
        let r = self.inner.call(req);
        self.calls += 1;
        if Some(self.calls) == self.stop_after {
            self.dead.set(true);
            return Err(stopped());
        }
        r
    }
}

/// Where a run is stopped.
#[derive(Clone, Copy, Debug)]
enum StopAt {
    /// After step `index` has finished.
    Step(usize),
    /// Right after the effect of the run's call number `n` (1-based).
    Call(usize),
}

/// One node's end state: the simulated machines, the node's files (not
/// the journal, which tells the history, nor the run lock) and the
/// firewall's files (not its reload log), with each generated secret and
/// each salted hash replaced by a placeholder: two worlds generate
/// different secrets.
fn end_state(sim: &Simulator, site: &Site) -> String {
    let creds = std::fs::read_to_string(&site.node.config.credentials).unwrap_or_default();
    let secrets: Vec<(String, String)> = tappaas_services::Secrets::from_file_text("c", &creds)
        .map(|s| {
            s.all()
                .map(|(svc, name, v)| (v.expose().to_string(), format!("<{svc}.{name}>")))
                .collect()
        })
        .unwrap_or_default();
    let roots = [
        (site.node.root().display().to_string(), "<node>"),
        (site.firewall.path().display().to_string(), "<firewall>"),
    ];
    let normalise = |text: &str| {
        let mut t = text.to_string();
        for (root, name) in &roots {
            t = t.replace(root.as_str(), name);
        }
        for (value, name) in &secrets {
            t = t.replace(value.as_str(), name);
        }
        // MACs Proxmox generates (random on a node; the simulator's depend
        // on how many calls came before).
        while let Some(at) = t.find("BC:24:11:") {
            let end = (at + "BC:24:11:00:00:00".len()).min(t.len());
            t.replace_range(at..end, "<mac>");
        }
        // bcrypt: `$2y$10$` and 53 characters of salt and hash.
        for prefix in ["$2y$", "$2b$", "$2a$"] {
            while let Some(at) = t.find(prefix) {
                let end = (at + 60).min(t.len());
                t.replace_range(at..end, "<bcrypt>");
            }
        }
        t
    };
    let mut out = normalise(&format!("{:?}", sim.end_state()));
    let c = &site.node.config;
    for (root, skip) in [
        (site.node.root(), vec![c.journal.clone(), c.lock.clone()]),
        (
            site.firewall.path(),
            vec![site.firewall.path().join("reload.log")],
        ),
    ] {
        let mut stack = vec![root.to_path_buf()];
        let mut files = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if !skip.contains(&p) {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            let rel = f.strip_prefix(root).unwrap().display().to_string();
            out.push_str(&format!("\n== {rel}\n{}", normalise(&text)));
        }
    }
    out
}

/// One first boot of node 1 on the deploy world, stopped at `stop`, then
/// run again to its end; the end state.
fn stopped_and_resumed(plan: &Plan, stop: Option<StopAt>) -> (String, usize, usize) {
    let (sim, mut site) = deployment(plan);
    site.node.config.wait_timeout = Duration::from_millis(50);
    let dead = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut px = tappaas_firstboot::proxmox::Proxmox::new(
        Stopping {
            inner: sim.client("tappaas1"),
            calls: 0,
            stop_after: match stop {
                Some(StopAt::Call(n)) => Some(n),
                _ => None,
            },
            dead: dead.clone(),
        },
        schema(),
    );
    let mut h = host(&sim, &site);
    let mut steps = 0;
    let first = tappaas_firstboot::run(&site.node.config, &mut px, &mut h, &mut |e| {
        if let Event::StepFinished { index, .. } = e {
            steps = steps.max(index + 1);
            if matches!(stop, Some(StopAt::Step(i)) if i == *index) {
                dead.set(true);
            }
        }
    });
    h.finish_consoles();
    let calls = px.api().calls;
    if stop.is_some() {
        assert!(dead.get(), "{stop:?}: never stopped");
        let (_, again) = run(&sim, &site);
        assert_finished(&again, &format!("the run after stopping at {stop:?}"));
    } else {
        assert!(matches!(first, Ok(Outcome::Finished { .. })), "{first:?}");
    }
    assert!(
        sim.violations().is_empty(),
        "{stop:?}: {:?}",
        sim.violations()
    );
    assert!(!site.node.config.marker.exists(), "{stop:?}");
    (end_state(&sim, &site), steps, calls)
}

/// Interruption at every point: first boot of a first node with the
/// firewall and two services (one depending on the other) is stopped
/// after each of its steps and right after each Proxmox call (the change
/// made, the answer lost: the hard case), then run again; every time it
/// ends in the same state as a run never stopped: the same machines,
/// VMs, storages and files.
#[test]
fn first_boot_stopped_at_every_point_ends_the_same() {
    let mut plan = deploy_plan();
    plan.services = vec!["postgresql".into(), "grafana".into()];
    let (reference, steps, calls) = stopped_and_resumed(&plan, None);
    let points: Vec<StopAt> = (0..steps)
        .map(StopAt::Step)
        .chain((1..=calls).map(StopAt::Call))
        .collect();
    let mut same = 0;
    // STOP_AT_CALL=N reruns only the points numbered N (to look at one).
    let only: Option<usize> = std::env::var("STOP_AT_CALL")
        .ok()
        .and_then(|v| v.parse().ok());
    for &stop in &points {
        if let (Some(n), StopAt::Call(c) | StopAt::Step(c)) = (only, stop) {
            if n != c {
                continue;
            }
        }
        let (state, _, _) = stopped_and_resumed(&plan, Some(stop));
        if state == reference {
            same += 1;
        } else {
            // Where they part, with some context.
            let at = reference
                .bytes()
                .zip(state.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(reference.len().min(state.len()));
            let around = |t: &str| {
                let bytes = &t.as_bytes()[at.saturating_sub(200)..(at + 200).min(t.len())];
                String::from_utf8_lossy(bytes).into_owned()
            };
            let first = format!(
                "reference: {}\nthis run:  {}",
                around(&reference),
                around(&state)
            );
            panic!("stopped at {stop:?}, a different end state:\n{first}");
        }
    }
    println!(
        "first boot stopped at every point: {same} of {} ({steps} steps, {calls} calls) end the same",
        points.len()
    );
    assert_eq!(same, points.len());
}

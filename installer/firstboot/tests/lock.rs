//! One run at a time: a second first boot or `services deploy` while one
//! runs stops at once and names the run holding the lock; once that run
//! ends, the next one goes through.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use tappaas_firstboot::proxmox::client::Password;
use tappaas_firstboot::{run, Config, FirstbootError, Host, Outcome};
use tappaas_services::HealthCheck;

/// A host that stops in the join's certificate check until told to go on:
/// a first boot caught in the middle.
struct Paused {
    inner: TestHost,
    reached: mpsc::Sender<()>,
    resume: mpsc::Receiver<()>,
}

impl Host for Paused {
    fn peer_password(&mut self, config: &Config) -> Result<Option<Password>, String> {
        self.inner.peer_password(config)
    }
    fn peer_fingerprint(&mut self, peer: &str) -> Result<String, String> {
        self.reached.send(()).unwrap();
        // Bounded, so that a failing test ends instead of waiting here.
        let _ = self.resume.recv_timeout(Duration::from_secs(10));
        self.inner.peer_fingerprint(peer)
    }
    fn serial_console(&mut self, vmid: u32) -> Result<UnixStream, String> {
        self.inner.serial_console(vmid)
    }
    fn write_node_file(&mut self, path: &str, text: &str) -> Result<(), String> {
        self.inner.write_node_file(path, text)
    }
    fn tcp_reachable(&mut self, addr: SocketAddr, limit: Duration) -> Result<(), String> {
        self.inner.tcp_reachable(addr, limit)
    }
    fn health(&mut self, check: &HealthCheck, limit: Duration) -> Result<String, String> {
        self.inner.health(check, limit)
    }
    fn set_default_gateway(&mut self, via: IpAddr) -> Result<(), String> {
        self.inner.set_default_gateway(via)
    }
}

#[test]
fn a_second_run_stops_at_once_while_one_runs() {
    let sim = world();
    run_ok(&sim, &Node::new(1, &plan(1, None)));
    let n2 = Node::new(2, &plan(2, Some(&confirmed(&sim))));
    let (reached_tx, reached) = mpsc::channel();
    let (resume, resume_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            let mut host = Paused {
                inner: TestHost::new(&sim),
                reached: reached_tx,
                resume: resume_rx,
            };
            let mut px = client(&sim, "tappaas2");
            run(&n2.config, &mut px, &mut host, &mut |_| {})
        });
        reached.recv_timeout(Duration::from_secs(30)).unwrap();

        // First boot again (by hand) while the unit's run is in the join.
        let mut px = client(&sim, "tappaas2");
        let writes_before = writes(&sim, "tappaas2");
        let second = run(&n2.config, &mut px, &mut TestHost::new(&sim), &mut |_| {});
        let Err(e @ FirstbootError::Busy { .. }) = second else {
            panic!("{second:?}")
        };
        let text = e.to_string();
        assert!(text.contains("first boot (pid "), "{text}");
        assert!(text.contains("firstboot.lock"), "{text}");
        // And `services deploy`.
        let third = tappaas_firstboot::deploy_services(
            &n2.config,
            &mut px,
            &mut TestHost::new(&sim),
            &["grafana".to_string()],
            None,
            &mut |_| {},
        );
        assert!(
            matches!(third, Err(FirstbootError::Busy { .. })),
            "{third:?}"
        );
        // Neither changed anything.
        assert_eq!(writes(&sim, "tappaas2"), writes_before);

        resume.send(()).unwrap();
        let r = first.join().unwrap();
        assert!(matches!(r, Ok(Outcome::Finished { .. })), "{r:?}");
    });
    // The lock went with the run; it is root-only.
    let mode = std::fs::metadata(&n2.config.lock)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(n2.config.lock.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let again = run(
        &n2.config,
        &mut client(&sim, "tappaas2"),
        &mut TestHost::new(&sim),
        &mut |_| {},
    );
    assert!(matches!(again, Ok(Outcome::Finished { .. })), "{again:?}");
    assert_eq!(sim.cluster_of("tappaas2").unwrap().1.len(), 2);
}

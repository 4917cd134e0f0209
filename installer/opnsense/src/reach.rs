//! "Then checked over the network": the firewall answers on a TCP port.

use std::fmt;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Longest single connection attempt.
const ATTEMPT: Duration = Duration::from_secs(3);
/// Pause between attempts that failed at once (connection refused), so a
/// closed port is not hammered; never longer than the time left.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// The port accepted a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reachable {
    pub addr: SocketAddr,
    pub attempts: u32,
    pub elapsed: Duration,
}

/// The port did not accept a connection before the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReachable {
    pub addr: SocketAddr,
    pub attempts: u32,
    pub waited: Duration,
    pub last_error: String,
}

impl fmt::Display for NotReachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} did not accept a TCP connection in {:?} ({} attempts; last error: {}): check that the firewall VM is running, its LAN address and that the node has a route to it",
            self.addr, self.waited, self.attempts, self.last_error
        )
    }
}

impl std::error::Error for NotReachable {}

/// Try to open a TCP connection to `addr:port` until one succeeds or
/// `deadline` passes. The connection is closed at once.
pub fn check_reachable(
    addr: IpAddr,
    port: u16,
    deadline: Instant,
) -> Result<Reachable, NotReachable> {
    let target = SocketAddr::new(addr, port);
    let start = Instant::now();
    let mut attempts = 0;
    let mut last_error = String::from("no attempt was made (deadline already passed)");
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(NotReachable {
                addr: target,
                attempts,
                waited: now.duration_since(start),
                last_error,
            });
        }
        let budget = (deadline - now).min(ATTEMPT);
        attempts += 1;
        match TcpStream::connect_timeout(&target, budget) {
            Ok(_) => {
                return Ok(Reachable {
                    addr: target,
                    attempts,
                    elapsed: start.elapsed(),
                })
            }
            Err(e) => last_error = e.to_string(),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(RETRY_PAUSE.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn a_listening_port_is_reachable_at_once() {
        let listener = TcpListener::bind((LOCALHOST, 0)).expect("bind a local port");
        let port = listener.local_addr().expect("local address").port();
        let ok = check_reachable(LOCALHOST, port, Instant::now() + Duration::from_secs(5))
            .expect("the listener is reachable");
        assert_eq!(ok.attempts, 1);
        assert_eq!(ok.addr.port(), port);
    }

    #[test]
    fn a_closed_port_fails_at_the_deadline_with_the_error() {
        // Bind then drop: the port is (almost surely) closed afterwards.
        let port = TcpListener::bind((LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let started = Instant::now();
        let err = check_reachable(LOCALHOST, port, started + Duration::from_millis(800))
            .expect_err("nothing listens there");
        let waited = started.elapsed();
        assert!(err.attempts >= 2, "retried: {err:?}");
        assert!(waited >= Duration::from_millis(800), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "no hang: {waited:?}");
        assert!(err.to_string().contains(&port.to_string()));
        assert!(!err.last_error.is_empty());
    }

    #[test]
    fn a_port_that_opens_later_is_found_by_a_retry() {
        let port = TcpListener::bind((LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let opener = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            let listener = TcpListener::bind((LOCALHOST, port)).expect("rebind the port");
            opened_tx.send(()).expect("tell the test");
            // Keep it open until the check has connected.
            let _ = listener.accept();
        });
        let ok = check_reachable(LOCALHOST, port, Instant::now() + Duration::from_secs(10))
            .expect("reachable once the listener is up");
        opened_rx
            .recv_timeout(Duration::from_secs(1))
            .expect("the listener was opened before the connection succeeded");
        assert!(ok.attempts >= 2, "{ok:?}");
        opener.join().expect("opener thread");
    }

    #[test]
    fn a_past_deadline_makes_no_attempt() {
        let err = check_reachable(LOCALHOST, 9, Instant::now()).expect_err("no time");
        assert_eq!(err.attempts, 0);
    }
}

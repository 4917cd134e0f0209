//! The progress screen driven by scripted engine events, and the loop's
//! behaviour with a real channel.

mod common;

use std::time::{Duration, Instant};

use common::*;
use crossterm::event::KeyCode;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tappaas_exec::{CommandFailure, Event};
use tappaas_wizard::{Charset, Progress, ProgressOutcome};

#[test]
fn progress_counts_steps_and_shows_the_current_one_with_its_time() {
    let t0 = Instant::now();
    let p = running(t0);
    assert_eq!(p.done(), 2);
    let text = screen(&p, 80, 24);
    let total = p.steps.len();
    assert!(text.contains(&format!("2 of {total} steps done")), "{text}");
    assert!(text.contains("Now: 3. "), "{text}");
    assert!(text.contains("(12 s)"), "{text}");
    // The log follows its end.
    assert!(text.contains("output line 29"), "{text}");
    assert!(!text.contains("output line 0 "), "{text}");
}

#[test]
fn the_log_scrolls_back_and_follows_again() {
    let mut p = running(Instant::now());
    p.handle_key(key(KeyCode::PageUp));
    p.handle_key(key(KeyCode::PageUp));
    let text = screen(&p, 80, 24);
    assert!(text.contains("lines back"), "{text}");
    assert!(!text.contains("output line 29"), "{text}");
    p.handle_key(key(KeyCode::End));
    assert!(screen(&p, 80, 24).contains("output line 29"));
}

#[test]
fn a_failure_shows_the_command_status_and_tail_and_offers_choices() {
    let t0 = Instant::now();
    let mut p = failed(t0);
    let text = screen(&p, 80, 24);
    assert!(text.contains("! Step 3 failed"), "{text}");
    assert!(text.contains("Command: sgdisk --new=1:1M"), "{text}");
    assert!(text.contains("exit status 4"), "{text}");
    assert!(text.contains("sgdisk: tail line 12"), "{text}");
    assert!(text.contains(">[ Retry the step ]"), "{text}");
    assert_eq!(
        p.handle_key(key(KeyCode::Enter)),
        Some(ProgressOutcome::Retry { index: 2 })
    );
    p.handle_key(key(KeyCode::Right));
    assert_eq!(
        p.handle_key(key(KeyCode::Enter)),
        Some(ProgressOutcome::Shell)
    );
    p.handle_key(key(KeyCode::Right));
    assert_eq!(
        p.handle_key(key(KeyCode::Enter)),
        Some(ProgressOutcome::SaveLogs)
    );
    p.set_status("logs saved to /media/usb/tappaas-install.log");
    assert!(screen(&p, 80, 24).contains("logs saved to"));
    // A retry starts the step again: the failure screen goes.
    let id = p.steps[2].id.clone();
    let title = p.steps[2].title.clone();
    p.on_event(
        Event::StepStarted {
            index: 2,
            id,
            title,
        },
        t0,
    );
    assert!(p.failure.is_none());
}

#[test]
fn the_end_says_what_to_do_next_and_where_the_node_is() {
    let p = finished(Instant::now());
    let text = screen(&p, 80, 24);
    assert!(text.contains("is installed"), "{text}");
    assert!(text.contains("12 min 34 s"), "{text}");
    assert!(text.contains("https://10.0.0.10:8006"), "{text}");
    let mut p = p;
    assert_eq!(
        p.handle_key(key(KeyCode::Enter)),
        Some(ProgressOutcome::Done)
    );
}

#[test]
fn the_log_is_bounded() {
    let mut p = running(Instant::now());
    for i in 0..(tappaas_wizard::screens::progress::LOG_LINES + 10) {
        p.on_event(
            Event::Output {
                line: format!("l{i}"),
            },
            Instant::now(),
        );
    }
    assert_eq!(p.log.len(), tappaas_wizard::screens::progress::LOG_LINES);
}

#[test]
fn the_loop_runs_on_channels_until_the_user_chooses() {
    use std::sync::mpsc;
    let plan = plan();
    let s = steps(&plan);
    let mut p = Progress::new(&plan, Instant::now());
    let (etx, erx) = mpsc::channel();
    let (ktx, krx) = mpsc::channel();
    // The engine: two steps, then a failure.
    etx.send(Event::Started { steps: s.clone() }).expect("send");
    etx.send(Event::StepStarted {
        index: 0,
        id: s[0].id.clone(),
        title: s[0].title.clone(),
    })
    .expect("send");
    etx.send(Event::StepFinished {
        index: 0,
        id: s[0].id.clone(),
        elapsed: Duration::from_secs(1),
    })
    .expect("send");
    etx.send(Event::StepStarted {
        index: 1,
        id: s[1].id.clone(),
        title: s[1].title.clone(),
    })
    .expect("send");
    etx.send(Event::Failed {
        index: 1,
        id: s[1].id.clone(),
        failure: CommandFailure {
            what: "wipefs --all --force /dev/disk/by-id/x".into(),
            status: Some(1),
            message: "exit status 1".into(),
            output_tail: vec![
                "wipefs: error: /dev/disk/by-id/x: probing initialization failed".into(),
            ],
        },
    })
    .expect("send");
    drop(etx);
    // The user: Right to "Open a shell", Enter.
    let keys = std::thread::spawn(move || {
        // After the engine's events have been forwarded.
        std::thread::sleep(Duration::from_millis(200));
        ktx.send(key(KeyCode::Right)).expect("key");
        ktx.send(key(KeyCode::Enter)).expect("key");
    });
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let outcome =
        tappaas_wizard::app::drive_progress(&mut terminal, &mut p, erx, krx, Charset::Ascii)
            .expect("loop");
    keys.join().expect("keys");
    assert_eq!(outcome, ProgressOutcome::Shell);
    assert_eq!(p.done(), 1);
    let text = text_of(terminal.backend().buffer());
    assert!(text.contains("probing initialization failed"), "{text}");
}

#[test]
fn an_engine_that_vanishes_is_a_failure_not_a_hang() {
    use std::sync::mpsc;
    let plan = plan();
    let s = steps(&plan);
    let mut p = Progress::new(&plan, Instant::now());
    let (etx, erx) = mpsc::channel();
    let (ktx, krx) = mpsc::channel();
    etx.send(Event::Started { steps: s.clone() }).expect("send");
    etx.send(Event::StepStarted {
        index: 0,
        id: s[0].id.clone(),
        title: s[0].title.clone(),
    })
    .expect("send");
    drop(etx);
    let keys = std::thread::spawn(move || {
        // After the engine's events have been forwarded.
        std::thread::sleep(Duration::from_millis(200));
        ktx.send(key(KeyCode::Char('l'))).expect("key");
    });
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let outcome =
        tappaas_wizard::app::drive_progress(&mut terminal, &mut p, erx, krx, Charset::Ascii)
            .expect("loop");
    keys.join().expect("keys");
    assert_eq!(outcome, ProgressOutcome::SaveLogs);
    assert!(p
        .failure
        .as_ref()
        .is_some_and(|f| f.failure.message.contains("without reporting an end")));
}

/// First boot's screen: the same display, its own wording, and it ends by
/// itself so that nobody needs to be at a booting node.
mod first_boot {
    use super::*;
    use std::sync::mpsc;

    /// Runs the loop on `events`, then `keys` (sent once the events are
    /// in); returns what it ended with and the last screen.
    fn drive(
        p: &mut Progress,
        events: Vec<Event>,
        keys: Vec<crossterm::event::KeyEvent>,
    ) -> (ProgressOutcome, String) {
        let (etx, erx) = mpsc::channel();
        let (ktx, krx) = mpsc::channel();
        for e in events {
            etx.send(e).expect("send");
        }
        drop(etx);
        let keys = std::thread::spawn(move || {
            // After the engine's events have been forwarded.
            std::thread::sleep(Duration::from_millis(200));
            for k in keys {
                // The loop may have returned already: that is its answer.
                let _ = ktx.send(k);
            }
        });
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
        let outcome =
            tappaas_wizard::app::drive_progress(&mut terminal, p, erx, krx, Charset::Ascii)
                .expect("loop");
        keys.join().expect("keys");
        (outcome, text_of(terminal.backend().buffer()))
    }

    fn first_boot_steps() -> Vec<tappaas_exec::StepInfo> {
        ["ready", "cluster", "storage-tank1"]
            .iter()
            .map(|id| tappaas_exec::StepInfo {
                id: id.to_string(),
                title: format!("title of {id}"),
            })
            .collect()
    }

    #[test]
    fn it_names_the_node_and_counts_the_steps_it_is_sent() {
        let t0 = Instant::now();
        let mut p = Progress::first_boot("tappaas1.home.lan".into(), t0);
        let s = first_boot_steps();
        p.on_event(Event::Started { steps: s.clone() }, t0);
        p.on_event(
            Event::StepStarted {
                index: 0,
                id: s[0].id.clone(),
                title: s[0].title.clone(),
            },
            t0,
        );
        p.tick(t0 + Duration::from_secs(5));
        let text = screen(&p, 80, 24);
        assert!(
            text.contains("First boot of tappaas1.home.lan: 0 of 3 steps done (0%)"),
            "{text}"
        );
        assert!(text.contains("Now: 1. title of ready (5 s)"), "{text}");
        assert_eq!(p.screen_title(), " TAPPaaS first boot");
        assert!(!p.waits_for_confirmation());
    }

    #[test]
    fn the_loop_returns_when_first_boot_finishes_without_a_key() {
        let mut p = Progress::first_boot("n1.lan".into(), Instant::now());
        let s = first_boot_steps();
        let mut events = vec![Event::Started { steps: s.clone() }];
        for (index, step) in s.iter().enumerate() {
            events.push(Event::StepStarted {
                index,
                id: step.id.clone(),
                title: step.title.clone(),
            });
            events.push(Event::StepFinished {
                index,
                id: step.id.clone(),
                elapsed: Duration::from_secs(1),
            });
        }
        events.push(Event::Finished {
            elapsed: Duration::from_secs(3),
        });
        let (outcome, _) = drive(&mut p, events, Vec::new());
        assert_eq!(outcome, ProgressOutcome::Done);
        assert_eq!(p.done(), 3);
    }

    #[test]
    fn a_run_that_ends_without_steps_returns_for_the_caller_to_report() {
        // E.g. Proxmox is not installed: the run reports that, not the screen.
        let mut p = Progress::first_boot("n1.lan".into(), Instant::now());
        let (outcome, _) = drive(&mut p, Vec::new(), Vec::new());
        assert_eq!(outcome, ProgressOutcome::Done);
        assert!(p.failure.is_none());
    }

    #[test]
    fn a_failed_step_waits_for_the_users_choice() {
        let mut p = Progress::first_boot("n1.lan".into(), Instant::now());
        let s = first_boot_steps();
        let events = vec![
            Event::Started { steps: s.clone() },
            Event::Failed {
                index: 1,
                id: s[1].id.clone(),
                failure: CommandFailure {
                    what: "POST /cluster/config".into(),
                    status: None,
                    message: "cluster not ready - no quorum?".into(),
                    output_tail: Vec::new(),
                },
            },
        ];
        let (outcome, text) = drive(&mut p, events, vec![key(KeyCode::Enter)]);
        assert_eq!(outcome, ProgressOutcome::Retry { index: 1 });
        assert!(text.contains("no quorum"), "{text}");
        assert!(text.contains("TAPPaaS first boot"), "{text}");
    }
}

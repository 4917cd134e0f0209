//! Time to render one frame of the busiest screens at 120x40: the summary
//! (planner output, every erased disk), the disks of a 12-disk server, the
//! full plan, and the progress screen with a full log.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_exec::{Event, StepInfo};
use tappaas_hardware::MachineProfile;
use tappaas_plan::Environment;
use tappaas_wizard::{Charset, Context, PeerCertificate, PeerError, Progress, Wizard};

struct NoPeer;

impl PeerCertificate for NoPeer {
    fn fingerprint(&self, peer: &str) -> Result<String, PeerError> {
        Err(PeerError::Resolve {
            peer: peer.into(),
            reason: "benchmark".into(),
        })
    }
}

fn machine(name: &str) -> MachineProfile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/machines")
        .join(name)
        .join("profile.json");
    let text = std::fs::read_to_string(path).expect("profile");
    MachineProfile::from_json(&text).expect("profile json")
}

fn wizard(name: &str) -> Wizard {
    let mut ctx = Context::new(machine(name), Environment::default());
    ctx.charset = Charset::Ascii;
    Wizard::new(ctx, Box::new(NoPeer))
}

fn keys(w: &mut Wizard, code: KeyCode, n: usize) {
    for _ in 0..n {
        w.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
    }
}

fn text(w: &mut Wizard, s: &str) {
    w.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    for c in s.chars() {
        keys(w, KeyCode::Char(c), 1);
    }
}

/// nvme2-hdd4 typed through to the summary (as the tests do): the
/// proposed disks, the network defaults, credentials, the firewall's
/// defaults, the default services.
fn summary() -> Wizard {
    let mut w = wizard("nvme2-hdd4");
    keys(&mut w, KeyCode::Enter, 3);
    // The focus starts on Next: Enter accepts the proposed layout.
    keys(&mut w, KeyCode::Enter, 1);
    keys(&mut w, KeyCode::Tab, 7);
    text(&mut w, "home.lan");
    keys(&mut w, KeyCode::Tab, 1);
    keys(&mut w, KeyCode::Enter, 1);
    keys(&mut w, KeyCode::Tab, 1);
    keys(&mut w, KeyCode::Enter, 1);
    text(&mut w, "benchmark-password");
    keys(&mut w, KeyCode::Tab, 1);
    text(&mut w, "benchmark-password");
    keys(&mut w, KeyCode::Tab, 3);
    text(&mut w, "admin@home.lan");
    keys(&mut w, KeyCode::Tab, 4);
    keys(&mut w, KeyCode::Enter, 1);
    assert_eq!(
        w.step,
        tappaas_wizard::Step::Firewall,
        "the typing did not reach the firewall screen"
    );
    keys(&mut w, KeyCode::Tab, 3);
    keys(&mut w, KeyCode::Enter, 1);
    keys(&mut w, KeyCode::Tab, 16);
    keys(&mut w, KeyCode::Enter, 1);
    assert_eq!(
        w.step,
        tappaas_wizard::Step::Summary,
        "the typing did not reach the summary"
    );
    w
}

fn render(c: &mut Criterion) {
    let area = Rect::new(0, 0, 120, 40);
    let mut buf = Buffer::empty(area);

    let s = summary();
    c.bench_function("summary 120x40", |b| {
        b.iter(|| {
            buf.reset();
            s.render(area, &mut buf);
        })
    });

    let mut plan = summary();
    let view = plan.screens.summary.view_button;
    plan.screens.summary.form.focus = view;
    keys(&mut plan, KeyCode::Enter, 1);
    keys(&mut plan, KeyCode::PageDown, 5);
    c.bench_function("full plan 120x40", |b| {
        b.iter(|| {
            buf.reset();
            plan.render(area, &mut buf);
        })
    });

    // Every disk with a role and a reason: the proposal.
    let mut disks = wizard("server12");
    keys(&mut disks, KeyCode::Enter, 3);
    c.bench_function("disks of server12 120x40", |b| {
        b.iter(|| {
            buf.reset();
            disks.render(area, &mut buf);
        })
    });

    let p = plan_of(&s);
    let t0 = Instant::now();
    let mut progress = Progress::new(&p, t0);
    let steps: Vec<StepInfo> = p
        .steps
        .iter()
        .map(|s| StepInfo {
            id: s.id.clone(),
            title: s.title.clone(),
        })
        .collect();
    progress.on_event(
        Event::Started {
            steps: steps.clone(),
        },
        t0,
    );
    progress.on_event(
        Event::StepStarted {
            index: 3,
            id: steps[3].id.clone(),
            title: steps[3].title.clone(),
        },
        t0,
    );
    for i in 0..tappaas_wizard::screens::progress::LOG_LINES {
        progress.on_event(
            Event::Output {
                line: format!("unsquashfs: inflating file {i} of the target system"),
            },
            t0,
        );
    }
    progress.tick(t0 + Duration::from_secs(75));
    c.bench_function("progress with a full log 120x40", |b| {
        b.iter(|| {
            buf.reset();
            progress.render(area, &mut buf, Charset::Ascii);
        })
    });
}

fn plan_of(w: &Wizard) -> tappaas_plan::Plan {
    tappaas_plan::plan(&w.ctx.machine, &w.ctx.answer, &w.ctx.env).expect("plan")
}

criterion_group!(benches, render);
criterion_main!(benches);

//! What the wizard's tests share: a recorded machine, a fake peer, keys,
//! and the typing that fills every screen for nvme2-hdd4.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use tappaas_exec::{CommandFailure, Event, StepInfo};
use tappaas_hardware::MachineProfile;
use tappaas_plan::Environment;
use tappaas_wizard::{
    Charset, Context, Outcome, PeerCertificate, PeerError, Progress, Step, Wizard,
};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn machine(name: &str) -> MachineProfile {
    let path = repo().join(format!("tests/fixtures/machines/{name}/profile.json"));
    let text = std::fs::read_to_string(&path).expect("read profile");
    MachineProfile::from_json(&text).expect("parse profile")
}

/// A peer whose certificate has this fingerprint (or that fails so).
pub struct FakePeer(pub Result<String, PeerError>);

impl PeerCertificate for FakePeer {
    fn fingerprint(&self, _peer: &str) -> Result<String, PeerError> {
        self.0.clone()
    }
}

pub const FINGERPRINT: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

pub fn wizard_on(name: &str) -> Wizard {
    wizard_for(machine(name))
}

pub fn wizard_for(machine: MachineProfile) -> Wizard {
    let mut ctx = Context::new(machine, Environment::default());
    ctx.charset = Charset::Ascii;
    Wizard::new(ctx, Box::new(FakePeer(Ok(FINGERPRINT.to_string()))))
}

/// nvme2-hdd4 as if its second NIC (enp6s0, recorded without a link) were
/// plugged into a home router: the live system holds a DHCP lease there,
/// none on enp5s0 (which has a link too).
pub fn nvme2_hdd4_with_lease() -> MachineProfile {
    let mut m = machine("nvme2-hdd4");
    let nic = m
        .nics
        .iter_mut()
        .find(|n| n.name == "enp6s0")
        .expect("enp6s0");
    nic.link = Some(true);
    nic.dhcp = Some(tappaas_hardware::DhcpLease {
        address: "192.168.178.23".parse().expect("address"),
        prefix: 24,
        gateway: Some("192.168.178.1".parse().expect("gateway")),
        dns: vec![
            "192.168.178.1".parse().expect("dns"),
            "9.9.9.9".parse().expect("dns"),
        ],
        domain: Some("fritz.box".into()),
        search: Vec::new(),
    });
    m
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

pub fn press(w: &mut Wizard, code: KeyCode, times: usize) -> Outcome {
    let mut last = Outcome::Continue;
    for _ in 0..times {
        last = w.handle_key(key(code));
        // What the terminal loop does after drawing "connecting ...".
        if w.has_pending() {
            last = w.run_pending();
        }
    }
    last
}

pub fn type_text(w: &mut Wizard, text: &str) {
    for c in text.chars() {
        w.handle_key(key(KeyCode::Char(c)));
    }
}

/// Replaces the focused field's text.
pub fn retype(w: &mut Wizard, text: &str) {
    w.handle_key(ctrl('u'));
    type_text(w, text);
}

pub const PASSWORD: &str = "golden-test-password";
pub const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG4rT3vTt99Ox5kndS4HmgTrKBT8SKzhK4rhGkEVGlCI admin@laptop";

/// Welcome, create, hardware: to the disks screen.
pub fn to_disks(w: &mut Wizard) {
    press(w, KeyCode::Enter, 3);
    assert_eq!(w.step, Step::Disks);
}

/// The proposed layout, as it is: both NVMe disks boot (raid1), the four
/// HDDs tank1 (raid10). The focus starts on Next, so the caller's Enter
/// accepts it.
pub fn fill_disks(w: &mut Wizard) {
    use tappaas_wizard::screens::disks::Role;
    let d = &w.screens.disks;
    let roles: Vec<Role> = (0..w.ctx.machine.disks.len()).map(|i| d.role(i)).collect();
    assert_eq!(
        roles,
        [
            Role::Boot,
            Role::Boot,
            Role::Tank1,
            Role::Tank1,
            Role::Tank1,
            Role::Tank1
        ]
    );
    assert_eq!(d.form.focus, d.form.items.len() - 1, "the focus is on Next");
}

/// The defaults, with the domain home.lan.
pub fn fill_network(w: &mut Wizard) {
    press(w, KeyCode::Tab, 7);
    retype(w, "home.lan");
    press(w, KeyCode::Tab, 1);
}

pub fn fill_credentials(w: &mut Wizard) {
    type_text(w, PASSWORD);
    press(w, KeyCode::Tab, 1);
    type_text(w, PASSWORD);
    press(w, KeyCode::Tab, 1);
    type_text(w, SSH_KEY);
    press(w, KeyCode::Tab, 2);
    type_text(w, "admin@home.lan");
    press(w, KeyCode::Tab, 1);
    retype(w, "Europe/Amsterdam");
    press(w, KeyCode::Tab, 2);
    retype(w, "nl");
    press(w, KeyCode::Tab, 1);
}

/// The firewall screen of a first node, every screen before it filled
/// as `to_summary` does.
pub fn to_firewall(w: &mut Wizard) {
    to_disks(w);
    fill_disks(w);
    press(w, KeyCode::Enter, 1);
    fill_network(w);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Cluster);
    press(w, KeyCode::Tab, 1);
    press(w, KeyCode::Enter, 1);
    fill_credentials(w);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Firewall);
}

/// The firewall screen's defaults: deployed, the convention's LAN
/// address, WAN by DHCP; Tab to Next (the static fields are hidden).
pub fn accept_firewall(w: &mut Wizard) {
    press(w, KeyCode::Tab, 3);
    press(w, KeyCode::Enter, 1);
}

/// Every screen filled for nvme2-hdd4, up to the summary.
pub fn to_summary(w: &mut Wizard) {
    to_disks(w);
    fill_disks(w);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Network);
    fill_network(w);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Cluster);
    press(w, KeyCode::Tab, 1);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Credentials);
    fill_credentials(w);
    press(w, KeyCode::Enter, 1);
    if w.ctx.env.firewall_image.is_some() {
        assert_eq!(w.step, Step::Firewall);
        accept_firewall(w);
    }
    assert_eq!(w.step, Step::Services);
    press(w, KeyCode::Tab, 16);
    press(w, KeyCode::Enter, 1);
    assert_eq!(w.step, Step::Summary);
}

/// The screen as text, one line per row, trailing blanks kept so that
/// the snapshot shows the size.
pub fn text_of(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

pub fn draw(w: &Wizard, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| f.render_widget(w, f.area()))
        .expect("draw");
    terminal.backend().buffer().clone()
}

// ---------------------------------------------------- progress screens

pub fn plan() -> tappaas_plan::Plan {
    let answer = tappaas_answer::parse_file(&repo().join("tests/fixtures/wizard/nvme2-hdd4.toml"))
        .expect("answer");
    tappaas_plan::plan(&machine("nvme2-hdd4"), &answer, &Environment::default()).expect("plan")
}

pub fn steps(p: &tappaas_plan::Plan) -> Vec<StepInfo> {
    p.steps
        .iter()
        .map(|s| StepInfo {
            id: s.id.clone(),
            title: s.title.clone(),
        })
        .collect()
}

pub fn screen(p: &Progress, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| p.render(f.area(), f.buffer_mut(), Charset::Ascii))
        .expect("draw");
    text_of(t.backend().buffer())
}

/// Two steps done (one from an earlier run), the third running for 12 s
/// with some output.
pub fn running(t0: Instant) -> Progress {
    let plan = plan();
    let mut p = Progress::new(&plan, t0);
    let s = steps(&plan);
    let ev = |i: usize| (s[i].id.clone(), s[i].title.clone());
    p.on_event(Event::Started { steps: s.clone() }, t0);
    p.on_event(
        Event::StepSkipped {
            index: 0,
            id: ev(0).0,
        },
        t0,
    );
    p.on_event(
        Event::StepStarted {
            index: 1,
            id: ev(1).0,
            title: ev(1).1,
        },
        t0,
    );
    p.on_event(
        Event::Action {
            index: 1,
            text: "$ wipefs --all --force /dev/disk/by-id/ata-WDC_WD40EFZX-68AWUN0_WD-WX12D80ABC01"
                .into(),
        },
        t0,
    );
    p.on_event(
        Event::Output {
            line: "/dev/sda: 8 bytes were erased at offset 0x00000200 (gpt)".into(),
        },
        t0,
    );
    p.on_event(
        Event::StepFinished {
            index: 1,
            id: ev(1).0,
            elapsed: Duration::from_secs(3),
        },
        t0,
    );
    p.on_event(
        Event::StepStarted {
            index: 2,
            id: ev(2).0,
            title: ev(2).1,
        },
        t0,
    );
    for i in 0..30 {
        p.on_event(
            Event::Output {
                line: format!("output line {i}"),
            },
            t0,
        );
    }
    p.tick(t0 + Duration::from_secs(12));
    p
}

pub fn failed(t0: Instant) -> Progress {
    let mut p = running(t0);
    let id = p.steps[2].id.clone();
    p.on_event(
        Event::Failed {
            index: 2,
            id,
            failure: CommandFailure {
                what: "sgdisk --new=1:1M:+1024K --typecode=1:EF02 /dev/disk/by-id/nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R401234B".into(),
                status: Some(4),
                message: "the command exited with status 4".into(),
                output_tail: (1..=12).map(|i| format!("sgdisk: tail line {i}")).collect(),
            },
        },
        t0 + Duration::from_secs(13),
    );
    p
}

pub fn finished(t0: Instant) -> Progress {
    let plan = plan();
    let mut p = Progress::new(&plan, t0);
    let s = steps(&plan);
    p.on_event(Event::Started { steps: s.clone() }, t0);
    for (i, st) in s.iter().enumerate() {
        p.on_event(
            Event::StepStarted {
                index: i,
                id: st.id.clone(),
                title: st.title.clone(),
            },
            t0,
        );
        p.on_event(
            Event::StepFinished {
                index: i,
                id: st.id.clone(),
                elapsed: Duration::from_secs(5),
            },
            t0,
        );
    }
    p.on_event(
        Event::Finished {
            elapsed: Duration::from_secs(754),
        },
        t0,
    );
    p
}
pub mod state;

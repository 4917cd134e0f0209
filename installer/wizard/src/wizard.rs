//! The wizard's state machine: which screen is shown, the answer being
//! built, and the messages screens send. Pure apart from the two things a
//! user asks for explicitly (fetching the peer's certificate, behind a
//! trait, and saving the answer file): no terminal, so tests drive it key
//! by key.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use tappaas_answer::{Answer, ClusterAction, Firewall};
use tappaas_plan::{Environment, Plan};

use crate::context::Context;
use crate::peer::PeerCertificate;
use crate::screens::cluster::Cluster;
use crate::screens::credentials::Credentials;
use crate::screens::disks::Disks;
use crate::screens::firewall::FirewallScreen;
use crate::screens::hardware::Hardware;
use crate::screens::mode::Mode;
use crate::screens::network::NetworkScreen;
use crate::screens::plan_view::PlanView;
use crate::screens::services::Services;
use crate::screens::summary::Summary;
use crate::screens::welcome::Welcome;
use crate::screens::{Handled, Msg, Reply, Screen};
use crate::theme;

/// How the wizard ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WizardOutcome {
    /// The user confirmed: install this plan (made from this answer).
    Install {
        answer: Box<Answer>,
        plan: Box<Plan>,
    },
    /// A dry run ended at the confirmation: the plan, nothing written.
    DryRun(Box<Plan>),
    Cancelled,
}

/// The result of one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Continue,
    Finished(WizardOutcome),
}

/// The screens, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Welcome,
    Mode,
    Hardware,
    Disks,
    Network,
    Cluster,
    Credentials,
    Firewall,
    Services,
    Summary,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::Welcome,
        Step::Mode,
        Step::Hardware,
        Step::Disks,
        Step::Network,
        Step::Cluster,
        Step::Credentials,
        Step::Firewall,
        Step::Services,
        Step::Summary,
    ];

    /// The steps shown for this kind of install: a joining node deploys
    /// no firewall and no services (the first node does), and on an ISO
    /// without the OPNsense image there is no firewall to set up (the
    /// planner says so on the summary).
    pub fn shown(action: ClusterAction, env: &Environment) -> Vec<Step> {
        let first = action == ClusterAction::Create;
        Step::ALL
            .into_iter()
            .filter(|s| match s {
                Step::Firewall => first && env.firewall_image.is_some(),
                Step::Services => first,
                _ => true,
            })
            .collect()
    }
}

/// Every screen's state. It stays when the user moves between screens, so
/// going back loses nothing.
#[derive(Debug)]
pub struct Screens {
    pub welcome: Welcome,
    pub mode: Mode,
    pub hardware: Hardware,
    pub disks: Disks,
    pub network: NetworkScreen,
    pub cluster: Cluster,
    pub credentials: Credentials,
    pub firewall: FirewallScreen,
    pub services: Services,
    pub summary: Summary,
}

impl Screens {
    fn get(&mut self, step: Step) -> &mut dyn Screen {
        match step {
            Step::Welcome => &mut self.welcome,
            Step::Mode => &mut self.mode,
            Step::Hardware => &mut self.hardware,
            Step::Disks => &mut self.disks,
            Step::Network => &mut self.network,
            Step::Cluster => &mut self.cluster,
            Step::Credentials => &mut self.credentials,
            Step::Firewall => &mut self.firewall,
            Step::Services => &mut self.services,
            Step::Summary => &mut self.summary,
        }
    }

    fn get_ref(&self, step: Step) -> &dyn Screen {
        match step {
            Step::Welcome => &self.welcome,
            Step::Mode => &self.mode,
            Step::Hardware => &self.hardware,
            Step::Disks => &self.disks,
            Step::Network => &self.network,
            Step::Cluster => &self.cluster,
            Step::Credentials => &self.credentials,
            Step::Firewall => &self.firewall,
            Step::Services => &self.services,
            Step::Summary => &self.summary,
        }
    }
}

pub struct Wizard {
    pub ctx: Context,
    pub step: Step,
    pub screens: Screens,
    /// The full plan, over the summary.
    pub plan_view: Option<PlanView>,
    queue: VecDeque<Msg>,
    peer: Box<dyn PeerCertificate>,
    /// The peer whose certificate is to be fetched after the next frame.
    pending: Option<String>,
    outcome: Option<WizardOutcome>,
    /// Reads the machine's DHCP leases again (see `with_lease_refresh`).
    refresh_leases: Option<LeaseRefresh>,
}

/// What the live system's NICs hold now: each NIC's lease, by name.
pub type LeaseRefresh = Box<dyn FnMut() -> Vec<(String, Option<tappaas_hardware::DhcpLease>)>>;

impl Wizard {
    pub fn new(ctx: Context, peer: Box<dyn PeerCertificate>) -> Self {
        let screens = Screens {
            welcome: Welcome,
            mode: Mode::default(),
            hardware: Hardware::default(),
            disks: Disks::new(&ctx.machine),
            network: NetworkScreen::new(&ctx.machine),
            cluster: Cluster::new(),
            credentials: Credentials::new(),
            firewall: FirewallScreen::new(),
            services: Services::new(),
            summary: Summary::default(),
        };
        Wizard {
            ctx,
            step: Step::Welcome,
            screens,
            plan_view: None,
            queue: VecDeque::new(),
            peer,
            pending: None,
            outcome: None,
            refresh_leases: None,
        }
    }

    /// On a live machine, DHCP may finish after the wizard has started: the
    /// leases are read again each time the network screen is entered, so
    /// its defaults are what the network offers by then. The machine stays
    /// plain data; this is the only way new facts get in.
    pub fn with_lease_refresh(mut self, refresh: LeaseRefresh) -> Self {
        self.refresh_leases = Some(refresh);
        self
    }

    fn steps(&self) -> Vec<Step> {
        Step::shown(self.ctx.answer.cluster.action, &self.ctx.env)
    }

    /// The screen shown now.
    pub fn screen(&self) -> &dyn Screen {
        self.screens.get_ref(self.step)
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Outcome {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Outcome::Finished(WizardOutcome::Cancelled);
        }
        if let Some(view) = &mut self.plan_view {
            if view.handle_key(key, &self.ctx) == Handled::Ignored
                && matches!(key.code, KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter)
            {
                self.plan_view = None;
            }
            return Outcome::Continue;
        }
        match self.screens.get(self.step).handle_key(key, &self.ctx) {
            Handled::Msg(m) => self.queue.push_back(m),
            Handled::Ignored if key.code == KeyCode::Esc => self.queue.push_back(Msg::Back),
            Handled::Ignored | Handled::Consumed => {}
        }
        self.process();
        match self.outcome.take() {
            Some(o) => Outcome::Finished(o),
            None => Outcome::Continue,
        }
    }

    fn go(&mut self, forward: bool) {
        let screen = self.screens.get(self.step);
        screen.apply(&mut self.ctx.answer);
        let steps = self.steps();
        if !steps.contains(&Step::Firewall) {
            // As in an answer file without [firewall]: what the screen
            // said when it was shown (before a switch to join) must not
            // stay in an answer that no screen shows.
            self.ctx.answer.firewall = Firewall::default();
        }
        let pos = steps.iter().position(|s| *s == self.step).unwrap_or(0);
        let next = if forward {
            steps.get(pos + 1)
        } else {
            pos.checked_sub(1).and_then(|p| steps.get(p))
        };
        if let Some(next) = next {
            self.step = *next;
            if self.step == Step::Network {
                if let Some(refresh) = &mut self.refresh_leases {
                    for (name, lease) in refresh() {
                        if let Some(nic) = self.ctx.machine.nics.iter_mut().find(|n| n.name == name)
                        {
                            nic.dhcp = lease;
                        }
                    }
                }
            }
            self.screens.get(self.step).enter(&self.ctx);
        }
    }

    fn plan(&self) -> Result<Plan, Vec<tappaas_plan::PlanError>> {
        tappaas_plan::plan(&self.ctx.machine, &self.ctx.answer, &self.ctx.env)
    }

    fn process(&mut self) {
        while let Some(msg) = self.queue.pop_front() {
            match msg {
                Msg::Next => self.go(true),
                Msg::Back => self.go(false),
                Msg::Cancel => self.outcome = Some(WizardOutcome::Cancelled),
                Msg::FetchFingerprint { peer } => {
                    // Connecting may take the whole timeout: the caller
                    // draws the screen ("connecting ...") first, then runs
                    // it with `run_pending`.
                    self.pending = Some(peer);
                    return;
                }
                Msg::SaveAnswer { path } => {
                    let text = tappaas_answer::to_toml(&self.ctx.answer);
                    // Whole or not at all (a stick pulled mid-write), and
                    // root's alone: it names hosts, keys and pins.
                    let result = tappaas_effects::write_atomic(
                        std::path::Path::new(&path),
                        0o600,
                        text.as_bytes(),
                    )
                    .map(|_| path.clone())
                    .map_err(|e| format!("cannot write {path}: {e}"));
                    self.screens.get(self.step).receive(Reply::Saved(result));
                }
                Msg::ShowPlan => {
                    if let Ok(plan) = self.plan() {
                        self.plan_view = Some(PlanView::new(&plan));
                    }
                }
                Msg::Install => {
                    if let Ok(plan) = self.plan() {
                        let plan = Box::new(plan);
                        self.outcome = Some(if self.ctx.dry_run {
                            WizardOutcome::DryRun(plan)
                        } else {
                            WizardOutcome::Install {
                                answer: Box::new(self.ctx.answer.clone()),
                                plan,
                            }
                        });
                    }
                }
            }
        }
    }

    /// Whether a slow request (the peer's certificate) waits for
    /// [`run_pending`](Self::run_pending), to be run after a frame is drawn.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Runs the waiting request and hands its result to the screen.
    pub fn run_pending(&mut self) -> Outcome {
        if let Some(peer) = self.pending.take() {
            let result = self.peer.fingerprint(&peer);
            self.screens
                .get(self.step)
                .receive(Reply::Fingerprint(result));
            self.process();
        }
        match self.outcome.take() {
            Some(o) => Outcome::Finished(o),
            None => Outcome::Continue,
        }
    }

    /// Draws the whole screen: title bar, the screen in a frame, the keys.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let [top, body, keys] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        let steps = self.steps();
        let pos = steps.iter().position(|s| *s == self.step).unwrap_or(0);
        let (title, help) = match &self.plan_view {
            Some(v) => (v.title(), v.keys()),
            None => (self.screen().title(), self.screen().keys()),
        };
        let mode = if self.ctx.dry_run { "  [dry run]" } else { "" };
        Paragraph::new(Line::styled(
            format!(
                " TAPPaaS installer - step {} of {}: {title}{mode}",
                pos + 1,
                steps.len()
            ),
            theme::heading(),
        ))
        .render(top, buf);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_set(self.ctx.charset.border())
            .title(format!(" {title} "));
        let inner = block.inner(body);
        block.render(body, buf);
        match &self.plan_view {
            Some(v) => v.render(inner, buf, &self.ctx),
            None => self.screen().render(inner, buf, &self.ctx),
        }
        Paragraph::new(Line::raw(format!(" {help}"))).render(keys, buf);
        self.ctx.charset.sanitise(buf);
    }
}

impl Widget for &Wizard {
    fn render(self, area: Rect, buf: &mut Buffer) {
        Wizard::render(self, area, buf);
    }
}

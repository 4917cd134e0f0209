//! Cluster: the name of a new cluster, or for a join the peer's address,
//! its certificate fingerprint (fetched, shown, and confirmed by the user
//! as on SSH's first contact) and its root password.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tappaas_answer::{Answer, ClusterAction, Secret};

use super::{next_unless, FormScreen, Handled, Msg, Reply, Screen};
use crate::context::Context;
use crate::form::{errors_for, Form, FormEvent, Item, TextField};

pub const NAME: usize = 0;
pub const PEER: usize = 1;
pub const FETCH: usize = 2;
pub const FINGERPRINT: usize = 3;
pub const CONFIRM: usize = 4;
pub const PASSWORD: usize = 5;
pub const NEXT: usize = 6;

#[derive(Debug)]
pub struct Cluster {
    pub form: Form,
    action: ClusterAction,
    /// The fingerprint fetched, and the peer it was fetched from.
    fetched: Option<(String, String)>,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

/// A fingerprint in two halves, so that it fits 80 columns.
fn halves(fp: &str) -> Vec<String> {
    let pairs: Vec<&str> = fp.split(':').collect();
    pairs.chunks(16).map(|c| c.join(":")).collect()
}

impl Cluster {
    pub fn new() -> Self {
        let items = vec![
            Item::text(
                "Cluster name",
                TextField::new(tappaas_answer::DEFAULT_CLUSTER_NAME),
            ),
            Item::text("Peer address", TextField::new("")),
            Item::button("Fetch the peer's certificate"),
            Item::note("Fingerprint (SHA-256) of the peer's certificate:"),
            Item::check("It matches the fingerprint the peer shows", false).with_detail(vec![
                "on the peer: `pvenode cert info`, or its web UI, System > Certificates".into(),
            ]),
            Item::text("Peer root password", TextField::masked()),
            Item::button("Next"),
        ];
        let mut s = Cluster {
            form: Form::new(items, 20),
            action: ClusterAction::Create,
            fetched: None,
        };
        s.show(ClusterAction::Create);
        s
    }

    fn show(&mut self, action: ClusterAction) {
        self.action = action;
        let join = action == ClusterAction::Join;
        self.form.set_visible(NAME, !join);
        for i in [PEER, FETCH, PASSWORD] {
            self.form.set_visible(i, join);
        }
        let have = join && self.fetched.is_some();
        self.form.set_visible(FINGERPRINT, have);
        self.form.set_visible(CONFIRM, have);
    }

    fn peer(&self) -> &str {
        self.form.text(PEER).trim()
    }

    /// The fingerprint, once fetched from the peer now in the field.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fetched
            .as_ref()
            .filter(|(peer, _)| peer == self.peer())
            .map(|(_, fp)| fp.as_str())
    }
}

impl FormScreen for Cluster {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    fn field_error(&self, item: usize, errors: &[tappaas_answer::AnswerError]) -> Option<String> {
        match item {
            NAME => errors_for(errors, "cluster.name"),
            PEER => errors_for(errors, "cluster.peer"),
            FETCH if self.fingerprint().is_none() => Some(
                "fetch the peer's certificate: its fingerprint shows that this node talks to the right peer".into(),
            ),
            CONFIRM if !self.form.checked(CONFIRM) => Some(
                "compare the fingerprint with the peer's and tick this box; if it differs, another machine answered: stop".into(),
            ),
            PASSWORD => errors_for(errors, "cluster.peer-password"),
            _ => None,
        }
    }
}

impl Screen for Cluster {
    fn title(&self) -> &'static str {
        match self.action {
            ClusterAction::Create => "Cluster: create",
            ClusterAction::Join => "Cluster: join",
        }
    }

    fn enter(&mut self, ctx: &Context) {
        let changed = self.action != ctx.answer.cluster.action;
        self.show(ctx.answer.cluster.action);
        if changed {
            self.form.focus_first();
        }
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &Context) -> Handled {
        match self.form.handle_key(key) {
            FormEvent::Ignored => Handled::Ignored,
            FormEvent::Consumed => Handled::Consumed,
            FormEvent::Changed(i) => {
                if i == PEER && self.fetched.as_ref().is_some_and(|(p, _)| p != self.peer()) {
                    // A fingerprint belongs to one peer: another address
                    // needs its own check.
                    self.fetched = None;
                    self.form.set_checked(CONFIRM, false);
                    self.show(self.action);
                }
                Handled::Consumed
            }
            FormEvent::Left(i) => {
                if i != FETCH && i != CONFIRM {
                    self.check_fields(ctx, &[i]);
                }
                Handled::Consumed
            }
            FormEvent::Pressed(FETCH) => {
                if self.check_fields(ctx, &[PEER]) {
                    self.form.focus_on(PEER);
                    Handled::Consumed
                } else {
                    self.form.set_error(FETCH, None);
                    let peer = self.peer().to_string();
                    if let Some(it) = self.form.items.get_mut(FETCH) {
                        it.detail = vec![format!(
                            "connecting to {peer} port {} ...",
                            crate::peer::PROXMOX_API_PORT
                        )];
                    }
                    Handled::Msg(Msg::FetchFingerprint { peer })
                }
            }
            FormEvent::Pressed(_) => {
                let any_error = self.check_fields(ctx, &[NAME, PEER, FETCH, CONFIRM, PASSWORD]);
                next_unless(&mut self.form, any_error)
            }
        }
    }

    fn receive(&mut self, reply: Reply) {
        if let Reply::Fingerprint(result) = reply {
            if let Some(it) = self.form.items.get_mut(FETCH) {
                it.detail.clear();
            }
            match result {
                Ok(fp) => {
                    self.fetched = Some((self.peer().to_string(), fp.clone()));
                    self.form.set_checked(CONFIRM, false);
                    if let Some(it) = self.form.items.get_mut(FINGERPRINT) {
                        it.detail = halves(&fp);
                    }
                    self.form.set_error(FETCH, None);
                    self.show(self.action);
                    self.form.focus_on(CONFIRM);
                }
                Err(e) => {
                    self.fetched = None;
                    self.show(self.action);
                    self.form.set_error(FETCH, Some(e.to_string()));
                }
            }
        }
    }

    fn apply(&self, answer: &mut Answer) {
        let c = &mut answer.cluster;
        c.action = self.action;
        match self.action {
            ClusterAction::Create => {
                c.name = Some(self.form.text(NAME).trim().to_string());
                c.peer = None;
                c.fingerprint = None;
                c.peer_password = None;
            }
            ClusterAction::Join => {
                c.name = None;
                let peer = self.peer();
                c.peer = (!peer.is_empty()).then(|| peer.to_string());
                c.fingerprint = self
                    .fingerprint()
                    .filter(|_| self.form.checked(CONFIRM))
                    .map(str::to_string);
                let pw = self.form.text(PASSWORD);
                c.peer_password = (!pw.is_empty()).then(|| Secret::new(pw));
            }
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, _ctx: &Context) {
        self.form.render(area, buf, true);
    }
}

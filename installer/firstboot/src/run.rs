//! The first-boot sequence: its steps, the journal, the events.

use std::net::IpAddr;
use std::path::Path;

use tappaas_exec::{CommandFailure, Event, Runner, Step, StepBodies, StepEnd};
use tappaas_plan::{ClusterPlan, Flavour, Plan};
use tappaas_proxmox::client::{ClusterStatus, NodeName};
use tappaas_proxmox::{Api, Proxmox};

use std::collections::{BTreeMap, BTreeSet};

use crate::backup::pbs::FirstBackup;
use crate::cluster::{self, JoinPlan};
use crate::deploy::{self, Deployment, Outcome as ServiceOutcome};
use crate::error::StepError;
use crate::service::{self, ServiceResult};
use crate::summary::{self, Facts};
use crate::{firewall, storage, wait, Config, FirstbootError, Host};

/// How a run ended, when nothing went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step is done; `summary` is what was written to the summary
    /// file, for the console.
    Finished { summary: String },
    /// Proxmox VE is not installed (the `test` flavour): nothing was done.
    NoProxmox { message: String },
}

/// One step of first boot, as the journal and a progress display name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Always runs: a reboot does not keep Proxmox answering.
    Ready,
    Cluster,
    Storage(String),
    Template,
    Firewall,
    FirewallConfig,
    FirewallRoute,
    /// A service of the catalog, in dependency order. Its failure does not
    /// stop the run: only what depends on it is skipped.
    Service(String),
    /// The plan's services cannot be resolved (an unknown name): fails.
    Unresolvable(String),
    /// Always runs: the summary reflects the cluster as it is now.
    Summary,
    Finish,
}

impl Kind {
    fn always_runs(&self) -> bool {
        matches!(self, Kind::Ready | Kind::Summary | Kind::Finish)
    }
}

/// The plan's services and their dependencies, in deploy order.
pub(crate) fn service_order(config: &Config, plan: &Plan) -> Result<Vec<String>, String> {
    let catalog = deploy::catalog(config).map_err(|e| e.message)?;
    let resolved =
        tappaas_services::resolve(&catalog, &plan.services).map_err(|e| e.to_string())?;
    Ok(resolved.order.into_iter().map(|e| e.name).collect())
}

fn steps(plan: &Plan, config: &Config) -> Vec<(PlannedStep, Kind)> {
    let step = |id: &str, title: String, kind: Kind| {
        (
            PlannedStep {
                id: id.to_string(),
                title,
            },
            kind,
        )
    };
    let mut out = vec![step(
        "proxmox-ready",
        "Wait for Proxmox VE's cluster filesystem".into(),
        Kind::Ready,
    )];
    out.push(match &plan.node.cluster {
        ClusterPlan::Create { name } => step(
            "cluster-create",
            format!("Create Proxmox cluster '{name}'"),
            Kind::Cluster,
        ),
        ClusterPlan::Join { peer, .. } => step(
            "cluster-join",
            format!("Join the Proxmox cluster through {peer}"),
            Kind::Cluster,
        ),
    });
    for pool in plan.pools.iter().filter(|p| p.name != "rpool") {
        out.push(step(
            &format!("storage-{}", pool.name),
            format!("Register ZFS pool {} as Proxmox storage", pool.name),
            Kind::Storage(pool.name.clone()),
        ));
    }
    if let (ClusterPlan::Create { .. }, Some(fw)) = (&plan.node.cluster, &plan.firewall) {
        if !plan.services.is_empty() {
            out.push(step(
                "vm-template",
                format!(
                    "Make the service VM template {} from the Debian image",
                    deploy::TEMPLATE_VMID
                ),
                Kind::Template,
            ));
        }
        out.push(step(
            "firewall",
            format!("Create and start the OPNsense firewall VM {}", fw.vmid),
            Kind::Firewall,
        ));
        out.push(step(
            "firewall-config",
            format!(
                "Configure the firewall through its serial console ({})",
                fw.lan
            ),
            Kind::FirewallConfig,
        ));
        out.push(step(
            "firewall-route",
            "Route the node through the firewall".into(),
            Kind::FirewallRoute,
        ));
        if !plan.services.is_empty() {
            match service_order(config, plan) {
                Ok(order) => {
                    for name in order {
                        out.push(step(
                            &format!("service-{name}"),
                            format!("Deploy service {name}"),
                            Kind::Service(name),
                        ));
                    }
                }
                Err(e) => out.push(step(
                    "services",
                    "Resolve the planned services".into(),
                    Kind::Unresolvable(e),
                )),
            }
        }
    }
    out.push(step(
        "summary",
        format!("Write the node summary {}", config.summary.display()),
        Kind::Summary,
    ));
    out.push(step(
        "finish",
        "Mark first boot as finished".into(),
        Kind::Finish,
    ));
    out
}

/// The steps first boot runs for `plan`, in order.
pub fn step_list(plan: &Plan, config: &Config) -> Vec<PlannedStep> {
    steps(plan, config).into_iter().map(|(s, _)| s).collect()
}

pub fn load_plan(path: &Path) -> Result<Plan, FirstbootError> {
    let err = |message: String| FirstbootError::Plan {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    Plan::from_json(&text).map_err(err)
}

/// Why nothing can be done without Proxmox, naming the flavour when the
/// plan is there to tell it.
pub(crate) fn no_proxmox_message(config: &Config, flavour: Option<Flavour>) -> String {
    let why = match flavour {
        Some(Flavour::Test) => "test flavour",
        Some(Flavour::Pve) => "although the plan is for the pve flavour",
        None => "test flavour, or not an installed node",
    };
    format!(
        "Proxmox VE is not installed on this node ({why}): {} does not exist.",
        config.pvesh.display()
    )
}

/// The management address: the plan's static one, else the one Proxmox
/// resolves for this node (from `/etc/hosts`, written at install time).
pub(crate) fn management_address(plan: &Plan, status: Option<&ClusterStatus>) -> Option<IpAddr> {
    if let Some(ip) = plan.network.address.ip() {
        return Some(ip);
    }
    status?.local_node()?.ip.as_deref()?.parse().ok()
}

/// Run first boot: every step not yet done, in order, each journaled by
/// the engine's step runner (a journal that cannot be written stops it).
/// Events go to `emit` as they happen. Returns an error after reporting
/// [`Event::Failed`] when a step fails; running again continues there.
pub fn run<A: Api>(
    config: &Config,
    proxmox: &mut Proxmox<A>,
    host: &mut dyn Host,
    emit: &mut dyn FnMut(&Event),
) -> Result<Outcome, FirstbootError> {
    // Before anything is written (not even the journal): on the test
    // flavour first boot must change nothing.
    if !config.proxmox_installed() {
        let flavour = load_plan(&config.plan).ok().map(|p| p.node.flavour);
        let message = format!(
            "{} First boot registers the storages and creates or joins the cluster only on \
             Proxmox VE; nothing was changed.",
            no_proxmox_message(config, flavour)
        );
        return Ok(Outcome::NoProxmox { message });
    }
    let _lock = crate::lock::acquire(config, "first boot")?;
    let plan = load_plan(&config.plan)?;
    let mut runner = Runner::open(&config.journal, &plan)?;
    let (steps, kinds): (Vec<Step>, Vec<Kind>) = steps(&plan, config)
        .into_iter()
        .map(|(s, kind)| {
            let step = Step {
                id: s.id,
                title: s.title,
                always_runs: kind.always_runs(),
            };
            (step, kind)
        })
        .unzip();
    let mut bodies = Bodies {
        config,
        plan: &plan,
        kinds,
        proxmox,
        host,
        state: State::default(),
        summary: String::new(),
    };
    match runner.run(&steps, &mut bodies, emit) {
        Ok(()) => Ok(Outcome::Finished {
            summary: bodies.summary,
        }),
        Err(stopped) => Err(FirstbootError::Step {
            step: stopped.step,
            failure: stopped.failure,
        }),
    }
}

/// First boot's step bodies, for the runner.
struct Bodies<'a, A: Api> {
    config: &'a Config,
    plan: &'a Plan,
    /// What each step does, in the order of the runner's steps.
    kinds: Vec<Kind>,
    proxmox: &'a mut Proxmox<A>,
    host: &'a mut dyn Host,
    state: State,
    /// What the summary step wrote.
    summary: String,
}

impl<A: Api> StepBodies for Bodies<'_, A> {
    fn run_step(
        &mut self,
        index: usize,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<StepEnd, CommandFailure> {
        let Some(kind) = self.kinds.get(index) else {
            return Err(StepError::new("run a step", "no such step (a bug if seen)").into_failure());
        };
        let mut note = |text: String| emit(&Event::Action { index, text });
        if let Kind::Service(name) = kind {
            let end = service_step(
                self.config,
                self.plan,
                self.proxmox,
                self.host,
                &mut self.state,
                name,
                &mut note,
            )
            .map_err(StepError::into_failure)?;
            return Ok(match end {
                ServiceEnd::Healthy => StepEnd::Done,
                // Nothing to do here, by the plan or the node: finished,
                // but not journaled, so a later run looks again.
                ServiceEnd::Skipped => StepEnd::NotRecorded,
                // Reported as actions; the run goes on and `finish` fails.
                ServiceEnd::Failed => StepEnd::FailedGoOn,
            });
        }
        let ctx = Ctx {
            config: self.config,
            plan: self.plan,
            note: &mut note,
        };
        let text = run_step(kind, ctx, self.proxmox, self.host, &mut self.state)
            .map_err(StepError::into_failure)?;
        if let Some(t) = text {
            self.summary = t;
        }
        Ok(StepEnd::Done)
    }
}

/// What the first step learnt and later steps use.
#[derive(Default)]
struct State {
    node: Option<NodeName>,
    address: Option<IpAddr>,
    /// Made by the first service step.
    deployment: Option<Deployment>,
    /// Services that failed in this run, with why.
    failed: BTreeMap<String, String>,
    /// Services not deployed in this run (failed or skipped): what needs
    /// them is skipped.
    missing: BTreeSet<String>,
}

enum ServiceEnd {
    Healthy,
    Skipped,
    Failed,
}

/// One service: skipped when something it needs is missing, else
/// deployed; a failure is reported as actions and recorded, and the run
/// goes on. `Err` only when the deployment itself cannot be prepared.
fn service_step<A: Api>(
    config: &Config,
    plan: &Plan,
    px: &mut Proxmox<A>,
    host: &mut dyn Host,
    state: &mut State,
    name: &str,
    note: &mut dyn FnMut(String),
) -> Result<ServiceEnd, StepError> {
    let node = state.node.clone().ok_or_else(|| {
        StepError::new("GET /cluster/status", "this node's Proxmox name is unknown")
    })?;
    if state.deployment.is_none() {
        state.deployment = Some(deploy::prepare(
            config,
            plan,
            &plan.services,
            plan.container_registry.as_deref(),
            deploy::NewSecrets::Save,
            note,
        )?);
    }
    let Some(dep) = state.deployment.as_ref() else {
        return Err(StepError::new("prepare the services", "no deployment"));
    };
    let end = one_service(px, config, &node, dep, name, host, &state.missing, note)?;
    match &end {
        Ok(()) => Ok(ServiceEnd::Healthy),
        Err((ServiceOutcome::Failed, reason)) => {
            state.failed.insert(name.to_string(), reason.clone());
            state.missing.insert(name.to_string());
            Ok(ServiceEnd::Failed)
        }
        Err((_, _)) => {
            state.missing.insert(name.to_string());
            Ok(ServiceEnd::Skipped)
        }
    }
}

/// Deploy `name` unless a dependency is in `missing`; the outcome is
/// recorded and told through `note`. `Ok(Err((outcome, reason)))` when it
/// was skipped or failed.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn one_service<A: Api>(
    px: &mut Proxmox<A>,
    config: &Config,
    node: &NodeName,
    dep: &Deployment,
    name: &str,
    host: &mut dyn Host,
    missing: &BTreeSet<String>,
    note: &mut dyn FnMut(String),
) -> Result<Result<(), (ServiceOutcome, String)>, StepError> {
    let needs: Vec<String> = dep
        .resolved
        .get(name)
        .map(|e| e.depends.clone())
        .unwrap_or_default();
    let (outcome, reason) = if let Some(d) = needs.iter().find(|d| missing.contains(*d)) {
        let how = match deploy::records(config)?.get(d.as_str()) {
            Some(r) if r.outcome == ServiceOutcome::Skipped => "was skipped",
            _ => "failed",
        };
        (ServiceOutcome::Skipped, format!("needs {d}, which {how}"))
    } else {
        match service::deploy(px, config, node, dep, name, host, note) {
            Ok(ServiceResult::Healthy) => return Ok(Ok(())),
            Ok(ServiceResult::Skipped(reason)) => (ServiceOutcome::Skipped, reason),
            Err(e) => (
                ServiceOutcome::Failed,
                format!("{}: {}", e.what, e.message.replace('\n', " ")),
            ),
        }
    };
    let word = match outcome {
        ServiceOutcome::Failed => "FAILED",
        _ => "SKIPPED",
    };
    note(format!("{word}: {name}: {reason}"));
    service::record_not_healthy(config, dep, name, outcome, &reason)?;
    Ok(Err((outcome, reason)))
}

struct Ctx<'a> {
    config: &'a Config,
    plan: &'a Plan,
    note: &'a mut dyn FnMut(String),
}

fn need_firewall(plan: &Plan) -> Result<&tappaas_plan::FirewallPlan, StepError> {
    plan.firewall
        .as_ref()
        .ok_or_else(|| StepError::new("read the plan", "the plan deploys no firewall"))
}

/// Run one step; the summary step returns the text it wrote.
fn run_step<A: Api>(
    kind: &Kind,
    ctx: Ctx<'_>,
    px: &mut Proxmox<A>,
    host: &mut dyn Host,
    state: &mut State,
) -> Result<Option<String>, StepError> {
    let Ctx { config, plan, note } = ctx;
    let need_node = |state: &State| {
        state.node.clone().ok_or_else(|| {
            StepError::new("GET /cluster/status", "this node's Proxmox name is unknown")
        })
    };
    match kind {
        Kind::Ready => {
            let (version, status) = wait::proxmox_ready(px, config)?;
            note(format!(
                "Proxmox VE {} (repository {}) answers",
                version.version, version.repoid
            ));
            // Proxmox's own name for this node (the host name it runs
            // under) addresses every per-node call.
            let name = status
                .local_node()
                .map(|n| n.name.clone())
                .unwrap_or_else(|| plan.node.hostname.clone());
            if name != plan.node.hostname {
                note(format!(
                    "note: Proxmox calls this node '{name}', the plan '{}'",
                    plan.node.hostname
                ));
            }
            state.node =
                Some(NodeName::new(name).map_err(|e| StepError::api("GET /cluster/status", &e))?);
            state.address = management_address(plan, Some(&status));
            Ok(None)
        }
        Kind::Cluster => {
            let node = need_node(state)?;
            let address = state.address.ok_or_else(|| {
                StepError::new(
                    "find the management address",
                    "neither the plan nor Proxmox names this node's management address; \
                     check /etc/hosts (the host name must resolve to it)",
                )
            })?;
            match &plan.node.cluster {
                ClusterPlan::Create { name } => {
                    cluster::create(px, config, name, &node, address, note)?;
                }
                ClusterPlan::Join { peer, fingerprint } => {
                    let join = JoinPlan { peer, fingerprint };
                    cluster::join(px, config, host, &join, &node, address, note)?;
                }
            }
            // The shared /etc/pve is there now: publish this node's
            // replication key. A failure does not stop first boot; every
            // replication run tries again.
            if let Err(e) = host.replication_setup(note) {
                note(format!("replication is not set up yet: {e}; tappaas-replication.timer tries again at each run"));
            }
            Ok(None)
        }
        Kind::Storage(pool) => {
            let node = need_node(state)?;
            // A joining node's storage configuration is the cluster's:
            // only ever touched after the cluster step.
            storage::register(px, pool, &node, note)?;
            Ok(None)
        }
        Kind::Template => {
            let node = need_node(state)?;
            service::ensure_template(px, config, &node, note)?;
            Ok(None)
        }
        Kind::Firewall => {
            let node = need_node(state)?;
            let fw = need_firewall(plan)?;
            firewall::ensure_vm(px, config, &node, fw, note)?;
            Ok(None)
        }
        Kind::FirewallConfig => {
            let fw = need_firewall(plan)?;
            firewall::configure(config, plan, fw, host, note)?;
            Ok(None)
        }
        Kind::FirewallRoute => {
            let fw = need_firewall(plan)?;
            firewall::route(config, plan, fw, host, note)?;
            Ok(None)
        }
        Kind::Service(_) => Err(StepError::new(
            "deploy a service",
            "a service step runs through the service path (a bug if seen)",
        )),
        Kind::Unresolvable(e) => Err(StepError::new("resolve the planned services", e.clone())
            .hint("The plan names a service this installer's catalog does not have; install again with a valid [services] deploy list.")),
        Kind::Summary => {
            first_backup(px, &mut *note);
            let status = wait::cluster_status(px, config)?;
            let nodes = px.nodes().map_err(|e| StepError::api("GET /nodes", &e))?;
            let storages = px
                .storages()
                .map_err(|e| StepError::api("GET /storage", &e))?;
            let backup_jobs = px
                .backup_jobs()
                .map_err(|e| StepError::api("GET /cluster/backup", &e))?;
            let facts = Facts {
                records: deploy::records(config)?,
                address: management_address(plan, Some(&status)),
                status,
                nodes,
                storages,
                backup_jobs,
            };
            let text = summary::render(plan, &facts);
            crate::private_file::write_private(&config.summary, &text).map_err(|e| {
                StepError::new(format!("write {}", config.summary.display()), e.to_string())
            })?;
            note(format!("wrote {} (root only)", config.summary.display()));
            Ok(Some(text))
        }
        Kind::Finish => {
            if !state.failed.is_empty() {
                let list: Vec<String> = state
                    .failed
                    .iter()
                    .map(|(n, why)| format!("{n} ({why})"))
                    .collect();
                return Err(StepError::new(
                    "deploy the services",
                    format!(
                        "{} service(s) failed: {}. What needs them was skipped. First boot is not \
                         finished: fix the cause and run it again; it deploys only what is missing.",
                        state.failed.len(),
                        list.join("; ")
                    ),
                ));
            }
            match std::fs::remove_file(&config.marker) {
                Ok(()) => note(format!("removed {}", config.marker.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StepError::new(
                        format!("remove {}", config.marker.display()),
                        e.to_string(),
                    ))
                }
            }
            Ok(None)
        }
    }
}

/// The first backup of this node's guests, started (not waited for) once
/// every service is deployed: the VMs are protected from the first hour,
/// not from the job's first night. A failure to start it is said, not a
/// failure of first boot: the job's schedule or `backup run` makes it.
fn first_backup<A: Api>(px: &mut Proxmox<A>, note: &mut dyn FnMut(String)) {
    let started = crate::backup::pbs::local_node(px)
        .and_then(|node| Ok((crate::backup::pbs::start_first_backup(px, &node)?, node)));
    match started {
        Ok((FirstBackup::Started(Some(upid)), node)) => note(format!(
            "the first backup of every guest on {node} runs now (task {upid}); \
             `tappaas-installer backup status` shows its result"
        )),
        Ok((FirstBackup::Started(None), node)) => {
            note(format!("no guest on {node} to back up yet"))
        }
        Ok((FirstBackup::Skipped(why), _)) => note(format!("no first backup started: {why}")),
        Err(e) => note(format!(
            "the first backup was not started: {e}; the backup job makes it at its schedule, \
             `tappaas-installer backup run` now"
        )),
    }
}

//! The first-boot sequence: its steps, the journal, the events.

use std::net::IpAddr;
use std::path::Path;
use std::time::Instant;

use tappaas_exec::{plan_digest, Event, Journal, StepInfo};
use tappaas_plan::{Address, ClusterPlan, Flavour, Plan};
use tappaas_proxmox::client::{ClusterStatus, NodeName};
use tappaas_proxmox::{Api, Proxmox};

use crate::cluster::{self, JoinPlan};
use crate::error::StepError;
use crate::summary::{self, Facts};
use crate::{storage, wait, Config, FirstbootError, Host};

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
    /// Always runs: the summary reflects the cluster as it is now.
    Summary,
    Finish,
}

impl Kind {
    fn always_runs(&self) -> bool {
        matches!(self, Kind::Ready | Kind::Summary | Kind::Finish)
    }
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
    serde_json::from_str(&text).map_err(|e| err(format!("not a plan this version can read: {e}")))
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
    if let Address::Static(cidr) = &plan.network.address {
        if let Ok(ip) = cidr.split('/').next().unwrap_or(cidr).parse() {
            return Some(ip);
        }
    }
    status?.local_node()?.ip.as_deref()?.parse().ok()
}

/// Run first boot: every step not yet done, in order, each journaled.
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
    let plan = load_plan(&config.plan)?;
    if let Some(dir) = config.journal.parent() {
        std::fs::create_dir_all(dir).map_err(|source| {
            FirstbootError::Journal(tappaas_exec::JournalError::Write {
                path: config.journal.clone(),
                source,
            })
        })?;
    }
    let mut journal = Journal::open(&config.journal, &plan_digest(&plan))?;
    let steps = steps(&plan, config);
    emit(&Event::Started {
        steps: steps
            .iter()
            .map(|(s, _)| StepInfo {
                id: s.id.clone(),
                title: s.title.clone(),
            })
            .collect(),
    });
    let start = Instant::now();
    let mut state = State::default();
    let mut summary_text = String::new();

    for (index, (info, kind)) in steps.iter().enumerate() {
        if !kind.always_runs() && journal.is_done(&info.id) {
            emit(&Event::StepSkipped {
                index,
                id: info.id.clone(),
            });
            continue;
        }
        emit(&Event::StepStarted {
            index,
            id: info.id.clone(),
            title: info.title.clone(),
        });
        let began = Instant::now();
        let result = journal
            .started(&info.id)
            .map_err(|e| {
                StepError::new(format!("write {}", config.journal.display()), e.to_string())
            })
            .and_then(|()| {
                let mut note = |text: String| emit(&Event::Action { index, text });
                let ctx = Ctx {
                    config,
                    plan: &plan,
                    note: &mut note,
                };
                run_step(kind, ctx, proxmox, host, &mut state)
            })
            .and_then(|text| {
                if let Some(t) = text {
                    summary_text = t;
                }
                journal.done(&info.id).map_err(|e| {
                    StepError::new(format!("write {}", config.journal.display()), e.to_string())
                })
            });
        match result {
            Ok(()) => emit(&Event::StepFinished {
                index,
                id: info.id.clone(),
                elapsed: began.elapsed(),
            }),
            Err(e) => {
                let failure = e.into_failure();
                emit(&Event::Failed {
                    index,
                    id: info.id.clone(),
                    failure: failure.clone(),
                });
                return Err(FirstbootError::Step {
                    step: info.id.clone(),
                    failure,
                });
            }
        }
    }
    emit(&Event::Finished {
        elapsed: start.elapsed(),
    });
    Ok(Outcome::Finished {
        summary: summary_text,
    })
}

/// What the first step learnt and later steps use.
#[derive(Default)]
struct State {
    node: Option<NodeName>,
    address: Option<IpAddr>,
}

struct Ctx<'a> {
    config: &'a Config,
    plan: &'a Plan,
    note: &'a mut dyn FnMut(String),
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
            Ok(None)
        }
        Kind::Storage(pool) => {
            let node = need_node(state)?;
            // A joining node's storage configuration is the cluster's:
            // only ever touched after the cluster step.
            storage::register(px, pool, &node, note)?;
            Ok(None)
        }
        Kind::Summary => {
            let status = wait::cluster_status(px, config)?;
            let nodes = px.nodes().map_err(|e| StepError::api("GET /nodes", &e))?;
            let storages = px
                .storages()
                .map_err(|e| StepError::api("GET /storage", &e))?;
            let facts = Facts {
                address: management_address(plan, Some(&status)),
                status,
                nodes,
                storages,
            };
            let text = summary::render(plan, &facts);
            summary::write_private(&config.summary, &text).map_err(|e| {
                StepError::new(format!("write {}", config.summary.display()), e.to_string())
            })?;
            note(format!("wrote {} (root only)", config.summary.display()));
            Ok(Some(text))
        }
        Kind::Finish => {
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

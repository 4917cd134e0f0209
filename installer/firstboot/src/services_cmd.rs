//! `tappaas-installer services list`, `services deploy NAME` and
//! `services user-data NAME`: the catalog with each service's state on
//! this node, one service (with its dependencies) deployed later through
//! the same code as first boot, and the user-data that code gives it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use tappaas_exec::{CommandFailure, Event, Runner, Step, StepBodies, StepEnd};
use tappaas_plan::Plan;
use tappaas_proxmox::client::{NodeName, VmState, VmSummary};
use tappaas_proxmox::{Api, Proxmox};
use tappaas_services::Entry;

use crate::deploy::{self, Deployment, NewSecrets, Outcome, Records};
use crate::error::StepError;
use crate::run::{load_plan, one_service};
use crate::{service, wait, Config, FirstbootError, Host};

/// A service's state on this node, decided from Proxmox (does its VM
/// exist and run) and the record first boot keeps (healthy, failed,
/// skipped).
pub fn service_state(entry: &Entry, vm: Option<&VmSummary>, records: &Records) -> String {
    let rec = records.get(&entry.name).filter(|r| r.vmid == entry.vmid);
    let why = |r: &deploy::Record| r.reason.clone().unwrap_or_default();
    match (vm, rec) {
        (Some(v), _) if v.name.as_deref() != Some(entry.name.as_str()) => format!(
            "VM {} is '{}', not this service",
            entry.vmid,
            v.name.as_deref().unwrap_or("?")
        ),
        (Some(v), Some(r)) if r.outcome == Outcome::Healthy && v.status == VmState::Running => {
            "healthy".into()
        }
        (Some(_), Some(r)) if r.outcome == Outcome::Failed => format!("failed: {}", why(r)),
        (Some(v), _) if v.status == VmState::Running => "deployed (health not checked)".into(),
        (Some(_), _) => "deployed, stopped".into(),
        (None, Some(r)) if r.outcome == Outcome::Failed => format!("failed: {}", why(r)),
        (None, Some(r)) if r.outcome == Outcome::Skipped => format!("skipped: {}", why(r)),
        (None, _) if !entry.available => "not available yet".into(),
        (None, _) => "not deployed".into(),
    }
}

/// The catalog as a table: name, VM id, kind, state.
pub fn render_service_list(
    entries: &[Entry],
    vms: Option<&[VmSummary]>,
    records: &Records,
) -> String {
    let mut s = String::new();
    if vms.is_none() {
        let _ = writeln!(
            s,
            "(Proxmox does not answer: states are first boot's records only)"
        );
    }
    let _ = writeln!(s, "{:<17} {:<5} {:<9} STATE", "SERVICE", "VM", "KIND");
    for e in entries {
        let vm = vms.and_then(|l| l.iter().find(|v| v.vmid.get() == e.vmid));
        let kind = if e.optional { "optional" } else { "base" };
        let _ = writeln!(
            s,
            "{:<17} {:<5} {:<9} {}",
            e.name,
            e.vmid,
            kind,
            service_state(e, vm, records)
        );
    }
    s
}

fn node_name<A: Api>(px: &mut Proxmox<A>, config: &Config) -> Result<NodeName, StepError> {
    let (_, status) = wait::proxmox_ready(px, config)?;
    let name = status
        .local_node()
        .map(|n| n.name.clone())
        .or_else(|| load_plan(&config.plan).ok().map(|p| p.node.hostname))
        .unwrap_or_default();
    NodeName::new(name).map_err(|e| StepError::api("GET /cluster/status", &e))
}

/// `services list`.
pub fn services_list<A: Api>(config: &Config, px: &mut Proxmox<A>) -> Result<String, String> {
    let catalog = deploy::catalog(config).map_err(|e| e.message)?;
    let records = deploy::load_records(&config.services_state)?;
    let vms = if config.proxmox_installed() {
        let mut quick = config.clone();
        quick.wait_timeout = std::time::Duration::from_secs(5);
        node_name(px, &quick)
            .ok()
            .and_then(|node| px.node_vms(&node).ok())
    } else {
        None
    };
    Ok(render_service_list(
        catalog.entries(),
        vms.as_deref(),
        &records,
    ))
}

/// The services whose addresses and dependants a deployment on this node
/// is decided over: the plan's, those deployed (or tried) since, by their
/// records, and `names`.
/// The deployment of `names` on a node after first boot: over every
/// service the node knows (see [`known_services`]), images from `registry`
/// or else the plan's.
fn prepare_for(
    config: &Config,
    plan: &Plan,
    names: &[String],
    registry: Option<&str>,
    new_secrets: NewSecrets,
    note: &mut dyn FnMut(String),
) -> Result<Deployment, StepError> {
    let wanted = known_services(config, &plan.services, names)?;
    let registry = registry.or(plan.container_registry.as_deref());
    deploy::prepare(config, plan, &wanted, registry, new_secrets, note)
}

fn known_services(
    config: &Config,
    planned: &[String],
    names: &[String],
) -> Result<Vec<String>, StepError> {
    let catalog = deploy::catalog(config)?;
    let mut wanted = planned.to_vec();
    // A record of a service the catalog no longer has (a removed extra
    // entry) is not something to decide over.
    wanted.extend(
        deploy::records(config)?
            .into_keys()
            .filter(|n| catalog.get(n).is_some_and(|e| e.available)),
    );
    wanted.extend(names.iter().cloned());
    let mut seen = BTreeSet::new();
    wanted.retain(|n| seen.insert(n.clone()));
    Ok(wanted)
}

/// What `services user-data` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    /// The cloud-config, secrets replaced unless asked for.
    pub text: String,
    /// For the user (stderr): what the text does not say by itself.
    pub notes: Vec<String>,
}

/// `services user-data NAME`: the cloud-init user-data this node gives
/// service `name`, rendered by the code `services deploy` uses (the plan,
/// the services known on this node, the credentials file), changing
/// nothing. Secrets show as `<redacted SERVICE.SECRET>` unless
/// `show_secrets`; secrets not generated yet (the service is not deployed)
/// always as `<not generated yet SERVICE.SECRET>`.
pub fn service_user_data(
    config: &Config,
    name: &str,
    registry: Option<&str>,
    show_secrets: bool,
) -> Result<UserData, String> {
    let plan = load_plan(&config.plan).map_err(|e| e.to_string())?;
    let said = |e: StepError| format!("{}: {}", e.what, e.message);
    let catalog = deploy::catalog(config).map_err(said)?;
    match catalog.get(name) {
        None => {
            return Err(tappaas_services::Error::Unknown {
                name: name.to_string(),
                known: catalog.names().iter().map(|n| n.to_string()).collect(),
            }
            .to_string())
        }
        Some(e) if !e.available => {
            return Err(format!(
                "service '{name}' cannot be deployed yet: {}",
                e.reason.as_deref().unwrap_or("unavailable")
            ))
        }
        Some(_) => {}
    }
    let dep = prepare_for(
        config,
        &plan,
        &[name.to_string()],
        registry,
        NewSecrets::InMemory,
        &mut |_| {},
    )
    .map_err(said)?;
    if let Some(reason) = dep.blocked.get(name) {
        return Err(format!("this node would not deploy {name}: it {reason}"));
    }
    let r = tappaas_services::render(&dep.catalog, &dep.resolved, name, &dep.context)
        .map_err(|e| e.to_string())?;
    // Every value is at least 16 characters of a random alphabet: a plain
    // replacement finds exactly the secret. Longest first, so that no
    // value is left half replaced.
    let mut values: Vec<(&str, String)> = dep
        .context
        .secrets
        .all()
        .filter(|(_, _, v)| !v.expose().is_empty())
        .filter_map(|(service, secret, v)| {
            let unsaved = dep.unsaved.iter().any(|(s, n)| s == service && n == secret);
            let marker = if unsaved {
                format!("<not generated yet {service}.{secret}>")
            } else if show_secrets {
                return None;
            } else {
                format!("<redacted {service}.{secret}>")
            };
            Some((v.expose(), marker))
        })
        .collect();
    values.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    let mut text = r.user_data;
    for (value, marker) in &values {
        text = text.replace(value, marker);
    }
    let mut notes = Vec::new();
    if !show_secrets {
        notes.push(format!(
            "secrets are shown as <redacted SERVICE.SECRET>; --show-secrets prints them (they are in {})",
            config.credentials.display()
        ));
    }
    let unsaved: Vec<String> = dep
        .unsaved
        .iter()
        .filter(|(s, _)| text.contains(&format!("<not generated yet {s}.")))
        .map(|(s, n)| format!("{s}.{n}"))
        .collect();
    if !unsaved.is_empty() {
        notes.push(format!(
            "not generated yet (generated when it is deployed): {}",
            unsaved.join(", ")
        ));
    }
    Ok(UserData { text, notes })
}

/// `services deploy NAME...`: the services and what they need, in order,
/// each kept if it is deployed and healthy already. `registry` replaces
/// the plan's container registry. Returns the names that failed or were
/// skipped, with why.
pub fn deploy_services<A: Api>(
    config: &Config,
    px: &mut Proxmox<A>,
    host: &mut dyn Host,
    names: &[String],
    registry: Option<&str>,
    emit: &mut dyn FnMut(&Event),
) -> Result<Vec<(String, String)>, FirstbootError> {
    let _lock = crate::lock::acquire(config, &format!("services deploy {}", names.join(" ")))?;
    let plan = load_plan(&config.plan)?;
    let fail = |step: &str, e: StepError, emit: &mut dyn FnMut(&Event)| {
        let failure = e.into_failure();
        emit(&Event::Failed {
            index: 0,
            id: step.to_string(),
            failure: failure.clone(),
        });
        FirstbootError::Step {
            step: step.to_string(),
            failure,
        }
    };
    let catalog = deploy::catalog(config).map_err(|e| fail("resolve", e, emit))?;
    let closure = tappaas_services::resolve(&catalog, names).map_err(|e| {
        fail(
            "resolve",
            StepError::new("resolve the services", e.to_string()),
            emit,
        )
    })?;
    let mut steps = vec![Step {
        id: "vm-template".into(),
        title: "Check the service VM template".into(),
        always_runs: true,
    }];
    // Every step runs each time: a service is looked at as it is now (kept
    // when deployed and healthy), so the journal is this run's record, not
    // a reason to skip.
    steps.extend(closure.order.iter().map(|e| Step {
        id: format!("service-{}", e.name),
        title: format!("Deploy service {}", e.name),
        always_runs: true,
    }));
    // The journal holds the last run only: nothing in it is skipped, and
    // the plan may have changed since (another registry).
    let mut runner = tappaas_exec::forget(&config.services_journal)
        .and_then(|()| Runner::open(&config.services_journal, &plan))
        .map_err(|e| {
            fail(
                "journal",
                StepError::new("open the services journal", e.to_string()),
                emit,
            )
        })?;
    let mut bodies = DeployBodies {
        config,
        px,
        host,
        plan: &plan,
        names,
        registry,
        order: closure.order.iter().map(|e| e.name.clone()).collect(),
        prepared: None,
        missing: BTreeSet::new(),
        not_deployed: Vec::new(),
    };
    runner
        .run(&steps, &mut bodies, emit)
        .map_err(|stopped| FirstbootError::Step {
            step: stopped.step,
            failure: stopped.failure,
        })?;
    Ok(bodies.not_deployed)
}

/// `services deploy`'s step bodies: step 0 prepares the deployment and
/// checks the template, step i deploys the i-th service of the order.
struct DeployBodies<'a, A: Api> {
    config: &'a Config,
    px: &'a mut Proxmox<A>,
    host: &'a mut dyn Host,
    plan: &'a Plan,
    names: &'a [String],
    registry: Option<&'a str>,
    order: Vec<String>,
    prepared: Option<(NodeName, Deployment)>,
    missing: BTreeSet<String>,
    not_deployed: Vec<(String, String)>,
}

impl<A: Api> StepBodies for DeployBodies<'_, A> {
    fn run_step(
        &mut self,
        index: usize,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<StepEnd, CommandFailure> {
        let mut note = |text: String| emit(&Event::Action { index, text });
        if index == 0 {
            let node = node_name(self.px, self.config).map_err(StepError::into_failure)?;
            let dep = prepare_for(
                self.config,
                self.plan,
                self.names,
                self.registry,
                NewSecrets::Save,
                &mut note,
            )
            .map_err(StepError::into_failure)?;
            service::ensure_template(self.px, self.config, &node, &mut note)
                .map_err(StepError::into_failure)?;
            self.prepared = Some((node, dep));
            return Ok(StepEnd::Done);
        }
        let (Some((node, dep)), Some(name)) = (&self.prepared, self.order.get(index - 1)) else {
            return Err(StepError::new(
                "deploy the services",
                "the template step did not run first",
            )
            .into_failure());
        };
        match one_service(
            self.px,
            self.config,
            node,
            dep,
            name,
            self.host,
            &self.missing,
            &mut note,
        )
        .map_err(StepError::into_failure)?
        {
            Ok(()) => Ok(StepEnd::Done),
            // Not deployed (a dependency missing, a health check that
            // failed): said in the result, the run goes on with the rest.
            Err((_, reason)) => {
                self.missing.insert(name.clone());
                self.not_deployed.push((name.clone(), reason));
                Ok(StepEnd::NotRecorded)
            }
        }
    }
}

//! Services after first boot: `services deploy` adds one later, a later
//! service gets its role in the deployed PostgreSQL, a failing dependant
//! fails only what needs it, `services user-data`, and a service record
//! file that does not parse.

#![allow(clippy::unwrap_used)]

mod common;

use common::site::*;
use common::*;
use tappaas_exec::Event;
use tappaas_firstboot::proxmox::{GuestBoot, Method, SimExec, Simulator};

#[test]
fn services_deploy_adds_one_later_and_list_shows_the_states() {
    let mut plan = deploy_plan();
    plan.services = vec!["postgresql".into()];
    let (sim, site) = deployment(&plan);
    assert!(run(&sim, &site).1.result.is_ok());
    assert_eq!(clones(&sim), ["postgresql"]);

    let mut px = client(&sim, "tappaas1");
    let list = tappaas_firstboot::services_list(&site.node.config, &mut px).unwrap();
    let line = |list: &str, name: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_string()
    };
    assert!(line(&list, "postgresql").ends_with("healthy"), "{list}");
    assert!(
        line(&list, "vaultwarden").ends_with("not deployed"),
        "{list}"
    );
    assert!(
        line(&list, "frigate").ends_with("not available yet"),
        "{list}"
    );

    // Vaultwarden needs postgresql, which is kept as it is.
    let mut h = host(&sim, &site);
    let mut events = Vec::new();
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut h,
        &["vaultwarden".to_string()],
        None,
        &mut |e| events.push(e.clone()),
    )
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(clones(&sim), ["postgresql", "vaultwarden"]);
    assert!(sim.vm("tappaas1", 240).unwrap().running);
    assert!(matches!(events.last(), Some(Event::Finished { .. })));
    let list = tappaas_firstboot::services_list(&site.node.config, &mut px).unwrap();
    assert!(line(&list, "vaultwarden").ends_with("healthy"), "{list}");

    // Without a registry anywhere, Docker's default registry is used.
    let mut plan2 = plan.clone();
    plan2.container_registry = None;
    write(
        &site.node.config.plan,
        &serde_json::to_string(&plan2).unwrap(),
    );
    let snippet = |name: &str| {
        let path = format!("var/lib/vz/snippets/tappaas-{name}.yaml");
        std::fs::read_to_string(path_in(&site.node, &path)).unwrap()
    };
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut h,
        &["garage".to_string()],
        None,
        &mut |_| {},
    )
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert!(snippet("garage").contains(" dxflrs/garage:"));
    // --container-registry names a mirror for this deployment.
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut h,
        &["uptime-kuma".to_string()],
        Some("mirror.example"),
        &mut |_| {},
    )
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert!(snippet("uptime-kuma").contains(" mirror.example/louislam/uptime-kuma:"));
    assert!(sim.vm("tappaas1", 260).unwrap().running);
    assert!(sim.vm("tappaas1", 220).unwrap().running);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

/// `services deploy` through the library; the names left and the actions
/// said.
fn deploy_later(
    sim: &Simulator,
    site: &Site,
    names: &[&str],
) -> (Vec<(String, String)>, Vec<String>) {
    let mut px = client(sim, "tappaas1");
    let mut h = host(sim, site);
    let mut events = Vec::new();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut h,
        &names,
        None,
        &mut |e| events.push(e.clone()),
    )
    .unwrap();
    (left, actions(&events))
}

/// A first node whose first boot deployed PostgreSQL alone.
fn postgresql_alone() -> (Simulator, Site) {
    let mut plan = deploy_plan();
    plan.services = vec!["postgresql".into()];
    let (sim, site) = deployment(&plan);
    assert_finished(&run(&sim, &site).1, "first boot");
    assert_eq!(clones(&sim), ["postgresql"]);
    (sim, site)
}

/// PostgreSQL's add-dependant command for a service.
fn ensure(name: &str, address: &str) -> Vec<String> {
    vec![
        "/usr/local/sbin/tappaas-pg-ensure".to_string(),
        name.to_string(),
        address.to_string(),
        format!("/etc/tappaas/secrets/{name}.db-password"),
    ]
}

#[test]
fn a_service_added_later_gets_its_role_in_the_deployed_postgresql() {
    let (sim, site) = postgresql_alone();
    let records = tappaas_firstboot::load_records(&site.node.config.services_state).unwrap();
    assert!(records["postgresql"].dependants.is_empty());

    let (left, said) = deploy_later(&sim, &site, &["grafana"]);
    assert!(left.is_empty(), "{left:?}\n{said:#?}");
    assert!(sim.vm("tappaas1", 250).unwrap().running);
    // The password file is in the PostgreSQL VM, and the script ran with
    // grafana's name and address.
    let password = secret(&site, "grafana", "db-password");
    assert_eq!(
        sim.guest_file("tappaas1", 210, "/etc/tappaas/secrets/grafana.db-password")
            .unwrap(),
        password.as_bytes()
    );
    assert_eq!(
        sim.guest_commands("tappaas1", 210),
        [ensure("grafana", "10.2.0.150")]
    );
    // Before grafana's VM was made.
    let calls = sim.calls();
    let exec = calls
        .iter()
        .position(|(_, r)| r.path == "/nodes/tappaas1/qemu/210/agent/exec")
        .unwrap();
    let clone = calls
        .iter()
        .position(|(_, r)| {
            r.path == "/nodes/tappaas1/qemu/9000/clone" && r.get_param("name") == Some("grafana")
        })
        .unwrap();
    assert!(exec < clone);
    let records = tappaas_firstboot::load_records(&site.node.config.services_state).unwrap();
    assert_eq!(records["postgresql"].dependants, ["grafana"]);
    // The password is in no message, no logged request and no file but
    // the credentials.
    let command = ensure("grafana", "10.2.0.150").join(" ");
    assert!(
        said.iter().any(|a| a.contains(&format!("run `{command}`"))),
        "{said:#?}"
    );
    for a in &said {
        assert!(!a.contains(&password), "{a}");
    }
    for (_, r) in &calls {
        assert!(!format!("{r:?}").contains(&password), "{r:?}");
    }
    let c = &site.node.config;
    for file in [&c.journal, &c.summary, &c.services_state] {
        if let Ok(text) = std::fs::read_to_string(file) {
            assert!(!text.contains(&password), "{}", file.display());
        }
    }

    // Again: nothing is written or run again in the PostgreSQL VM.
    let file_write = "/nodes/tappaas1/qemu/210/agent/file-write";
    let writes_before = count(&sim, "tappaas1", Method::Post, file_write);
    let (left, _) = deploy_later(&sim, &site, &["grafana"]);
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(sim.guest_commands("tappaas1", 210).len(), 1);
    assert_eq!(
        count(&sim, "tappaas1", Method::Post, file_write),
        writes_before
    );

    // Another one later: its own role, the first kept.
    let (left, _) = deploy_later(&sim, &site, &["vaultwarden"]);
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        sim.guest_commands("tappaas1", 210),
        [
            ensure("grafana", "10.2.0.150"),
            ensure("vaultwarden", "10.2.0.140")
        ]
    );
    let records = tappaas_firstboot::load_records(&site.node.config.services_state).unwrap();
    assert_eq!(records["postgresql"].dependants, ["grafana", "vaultwarden"]);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

/// An extra catalog entry on the node that needs vaultwarden.
const VW_HELPER: &str = r#"name = "vw-helper"
title = "Needs vaultwarden"
description = "A test entry."
optional = true
vmid = 345
cores = 1
memory-mib = 512
disk-gib = 4
pool = "tank1"
zone = "srv"
depends = ["vaultwarden"]
health = { kind = "tcp", port = 22 }
user-data = """
#cloud-config
hostname: {{ hostname }}
"""
"#;

#[test]
fn a_failing_add_dependant_fails_that_service_and_only_what_needs_it() {
    let (sim, site) = postgresql_alone();
    write(
        &site.node.config.catalog_dir.join("vw-helper.toml"),
        VW_HELPER,
    );
    // A known password, to see that it stays out of the message even
    // when the script prints it.
    let known = "KnownPassword0123456789abcdefghij";
    let creds = credentials(&site);
    write(
        &site.node.config.credentials,
        &format!("{creds}\n[vaultwarden]\ndb-password = \"{known}\"\n"),
    );
    sim.queue_exec(
        210,
        SimExec::exit(
            2,
            &format!("psql: error: connection refused\nFATAL: password {known} rejected\n"),
        ),
    );
    let (left, said) = deploy_later(&sim, &site, &["vw-helper", "grafana"]);
    let reason = |name: &str| {
        left.iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{name} not in {left:?}"))
    };
    let vw = reason("vaultwarden");
    assert!(vw.contains("VM 210 'postgresql'"), "{vw}");
    assert!(
        vw.contains(&ensure("vaultwarden", "10.2.0.140").join(" ")),
        "{vw}"
    );
    assert!(vw.contains("exit code 2"), "{vw}");
    assert!(vw.contains("psql: error: connection refused"), "{vw}");
    assert!(!vw.contains(known), "{vw}");
    assert!(vw.contains("<redacted>"), "{vw}");
    assert_eq!(reason("vw-helper"), "needs vaultwarden, which failed");
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        said.iter().any(|a| a.starts_with("FAILED: vaultwarden:")),
        "{said:#?}"
    );
    for a in &said {
        assert!(!a.contains(known), "{a}");
    }
    // Nothing of vaultwarden or what needs it was made; grafana was.
    assert!(sim.vm("tappaas1", 240).is_none());
    assert!(sim.vm("tappaas1", 345).is_none());
    assert!(sim.vm("tappaas1", 250).unwrap().running);
    let records = tappaas_firstboot::load_records(&site.node.config.services_state).unwrap();
    assert_eq!(
        records["vaultwarden"].outcome,
        tappaas_firstboot::ServiceOutcome::Failed
    );
    assert_eq!(records["postgresql"].dependants, ["grafana"]);
    let state = std::fs::read_to_string(&site.node.config.services_state).unwrap();
    assert!(!state.contains(known));

    // The cause is fixed: the same command completes, and grafana's
    // action does not run again.
    let (left, _) = deploy_later(&sim, &site, &["vw-helper"]);
    assert!(left.is_empty(), "{left:?}");
    assert!(sim.vm("tappaas1", 240).unwrap().running);
    assert!(sim.vm("tappaas1", 345).unwrap().running);
    assert_eq!(
        sim.guest_commands("tappaas1", 210),
        [
            ensure("vaultwarden", "10.2.0.140"),
            ensure("grafana", "10.2.0.150"),
            ensure("vaultwarden", "10.2.0.140"),
        ]
    );
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn a_postgresql_whose_agent_does_not_answer_fails_the_later_service() {
    let (sim, site) = postgresql_alone();
    // PostgreSQL runs and answers on its port, but not its guest agent.
    sim.set_guest_boot(210, GuestBoot::Never);
    let (left, _) = deploy_later(&sim, &site, &["grafana"]);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].0, "grafana");
    assert!(
        left[0].1.contains("QEMU guest agent is not running"),
        "{left:?}"
    );
    assert!(left[0].1.contains("qm agent 210 ping"), "{left:?}");
    assert!(sim.vm("tappaas1", 250).is_none());
}

#[test]
fn user_data_prints_what_deploy_gives_with_secrets_redacted() {
    let (sim, site) = deployment(&deploy_plan());
    assert_finished(&run(&sim, &site).1, "first boot");
    let c = &site.node.config;
    let snippet = std::fs::read_to_string(path_in(
        &site.node,
        "var/lib/vz/snippets/tappaas-grafana.yaml",
    ))
    .unwrap();
    // With the secrets: exactly what grafana's VM got.
    let shown = tappaas_firstboot::service_user_data(c, "grafana", None, true).unwrap();
    assert_eq!(shown.text, snippet);
    // Without: every value replaced by its name.
    let redacted = tappaas_firstboot::service_user_data(c, "grafana", None, false).unwrap();
    let db = secret(&site, "grafana", "db-password");
    let admin = secret(&site, "grafana", "admin-password");
    assert!(!redacted.text.contains(&db) && !redacted.text.contains(&admin));
    assert!(redacted
        .text
        .contains("GF_DATABASE_PASSWORD=<redacted grafana.db-password>"));
    assert_eq!(
        redacted
            .text
            .replace("<redacted grafana.db-password>", &db)
            .replace("<redacted grafana.admin-password>", &admin),
        snippet
    );
    assert!(redacted.notes.iter().any(|n| n.contains("--show-secrets")));
    // A dependency shows its dependants' secrets by name too.
    let pg = tappaas_firstboot::service_user_data(c, "postgresql", None, false).unwrap();
    assert!(
        pg.text.contains("<redacted authentik.db-password>"),
        "{}",
        pg.text
    );
    assert!(!pg.text.contains("nextcloud"), "not deployed: {}", pg.text);

    // A service not deployed yet: no value is made up, and the node is
    // not changed.
    let creds_before = credentials(&site);
    let nc = tappaas_firstboot::service_user_data(c, "nextcloud", None, true).unwrap();
    assert!(
        nc.text
            .contains("<not generated yet nextcloud.db-password>"),
        "{}",
        nc.text
    );
    assert!(
        nc.notes.iter().any(|n| n.contains("nextcloud.db-password")),
        "{:?}",
        nc.notes
    );
    assert_eq!(credentials(&site), creds_before);

    // Refusals: unknown, unavailable, and one this node would not deploy.
    let e = tappaas_firstboot::service_user_data(c, "nosuch", None, false).unwrap_err();
    assert!(e.contains("unknown service 'nosuch'"), "{e}");
    let e = tappaas_firstboot::service_user_data(c, "frigate", None, false).unwrap_err();
    assert!(e.contains("cannot be deployed yet"), "{e}");
    std::fs::remove_file(c.apt_sources.join("pve.sources")).unwrap();
    let e = tappaas_firstboot::service_user_data(c, "backup-server", None, false).unwrap_err();
    assert!(e.contains("needs Proxmox's repository"), "{e}");

    // Images: Docker's default registry, or the mirror given.
    let mut plan = deploy_plan();
    plan.container_registry = None;
    write(&c.plan, &serde_json::to_string(&plan).unwrap());
    let plain = tappaas_firstboot::service_user_data(c, "garage", None, false).unwrap();
    assert!(plain.text.contains(" dxflrs/garage:"), "{}", plain.text);
    let ok =
        tappaas_firstboot::service_user_data(c, "garage", Some("mirror.example"), false).unwrap();
    assert!(
        ok.text.contains(" mirror.example/dxflrs/garage:"),
        "{}",
        ok.text
    );
}

/// A service record file that does not parse is refused with its path and
/// what to do, and kept as it is; it is never taken as empty and
/// overwritten (which would lose PostgreSQL's list of dependants).
#[test]
fn an_unreadable_service_record_file_is_refused_and_kept() {
    let (sim, site) = postgresql_alone();
    let path = site.node.config.services_state.clone();
    let broken = "{\"postgresql\": {\"outcome\": \"healthy\", \"vmid\": 210, \"dependants\": [\"grafana\"]\n";
    write(&path, broken);

    let mut px = client(&sim, "tappaas1");
    let mut events = Vec::new();
    let r = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut host(&sim, &site),
        &["grafana".to_string()],
        None,
        &mut |e| events.push(e.clone()),
    );
    let shown = format!("{r:?} {events:?}");
    assert!(
        shown.contains(&path.display().to_string()) && shown.contains("kept as it is"),
        "{shown}"
    );
    assert!(shown.contains(".broken"), "what to do: {shown}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken, "kept");
    assert!(
        !clones(&sim).contains(&"grafana".to_string()),
        "nothing deployed over unknown records"
    );

    let list = tappaas_firstboot::services_list(&site.node.config, &mut px);
    assert!(list.unwrap_err().contains("kept as it is"));
    let r = run(&sim, &site).1.result;
    assert!(format!("{r:?}").contains("kept as it is"), "{r:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken, "kept");
}

#[test]
fn a_journal_that_cannot_be_written_stops_services_deploy() {
    let (sim, site) = postgresql_alone();
    let journal = site.node.config.services_journal.clone();
    let mut px = client(&sim, "tappaas1");
    let mut events = Vec::new();
    let r = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut host(&sim, &site),
        &["vaultwarden".to_string()],
        None,
        &mut |e| {
            // As vaultwarden's step starts, a folder takes the journal's
            // place: nothing, not even root, can append to it.
            if matches!(e, Event::StepStarted { index: 2, .. }) {
                std::fs::remove_file(&journal).unwrap();
                std::fs::create_dir(&journal).unwrap();
            }
            events.push(e.clone());
        },
    );
    match r {
        Err(tappaas_firstboot::FirstbootError::Step { step, failure }) => {
            assert_eq!(step, "service-vaultwarden");
            assert!(failure.what.contains("journal"), "{failure:?}");
        }
        other => panic!("a journal error must stop services deploy: {other:?}\n{events:#?}"),
    }
    assert!(
        matches!(events.last(), Some(Event::Failed { index: 2, .. })),
        "{events:#?}"
    );
    assert_eq!(clones(&sim), ["postgresql"], "vaultwarden was not deployed");
}

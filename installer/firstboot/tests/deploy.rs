//! The firewall and the services on the first node, against the Proxmox
//! simulator (every request checked against the API schema) and the
//! OPNsense console emulation: the whole sequence, a failing dependency,
//! re-runs, failures at each call of the firewall step, the route move
//! and its rollback, and where the passwords are (and are not).

#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;

use common::site::*;
use common::*;
use tappaas_firstboot::proxmox::{FailWhen, GuestBoot, Method};
use tappaas_firstboot::{FirstbootError, Outcome};
use tappaas_plan::Plan;

#[test]
fn the_firewall_and_every_base_service_deploy_in_order() {
    let (sim, site) = deployment(&deploy_plan());
    let (h, ran) = run(&sim, &site);
    let summary = match ran.result {
        Ok(Outcome::Finished { summary }) => summary,
        other => panic!("{other:?}\n{:#?}", actions(&ran.events)),
    };
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());

    // The steps, in order: template, firewall, then the services.
    let ids = step_ids(&ran.events);
    let at = |id: &str| ids.iter().position(|s| s == id).unwrap();
    assert!(at("storage-tank2") < at("vm-template"));
    assert!(at("vm-template") < at("firewall"));
    assert!(at("firewall") < at("firewall-config"));
    assert!(at("firewall-config") < at("firewall-route"));
    let services: Vec<&str> = ids
        .iter()
        .filter_map(|s| s.strip_prefix("service-"))
        .collect();
    assert_eq!(services, BASE);
    assert!(at("firewall-route") < at("service-postgresql"));
    // Deployed in that order, each once.
    assert_eq!(clones(&sim), BASE);
    // PostgreSQL's user-data named its dependants: first boot runs no
    // add-dependant action, and the record says whom the VM serves.
    assert!(sim.guest_commands("tappaas1", 210).is_empty());
    let records = tappaas_firstboot::load_records(&site.node.config.services_state).unwrap();
    assert_eq!(
        records["postgresql"].dependants,
        ["authentik", "vaultwarden", "grafana"]
    );

    let template = sim.vm("tappaas1", 9000).unwrap();
    assert!(template.template);
    assert_eq!(template.config["name"], "tappaas-template");
    assert!(template.config["scsi0"].starts_with("tank1:"));
    assert!(template.config["ide2"].contains("cloudinit"));

    let fw = sim.vm("tappaas1", 100).unwrap();
    assert!(fw.running);
    assert_eq!(fw.config["name"], "opnsense");
    assert!(fw.config["net0"].contains("bridge=lan"));
    assert!(fw.config["net1"].contains("bridge=wan"));
    assert_eq!(fw.config["serial0"], "socket");
    assert_eq!(fw.config["onboot"], "1");
    // Its configuration went in through the console, with our password's
    // hash and never the password itself.
    let xml =
        tappaas_opnsense::emulator::read_file(site.firewall.path(), "/conf/config.xml").unwrap();
    let password = secret(&site, "opnsense", "root-password");
    assert_eq!(password.len(), 24);
    assert!(!xml.contains(&password));
    let hash = xml
        .split("<password>")
        .nth(1)
        .and_then(|r| r.split("</password>").next())
        .unwrap();
    assert!(tappaas_opnsense::verify_password(&password, hash));
    assert!(xml.contains("<hostname>opnsense</hostname>"), "{xml}");
    assert!(xml.contains("<tag>210</tag>"));
    // Zone DHCP pools stay below the services' addresses.
    assert!(xml.contains("10.2.0.2") && xml.contains("10.2.0.99"));
    assert!(!xml.contains("10.2.0.128"));

    let creds = tappaas_services::Secrets::from_file_text("c", &credentials(&site)).unwrap();
    for (name, vmid) in [
        ("postgresql", 210u32),
        ("garage", 220),
        ("authentik", 230),
        ("vaultwarden", 240),
        ("grafana", 250),
        ("uptime-kuma", 260),
        ("backup-server", 270),
    ] {
        let vm = sim.vm("tappaas1", vmid).unwrap();
        assert!(vm.running, "{name}");
        assert_eq!(vm.config["name"], name);
        assert!(!vm.template);
        assert_eq!(
            vm.config["ipconfig0"],
            format!("ip=10.2.0.{}/24,gw=10.2.0.1", vmid - 100)
        );
        assert!(vm.config["net0"].contains("tag=210"), "{name}");
        assert_eq!(vm.config["nameserver"], "10.2.0.1");
        assert_eq!(
            vm.config["cicustom"],
            format!("user=local:snippets/tappaas-{name}.yaml")
        );
        let pool = if name == "backup-server" {
            "tank2"
        } else {
            "tank1"
        };
        assert!(
            vm.config["scsi0"].starts_with(&format!("{pool}:")),
            "{name}"
        );
        // The snippet is on the node, root-only, with the rendered user-data.
        let path = format!("/var/lib/vz/snippets/tappaas-{name}.yaml");
        assert!(sim.has_file("tappaas1", &path));
        let local = path_in(&site.node, path.trim_start_matches('/'));
        let text = std::fs::read_to_string(&local).unwrap();
        assert!(text.starts_with("#cloud-config"), "{name}");
        for (_, value) in creds.of(name) {
            assert!(text.contains(value.expose()), "{name}: a secret is missing");
        }
        let mode = std::fs::metadata(&local).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let local = client(&sim, "tappaas1")
        .storages()
        .unwrap()
        .into_iter()
        .find(|s| s.storage == "local")
        .unwrap();
    assert!(local.content.contains(&"snippets".to_string()));
    assert!(local.content.contains(&"iso".to_string()), "kept");

    // The default route was already the firewall's address: not moved.
    assert!(h.routes.is_empty());
    assert!(summary.contains("https://10.0.0.1/"), "{summary}");
    assert!(summary.contains("postgresql"), "{summary}");
    assert!(summary.contains("healthy"), "{summary}");
    assert!(!site.node.config.marker.exists());

    // A second run changes nothing.
    let writes_before = writes(&sim, "tappaas1");
    let (h, again) = run(&sim, &site);
    assert_finished(&again, "the second run");
    assert_eq!(writes(&sim, "tappaas1"), writes_before);
    assert!(h.emulators.is_empty(), "the console is not opened again");
}

#[test]
fn a_failed_dependency_stops_only_what_needs_it_and_a_rerun_completes() {
    let (sim, site) = deployment(&deploy_plan());
    sim.set_guest_boot(210, GuestBoot::Never);
    let (_, ran) = run(&sim, &site);
    let (step, failure) = failed_step(&ran);
    assert_eq!(step, "finish");
    assert!(
        failure.message.contains("postgresql"),
        "{}",
        failure.message
    );
    assert!(site.node.config.marker.exists(), "the marker stays");
    let said = actions(&ran.events);
    assert!(
        said.iter().any(|a| a.starts_with("FAILED: postgresql:")),
        "{said:#?}"
    );
    for dependant in ["authentik", "vaultwarden", "grafana"] {
        assert!(
            said.contains(&format!(
                "SKIPPED: {dependant}: needs postgresql, which failed"
            )),
            "{said:#?}"
        );
        assert!(sim.vm("tappaas1", 230).is_none());
    }
    // Everything else deployed.
    assert_eq!(
        clones(&sim),
        ["postgresql", "garage", "uptime-kuma", "backup-server"]
    );
    for id in [220, 260, 270] {
        assert!(sim.vm("tappaas1", id).unwrap().running);
    }
    let summary = std::fs::read_to_string(&site.node.config.summary).unwrap();
    assert!(summary.contains("FAILED"), "{summary}");
    let records = tappaas_firstboot::load_records(&site.node.config.services_state).unwrap();
    assert_eq!(
        records["postgresql"].outcome,
        tappaas_firstboot::ServiceOutcome::Failed
    );
    assert_eq!(
        records["grafana"].outcome,
        tappaas_firstboot::ServiceOutcome::Skipped
    );

    // The guest comes up now: the re-run deploys only what is missing.
    sim.set_guest_boot(210, GuestBoot::AfterPings(0));
    let (_, again) = run(&sim, &site);
    assert_finished(&again, "the re-run");
    assert_eq!(
        clones(&sim),
        [
            "postgresql",
            "garage",
            "uptime-kuma",
            "backup-server",
            "authentik",
            "vaultwarden",
            "grafana"
        ]
    );
    assert!(sim.vm("tappaas1", 210).unwrap().running);
    assert_eq!(
        count(
            &sim,
            "tappaas1",
            Method::Post,
            "/nodes/tappaas1/qemu/210/status/start"
        ),
        1,
        "the running postgresql is kept, not started again"
    );
    // Its VM was completed, not made in this run: no record vouches for
    // what its user-data ran, so each dependant's role is made again
    // through the agent (the script is safe to run again).
    let ran: Vec<String> = sim
        .guest_commands("tappaas1", 210)
        .iter()
        .map(|c| c[1].clone())
        .collect();
    assert_eq!(ran, ["authentik", "vaultwarden", "grafana"]);
    assert!(!site.node.config.marker.exists());
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn without_a_container_registry_the_images_come_from_dockers_default() {
    let snippet = |site: &Site, name: &str| {
        let path = format!("var/lib/vz/snippets/tappaas-{name}.yaml");
        std::fs::read_to_string(path_in(&site.node, &path)).unwrap()
    };
    let mut plan = deploy_plan();
    plan.container_registry = None;
    let (sim, site) = deployment(&plan);
    let (_, ran) = run(&sim, &site);
    assert_finished(&ran, "without a registry");
    assert_eq!(
        clones(&sim).len(),
        7,
        "every base service: {:?}",
        clones(&sim)
    );
    let grafana = snippet(&site, "grafana");
    assert!(
        grafana.contains(" grafana/grafana-oss:"),
        "an unqualified reference:\n{grafana}"
    );
    assert!(!grafana.contains("registry.example"));

    // With a registry (a mirror), every reference goes through it.
    let (sim, site) = deployment(&deploy_plan());
    let (_, ran) = run(&sim, &site);
    assert_finished(&ran, "with a registry");
    assert!(snippet(&site, "grafana").contains(" registry.example/grafana/grafana-oss:"));
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn a_failure_at_each_call_of_the_firewall_step_ends_with_one_firewall() {
    let calls: &[(Method, &str)] = &[
        (Method::Get, "/nodes/tappaas1/qemu"),
        (Method::Post, "/nodes/tappaas1/qemu"),
        (Method::Get, "/nodes/tappaas1/qemu/100/status/current"),
        (Method::Get, "/nodes/tappaas1/qemu/100/config"),
        (Method::Put, "/nodes/tappaas1/qemu/100/resize"),
        (Method::Post, "/nodes/tappaas1/qemu/100/status/start"),
    ];
    let mut plan = deploy_plan();
    // Only the firewall: the template's create would take the failure.
    plan.services.clear();
    for &(method, path) in calls {
        for when in [FailWhen::Before, FailWhen::After] {
            let case = format!("{method} {path} failing {when:?}");
            let (sim, site) = deployment(&plan);
            // Up to the storages first, so the failure strikes the firewall.
            sim.fail_next(method, path, when, "injected failure");
            let (_, first) = run(&sim, &site);
            assert_eq!(sim.pending_failures(), 0, "{case}: never struck");
            if let Err(e) = &first.result {
                assert!(
                    matches!(e, FirstbootError::Step { step, .. } if step == "firewall"),
                    "{case}: {e}"
                );
                let (_, again) = run(&sim, &site);
                assert_finished(&again, &case);
            }
            assert_eq!(sim.vm_ids("tappaas1"), [100], "{case}");
            let fw = sim.vm("tappaas1", 100).unwrap();
            assert!(fw.running, "{case}");
            assert!(fw.config["scsi0"].contains("size=16G"), "{case}");
            assert!(
                sim.violations().is_empty(),
                "{case}: {:?}",
                sim.violations()
            );
            assert!(!site.node.config.marker.exists(), "{case}");
        }
    }
}

/// A plan whose management gateway is another router than the firewall.
fn routed_plan() -> Plan {
    let mut p = deploy_plan();
    p.services.clear();
    p.network.gateway = Some("10.0.0.254".parse().unwrap());
    p.network.dns = Some("9.9.9.9".parse().unwrap());
    p
}

#[test]
fn the_route_moves_to_a_firewall_that_answers() {
    let (sim, site) = deployment(&routed_plan());
    let (h, ran) = run(&sim, &site);
    assert_finished(&ran, "the run");
    assert_eq!(h.routes, [ip("10.0.0.1")]);
}

#[test]
fn the_route_goes_back_when_the_outside_does_not_answer_through_the_firewall() {
    let (sim, site) = deployment(&routed_plan());
    let (h, ran) = run_adjusted(&sim, &site, |h| h.wan_works = false);
    let (step, failure) = failed_step(&ran);
    assert_eq!(step, "firewall-route");
    assert!(
        failure.message.contains("back on 10.0.0.254"),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("WAN"), "{}", failure.message);
    assert_eq!(h.routes, [ip("10.0.0.1"), ip("10.0.0.254")]);
    assert!(site.node.config.marker.exists());

    // The WAN is fixed: the re-run moves the route for good.
    let (h, again) = run(&sim, &site);
    assert_finished(&again, "the re-run");
    assert_eq!(h.routes, [ip("10.0.0.1")]);
    assert!(
        h.emulators.is_empty(),
        "the configuration is not uploaded again"
    );
}

#[test]
fn a_firewall_that_never_answers_keeps_the_route() {
    let (sim, site) = deployment(&routed_plan());
    let (h, ran) = run_adjusted(&sim, &site, |h| h.firewall_answers = false);
    let (step, failure) = failed_step(&ran);
    assert_eq!(step, "firewall-config");
    assert!(failure.what.contains("10.0.0.1:443"), "{failure:?}");
    assert!(h.routes.is_empty(), "the route is never moved");
}

#[test]
fn a_lost_journal_logs_in_with_the_generated_password() {
    let (sim, site) = deployment(&routed_plan());
    assert!(run(&sim, &site).1.result.is_ok());
    // The firewall now has our password; first boot runs again from scratch.
    std::fs::remove_file(&site.node.config.journal).unwrap();
    write(&site.node.config.marker, "pending\n");
    let password = secret(&site, "opnsense", "root-password");
    let (_, ran) = run_adjusted(&sim, &site, |h| h.console.password = password);
    assert_finished(&ran, "the run from scratch");
    assert_eq!(sim.vm_ids("tappaas1"), [100]);
    assert!(actions(&ran.events)
        .iter()
        .any(|a| a.contains("factory password is refused")));
}

#[test]
fn no_clear_password_outside_the_credentials_file() {
    let (sim, site) = deployment(&deploy_plan());
    assert!(run(&sim, &site).1.result.is_ok());
    let creds = tappaas_services::Secrets::from_file_text("c", &credentials(&site)).unwrap();
    let mode = std::fs::metadata(&site.node.config.credentials)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut values = vec![secret(&site, "opnsense", "root-password")];
    for name in BASE {
        values.extend(creds.of(name).map(|(_, v)| v.expose().to_string()));
    }
    assert!(values.len() > 5);
    let c = &site.node.config;
    for file in [&c.plan, &c.journal, &c.summary, &c.services_state] {
        let text = std::fs::read_to_string(file).unwrap();
        for v in &values {
            assert!(
                !text.contains(v.as_str()),
                "{} holds a password",
                file.display()
            );
        }
    }
    // Nor does Proxmox's configuration of any VM.
    for id in sim.vm_ids("tappaas1") {
        let cfg = format!("{:?}", sim.vm("tappaas1", id).unwrap().config);
        for v in &values {
            assert!(
                !cfg.contains(v.as_str()),
                "VM {id}'s configuration holds a password"
            );
        }
    }
    let _: IpAddr = ip("10.0.0.1");
}

/// Every command first boot and `services deploy` start, as the process
/// list shows it (and every local user reads it in /proc/PID/cmdline),
/// holds none of the secrets: the peer's root password of a join, the
/// firewall's root password, the services' generated passwords (a
/// dependant's database password written into PostgreSQL's VM included),
/// in clear or in base64.
#[test]
fn no_secret_on_any_command_line() {
    use base64::Engine;
    let mut first = deploy_plan();
    first.services = vec!["postgresql".into()];
    let (sim, site) = deployment(&first);
    let mut px = over_pvesh(&sim, "tappaas1");
    let mut h = host(&sim, &site);
    let r = tappaas_firstboot::run(&site.node.config, &mut px, &mut h, &mut |_| {});
    h.finish_consoles();
    assert!(matches!(r, Ok(Outcome::Finished { .. })), "{r:?}");
    // A dependant added later: its database password goes into the
    // PostgreSQL VM through the guest agent.
    let left = tappaas_firstboot::deploy_services(
        &site.node.config,
        &mut px,
        &mut h,
        &["grafana".to_string()],
        None,
        &mut |_| {},
    )
    .unwrap();
    h.finish_consoles();
    assert!(left.is_empty(), "{left:?}");
    let db_password = secret(&site, "grafana", "db-password");
    assert_eq!(
        sim.guest_file("tappaas1", 210, "/etc/tappaas/secrets/grafana.db-password")
            .unwrap(),
        db_password.as_bytes()
    );
    // A second node joins through the first with its root password.
    let n2 = Node::new(2, &plan(2, Some(&confirmed(&sim))));
    write(&n2.config.peer_password_credential, &root_password(1));
    let mut px2 = over_pvesh(&sim, "tappaas2");
    let r = tappaas_firstboot::run(&n2.config, &mut px2, &mut TestHost::new(&sim), &mut |_| {});
    assert!(matches!(r, Ok(Outcome::Finished { .. })), "{r:?}");
    assert_eq!(sim.cluster_of("tappaas2").unwrap().1.len(), 2);

    let creds = tappaas_services::Secrets::from_file_text("c", &credentials(&site)).unwrap();
    let mut secrets = vec![
        root_password(1),
        secret(&site, "opnsense", "root-password"),
        db_password,
    ];
    secrets.extend(creds.all().map(|(_, _, v)| v.expose().to_string()));
    let encoded: Vec<String> = secrets
        .iter()
        .map(|s| base64::engine::general_purpose::STANDARD.encode(s))
        .collect();
    secrets.extend(encoded);
    let mut commands = px.api().runner().argv.clone();
    commands.extend(px2.api().runner().argv.iter().cloned());
    for argv in &commands {
        for word in argv {
            for s in &secrets {
                assert!(
                    !word.contains(s.as_str()),
                    "a secret is on the command line `{}`",
                    argv.join(" ")
                );
            }
        }
    }
    // The two calls with a secret went through the tools that read it
    // from stdin.
    assert!(commands.iter().any(|c| c[..2] == ["pvecm", "add"]));
    assert!(commands.iter().any(|c| c[..2] == ["qm", "guest"]));
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

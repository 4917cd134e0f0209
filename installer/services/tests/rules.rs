//! The catalog's rules: names, ids, dependencies, order, addresses and
//! templates, on the real catalog and on small hand-made ones.

use std::net::{IpAddr, Ipv4Addr};

use tappaas_answer::{Cidr, Secret, Services, Zone};
use tappaas_services::{
    container_image, place, render, render_add_dependant, render_all, resolve, Catalog, Context,
    Error, HealthCheck, Problem, Secrets, HOST_OFFSET,
};

fn embedded() -> Catalog {
    Catalog::embedded().expect("the embedded catalog is valid")
}

/// A small valid entry; `extra` adds or overrides keys.
fn entry(name: &str, vmid: u32, depends: &[&str], extra: &str) -> (String, String) {
    let deps: Vec<String> = depends.iter().map(|d| format!("\"{d}\"")).collect();
    let text = format!(
        r#"name = "{name}"
title = "{name}"
description = "test entry"
optional = {optional}
vmid = {vmid}
cores = 1
memory-mib = 512
disk-gib = 4
pool = "tank1"
zone = "srv"
depends = [{deps}]
health = {{ kind = "tcp", port = 22 }}
{extra}
user-data = '''
#cloud-config
hostname: {{{{ hostname }}}}
'''
"#,
        optional = vmid >= 300,
        deps = deps.join(", ")
    );
    (format!("{name}.toml"), text)
}

fn problems(result: Result<Catalog, Error>) -> Vec<Problem> {
    match result {
        Err(Error::Catalog(p)) => p,
        other => panic!("expected catalog problems, got {other:?}"),
    }
}

#[test]
fn catalog_names_are_the_answer_files_services() {
    let catalog = embedded();
    let mut names: Vec<&str> = catalog.names();
    names.sort();
    let mut known: Vec<&str> = Services::KNOWN.to_vec();
    known.sort();
    assert_eq!(names, known);
    let mut base: Vec<&str> = catalog
        .entries()
        .iter()
        .filter(|e| !e.optional)
        .map(|e| e.name.as_str())
        .collect();
    base.sort();
    let mut expected = Services::BASE.to_vec();
    expected.sort();
    assert_eq!(base, expected);
    assert!(
        catalog
            .entries()
            .iter()
            .filter(|e| !e.optional)
            .all(|e| e.available),
        "every base service must be deployable"
    );
}

#[test]
fn docs_name_every_service() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/services.md"
    ))
    .expect("docs/services.md");
    for e in embedded().entries() {
        assert!(
            docs.contains(&format!("`{}`", e.name)),
            "docs/services.md lacks `{}`",
            e.name
        );
        assert!(
            docs.contains(&format!("| {} |", e.vmid)),
            "docs/services.md lacks the VM id {} of {}",
            e.vmid,
            e.name
        );
        if let Some(reason) = &e.reason {
            assert!(
                docs.contains(reason.as_str()),
                "docs/services.md lacks the reason of {}",
                e.name
            );
        }
    }
}

#[test]
fn a_cycle_is_named() {
    let p = problems(Catalog::from_sources(vec![
        entry("a", 200, &["b"], ""),
        entry("b", 201, &["c"], ""),
        entry("c", 202, &["a"], ""),
    ]));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].message.contains("a -> b -> c -> a"), "{}", p[0]);
    assert_eq!(p[0].file, "a.toml");
    assert_eq!(p[0].line, Some(11), "the line of `depends`: {}", p[0]);
}

#[test]
fn an_unknown_dependency_names_file_line_and_key() {
    let p = problems(Catalog::from_sources(vec![entry(
        "a",
        200,
        &["a2", "nosuch"],
        "",
    )]));
    let text = p
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("a.toml:11: depends[1]: unknown service 'nosuch'"),
        "{text}"
    );
}

#[test]
fn a_duplicate_vmid_is_refused() {
    let p = problems(Catalog::from_sources(vec![
        entry("a", 200, &[], ""),
        entry("b", 200, &[], ""),
    ]));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        (p[0].file.as_str(), p[0].key.as_str(), p[0].line),
        ("b.toml", "vmid", Some(5))
    );
    assert!(p[0].message.contains("also the VM id of 'a'"), "{}", p[0]);
}

#[test]
fn bad_keys_and_values_are_located() {
    let (file, text) = entry("a", 200, &[], "colour = \"red\"");
    let p = problems(Catalog::from_sources(vec![(file, text)]));
    assert!(p[0].message.contains("unknown field `colour`"), "{}", p[0]);
    assert_eq!(p[0].line, Some(13), "{}", p[0]);

    let (file, text) = entry("a", 200, &[], "");
    let p = problems(Catalog::from_sources(vec![(
        file,
        text.replace("zone = \"srv\"", "zone = \"lab\""),
    )]));
    assert_eq!(
        p[0].to_string().split(": use").next(),
        Some("a.toml:10: zone: unknown zone 'lab'")
    );

    let (file, text) = entry("a", 300, &[], "");
    let text = text.replace("optional = true", "optional = false");
    let p = problems(Catalog::from_sources(vec![(file, text)]));
    assert!(
        p[0].message
            .contains("outside 200-299, the range of a base service"),
        "{}",
        p[0]
    );
    let p = problems(Catalog::from_sources(vec![entry("a", 360, &[], "")]));
    assert!(
        p[0].message.contains("outside 300-354"),
        "optional ids: {}",
        p[0]
    );
    let (_, text) = entry("a", 200, &[], "");
    let p = problems(Catalog::from_sources(vec![("b.toml".into(), text)]));
    assert!(p[0].message.contains("name the file a.toml"), "{}", p[0]);
}

#[test]
fn an_unavailable_service_is_listed_but_refused_with_its_reason() {
    let catalog = embedded();
    let frigate = catalog.get("frigate").expect("frigate is in the catalog");
    assert!(!frigate.available);
    let reason = frigate.reason.clone().expect("a reason");
    match resolve(&catalog, &["garage".into(), "frigate".into()]) {
        Err(Error::Unavailable { name, reason: r }) => {
            assert_eq!(name, "frigate");
            assert_eq!(r, reason);
        }
        other => panic!("frigate must be refused, got {other:?}"),
    }
    match resolve(&catalog, &["nosuch".into()]) {
        Err(e @ Error::Unknown { .. }) => {
            assert!(
                e.to_string().contains("services list"),
                "says what to do: {e}"
            )
        }
        other => panic!("unknown names are refused, got {other:?}"),
    }
}

#[test]
fn missing_dependencies_are_added_and_reported() {
    let catalog = embedded();
    let r = resolve(&catalog, &["authentik".into(), "grafana".into()]).expect("resolves");
    assert_eq!(r.names(), ["postgresql", "authentik", "grafana"]);
    let said: Vec<String> = r.added.iter().map(ToString::to_string).collect();
    assert_eq!(said, ["authentik needs postgresql: added"]);
    // Selected explicitly: nothing is "added".
    let r = resolve(&catalog, &["authentik".into(), "postgresql".into()]).expect("resolves");
    assert!(r.added.is_empty());
}

#[test]
fn order_is_dependency_correct_for_every_subset_of_the_base_services() {
    let catalog = embedded();
    let base = Services::BASE;
    for mask in 0u32..(1 << base.len()) {
        let selected: Vec<String> = (0..base.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| base[i].to_string())
            .collect();
        let r = resolve(&catalog, &selected).expect("a base subset resolves");
        let names = r.names();
        for s in &selected {
            assert!(names.contains(&s.as_str()), "{s} missing from {names:?}");
        }
        for (i, e) in r.order.iter().enumerate() {
            for dep in &e.depends {
                let at = names.iter().position(|n| n == dep);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{selected:?}: {} before its dependency {dep}: {names:?}",
                    e.name
                );
            }
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "no duplicates: {names:?}");
        // Everything added is a dependency of something chosen.
        for a in &r.added {
            assert!(!selected.contains(&a.name));
            assert!(r
                .get(&a.needed_by)
                .is_some_and(|e| e.depends.contains(&a.name)));
        }
        // Stable: the same selection reversed gives the same order.
        let reversed: Vec<String> = selected.iter().rev().cloned().collect();
        assert_eq!(
            resolve(&catalog, &reversed).expect("resolves").names(),
            names
        );
    }
}

#[test]
fn ties_are_broken_by_vmid() {
    let catalog = Catalog::from_sources(vec![
        entry("z", 201, &[], ""),
        entry("y", 205, &["z"], ""),
        entry("x", 203, &[], ""),
    ])
    .expect("valid");
    let r = resolve(&catalog, &["y".into(), "x".into(), "z".into()]).expect("resolves");
    assert_eq!(r.names(), ["z", "x", "y"]);
}

#[test]
fn the_address_rule_never_gives_network_gateway_or_broadcast() {
    let zones = [
        "10.2.0.1/24",
        "10.3.0.254/24",
        "192.168.10.1/26",
        "172.16.0.1/16",
        "10.9.9.1/30",
    ];
    for cidr in zones {
        let cidr: Cidr = cidr.parse().expect("cidr");
        let zone = Zone {
            name: "z".into(),
            vlan: 10,
            cidr,
        };
        let IpAddr::V4(gateway) = cidr.addr else {
            unreachable!()
        };
        let mask = u32::MAX << (32 - cidr.prefix);
        let network = u32::from(gateway) & mask;
        let broadcast = network | !mask;
        let mut e = embedded().get("postgresql").expect("postgresql").clone();
        for vmid in 0..=700u32 {
            e.vmid = vmid;
            if let Ok(p) = place(&e, &zone) {
                let a = u32::from(p.address);
                assert_eq!(a & mask, network, "{vmid} in {cidr}: {}", p.address);
                assert!(
                    a != network && a != broadcast && p.address != gateway,
                    "{vmid} in {cidr}: {}",
                    p.address
                );
                assert_eq!(a - network, vmid - HOST_OFFSET);
                assert_eq!(p.gateway, gateway);
            }
        }
    }
    let srv = Zone::defaults().into_iter().next().expect("srv");
    let pg = embedded().get("postgresql").expect("postgresql").clone();
    assert_eq!(
        place(&pg, &srv).expect("placed").address,
        Ipv4Addr::new(10, 2, 0, 110)
    );
    let mut far = pg.clone();
    far.vmid = 355;
    let err = place(&far, &srv).expect_err("355 is past .254");
    assert!(err.contains("outside 1-254"), "{err}");
}

#[test]
fn an_address_collision_is_refused() {
    let catalog = embedded();
    let r = resolve(&catalog, &["postgresql".into()]).expect("resolves");
    let mut ctx = Context::example(&r);
    ctx.dns_server = IpAddr::V4(Ipv4Addr::new(10, 2, 0, 110));
    let err = render(&catalog, &r, "postgresql", &ctx).expect_err("collides with DNS");
    assert!(err.to_string().contains("already the DNS server"), "{err}");

    ctx = Context::example(&r);
    ctx.zones.retain(|z| z.name != "srv");
    let err = render(&catalog, &r, "postgresql", &ctx).expect_err("no srv zone");
    assert!(
        err.to_string().contains("zone 'srv' is not in the plan"),
        "{err}"
    );
}

#[test]
fn a_missing_template_variable_names_the_entry_and_the_variable() {
    let (file, text) = entry("a", 200, &[], "");
    let text = text.replace(
        "hostname: {{ hostname }}",
        "hostname: {{ hostname }}\nfoo: {{ deps.nosuch.address }}",
    );
    let p = problems(Catalog::from_sources(vec![(file, text)]));
    let msg = p[0].to_string();
    assert!(msg.contains("a.toml"), "{msg}");
    assert!(msg.contains("user-data"), "{msg}");
    assert!(msg.contains("deps.nosuch.address"), "{msg}");
    assert!(msg.contains("template line 3"), "{msg}");

    let (file, text) = entry("a", 200, &[], "");
    let text = text.replace(
        "#cloud-config\n",
        "#cloud-config\nx: {{ secrets[\"nope\"] }}\n",
    );
    let msg = problems(Catalog::from_sources(vec![(file, text)]))[0].to_string();
    assert!(msg.contains("secrets[\"nope\"]"), "{msg}");

    let (file, text) = entry("a", 200, &[], "");
    let text = text.replace("#cloud-config\n", "");
    let msg = problems(Catalog::from_sources(vec![(file, text)]))[0].to_string();
    assert!(msg.contains("must start with '#cloud-config'"), "{msg}");
}

#[test]
fn image_references_take_the_registry_only_when_one_is_set() {
    let ok = |registry, reference| container_image(registry, reference).expect("valid");
    assert_eq!(
        ok(None, "grafana/grafana-oss:12.2.0"),
        "grafana/grafana-oss:12.2.0"
    );
    assert_eq!(
        ok(Some("mirror.lan:5000/hub/"), "library/nextcloud:31"),
        "mirror.lan:5000/hub/library/nextcloud:31"
    );
    for bad in [
        "",
        "nextcloud:31",
        "quay.example/x/y:1",
        "localhost/x:1",
        "host:5000/x:1",
    ] {
        assert!(container_image(None, bad).is_err(), "{bad:?} accepted");
    }

    // In a catalog entry, a reference with a host is refused at load time,
    // with the entry's file.
    let (file, text) = entry("a", 200, &[], "");
    let text = text.replace(
        "#cloud-config\n",
        "#cloud-config\nx: {{ image(\"quay.example/a/b:1\") }}\n",
    );
    let msg = problems(Catalog::from_sources(vec![(file, text)]))[0].to_string();
    assert!(msg.contains("a.toml"), "{msg}");
    assert!(msg.contains("names a registry host"), "{msg}");
}

#[test]
fn rendering_gives_addresses_urls_health_and_dependency_facts() {
    let catalog = embedded();
    let r = resolve(&catalog, &Services::BASE.map(String::from)).expect("resolves");
    let mut ctx = Context::example(&r);
    ctx.secrets = Secrets::generate(&r).expect("random");
    let all = render_all(&catalog, &r, &ctx).expect("renders");
    let get = |n: &str| all.iter().find(|x| x.entry.name == n).expect(n);
    let pg = get("postgresql");
    let ak = get("authentik");
    assert_eq!(ak.urls[0], "https://10.2.0.130:9443/");
    assert_eq!(ak.ipconfig0(), "ip=10.2.0.130/24,gw=10.2.0.1");
    assert_eq!(
        ak.health,
        HealthCheck::Http {
            url: "http://10.2.0.130:9000/-/health/live/".into(),
            expect_status: 200,
            tls: false
        }
    );
    assert_eq!(
        pg.health,
        HealthCheck::Tcp {
            address: "10.2.0.110:5432".parse().expect("addr")
        }
    );
    let db = ctx
        .secrets
        .get("authentik", "db-password")
        .expect("generated")
        .expose();
    assert!(ak
        .user_data
        .contains(&format!("AUTHENTIK_POSTGRESQL__PASSWORD={db}")));
    assert!(ak
        .user_data
        .contains("AUTHENTIK_POSTGRESQL__HOST=10.2.0.110"));
    assert!(
        pg.user_data.contains(&format!("\"{db}\"")),
        "postgresql gets authentik's db password"
    );
    assert!(pg
        .user_data
        .contains("tappaas-pg-ensure authentik 10.2.0.130"));
    // Not a dependant: its secrets stay out of postgresql's user-data.
    let garage = ctx
        .secrets
        .get("garage", "rpc-secret")
        .expect("generated")
        .expose();
    assert!(!pg.user_data.contains(garage));
    assert!(get("garage").user_data.contains(garage));
}

#[test]
fn secrets_are_generated_once_and_kept() {
    let catalog = embedded();
    let r = resolve(&catalog, &["authentik".into()]).expect("resolves");
    let mut s = Secrets::default();
    s.insert(
        "authentik",
        "db-password",
        Secret::new("kept-value-0123456789"),
    );
    let made = s.fill_missing(&r).expect("random");
    assert!(!made.contains(&("authentik".into(), "db-password".into())));
    assert!(made.contains(&("authentik".into(), "admin-password".into())));
    assert_eq!(
        s.get("authentik", "db-password").expect("kept").expose(),
        "kept-value-0123456789"
    );
    for e in &r.order {
        for spec in &e.secrets {
            let v = s.get(&e.name, &spec.name).expect("every declared secret");
            if spec.name != "db-password" {
                assert_eq!(v.expose().len(), spec.length);
            }
        }
    }
    assert!(s.fill_missing(&r).expect("random").is_empty());
}

#[test]
fn extra_entries_load_from_a_directory() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("extra-catalog");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (file, text) = entry(
        "gitea",
        350,
        &["postgresql"],
        "secrets = [{ name = \"db-password\", length = 32 }]",
    );
    std::fs::write(dir.join(&file), text).expect("write");
    std::fs::write(dir.join("README.txt"), "not an entry").expect("write");
    let both = Catalog::embedded_and_dir(&dir).expect("valid");
    let r = resolve(&both, &["gitea".into()]).expect("resolves");
    assert_eq!(r.names(), ["postgresql", "gitea"]);
    let alone = Catalog::load_dir(&dir);
    let p = problems(alone);
    assert!(
        p[0].message.contains("unknown service 'postgresql'"),
        "{}",
        p[0]
    );
    assert!(p[0].file.ends_with("gitea.toml"), "{}", p[0]);

    let (file, text) = entry("garage", 351, &[], "");
    std::fs::write(dir.join(file), text).expect("write");
    let p = problems(Catalog::embedded_and_dir(&dir));
    assert!(
        p.iter().any(|p| p.message.contains("already defined")),
        "{p:?}"
    );
}

#[test]
fn the_docs_example_entry_is_valid() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/services.md"
    ))
    .expect("docs/services.md");
    let start = docs.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let end = start + docs[start..].find("\n```").expect("its end");
    let example = docs[start..end].replace("...\n", "hostname: {{ hostname }}\n");
    let mut files: Vec<(String, String)> = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    for item in std::fs::read_dir(&dir).expect("catalog dir") {
        let path = item.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        files.push((path.display().to_string(), text));
    }
    files.push(("gitea.toml".into(), example));
    let catalog = Catalog::from_sources(files).expect("the example entry is valid");
    let r = resolve(&catalog, &["gitea".into()]).expect("resolves");
    assert_eq!(r.names(), ["postgresql", "gitea"]);
}

/// A dependency `db` with `dependant-secrets` and an `add-dependant`
/// action (`action` replaces the default one), and a service `app` that
/// depends on it.
fn with_action(action: &str) -> Vec<(String, String)> {
    let action = if action.is_empty() {
        r#"add-dependant.files = [
    { path = "/etc/db/{{ dependant.ident }}.pw", content = '{{ dependant.secrets["pw"] }}' },
]
add-dependant.command = ["/usr/sbin/db-add", "{{ dependant.ident }}", "{{ dependant.address }}"]"#
    } else {
        action
    };
    vec![
        entry(
            "db",
            200,
            &[],
            &format!("dependant-secrets = [\"pw\"]\n{action}"),
        ),
        entry(
            "my-app",
            201,
            &["db"],
            "secrets = [{ name = \"pw\", length = 16 }]",
        ),
    ]
}

#[test]
fn the_postgresql_action_gives_a_later_dependant_its_role() {
    let catalog = embedded();
    let r = resolve(&catalog, &["grafana".into()]).expect("resolves");
    let ctx = Context::example(&r);
    let a = render_add_dependant(&catalog, &r, "postgresql", "grafana", &ctx)
        .expect("renders")
        .expect("postgresql has an action");
    let pw = ctx
        .secrets
        .get("grafana", "db-password")
        .expect("example")
        .expose();
    assert_eq!((a.service.as_str(), a.vmid), ("postgresql", 210));
    assert_eq!(a.dependant, "grafana");
    assert_eq!(a.files.len(), 1);
    assert_eq!(a.files[0].0, "/etc/tappaas/secrets/grafana.db-password");
    assert_eq!(a.files[0].1.expose(), pw);
    assert_eq!(
        a.command,
        [
            "/usr/local/sbin/tappaas-pg-ensure",
            "grafana",
            "10.2.0.150",
            "/etc/tappaas/secrets/grafana.db-password"
        ]
    );
    assert!(!format!("{a:?}").contains(pw), "Debug hides the content");
    // The same script the user-data runs for a planned dependant.
    let pg = render(&catalog, &r, "postgresql", &ctx).expect("renders");
    assert!(
        pg.user_data.contains(&a.command.join(" ")),
        "{}",
        pg.user_data
    );
    // A service without an action, and one that is not a dependant.
    assert!(
        render_add_dependant(&catalog, &r, "grafana", "postgresql", &ctx)
            .expect("no action")
            .is_none()
    );
    let r = resolve(&catalog, &["grafana".into(), "garage".into()]).expect("resolves");
    let ctx = Context::example(&r);
    let err = render_add_dependant(&catalog, &r, "postgresql", "garage", &ctx)
        .expect_err("garage does not depend on postgresql");
    assert!(err.to_string().contains("does not depend"), "{err}");
}

#[test]
fn a_hand_made_action_renders_with_the_dependant() {
    let catalog = Catalog::from_sources(with_action("")).expect("valid");
    let r = resolve(&catalog, &["my-app".into()]).expect("resolves");
    let ctx = Context::example(&r);
    let a = render_add_dependant(&catalog, &r, "db", "my-app", &ctx)
        .expect("renders")
        .expect("an action");
    assert_eq!(a.files[0].0, "/etc/db/my_app.pw");
    assert_eq!(a.command, ["/usr/sbin/db-add", "my_app", "10.2.0.101"]);
}

#[test]
fn add_dependant_is_checked_with_file_line_and_key() {
    let shown = |p: Vec<Problem>| {
        p.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    // dependant-secrets without an action: the limit the action removes.
    let (file, text) = entry("db", 200, &[], "dependant-secrets = [\"pw\"]");
    let p = shown(problems(Catalog::from_sources(vec![
        (file, text),
        entry(
            "my-app",
            201,
            &["db"],
            "secrets = [{ name = \"pw\", length = 16 }]",
        ),
    ])));
    assert!(
        p.contains("db.toml:13: dependant-secrets: a service that hands its dependants secrets needs add-dependant"),
        "{p}"
    );

    // A secret in the command: it would be shown in messages.
    let p = shown(problems(Catalog::from_sources(with_action(
        r#"add-dependant.command = [
    "/usr/sbin/db-add",
    "{{ dependant.secrets['pw'] }}",
]"#,
    ))));
    assert!(
        p.contains("db.toml:16: add-dependant.command[1]: holds a secret"),
        "{p}"
    );

    // A relative program, an empty command, a relative file path.
    let p = shown(problems(Catalog::from_sources(with_action(
        r#"add-dependant.command = ["db-add"]"#,
    ))));
    assert!(
        p.contains(
            "db.toml:14: add-dependant.command[0]: the program 'db-add' is not an absolute path"
        ),
        "{p}"
    );
    let p = shown(problems(Catalog::from_sources(with_action(
        "add-dependant.command = []",
    ))));
    assert!(
        p.contains("db.toml:14: add-dependant.command: is empty"),
        "{p}"
    );
    let p = shown(problems(Catalog::from_sources(with_action(
        "add-dependant.command = [\"/bin/x\"]\nadd-dependant.files = [{ path = \"x\", content = \"\" }]",
    ))));
    assert!(
        p.contains("db.toml:15: add-dependant.files[0]: path 'x' is not absolute"),
        "{p}"
    );

    // A variable that does not exist, in a file's content: the line of
    // that file.
    let p = shown(problems(Catalog::from_sources(with_action(
        r#"add-dependant.command = ["/bin/x"]
add-dependant.files = [
    { path = "/etc/x", content = "ok" },
    { path = "/etc/y", content = "{{ dependant.nosuch }}" },
]"#,
    ))));
    assert!(
        p.contains("db.toml:17: add-dependant.files[1].content:") && p.contains("dependant.nosuch"),
        "{p}"
    );

    // An unknown key inside the action.
    let p = shown(problems(Catalog::from_sources(with_action(
        "add-dependant.command = [\"/bin/x\"]\nadd-dependant.shell = true",
    ))));
    assert!(
        p.contains("db.toml") && p.contains("unknown field `shell`"),
        "{p}"
    );
}

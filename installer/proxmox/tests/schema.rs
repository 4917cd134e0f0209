//! Every request the typed client can build fits the published Proxmox VE
//! API schema, and the validator catches each kind of mistake.

// Tests may unwrap: a panic is a failure with a location.
#![allow(clippy::unwrap_used)]

mod common;
// The walk over every request builder (`all_typed_requests`).
#[path = "schema/walk.rs"]
mod walk;

use std::collections::BTreeMap;

use common::{node, schema, storage, vmid};
use tappaas_proxmox::client::{requests, CreateVm, DiskBus, DiskSlot, DiskSpec, VmSettings};
use tappaas_proxmox::{Method, Request, Rule, SchemaError};
use walk::all_typed_requests;

/// `ssd` exists only on scsi, ide and sata disks: the schema refuses it on
/// a virtio disk, so a typed `DiskSpec` with `ssd` belongs on `scsiN`.
#[test]
fn ssd_is_not_a_virtio_disk_flag() {
    let mut disk = DiskSpec::new_disk(storage("tank2"), 10);
    disk.ssd = true;
    let req = requests::create_vm(
        &node("tappaas1"),
        &CreateVm::new(
            vmid(150),
            VmSettings::new().disk(DiskSlot::new(DiskBus::Virtio, 0).unwrap(), &disk),
        ),
    );
    let e = schema().validate_request(&req).unwrap_err();
    one(e, Rule::PropertyString, Some("virtio0"));
}

/// The names of the `pub fn`s in the `pub mod requests` block of a source
/// file of this crate, or of a whole `requests.rs` file.
fn request_builders(file: &str) -> Vec<String> {
    let path = format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let re = regex::Regex::new(r"\bpub fn ([a-z_0-9]+)").unwrap();
    if file.ends_with("/requests.rs") {
        return re.captures_iter(&text).map(|c| c[1].to_string()).collect();
    }
    let start = text
        .find("pub mod requests {")
        .unwrap_or_else(|| panic!("{path} has no `pub mod requests`"));
    let body = &text[start..];
    // The module ends at the first closing brace in column 0.
    let end = body.find("\n}\n").unwrap_or(body.len());
    re.captures_iter(&body[..end])
        .map(|c| c[1].to_string())
        .collect()
}

/// The walk above must cover every request builder: a new builder that is
/// not added to it fails here.
#[test]
fn the_walk_covers_every_request_builder() {
    let walked: Vec<String> = all_typed_requests()
        .into_iter()
        .map(|(name, _)| name.split('(').next().unwrap_or(name).to_string())
        .collect();
    let mut builders = request_builders("client/requests.rs");
    builders.extend(request_builders("client/vm/requests.rs"));
    builders.extend(request_builders("client/vm/agent.rs"));
    assert!(
        builders.len() > 30,
        "only found {builders:?}: parser broken?"
    );
    let missing: Vec<&String> = builders.iter().filter(|b| !walked.contains(b)).collect();
    assert!(
        missing.is_empty(),
        "request builders not in all_typed_requests: {missing:?}"
    );
}

#[test]
fn every_typed_request_fits_the_schema_and_is_fully_checked() {
    let s = schema();
    let mut failures = Vec::new();
    for (name, req) in all_typed_requests() {
        if let Err(errors) = s.validate_request(&req) {
            failures.push(format!("{name} {req:?}: {errors:?}"));
        }
        // A format without a validator would let a bad value through
        // unnoticed; every one our calls touch must be checked.
        let unchecked = s.unchecked_in(&req);
        if !unchecked.is_empty() {
            failures.push(format!("{name}: not fully checked: {unchecked:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_calls_we_rely_on_exist_with_these_methods() {
    let s = schema();
    for (template, method) in [
        ("/version", Method::Get),
        ("/cluster/status", Method::Get),
        ("/cluster/config", Method::Post),
        ("/cluster/config/join", Method::Get),
        ("/cluster/config/join", Method::Post),
        ("/cluster/config/nodes", Method::Get),
        ("/storage", Method::Get),
        ("/storage", Method::Post),
        ("/storage/{storage}", Method::Get),
        ("/storage/{storage}", Method::Put),
        ("/nodes", Method::Get),
        ("/nodes/{node}/status", Method::Get),
        ("/nodes/{node}/storage", Method::Get),
        ("/nodes/{node}/disks/zfs", Method::Get),
        ("/nodes/{node}/tasks/{upid}/status", Method::Get),
        ("/cluster/nextid", Method::Get),
        ("/cluster/resources", Method::Get),
        ("/nodes/{node}/qemu", Method::Get),
        ("/nodes/{node}/qemu", Method::Post),
        ("/nodes/{node}/qemu/{vmid}", Method::Delete),
        ("/nodes/{node}/qemu/{vmid}/config", Method::Get),
        ("/nodes/{node}/qemu/{vmid}/config", Method::Put),
        ("/nodes/{node}/qemu/{vmid}/clone", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/template", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/resize", Method::Put),
        ("/nodes/{node}/qemu/{vmid}/status/start", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/status/shutdown", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/status/stop", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/status/current", Method::Get),
        ("/nodes/{node}/qemu/{vmid}/agent/ping", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/agent/file-write", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/agent/exec", Method::Post),
        ("/nodes/{node}/qemu/{vmid}/agent/exec-status", Method::Get),
        ("/nodes/{node}/storage/{storage}/content", Method::Get),
    ] {
        assert!(
            s.methods(template).contains(&method),
            "{method} {template} missing from the schema"
        );
    }
    assert!(s.len() > 400, "only {} paths: wrong file?", s.len());
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn errors(method: Method, path: &str, pairs: &[(&str, &str)]) -> Vec<SchemaError> {
    match schema().validate(method, path, &params(pairs)) {
        Ok(()) => panic!("{method} {path} {pairs:?} was accepted"),
        Err(e) => e,
    }
}

/// The single error expected, with its rule and parameter.
fn one(errs: Vec<SchemaError>, rule: Rule, param: Option<&str>) -> SchemaError {
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = errs.into_iter().next().unwrap();
    assert_eq!(e.rule, rule, "{e}");
    assert_eq!(e.param.as_deref(), param, "{e}");
    e
}

fn valid_join() -> Vec<(&'static str, String)> {
    vec![
        ("hostname", "10.0.0.10".to_string()),
        ("fingerprint", vec!["4F"; 32].join(":")),
        ("password", "secret".to_string()),
        ("link0", "address=10.0.0.11".to_string()),
    ]
}

fn join_with(change: &[(&'static str, Option<&str>)]) -> Vec<(&'static str, String)> {
    let mut p = valid_join();
    for (k, v) in change {
        p.retain(|(key, _)| key != k);
        if let Some(v) = v {
            p.push((k, v.to_string()));
        }
    }
    p
}

fn join_errors(change: &[(&'static str, Option<&str>)]) -> Vec<SchemaError> {
    let p = join_with(change);
    let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    errors(Method::Post, "/cluster/config/join", &pairs)
}

#[test]
fn the_valid_join_used_below_is_valid() {
    let p = valid_join();
    let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    schema()
        .validate(Method::Post, "/cluster/config/join", &params(&pairs))
        .unwrap();
}

#[test]
fn unknown_path() {
    let e = one(
        errors(Method::Get, "/cluster/nothing", &[]),
        Rule::UnknownPath,
        None,
    );
    assert!(e.to_string().contains("/cluster/nothing"), "{e}");
    one(errors(Method::Get, "storage", &[]), Rule::UnknownPath, None);
}

#[test]
fn wrong_method() {
    let e = one(
        errors(Method::Delete, "/cluster/status", &[]),
        Rule::MethodNotAllowed,
        None,
    );
    assert!(e.detail.contains("GET"), "{e}");
    one(
        errors(Method::Post, "/nodes/tappaas1/disks/zfs/tank1", &[]),
        Rule::MethodNotAllowed,
        None,
    );
}

#[test]
fn unknown_parameter() {
    let e = one(
        errors(
            Method::Post,
            "/cluster/config",
            &[("clustername", "tappaas"), ("ring0_addr", "10.0.0.10")],
        ),
        Rule::UnknownParameter,
        Some("ring0_addr"),
    );
    assert_eq!(e.value.as_deref(), Some("10.0.0.10"));
    // `GET /storage` takes only `type`.
    one(
        errors(Method::Get, "/storage", &[("node", "tappaas1")]),
        Rule::UnknownParameter,
        Some("node"),
    );
}

#[test]
fn missing_required_parameter() {
    one(
        join_errors(&[("fingerprint", None)]),
        Rule::MissingParameter,
        Some("fingerprint"),
    );
    one(
        join_errors(&[("password", None)]),
        Rule::MissingParameter,
        Some("password"),
    );
    one(
        errors(Method::Post, "/storage", &[("type", "zfspool")]),
        Rule::MissingParameter,
        Some("storage"),
    );
    one(
        errors(Method::Post, "/cluster/config", &[]),
        Rule::MissingParameter,
        Some("clustername"),
    );
}

#[test]
fn bad_enum_value() {
    let e = one(
        errors(
            Method::Post,
            "/storage",
            &[("type", "zfs-pool"), ("storage", "tank1")],
        ),
        Rule::Enum,
        Some("type"),
    );
    assert!(e.detail.contains("zfspool"), "{e}");
    one(
        errors(Method::Get, "/storage", &[("type", "ZFSPOOL")]),
        Rule::Enum,
        Some("type"),
    );
}

#[test]
fn pattern_mismatch() {
    // 31 pairs instead of 32.
    let short = vec!["4F"; 31].join(":");
    let e = one(
        join_errors(&[("fingerprint", Some(&short))]),
        Rule::Pattern,
        Some("fingerprint"),
    );
    assert_eq!(e.value.as_deref(), Some(short.as_str()));
    // The pattern must match the whole value, not a part of it.
    let longer = format!("{}:4F", vec!["4F"; 32].join(":"));
    one(
        join_errors(&[("fingerprint", Some(&longer))]),
        Rule::Pattern,
        Some("fingerprint"),
    );
    let spaced = format!(" {}", vec!["4F"; 32].join(":"));
    one(
        join_errors(&[("fingerprint", Some(&spaced))]),
        Rule::Pattern,
        Some("fingerprint"),
    );
}

#[test]
fn out_of_range_integer() {
    one(
        errors(
            Method::Post,
            "/cluster/config",
            &[("clustername", "tappaas"), ("nodeid", "0")],
        ),
        Rule::Minimum,
        Some("nodeid"),
    );
    one(
        errors(
            Method::Post,
            "/cluster/config",
            &[("clustername", "tappaas"), ("votes", "x")],
        ),
        Rule::Type,
        Some("votes"),
    );
    one(
        errors(
            Method::Post,
            "/storage",
            &[
                ("type", "zfspool"),
                ("storage", "t1"),
                ("max-protected-backups", "-2"),
            ],
        ),
        Rule::Minimum,
        Some("max-protected-backups"),
    );
}

#[test]
fn bad_link0_property_string() {
    let create = |link: &str| {
        errors(
            Method::Post,
            "/cluster/config",
            &[("clustername", "tappaas"), ("link0", link)],
        )
    };
    let e = one(
        create("address=10.0.0.10,priority=256"),
        Rule::Maximum,
        Some("link0.priority"),
    );
    assert!(
        e.to_string().contains("priority=256") || e.value.as_deref() == Some("256"),
        "{e}"
    );
    one(
        create("address=10.0.0.10,prio=1"),
        Rule::PropertyString,
        Some("link0"),
    );
    one(create("priority=1"), Rule::PropertyString, Some("link0"));
    one(
        create("address=10.0.0.10,address=10.0.0.11"),
        Rule::PropertyString,
        Some("link0"),
    );
    one(
        create("address=not..an.address"),
        Rule::Format,
        Some("link0.address"),
    );
    one(
        create("address=10.0.0.10,"),
        Rule::PropertyString,
        Some("link0"),
    );
    // The bare default key is fine, and so are link0..link7 but not link8.
    schema()
        .validate(
            Method::Post,
            "/cluster/config",
            &params(&[
                ("clustername", "tappaas"),
                ("link0", "10.0.0.10"),
                ("link7", "10.1.0.10,priority=2"),
            ]),
        )
        .unwrap();
    one(
        errors(
            Method::Post,
            "/cluster/config",
            &[("clustername", "tappaas"), ("link8", "10.0.0.10")],
        ),
        Rule::UnknownParameter,
        Some("link8"),
    );
}

#[test]
fn other_rules() {
    // Booleans are 0 or 1.
    one(
        errors(
            Method::Post,
            "/storage",
            &[
                ("type", "zfspool"),
                ("storage", "tank1"),
                ("sparse", "true"),
            ],
        ),
        Rule::Type,
        Some("sparse"),
    );
    // Named formats: storage id, node list, content list, node in the path.
    one(
        errors(
            Method::Post,
            "/storage",
            &[("type", "zfspool"), ("storage", "1tank")],
        ),
        Rule::Format,
        Some("storage"),
    );
    one(
        errors(
            Method::Post,
            "/storage",
            &[
                ("type", "zfspool"),
                ("storage", "tank1"),
                ("nodes", "tappaas1,tap_paas2"),
            ],
        ),
        Rule::Format,
        Some("nodes"),
    );
    one(
        errors(
            Method::Post,
            "/storage",
            &[
                ("type", "zfspool"),
                ("storage", "tank1"),
                ("content", "images,vm"),
            ],
        ),
        Rule::Format,
        Some("content"),
    );
    one(
        errors(Method::Get, "/nodes/tap_paas1/status", &[]),
        Rule::Format,
        Some("node"),
    );
    // Cluster names are at most 15 characters.
    one(
        errors(
            Method::Post,
            "/cluster/config",
            &[("clustername", "tappaas-cluster1")],
        ),
        Rule::MaxLength,
        Some("clustername"),
    );
    // A path variable is not given again as a parameter.
    one(
        errors(
            Method::Get,
            "/nodes/tappaas1/status",
            &[("node", "tappaas1")],
        ),
        Rule::PathConflict,
        Some("node"),
    );
}

/// An array parameter (the guest agent's `command`) is a list; each
/// element is checked, only an array takes a list, and a required one must
/// have an element.
#[test]
fn array_parameters() {
    let s = schema();
    let exec = "/nodes/tappaas1/qemu/210/agent/exec";
    let ok = Request::post(exec).list_param("command", vec!["/bin/true".into(), "-x".into()]);
    s.validate_request(&ok).unwrap();
    // One value for an array is one element, as on the command line.
    s.validate_request(&Request::post(exec).param("command", "/bin/true"))
        .unwrap();
    one(
        s.validate_request(&Request::post(exec).list_param("command", vec![]))
            .unwrap_err(),
        Rule::MissingParameter,
        Some("command"),
    );
    one(
        s.validate_request(&Request::post(exec)).unwrap_err(),
        Rule::MissingParameter,
        Some("command"),
    );
    one(
        s.validate_request(
            &Request::post(exec)
                .list_param("command", vec!["/bin/true".into()])
                .list_param("input-data", vec!["a".into(), "b".into()]),
        )
        .unwrap_err(),
        Rule::Type,
        Some("input-data"),
    );
    one(
        s.validate_request(
            &Request::post(exec)
                .param("command", "/bin/true")
                .list_param("command", vec!["/bin/false".into()]),
        )
        .unwrap_err(),
        Rule::PathConflict,
        Some("command"),
    );
    one(
        s.validate_request(
            &Request::post(exec)
                .list_param("command", vec!["/bin/true".into()])
                .list_param("nosuch", vec!["x".into()]),
        )
        .unwrap_err(),
        Rule::UnknownParameter,
        Some("nosuch"),
    );
}

/// A file's content written into a guest is a secret: an error about it
/// never shows it.
#[test]
fn a_content_marked_secret_is_never_shown_in_errors() {
    let req = Request::post("/nodes/tappaas1/qemu/210/agent/file-write")
        .param("file", "/etc/x")
        .secret_param("content", "S".repeat(61441));
    let e = one(
        schema().validate_request(&req).unwrap_err(),
        Rule::MaxLength,
        Some("content"),
    );
    assert!(!e.to_string().contains("SSSS"), "{e}");
}

#[test]
fn errors_name_parameter_value_and_rule_but_never_a_password() {
    let e = one(
        join_errors(&[("password", Some(&"x".repeat(129)))]),
        Rule::MaxLength,
        Some("password"),
    );
    let text = e.to_string();
    assert!(
        text.contains("'password'") && text.contains("maxLength"),
        "{text}"
    );
    assert!(!text.contains("xxxx"), "password leaked: {text}");

    let errs = errors(
        Method::Post,
        "/cluster/config",
        &[
            ("clustername", "tappaas"),
            ("link0", "address=10.0.0.10,priority=300"),
        ],
    );
    let text = errs[0].to_string();
    assert!(
        text.contains("link0.priority") && text.contains("300") && text.contains("maximum"),
        "{text}"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let errs = errors(
        Method::Post,
        "/storage",
        &[
            ("type", "zfs-pool"),
            ("storage", "1x"),
            ("sparse", "yes"),
            ("bogus", "1"),
        ],
    );
    let rules: Vec<Rule> = errs.iter().map(|e| e.rule).collect();
    for r in [Rule::Enum, Rule::Format, Rule::Type, Rule::UnknownParameter] {
        assert!(rules.contains(&r), "{r:?} missing in {errs:#?}");
    }
}

/// Compiling every pattern in the schema takes seconds in a debug build,
/// so this report is opt-in. (The fingerprint pattern that guards the join
/// is covered above: an uncompilable pattern would show as unchecked.)
#[test]
#[ignore = "prints a report: cargo test -- --ignored --nocapture"]
fn report_uncompilable_patterns() {
    for p in schema().uncompilable_patterns() {
        println!("{p}");
    }
}

/// docs/proxmox-api.md names calls as `METHOD /path`; each must exist in
/// the schema, and every request the client builds must be documented.
#[test]
fn the_api_doc_matches_the_schema_and_the_client() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/proxmox-api.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let re = regex::Regex::new(r"`(GET|POST|PUT|DELETE) (/[^`\s]*)`").unwrap();
    let s = schema();
    let mut documented = Vec::new();
    for cap in re.captures_iter(&doc) {
        let method = Method::from_http(&cap[1]).unwrap();
        let template = cap[2].to_string();
        assert!(
            s.methods(&template).contains(&method),
            "docs name {method} {template}, which the schema does not have"
        );
        documented.push((method, template));
    }
    for (name, req) in all_typed_requests() {
        let template = s.match_path(&req.path).unwrap().template;
        assert!(
            documented.contains(&(req.method, template.clone())),
            "{name} ({} {template}) is not in docs/proxmox-api.md",
            req.method
        );
    }
}

#[test]
fn a_missing_schema_file_names_where_it_was_looked_for() {
    let e = tappaas_proxmox::Schema::load("no/such/dir/pve-api-schema.json").unwrap_err();
    assert!(
        e.to_string().contains("no/such/dir/pve-api-schema.json"),
        "{e}"
    );
}

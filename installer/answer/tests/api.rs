//! The public API as the wizard, the CLI and the planner use it.

use std::collections::BTreeMap;
use std::fs;

use tappaas_answer::{
    disk_list_entry_matches, filter_matches, has_secrets, parse, parse_file, redacted, to_toml,
    validate, Answer, FilterMatch, Retention, RetentionKeys, Secret, REDACTED,
};

const ANSWER: &str = r#"[global]
keyboard = "en-us"
country = "us"
fqdn = "tappaas1.example.com"
mailto = "admin@example.com"
timezone = "UTC"
root-password = "secret-pass-1"

[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
zfs.raid = "raid0"

[cluster]
action = "join"
peer = "10.0.0.10"
fingerprint = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
peer-password = "peer-pass-2"
"#;

fn answer() -> Answer {
    parse(ANSWER).expect("valid answer")
}

#[test]
fn parse_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("tappaas-answer-api-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.toml");
    fs::write(&good, ANSWER).expect("write");
    assert_eq!(parse_file(&good).expect("parses"), answer());

    let bad = dir.join("bad.toml");
    fs::write(&bad, ANSWER.replace("\"en-us\"", "\"xx\"")).expect("write");
    let err = parse_file(&bad).expect_err("bad keyboard");
    let lines = err.lines();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with(&format!("{}: line 2: global.keyboard: ", bad.display())),
        "{}",
        lines[0]
    );

    let missing = parse_file(&dir.join("missing.toml")).expect_err("no such file");
    assert!(
        missing.to_string().contains("missing.toml: cannot read"),
        "{missing}"
    );
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn validate_checks_a_built_answer_without_lines() {
    let mut a = answer();
    assert!(validate(&a).is_empty());
    a.node.number = 0;
    a.global.root_password = Some(Secret::new("short"));
    let errors = validate(&a);
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        [
            "global.root-password: is too short (5 characters): use at least 8 characters",
            "node.number: 0 is out of range: use 1..=244 (node N gets the address 10.0.0.(9+N), which must stay a host address)",
        ]
    );
    assert!(errors.iter().all(|e| e.line.is_none()));
}

#[test]
fn saved_answers_never_hold_secrets() {
    let a = answer();
    assert!(has_secrets(&a));
    let text = to_toml(&a);
    assert!(
        !text.contains("secret-pass-1") && !text.contains("peer-pass-2"),
        "{text}"
    );
    assert!(text.contains(REDACTED));
    assert!(text.starts_with('#'));
    // Read back, it is the redacted answer, and `parse` refuses it until the
    // passwords are written in again.
    let back: Answer = toml::from_str(&text).expect("TOML");
    assert_eq!(back, redacted(&a));
    assert!(!has_secrets(&back));
    let errors = parse(&text).expect_err("redacted passwords");
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["global.root-password", "cluster.peer-password"]);
}

#[test]
fn without_secrets_an_answer_round_trips() {
    let mut a = answer();
    a.global.root_password = None;
    a.global.root_password_hashed = Some(
        "$6$IW6RaGh1mFrUXrLY$nMZz.CggUow3Rk/Vr5Lo0zjPXP1qLMx8G6DXhG/krN5eFqkFQqG5pRPo0SotvaD4cXZGS7hyAOlOY.Imuii5w0"
            .to_string(),
    );
    a.cluster = Default::default();
    assert!(!has_secrets(&a));
    assert_eq!(parse(&to_toml(&a)), Ok(a));
}

#[test]
fn errors_never_echo_a_password() {
    for text in [
        ANSWER.replace("\"secret-pass-1\"", "12345678"),
        ANSWER.replace("\"secret-pass-1\"", "\"1234\""),
        ANSWER.replace("\"peer-pass-2\"", "98765432"),
    ] {
        let errors = parse(&text).expect_err("bad password");
        for e in &errors {
            let shown = e.to_string();
            for secret in ["12345678", "1234", "98765432"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }
}

#[test]
fn filters_and_disk_names_for_the_planner() {
    let a = parse(&ANSWER.replace(
        "disk-list = [\"sda\"]",
        "filter = { ID_MODEL = \"Samsung SSD 870*\", ID_BUS = \"ata\" }\nfilter-match = \"all\"",
    ))
    .expect("valid");
    let filter = a.disk_setup.filter.as_ref().expect("filter");
    let mode = a.disk_setup.filter_match.unwrap_or_default();
    assert_eq!(mode, FilterMatch::All);
    let props = |model: &str, bus: &str| -> BTreeMap<String, String> {
        [("ID_MODEL", model), ("ID_BUS", bus)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(filter_matches(
        filter,
        mode,
        &props("Samsung SSD 870 EVO 1TB", "ata")
    ));
    assert!(!filter_matches(
        filter,
        mode,
        &props("Samsung SSD 870 EVO 1TB", "usb")
    ));
    assert!(filter_matches(
        filter,
        FilterMatch::Any,
        &props("Samsung SSD 870 EVO 1TB", "usb")
    ));

    let by_id = ["ata-Samsung_SSD_870_S6PU".to_string()];
    assert!(disk_list_entry_matches(
        "/dev/disk/by-id/ata-Samsung_SSD_870_S6PU",
        "sdb",
        &by_id,
        None
    ));
    assert!(disk_list_entry_matches("sdb", "sdb", &by_id, None));
    assert!(!disk_list_entry_matches("sda", "sdb", &by_id, None));
}

#[test]
fn without_a_backup_section_snapshots_are_on_with_the_documented_retention() {
    let a = answer();
    assert!(a.backup.snapshots);
    let data = Retention {
        frequently: 4,
        hourly: 24,
        daily: 30,
        weekly: 8,
        monthly: 12,
    };
    assert_eq!(a.backup.data_retention(), data);
    let tank2 = Retention {
        frequently: 0,
        hourly: 0,
        daily: 7,
        weekly: 4,
        monthly: 0,
    };
    assert_eq!(a.backup.tank2_retention(), tank2);
    // The default policy adds nothing to a saved answer.
    assert!(!to_toml(&a).contains("[backup"), "{}", to_toml(&a));
}

#[test]
fn a_built_answer_whose_retention_keeps_nothing_is_refused_by_key() {
    let mut a = answer();
    a.backup.tank2 = RetentionKeys {
        daily: Some(0),
        weekly: Some(0),
        ..RetentionKeys::default()
    };
    let errors = validate(&a);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "backup.tank2");
    assert_eq!(errors[0].line, None);
    assert!(
        errors[0].message.contains("keeps no snapshot"),
        "{}",
        errors[0]
    );
}

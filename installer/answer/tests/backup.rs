//! `[backup]`: its defaults, and the same rule for a built answer (the
//! wizard's) as for a file. The files' cases are fixtures
//! (`tests/fixtures/answers/{valid,rejected}/backup-*`).

use tappaas_answer::{parse, to_toml, validate, Retention, RetentionKeys};

const BASE: &str = r#"[global]
keyboard = "en-us"
country = "us"
fqdn = "tappaas1.example.com"
mailto = "admin@example.com"
timezone = "UTC"
root-password = "12345678"

[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
"#;

#[test]
fn without_a_backup_section_snapshots_are_on_with_the_documented_retention() {
    let a = parse(BASE).expect("valid");
    assert!(a.backup.snapshots);
    assert_eq!(
        a.backup.data_retention(),
        Retention {
            frequently: 4,
            hourly: 24,
            daily: 30,
            weekly: 8,
            monthly: 12
        }
    );
    assert_eq!(
        a.backup.tank2_retention(),
        Retention {
            frequently: 0,
            hourly: 0,
            daily: 7,
            weekly: 4,
            monthly: 0
        }
    );
    // The default policy adds nothing to a saved answer.
    assert!(!to_toml(&a).contains("[backup"), "{}", to_toml(&a));
}

#[test]
fn a_changed_policy_is_saved_and_read_back() {
    let a = parse(&format!(
        "{BASE}\n[backup]\nsnapshots = false\n\n[backup.tank2]\nweekly = 9\n"
    ))
    .expect("valid");
    assert!(!a.backup.snapshots);
    assert_eq!(a.backup.tank2_retention().weekly, 9);
    assert_eq!(a.backup.tank2_retention().daily, 7);
    assert_eq!(parse(&to_toml(&a).replace("<redacted>", "12345678")), Ok(a));
}

#[test]
fn a_built_answer_that_keeps_nothing_is_refused_by_key() {
    let mut a = parse(BASE).expect("valid");
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

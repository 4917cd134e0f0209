//! Every catalog entry's rendered user-data passes cloud-init's own schema
//! validator (`cloud-init schema`), run for real.

use std::path::PathBuf;
use std::process::Command;

use tappaas_services::{render_all, resolve, Catalog, Context, CLOUD_CONFIG_HEADER};

#[test]
fn every_rendered_user_data_passes_cloud_init_schema() {
    let version = Command::new("cloud-init").arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "cloud-init is missing: install cloud-init: scripts/setup-host ({version:?})"
    );
    let catalog = Catalog::embedded().expect("the embedded catalog is valid");
    let all: Vec<String> = catalog
        .entries()
        .iter()
        .filter(|e| e.available)
        .map(|e| e.name.clone())
        .collect();
    let resolved = resolve(&catalog, &all).expect("the whole catalog resolves");
    let context = Context::example(&resolved);
    let rendered = render_all(&catalog, &resolved, &context).expect("every entry renders");
    assert_eq!(rendered.len(), all.len());

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cloud-init-schema");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let mut failures = Vec::new();
    for r in &rendered {
        assert!(
            r.user_data.starts_with(CLOUD_CONFIG_HEADER),
            "{}",
            r.entry.name
        );
        let file = dir.join(format!("{}.yaml", r.entry.name));
        std::fs::write(&file, &r.user_data).expect("write user-data");
        let out = Command::new("cloud-init")
            .args(["schema", "--config-file"])
            .arg(&file)
            .output()
            .expect("run cloud-init schema");
        if !out.status.success() {
            failures.push(format!(
                "{}: {}{}",
                r.entry.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "cloud-init schema rejected:\n{}",
        failures.join("\n")
    );
}

/// The validator really rejects bad user-data, so the test above can fail.
#[test]
fn cloud_init_schema_rejects_a_broken_config() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cloud-init-schema");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "#cloud-config\nruncmd: 5\nwrite_files:\n  - path: /x\n    bogus: 1\n",
    )
    .expect("write");
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(&file)
        .output()
        .expect("install cloud-init: scripts/setup-host");
    assert!(
        !out.status.success(),
        "cloud-init schema accepted a broken config"
    );
}

//! Golden plans for recorded machines: tests/fixtures/plans/*/ (README there).

use std::fs;
use std::path::{Path, PathBuf};

use tappaas_hardware::MachineProfile;
use tappaas_plan::{plan, render_text, Environment, Flavour};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn optional(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Compare with the golden file, or rewrite it under UPDATE_GOLDEN=1.
fn golden(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    match fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => {
            let diff_at = expected
                .lines()
                .zip(actual.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(expected.lines().count().min(actual.lines().count()));
            failures.push(format!(
                "{} differs from line {}:\n  expected: {:?}\n  actual:   {:?}",
                path.display(),
                diff_at + 1,
                expected.lines().nth(diff_at),
                actual.lines().nth(diff_at)
            ));
        }
        Err(_) => failures.push(format!(
            "{} is missing (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )),
    }
}

/// One test per fixture directory, so that each can fail alone;
/// `every_fixture_has_a_test` keeps this list complete.
macro_rules! golden_cases {
    ($($test:ident => $dir:literal,)*) => {
        $(
            #[test]
            fn $test() {
                golden_case($dir);
            }
        )*

        const CASES: &[&str] = &[$($dir),*];
    };
}

golden_cases! {
    four_kn => "4kn",
    existing_pools => "existing-pools",
    existing_pools_refused => "existing-pools-refused",
    mini_pc => "mini-pc",
    mixed_sizes => "mixed-sizes",
    nvme2_hdd4 => "nvme2-hdd4",
    one_nic => "one-nic",
    qemu_vm => "qemu-vm",
    server12 => "server12",
    usb_boot => "usb-boot",
    vm_clones => "vm-clones",
    vm_no_serial => "vm-no-serial",
}

#[test]
fn every_fixture_has_a_test() {
    let dir = fixtures().join("plans");
    let mut found: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("answer.toml").exists())
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .collect();
    found.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.to_string()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "the fixtures in {} and the golden_cases! list in this file differ: add a line for each new fixture",
        dir.display()
    );
}

fn golden_case(name: &str) {
    let case = fixtures().join("plans").join(name);
    let mut failures = Vec::new();
    let machine_name = optional(&case.join("machine")).unwrap_or_else(|| name.to_string());
    let profile = fixtures()
        .join("machines")
        .join(&machine_name)
        .join("profile.json");
    let machine = MachineProfile::from_json(&read(&profile))
        .unwrap_or_else(|e| panic!("{}: {e}", profile.display()));
    let answer = tappaas_answer::parse(&read(&case.join("answer.toml")))
        .unwrap_or_else(|e| panic!("{name}/answer.toml: {e:?}"));
    let mut env = Environment::default();
    if optional(&case.join("flavour")).as_deref() == Some("test") {
        env.flavour = Flavour::Test;
        env.target_image = "/run/live/medium/.tappaas/target-test.squashfs".into();
    }
    match plan(&machine, &answer, &env) {
        Ok(p) => {
            assert!(
                !case.join("errors.txt").exists(),
                "{name}: expected errors, got a plan"
            );
            golden(&case.join("plan.txt"), &render_text(&p), &mut failures);
            golden(
                &case.join("plan.json"),
                &format!("{}\n", p.to_json()),
                &mut failures,
            );
            // The golden JSON is the plan: it must read back to it.
            let back = tappaas_plan::Plan::from_json(&p.to_json())
                .unwrap_or_else(|e| panic!("{name}: plan JSON does not read back: {e}"));
            assert_eq!(back, p, "{name}: plan JSON round trip");
        }
        Err(errors) => {
            let text: String = errors.iter().map(|e| format!("{e}\n")).collect();
            assert!(
                !case.join("plan.txt").exists(),
                "{name}: expected a plan, got errors:\n{text}"
            );
            golden(&case.join("errors.txt"), &text, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

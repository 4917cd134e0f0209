//! The real binary, as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tappaas-installer"));
    // Never pick up the build info of a machine the tests run on.
    c.env("TAPPAAS_BUILD_INFO", "/nonexistent");
    c
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run tappaas-installer")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn plan_prints_the_golden_plan() {
    for case in ["nvme2-hdd4", "usb-boot", "server12"] {
        let dir = fixtures().join("plans").join(case);
        let machine = fixtures().join("machines").join(case).join("profile.json");
        let answer = dir.join("answer.toml");
        let args = [
            "plan",
            "--machine",
            path(&machine),
            "--answer",
            path(&answer),
        ];
        let o = run(&args);
        assert!(o.status.success(), "{case}: {}", stderr(&o));
        let golden = std::fs::read_to_string(dir.join("plan.txt")).expect("golden");
        same(case, &stdout(&o), &golden);

        let mut json_args = args.to_vec();
        json_args.push("--json");
        let o = run(&json_args);
        let golden = std::fs::read_to_string(dir.join("plan.json")).expect("golden");
        same(case, &stdout(&o), &golden);
    }
}

/// Equal, or fail naming the first line that differs.
fn same(case: &str, actual: &str, golden: &str) {
    if actual == golden {
        return;
    }
    let line = actual
        .lines()
        .zip(golden.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(actual.lines().count().min(golden.lines().count()));
    panic!(
        "{case}: output differs from the golden plan at line {}:\n  got:    {:?}\n  golden: {:?}",
        line + 1,
        actual.lines().nth(line),
        golden.lines().nth(line)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("fixture paths are UTF-8")
}

#[test]
fn plan_from_a_recorded_sysroot_equals_plan_from_its_profile() {
    let m = fixtures().join("machines").join("usb-boot");
    let answer = fixtures()
        .join("plans")
        .join("usb-boot")
        .join("answer.toml");
    let a = run(&[
        "plan",
        "--sysroot",
        path(&m.join("sysroot")),
        "--answer",
        path(&answer),
        "--json",
    ]);
    let b = run(&[
        "plan",
        "--machine",
        path(&m.join("profile.json")),
        "--answer",
        path(&answer),
        "--json",
    ]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn refused_plan_exits_2_and_says_what_to_do() {
    let answer = fixtures()
        .join("plans")
        .join("existing-pools-refused")
        .join("answer.toml");
    let machine = fixtures()
        .join("machines")
        .join("existing-pools")
        .join("profile.json");
    let o = run(&[
        "plan",
        "--machine",
        path(&machine),
        "--answer",
        path(&answer),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("a pool tank1 already exists on sdc, sdd"),
        "{err}"
    );
    assert!(err.contains("what to do:"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn validate_reports_key_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("answer.toml");
    std::fs::write(
        &file,
        "[global]\nkeyboard = \"en-us\"\ncountry = \"nl\"\nfqdn = \"a.b.c\"\nmailto = \"a@b.c\"\ntimezone = \"UTC\"\nroot-password = \"12345678\"\n\n[disk-setup]\nfilesystem = \"zfs\"\ndisk-list = [\"sda\"]\nzfs.raid = \"raid5\"\n",
    )
    .expect("write");
    let o = run(&["validate", path(&file)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("answer.toml"), "{err}");
    assert!(err.contains("line 12"), "{err}");
    assert!(err.contains("raid5"), "{err}");

    let ok = fixtures()
        .join("plans")
        .join("usb-boot")
        .join("answer.toml");
    let o = run(&["validate", path(&ok)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).ends_with(": valid\n"));
}

#[test]
fn missing_files_are_errors_that_name_them() {
    let o = run(&[
        "plan",
        "--machine",
        "/nonexistent/profile.json",
        "--answer",
        "/nonexistent/a.toml",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent/a.toml"), "{}", stderr(&o));

    let answer = fixtures()
        .join("plans")
        .join("usb-boot")
        .join("answer.toml");
    let o = run(&[
        "plan",
        "--machine",
        "/nonexistent/profile.json",
        "--answer",
        path(&answer),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("reading the machine profile /nonexistent/profile.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn probe_json_reads_back_as_the_recorded_profile() {
    let m = fixtures().join("machines").join("server12");
    let o = run(&["probe", "--sysroot", path(&m.join("sysroot")), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m.join("profile.json")).expect("read"))
            .expect("json");
    assert_eq!(got, want);
}

#[test]
fn help_fits_80_columns_and_names_every_subcommand() {
    let mut texts = vec![stdout(&run(&["--help"]))];
    for sub in [
        &["probe", "--help"][..],
        &["validate", "--help"],
        &["plan", "--help"],
        &["services", "--help"],
        &["services", "list", "--help"],
        &["services", "deploy", "--help"],
        &["services", "user-data", "--help"],
    ] {
        let o = run(sub);
        assert!(o.status.success(), "{sub:?}");
        texts.push(stdout(&o));
    }
    for sub in ["probe", "validate", "plan", "services"] {
        assert!(texts[0].contains(sub), "--help does not mention {sub}");
    }
    for t in &texts {
        for line in t.lines() {
            assert!(
                line.chars().count() <= 80,
                "help line over 80 columns: {line:?}"
            );
        }
    }
}

#[test]
fn backup_help_explains_the_subcommands() {
    let top = stdout(&run(&["--help"]));
    assert!(top.contains("backup"), "--help does not mention backup");
    let help = run(&["backup", "--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let help = stdout(&help);
    for sub in ["status", "run", "restore", "overdue", "--json", "sanoid"] {
        assert!(
            help.contains(sub),
            "backup --help does not mention {sub}:\n{help}"
        );
    }
    let restore = stdout(&run(&["backup", "restore", "--help"]));
    for flag in ["--file", "--dataset", "--snapshot", "--force", "rollback"] {
        assert!(
            restore.contains(flag),
            "restore --help lacks {flag}:\n{restore}"
        );
    }
    for t in [
        &help,
        &restore,
        &stdout(&run(&["backup", "status", "--help"])),
    ] {
        for line in t.lines() {
            assert!(line.chars().count() <= 80, "over 80 columns: {line:?}");
        }
    }
    // Nothing to restore named: refused by the argument parser.
    assert_eq!(run(&["backup", "restore"]).status.code(), Some(2));
    // A dataset restore needs its snapshot.
    let o = run(&["backup", "restore", "--dataset", "tank1"]);
    assert!(stderr(&o).contains("--snapshot"), "{}", stderr(&o));
}

#[test]
fn backup_restore_of_a_vm_is_explained_and_its_flags_need_vm() {
    let restore = stdout(&run(&["backup", "restore", "--help"]));
    for flag in ["--vm", "--backup", "--to", "new VM id", "stopped"] {
        assert!(
            restore.contains(flag),
            "restore --help lacks {flag}:\n{restore}"
        );
    }
    for line in restore.lines() {
        assert!(line.chars().count() <= 80, "over 80 columns: {line:?}");
    }
    // --backup and --to belong to --vm; a VM has no --snapshot.
    for args in [
        &["backup", "restore", "--file", "/tank1/a", "--to", "300"][..],
        &["backup", "restore", "--file", "/tank1/a", "--backup", "x"],
        &["backup", "restore", "--vm", "100", "--snapshot", "s"],
    ] {
        assert_eq!(run(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn backup_restore_of_a_node_config_unpacks_into_a_folder_apart_from_vm_to() {
    let restore = stdout(&run(&["backup", "restore", "--help"]));
    for flag in ["--node-config ARCHIVE --into DIR", "--to ID"] {
        assert!(
            restore.contains(flag),
            "restore --help lacks {flag}:\n{restore}"
        );
    }
    // --into belongs to --node-config, --to (a VM id) to --vm; an archive
    // is never restored without its folder, nor with --force.
    let bad: [&[&str]; 6] = [
        &["--node-config", "/tank1/a.tar.gz"],
        &["--node-config", "/a", "--to", "/root/x"],
        &["--vm", "100", "--into", "/root/x"],
        &["--file", "/tank1/a", "--into", "/root/x"],
        &["--node-config", "/a", "--into", "/b", "--force"],
        &["--node-config", "/a", "--into", "/b", "--vm", "1"],
    ];
    for flags in bad {
        let o = run(&[&["backup", "restore"][..], flags].concat());
        assert_eq!(o.status.code(), Some(2), "{flags:?}");
        assert!(
            stderr(&o).starts_with("error:"),
            "{flags:?}: {}",
            stderr(&o)
        );
    }
    // Parsed: the folder reaches the restore, which wants full paths
    // (checked before anything is read or run).
    let o = run(&[
        "backup",
        "restore",
        "--node-config",
        "a.tar.gz",
        "--into",
        "b",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("give full paths") && stderr(&o).contains("--into /root/DIR"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn install_dry_run_is_identical_to_plan() {
    let m = fixtures()
        .join("machines")
        .join("qemu-vm")
        .join("profile.json");
    let answer = fixtures().join("plans").join("qemu-vm").join("answer.toml");
    for json in [false, true] {
        let mut a = vec![
            "install",
            "--dry-run",
            "--machine",
            path(&m),
            "--answer",
            path(&answer),
            "--flavour",
            "test",
        ];
        let mut b = vec![
            "plan",
            "--machine",
            path(&m),
            "--answer",
            path(&answer),
            "--flavour",
            "test",
        ];
        if json {
            a.push("--json");
            b.push("--json");
        }
        let (a, b) = (run(&a), run(&b));
        assert!(a.status.success(), "{}", stderr(&a));
        assert!(!stdout(&a).is_empty());
        assert_eq!(stdout(&a), stdout(&b));
    }
}

#[test]
fn install_refuses_a_recorded_machine_without_dry_run() {
    let m = fixtures()
        .join("machines")
        .join("qemu-vm")
        .join("profile.json");
    let answer = fixtures().join("plans").join("qemu-vm").join("answer.toml");
    let o = run(&["install", "--machine", path(&m), "--answer", path(&answer)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--dry-run only"), "{}", stderr(&o));
}

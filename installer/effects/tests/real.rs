//! The real machine's mount guard and atomic write, on real tmpfs mounts
//! in a temporary folder. They need root; without it they say so and pass.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tappaas_effects::{is_mount_point, write_atomic, Effects, Machine, MountSpec};

fn root() -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        });
    if uid.as_deref() != Some("0") {
        let _ = writeln!(std::io::stderr(), "skipped: mounting needs root");
        return false;
    }
    true
}

fn tmpfs(target: &Path, options: &str) -> MountSpec {
    MountSpec::new("tappaas-test", target)
        .fstype("tmpfs")
        .options(options)
}

#[test]
fn the_mount_guard_unmounts_only_its_own_mount() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = dir.path().join("ours");
    let theirs = dir.path().join("theirs");
    std::fs::create_dir_all(&ours).expect("mkdir");
    std::fs::create_dir_all(&theirs).expect("mkdir");

    // Ours: mounted by the guard, gone when it is dropped.
    let guard = Machine.mount(&tmpfs(&ours, "size=1m")).expect("mount");
    assert!(guard.is_ours());
    assert!(is_mount_point(&ours).expect("mounts"));
    drop(guard);
    assert!(!is_mount_point(&ours).expect("mounts"), "dropping unmounts");

    // Theirs: mounted before; a guard over it leaves it mounted.
    let before = Machine.mount(&tmpfs(&theirs, "size=1m")).expect("mount");
    let guard = Machine.mount(&tmpfs(&theirs, "size=1m")).expect("mount");
    assert!(!guard.is_ours());
    guard.close().expect("close");
    assert!(is_mount_point(&theirs).expect("mounts"), "left mounted");
    // The first guard's close reports its unmount.
    before.close().expect("unmount");
    assert!(!is_mount_point(&theirs).expect("mounts"));
}

/// A write that fails half way (the filesystem is full) leaves the old
/// file whole and no temporary file beside it.
#[test]
fn a_failed_atomic_write_leaves_the_old_file() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let small = Machine
        .mount(&tmpfs(dir.path(), "size=64k"))
        .expect("mount");
    let file = dir.path().join("interfaces");
    write_atomic(&file, 0o640, b"old content\n").expect("first write");
    let meta = std::fs::metadata(&file).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);

    let too_big = vec![b'x'; 1024 * 1024];
    let e = write_atomic(&file, 0o600, &too_big).expect_err("the filesystem is full");
    let after = std::fs::read(&file).expect("read");
    assert!(
        after == b"old content\n",
        "the old file is not whole after the failed write ({e}): {} bytes",
        after.len()
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["interfaces"]);
    small.close().expect("unmount");
}

//! Shell text that acts on a ZFS pool only when it is the plan's own: every
//! device the imported pool uses is one of the plan's disks or partitions
//! (or a partition ZFS made on one of those disks). A pool of the same name
//! on any other disk is left alone and the command fails saying so.
//!
//! Kept as shell in the plan's commands, so `plan` and `--dry-run` print
//! exactly what runs.

use crate::model::shell_quote;
use crate::Command;

/// Exit status of the ownership check when the pool is not the plan's.
pub const NOT_OURS_STATUS: i32 = 3;

/// A snippet for a subshell: exits 0 when the imported `pool` uses only
/// `devices` (compared after resolving links, so by-id names and kernel
/// names agree), `NOT_OURS_STATUS` with what to do otherwise.
pub fn own_pool_check(pool: &str, devices: &[String]) -> String {
    let q = shell_quote(pool);
    let planned: Vec<String> = devices.iter().map(|d| shell_quote(d)).collect();
    let not_ours = format!(
        "echo \"{pool} is imported from $v, which is not a device of this plan: it is left alone. Export it (zpool export {pool}) or detach that disk, then run the installer again\" >&2; exit {NOT_OURS_STATUS}"
    );
    [
        format!(
            "planned=' '; for d in {}; do planned=\"$planned$(readlink -f \"$d\") \"; done",
            planned.join(" ")
        ),
        "n=0".to_string(),
        format!("for v in $(zpool list -v -H -P {q} | awk '$1 ~ /^\\// {{print $1}}'); do n=$((n+1)); r=$(readlink -f \"$v\"); p=$(lsblk -ndo PKNAME \"$r\" 2>/dev/null); case \"$planned\" in *\" $r \"*|*\" /dev/$p \"*) ;; *) {not_ours};; esac; done"),
        format!(
            "[ \"$n\" -gt 0 ] || {{ echo \"cannot list the devices of {pool}: it is left alone\" >&2; exit {NOT_OURS_STATUS}; }}"
        ),
    ]
    .join("; ")
}

/// Whether `pool` is imported now.
fn imported(pool: &str) -> String {
    format!(
        "zpool list -H -o name {} >/dev/null 2>&1",
        shell_quote(pool)
    )
}

/// `then` runs when `pool` is imported and the plan's own; nothing runs
/// when it is not imported; the command fails when it is someone else's.
pub fn if_own_pool(pool: &str, devices: &[String], then: &str) -> Command {
    Command::new([
        "sh".to_string(),
        "-c".to_string(),
        format!(
            "if {}; then ( {} ) || exit 1; {then}; fi",
            imported(pool),
            own_pool_check(pool, devices)
        ),
    ])
}

/// Import the kept `pool` (unless it is already), make sure it is the
/// plan's own and whole (`ONLINE`: not degraded, no device missing or
/// faulted), then export it again. Anything else stops with what to do,
/// and a pool that was imported here is exported again.
pub fn check_kept_pool(pool: &str, devices: &[String]) -> Command {
    let q = shell_quote(pool);
    let health = format!(
        "h=$(zpool list -H -o health {q}); if [ \"$h\" != ONLINE ]; then zpool status -v {q}; zpool export {q}; echo \"{pool} is $h (status above): its data is kept, but the install stops so that a damaged pool is not put into service unnoticed. Bring back or replace the failed disk (zpool import {pool}; zpool replace {pool} OLD NEW; zpool export {pool}), then run the installer again: it continues with this step\" >&2; exit 1; fi"
    );
    Command::new([
        "sh".to_string(),
        "-c".to_string(),
        [
            format!(
                "{} || zpool import -f -N -d /dev/disk/by-id {q} || exit 1",
                imported(pool)
            ),
            format!(
                "if ! ( {} ); then zpool export {q}; exit 1; fi",
                own_pool_check(pool, devices)
            ),
            health,
            format!("zpool export {q}"),
        ]
        .join("; "),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// Fake `zpool`, `readlink` and `lsblk` on PATH: the pool `tank1` is
    /// imported from the devices in `$FAKE_VDEVS`; every other command
    /// is recorded in `$FAKE_LOG`.
    fn fakes(dir: &Path) {
        let scripts = [
            (
                "zpool",
                r#"echo "zpool $*" >> "$FAKE_LOG"
if [ "$1" = list ]; then
  if [ "$2" = -v ]; then
    printf 'tank1\t9G\n\tmirror-0\t9G\n'
    for v in $FAKE_VDEVS; do printf '\t%s\t9G\n' "$v"; done
    exit 0
  fi
  if [ "$4" = health ]; then echo "${FAKE_HEALTH:-ONLINE}"; exit 0; fi
  [ -n "$FAKE_IMPORTED" ] && echo tank1 && exit 0
  exit 1
fi
exit 0
"#,
            ),
            // Links resolve as udev makes them: by-id name -> kernel name.
            (
                "readlink",
                r#"case "$2" in
  /dev/disk/by-id/ata-A) echo /dev/sda;;
  /dev/disk/by-id/ata-A-part1) echo /dev/sda1;;
  /dev/disk/by-id/ata-B) echo /dev/sdb;;
  /dev/disk/by-id/ata-B-part1) echo /dev/sdb1;;
  *) echo "$2";;
esac
"#,
            ),
            (
                "lsblk",
                r#"case "$3" in /dev/sd?[0-9]) echo "${3#/dev/}" | tr -d 0-9;; esac
"#,
            ),
        ];
        for (name, body) in scripts {
            let p = dir.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}")).expect("write fake");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }

    fn run(c: &Command, dir: &Path, vdevs: &str, health: &str, imported: bool) -> (i32, String) {
        let log = dir.join("log");
        let _ = std::fs::remove_file(&log);
        let out = std::process::Command::new(&c.argv[0])
            .args(&c.argv[1..])
            .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
            .env("FAKE_LOG", &log)
            .env("FAKE_VDEVS", vdevs)
            .env("FAKE_HEALTH", health)
            .env("FAKE_IMPORTED", if imported { "1" } else { "" })
            .output()
            .expect("sh runs");
        let mut text = std::fs::read_to_string(&log).unwrap_or_default();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn planned() -> Vec<String> {
        vec!["/dev/disk/by-id/ata-A".into()]
    }

    #[test]
    fn a_pool_on_the_planned_disk_is_destroyed_another_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        fakes(dir.path());
        let destroy = if_own_pool("tank1", &planned(), "zpool destroy -f tank1");
        // ZFS partitioned the planned whole disk itself: sda1 is ours.
        let (code, log) = run(
            &destroy,
            dir.path(),
            "/dev/disk/by-id/ata-A-part1",
            "ONLINE",
            true,
        );
        assert_eq!(code, 0, "{log}");
        assert!(log.contains("zpool destroy -f tank1"), "{log}");
        // The same name on a disk the plan does not use: never destroyed.
        let (code, log) = run(
            &destroy,
            dir.path(),
            "/dev/disk/by-id/ata-B-part1",
            "ONLINE",
            true,
        );
        assert_eq!(code, 1, "{log}");
        assert!(!log.contains("destroy"), "{log}");
        assert!(log.contains("not a device of this plan"), "{log}");
        // A mirror with one half elsewhere is not ours either.
        let (code, log) = run(
            &destroy,
            dir.path(),
            "/dev/disk/by-id/ata-A-part1 /dev/disk/by-id/ata-B-part1",
            "ONLINE",
            true,
        );
        assert_eq!(code, 1, "{log}");
        assert!(!log.contains("destroy"), "{log}");
        // Not imported: nothing to do.
        let (code, log) = run(&destroy, dir.path(), "", "ONLINE", false);
        assert_eq!(code, 0, "{log}");
        assert!(!log.contains("destroy"), "{log}");
    }

    #[test]
    fn a_kept_pool_must_be_ours_and_online() {
        let dir = tempfile::tempdir().expect("tempdir");
        fakes(dir.path());
        let check = check_kept_pool("tank1", &planned());
        let (code, log) = run(
            &check,
            dir.path(),
            "/dev/disk/by-id/ata-A-part1",
            "ONLINE",
            true,
        );
        assert_eq!(code, 0, "{log}");
        assert!(log.trim_end().ends_with("zpool export tank1"), "{log}");
        // `zpool status -x` says nothing is wrong with a degraded pool
        // that still works; the health check stops it.
        let (code, log) = run(
            &check,
            dir.path(),
            "/dev/disk/by-id/ata-A-part1",
            "DEGRADED",
            true,
        );
        assert_eq!(code, 1, "{log}");
        assert!(log.contains("tank1 is DEGRADED"), "{log}");
        assert!(log.contains("zpool export tank1"), "left exported: {log}");
        let (code, log) = run(
            &check,
            dir.path(),
            "/dev/disk/by-id/ata-B-part1",
            "ONLINE",
            true,
        );
        assert_eq!(code, 1, "{log}");
        assert!(log.contains("not a device of this plan"), "{log}");
        assert!(log.contains("zpool export tank1"), "left exported: {log}");
    }
}

//! `backup config` (the node's configuration archive), `backup restore
//! --node-config` and the archive's line in `backup status`, on the
//! recording fake with the node's tree in a temporary folder.

use std::fs;
use std::path::{Path, PathBuf};

use tappaas_effects::{Answer, Call, Recorder};
use tappaas_firstboot::backup::node_config::{archive_name, to_prune, KEEP, OVERDUE_SECONDS};
use tappaas_firstboot::backup::{
    self, archive_node_config, parse_storage_cfg, restore_node_config, BackupConfig, BackupError,
    PbsTarget, PbsUpload,
};

const NOW: i64 = 1_796_657_400; // 2026-12-07 15:30:00 UTC
const DIR: &str = "tank1/tappaas/node-config/pve1";
const PASSWORD: &str = "pbs-s3cret-pw";
const FINGERPRINT: &str = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89";

fn put(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

/// A Proxmox node's tree: every file the archive wants, and some it does
/// not (sshd_config, the rest of /etc).
fn proxmox_node() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path();
    for (path, text) in [
        ("etc/hostname", "pve1\n"),
        ("etc/hosts", "10.0.0.2 pve1.home.arpa pve1\n"),
        ("etc/hostid", "\u{1}\u{2}\u{3}\u{4}"),
        ("etc/resolv.conf", "nameserver 10.0.0.1\n"),
        ("etc/network/interfaces", "auto lan\n"),
        ("etc/network/interfaces.d/extra", "\n"),
        ("etc/tappaas/answer.toml", "# redacted\n"),
        ("etc/pve/corosync.conf", "totem {}\n"),
        ("etc/pve/priv/authkey.key", "KEY\n"),
        ("etc/ssh/ssh_host_ed25519_key", "PRIVATE\n"),
        ("etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAA\n"),
        ("etc/ssh/ssh_host_rsa_key", "PRIVATE\n"),
        ("etc/ssh/sshd_config", "PermitRootLogin yes\n"),
        ("etc/fstab", "\n"),
    ] {
        put(r, path, text);
    }
    dir
}

/// ZFS has tank1 but not yet the archives' dataset.
fn fresh_pool() -> Recorder {
    Recorder::new()
        .answer(
            "zfs list -H -p -t filesystem,volume -o name,mountpoint",
            Answer::prints(&["rpool\t/rpool", "tank1\t/tank1"], 0),
        )
        .answer(
            &format!("zfs get -H -o value mountpoint {DIR}"),
            Answer::prints(&[&format!("/{DIR}")], 0),
        )
        .answer("tar --create", Answer::prints(&["ARCHIVE-BYTES"], 0))
}

fn archive(fx: &mut Recorder, root: &Path) -> (Result<backup::Archived, BackupError>, Vec<String>) {
    let mut said = Vec::new();
    let r = archive_node_config(fx, root, NOW, &mut |l| said.push(l.to_string()));
    (r, said)
}

fn writes(fx: &Recorder) -> Vec<(PathBuf, u32, Vec<u8>)> {
    fx.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Write {
                path,
                mode,
                content,
            } => Some((path, mode, content)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_archive_is_made_in_a_root_only_dataset_with_the_identity_files() {
    let node = proxmox_node();
    let root = node.path();
    let mut fx = fresh_pool();
    let (r, said) = archive(&mut fx, root);
    let done = r.expect("archived");
    let dir = root.join(DIR);
    let name = "node-config-pve1-20261207T153000Z.tar.gz";
    assert_eq!(
        fx.commands(),
        [
            "zfs list -H -p -t filesystem,volume -o name,mountpoint".to_string(),
            format!("zfs create -p {DIR}"),
            format!("zfs get -H -o value mountpoint {DIR}"),
            format!("chmod 0700 {}", dir.display()),
            format!(
                "tar --create --gzip --numeric-owner --file - --directory {} \
                 --exclude=etc/pve/.version --exclude=etc/pve/.members --exclude=etc/pve/.vmlist \
                 --exclude=etc/pve/.clusterlog --exclude=etc/pve/.rrd --exclude=etc/pve/.debug \
                 etc/pve etc/tappaas etc/network/interfaces etc/network/interfaces.d etc/hosts \
                 etc/hostname etc/hostid etc/resolv.conf etc/ssh/ssh_host_ed25519_key \
                 etc/ssh/ssh_host_ed25519_key.pub etc/ssh/ssh_host_rsa_key",
                root.display()
            ),
        ]
    );
    // Written whole under its final name by the atomic write, root only,
    // with exactly what tar printed.
    assert_eq!(
        writes(&fx),
        [(dir.join(name), 0o600, b"ARCHIVE-BYTES\n".to_vec())]
    );
    assert_eq!(done.dataset, DIR);
    assert_eq!(done.archive, dir.join(name));
    assert!(done.missing.is_empty(), "{:?}", done.missing);
    assert!(done.paths.contains(&"/etc/tappaas".to_string()));
    assert_eq!(done.pbs, PbsUpload::NotRegistered);
    assert!(
        said.iter()
            .any(|l| l.contains("backup server is not registered here")),
        "{said:?}"
    );
}

#[test]
fn only_the_newest_archives_are_kept() {
    let node = proxmox_node();
    let root = node.path();
    let dir = root.join(DIR);
    // KEEP + 1 older archives of this node; another node's and other
    // files are not this node's archives.
    let older: Vec<String> = (1..=KEEP + 1)
        .map(|i| archive_name("pve1", NOW - 86_400 * i64::try_from(i).expect("small")))
        .collect();
    for n in &older {
        put(&dir, n, "old");
    }
    put(&dir, &archive_name("pve2", NOW - 90 * 86_400), "theirs");
    put(&dir, "notes.txt", "mine");
    let mut fx = Recorder::new()
        .answer(
            "zfs list -H -p -t filesystem,volume",
            Answer::prints(&["tank1\t/tank1", &format!("{DIR}\t/{DIR}")], 0),
        )
        .answer(
            &format!("zfs get -H -o value mountpoint {DIR}"),
            Answer::prints(&[&format!("/{DIR}")], 0),
        );
    let done = archive(&mut fx, root).0.expect("archived");
    assert!(
        !fx.commands().iter().any(|c| c.starts_with("zfs create")),
        "the dataset exists: {:?}",
        fx.commands()
    );
    // KEEP + 2 archives with the new one: the two oldest go.
    let expected: Vec<PathBuf> = older[KEEP - 1..]
        .iter()
        .rev()
        .map(|n| dir.join(n))
        .collect();
    assert_eq!(done.pruned, expected);
    let rms: Vec<String> = fx
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("rm "))
        .collect();
    assert_eq!(
        rms,
        expected
            .iter()
            .map(|p| format!("rm -f -- {}", p.display()))
            .collect::<Vec<_>>()
    );
    // The pure rule: the newest `keep` stay, in any order given.
    let names = ["b", "d", "a", "c"].map(String::from);
    assert_eq!(to_prune(&names, 2), ["a", "b"]);
    assert!(to_prune(&names, 9).is_empty());
}

#[test]
fn without_etc_pve_the_rest_is_archived_with_a_note() {
    for empty_dir in [false, true] {
        let node = proxmox_node();
        let root = node.path();
        fs::remove_dir_all(root.join("etc/pve")).expect("rm");
        if empty_dir {
            // The mount point of pmxcfs when pve-cluster is not running.
            fs::create_dir(root.join("etc/pve")).expect("mkdir");
        }
        let mut fx = fresh_pool();
        let (r, said) = archive(&mut fx, root);
        let done = r.expect("archived");
        assert_eq!(done.missing, ["/etc/pve"]);
        let tar = fx
            .commands()
            .into_iter()
            .find(|c| c.starts_with("tar --create"))
            .expect("tar");
        assert!(
            !tar.contains(" etc/pve ") && tar.contains(" etc/tappaas "),
            "{tar}"
        );
        assert!(
            said.iter()
                .any(|l| l.contains("/etc/pve is absent or empty")),
            "{said:?}"
        );
        assert_eq!(writes(&fx).len(), 1);
        assert_eq!(done.pbs, PbsUpload::NotRegistered);
    }
}

#[test]
fn a_failed_tar_writes_no_archive() {
    let node = proxmox_node();
    let mut fx = Recorder::new()
        .answer(
            "zfs list -H -p -t filesystem,volume",
            Answer::prints(&["tank1\t/tank1"], 0),
        )
        .answer(
            &format!("zfs get -H -o value mountpoint {DIR}"),
            Answer::prints(&[&format!("/{DIR}")], 0),
        )
        .answer(
            "tar --create",
            Answer::Exit {
                lines: vec![(
                    tappaas_effects::Stream::Stderr,
                    "tar: etc/hosts: Cannot open".into(),
                )],
                status: Some(2),
            },
        );
    let e = archive(&mut fx, node.path()).0.expect_err("tar failed");
    assert!(
        e.to_string().contains("tar: etc/hosts: Cannot open")
            && e.to_string().contains("no archive was written"),
        "{e}"
    );
    assert!(writes(&fx).is_empty());
}

const STORAGE_CFG: &str = "\
dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

pbs: tappaas-pbs
\tdatastore tappaas
\tserver 10.0.0.30
\tcontent backup
\tfingerprint FP
\tusername tappaas@pbs

zfspool: tank1
\tpool tank1
";

fn with_pbs(root: &Path) {
    put(
        root,
        "etc/pve/storage.cfg",
        &STORAGE_CFG.replace("FP", FINGERPRINT),
    );
    put(
        root,
        "etc/pve/priv/storage/tappaas-pbs.pw",
        &format!("{PASSWORD}\n"),
    );
}

#[test]
fn with_the_backup_server_the_same_files_go_there_secrets_on_stdin_only() {
    let node = proxmox_node();
    let root = node.path();
    with_pbs(root);
    let mut fx = fresh_pool();
    let done = archive(&mut fx, root).0.expect("archived");
    let repository = "tappaas@pbs@10.0.0.30:tappaas";
    assert_eq!(
        done.pbs,
        PbsUpload::Sent {
            repository: repository.into()
        }
    );
    let dir = root.join(DIR);
    let stage = dir.join(".pbs-upload");
    let archive = dir.join("node-config-pve1-20261207T153000Z.tar.gz");
    let commands = fx.commands();
    let after_tar: Vec<&str> = commands[5..].iter().map(String::as_str).collect();
    let upload = after_tar
        .iter()
        .find(|c| c.starts_with("sh -c"))
        .expect("upload");
    assert_eq!(
        after_tar,
        [
            format!("rm -rf -- {}", stage.display()).as_str(),
            &format!("install -d -m 0700 {}", stage.display()),
            &format!(
                "tar --extract --gzip --numeric-owner --preserve-permissions --file {} --directory {}",
                archive.display(),
                stage.display()
            ),
            upload,
            &format!("rm -rf -- {}", stage.display()),
        ]
    );
    assert!(
        upload.ends_with(&format!(
            " proxmox-backup-client backup node-config.pxar:{} --repository {repository} --backup-id pve1",
            stage.display()
        )),
        "{upload}"
    );
    assert!(upload.contains("read -r PBS_PASSWORD") && upload.contains("export PBS_PASSWORD"));
    // The password and the fingerprint reach the client on stdin (into
    // its environment), on no command line.
    for c in &commands {
        assert!(
            !c.contains(PASSWORD) && !c.contains(FINGERPRINT),
            "secret on argv: {c}"
        );
    }
    let input = fx.calls().into_iter().find_map(|c| match c {
        Call::Run {
            command,
            input: Some(i),
            ..
        } if command.starts_with("sh -c") => Some(i),
        _ => None,
    });
    assert_eq!(
        input.as_deref(),
        Some(format!("{PASSWORD}\n{FINGERPRINT}\n").as_bytes())
    );
}

#[test]
fn a_failed_upload_fails_loudly_keeps_the_local_archive_and_cleans_up() {
    let node = proxmox_node();
    let root = node.path();
    with_pbs(root);
    let mut fx = fresh_pool().answer(
        "sh -c",
        Answer::prints(&["Error: authentication failed"], 1),
    );
    let e = archive(&mut fx, root).0.expect_err("upload failed");
    let text = e.to_string();
    assert!(
        text.contains("authentication failed") && text.contains("The local archive is written"),
        "{text}"
    );
    assert_eq!(writes(&fx).len(), 1);
    let stage = root.join(DIR).join(".pbs-upload");
    assert_eq!(
        fx.commands().last(),
        Some(&format!("rm -rf -- {}", stage.display()))
    );
}

#[test]
fn storage_cfg_is_read_by_section() {
    let t = parse_storage_cfg(&STORAGE_CFG.replace("FP", "x"), "tappaas-pbs")
        .expect("parses")
        .expect("there");
    assert_eq!(
        t,
        PbsTarget {
            server: "10.0.0.30".into(),
            port: None,
            datastore: "tappaas".into(),
            username: "tappaas@pbs".into(),
            fingerprint: Some("x".into()),
        }
    );
    assert_eq!(parse_storage_cfg(STORAGE_CFG, "other"), Ok(None));
    let v6 = PbsTarget {
        server: "fd00::30".into(),
        port: Some(8008),
        ..t
    };
    assert_eq!(v6.repository(), "tappaas@pbs@[fd00::30]:8008:tappaas");
    let e = parse_storage_cfg(
        "pbs: tappaas-pbs\n\tserver a\n\tusername u\n",
        "tappaas-pbs",
    )
    .expect_err("no datastore");
    assert!(
        e.contains("line 1") && e.contains("has no `datastore`"),
        "{e}"
    );
}

#[test]
fn restore_unpacks_into_an_empty_folder_never_over_the_system() {
    let node = proxmox_node();
    let root = node.path();
    let archive = format!("/{DIR}/node-config-pve1-20261207T153000Z.tar.gz");
    put(root, &archive[1..], "bytes");
    let mut fx = Recorder::new();
    let mut said = |_: &str| {};
    for (to, why) in [
        ("/", "never unpacked over the running system"),
        ("/etc", "not empty"),
    ] {
        let e = restore_node_config(&mut fx, root, Path::new(&archive), Path::new(to), &mut said)
            .expect_err(to);
        assert!(
            matches!(&e, BackupError::Refused(m) if m.contains(why)),
            "{to}: {e}"
        );
    }
    let e = restore_node_config(
        &mut fx,
        root,
        Path::new("/tank1/none.tar.gz"),
        Path::new("/root/old-node"),
        &mut said,
    )
    .expect_err("no archive");
    assert!(e.to_string().contains("no such archive"), "{e}");
    assert!(fx.commands().is_empty());
    let to = restore_node_config(
        &mut fx,
        root,
        Path::new(&archive),
        Path::new("/root/old-node"),
        &mut said,
    )
    .expect("unpacked");
    assert_eq!(to, root.join("root/old-node"));
    assert_eq!(
        fx.commands(),
        [
            format!("install -d -m 0700 {}", to.display()),
            format!(
                "tar --extract --gzip --numeric-owner --preserve-permissions --file {} --directory {}",
                root.join(&archive[1..]).display(),
                to.display()
            ),
        ]
    );
}

fn status_at(root: &Path, newest_age: Option<i64>) -> backup::Status {
    let config = BackupConfig::under(root);
    put(
        root,
        "etc/sanoid/sanoid.conf",
        "[tank1]\n  use_template = d\n  recursive = yes\n[template_d]\n  daily = 30\n  hourly = 0\n  monthly = 0\n",
    );
    if let Some(age) = newest_age {
        put(
            &root.join(DIR),
            &archive_name("pve1", NOW - age - 86_400),
            "",
        );
        put(&root.join(DIR), &archive_name("pve1", NOW - age), "");
    }
    let mut fx = Recorder::new()
        .answer(
            "zfs list -H -p -t filesystem,volume",
            Answer::prints(&["tank1\t/tank1", &format!("{DIR}\t/{DIR}")], 0),
        )
        .answer(
            "zfs list -H -p -t snapshot",
            Answer::prints(
                &[
                    &format!("tank1@autosnap_2026-12-07_15:00:00_daily\t{NOW}"),
                    &format!("{DIR}@autosnap_2026-12-07_15:00:00_daily\t{NOW}"),
                ],
                0,
            ),
        )
        .answer(
            "systemctl is-enabled sanoid.timer",
            Answer::prints(&["enabled"], 0),
        );
    backup::backup_status(&mut fx, &config, NOW).expect("status")
}

#[test]
fn status_shows_the_archive_age_and_is_overdue_after_two_days() {
    let node = proxmox_node();
    let root = node.path();
    put(
        root,
        "etc/systemd/system/tappaas-node-config.timer",
        "[Timer]\n",
    );
    let fresh = status_at(root, Some(5 * 3600));
    let n = fresh.node_config.clone().expect("node config");
    assert_eq!(
        (n.age_seconds, n.count, n.overdue, fresh.ok),
        (Some(5 * 3600), 2, false, true),
        "{n:?}"
    );
    assert_eq!(
        n.newest.as_deref(),
        Some("/tank1/tappaas/node-config/pve1/node-config-pve1-20261207T103000Z.tar.gz")
    );
    let text = backup::render_status(&fresh);
    assert!(
        text.contains("Node configuration archive (tappaas-node-config.timer, daily): ok\n"),
        "{text}"
    );
    let json = serde_json::to_value(&fresh).expect("json");
    assert_eq!(json["node_config"]["age_seconds"], 5 * 3600);
    assert_eq!(
        json["node_config"]["overdue_after_seconds"],
        OVERDUE_SECONDS
    );

    let node = proxmox_node();
    let root = node.path();
    put(
        root,
        "etc/systemd/system/tappaas-node-config.timer",
        "[Timer]\n",
    );
    let old = status_at(
        root,
        Some(i64::try_from(OVERDUE_SECONDS).expect("small") + 60),
    );
    let n = old.node_config.clone().expect("node config");
    assert!(n.overdue && !old.ok && !old.overdue, "{n:?}");
    assert!(
        backup::render_status(&old)
            .contains("OVERDUE: the newest archive is 2d 0h old, more than 2d 0h"),
        "{}",
        backup::render_status(&old)
    );
}

#[test]
fn status_without_any_archive_is_overdue_and_without_the_timer_silent() {
    let node = proxmox_node();
    let root = node.path();
    // No timer laid (snapshots off, or an older install): not reported.
    let s = status_at(root, None);
    assert_eq!(s.node_config, None);
    assert!(s.ok);
    put(
        root,
        "etc/systemd/system/tappaas-node-config.timer",
        "[Timer]\n",
    );
    let s = status_at(root, None);
    let n = s.node_config.expect("node config");
    assert_eq!(
        (n.problem.as_deref(), n.overdue, s.ok),
        (Some("no archive yet"), true, false)
    );
}

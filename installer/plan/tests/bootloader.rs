//! The boot loader step (both flavours): the node's initramfs is the
//! image's with the node's own files appended, not built again (issue 19,
//! benchmarks: most of the install's time above the copy floor).

mod common;

use common::*;
use tappaas_plan::{plan, Action, Environment, FileContent, Flavour, Plan, TARGET_ROOT};

const ANSWER: &str = r#"
[disk-setup]
filesystem = "zfs"
disk-list = ["sda"]
"#;

fn test_plan() -> Plan {
    plan_for(Flavour::Test)
}

fn plan_for(flavour: Flavour) -> Plan {
    let m = machine(
        vec![disk("sda", "SSD1", 500, true)],
        vec![nic("enp1s0", "aa:00:00:00:00:01", true)],
        16,
    );
    let env = Environment {
        flavour,
        target_image: "/run/live/medium/.tappaas/target-test.squashfs".into(),
        ..Environment::default()
    };
    plan(&m, &answer(ANSWER), &env).unwrap_or_else(|e| panic!("no plan: {e:#?}"))
}

fn commands(p: &Plan, step: &str) -> Vec<Vec<String>> {
    let s = p
        .steps
        .iter()
        .find(|s| s.id == step)
        .unwrap_or_else(|| panic!("no step {step}"));
    s.actions
        .iter()
        .filter_map(|a| match a {
            Action::Run(c) => Some(c.argv.clone()),
            _ => None,
        })
        .collect()
}

/// The one command of the step that appends to the initramfs.
fn append_command(p: &Plan) -> String {
    let found: Vec<String> = commands(p, "bootloader")
        .into_iter()
        .map(|argv| argv.join(" "))
        .filter(|c| c.contains("initrd.img"))
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    found[0].clone()
}

#[test]
fn the_initramfs_is_not_built_again_on_every_install() {
    for flavour in [Flavour::Test, Flavour::Pve] {
        let p = plan_for(flavour);
        for argv in commands(&p, "bootloader") {
            assert!(
                !argv
                    .iter()
                    .any(|a| a.contains("update-initramfs") || a.contains("mkinitramfs")),
                "the boot loader step builds the initramfs again: {argv:?}"
            );
        }
    }
}

/// Proxmox's tool copies the kernels and initramfs to every ESP: the
/// node's files must be in the initramfs before it does, or the ESPs boot
/// with the image's host id and rpool's import is refused.
#[test]
fn a_proxmox_node_gets_its_files_in_the_initramfs_before_the_esps_are_filled() {
    let p = plan_for(Flavour::Pve);
    let append = append_command(&p);
    let cmds: Vec<String> = commands(&p, "bootloader")
        .into_iter()
        .map(|argv| argv.join(" "))
        .collect();
    let at = |needle: &str| {
        cmds.iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {cmds:#?}"))
    };
    let appended = cmds.iter().position(|c| *c == append).expect("append");
    assert!(appended < at("proxmox-boot-tool"), "{cmds:#?}");
}

#[test]
fn the_node_files_the_initramfs_carries_are_written_before_they_are_appended() {
    let p = test_plan();
    let append = append_command(&p);
    for file in ["etc/hostid", "etc/modprobe.d/zfs.conf"] {
        assert!(append.contains(file), "{file} is not appended: {append}");
    }
    // Both are made by the configure step, which runs before.
    let order: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
    let at = |id: &str| order.iter().position(|s| *s == id).expect("step");
    assert!(at("configure") < at("bootloader"), "{order:?}");
    let configure = p
        .steps
        .iter()
        .find(|s| s.id == "configure")
        .expect("configure");
    assert!(configure.actions.iter().any(|a| matches!(a,
        Action::WriteFile(f) if f.path == "/etc/modprobe.d/zfs.conf"
            && matches!(&f.content, FileContent::Text(t) if t.contains("zfs_arc_max=")))));
    assert!(
        commands(&p, "configure")
            .iter()
            .any(|argv| argv[0] == "zgenhostid"
                && argv.contains(&format!("{TARGET_ROOT}/etc/hostid")))
    );
}

/// The appended command run on a scratch root instead of the target: the
/// initrd keeps its bytes, is padded to 4, and ends in an archive of the
/// node's files (what the kernel unpacks last); run twice, it still does.
#[test]
fn the_append_command_leaves_an_archive_of_the_node_files_at_the_end() {
    let append = append_command(&test_plan());
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc/modprobe.d")).expect("mkdir");
    std::fs::create_dir_all(root.join("boot")).expect("mkdir");
    std::fs::write(root.join("etc/hostid"), [0x12, 0x34, 0x56, 0x78]).expect("hostid");
    std::fs::write(
        root.join("etc/modprobe.d/zfs.conf"),
        "options zfs zfs_arc_max=1\n",
    )
    .expect("conf");
    let image = b"the image's initramfs, of a length not a multiple of 4".to_vec();
    assert_ne!(image.len() % 4, 0);
    let initrd = root.join("boot/initrd.img-6.12.0-test");
    std::fs::write(&initrd, &image).expect("initrd");

    let script = append.trim_start_matches("sh -c ").replace(
        &format!("cd {TARGET_ROOT};"),
        &format!("cd {};", root.display()),
    );
    for _ in 0..2 {
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = std::fs::read(&initrd).expect("read");
    assert_eq!(&bytes[..image.len()], &image[..]);
    let first = image.len().next_multiple_of(4);
    assert!(bytes[image.len()..first].iter().all(|b| *b == 0));
    assert_eq!(
        &bytes[first..first + 6],
        b"070701",
        "a newc archive at a 4-byte boundary"
    );
    // Each run's archive lists the node's files; the kernel keeps the last.
    let tail = String::from_utf8_lossy(&bytes[first..]);
    assert_eq!(tail.matches("etc/modprobe.d/zfs.conf").count(), 2, "{tail}");
    assert_eq!(tail.matches("zfs_arc_max=1").count(), 2, "{tail}");
    let hostid = bytes
        .windows(4)
        .filter(|w| *w == [0x12, 0x34, 0x56, 0x78])
        .count();
    assert_eq!(hostid, 2);
}

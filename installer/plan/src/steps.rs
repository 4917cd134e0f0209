//! The ordered, journaled steps with every command they run.

use tappaas_answer::Answer;
use tappaas_hardware::{partition_path, MachineProfile};

use crate::files::{node_files, FIRSTBOOT_UNIT, ZFS_MODULE_OPTIONS};
use crate::own_pool::{check_kept_pool, if_own_pool};
use crate::pools::ROOT_DATASET;
use crate::{
    Action, Command, DiskRole, Environment, Flavour, PartitionPurpose, Plan, PoolAction, PoolPlan,
    Stdin, Step, TARGET_ROOT,
};

/// Where the live system's own binary is, copied onto the node for first boot.
const INSTALLER_BINARY: &str = "/usr/bin/tappaas-installer";

fn step(id: &str, title: impl Into<String>, actions: Vec<Action>) -> Step {
    Step {
        id: id.into(),
        title: title.into(),
        actions,
    }
}

fn run<I, S>(argv: I) -> Action
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Action::Run(Command::new(argv))
}

fn chroot<I, S>(argv: I) -> Action
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Action::Run(Command::chroot(argv))
}

fn target(path: &str) -> String {
    format!("{TARGET_ROOT}{path}")
}

/// A shell command that only acts when `condition` holds, so that a step
/// interrupted half-way can run again from its start.
fn guarded(condition: &str, then: &str) -> Action {
    run(["sh", "-c", &format!("if {condition}; then {then}; fi")])
}

/// Mount what commands run in the target need; idempotent.
fn chroot_mounts() -> Vec<Action> {
    [
        ("/dev", "mount --rbind /dev"),
        ("/proc", "mount -t proc proc"),
        ("/sys", "mount -t sysfs sysfs"),
    ]
    .into_iter()
    .map(|(dir, mount)| {
        let t = target(dir);
        guarded(&format!("! mountpoint -q {t}"), &format!("{mount} {t}"))
    })
    .collect()
}

pub(crate) fn plan_steps(
    plan: &Plan,
    machine: &MachineProfile,
    answer: &Answer,
    env: &Environment,
) -> Vec<Step> {
    let mut steps = vec![check_disks_step(plan, machine)];
    steps.extend(rename_old_rpool_step(plan));
    steps.extend(wipe_step(plan, machine));
    steps.push(partition_step(plan));
    let Some(rpool) = plan.pools.iter().find(|p| p.name == "rpool") else {
        return steps;
    };
    steps.push(rpool_step(rpool));
    steps.extend(system_steps(plan, env));
    steps.push(configure_step(plan, answer));
    steps.push(bootloader_step(plan, env));
    steps.extend(data_pool_steps(plan));
    steps.push(finish_step(&pool_devices(rpool)));
    steps
}

/// The machine may have changed since it was probed: check first.
fn check_disks_step(plan: &Plan, machine: &MachineProfile) -> Step {
    let checks: Vec<Action> = plan
        .disks
        .iter()
        .filter(|d| {
            d.erase || is_kept_pool_disk(plan, &d.path) || is_renamed_pool_disk(plan, &d.path)
        })
        .map(|d| Action::CheckDisk {
            path: d.path.clone(),
            device: Some(d.device.clone()).filter(|dev| !dev.is_empty()),
            boot_id: machine.boot_id.clone(),
            serial: d.serial.clone(),
            size_bytes: d.size_bytes,
        })
        .collect();
    step(
        "check-disks",
        "Check that the selected disks are the ones planned",
        checks,
    )
}

/// An old rpool on a disk this install leaves alone gets another name
/// before the new rpool exists (only with the answer's consent).
fn rename_old_rpool_step(plan: &Plan) -> Option<Step> {
    let mut rename = Vec::new();
    for old in &plan.renamed_pools {
        let mut import = vec![
            "zpool".to_string(),
            "import".into(),
            "-N".into(),
            "-f".into(),
        ];
        for dev in &old.devices {
            import.push("-d".into());
            import.push(dev.clone());
        }
        import.push(old.guid.clone());
        import.push(old.new_name.clone());
        // Imported by its id: only that pool, whatever it is called now.
        rename.push(guarded(
            &format!("! zpool list -H -o name {} >/dev/null 2>&1", old.new_name),
            &Command::new(import).to_string(),
        ));
        rename.push(run(["zpool", "export", &old.new_name]));
    }
    if rename.is_empty() {
        return None;
    }
    rename.insert(0, run(["modprobe", "zfs"]));
    Some(step(
        "rename-old-rpool",
        "Rename the old rpool on a disk this install leaves alone",
        rename,
    ))
}

/// Wipe: signatures of every old partition, then the disk's own.
fn wipe_step(plan: &Plan, machine: &MachineProfile) -> Option<Step> {
    let mut wipe = Vec::new();
    for d in plan.disks.iter().filter(|d| d.erase) {
        if let Some(disk) = machine.disk(&d.kernel_name) {
            for p in &disk.partitions {
                if p.filesystem.is_some() {
                    wipe.push(run([
                        "wipefs",
                        "--all",
                        "--force",
                        &partition_path(&d.path, p.number),
                    ]));
                }
            }
        }
        wipe.push(run(["wipefs", "--all", "--force", &d.path]));
        wipe.push(run(["sgdisk", "--zap-all", &d.path]));
    }
    if wipe.is_empty() {
        return None;
    }
    wipe.push(run(["udevadm", "settle"]));
    Some(step(
        "wipe-disks",
        "Erase the disks that will be reused",
        wipe,
    ))
}

/// Boot disks: BIOS boot, EFI system, rpool (and tank2's remainder).
fn partition_step(plan: &Plan) -> Step {
    let mut part = Vec::new();
    for disk in plan.disks.iter().filter(|d| d.role == DiskRole::Boot) {
        let mut argv: Vec<String> = vec!["sgdisk".into()];
        let mut start = "1M".to_string();
        for p in plan.partitions.iter().filter(|p| p.disk == disk.path) {
            let end = match p.size_bytes {
                Some(bytes) => format!("+{}K", bytes / 1024),
                None => "0".into(),
            };
            argv.push(format!("--new={}:{}:{}", p.number, start, end));
            argv.push(format!("--typecode={}:{}", p.number, p.type_code));
            argv.push(format!(
                "--change-name={}:{}",
                p.number,
                partition_label(p.purpose)
            ));
            start = "0".into();
        }
        argv.push(disk.path.clone());
        // A fresh table each time, so the step can run again.
        part.push(run(["sgdisk", "--zap-all", &disk.path]));
        part.push(Action::Run(Command { argv, stdin: None }));
    }
    part.push(run(["udevadm", "settle"]));
    step("partition-boot-disks", "Partition the boot disk(s)", part)
}

/// rpool and its datasets, mounted at the target root.
fn rpool_step(rpool: &PoolPlan) -> Step {
    let rpool_devices = pool_devices(rpool);
    // An rpool left by an interrupted run of this step is made again.
    // The pools carry the host id of the system that made them; the node
    // gets the same one, so it imports them even after an unclean stop.
    let mut rp = vec![
        // The live system does not load ZFS at boot (it is not needed
        // until here).
        run(["modprobe", "zfs"]),
        guarded("[ ! -s /etc/hostid ]", "zgenhostid"),
        // Only the plan's own: an rpool imported from any other disk stops
        // the step instead.
        Action::Run(if_own_pool(
            "rpool",
            &rpool_devices,
            "zpool destroy -f rpool",
        )),
        Action::Run(zpool_create(&unmounted_root(rpool), Some(TARGET_ROOT))),
    ];
    for ds in &rpool.datasets {
        let mut argv = vec!["zfs".to_string(), "create".into()];
        for (k, v) in &ds.properties {
            argv.push("-o".into());
            argv.push(format!("{k}={v}"));
        }
        argv.push(ds.name.clone());
        rp.push(Action::Run(Command { argv, stdin: None }));
    }
    // Now that the root dataset is mounted on the target root, the pool's
    // own mountpoint goes on top of it (mounted the other way round, the
    // root would hide it and the final export could not unmount it).
    if let Some(mp) = rpool.filesystem_properties.get("mountpoint") {
        rp.push(run(["zfs", "set", &format!("mountpoint={mp}"), "rpool"]));
    }
    rp.push(run([
        "zpool",
        "set",
        &format!("bootfs={ROOT_DATASET}"),
        "rpool",
    ]));
    step(
        crate::NODE_ROOT_EXISTS_AFTER,
        "Create the ZFS pool rpool and its datasets",
        rp,
    )
}

/// The target system from the ISO's image.
fn system_steps(plan: &Plan, env: &Environment) -> Vec<Step> {
    let mut steps = vec![step(
        "install-system",
        format!("Copy the {} system onto rpool", env.flavour),
        vec![run([
            "unsquashfs",
            "-f",
            "-no-progress",
            "-d",
            TARGET_ROOT,
            &env.target_image,
        ])],
    )];
    // The VM images first boot deploys from, when the ISO carries them.
    let mut images = Vec::new();
    if let (Some(src), Some(_)) = (&env.firewall_image, &plan.firewall) {
        images.push((src, crate::FIREWALL_IMAGE_ON_NODE));
    }
    if let (Some(src), false) = (&env.service_template, plan.services.is_empty()) {
        images.push((src, crate::SERVICE_TEMPLATE_ON_NODE));
    }
    if !images.is_empty() {
        let mut copy = vec![run(["mkdir", "-p", &target(crate::NODE_IMAGES_DIR)])];
        for (src, dst) in images {
            copy.push(run(["cp", src.as_str(), &target(dst)]));
        }
        steps.push(step(
            "copy-vm-images",
            "Copy the firewall and service VM images onto the node",
            copy,
        ));
    }
    steps
}

/// The node's configuration: files, identities, passwords, first boot.
fn configure_step(plan: &Plan, answer: &Answer) -> Step {
    let mut cfg = chroot_mounts();
    for f in node_files(plan, answer) {
        cfg.push(Action::WriteFile(f));
    }
    cfg.push(Action::Symlink {
        path: "/etc/localtime".into(),
        target: format!("/usr/share/zoneinfo/{}", plan.node.timezone),
    });
    // Every node gets its own identities, never the image's.
    cfg.push(run(["rm", "-f", &target("/etc/machine-id")]));
    cfg.push(run([
        "systemd-machine-id-setup",
        &format!("--root={TARGET_ROOT}"),
    ]));
    // A fresh random host id for each install (the image's and the live
    // system's are the same on every node of one ISO). Every pool is
    // exported at the end, so the node imports them whatever id made them.
    cfg.push(run([
        "zgenhostid".to_string(),
        "-f".into(),
        "-o".into(),
        target("/etc/hostid"),
    ]));
    cfg.push(run([
        "sh",
        "-c",
        &format!("rm -f {}/etc/ssh/ssh_host_*", TARGET_ROOT),
    ]));
    cfg.push(chroot(["ssh-keygen", "-A"]));
    let password = if answer.global.root_password_hashed.is_some() {
        Command::chroot(["chpasswd", "--encrypted"]).with_stdin(Stdin::RootPasswordHash)
    } else {
        Command::chroot(["chpasswd"]).with_stdin(Stdin::RootPassword)
    };
    cfg.push(Action::Run(password));
    if plan.node.cluster_is_join() {
        // Never in clear on the node: encrypted with a key only this
        // node's root can use, handed to first boot as a credential.
        cfg.push(run([
            "mkdir",
            "-p",
            "-m",
            "0700",
            &target("/etc/credstore.encrypted"),
        ]));
        cfg.push(Action::Run(
            Command::chroot([
                "systemd-creds",
                "encrypt",
                "--name=tappaas-peer-password",
                "-",
                crate::files::PEER_PASSWORD_CREDENTIAL,
            ])
            .with_stdin(Stdin::PeerPassword),
        ));
    }
    cfg.push(run([
        "install",
        "-m",
        "0755",
        INSTALLER_BINARY,
        &target(INSTALLER_BINARY),
    ]));
    cfg.push(run([
        "systemctl",
        &format!("--root={TARGET_ROOT}"),
        "enable",
        FIRSTBOOT_UNIT,
    ]));
    if plan.snapshots.is_some() {
        cfg.push(run([
            "systemctl",
            &format!("--root={TARGET_ROOT}"),
            "enable",
            crate::SANOID_TIMER,
        ]));
        cfg.push(run([
            "systemctl",
            &format!("--root={TARGET_ROOT}"),
            "enable",
            crate::NODE_CONFIG_TIMER,
        ]));
        cfg.push(run([
            "systemctl",
            &format!("--root={TARGET_ROOT}"),
            "enable",
            crate::BACKUP_CHECK_TIMER,
        ]));
    }
    if plan.replication.is_some() {
        cfg.push(run([
            "systemctl",
            &format!("--root={TARGET_ROOT}"),
            "enable",
            crate::REPLICATION_TIMER,
        ]));
    }
    step("configure", "Configure the node", cfg)
}

/// Boot loader on every boot disk, for UEFI and legacy BIOS.
fn bootloader_step(plan: &Plan, env: &Environment) -> Step {
    let mut boot = chroot_mounts();
    boot.extend(bootloader(plan, env));
    step("bootloader", "Make the node bootable (UEFI and BIOS)", boot)
}

/// The data pools.
fn data_pool_steps(plan: &Plan) -> Vec<Step> {
    let mut steps = Vec::new();
    for pool in plan.pools.iter().filter(|p| p.name != "rpool") {
        let actions = match pool.action {
            // A pool left imported by an interrupted run of this step is
            // the one this step made (its devices say so): make it again.
            PoolAction::Create => vec![
                Action::Run(if_own_pool(
                    &pool.name,
                    &pool.disks,
                    &format!("zpool destroy -f {}", pool.name),
                )),
                Action::Run(retried(&zpool_create(pool, None))),
                run(["zpool", "export", &pool.name]),
            ],
            // Import proves the pool is ours and whole (not degraded)
            // before the node relies on it.
            PoolAction::Import => vec![Action::Run(check_kept_pool(&pool.name, &pool.disks))],
        };
        let mut actions = actions;
        // Proxmox imports data pools at boot with one unit per pool.
        actions.push(run([
            "systemctl",
            &format!("--root={TARGET_ROOT}"),
            "enable",
            &format!("zfs-import@{}.service", pool.name),
        ]));
        let verb = match pool.action {
            PoolAction::Create => "Create",
            PoolAction::Import => "Keep and check",
        };
        steps.push(step(
            &format!("pool-{}", pool.name),
            format!("{verb} the ZFS pool {}", pool.name),
            actions,
        ));
    }
    steps
}

/// Leave the disks clean for the reboot.
fn finish_step(rpool_devices: &[String]) -> Step {
    step(
        "finish",
        "Unmount and export rpool",
        ["/dev", "/proc", "/sys"]
            .into_iter()
            .map(|dir| {
                let t = target(dir);
                guarded(
                    &format!("mountpoint -q {t}"),
                    &format!("umount --recursive {t}"),
                )
            })
            // Nothing else may use rpool now; if a mount is still busy, the
            // log shows what was mounted and the export is forced.
            .chain([Action::Run(if_own_pool(
                "rpool",
                rpool_devices,
                "zpool export rpool || { grep ' /target' /proc/mounts; zpool export -f rpool; }",
            ))])
            .collect(),
    )
}

fn is_renamed_pool_disk(plan: &Plan, path: &str) -> bool {
    plan.renamed_pools
        .iter()
        .any(|p| p.disks.iter().any(|d| d == path))
}

/// Every device of a planned pool's vdevs.
fn pool_devices(pool: &PoolPlan) -> Vec<String> {
    pool.vdevs
        .iter()
        .flat_map(|v| v.devices.iter().cloned())
        .collect()
}

fn is_kept_pool_disk(plan: &Plan, path: &str) -> bool {
    plan.pools
        .iter()
        .any(|p| p.action == PoolAction::Import && p.disks.iter().any(|d| d == path))
}

/// The pool as created: its root dataset not mounted yet (see create-rpool).
fn unmounted_root(pool: &PoolPlan) -> PoolPlan {
    let mut p = pool.clone();
    if p.filesystem_properties.contains_key("mountpoint") {
        p.filesystem_properties
            .insert("mountpoint".into(), "none".into());
    }
    p
}

fn partition_label(purpose: PartitionPurpose) -> &'static str {
    match purpose {
        PartitionPurpose::BiosBoot => "bios-boot",
        PartitionPurpose::Efi => "efi",
        PartitionPurpose::Rpool => "rpool",
        PartitionPurpose::Tank2 => "tank2",
    }
}

/// `zpool create` on whole disks labels them, and udev then re-creates
/// their partition links; on a slow machine ZFS can look for a link in
/// that moment and fail with "one or more devices is currently
/// unavailable" (seen in the VM tests). Wait for udev and try again, three
/// times in all; a real fault fails all three.
fn retried(create: &Command) -> Command {
    let c = create.to_string();
    Command {
        argv: vec![
            "sh".into(),
            "-c".into(),
            format!(
                "udevadm settle; {c} || {{ udevadm settle; {c}; }} || {{ udevadm settle; {c}; }}"
            ),
        ],
        stdin: None,
    }
}

fn zpool_create(pool: &PoolPlan, altroot: Option<&str>) -> Command {
    let mut argv = vec!["zpool".to_string(), "create".into(), "-f".into()];
    for (k, v) in &pool.properties {
        argv.push("-o".into());
        argv.push(format!("{k}={v}"));
    }
    for (k, v) in &pool.filesystem_properties {
        argv.push("-O".into());
        argv.push(format!("{k}={v}"));
    }
    if let Some(root) = altroot {
        argv.push("-R".into());
        argv.push(root.into());
    }
    argv.push(pool.name.clone());
    for vdev in &pool.vdevs {
        if let Some(k) = vdev.kind.keyword() {
            argv.push(k.into());
        }
        argv.extend(vdev.devices.iter().cloned());
    }
    Command { argv, stdin: None }
}

fn bootloader(plan: &Plan, env: &Environment) -> Vec<Action> {
    let esps: Vec<&str> = plan
        .partitions
        .iter()
        .filter(|p| p.purpose == PartitionPurpose::Efi)
        .map(|p| p.path.as_str())
        .collect();
    let disks: Vec<&str> = plan
        .disks
        .iter()
        .filter(|d| d.role == DiskRole::Boot)
        .map(|d| d.path.as_str())
        .collect();
    let mut a = Vec::new();
    match env.flavour {
        // Proxmox's own tool keeps every ESP in sync and sets up both
        // GRUB (BIOS) and systemd-boot/GRUB (UEFI) as Proxmox does.
        Flavour::Pve => {
            // Before the tool copies the kernels and initramfs to the ESPs.
            a.push(node_files_into_initramfs());
            for esp in &esps {
                a.push(chroot(["proxmox-boot-tool", "format", esp, "--force"]));
                a.push(chroot(["proxmox-boot-tool", "init", esp]));
            }
            a.push(chroot(["proxmox-boot-tool", "refresh"]));
        }
        // The same layout with plain GRUB: the first ESP carries the EFI
        // loader at the removable-media path; every disk gets BIOS GRUB.
        Flavour::Test => {
            // An interrupted earlier run may have left the ESP mounted.
            let efi_mounted = format!("mountpoint -q {}", target("/boot/efi"));
            a.push(guarded(
                &efi_mounted,
                &format!("umount {}", target("/boot/efi")),
            ));
            for esp in &esps {
                a.push(run(["mkfs.vfat", "-F", "32", "-n", "EFI", esp]));
            }
            let efi = target("/boot/efi");
            if let Some(first) = esps.first() {
                a.push(run(["mkdir", "-p", &efi]));
                a.push(guarded(
                    &format!("! mountpoint -q {efi}"),
                    &format!("mount {first} {efi}"),
                ));
            }
            a.push(node_files_into_initramfs());
            a.push(chroot([
                "grub-install",
                "--target=x86_64-efi",
                "--efi-directory=/boot/efi",
                "--bootloader-id=tappaas",
                "--removable",
                "--no-nvram",
            ]));
            for disk in &disks {
                a.push(chroot(["grub-install", "--target=i386-pc", disk]));
            }
            a.push(chroot(["update-grub"]));
            if !esps.is_empty() {
                a.push(run(["umount", &efi]));
            }
        }
    }
    a
}

/// The node's files that its initramfs must carry: the host id (rpool is
/// imported at boot with it; another one stops the boot) and the ZFS
/// module's options (the module is loaded there).
pub(crate) const INITRAMFS_NODE_FILES: [&str; 2] = ["/etc/hostid", ZFS_MODULE_OPTIONS];

/// The image's initramfs, made once at image build, is the node's but for
/// [`INITRAMFS_NODE_FILES`], which this install wrote: they go in as an
/// archive appended to it (the kernel unpacks the archives one after the
/// other, a later file replacing an earlier one), instead of building it
/// again on every install (most of this step under emulation). Padded to 4
/// bytes first, where the kernel looks for the next archive. Run again, it
/// appends the same files again: the last copy counts. A kernel update on
/// the node builds the initramfs whole from the same files.
fn node_files_into_initramfs() -> Action {
    let files: Vec<&str> = INITRAMFS_NODE_FILES
        .iter()
        .map(|f| f.trim_start_matches('/'))
        .collect();
    let files = files.join(" ");
    run([
        "sh".to_string(),
        "-c".into(),
        format!(
            "set -e; cd {TARGET_ROOT}; for f in {files}; do test -s $f; done; \
             ls boot/initrd.img-* >/dev/null; \
             for i in boot/initrd.img-*; do truncate -s %4 $i; \
             printf '%s\\n' {files} | cpio -o -H newc --quiet >> $i; done"
        ),
    ])
}

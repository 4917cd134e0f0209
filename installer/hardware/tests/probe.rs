//! `probe` against the recorded machines in `tests/fixtures/machines`.
//!
//! Each machine has a golden `profile.json` (what `probe` must return) and
//! `probe.txt` (what `render_text` prints). After an intended change, run
//! `UPDATE_GOLDEN=1 cargo test -p tappaas-hardware --test probe` to rewrite
//! them, and review the diff.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{disk, names, write};
use tappaas_hardware::{
    probe, render_text, resolve_disk, DiskNameKind, Firmware, MachineProfile, Transport,
    Virtualization, INSTALLER_MEDIUM_LABEL,
};

const MACHINES: &[&str] = &[
    "4kn",
    "dev-host",
    "existing-pools",
    "mini-pc",
    "mixed-sizes",
    "nvme2-hdd4",
    "one-nic",
    "qemu-vm",
    "server12",
    "usb-boot",
    "vm-clones",
    "vm-no-serial",
];

fn machines_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/machines")
}

fn probe_machine(name: &str) -> MachineProfile {
    let sysroot = machines_dir().join(name).join("sysroot");
    match probe(&sysroot) {
        Ok(profile) => profile,
        Err(e) => panic!("probe {name}: {e}"),
    }
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the golden file, or rewrites it.
fn check_golden(path: &Path, actual: &str) {
    if updating() {
        fs::write(path, actual).expect("write golden");
        return;
    }
    let expected = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the output; if the change is intended, rerun with \
         UPDATE_GOLDEN=1 and review the diff.\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn golden(name: &str) {
    let profile = probe_machine(name);
    let dir = machines_dir().join(name);
    let json = serde_json::to_string_pretty(&profile).expect("serialise") + "\n";
    check_golden(&dir.join("profile.json"), &json);
    // The golden must also be readable as a profile (the planner's tests
    // load these files) and mean the same thing.
    let text = fs::read_to_string(dir.join("profile.json")).expect("read golden");
    let parsed = MachineProfile::from_json(&text).expect("golden parses");
    assert_eq!(parsed, profile, "{name}: profile.json");
    check_golden(&dir.join("probe.txt"), &render_text(&profile));
}

macro_rules! golden_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { golden($name); })*
    };
}

golden_tests! {
    golden_4kn => "4kn",
    golden_dev_host => "dev-host",
    golden_existing_pools => "existing-pools",
    golden_mini_pc => "mini-pc",
    golden_mixed_sizes => "mixed-sizes",
    golden_nvme2_hdd4 => "nvme2-hdd4",
    golden_one_nic => "one-nic",
    golden_qemu_vm => "qemu-vm",
    golden_server12 => "server12",
    golden_usb_boot => "usb-boot",
    golden_vm_clones => "vm-clones",
    golden_vm_no_serial => "vm-no-serial",
}

#[test]
fn every_fixture_has_a_test() {
    let mut found: Vec<String> = fs::read_dir(machines_dir())
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("sysroot").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, MACHINES);
}

#[test]
fn probe_txt_fits_80_columns() {
    for name in MACHINES {
        let path = machines_dir().join(name).join("probe.txt");
        let text = fs::read_to_string(&path).expect("probe.txt");
        for (n, line) in text.lines().enumerate() {
            assert!(
                line.chars().count() <= 80,
                "{}:{}: {} columns: {line}",
                path.display(),
                n + 1,
                line.chars().count()
            );
        }
        // And what render_text prints now, in case the golden is stale.
        for line in render_text(&probe_machine(name)).lines() {
            assert!(line.chars().count() <= 80, "{name}: {line}");
        }
    }
}

/// No fixture may point outside itself: a link escaping the tree would make
/// tests read this machine instead of the recording.
#[test]
fn fixture_symlinks_stay_inside() {
    fn walk(root: &Path, dir: &Path) {
        for entry in fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("read_link");
                assert!(target.is_relative(), "{}: absolute link", path.display());
                let mut resolved = path.parent().expect("parent").to_path_buf();
                for c in target.components() {
                    match c {
                        std::path::Component::ParentDir => {
                            resolved.pop();
                        }
                        std::path::Component::Normal(n) => resolved.push(n),
                        _ => {}
                    }
                }
                assert!(
                    resolved.starts_with(root),
                    "{} -> {} leaves the fixture",
                    path.display(),
                    target.display()
                );
            } else if meta.is_dir() {
                walk(root, &path);
            }
        }
    }
    for name in MACHINES {
        let root = machines_dir().join(name);
        walk(&root, &root);
    }
}

// ---------------------------------------------------------------- per machine

#[test]
fn mini_pc() {
    let p = probe_machine("mini-pc");
    assert_eq!(p.cpu.model, "Intel(R) N100");
    assert_eq!((p.cpu.cores, p.cpu.threads), (4, 4));
    assert_eq!(p.cpu.virtualization, Some(Virtualization::Vmx));
    assert_eq!(p.firmware, Firmware::Uefi);
    // Only the NVMe: the live system's loop devices are not disks.
    assert_eq!(names(&p), ["nvme0n1"]);
    let d = disk(&p, "nvme0n1");
    assert_eq!(d.transport, Transport::Nvme);
    assert_eq!(d.model.as_deref(), Some("Samsung SSD 980 500GB"));
    // sysfs pads NVMe serials to 20 characters.
    assert_eq!(d.serial.as_deref(), Some("S64DNF0R712345L"));
    assert_eq!(d.by_id[0], "nvme-Samsung_SSD_980_500GB_S64DNF0R712345L");
    assert_eq!(
        d.by_id.last().map(String::as_str),
        Some("nvme-eui.002538d221a4b6c8")
    );
    assert_eq!(d.wwn.as_deref(), Some("eui.002538d221a4b6c8"));
    assert!(!d.rotational && !d.boot_medium && d.holds_data());
    let nics: Vec<_> = p.nics.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(nics, ["enp1s0", "enp2s0"]);
    let up = p.nic("enp1s0").expect("enp1s0");
    assert_eq!((up.link, up.speed_mbps), (Some(true), Some(1000)));
    assert_eq!(up.driver.as_deref(), Some("igc"));
    assert_eq!(up.mac, "7c:2b:e1:13:a4:01");
    assert_eq!(
        up.udev.get("ID_NET_NAME_PATH").map(String::as_str),
        Some("enp1s0")
    );
    let down = p.nic("enp2s0").expect("enp2s0");
    // No carrier: speed reads -1, which is "unknown", not a number.
    assert_eq!((down.link, down.speed_mbps), (Some(false), None));
    // networkd's lease on the port with a link; none on the other.
    let lease = up.dhcp.as_ref().expect("lease on enp1s0");
    assert_eq!(
        (lease.address.to_string(), lease.prefix),
        ("192.168.178.23".to_string(), 24)
    );
    assert_eq!(
        lease.gateway.map(|g| g.to_string()).as_deref(),
        Some("192.168.178.1")
    );
    assert_eq!(lease.domain.as_deref(), Some("fritz.box"));
    assert_eq!(down.dhcp, None);
}

#[test]
fn nvme2_hdd4() {
    let p = probe_machine("nvme2-hdd4");
    assert_eq!(
        names(&p),
        ["nvme0n1", "nvme1n1", "sda", "sdb", "sdc", "sdd"]
    );
    assert_eq!((p.cpu.cores, p.cpu.threads), (8, 16));
    assert_eq!(p.cpu.virtualization, Some(Virtualization::Svm));
    for name in ["sda", "sdb", "sdc", "sdd"] {
        let d = disk(&p, name);
        assert!(d.rotational, "{name}");
        assert_eq!(d.transport, Transport::Sata);
        // The whole ATA model, not sysfs's 16-character cut.
        assert_eq!(d.model.as_deref(), Some("WDC WD40EFZX-68AWUN0"));
        assert!(
            d.by_id[0].starts_with("ata-WDC_WD40EFZX-68AWUN0_WD-"),
            "{name}"
        );
        assert!(d.by_id.last().is_some_and(|id| id.starts_with("wwn-0x")));
        assert_eq!(d.physical_sector_bytes, 4096);
        assert!(!d.holds_data());
    }
    assert_eq!(disk(&p, "sda").serial.as_deref(), Some("WD-WX12D80ABC01"));
    assert_eq!(
        disk(&p, "nvme1n1").serial.as_deref(),
        Some("S4EWNX0R401299K")
    );
    assert_eq!(p.nics.len(), 2);
    assert_eq!(p.nic("enp5s0").and_then(|n| n.speed_mbps), Some(2500));
    assert_eq!(
        p.nic("enp6s0").and_then(|n| n.driver.clone()).as_deref(),
        Some("igb")
    );
}

#[test]
fn server12() {
    let p = probe_machine("server12");
    assert_eq!(p.disks.len(), 12);
    // 2 sockets x 12 cores: core ids repeat on the second socket.
    assert_eq!((p.cpu.cores, p.cpu.threads), (24, 48));
    assert_eq!(p.firmware, Firmware::Bios);
    assert_eq!(p.memory_bytes, 263_726_556 * 1024);
    let ssds: Vec<_> = p.disks.iter().filter(|d| d.is_ssd()).collect();
    assert_eq!(ssds.len(), 2);
    // SATA SSDs behind the SAS HBA are still SATA.
    assert!(ssds.iter().all(|d| d.transport == Transport::Sata));
    let sas: Vec<_> = p
        .disks
        .iter()
        .filter(|d| d.transport == Transport::Sas)
        .collect();
    assert_eq!(sas.len(), 10);
    for d in &sas {
        assert!(d.rotational);
        assert_eq!(d.model.as_deref(), Some("ST8000NM0185"));
        // The unit serial, not the NAA id udev puts in ID_SERIAL_SHORT.
        assert!(
            d.serial.as_deref().is_some_and(|s| s.starts_with("ZA1")),
            "{d:?}"
        );
        assert!(d.by_id[0].starts_with("scsi-35000c500"));
        assert_eq!(d.wwn.as_deref().map(|w| &w[..10]), Some("0x5000c500"));
    }
    // Every by-id name is unique across disks.
    let mut ids: Vec<_> = p.disks.iter().map(|d| d.stable_path()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    assert_eq!(p.nics.len(), 4);
    let eno4 = p.nic("eno4").expect("eno4");
    // Administratively down: neither carrier nor speed can be read.
    assert_eq!((eno4.link, eno4.speed_mbps), (None, None));
    assert_eq!(p.nic("eno1").and_then(|n| n.speed_mbps), Some(10000));
    assert_eq!(
        p.nic("eno1").and_then(|n| n.driver.clone()).as_deref(),
        Some("bnxt_en")
    );
}

#[test]
fn usb_boot() {
    let p = probe_machine("usb-boot");
    assert_eq!(names(&p), ["sda", "sdb", "sdc", "sdd"]);
    let stick = disk(&p, "sdd");
    assert!(stick.boot_medium);
    assert!(stick.removable);
    assert_eq!(stick.transport, Transport::Usb);
    assert_eq!(stick.serial.as_deref(), Some("4C530001230512109472"));
    assert_eq!(stick.by_id, ["usb-SanDisk_Ultra_4C530001230512109472-0:0"]);
    assert_eq!(
        stick.filesystem.as_ref().and_then(|f| f.label.as_deref()),
        Some(INSTALLER_MEDIUM_LABEL)
    );
    assert_eq!(stick.partition_table.as_deref(), Some("dos"));
    assert_eq!(stick.partitions.len(), 2);
    for name in ["sda", "sdb", "sdc"] {
        let d = disk(&p, name);
        assert!(!d.boot_medium, "{name}");
        assert_eq!(d.transport, Transport::Sata);
    }
    assert_eq!(p.nics.len(), 1);
}

#[test]
fn existing_pools() {
    let p = probe_machine("existing-pools");
    let pools = |name: &str| disk(&p, name).zfs_pools.clone();
    assert_eq!(pools("sda"), ["rpool"]);
    assert_eq!(pools("sdb"), ["rpool"]);
    assert_eq!(pools("sdc"), ["tank1"]);
    assert_eq!(pools("sdd"), ["tank1"]);
    assert_eq!(pools("sde"), ["tank2"]);
    assert!(pools("sdf").is_empty());

    let sda = disk(&p, "sda");
    assert_eq!(sda.partition_table.as_deref(), Some("gpt"));
    let numbers: Vec<u32> = sda.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(sda.partitions[0].filesystem, None); // BIOS boot
    assert_eq!(
        sda.partitions[1]
            .filesystem
            .as_ref()
            .map(|f| f.fs_type.as_str()),
        Some("vfat")
    );
    assert_eq!(sda.partitions[1].size_bytes, 1024 * 1024 * 1024);
    // Both members of a pool report the same pool GUID.
    let guid = |d: &str, i: usize| {
        disk(&p, d).partitions[i]
            .filesystem
            .as_ref()
            .and_then(|f| f.uuid.clone())
    };
    assert_eq!(guid("sdc", 0), guid("sdd", 0));
    assert_ne!(guid("sdc", 0), guid("sde", 0));
    // `zpool create` on a whole disk: data partition 1 and reserved 9.
    let sdc: Vec<u32> = disk(&p, "sdc")
        .partitions
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(sdc, [1, 9]);

    let sdf = disk(&p, "sdf");
    assert_eq!(sdf.partition_table, None);
    let fs = sdf.filesystem.as_ref().expect("ext4 on sdf");
    assert_eq!(
        (fs.fs_type.as_str(), fs.label.as_deref()),
        ("ext4", Some("backup"))
    );
    assert!(p.disks.iter().all(|d| d.holds_data() && !d.boot_medium));
}

#[test]
fn four_kn() {
    let p = probe_machine("4kn");
    let native = disk(&p, "sda");
    assert_eq!(
        (native.logical_sector_bytes, native.physical_sector_bytes),
        (4096, 4096)
    );
    // sysfs counts 512-byte units even on a 4Kn disk.
    assert_eq!(native.size_bytes, 12_000_138_625_024);
    let emulated = disk(&p, "sdb");
    assert_eq!(
        (
            emulated.logical_sector_bytes,
            emulated.physical_sector_bytes
        ),
        (512, 4096)
    );
    assert_eq!(emulated.size_bytes, 14_000_519_643_136);
}

#[test]
fn mixed_sizes() {
    let p = probe_machine("mixed-sizes");
    let size = |n: &str| disk(&p, n).size_bytes;
    assert_eq!(size("sda"), 1_000_204_886_016);
    assert_eq!(size("sdb"), 2_000_398_934_016);
    assert_eq!(size("sdc"), 4_000_787_030_016);
    assert_eq!(size("nvme0n1"), 500_107_862_016);
    assert_eq!(disk(&p, "sdc").model.as_deref(), Some("TOSHIBA HDWQ140"));
}

#[test]
fn one_nic() {
    let p = probe_machine("one-nic");
    assert_eq!(p.nics.len(), 1);
    assert_eq!(p.nics[0].name, "eno1");
    assert_eq!(p.nics[0].driver.as_deref(), Some("e1000e"));
    assert_eq!(names(&p), ["nvme0n1", "sda"]);
}

#[test]
fn qemu_vm() {
    let p = probe_machine("qemu-vm");
    assert_eq!(names(&p), ["sda", "sr0", "vda", "vdb", "vdc"]);
    let serial = |n: &str| disk(&p, n).serial.clone();
    // As given with `-drive serial=`.
    assert_eq!(serial("vda").as_deref(), Some("tappaas-boot-0"));
    assert_eq!(serial("vdb").as_deref(), Some("tappaas-tank1-a"));
    assert_eq!(serial("vdc").as_deref(), Some("tappaas-tank1-b"));
    assert_eq!(serial("sda").as_deref(), Some("tappaas-tank2"));
    assert_eq!(disk(&p, "vda").by_id, ["virtio-tappaas-boot-0"]);
    assert_eq!(disk(&p, "vda").transport, Transport::Virtio);
    assert_eq!(disk(&p, "vda").model, None);
    assert_eq!(disk(&p, "sda").model.as_deref(), Some("QEMU HARDDISK"));
    // The CD drive is listed only because it holds the installer.
    let cd = disk(&p, "sr0");
    assert!(cd.boot_medium);
    assert_eq!(cd.logical_sector_bytes, 2048);
    assert!(p.disks.iter().filter(|d| d.boot_medium).count() == 1);
    assert_eq!((p.cpu.cores, p.cpu.threads), (2, 2));
    assert_eq!(p.cpu.virtualization, None);
    assert!(p
        .nics
        .iter()
        .all(|n| n.driver.as_deref() == Some("virtio_net")));
    // virtio-net has no speed.
    assert!(p
        .nics
        .iter()
        .all(|n| n.speed_mbps.is_none() && n.link == Some(true)));
    // QEMU's user network leases 10.0.2.15/24 on each NIC.
    for n in &p.nics {
        let l = n.dhcp.as_ref().expect("lease");
        assert_eq!(format!("{}/{}", l.address, l.prefix), "10.0.2.15/24");
        assert_eq!(
            l.dns.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            ["10.0.2.3"]
        );
    }
}

#[test]
fn dev_host() {
    // A real recording: whatever the machine was, it has a CPU, memory,
    // at least one disk and NIC, and no loop/zram devices or ifb/lo.
    let p = probe_machine("dev-host");
    assert!(p.cpu.threads >= 1 && p.cpu.cores >= 1 && p.memory_bytes > 0);
    assert!(!p.disks.is_empty());
    for d in &p.disks {
        assert!(!d.name.starts_with("loop") && !d.name.starts_with("zram"));
        assert!(d.size_bytes > 0 && !d.boot_medium);
        // Recorded without a udev database: what is on the disk is
        // unknown, so it must not look empty (erasable without asking).
        if d.udev.is_empty() {
            assert!(d.contents_unknown() && d.holds_data(), "{}", d.name);
        }
    }
    assert!(p
        .nics
        .iter()
        .all(|n| n.name != "lo" && !n.name.starts_with("ifb")));
}

// ---------------------------------------------------------------- small trees

/// A scratch sysroot for one test, removed first if a previous run left it.
#[test]
fn vm_no_serial() {
    let p = probe_machine("vm-no-serial");
    let vda = disk(&p, "vda");
    // No serial, so no by-id name: the slot names it.
    assert_eq!((vda.serial.as_deref(), vda.by_id.len()), (None, 0));
    assert_eq!(vda.name_kind(), DiskNameKind::ByPath);
    assert_eq!(vda.stable_path(), "/dev/disk/by-path/pci-0000:00:04.0");
    assert_eq!(vda.device, "254:0");
    assert_eq!(disk(&p, "vdb").name_kind(), DiskNameKind::ById);
    assert!(render_text(&p).contains("/dev/disk/by-path/pci-0000:00:04.0 (slot: no by-id name)"));
    assert!(p.shared_identities().is_empty());
}

#[test]
fn vm_clones() {
    let p = probe_machine("vm-clones");
    // udev lists the one name for both clones.
    assert_eq!(disk(&p, "vdb").by_id, disk(&p, "vdc").by_id);
    let shared: Vec<String> = p
        .shared_identities()
        .into_iter()
        .map(|(a, b, what)| format!("{} {} {what}", a.name, b.name))
        .collect();
    assert_eq!(
        shared,
        ["vdb vdc the name /dev/disk/by-id/virtio-tappaas-data"]
    );
    let text = render_text(&p);
    for (disk, other) in [("vdb", "vdc"), ("vdc", "vdb")] {
        assert!(
            text.contains(&format!(
                "* shares the name /dev/disk/by-id/virtio-tappaas-data with {other}"
            )),
            "{disk}: {text}"
        );
    }
}

/// A recorded machine with its `/dev` as udev makes it: device nodes (plain
/// files here) and relative by-id links, the clone's link pointing at
/// `link_to`.
fn clones_with_dev(test: &str, link_to: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("resolve-{test}"));
    let _ = fs::remove_dir_all(&root);
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(machines_dir().join("vm-clones/sysroot"))
        .arg(&root)
        .status()
        .expect("cp");
    assert!(status.success());
    for name in ["vda", "vdb", "vdc"] {
        write(&root, &format!("dev/{name}"), "");
    }
    fs::create_dir_all(root.join("dev/disk/by-id")).expect("mkdir");
    std::os::unix::fs::symlink(
        "../../vda",
        root.join("dev/disk/by-id/virtio-tappaas-boot-0"),
    )
    .expect("link");
    std::os::unix::fs::symlink(
        format!("../../{link_to}"),
        root.join("dev/disk/by-id/virtio-tappaas-data"),
    )
    .expect("link");
    write(
        &root,
        "proc/sys/kernel/random/boot_id",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n",
    );
    root
}

#[test]
fn resolving_a_link_reads_the_disk_it_points_at() {
    // The link points at the second clone: the answer describes vdc, the
    // device behind the link, not the first disk carrying the name (vdb).
    let root = clones_with_dev("second", "vdc");
    let r = resolve_disk(&root, "/dev/disk/by-id/virtio-tappaas-data")
        .expect("resolve")
        .expect("present");
    assert_eq!(
        (r.disk.name.as_str(), r.disk.device.as_str()),
        ("vdc", "254:32")
    );
    assert_eq!(
        r.shared_with,
        [(
            "vdb".to_string(),
            "the name /dev/disk/by-id/virtio-tappaas-data".to_string()
        )]
    );
    assert_eq!(
        r.boot_id.as_deref(),
        Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    );
    let r = resolve_disk(
        &clones_with_dev("first", "vdb"),
        "/dev/disk/by-id/virtio-tappaas-data",
    )
    .expect("resolve")
    .expect("present");
    assert_eq!(r.disk.device, "254:16");

    // A disk of its own: nothing shares it.
    let r = resolve_disk(&root, "/dev/disk/by-id/virtio-tappaas-boot-0")
        .expect("resolve")
        .expect("present");
    assert_eq!((r.disk.name.as_str(), r.shared_with.len()), ("vda", 0));
    assert_eq!(r.disk.serial.as_deref(), Some("tappaas-boot-0"));
    // So do slot names (a disk without a serial) and kernel names; a
    // missing link is no disk.
    fs::create_dir_all(root.join("dev/disk/by-path")).expect("mkdir");
    std::os::unix::fs::symlink("../../vda", root.join("dev/disk/by-path/pci-0000:00:04.0"))
        .expect("link");
    let r = resolve_disk(&root, "/dev/disk/by-path/pci-0000:00:04.0")
        .expect("resolve")
        .expect("present");
    assert_eq!(r.disk.device, "254:0");
    let r = resolve_disk(&root, "/dev/vdb")
        .expect("resolve")
        .expect("present");
    assert_eq!(r.disk.device, "254:16");
    assert_eq!(
        resolve_disk(&root, "/dev/disk/by-id/gone").expect("resolve"),
        None
    );
}

#[test]
fn resolving_a_partition_or_a_non_device_is_an_error() {
    let root = clones_with_dev("partition", "vdc");
    write(&root, "dev/vdc1", "");
    std::os::unix::fs::symlink("../../vdc1", root.join("dev/disk/by-id/virtio-part"))
        .expect("link");
    let err = resolve_disk(&root, "/dev/disk/by-id/virtio-part").expect_err("not a disk");
    assert!(err.to_string().contains("not a whole disk"), "{err}");
    std::os::unix::fs::symlink("../../../proc/cpuinfo", root.join("dev/disk/by-id/odd"))
        .expect("link");
    let err = resolve_disk(&root, "/dev/disk/by-id/odd").expect_err("outside /dev");
    assert!(err.to_string().contains("not a device node"), "{err}");
}

/// Every file and symlink below `dir`, relative to it, with its contents
/// (or link target).
fn tree(dir: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).expect("below root").to_path_buf();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("read_link");
                out.push((rel, format!("-> {}", target.display())));
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.push((rel, fs::read_to_string(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The committed trees are what `generate.py` writes now. Needs python3;
/// ignored with the other slow checks.
#[test]
#[ignore]
fn generated_fixtures_are_current() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated");
    let _ = fs::remove_dir_all(&out);
    let status = std::process::Command::new("python3")
        .arg(machines_dir().join("generate.py"))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run generate.py");
    assert!(status.success());
    for name in MACHINES.iter().filter(|n| **n != "dev-host") {
        let fresh = tree(&out.join(name).join("sysroot"));
        let committed = tree(&machines_dir().join(name).join("sysroot"));
        assert!(
            fresh == committed,
            "{name}: the committed sysroot differs from what generate.py writes; \
             rerun it"
        );
    }
}

/// `scripts/record-sysroot` keeps everything probe reads: recording a
/// fixture again must give the same profile. Slow (a few seconds, it runs
/// the script on every generated machine), hence ignored; run it with
/// `cargo test -p tappaas-hardware --test probe -- --ignored`.
#[test]
#[ignore]
fn record_sysroot_keeps_what_probe_reads() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/record-sysroot");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("recorded");
    let _ = fs::remove_dir_all(&out_dir);
    fs::create_dir_all(&out_dir).expect("mkdir");
    for name in MACHINES.iter().filter(|n| **n != "dev-host") {
        let sysroot = machines_dir().join(name).join("sysroot");
        let out = out_dir.join(name);
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg(&out)
            .arg(&sysroot)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run record-sysroot");
        assert!(status.success(), "{name}: record-sysroot failed");
        let recorded = probe(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(recorded, probe_machine(name), "{name}");
    }
}

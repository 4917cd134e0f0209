//! `probe` against small sysroots each test writes itself: the least a
//! machine can have, unreadable or garbled files, and what probe skips.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{disk, names, write};
use tappaas_hardware::{probe, render_text, ProbeError, Transport};

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("probe-{test}"));
    let _ = fs::remove_dir_all(&dir);
    write(
        &dir,
        "proc/cpuinfo",
        "processor\t: 0\nmodel name\t: Test CPU\n",
    );
    write(&dir, "proc/meminfo", "MemTotal:        1024 kB\n");
    fs::create_dir_all(dir.join("sys/block")).expect("mkdir");
    fs::create_dir_all(dir.join("sys/class/net")).expect("mkdir");
    dir
}

#[test]
fn minimal_machine() {
    let root = scratch("minimal");
    let p = probe(&root).expect("probe");
    assert_eq!(p.memory_bytes, 1024 * 1024);
    assert_eq!((p.cpu.cores, p.cpu.threads), (1, 1));
    assert!(p.disks.is_empty() && p.nics.is_empty());
    assert!(render_text(&p).contains("none found"));
}

#[test]
fn missing_meminfo_names_the_file() {
    let root = scratch("no-meminfo");
    fs::remove_file(root.join("proc/meminfo")).expect("rm");
    let err = probe(&root).expect_err("must fail");
    assert!(matches!(err, ProbeError::Read { .. }), "{err:?}");
    assert!(err.path().ends_with("proc/meminfo"));
    assert!(err.to_string().contains("proc/meminfo"), "{err}");
}

#[test]
fn unreadable_meminfo_names_the_file() {
    // A directory cannot be read as a file, even by root.
    let root = scratch("dir-meminfo");
    fs::remove_file(root.join("proc/meminfo")).expect("rm");
    fs::create_dir_all(root.join("proc/meminfo")).expect("mkdir");
    let err = probe(&root).expect_err("must fail");
    assert!(err.to_string().contains("proc/meminfo"), "{err}");
}

#[test]
fn garbled_meminfo_names_the_file() {
    let root = scratch("bad-meminfo");
    write(&root, "proc/meminfo", "MemTotal: many kB\n");
    let err = probe(&root).expect_err("must fail");
    assert!(matches!(err, ProbeError::Parse { .. }), "{err:?}");
    assert!(err.to_string().contains("proc/meminfo"), "{err}");
    assert!(err.to_string().contains("many"), "{err}");
}

#[test]
fn garbled_disk_size_names_the_file() {
    let root = scratch("bad-size");
    write(&root, "sys/block/sda/size", "lots\n");
    write(&root, "sys/block/sda/dev", "8:0\n");
    let err = probe(&root).expect_err("must fail");
    assert!(err.path().ends_with("sys/block/sda/size"), "{err}");
}

#[test]
fn broken_loop_device_is_ignored() {
    // Devices that are never disks must not stop the probe.
    let root = scratch("bad-loop");
    write(&root, "sys/block/loop3/size", "garbage\n");
    let p = probe(&root).expect("probe");
    assert!(p.disks.is_empty());
}

#[test]
fn medium_found_by_mount_alone() {
    // No udev database at all: only /proc/mounts says where we booted from.
    let root = scratch("mount-medium");
    write(&root, "sys/block/sdb/size", "60063744\n");
    write(&root, "sys/block/sdb/dev", "8:16\n");
    write(&root, "sys/block/sdb/removable", "1\n");
    write(&root, "sys/block/sdb/sdb1/partition", "1\n");
    write(&root, "sys/block/sdb/sdb1/size", "2371584\n");
    write(&root, "sys/block/sdb/sdb1/dev", "8:17\n");
    write(&root, "sys/block/sda/size", "1953525168\n");
    write(&root, "sys/block/sda/dev", "8:0\n");
    write(
        &root,
        "proc/mounts",
        "/dev/sdb1 /run/live/medium iso9660 ro,noatime 0 0\n",
    );
    let p = probe(&root).expect("probe");
    assert!(disk(&p, "sdb").boot_medium);
    assert!(!disk(&p, "sda").boot_medium);
    // Partitions but no udev to name the table: it still holds data.
    assert_eq!(disk(&p, "sdb").partition_table.as_deref(), Some("unknown"));
    assert!(disk(&p, "sdb").holds_data());
    // No udev: even a disk without partitions may hold a filesystem.
    assert!(disk(&p, "sda").contents_unknown() && disk(&p, "sda").holds_data());
    assert_eq!(disk(&p, "sda").transport, Transport::Scsi);
}

#[test]
fn hidden_paths_and_emmc_boot_partitions_are_skipped() {
    let root = scratch("hidden");
    for (name, dev) in [("nvme0n1", "259:0"), ("nvme0c0n1", "259:1")] {
        write(&root, &format!("sys/block/{name}/size"), "1000215216\n");
        write(&root, &format!("sys/block/{name}/dev"), &format!("{dev}\n"));
    }
    write(&root, "sys/block/nvme0c0n1/hidden", "1\n");
    write(&root, "sys/block/nvme0n1/hidden", "0\n");
    for (name, dev) in [("mmcblk0", "179:0"), ("mmcblk0boot0", "179:8")] {
        write(&root, &format!("sys/block/{name}/size"), "8192\n");
        write(&root, &format!("sys/block/{name}/dev"), &format!("{dev}\n"));
    }
    let p = probe(&root).expect("probe");
    assert_eq!(names(&p), ["mmcblk0", "nvme0n1"]);
    assert_eq!(disk(&p, "mmcblk0").transport, Transport::Mmc);
}

#[test]
fn virtual_nics_are_skipped() {
    let root = scratch("nics");
    write(&root, "sys/class/net/lo/address", "00:00:00:00:00:00\n");
    write(&root, "sys/class/net/vmbr0/address", "aa:bb:cc:dd:ee:ff\n");
    write(&root, "sys/class/net/eth0/address", "52:54:00:00:00:01\n");
    write(&root, "sys/class/net/eth0/device/vendor", "0x1af4\n");
    write(&root, "sys/class/net/eth0/speed", "garbage\n");
    write(&root, "sys/class/net/eth0/ifindex", "2\n");
    write(&root, "run/udev/data/n2", "E:ID_NET_DRIVER=virtio_net\n");
    let p = probe(&root).expect("probe");
    assert_eq!(p.nics.len(), 1);
    let eth0 = &p.nics[0];
    assert_eq!(
        (eth0.link, eth0.speed_mbps, eth0.driver.as_deref()),
        (None, None, None)
    );
    assert_eq!(
        eth0.udev.get("ID_NET_DRIVER").map(String::as_str),
        Some("virtio_net")
    );
}

#[test]
fn a_lease_in_another_format_is_no_lease() {
    let root = scratch("lease");
    write(&root, "sys/class/net/eth0/address", "52:54:00:00:00:01\n");
    write(&root, "sys/class/net/eth0/device/vendor", "0x1af4\n");
    write(&root, "sys/class/net/eth0/ifindex", "2\n");
    write(&root, "sys/class/net/eth1/address", "52:54:00:00:00:02\n");
    write(&root, "sys/class/net/eth1/device/vendor", "0x1af4\n");
    write(&root, "sys/class/net/eth1/ifindex", "3\n");
    // A newer networkd writes JSON: the probe goes on without defaults.
    write(
        &root,
        "run/systemd/netif/leases/2",
        "{\n  \"Address\": [10, 0, 2, 15]\n}\n",
    );
    write(
        &root,
        "run/systemd/netif/leases/3",
        "ADDRESS=10.1.2.3\nNETMASK=255.255.0.0\n",
    );
    let p = probe(&root).expect("probe");
    assert_eq!(p.nic("eth0").expect("eth0").dhcp, None);
    let l = p
        .nic("eth1")
        .and_then(|n| n.dhcp.clone())
        .expect("eth1 lease");
    assert_eq!(
        (l.address.to_string(), l.prefix, l.gateway),
        ("10.1.2.3".into(), 16, None)
    );
}

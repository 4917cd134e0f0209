//! Machines built in code, for rule and property tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use tappaas_hardware::{
    Cpu, Disk, Filesystem, Firmware, MachineProfile, Nic, Partition, Transport, Virtualization,
    PROFILE_VERSION,
};

pub const GIB: u64 = 1024 * 1024 * 1024;

pub fn disk(name: &str, serial: &str, size_gib: u64, ssd: bool) -> Disk {
    let by_id = format!("ata-TEST_DISK_{serial}");
    let mut udev = BTreeMap::new();
    udev.insert("ID_SERIAL".to_string(), format!("TEST_DISK_{serial}"));
    udev.insert("ID_SERIAL_SHORT".to_string(), serial.to_string());
    udev.insert("ID_MODEL".to_string(), "TEST_DISK".to_string());
    udev.insert("ID_BUS".to_string(), "ata".to_string());
    udev.insert("DEVNAME".to_string(), format!("/dev/{name}"));
    Disk {
        name: name.to_string(),
        device: String::new(),
        by_id: vec![by_id],
        by_path: None,
        model: Some("TEST DISK".to_string()),
        serial: Some(serial.to_string()),
        wwn: None,
        size_bytes: size_gib * GIB,
        logical_sector_bytes: 512,
        physical_sector_bytes: 4096,
        rotational: !ssd,
        transport: Transport::Sata,
        removable: false,
        partition_table: None,
        partitions: Vec::new(),
        filesystem: None,
        zfs_pools: Vec::new(),
        boot_medium: false,
        udev,
    }
}

/// A disk that already carries a whole-disk ZFS pool (as `zpool create`
/// on a whole disk leaves it: partitions 1 and 9).
pub fn with_pool(mut d: Disk, pool: &str) -> Disk {
    let fs = Filesystem {
        fs_type: "zfs_member".into(),
        label: Some(pool.into()),
        uuid: None,
    };
    d.partition_table = Some("gpt".into());
    d.partitions = vec![
        Partition {
            name: format!("{}1", d.name),
            number: 1,
            size_bytes: d.size_bytes - 8 * 1024 * 1024,
            filesystem: Some(fs),
        },
        Partition {
            name: format!("{}9", d.name),
            number: 9,
            size_bytes: 8 * 1024 * 1024,
            filesystem: None,
        },
    ];
    d.zfs_pools = vec![pool.into()];
    d
}

pub fn with_ext4(mut d: Disk) -> Disk {
    d.partition_table = Some("gpt".into());
    d.partitions = vec![Partition {
        name: format!("{}1", d.name),
        number: 1,
        size_bytes: d.size_bytes - 1024 * 1024,
        filesystem: Some(Filesystem {
            fs_type: "ext4".into(),
            label: Some("old-data".into()),
            uuid: None,
        }),
    }];
    d
}

pub fn nic(name: &str, mac: &str, link: bool) -> Nic {
    let mut udev = BTreeMap::new();
    udev.insert("INTERFACE".to_string(), name.to_string());
    udev.insert(
        "ID_NET_NAME_MAC".to_string(),
        format!("enx{}", mac.replace(':', "")),
    );
    Nic {
        name: name.to_string(),
        mac: mac.to_string(),
        driver: Some("igc".into()),
        link: Some(link),
        speed_mbps: link.then_some(2500),
        udev,
        dhcp: None,
    }
}

pub fn machine(disks: Vec<Disk>, nics: Vec<Nic>, memory_gib: u64) -> MachineProfile {
    MachineProfile {
        profile_version: PROFILE_VERSION,
        cpu: Cpu {
            model: "Test CPU".into(),
            cores: 4,
            threads: 8,
            virtualization: Some(Virtualization::Vmx),
        },
        memory_bytes: memory_gib * GIB,
        firmware: Firmware::Uefi,
        disks,
        nics,
        boot_id: None,
    }
}

pub const GLOBAL: &str = r#"
[global]
keyboard = "en-us"
country = "nl"
fqdn = "tappaas1.home.lan"
mailto = "admin@home.lan"
timezone = "Europe/Amsterdam"
root-password = "correct horse battery"
"#;

pub fn answer(rest: &str) -> tappaas_answer::Answer {
    let text = format!("{GLOBAL}\n{rest}");
    match tappaas_answer::parse(&text) {
        Ok(a) => a,
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            panic!(
                "test answer does not parse:\n{}\n---\n{text}",
                lines.join("\n")
            )
        }
    }
}
pub mod rules;

//! `plan` on a 60-disk machine: the planner must stay instant even on a
//! storage server (the wizard re-plans as the user changes choices).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tappaas_hardware::{Cpu, Disk, Firmware, MachineProfile, Nic, Transport, Virtualization};
use tappaas_plan::{plan, render_text, Environment};

const GIB: u64 = 1024 * 1024 * 1024;

fn big_machine() -> MachineProfile {
    let disks = (0..60)
        .map(|i| {
            let serial = format!("ZL2{i:05}");
            let mut udev = BTreeMap::new();
            udev.insert("ID_SERIAL_SHORT".to_string(), serial.clone());
            udev.insert(
                "ID_MODEL".to_string(),
                if i < 2 { "SSD" } else { "HDD" }.to_string(),
            );
            Disk {
                name: format!("sd{}", disk_letters(i)),
                device: format!("8:{}", i * 16),
                by_path: None,
                by_id: vec![
                    format!("scsi-35000c500{i:08x}"),
                    format!("wwn-0x5000c500{i:08x}"),
                ],
                model: Some(
                    if i < 2 {
                        "SAMSUNG MZ7L3480"
                    } else {
                        "ST16000NM002G"
                    }
                    .into(),
                ),
                serial: Some(serial),
                wwn: Some(format!("0x5000c500{i:08x}")),
                size_bytes: if i < 2 { 480 * GIB } else { 16_000 * GIB },
                logical_sector_bytes: 512,
                physical_sector_bytes: 4096,
                rotational: i >= 2,
                transport: Transport::Sas,
                removable: false,
                partition_table: None,
                partitions: Vec::new(),
                filesystem: None,
                zfs_pools: Vec::new(),
                boot_medium: false,
                udev,
            }
        })
        .collect();
    MachineProfile {
        profile_version: tappaas_hardware::PROFILE_VERSION,
        cpu: Cpu {
            model: "AMD EPYC 9124".into(),
            cores: 32,
            threads: 64,
            virtualization: Some(Virtualization::Svm),
        },
        memory_bytes: 512 * GIB,
        firmware: Firmware::Uefi,
        disks,
        nics: (0..4)
            .map(|i| Nic {
                name: format!("eno{i}"),
                mac: format!("3c:ec:ef:00:00:0{i}"),
                driver: Some("ice".into()),
                link: Some(i < 2),
                speed_mbps: Some(25_000),
                udev: BTreeMap::new(),
                dhcp: None,
            })
            .collect(),
        boot_id: None,
    }
}

fn disk_letters(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.insert(0, (b'a' + (i % 26) as u8) as char);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s
}

const ANSWER: &str = r#"
[global]
keyboard = "en-us"
country = "de"
fqdn = "tappaas1.example.org"
mailto = "ops@example.org"
timezone = "Europe/Berlin"
root-password = "benchmark password"

[disk-setup]
filesystem = "zfs"
filter.ID_MODEL = "SSD"
zfs.raid = "raid1"

[tank1]
layout = "raidz-2"
filter.ID_MODEL = "HDD"
"#;

fn bench(c: &mut Criterion) {
    let machine = big_machine();
    let answer = match tappaas_answer::parse(ANSWER) {
        Ok(a) => a,
        Err(e) => panic!("benchmark answer invalid: {e:?}"),
    };
    let env = Environment::default();
    c.bench_function("plan 60 disks", |b| {
        b.iter(|| plan(black_box(&machine), black_box(&answer), &env))
    });
    let p = match plan(&machine, &answer, &env) {
        Ok(p) => p,
        Err(e) => panic!("benchmark plan failed: {e:?}"),
    };
    c.bench_function("render text 60 disks", |b| {
        b.iter(|| render_text(black_box(&p)))
    });
    c.bench_function("render json 60 disks", |b| {
        b.iter(|| black_box(&p).to_json())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

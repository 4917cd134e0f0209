//! For any machine and any answer: no panic, and the safety rules hold.

mod common;

use common::*;
use proptest::prelude::*;
use tappaas_plan::{plan, DiskRole, Environment};

#[derive(Debug, Clone)]
enum Content {
    Empty,
    Ext4,
    Pool(&'static str),
    Medium,
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        12 => Just(Content::Empty),
        1 => Just(Content::Ext4),
        1 => Just(Content::Pool("tank1")),
        1 => Just(Content::Pool("tank2")),
        1 => Just(Content::Pool("rpool")),
        1 => Just(Content::Medium),
    ]
}

fn machine_strategy() -> impl Strategy<Value = tappaas_hardware::MachineProfile> {
    (
        prop::collection::vec((1u64..5000, any::<bool>(), content()), 1..11),
        1usize..4,
        1u64..300,
    )
        .prop_map(|(disks, nics, mem)| {
            let disks = disks
                .into_iter()
                .enumerate()
                .map(|(i, (size, ssd, c))| {
                    let d = disk(
                        &format!("sd{}", (b'a' + i as u8) as char),
                        &format!("S{i}"),
                        size,
                        ssd,
                    );
                    match c {
                        Content::Empty => d,
                        Content::Ext4 => with_ext4(d),
                        Content::Pool(p) => with_pool(d, p),
                        Content::Medium => {
                            let mut d = d;
                            d.boot_medium = true;
                            d
                        }
                    }
                })
                .collect();
            let nics = (0..nics)
                .map(|i| {
                    nic(
                        &format!("eno{i}"),
                        &format!("aa:00:00:00:00:0{i}"),
                        i % 2 == 0,
                    )
                })
                .collect();
            machine(disks, nics, mem)
        })
}

#[derive(Debug, Clone)]
struct Choice {
    boot: Vec<usize>,
    raid: Option<&'static str>,
    hdsize: Option<u32>,
    tank1: Option<(&'static str, Vec<usize>, bool, bool)>,
    tank2: Option<(Vec<usize>, bool, bool)>,
    erase: bool,
    by_filter: bool,
}

fn choice() -> impl Strategy<Value = Choice> {
    // Mostly disjoint ranges per role (plausible answers that reach the
    // planner's deeper rules), sometimes anywhere (conflicts).
    let idx = |lo: usize, hi: usize| {
        prop_oneof![
            3 => prop::collection::vec(lo..hi, 1..4),
            1 => prop::collection::vec(0usize..10, 1..6),
        ]
    };
    (
        idx(0, 2),
        prop::option::of(prop::sample::select(vec![
            "raid0", "raid1", "raid10", "raidz-1", "raidz-2", "raidz-3",
        ])),
        prop::option::of(1u32..600),
        prop::option::of((
            prop::sample::select(vec![
                "single", "mirror", "raid10", "raidz-1", "raidz-2", "raidz-3",
            ]),
            idx(2, 7),
            any::<bool>(),
            any::<bool>(),
        )),
        prop::option::of((idx(7, 10), any::<bool>(), any::<bool>())),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(boot, raid, hdsize, tank1, tank2, erase, by_filter)| Choice {
                boot,
                raid,
                hdsize,
                tank1,
                tank2,
                erase,
                by_filter,
            },
        )
}

fn names(idx: &[usize]) -> String {
    let mut seen = Vec::new();
    for i in idx {
        let n = format!("\"sd{}\"", (b'a' + *i as u8) as char);
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    seen.join(", ")
}

fn answer_text(c: &Choice) -> String {
    let mut s = String::from("[disk-setup]\nfilesystem = \"zfs\"\n");
    if c.by_filter {
        s.push_str("filter.ID_SERIAL_SHORT = \"S[0-2]\"\n");
    } else {
        s.push_str(&format!("disk-list = [{}]\n", names(&c.boot)));
    }
    if let Some(r) = c.raid {
        s.push_str(&format!("zfs.raid = \"{r}\"\n"));
    }
    if let Some(h) = c.hdsize {
        s.push_str(&format!("zfs.hdsize = {h}\n"));
    }
    if let Some((layout, disks, allow, wipe)) = &c.tank1 {
        s.push_str(&format!(
            "[tank1]\nlayout = \"{layout}\"\ndisk-list = [{}]\nallow-no-redundancy = {allow}\nexisting = \"{}\"\n",
            names(disks),
            if *wipe { "wipe" } else { "keep" }
        ));
    }
    if let Some((disks, remainder, wipe)) = &c.tank2 {
        s.push_str("[tank2]\n");
        if *remainder {
            s.push_str("boot-remainder = true\n");
        } else {
            s.push_str(&format!("disk-list = [{}]\n", names(disks)));
        }
        s.push_str(&format!(
            "existing = \"{}\"\n",
            if *wipe { "wipe" } else { "keep" }
        ));
    }
    s.push_str(&format!("[node]\nerase-disks-with-data = {}\n", c.erase));
    s
}

/// Checks one case; returns whether the answer parsed and whether it planned.
fn check(m: &tappaas_hardware::MachineProfile, c: &Choice) -> Result<(bool, bool), TestCaseError> {
    let text = format!("{GLOBAL}\n{}", answer_text(c));
    let Ok(answer) = tappaas_answer::parse(&text) else {
        return Ok((false, false)); // rejected by validation: not the planner's case
    };
    match plan(m, &answer, &Environment::default()) {
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            Ok((true, false))
        }
        Ok(p) => {
            let argv: Vec<String> = p.commands().flat_map(|c| c.argv.iter().cloned()).collect();
            for d in &p.disks {
                let disk = m.disk(&d.kernel_name).expect("planned disk exists");
                if disk.boot_medium {
                    prop_assert_eq!(d.role, DiskRole::InstallerMedium);
                    prop_assert!(!d.erase);
                }
                if d.erase {
                    prop_assert!(matches!(
                        d.role,
                        DiskRole::Boot | DiskRole::Tank1 | DiskRole::Tank2
                    ));
                    // Data other than a pool the answer says to wipe is
                    // erased only with consent.
                    let other_data = disk
                        .partitions
                        .iter()
                        .any(|p| p.filesystem.as_ref().is_some_and(|f| f.fs_type == "ext4"))
                        || disk.zfs_pools.iter().any(|p| p == "rpool");
                    if other_data {
                        prop_assert!(
                            answer.node.erase_disks_with_data,
                            "{} erased without consent",
                            d.kernel_name
                        );
                    }
                }
                if matches!(d.role, DiskRole::Untouched | DiskRole::InstallerMedium) {
                    let id = &disk.by_id[0];
                    prop_assert!(
                        !argv.iter().any(|a| a.contains(id.as_str())),
                        "untouched {} in a command",
                        d.kernel_name
                    );
                }
            }
            let mut ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
            ids.sort_unstable();
            let n = ids.len();
            ids.dedup();
            prop_assert_eq!(ids.len(), n, "step ids must be unique");
            Ok((true, true))
        }
    }
}

#[test]
fn planner_never_panics_and_keeps_the_safety_rules() {
    use std::cell::Cell;
    let parsed = Cell::new(0u32);
    let planned = Cell::new(0u32);
    let cases = 800;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let result = runner.run(&(machine_strategy(), choice()), |(m, c)| {
        let (p, q) = check(&m, &c)?;
        parsed.set(parsed.get() + u32::from(p));
        planned.set(planned.get() + u32::from(q));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{} of {cases} answers parsed, {} planned",
        parsed.get(),
        planned.get()
    );
    // The property means something only if many cases reach the planner
    // and a fair share produce plans.
    assert!(
        parsed.get() > cases / 4,
        "only {} of {cases} answers parsed",
        parsed.get()
    );
    assert!(
        planned.get() > cases / 25,
        "only {} of {cases} cases planned",
        planned.get()
    );
}

//! A short run of every fuzz target, so the fuzzers cannot rot: the
//! unchanged fixtures must still be accepted (else the mutations start
//! from nothing), a fair share of mutated cases must get through, and
//! nothing may panic. The full runs are `scripts/fuzz` (docs/performance.md).

use std::path::Path;

use tappaas_fuzz::targets::{AnswerTarget, ConsoleScript, MachineTarget, ProxmoxTarget, CALLS};
use tappaas_fuzz::{fuzz, replay, target_by_name, Outcome, Target};

fn accepted(target: &mut dyn Target, input: &[u8]) -> bool {
    matches!(replay(target, input), Ok(Outcome::Accepted))
}

/// `cases` cases: no panic, and at least `min_accepted` accepted.
fn smoke(name: &str, cases: u64, min_accepted: u64) {
    let mut target = target_by_name(name).expect("target");
    let save = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke");
    let r = fuzz(target.as_mut(), cases, 42, &save);
    let panics: Vec<String> = r
        .panics
        .iter()
        .map(|p| format!("case {}: {} ({:?})", p.case, p.message, p.saved))
        .collect();
    assert!(panics.is_empty(), "{name}: {}", panics.join("\n"));
    assert!(
        r.accepted >= min_accepted,
        "{name}: only {} of {cases} cases accepted; the mutations no longer reach the deeper code",
        r.accepted
    );
}

#[test]
fn answer_fixtures_are_accepted_and_mutations_do_not_panic() {
    let mut t = AnswerTarget::new().expect("answer fixtures");
    for input in t.seed_inputs() {
        assert!(
            accepted(&mut t, &input),
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
    smoke("answer", 400, 20);
}

#[test]
fn machines_probe_and_odd_values_do_not_panic() {
    let mut t = MachineTarget::new().expect("machine fixtures");
    for input in t.seed_inputs() {
        assert!(
            accepted(&mut t, &input),
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
    smoke("machine", 100, 30);
}

#[test]
fn the_played_console_installs_and_garbled_output_does_not_panic() {
    let mut t = target_by_name("console").expect("console");
    for size in [0, 200, 1000] {
        let input = serde_json::to_vec(&ConsoleScript::unchanged(size)).expect("json");
        assert!(accepted(t.as_mut(), &input), "a {size}-byte config");
    }
    smoke("console", 300, 30);
}

#[test]
fn every_proxmox_call_decodes_its_answer_and_odd_answers_do_not_panic() {
    let mut t = ProxmoxTarget::new();
    for call in CALLS {
        let input = serde_json::to_vec(&ProxmoxTarget::seed_case(call)).expect("json");
        assert!(accepted(&mut t, &input), "{call}");
    }
    smoke("proxmox", 2000, 400);
}

//! Answer files: arbitrary and mutated TOML through `parse` (which
//! validates), then what is done with an accepted answer: save it
//! (`to_toml`, `redacted`) and plan it against a recorded machine.

use std::collections::BTreeMap;

use tappaas_answer::{has_secrets, parse, redacted, to_toml, validate};
use tappaas_hardware::MachineProfile;
use tappaas_plan::{plan, Environment};

use super::{fixtures, machine_names, read_texts};
use crate::mutate::{mutate_some, token_soup};
use crate::rng::Rng;
use crate::target::{Outcome, Target};

/// The first line of a generated input may name the machine to plan
/// against; a comment, so the answer parses the same.
const MACHINE_LINE: &str = "# fuzz-machine: ";
/// The machine for inputs that name none (twelve disks, sda..sdl).
const DEFAULT_MACHINE: &str = "server12";

/// TOML pieces beyond the fixtures' own lines and keys (which give the
/// sections, keys and values that installer/answer/tests/no_panic.rs
/// lists by hand): TOML's rarer syntax and values at the edges of the
/// rules.
const SNIPPETS: &[&str] = &[
    "[[",
    "]]",
    "'''",
    "\"\"\"",
    "= \"\"\"\n",
    "{ }",
    "[ ]",
    ",]",
    "1979-05-27T07:32:00Z",
    "0x7f",
    "0o17",
    "+inf",
    "-nan",
    "1_000",
    "\\u0000",
    "\\U0010FFFF",
    "\u{feff}",
    "cidr = \"::1/129\"\n",
    "cidr = \"10.0.0.0/0\"\n",
    "vlan = 4095\n",
    "vlan = 0\n",
    "number = 0\n",
    "number = 256\n",
    "hdsize = 0\n",
    "hdsize = 1e308\n",
    "disk-list = [\"\"]\n",
    "filter.ID_SERIAL = \"*\"\n",
    "[cluster]\naction = \"create\"\n",
    "[firewall]\n",
    "[services]\n",
    "[network]\n",
    "[[zones]]\nname = \"\"\n",
];

pub struct AnswerTarget {
    /// Seed files that parse (valid answers, golden-plan answers), each
    /// with the machine to plan it against.
    seeds: Vec<(String, String)>,
    /// Seed files refused by validation (one rule broken each).
    rejected: Vec<String>,
    tokens: Vec<Vec<u8>>,
    machines: BTreeMap<String, MachineProfile>,
}

impl AnswerTarget {
    pub fn new() -> Result<AnswerTarget, String> {
        let root = fixtures();
        let mut seeds = Vec::new();
        for sub in ["answers/valid", "vm", "wizard"] {
            for (_, text) in read_texts(&root.join(sub), "toml") {
                seeds.push((DEFAULT_MACHINE.to_string(), text));
            }
        }
        let rejected: Vec<String> = read_texts(&root.join("answers/rejected"), "toml")
            .into_iter()
            .map(|(_, text)| text)
            .collect();
        let plans = root.join("plans");
        let golden = std::fs::read_dir(&plans).map_err(|e| format!("{}: {e}", plans.display()))?;
        for dir in golden.filter_map(|e| e.ok()).map(|e| e.path()) {
            let Ok(text) = std::fs::read_to_string(dir.join("answer.toml")) else {
                continue;
            };
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let machine = std::fs::read_to_string(dir.join("machine"))
                .map(|m| m.trim().to_string())
                .unwrap_or(name);
            seeds.push((machine, text));
        }
        seeds.sort();
        if seeds.len() < 10 {
            return Err(format!(
                "only {} answer fixtures found under {}",
                seeds.len(),
                root.display()
            ));
        }
        let mut tokens: Vec<Vec<u8>> = SNIPPETS.iter().map(|s| s.as_bytes().to_vec()).collect();
        // Every line and every key of the fixtures: the file's vocabulary.
        for text in seeds.iter().map(|(_, t)| t).chain(&rejected) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                tokens.push(format!("{line}\n").into_bytes());
                if let Some((key, _)) = line.split_once('=') {
                    tokens.push(key.trim().as_bytes().to_vec());
                }
            }
        }
        tokens.sort();
        tokens.dedup();
        let mut machines = BTreeMap::new();
        for name in machine_names() {
            let path = root.join("machines").join(&name).join("profile.json");
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let profile =
                MachineProfile::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            machines.insert(name, profile);
        }
        if !machines.contains_key(DEFAULT_MACHINE) {
            return Err(format!("no machine fixture {DEFAULT_MACHINE}"));
        }
        Ok(AnswerTarget {
            seeds,
            rejected,
            tokens,
            machines,
        })
    }
}

impl AnswerTarget {
    /// The files that parse, as inputs: each must be accepted.
    pub fn seed_inputs(&self) -> Vec<Vec<u8>> {
        self.seeds
            .iter()
            .map(|(machine, text)| format!("{MACHINE_LINE}{machine}\n{text}").into_bytes())
            .collect()
    }
}

impl Target for AnswerTarget {
    fn name(&self) -> &'static str {
        "answer"
    }

    fn extension(&self) -> &'static str {
        "toml"
    }

    fn generate(&mut self, rng: &mut Rng) -> Vec<u8> {
        let tokens: Vec<&[u8]> = self.tokens.iter().map(Vec::as_slice).collect();
        let (machine, seed) = if rng.chance(1, 4) {
            (
                DEFAULT_MACHINE.to_string(),
                rng.pick(&self.rejected).clone(),
            )
        } else {
            rng.pick(&self.seeds).clone()
        };
        let body = match rng.below(20) {
            // Arbitrary bytes and token soup: the parser's outer layer.
            0 => {
                let n = rng.below(300);
                rng.bytes(n)
            }
            1 | 2 => token_soup(rng, &tokens, 60),
            // Two files spliced: sections of one in the other.
            3 | 4 => {
                let (_, other) = rng.pick(&self.seeds);
                let (a, b): (Vec<&str>, Vec<&str>) =
                    (seed.lines().collect(), other.lines().collect());
                let cut_a = rng.below(a.len() + 1);
                let cut_b = rng.below(b.len() + 1);
                let mut text = a[..cut_a].join("\n");
                text.push('\n');
                text.push_str(&b[cut_b..].join("\n"));
                let mut bytes = text.into_bytes();
                if rng.chance(1, 2) {
                    mutate_some(rng, &mut bytes, &tokens, 3);
                }
                bytes
            }
            // Mostly: a few edits of a real file, which keeps most of it
            // valid and reaches validation and the planner.
            _ => {
                let mut bytes = seed.into_bytes();
                let edits = match rng.below(10) {
                    0..=4 => 1,
                    5..=7 => 3,
                    _ => 8,
                };
                mutate_some(rng, &mut bytes, &tokens, edits);
                bytes
            }
        };
        let mut input = format!("{MACHINE_LINE}{machine}\n").into_bytes();
        input.extend_from_slice(&body);
        // `parse` takes text: what cannot be read as UTF-8 never gets there.
        String::from_utf8_lossy(&input).into_owned().into_bytes()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let text = String::from_utf8_lossy(input);
        let Ok(answer) = parse(&text) else {
            return Outcome::Refused;
        };
        assert!(
            validate(&answer).is_empty(),
            "parse accepted an answer validate refuses"
        );
        let saved = to_toml(&answer);
        let _ = parse(&saved);
        let _ = has_secrets(&answer);
        let _ = to_toml(&redacted(&answer));
        let machine = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix(MACHINE_LINE))
            .and_then(|m| self.machines.get(m.trim()))
            .or_else(|| self.machines.get(DEFAULT_MACHINE));
        if let Some(machine) = machine {
            if let Ok(p) = plan(machine, &answer, &Environment::default()) {
                let _ = tappaas_plan::render_text(&p);
                let _ = p.to_json();
            }
        }
        Outcome::Accepted
    }
}

//! No input makes `parse` (or `validate`) panic: arbitrary text, TOML-ish
//! text, mutations of the valid fixtures, and hand-built answers with
//! values no file could hold. Kept small so the whole file runs in well
//! under two seconds.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use tappaas_answer::{parse, to_toml, validate, Answer, Cidr, Zone};

/// The valid fixtures, read once for all cases.
fn valid_texts() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(read_valid_texts)
}

fn read_valid_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/answers/valid");
    let mut files: Vec<_> = fs::read_dir(dir)
        .expect("valid fixtures")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| fs::read_to_string(p).expect("read fixture"))
        .collect()
}

/// Pieces that, dropped into a valid file, reach the deeper paths.
const SNIPPETS: &[&str] = &[
    "[",
    "]",
    "\"",
    "'",
    "=",
    "\n",
    "{",
    "}",
    ",",
    ".",
    "#",
    "\\",
    "ü",
    "\u{0}",
    "[tank1]\n",
    "[tank2]\n",
    "[[zones]]\n",
    "[cluster]\naction = \"join\"\n",
    "disk-list = []\n",
    "disk-list = [\"sda\", \"sda\"]\n",
    "filter = {}\n",
    "zfs.raid = 5\n",
    "zfs = { raid = \"raid10\" }\n",
    "number = 99999999999999999999\n",
    "cidr = \"10.0.0.1/99\"\n",
    "vlan = -1\n",
    "layout = \"single\"\n",
    "boot-remainder = true\n",
    "fqdn = { source = \"from-dhcp\" }\n",
    "hdsize = nan\n",
    "hdsize = -inf\n",
    "\"a.b\" = 1\n",
    "x.y.z = 1\n",
];

fn char_offset(text: &str, at: Index) -> usize {
    let n = text.chars().count();
    text.char_indices()
        .nth(at.index(n + 1))
        .map_or(text.len(), |(o, _)| o)
}

/// One edit: 0 delete a run, 1 insert a snippet, 2 insert random text,
/// 3 duplicate a line.
fn mutate(text: &str, kind: u8, at: Index, len: usize, snippet: Index, random: &str) -> String {
    let start = char_offset(text, at);
    let mut out = text.to_string();
    match kind {
        0 => {
            let end = text[start..]
                .char_indices()
                .nth(len)
                .map_or(text.len(), |(o, _)| start + o);
            out.replace_range(start..end, "");
        }
        1 => out.insert_str(start, SNIPPETS[snippet.index(SNIPPETS.len())]),
        2 => out.insert_str(start, random),
        _ => {
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = at.index(lines.len());
                let mut v = lines.clone();
                v.insert(i, lines[i]);
                out = v.join("\n");
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 160,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_does_not_panic(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn toml_like_text_does_not_panic(text in "[\\[\\]a-z0-9=\"{}.,\n _#-]{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn mutated_valid_files_do_not_panic(
        file in any::<Index>(),
        edits in prop::collection::vec(
            (0u8..4, any::<Index>(), 0usize..20, any::<Index>(), "\\PC{0,6}"),
            1..6,
        ),
    ) {
        let texts = valid_texts();
        let mut text = texts[file.index(texts.len())].clone();
        for (kind, at, len, snippet, random) in &edits {
            text = mutate(&text, *kind, *at, *len, *snippet, random);
        }
        if let Ok(answer) = parse(&text) {
            // Whatever parses also saves.
            let _ = to_toml(&answer);
        }
    }

    #[test]
    fn odd_built_answers_do_not_panic(
        number in any::<u8>(),
        prefix in any::<u8>(),
        v6 in any::<bool>(),
        vlan in any::<u16>(),
        hdsize in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), any::<f64>()],
        disk in "\\PC{0,12}",
    ) {
        let texts = valid_texts();
        let mut answer: Answer = parse(&texts[0]).expect("first valid fixture");
        answer.node.number = number;
        let addr = if v6 { IpAddr::V6(Ipv6Addr::LOCALHOST) } else { IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)) };
        answer.zones = Some(vec![Zone { name: disk.clone(), vlan, cidr: Cidr { addr, prefix } }]);
        answer.disk_setup.zfs.get_or_insert_with(Default::default).hdsize = Some(hdsize);
        answer.disk_setup.disk_list = Some(vec![disk.clone(), disk]);
        let _ = validate(&answer);
        let _ = to_toml(&answer);
    }
}

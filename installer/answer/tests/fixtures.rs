//! The answer files in `tests/fixtures/answers/`: every `valid/*.toml`
//! parses, and every `rejected/NAME.toml` fails with exactly the lines of
//! `rejected/NAME.err`. Set `TAPPAAS_BLESS=1` to (re)write the `.err` files
//! from the current output, then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use tappaas_answer::{has_secrets, parse, redacted, to_toml, Answer};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/answers")
}

/// The `.toml` files of a fixture folder, sorted by name.
fn tomls(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(fixtures().join(dir))
        .expect("fixture folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn valid_answers_parse_and_round_trip() {
    let files = tomls("valid");
    assert!(files.len() >= 8, "only {} valid fixtures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("read fixture");
        let answer = match parse(&text) {
            Ok(a) => a,
            Err(errors) => {
                let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                failures.push(format!(
                    "{}: rejected:\n{}",
                    name(file),
                    indent(&lines.join("\n"))
                ));
                continue;
            }
        };
        // Saved and read back, the answer is the same except for its
        // secrets; without secrets it passes `parse` again as it is.
        let saved = to_toml(&answer);
        match toml::from_str::<Answer>(&saved) {
            Ok(back) if back == redacted(&answer) => {}
            Ok(_) => failures.push(format!(
                "{}: to_toml does not read back the same:\n{saved}",
                name(file)
            )),
            Err(e) => failures.push(format!(
                "{}: to_toml wrote bad TOML: {e}\n{saved}",
                name(file)
            )),
        }
        if !has_secrets(&answer) && parse(&saved).as_ref() != Ok(&answer) {
            failures.push(format!("{}: parse(to_toml(a)) != a:\n{saved}", name(file)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn rejected_answers_fail_with_the_expected_errors() {
    let files = tomls("rejected");
    assert!(files.len() >= 25, "only {} rejected fixtures", files.len());
    let bless = std::env::var_os("TAPPAAS_BLESS").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("read fixture");
        let err_file = file.with_extension("err");
        let got = match parse(&text) {
            Ok(_) => {
                failures.push(format!("{}: was accepted", name(file)));
                continue;
            }
            Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect::<String>(),
        };
        if bless {
            fs::write(&err_file, &got).expect("write .err");
            continue;
        }
        match fs::read_to_string(&err_file) {
            Ok(want) if want.trim_end() == got.trim_end() => {}
            Ok(want) => failures.push(format!(
                "{}: errors differ\n  expected:\n{}\n  got:\n{}",
                name(file),
                indent(&want),
                indent(&got)
            )),
            Err(_) => failures.push(format!(
                "{}: no {} (its errors are:\n{})",
                name(file),
                name(&err_file),
                indent(&got)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_err_file_has_its_toml() {
    let dir = fixtures().join("rejected");
    for entry in fs::read_dir(&dir).expect("rejected folder") {
        let p = entry.expect("dir entry").path();
        if p.extension().is_some_and(|e| e == "err") {
            assert!(
                p.with_extension("toml").exists(),
                "{} has no .toml",
                name(&p)
            );
        }
    }
}

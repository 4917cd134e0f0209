//! The TOML examples in `docs/answer-file.md` are real: a block whose first
//! line is `# complete example` parses with no errors as it is, and every
//! other block (one section's example) is valid TOML that parses with no
//! errors once its sections replace those of a small base answer.

use std::fs;
use std::path::Path;

use tappaas_answer::parse;
use toml_edit::DocumentMut;

const MARK: &str = "# complete example";

/// A minimal answer that section examples are dropped into. Its boot disk
/// has a name no example uses, so that no disk gets two roles.
const BASE: &str = r#"
[global]
keyboard = "en-us"
country = "us"
fqdn = "tappaas1.example.com"
mailto = "admin@example.com"
timezone = "UTC"
root-password = "12345678"

[disk-setup]
filesystem = "zfs"
disk-list = ["/dev/disk/by-id/base-boot-disk"]
zfs.raid = "raid0"
"#;

/// The ```toml blocks of a Markdown text, with their first line numbers.
fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```toml") => current = Some((n + 2, String::new())),
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "a ```toml block is not closed");
    blocks
}

/// BASE with each top-level item of `snippet` put in place of BASE's own.
fn merged(snippet: &str) -> Result<String, String> {
    let part: DocumentMut = snippet.parse().map_err(|e| format!("not TOML: {e}"))?;
    let mut doc: DocumentMut = BASE.parse().map_err(|e| format!("base: {e}"))?;
    for (key, item) in part.iter() {
        doc.insert(key, item.clone());
    }
    Ok(doc.to_string())
}

#[test]
fn every_toml_example_in_the_docs_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/answer-file.md");
    let markdown = fs::read_to_string(&path).expect("docs/answer-file.md");
    let blocks = toml_blocks(&markdown);
    let complete = blocks.iter().filter(|(_, b)| b.starts_with(MARK)).count();
    assert!(complete >= 1, "no block starts with {MARK:?}");
    assert!(blocks.len() > complete, "no section examples");

    let mut failures = Vec::new();
    for (line, block) in &blocks {
        let text = if block.starts_with(MARK) {
            block.clone()
        } else {
            match merged(block) {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("block at line {line}: {e}"));
                    continue;
                }
            }
        };
        if let Err(errors) = parse(&text) {
            let lines: Vec<String> = errors.iter().map(|e| format!("    {e}")).collect();
            failures.push(format!("block at line {line}:\n{}", lines.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "docs/answer-file.md:\n{}",
        failures.join("\n")
    );
}

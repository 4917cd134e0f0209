//! The services an answer may name come from the service catalog, the one
//! list of them (`installer/services/catalog/*.toml`): writes
//! `CATALOG_BASE` and `CATALOG_KNOWN` (the base services, then the optional ones, each group by the
//! entries' `position`) for `Services`.
//!
//! The catalog crate depends on this one, so the list cannot come from its
//! code; the files are what both read.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("../services/catalog");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the service catalog {}: {e}", dir.display()))
        .filter_map(|item| item.ok().map(|i| i.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
        .collect();
    files.sort();
    // (optional, position, name)
    let mut services: Vec<(bool, i64, String)> = Vec::new();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let entry: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: not TOML: {e}", path.display()));
        let name = entry.get("name").and_then(|v| v.as_str());
        let optional = entry.get("optional").and_then(|v| v.as_bool());
        let position = entry.get("position").and_then(|v| v.as_integer());
        match (name, optional, position) {
            (Some(name), Some(optional), Some(position)) => {
                services.push((optional, position, name.to_string()))
            }
            _ => panic!(
                "{}: a built-in catalog entry needs name, optional and position",
                path.display()
            ),
        }
    }
    services.sort();
    for pair in services.windows(2) {
        if pair[0].1 == pair[1].1 {
            panic!(
                "services '{}' and '{}' have the same position {}: give each its own",
                pair[0].2, pair[1].2, pair[0].1
            );
        }
    }
    let base: Vec<&str> = services
        .iter()
        .filter(|s| !s.0)
        .map(|s| s.2.as_str())
        .collect();
    let known: Vec<&str> = services.iter().map(|s| s.2.as_str()).collect();
    let mut code = String::new();
    writeln!(
        code,
        "const CATALOG_BASE: [&str; {}] = {base:?};\n\
         const CATALOG_KNOWN: &[&str] = &{known:?};",
        base.len()
    )
    .expect("writing to a String");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("services.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

//! Key paths (`disk-setup.zfs.raid`, `zones[1].vlan`) and finding them in
//! the answer file's text, in both directions: path -> line (for the
//! semantic rules, which see only the parsed [`Answer`](crate::Answer)) and
//! byte offset -> path (for the TOML library's errors, which carry only a
//! byte span).

use std::fmt;
use std::ops::Range;

use toml_edit::{Array, ArrayOfTables, ImDocument, InlineTable, Item, Table, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    /// 0-based index into an array or an array of tables.
    Index(usize),
}

/// A dotted key path, as the errors show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KeyPath(pub(crate) Vec<Seg>);

impl KeyPath {
    /// A path from dotted text with bare keys only (`disk-setup.zfs.raid`);
    /// the validator's own paths are all of that kind.
    pub(crate) fn of(dotted: &str) -> KeyPath {
        KeyPath(
            dotted
                .split('.')
                .filter(|s| !s.is_empty())
                .map(|s| Seg::Key(s.to_string()))
                .collect(),
        )
    }

    pub(crate) fn key(&self, k: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

/// A key that TOML allows without quotes.
fn is_bare(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare(k) {
                        f.write_str(k)?;
                    } else {
                        // Quoted the TOML way, so the path can be pasted back.
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// The answer file's text with its parsed layout, to turn offsets and
/// paths into line numbers.
pub(crate) struct Spans<'a> {
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
}

/// A place in the document that a path step can continue from.
#[derive(Clone, Copy)]
enum Node<'d> {
    Table(&'d Table),
    Inline(&'d InlineTable),
    Array(&'d Array),
    Tables(&'d ArrayOfTables),
    Leaf,
}

fn node_of_item(item: &Item) -> Node<'_> {
    match item {
        Item::Table(t) => Node::Table(t),
        Item::ArrayOfTables(a) => Node::Tables(a),
        Item::Value(v) => node_of_value(v),
        Item::None => Node::Leaf,
    }
}

fn node_of_value(v: &Value) -> Node<'_> {
    match v {
        Value::InlineTable(t) => Node::Inline(t),
        Value::Array(a) => Node::Array(a),
        _ => Node::Leaf,
    }
}

impl<'a> Spans<'a> {
    pub(crate) fn new(text: &'a str) -> Spans<'a> {
        Spans {
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    /// Whether the text parsed as TOML.
    pub(crate) fn has_doc(&self) -> bool {
        self.doc.is_some()
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        // Count on bytes: an offset inside a multi-byte character still
        // counts the newlines before it.
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }

    /// The line of `path`, else of the nearest enclosing key or table that
    /// the file has, else None.
    pub(crate) fn line_of_path(&self, path: &KeyPath) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Table(doc.as_table());
        let mut best: Option<Range<usize>> = None;
        for seg in &path.0 {
            let (span, next) = match (seg, node) {
                (Seg::Key(k), Node::Table(t)) => match t.get_key_value(k) {
                    Some((key, item)) => (key.span().or_else(|| item.span()), node_of_item(item)),
                    None => break,
                },
                (Seg::Key(k), Node::Inline(t)) => match t.get_key_value(k) {
                    Some((key, item)) => (key.span().or_else(|| item.span()), node_of_item(item)),
                    None => break,
                },
                (Seg::Index(i), Node::Array(a)) => match a.get(*i) {
                    Some(v) => (v.span(), node_of_value(v)),
                    None => break,
                },
                (Seg::Index(i), Node::Tables(a)) => match a.get(*i) {
                    Some(t) => (t.span(), Node::Table(t)),
                    None => break,
                },
                _ => break,
            };
            if span.is_some() {
                best = span;
            }
            node = next;
        }
        best.map(|r| self.line_of(r.start))
    }

    /// The path of the innermost key or value whose span holds `offset`
    /// (a key's span wins over its value's when both hold it).
    pub(crate) fn path_at(&self, offset: usize) -> KeyPath {
        let mut best: Option<(usize, KeyPath)> = None;
        if let Some(doc) = &self.doc {
            walk(
                Node::Table(doc.as_table()),
                &KeyPath::default(),
                offset,
                &mut best,
            );
        }
        best.map(|(_, p)| p).unwrap_or_default()
    }
}

/// Keeps in `best` the smallest span that holds `offset`, with its path.
fn consider(
    span: Option<Range<usize>>,
    path: &KeyPath,
    offset: usize,
    best: &mut Option<(usize, KeyPath)>,
) {
    let Some(r) = span else { return };
    let holds = r.contains(&offset) || (r.is_empty() && r.start == offset);
    if !holds {
        return;
    }
    let len = r.len();
    // `<=`: on a tie the later (deeper) candidate wins.
    let better = match best {
        Some((l, _)) => len <= *l,
        None => true,
    };
    if better {
        *best = Some((len, path.clone()));
    }
}

fn walk(node: Node<'_>, path: &KeyPath, offset: usize, best: &mut Option<(usize, KeyPath)>) {
    match node {
        Node::Table(t) => {
            for (k, _) in t.iter() {
                if let Some((key, item)) = t.get_key_value(k) {
                    let p = path.key(k);
                    consider(item.span(), &p, offset, best);
                    consider(key.span(), &p, offset, best);
                    walk(node_of_item(item), &p, offset, best);
                }
            }
        }
        Node::Inline(t) => {
            for (k, _) in t.iter() {
                if let Some((key, item)) = t.get_key_value(k) {
                    let p = path.key(k);
                    consider(item.span(), &p, offset, best);
                    consider(key.span(), &p, offset, best);
                    walk(node_of_item(item), &p, offset, best);
                }
            }
        }
        Node::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let p = path.index(i);
                consider(v.span(), &p, offset, best);
                walk(node_of_value(v), &p, offset, best);
            }
        }
        Node::Tables(a) => {
            for (i, t) in a.iter().enumerate() {
                let p = path.index(i);
                consider(t.span(), &p, offset, best);
                walk(Node::Table(t), &p, offset, best);
            }
        }
        Node::Leaf => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[global]\nkeyboard = \"de\"\n\n[disk-setup]\nzfs.raid = \"raid1\"\nfilter = { ID_SERIAL = \"x*\" }\n\n[[zones]]\nname = \"a\"\n[[zones]]\nname = \"b\"\nvlan = 3\n";

    #[test]
    fn paths_render_dotted_with_indexes_and_quotes() {
        let p = KeyPath::of("zones").index(1).key("vlan");
        assert_eq!(p.to_string(), "zones[1].vlan");
        assert_eq!(
            KeyPath::of("network.filter").key("a.b").to_string(),
            "network.filter.\"a.b\""
        );
    }

    #[test]
    fn line_of_path_finds_keys_and_falls_back_to_the_table() {
        let s = Spans::new(TEXT);
        assert_eq!(s.line_of_path(&KeyPath::of("global.keyboard")), Some(2));
        assert_eq!(s.line_of_path(&KeyPath::of("disk-setup.zfs.raid")), Some(5));
        assert_eq!(
            s.line_of_path(&KeyPath::of("disk-setup.filter.ID_SERIAL")),
            Some(6)
        );
        assert_eq!(
            s.line_of_path(&KeyPath::of("zones").index(1).key("vlan")),
            Some(12)
        );
        assert_eq!(
            s.line_of_path(&KeyPath::of("zones").index(1).key("cidr")),
            Some(10)
        );
        assert_eq!(s.line_of_path(&KeyPath::of("global.country")), Some(1));
        assert_eq!(s.line_of_path(&KeyPath::of("network.cidr")), None);
    }

    #[test]
    fn path_at_finds_the_innermost_key() {
        let s = Spans::new(TEXT);
        let at = |needle: &str| TEXT.find(needle).map(|o| s.path_at(o).to_string());
        assert_eq!(at("keyboard").as_deref(), Some("global.keyboard"));
        assert_eq!(at("\"raid1\"").as_deref(), Some("disk-setup.zfs.raid"));
        assert_eq!(at("\"x*\"").as_deref(), Some("disk-setup.filter.ID_SERIAL"));
        assert_eq!(at("vlan").as_deref(), Some("zones[1].vlan"));
    }
}

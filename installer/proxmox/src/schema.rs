//! Validation of requests against the public Proxmox VE API schema (the JSON
//! that Proxmox's API viewer is built from).
//!
//! No Proxmox node can run where the installer is developed and tested, so
//! this is the check that keeps every call honest: the path exists, the
//! method exists there, every parameter exists and fits its type, enum,
//! pattern, range, length and format, and nothing required is missing. The
//! simulator runs the same check on every request it receives.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use regex::Regex;
use serde_json::{Map, Value};

use crate::formats::{check_format, FormatCheck};
use crate::request::{is_secret_param, Method, Request, REDACTED};

// Checking a request (`Schema::check` and the `Checker` it fills).
mod check;
use check::Checker;

/// Which rule a request broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// No schema path template matches the path.
    UnknownPath,
    /// The path exists but not with this method.
    MethodNotAllowed,
    UnknownParameter,
    MissingParameter,
    /// A parameter is given both as part of the path and separately.
    PathConflict,
    Type,
    Enum,
    Pattern,
    Minimum,
    Maximum,
    MinLength,
    MaxLength,
    /// A named format (`pve-node`, `ip`, ...) rejected the value.
    Format,
    /// A `key=value,...` property string is malformed or has an unknown,
    /// duplicate or missing key.
    PropertyString,
    /// The parameter needs another one that is not given (`requires`).
    Requires,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::UnknownPath => "unknown path",
            Rule::MethodNotAllowed => "method not allowed",
            Rule::UnknownParameter => "unknown parameter",
            Rule::MissingParameter => "missing required parameter",
            Rule::PathConflict => "parameter given twice",
            Rule::Type => "type",
            Rule::Enum => "enum",
            Rule::Pattern => "pattern",
            Rule::Minimum => "minimum",
            Rule::Maximum => "maximum",
            Rule::MinLength => "minLength",
            Rule::MaxLength => "maxLength",
            Rule::Format => "format",
            Rule::PropertyString => "property string",
            Rule::Requires => "requires",
        }
    }
}

/// One broken rule: which parameter (`link0`, or `link0.priority` inside a
/// property string), the value given (secrets redacted), the rule, and what
/// the rule expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub param: Option<String>,
    pub value: Option<String>,
    pub rule: Rule,
    pub detail: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.param {
            write!(f, "parameter '{p}'")?;
            if let Some(v) = &self.value {
                write!(f, " = '{v}'")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{}: {}", self.rule.name(), self.detail)
    }
}

/// Render a list of errors one per line, for error messages and test output.
pub fn format_errors(errors: &[SchemaError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaLoadError {
    #[error("cannot read the Proxmox API schema at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the Proxmox API schema is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the Proxmox API schema has an unexpected shape: {0}")]
    Shape(String),
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Var(String),
}

#[derive(Debug)]
struct Endpoint {
    template: String,
    segments: Vec<Segment>,
    /// method -> the method's `parameters` object
    methods: BTreeMap<Method, Value>,
}

/// The loaded schema. Cheap to share (`Arc<Schema>`); compiled patterns are
/// cached inside.
pub struct Schema {
    endpoints: Vec<Endpoint>,
    /// pattern source -> compiled anchored regex, `None` when the Perl
    /// pattern uses something the `regex` crate cannot express.
    regexes: Mutex<HashMap<String, Option<Regex>>>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

/// A concrete path matched to its schema template, with the values of the
/// template's variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMatch {
    pub template: String,
    pub vars: BTreeMap<String, String>,
}

impl Schema {
    pub fn load(path: impl AsRef<Path>) -> Result<Schema, SchemaLoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SchemaLoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Schema::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Schema, SchemaLoadError> {
        let root: Value = serde_json::from_str(text)?;
        let nodes = root
            .as_array()
            .ok_or_else(|| SchemaLoadError::Shape("top level is not an array".into()))?;
        let mut endpoints = Vec::new();
        collect_endpoints(nodes, &mut endpoints)?;
        if endpoints.is_empty() {
            return Err(SchemaLoadError::Shape("no paths".into()));
        }
        Ok(Schema {
            endpoints,
            regexes: Mutex::new(HashMap::new()),
        })
    }

    /// Number of path templates.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Match a concrete path (`/nodes/tappaas1/storage`) to its template
    /// (`/nodes/{node}/storage`). When several templates match, the one with
    /// the most literal segments wins, as a router would choose.
    pub fn match_path(&self, path: &str) -> Option<PathMatch> {
        let segs = split_path(path)?;
        let mut best: Option<(usize, &Endpoint)> = None;
        for ep in &self.endpoints {
            if ep.segments.len() != segs.len() {
                continue;
            }
            let mut literals = 0;
            let fits = ep.segments.iter().zip(&segs).all(|(s, given)| match s {
                Segment::Literal(l) => {
                    literals += 1;
                    l == given
                }
                Segment::Var(_) => !given.is_empty(),
            });
            let better = match best {
                None => true,
                Some((score, _)) => score < literals,
            };
            if fits && better {
                best = Some((literals, ep));
            }
        }
        let (_, ep) = best?;
        let vars = ep
            .segments
            .iter()
            .zip(&segs)
            .filter_map(|(s, given)| match s {
                Segment::Var(name) => Some((name.clone(), (*given).to_string())),
                Segment::Literal(_) => None,
            })
            .collect();
        Some(PathMatch {
            template: ep.template.clone(),
            vars,
        })
    }

    /// The methods the schema allows on a template.
    pub fn methods(&self, template: &str) -> Vec<Method> {
        self.endpoints
            .iter()
            .find(|e| e.template == template)
            .map(|e| e.methods.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Check one request, its array parameters included. All broken rules
    /// are reported, not just the first.
    pub fn validate_request(&self, req: &Request) -> Result<(), Vec<SchemaError>> {
        let mut c = Checker::for_request(req);
        self.check(req, &mut c);
        if c.errors.is_empty() {
            Ok(())
        } else {
            Err(c.errors)
        }
    }

    /// Check one request given as its parts (plain parameters only).
    pub fn validate(
        &self,
        method: Method,
        path: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<(), Vec<SchemaError>> {
        let mut req = Request::new(method, path);
        req.params = params.clone();
        self.validate_request(&req)
    }

    /// What the validator could not check for this request: named formats
    /// without a validator here and patterns the `regex` crate cannot
    /// compile. Empty means the request was checked completely.
    pub fn unchecked_formats(
        &self,
        method: Method,
        path: &str,
        params: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut req = Request::new(method, path);
        req.params = params.clone();
        self.unchecked_in(&req)
    }

    /// [`Schema::unchecked_formats`] of a whole request, array parameters
    /// included.
    pub fn unchecked_in(&self, req: &Request) -> Vec<String> {
        let mut c = Checker::for_request(req);
        self.check(req, &mut c);
        c.unchecked
    }

    /// Every `pattern` in the schema that the `regex` crate cannot compile
    /// (values checked against those are reported as unchecked).
    pub fn uncompilable_patterns(&self) -> Vec<String> {
        let mut patterns = Vec::new();
        for ep in &self.endpoints {
            for params in ep.methods.values() {
                collect_patterns(params, &mut patterns);
            }
        }
        patterns.sort();
        patterns.dedup();
        patterns
            .into_iter()
            .filter(|p| self.regex(p).is_none())
            .collect()
    }

    /// Compile a schema pattern as a whole-value match: Proxmox applies its
    /// Perl patterns as `^(?:...)$`.
    fn regex(&self, pattern: &str) -> Option<Regex> {
        let mut cache = self
            .regexes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(&format!("^(?:{})$", perl_to_rust(pattern))).ok())
            .clone()
    }
}

fn collect_endpoints(nodes: &[Value], out: &mut Vec<Endpoint>) -> Result<(), SchemaLoadError> {
    for node in nodes {
        let template = node
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| SchemaLoadError::Shape("a node without 'path'".into()))?;
        let segments = split_path(template)
            .ok_or_else(|| SchemaLoadError::Shape(format!("bad path '{template}'")))?
            .into_iter()
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(var) => Segment::Var(var.to_string()),
                    None => Segment::Literal(s.to_string()),
                },
            )
            .collect();
        let mut methods = BTreeMap::new();
        if let Some(info) = node.get("info").and_then(Value::as_object) {
            for (name, spec) in info {
                let method = Method::from_http(name).ok_or_else(|| {
                    SchemaLoadError::Shape(format!("unknown method '{name}' at '{template}'"))
                })?;
                let params = spec
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new()));
                methods.insert(method, params);
            }
        }
        out.push(Endpoint {
            template: template.to_string(),
            segments,
            methods,
        });
        if let Some(children) = node.get("children").and_then(Value::as_array) {
            collect_endpoints(children, out)?;
        }
    }
    Ok(())
}

/// Rewrite the Perl-only spellings found in the schema into `regex` syntax:
/// stringified `qr//` groups `(?^:...)` / `(?^i:...)` (Perl's "default
/// flags, then these"), `{,n}` (Perl 5.34's `{0,n}`) and `\0` (NUL).
/// Anything else Perl-only makes compilation fail, and the value is then
/// reported as unchecked.
fn perl_to_rust(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some('0') if !chars.get(i + 2).is_some_and(char::is_ascii_digit) => {
                    out.push_str("\\x00");
                }
                Some(next) => {
                    out.push(c);
                    out.push(*next);
                }
                None => out.push(c),
            }
            i += 2;
            continue;
        }
        if c == '(' && chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'^') {
            let flags: String = chars[i + 3..]
                .iter()
                .take_while(|ch| ch.is_ascii_alphabetic())
                .collect();
            if chars.get(i + 3 + flags.len()) == Some(&':') {
                out.push_str("(?");
                out.push_str(&flags);
                out.push(':');
                i += 4 + flags.len();
                continue;
            }
        }
        if c == '{' && chars.get(i + 1) == Some(&',') {
            out.push_str("{0");
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn collect_patterns(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "pattern" {
                    if let Value::String(p) = child {
                        out.push(p.clone());
                    }
                } else {
                    collect_patterns(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_patterns(i, out)),
        _ => {}
    }
}

/// `/a/b/` -> `["a", "b"]`; `None` when not absolute or when it carries a
/// query. The root `/` has no segments.
fn split_path(path: &str) -> Option<Vec<&str>> {
    let rest = path.strip_prefix('/')?;
    if path.contains('?') || path.contains("//") {
        return None;
    }
    Some(rest.split('/').filter(|s| !s.is_empty()).collect())
}
#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"[
      {"path": "/nodes", "info": {"GET": {"parameters": {"additionalProperties": 0}}},
       "children": [
        {"path": "/nodes/{node}", "info": {},
         "children": [
          {"path": "/nodes/{node}/status", "info": {"GET": {"parameters": {"additionalProperties": 0,
             "properties": {"node": {"type": "string", "format": "pve-node"}}}}}},
          {"path": "/nodes/{node}/vm", "info": {"POST": {"parameters": {"additionalProperties": 0,
             "properties": {"node": {"type": "string", "format": "pve-node"},
                            "size": {"type": "integer", "minimum": 1, "maximum": 8, "optional": 1},
                            "net[n]": {"type": "string", "optional": 1,
                               "description": "(n is 0 to 3)",
                               "format": {"model": {"type": "string", "default_key": 1, "enum": ["virtio", "e1000"]},
                                          "virtio": {"alias": "macaddr", "keyAlias": "model"},
                                          "macaddr": {"type": "string", "format": "mac-addr", "optional": 1},
                                          "tag": {"type": "integer", "minimum": 1, "maximum": 4094, "optional": 1}}}}}}}}
         ]}
       ]}
    ]"#;

    fn mini() -> Schema {
        Schema::from_json(MINI).unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matches_templates() {
        let s = mini();
        let m = s.match_path("/nodes/pve1/status").unwrap();
        assert_eq!(m.template, "/nodes/{node}/status");
        assert_eq!(m.vars["node"], "pve1");
        assert!(s.match_path("/nodes/pve1/nothing").is_none());
        assert!(s.match_path("nodes").is_none());
    }

    #[test]
    fn families_and_property_strings() {
        let s = mini();
        let ok = |p: &[(&str, &str)]| s.validate(Method::Post, "/nodes/pve1/vm", &params(p));
        assert!(ok(&[("net0", "virtio,tag=20")]).is_ok());
        assert!(ok(&[("net3", "virtio=02:00:00:00:00:01")]).is_ok());
        assert!(ok(&[("net1", "model=e1000,macaddr=02:00:00:00:00:01")]).is_ok());
        let e = ok(&[("net4", "virtio")]).unwrap_err();
        assert_eq!(e[0].rule, Rule::UnknownParameter, "{e:?}");
        let e = ok(&[("net0", "virtio,tag=5000")]).unwrap_err();
        assert_eq!(e[0].rule, Rule::Maximum);
        assert_eq!(e[0].param.as_deref(), Some("net0.tag"));
        let e = ok(&[("net0", "tag=5")]).unwrap_err();
        assert_eq!(e[0].rule, Rule::PropertyString);
        let e = ok(&[("net0", "virtio,model=e1000")]).unwrap_err();
        assert_eq!(e[0].rule, Rule::PropertyString);
        assert!(ok(&[("net01", "virtio")]).is_err());
    }

    #[test]
    fn path_vars_are_checked_and_not_repeated() {
        let s = mini();
        let e = s
            .validate(Method::Get, "/nodes/bad_name/status", &BTreeMap::new())
            .unwrap_err();
        assert_eq!(e[0].rule, Rule::Format);
        let e = s
            .validate(
                Method::Get,
                "/nodes/pve1/status",
                &params(&[("node", "pve1")]),
            )
            .unwrap_err();
        assert_eq!(e[0].rule, Rule::PathConflict);
        let e = s
            .validate(Method::Post, "/nodes/pve1/status", &BTreeMap::new())
            .unwrap_err();
        assert_eq!(e[0].rule, Rule::MethodNotAllowed);
    }

    #[test]
    fn perl_spellings() {
        assert_eq!(perl_to_rust("(?^i:[a-z]+)"), "(?i:[a-z]+)");
        assert_eq!(perl_to_rust("(?^:x)"), "(?:x)");
        assert_eq!(perl_to_rust("[a-z]{,8}"), "[a-z]{0,8}");
        assert_eq!(perl_to_rust(r"\0\w"), r"\x00\w");
        assert_eq!(perl_to_rust(r"\\0"), r"\\0");
    }

    #[test]
    fn secrets_are_redacted_in_errors() {
        let s = Schema::from_json(
            r#"[{"path": "/x", "info": {"POST": {"parameters": {"properties":
                {"password": {"type": "string", "maxLength": 3}}}}}}]"#,
        )
        .unwrap();
        let e = s
            .validate(Method::Post, "/x", &params(&[("password", "secret")]))
            .unwrap_err();
        assert_eq!(e[0].value.as_deref(), Some(REDACTED));
        assert!(!e[0].to_string().contains("secret"));
    }
}

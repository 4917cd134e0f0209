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

    fn check(&self, req: &Request, c: &mut Checker) {
        let (method, path, params) = (req.method, req.path.as_str(), &req.params);
        let Some(m) = self.match_path(path) else {
            c.error(
                None,
                None,
                Rule::UnknownPath,
                format!("no path in the schema matches '{path}'"),
            );
            return;
        };
        let Some(ep) = self.endpoints.iter().find(|e| e.template == m.template) else {
            return;
        };
        let Some(spec) = ep.methods.get(&method) else {
            let allowed: Vec<&str> = ep.methods.keys().map(|m| m.as_http()).collect();
            c.error(
                None,
                None,
                Rule::MethodNotAllowed,
                format!(
                    "{method} is not defined for '{}' (allowed: {})",
                    m.template,
                    allowed.join(", ")
                ),
            );
            return;
        };

        // Path variables are parameters too (the schema lists them as such).
        let mut all: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &m.vars {
            all.insert(k, v);
        }
        for (k, v) in params {
            if m.vars.contains_key(k) {
                c.error(
                    Some(k),
                    Some(v),
                    Rule::PathConflict,
                    format!("'{k}' is part of the path '{}'", m.template),
                );
                continue;
            }
            all.insert(k, v);
        }

        let empty = Map::new();
        let props = spec
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let additional = truthy(spec.get("additionalProperties"));

        for (name, value) in &all {
            match lookup_property(props, name) {
                Ok(Some(prop)) => self.check_value(prop, name, value, false, c),
                Ok(None) if additional => {}
                Ok(None) => c.error(
                    Some(name),
                    Some(value),
                    Rule::UnknownParameter,
                    format!("{method} {} has no parameter '{name}'", m.template),
                ),
                Err(detail) => c.error(Some(name), Some(value), Rule::UnknownParameter, detail),
            }
        }

        // Array parameters: each element is one value of the property's
        // `items`; only an `array` property takes a list.
        let mut lists: BTreeMap<&str, &[String]> = BTreeMap::new();
        for (name, values) in &req.lists {
            let shown = values.join(" ");
            if m.vars.contains_key(name) || all.contains_key(name.as_str()) {
                c.error(
                    Some(name),
                    Some(&shown),
                    Rule::PathConflict,
                    format!("'{name}' is given twice (as a list and as a value or path part)"),
                );
                continue;
            }
            lists.insert(name, values);
            match lookup_property(props, name) {
                Ok(Some(prop)) if prop.get("type").and_then(Value::as_str) == Some("array") => {
                    for v in values {
                        self.check_value(prop, name, v, false, c);
                    }
                }
                Ok(Some(_)) => c.error(
                    Some(name),
                    Some(&shown),
                    Rule::Type,
                    "given as a list, but the schema does not type it as an array",
                ),
                Ok(None) if additional => {}
                Ok(None) => c.error(
                    Some(name),
                    Some(&shown),
                    Rule::UnknownParameter,
                    format!("{method} {} has no parameter '{name}'", m.template),
                ),
                Err(detail) => c.error(Some(name), Some(&shown), Rule::UnknownParameter, detail),
            }
        }
        let given = |name: &str| {
            all.contains_key(name) || lists.get(name).is_some_and(|values| !values.is_empty())
        };

        for (name, prop) in props {
            if name.ends_with("[n]") {
                continue;
            }
            if !truthy(prop.get("optional")) && !given(name.as_str()) {
                c.error(
                    Some(name),
                    None,
                    Rule::MissingParameter,
                    format!("{method} {} requires '{name}'", m.template),
                );
            }
            if let Some(req) = prop.get("requires").and_then(Value::as_str) {
                if given(name.as_str()) && !given(req) {
                    c.error(
                        Some(name),
                        all.get(name.as_str()).copied(),
                        Rule::Requires,
                        format!("'{name}' needs '{req}' to be given too"),
                    );
                }
            }
        }
    }

    /// Check one value against one property schema. `in_prop_string` is set
    /// for keys inside a property string, where Proxmox also accepts
    /// yes/no/on/off/true/false for booleans.
    fn check_value(
        &self,
        prop: &Value,
        name: &str,
        value: &str,
        in_prop_string: bool,
        c: &mut Checker,
    ) {
        let ty = prop.get("type").and_then(Value::as_str).unwrap_or("string");
        match ty {
            "boolean" => {
                let ok = if in_prop_string {
                    matches!(
                        value.to_ascii_lowercase().as_str(),
                        "0" | "1" | "yes" | "no" | "on" | "off" | "true" | "false"
                    )
                } else {
                    // The API and pvesh take booleans as 0 or 1.
                    value == "0" || value == "1"
                };
                if !ok {
                    c.error(
                        Some(name),
                        Some(value),
                        Rule::Type,
                        "expected a boolean (0 or 1)",
                    );
                }
            }
            "integer" => match parse_integer(value) {
                Some(n) => self.check_range(prop, name, value, n as f64, c),
                None => c.error(Some(name), Some(value), Rule::Type, "expected an integer"),
            },
            "number" => match parse_number(value) {
                Some(n) => self.check_range(prop, name, value, n, c),
                None => c.error(Some(name), Some(value), Rule::Type, "expected a number"),
            },
            "array" => {
                // On the CLI an array is a repeated option; one value is
                // one element, checked against `items`.
                if let Some(items) = prop.get("items") {
                    self.check_value(items, name, value, in_prop_string, c);
                }
                return;
            }
            "string" => {}
            other => {
                c.unchecked
                    .push(format!("{name}: values of type '{other}' are not checked"));
                return;
            }
        }

        if let Some(values) = prop.get("enum").and_then(Value::as_array) {
            let allowed: Vec<String> = values.iter().map(value_as_string).collect();
            if !allowed.iter().any(|a| a == value) {
                c.error(
                    Some(name),
                    Some(value),
                    Rule::Enum,
                    format!("must be one of: {}", allowed.join(", ")),
                );
            }
        }

        let len = value.chars().count();
        if let Some(max) = number_of(prop.get("maxLength")) {
            if len as f64 > max {
                c.error(
                    Some(name),
                    Some(value),
                    Rule::MaxLength,
                    format!("at most {max} characters, got {len}"),
                );
            }
        }
        if let Some(min) = number_of(prop.get("minLength")) {
            if (len as f64) < min {
                c.error(
                    Some(name),
                    Some(value),
                    Rule::MinLength,
                    format!("at least {min} characters, got {len}"),
                );
            }
        }

        if let Some(pattern) = prop.get("pattern").and_then(Value::as_str) {
            match self.regex(pattern) {
                Some(re) if !re.is_match(value) => c.error(
                    Some(name),
                    Some(value),
                    Rule::Pattern,
                    format!("does not match /{pattern}/ (whole value)"),
                ),
                Some(_) => {}
                None => c.unchecked.push(format!(
                    "{name}: pattern /{pattern}/ cannot be compiled here"
                )),
            }
        }

        match prop.get("format") {
            Some(Value::String(fmt_name)) => match check_format(fmt_name, value) {
                FormatCheck::Valid => {}
                FormatCheck::Invalid(msg) => c.error(
                    Some(name),
                    Some(value),
                    Rule::Format,
                    format!("format '{fmt_name}': {msg}"),
                ),
                FormatCheck::Unknown => c
                    .unchecked
                    .push(format!("{name}: format '{fmt_name}' has no validator here")),
            },
            Some(Value::Object(keys)) => self.check_property_string(keys, name, value, c),
            _ => {}
        }
    }

    fn check_range(&self, prop: &Value, name: &str, value: &str, n: f64, c: &mut Checker) {
        if let Some(min) = number_of(prop.get("minimum")) {
            if n < min {
                c.error(
                    Some(name),
                    Some(value),
                    Rule::Minimum,
                    format!("must be >= {min}"),
                );
            }
        }
        if let Some(max) = number_of(prop.get("maximum")) {
            if n > max {
                c.error(
                    Some(name),
                    Some(value),
                    Rule::Maximum,
                    format!("must be <= {max}"),
                );
            }
        }
    }

    /// A property string: `key=value,key=value`, where the key marked
    /// `default_key` may be given as a bare value, `alias` keys stand for
    /// another key, and `keyAlias` keys (`virtio=MAC`) set one key's value to
    /// their own name and another key's value to theirs.
    fn check_property_string(
        &self,
        keys: &Map<String, Value>,
        param: &str,
        value: &str,
        c: &mut Checker,
    ) {
        let default_key = keys
            .iter()
            .find(|(_, s)| truthy(s.get("default_key")))
            .map(|(k, _)| k.as_str());
        let mut seen: BTreeMap<String, ()> = BTreeMap::new();
        let mut mark = |c: &mut Checker, key: &str| {
            if seen.insert(key.to_string(), ()).is_some() {
                c.error(
                    Some(param),
                    Some(value),
                    Rule::PropertyString,
                    format!("key '{key}' given more than once"),
                );
            }
        };

        for part in value.split(',') {
            if part.is_empty() {
                c.error(
                    Some(param),
                    Some(value),
                    Rule::PropertyString,
                    "empty element (stray comma)",
                );
                continue;
            }
            let (key, v) = match part.split_once('=') {
                Some((k, v)) => (k, v),
                None => match default_key {
                    Some(dk) => (dk, part),
                    None => {
                        c.error(
                            Some(param),
                            Some(value),
                            Rule::PropertyString,
                            format!("'{part}' is not key=value and this format has no default key"),
                        );
                        continue;
                    }
                },
            };
            let Some(sub) = keys.get(key) else {
                let known: Vec<&str> = keys.keys().map(String::as_str).collect();
                c.error(
                    Some(param),
                    Some(value),
                    Rule::PropertyString,
                    format!("unknown key '{key}' (known: {})", known.join(", ")),
                );
                continue;
            };
            let qualified = format!("{param}.{key}");
            let alias = sub.get("alias").and_then(Value::as_str);
            let key_alias = sub.get("keyAlias").and_then(Value::as_str);
            match (alias, key_alias) {
                (Some(target), Some(ka)) => {
                    // `virtio=MAC`: the key itself is the value of `ka`.
                    mark(c, ka);
                    mark(c, target);
                    if let Some(s) = keys.get(ka) {
                        self.check_value(s, &format!("{param}.{ka}"), key, true, c);
                    }
                    if let Some(s) = keys.get(target) {
                        self.check_value(s, &qualified, v, true, c);
                    }
                }
                (Some(target), None) => {
                    mark(c, target);
                    if let Some(s) = keys.get(target) {
                        self.check_value(s, &qualified, v, true, c);
                    }
                }
                _ => {
                    mark(c, key);
                    self.check_value(sub, &qualified, v, true, c);
                }
            }
        }

        for (key, sub) in keys {
            let is_alias = sub.get("alias").is_some();
            if !is_alias && !truthy(sub.get("optional")) && !seen.contains_key(key) {
                c.error(
                    Some(param),
                    Some(value),
                    Rule::PropertyString,
                    format!("required key '{key}' is missing"),
                );
            }
        }
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

#[derive(Default)]
struct Checker {
    errors: Vec<SchemaError>,
    unchecked: Vec<String>,
    /// Parameters the request marks secret besides the name-based ones.
    secret: BTreeSet<String>,
}

impl Checker {
    fn for_request(req: &Request) -> Checker {
        Checker {
            secret: req.secret.clone(),
            ..Checker::default()
        }
    }

    fn error(
        &mut self,
        param: Option<&str>,
        value: Option<&str>,
        rule: Rule,
        detail: impl Into<String>,
    ) {
        let secret = param.is_some_and(|p| {
            let top = p.split('.').next().unwrap_or(p);
            is_secret_param(top) || self.secret.contains(top)
        });
        self.errors.push(SchemaError {
            param: param.map(str::to_string),
            value: value.map(|v| {
                if secret {
                    REDACTED.to_string()
                } else {
                    v.to_string()
                }
            }),
            rule,
            detail: detail.into(),
        });
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

/// The property for `name`: its own entry, or the `[n]` family it belongs
/// to (`link0` -> `link[n]`). `Err` when the family exists but the number is
/// out of the range the schema states.
fn lookup_property<'a>(
    props: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Value>, String> {
    if let Some(p) = props.get(name) {
        return Ok(Some(p));
    }
    let digits_at = name
        .char_indices()
        .rev()
        .take_while(|(_, ch)| ch.is_ascii_digit())
        .last()
        .map(|(i, _)| i);
    let Some(at) = digits_at else {
        return Ok(None);
    };
    let (prefix, number) = name.split_at(at);
    if prefix.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return Ok(None);
    }
    let Some(prop) = props.get(&format!("{prefix}[n]")) else {
        return Ok(None);
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("bad index in '{name}'"))?;
    if let Some(max) = family_max(prefix, prop) {
        if n > max {
            return Err(format!("'{prefix}[n]' allows {prefix}0 to {prefix}{max}"));
        }
    }
    Ok(Some(prop))
}

/// The schema keeps the highest index of a family only in prose: "(n is 0
/// to 30)" or "link0..link7". Read it from there when present.
fn family_max(prefix: &str, prop: &Value) -> Option<u64> {
    let text = prop.get("description").and_then(Value::as_str)?;
    if let Some(i) = text.find("n is 0 to ") {
        let digits: String = text[i + 10..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return digits.parse().ok();
    }
    let marker = format!("{prefix}0..{prefix}");
    let i = text.find(&marker)?;
    let digits: String = text[i + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The schema writes flags as 1/0 (sometimes as booleans or strings).
fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        _ => false,
    }
}

/// Bounds are numbers, but a few are written as strings ("0").
fn number_of(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn value_as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_number(s: &str) -> Option<f64> {
    // Rust's float parser also takes "inf" and "NaN"; Proxmox does not.
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !plain || !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
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

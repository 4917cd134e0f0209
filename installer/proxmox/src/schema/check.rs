//! Checking one request against the schema: its path and method, each
//! parameter's type, range, pattern, format and property string.

use super::*;

impl Schema {
    pub(super) fn check(&self, req: &Request, c: &mut Checker) {
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
    pub(super) fn check_value(
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

    pub(super) fn check_range(
        &self,
        prop: &Value,
        name: &str,
        value: &str,
        n: f64,
        c: &mut Checker,
    ) {
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
    pub(super) fn check_property_string(
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
}

#[derive(Default)]
pub(super) struct Checker {
    pub(super) errors: Vec<SchemaError>,
    pub(super) unchecked: Vec<String>,
    /// Parameters the request marks secret besides the name-based ones.
    secret: BTreeSet<String>,
}

impl Checker {
    pub(super) fn for_request(req: &Request) -> Checker {
        Checker {
            secret: req.secret.clone(),
            ..Checker::default()
        }
    }

    pub(super) fn error(
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

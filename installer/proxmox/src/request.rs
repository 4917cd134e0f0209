//! One Proxmox API request as data: method, concrete path, parameters.
//!
//! Every transport (pvesh, the simulator, later HTTP) takes this same value,
//! so the schema check and the command log see exactly what goes out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The four HTTP methods of the Proxmox API. `pvesh` names them
/// get/create/set/delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// The name used as key in the schema's `info` map.
    pub fn as_http(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// The `pvesh` sub-command for this method.
    pub fn pvesh_verb(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "create",
            Method::Put => "set",
            Method::Delete => "delete",
        }
    }

    pub fn from_http(s: &str) -> Option<Method> {
        match s {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_http())
    }
}

/// Parameter values travel as strings because that is what both the CLI
/// (`--key value`) and the HTTP form encoding carry; the schema says how each
/// string must look. A parameter of type `array` (the guest agent's
/// `command`) is a list of strings, sent as the option repeated.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub params: BTreeMap<String, String>,
    /// Array parameters: each element one string.
    pub lists: BTreeMap<String, Vec<String>>,
    /// Parameters whose value is a secret although their name does not
    /// say so (a file's content written into a guest): redacted like a
    /// `password`.
    pub secret: BTreeSet<String>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            params: BTreeMap::new(),
            lists: BTreeMap::new(),
            secret: BTreeSet::new(),
        }
    }

    pub fn get(path: impl Into<String>) -> Request {
        Request::new(Method::Get, path)
    }

    pub fn post(path: impl Into<String>) -> Request {
        Request::new(Method::Post, path)
    }

    pub fn put(path: impl Into<String>) -> Request {
        Request::new(Method::Put, path)
    }

    /// Builder-style: add one parameter.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Request {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Builder-style: add one parameter whose value is a secret, whatever
    /// its name: logs, errors and `Debug` show it as `<redacted>`.
    pub fn secret_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Request {
        let key = key.into();
        self.secret.insert(key.clone());
        self.params.insert(key, value.into());
        self
    }

    /// Builder-style: add an array parameter.
    pub fn list_param(mut self, key: impl Into<String>, values: Vec<String>) -> Request {
        self.lists.insert(key.into(), values);
        self
    }

    /// The value of a parameter, if given.
    pub fn get_param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// The elements of an array parameter. A single value given as a plain
    /// parameter is a list of one, as on the command line (where an array
    /// is an option that may be repeated).
    pub fn get_list(&self, key: &str) -> Option<Vec<&str>> {
        match self.lists.get(key) {
            Some(values) => Some(values.iter().map(String::as_str).collect()),
            None => self.get_param(key).map(|v| vec![v]),
        }
    }

    /// Whether the value of `name` must never be shown.
    pub fn is_secret(&self, name: &str) -> bool {
        is_secret_param(name) || self.secret.contains(name)
    }

    /// Parameters with secrets replaced, for logs, errors and `Debug`.
    pub fn redacted_params(&self) -> BTreeMap<String, String> {
        self.params
            .iter()
            .map(|(k, v)| {
                let v = if self.is_secret(k) {
                    REDACTED.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

impl fmt::Debug for Request {
    // Hand-written so that a root password never reaches a log or a panic
    // message through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("params", &self.redacted_params())
            .field("lists", &self.lists)
            .finish()
    }
}

/// What is shown instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Parameters whose values must never be printed. Name-based because the
/// schema has no "secret" marker; every Proxmox secret we send is called
/// `password`, and the other names cover secrets other callers might add.
pub fn is_secret_param(name: &str) -> bool {
    name.contains("password") || name == "keyring" || name == "encryption-key"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password() {
        let r = Request::post("/cluster/config/join")
            .param("password", "hunter2")
            .param("hostname", "10.0.0.10");
        let s = format!("{r:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("10.0.0.10"));
    }

    #[test]
    fn a_parameter_marked_secret_is_redacted_whatever_its_name() {
        let r = Request::post("/x")
            .secret_param("content", "s3cret-value")
            .param("file", "/etc/x")
            .list_param("command", vec!["/bin/true".into()]);
        let s = format!("{r:?}");
        assert!(!s.contains("s3cret-value"), "{s}");
        assert!(s.contains("/etc/x") && s.contains("/bin/true"), "{s}");
        assert!(r.is_secret("content") && r.is_secret("password") && !r.is_secret("file"));
        assert_eq!(r.get_list("command"), Some(vec!["/bin/true"]));
        assert_eq!(
            r.get_list("file"),
            Some(vec!["/etc/x"]),
            "one value is a list of one"
        );
        assert_eq!(r.get_list("nothing"), None);
    }

    #[test]
    fn method_names() {
        for m in [Method::Get, Method::Post, Method::Put, Method::Delete] {
            assert_eq!(Method::from_http(m.as_http()), Some(m));
        }
        assert_eq!(Method::Post.pvesh_verb(), "create");
        assert_eq!(Method::Put.pvesh_verb(), "set");
    }
}

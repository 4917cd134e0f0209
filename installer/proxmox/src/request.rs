//! One Proxmox API request as data: method, concrete path, parameters.
//!
//! Every transport (pvesh, the simulator, later HTTP) takes this same value,
//! so the schema check and the command log see exactly what goes out.

use std::collections::BTreeMap;
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
/// string must look.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub params: BTreeMap<String, String>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            params: BTreeMap::new(),
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

    /// The value of a parameter, if given.
    pub fn get_param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Parameters with secrets replaced, for logs, errors and `Debug`.
    pub fn redacted_params(&self) -> BTreeMap<String, String> {
        self.params
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_param(k) {
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
    fn method_names() {
        for m in [Method::Get, Method::Post, Method::Put, Method::Delete] {
            assert_eq!(Method::from_http(m.as_http()), Some(m));
        }
        assert_eq!(Method::Post.pvesh_verb(), "create");
        assert_eq!(Method::Put.pvesh_verb(), "set");
    }
}

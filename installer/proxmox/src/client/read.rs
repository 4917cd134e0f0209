//! Reading Proxmox's answers: the JSON object reader and the list and
//! storage readers the typed calls share.

use super::*;

pub(super) fn storage_config(req: &Request, v: &Value) -> Result<StorageConfig, ApiError> {
    let o = Obj::new(req, v)?;
    Ok(StorageConfig {
        storage: o.string("storage")?,
        storage_type: o.string("type")?,
        content: formats::split_list(&o.opt_string("content").unwrap_or_default())
            .into_iter()
            .map(str::to_string)
            .collect(),
        pool: o.opt_string("pool"),
        nodes: o.opt_string("nodes").map(|n| {
            formats::split_list(&n)
                .into_iter()
                .map(str::to_string)
                .collect()
        }),
        sparse: o.flag("sparse"),
        disable: o.flag("disable"),
        server: o.opt_string("server"),
        datastore: o.opt_string("datastore"),
        username: o.opt_string("username"),
        fingerprint: o.opt_string("fingerprint"),
    })
}

pub(super) fn list<'v>(req: &Request, v: &'v Value) -> Result<&'v Vec<Value>, ApiError> {
    v.as_array().ok_or_else(|| ApiError::Decode {
        method: req.method,
        path: req.path.clone(),
        message: format!("expected a list, got {}", short(v)),
    })
}

pub(super) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

/// Read fields from one JSON object of an answer, leniently where Proxmox
/// is loose: booleans come as 0/1 (pvesh prints Perl's numbers), and
/// numbers sometimes as strings.
pub(super) struct Obj<'a> {
    pub(super) req: &'a Request,
    pub(super) map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(req: &'a Request, v: &'a Value) -> Result<Obj<'a>, ApiError> {
        match v.as_object() {
            Some(map) => Ok(Obj { req, map }),
            None => Err(ApiError::Decode {
                method: req.method,
                path: req.path.clone(),
                message: format!("expected an object, got {}", short(v)),
            }),
        }
    }

    pub(super) fn bad(&self, message: &str) -> ApiError {
        ApiError::Decode {
            method: self.req.method,
            path: self.req.path.clone(),
            message: message.to_string(),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub(super) fn opt_string(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    pub(super) fn string(&self, key: &str) -> Result<String, ApiError> {
        self.opt_string(key)
            .ok_or_else(|| self.bad(&format!("field '{key}' is missing")))
    }

    pub(super) fn opt_u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or_else(|| self.bad(&format!("field '{key}' is not a count: {n}"))),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.bad(&format!("field '{key}' is not a count: {s}"))),
            Some(other) => Err(self.bad(&format!("field '{key}' is not a count: {other}"))),
        }
    }

    /// Missing means false, as in Proxmox's answers.
    pub(super) fn flag(&self, key: &str) -> bool {
        match self.map.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::String(s)) => s == "1",
            _ => false,
        }
    }
}

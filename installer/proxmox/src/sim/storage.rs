//! The simulated node and storage calls: nodes, a node's storages, adding
//! and updating a storage.

use super::*;

impl State {
    pub(super) fn nodes(&self, local: &str) -> Result<Value, String> {
        let mut out = Vec::new();
        for name in self.members(local)? {
            let m = self.machine(&name)?;
            out.push(json!({
                "node": name, "id": format!("node/{name}"), "type": "node",
                "status": if m.online { "online" } else { "offline" },
                "ssl_fingerprint": m.fingerprint, "level": "",
                "maxcpu": 4, "maxmem": 17_179_869_184_u64, "uptime": 3600,
            }));
        }
        Ok(Value::Array(out))
    }

    pub(super) fn node_storage(&self, local: &str, node: &str) -> Result<Value, String> {
        let m = self.reachable_node(local, node)?;
        let mut out = Vec::new();
        for s in self.storage_cfg(local)?.values() {
            let here = s.nodes.as_ref().is_none_or(|l| l.iter().any(|n| n == node));
            if s.disable || !here {
                continue;
            }
            let pool_size = s
                .pool
                .as_ref()
                .and_then(|p| m.pools.iter().find(|(n, _)| pool_root(p) == n))
                .map(|(_, size)| *size);
            let active = s.kind != "zfspool" || pool_size.is_some();
            let total = pool_size.unwrap_or(100 << 30);
            out.push(json!({
                "storage": s.id, "type": s.kind, "content": s.content.join(","),
                "active": flag(active), "enabled": 1, "shared": 0,
                "total": total, "used": 0, "avail": total,
            }));
        }
        Ok(Value::Array(out))
    }

    /// Checks shared by add and update: content types a zfspool can hold,
    /// member nodes, and the pool on each node that will use the storage.
    pub(super) fn check_zfspool(
        &self,
        local: &str,
        id: &str,
        pool: &str,
        content: &[String],
        nodes: Option<&[String]>,
        adding: bool,
    ) -> Result<(), String> {
        if let Some(bad) = content.iter().find(|c| *c != "images" && *c != "rootdir") {
            return Err(format!("storage does not support content type '{bad}'"));
        }
        let members = self.members(local)?;
        let users: Vec<String> = match nodes {
            Some(list) => list.to_vec(),
            None => members.clone(),
        };
        for node in &users {
            if !members.contains(node) {
                return Err(format!(
                    "simulator (stricter than Proxmox): node '{node}' in 'nodes' is not a cluster member"
                ));
            }
            let m = self.machine(node)?;
            if m.pools.iter().any(|(p, _)| p == pool_root(pool)) {
                continue;
            }
            // Proxmox activates a new storage on the local node and fails
            // there; other nodes (and updates) would only fail when the
            // storage is used. The simulator checks them all, so a plan
            // that registers a pool for a node without it is caught here.
            return Err(if adding && node == local {
                format!(
                    "could not activate storage '{id}', zfs error: cannot import '{pool}': no such pool available"
                )
            } else {
                format!(
                    "simulator (stricter than Proxmox): zfs pool '{pool}' does not exist on node '{node}'"
                )
            });
        }
        Ok(())
    }

    pub(super) fn add_storage(&mut self, local: &str, req: &Request) -> Result<Value, String> {
        self.need_quorum(local)?;
        let id = req.get_param("storage").unwrap_or_default().to_string();
        let kind = req.get_param("type").unwrap_or_default().to_string();
        if self.storage_cfg(local)?.contains_key(&id) {
            return Err(format!("storage ID '{id}' already defined"));
        }
        if kind == "pbs" {
            return self.add_pbs_storage(local, &id, req);
        }
        if kind != "zfspool" {
            return Err(format!(
                "the simulator models zfspool and pbs storages only, not '{kind}'"
            ));
        }
        let pool = req
            .get_param("pool")
            .ok_or("missing value for required option 'pool'")?
            .to_string();
        let content: Vec<String> = match req.get_param("content") {
            Some(c) => split_list(c).into_iter().map(str::to_string).collect(),
            None => vec!["images".into(), "rootdir".into()],
        };
        let nodes: Option<Vec<String>> = req
            .get_param("nodes")
            .map(|n| split_list(n).into_iter().map(str::to_string).collect());
        self.check_zfspool(local, &id, &pool, &content, nodes.as_deref(), true)?;
        let storage = Storage {
            id: id.clone(),
            kind: kind.clone(),
            content,
            pool: Some(pool),
            path: None,
            nodes,
            sparse: req.get_param("sparse") == Some("1"),
            disable: req.get_param("disable") == Some("1"),
            pbs: None,
        };
        self.storage_cfg_mut(local)?.insert(id.clone(), storage);
        Ok(json!({ "storage": id, "type": kind }))
    }

    /// pve-storage's PBSPlugin: `server` and `datastore` are required
    /// (and fixed afterwards), content `backup` only; the password goes to
    /// the private password file. The server is not contacted.
    fn add_pbs_storage(&mut self, local: &str, id: &str, req: &Request) -> Result<Value, String> {
        let need = |k: &str| {
            req.get_param(k)
                .map(str::to_string)
                .ok_or_else(|| format!("missing value for required option '{k}'"))
        };
        let (server, datastore) = (need("server")?, need("datastore")?);
        let content: Vec<String> = split_list(req.get_param("content").unwrap_or("backup"))
            .into_iter()
            .map(str::to_string)
            .collect();
        if let Some(bad) = content.iter().find(|c| *c != "backup") {
            return Err(format!("storage does not support content type '{bad}'"));
        }
        let storage = Storage {
            id: id.to_string(),
            kind: "pbs".into(),
            content,
            pool: None,
            path: None,
            nodes: req
                .get_param("nodes")
                .map(|n| split_list(n).into_iter().map(str::to_string).collect()),
            sparse: false,
            disable: req.get_param("disable") == Some("1"),
            pbs: Some(PbsTarget {
                server,
                datastore,
                username: req.get_param("username").map(str::to_string),
                fingerprint: req.get_param("fingerprint").map(str::to_string),
                password: req.get_param("password").map(str::to_string),
            }),
        };
        self.storage_cfg_mut(local)?.insert(id.to_string(), storage);
        Ok(json!({ "storage": id, "type": "pbs" }))
    }

    pub(super) fn update_storage(
        &mut self,
        local: &str,
        id: &str,
        req: &Request,
    ) -> Result<Value, String> {
        self.need_quorum(local)?;
        let mut s = self
            .storage_cfg(local)?
            .get(id)
            .cloned()
            .ok_or_else(|| format!("storage ID '{id}' does not exist"))?;
        for fixed in ["pool", "type", "server", "datastore"] {
            if req.get_param(fixed).is_some() {
                return Err(format!("can't change value of fixed parameter '{fixed}'"));
            }
        }
        for key in split_list(req.get_param("delete").unwrap_or_default()) {
            match key {
                "nodes" => s.nodes = None,
                "sparse" => s.sparse = false,
                "disable" => s.disable = false,
                other => return Err(format!("the simulator cannot delete '{other}'")),
            }
        }
        if let Some(n) = req.get_param("nodes") {
            s.nodes = Some(split_list(n).into_iter().map(str::to_string).collect());
        }
        if let Some(c) = req.get_param("content") {
            s.content = split_list(c).into_iter().map(str::to_string).collect();
        }
        if let Some(v) = req.get_param("sparse") {
            s.sparse = v == "1";
        }
        if let Some(v) = req.get_param("disable") {
            s.disable = v == "1";
        }
        for k in ["fingerprint", "username", "password"] {
            let Some(v) = req.get_param(k) else { continue };
            let Some(p) = s.pbs.as_mut() else {
                return Err(format!("unexpected property '{k}'"));
            };
            let v = Some(v.to_string());
            match k {
                "fingerprint" => p.fingerprint = v,
                "username" => p.username = v,
                _ => p.password = v,
            }
        }
        if s.kind == "zfspool" {
            let pool = s.pool.clone().unwrap_or_default();
            self.check_zfspool(local, id, &pool, &s.content, s.nodes.as_deref(), false)?;
        }
        let kind = s.kind.clone();
        self.storage_cfg_mut(local)?.insert(id.to_string(), s);
        Ok(json!({ "storage": id, "type": kind }))
    }
}

/// A dataset `tank1/vm` lives in pool `tank1`.
pub(super) fn pool_root(dataset: &str) -> &str {
    dataset.split('/').next().unwrap_or(dataset)
}

pub(super) fn storage_json(s: &Storage) -> Value {
    let mut v = json!({
        "storage": s.id,
        "type": s.kind,
        "content": s.content.join(","),
        "digest": "0000000000000000000000000000000000000000",
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(pool) = &s.pool {
            o.insert("pool".into(), json!(pool));
        }
        if let Some(path) = &s.path {
            o.insert("path".into(), json!(path));
        }
        if let Some(nodes) = &s.nodes {
            o.insert("nodes".into(), json!(nodes.join(",")));
        }
        if s.sparse {
            o.insert("sparse".into(), json!(1));
        }
        if s.disable {
            o.insert("disable".into(), json!(1));
        }
        // The password lives in a private file: never in the answer.
        if let Some(p) = &s.pbs {
            o.insert("server".into(), json!(p.server));
            o.insert("datastore".into(), json!(p.datastore));
            for (k, v) in [("username", &p.username), ("fingerprint", &p.fingerprint)] {
                if let Some(v) = v {
                    o.insert(k.into(), json!(v));
                }
            }
        }
    }
    v
}

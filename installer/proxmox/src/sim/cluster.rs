//! The simulated cluster calls: status, join information, create, join.

use super::*;

impl State {
    pub(super) fn cluster_status(&self, local: &str) -> Result<Value, String> {
        let node_entry = |name: &str, nodeid: u64| -> Result<Value, String> {
            let m = self.machine(name)?;
            Ok(json!({
                "type": "node", "id": format!("node/{name}"), "name": name,
                "ip": m.address.to_string(), "nodeid": nodeid, "level": "",
                "online": flag(m.online), "local": flag(name == local),
            }))
        };
        match self.cluster_idx(local)? {
            None => Ok(Value::Array(vec![node_entry(local, 0)?])),
            Some(c) => {
                let cl = &self.clusters[c];
                let mut out = vec![json!({
                    "type": "cluster", "id": "cluster", "name": cl.name,
                    "nodes": cl.members.len(), "quorate": flag(self.quorate(c)),
                    "version": cl.version,
                })];
                for mb in &cl.members {
                    out.push(node_entry(&mb.name, mb.nodeid)?);
                }
                Ok(Value::Array(out))
            }
        }
    }

    pub(super) fn join_info(&self, local: &str, node: Option<&str>) -> Result<Value, String> {
        let Some(c) = self.cluster_idx(local)? else {
            return Err("node is not in a cluster, no join info available!".into());
        };
        let cl = &self.clusters[c];
        let preferred = node.unwrap_or(local);
        if !cl.members.iter().any(|m| m.name == preferred) {
            return Err(format!("no such cluster node '{preferred}'"));
        }
        let mut nodelist = Vec::new();
        for mb in &cl.members {
            let m = self.machine(&mb.name)?;
            nodelist.push(json!({
                "name": mb.name, "nodeid": mb.nodeid, "quorum_votes": mb.votes,
                "pve_addr": m.address.to_string(), "pve_fp": m.fingerprint,
                "ring0_addr": mb.link0,
            }));
        }
        Ok(json!({
            "nodelist": nodelist,
            "preferred_node": preferred,
            "config_digest": format!("{:040x}", cl.version),
            "totem": {
                "cluster_name": cl.name, "config_version": cl.version.to_string(),
                "interface": {"0": {"linknumber": "0"}}, "ip_version": "ipv4-6",
                "link_mode": "passive", "secauth": "on", "version": "2",
            },
        }))
    }

    /// A link address must be configured on the node itself.
    pub(super) fn local_link(&self, local: &str, link0: Option<&str>) -> Result<String, String> {
        let own = self.machine(local)?.address.to_string();
        let addr = link0.map(link_address).unwrap_or_else(|| own.clone());
        if addr != own {
            return Err(format!(
                "cannot use IP '{addr}', it must be configured exactly once on local node!"
            ));
        }
        Ok(addr)
    }

    pub(super) fn create_cluster(&mut self, local: &str, req: &Request) -> Result<Value, String> {
        if self.cluster_idx(local)?.is_some() {
            return Err("cluster config '/etc/pve/corosync.conf' already exists".into());
        }
        let link0 = self.local_link(local, req.get_param("link0"))?;
        let num = |k: &str, d: u64| req.get_param(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let m = self.machines.get_mut(local).ok_or("no local machine")?;
        let (storage, jobs) = (std::mem::take(&mut m.storage), std::mem::take(&mut m.jobs));
        self.clusters.push(Cluster {
            name: req.get_param("clustername").unwrap_or_default().to_string(),
            version: 1,
            members: vec![Member {
                name: local.to_string(),
                nodeid: num("nodeid", 1),
                votes: num("votes", 1),
                link0,
            }],
            storage,
            jobs,
        });
        let idx = self.clusters.len() - 1;
        if let Some(m) = self.machines.get_mut(local) {
            m.cluster = Some(idx);
        }
        Ok(Value::String(self.new_task(local, "clustercreate")))
    }

    /// `POST /cluster/config/join` on the joining node `local`: it reaches
    /// the peer over HTTPS (checking the fingerprint), logs in as root, and
    /// asks the cluster to add it.
    pub(super) fn join(&mut self, local: &str, req: &Request) -> Result<Value, String> {
        if self.cluster_idx(local)?.is_some() {
            return Err("cluster config '/etc/pve/corosync.conf' already exists".into());
        }
        let host = req.get_param("hostname").unwrap_or_default();
        let peer = self
            .machines
            .values()
            .find(|m| m.name == host || m.address.to_string() == host)
            .filter(|m| m.online && m.name != local)
            .ok_or_else(|| format!("unable to connect to '{host}:8006' - no route to host"))?;
        let given_fp = req.get_param("fingerprint").unwrap_or_default();
        if !peer.fingerprint.eq_ignore_ascii_case(given_fp) {
            return Err(format!(
                "certificate of '{host}' does not match fingerprint '{given_fp}' - refusing to connect"
            ));
        }
        if peer.password != req.get_param("password").unwrap_or_default() {
            return Err("authentication failure".into());
        }
        if !self.machine(local)?.vms.is_empty() {
            return Err(
                "detected the following error(s):\n* this host already contains virtual guests"
                    .into(),
            );
        }
        let Some(c) = peer.cluster else {
            return Err(format!(
                "'{host}' is not in a cluster, no join info available!"
            ));
        };
        if !self.quorate(c) {
            return Err("cluster not ready - no quorum?".into());
        }
        let link0 = self.local_link(local, req.get_param("link0"))?;
        let force = req.get_param("force") == Some("1");
        let cl = &self.clusters[c];
        if let Some(existing) = cl.members.iter().find(|m| m.name == local) {
            if !force {
                return Err(format!("can't add existing node '{}'", existing.name));
            }
        }
        if let Some(other) = cl
            .members
            .iter()
            .find(|m| m.link0 == link0 && m.name != local)
        {
            return Err(format!(
                "corosync link address '{link0}' is already used by node '{}'",
                other.name
            ));
        }
        let next_id = cl.members.iter().map(|m| m.nodeid).max().unwrap_or(0) + 1;
        let nodeid = match req.get_param("nodeid").and_then(|v| v.parse::<u64>().ok()) {
            Some(id) => {
                if let Some(m) = cl
                    .members
                    .iter()
                    .find(|m| m.nodeid == id && m.name != local)
                {
                    return Err(format!("Node ID {id} already defined as '{}'", m.name));
                }
                id
            }
            None => next_id,
        };
        let votes = req
            .get_param("votes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);

        let cl = &mut self.clusters[c];
        cl.members.retain(|m| m.name != local);
        cl.members.push(Member {
            name: local.to_string(),
            nodeid,
            votes,
            link0,
        });
        cl.version += 1;
        self.clock += 1;
        let generation = self.clock;
        if let Some(m) = self.machines.get_mut(local) {
            m.cluster = Some(c);
            // The cluster's /etc/pve replaces the node's own.
            m.storage.clear();
            m.jobs.clear();
            // The join re-issues the node's certificate under the cluster's
            // CA, so its fingerprint changes: a fingerprint noted before the
            // join is stale afterwards.
            m.fingerprint = fake_fingerprint(&format!("{local}#{generation}"));
        }
        Ok(Value::String(self.new_task(local, "clusterjoin")))
    }
}

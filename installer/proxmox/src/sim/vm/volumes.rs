//! The simulated volumes: the storage an image goes to, allocating,
//! importing and dropping disks, and a storage's content list.

use super::*;

impl State {
    /// The storage `id` as `node` sees it, able to hold VM images there.
    pub(super) fn image_storage(
        &self,
        local: &str,
        node: &str,
        id: &str,
    ) -> Result<Storage, String> {
        let s = self
            .storage_cfg(local)?
            .get(id)
            .cloned()
            .ok_or_else(|| format!("storage '{id}' does not exist"))?;
        if s.disable
            || s.nodes
                .as_ref()
                .is_some_and(|l| !l.iter().any(|n| n == node))
        {
            return Err(format!("storage '{id}' is not available on node '{node}'"));
        }
        if !s.content.iter().any(|c| c == "images") {
            return Err(format!("storage '{id}' does not support vm images"));
        }
        if let Some(pool) = &s.pool {
            let root = crate::sim::storage::pool_root(pool);
            if !self.machine(node)?.pools.iter().any(|(p, _)| p == root) {
                return Err(format!(
                    "zfs error: cannot open '{pool}': no such pool on node '{node}'"
                ));
            }
        }
        Ok(s)
    }

    /// Size of an existing volume on `node`, with its content type.
    pub(super) fn volume(
        &self,
        local: &str,
        node: &str,
        volid: &str,
    ) -> Result<(u64, String), String> {
        let (sid, volname) = volid
            .split_once(':')
            .ok_or_else(|| format!("unable to parse volume ID '{volid}'"))?;
        let s = self
            .storage_cfg(local)?
            .get(sid)
            .ok_or_else(|| format!("storage '{sid}' does not exist"))?;
        let m = self.machine(node)?;
        let missing = || format!("volume '{volid}' does not exist");
        if s.kind == "dir" {
            let (path, content) = dir_path(s, volname).ok_or_else(missing)?;
            let size = m.files.get(&path).ok_or_else(missing)?;
            Ok((*size, content.to_string()))
        } else {
            let size = m.zvols.get(volid).ok_or_else(missing)?;
            Ok((*size, "images".to_string()))
        }
    }

    /// Where a new disk of `vmid` goes on storage `s`: its volume id, and
    /// for a directory storage the file path.
    pub(super) fn new_volume(
        &self,
        node: &str,
        s: &Storage,
        vmid: u32,
        cloudinit: bool,
    ) -> Result<(String, Option<String>), String> {
        let m = self.machine(node)?;
        let exists = |volid: &str| -> bool {
            if s.kind == "dir" {
                let volname = volid.split_once(':').map(|(_, v)| v).unwrap_or_default();
                dir_path(s, volname).is_some_and(|(p, _)| m.files.contains_key(&p))
            } else {
                m.zvols.contains_key(volid)
            }
        };
        let name = |stem: &str| -> String {
            if s.kind == "dir" {
                let ext = if cloudinit { "qcow2" } else { "raw" };
                format!("{}:{vmid}/{stem}.{ext}", s.id)
            } else {
                format!("{}:{stem}", s.id)
            }
        };
        let volid = if cloudinit {
            let v = name(&format!("vm-{vmid}-cloudinit"));
            if exists(&v) {
                return Err(format!("volume '{v}' already exists"));
            }
            v
        } else {
            (0..)
                .map(|k| name(&format!("vm-{vmid}-disk-{k}")))
                .find(|v| !exists(v) && !exists(&v.replace(":vm-", ":base-")))
                .ok_or("no free disk name")?
        };
        let path = if s.kind == "dir" {
            let volname = volid.split_once(':').map(|(_, v)| v).unwrap_or_default();
            dir_path(s, volname).map(|(p, _)| p)
        } else {
            None
        };
        Ok((volid, path))
    }

    pub(super) fn put_volume(
        &mut self,
        node: &str,
        volid: &str,
        path: Option<String>,
        size: u64,
    ) -> Result<(), String> {
        let m = self.machine_mut(node)?;
        match path {
            Some(p) => m.files.insert(p, size),
            None => m.zvols.insert(volid.to_string(), size),
        };
        Ok(())
    }

    pub(super) fn drop_volume(
        &mut self,
        local: &str,
        node: &str,
        volid: &str,
    ) -> Result<(), String> {
        let (sid, volname) = volid.split_once(':').unwrap_or((volid, ""));
        let path = self
            .storage_cfg(local)?
            .get(sid)
            .filter(|s| s.kind == "dir")
            .and_then(|s| dir_path(s, volname))
            .map(|(p, _)| p);
        let m = self.machine_mut(node)?;
        match path {
            Some(p) => m.files.remove(&p),
            None => m.zvols.remove(volid),
        };
        Ok(())
    }

    /// Allocate what a drive value asks for (`tank1:32`, `tank1:0` with
    /// `import-from`, `tank1:cloudinit`) and return the value Proxmox
    /// writes into the configuration.
    pub(super) fn allocate_drive(
        &mut self,
        local: &str,
        node: &str,
        vmid: u32,
        key: &str,
        value: &str,
    ) -> Result<String, String> {
        let (file, mut rest) = split_drive(value);
        match alloc_of(&file, &rest) {
            Alloc::Keep => {
                if file != "none" && file != "cdrom" && !file.starts_with('/') {
                    self.volume(local, node, &file)?;
                }
                Ok(value.to_string())
            }
            Alloc::CloudInit { storage } => {
                let s = self.image_storage(local, node, &storage)?;
                let (volid, path) = self.new_volume(node, &s, vmid, true)?;
                self.put_volume(node, &volid, path, 4 * MIB)?;
                rest.retain(|(k, _)| k != "media");
                rest.insert(0, ("media".into(), "cdrom".into()));
                Ok(join_drive(&volid, &rest))
            }
            Alloc::New {
                storage,
                gib,
                import,
            } => {
                let s = self.image_storage(local, node, &storage)?;
                let size = match &import {
                    Some(src) if src.starts_with('/') => *self
                        .machine(node)?
                        .files
                        .get(src)
                        .ok_or_else(|| format!("{key}: import source '{src}' does not exist"))?,
                    Some(src) => {
                        let (size, content) = self
                            .volume(local, node, src)
                            .map_err(|e| format!("{key}: import source: {e}"))?;
                        if content != "images" && content != "import" {
                            return Err(format!(
                                "{key}: cannot import from '{src}': content type '{content}' is not an image"
                            ));
                        }
                        size
                    }
                    None if gib > 0.0 => (gib * GIB as f64) as u64,
                    None => {
                        return Err(format!(
                            "simulator (stricter than Proxmox): {key}: a new disk needs a size above 0 or import-from"
                        ))
                    }
                };
                let (volid, path) = self.new_volume(node, &s, vmid, false)?;
                self.put_volume(node, &volid, path, size)?;
                rest.retain(|(k, _)| k != "import-from" && k != "size");
                rest.push(("size".into(), human_size(size)));
                Ok(join_drive(&volid, &rest))
            }
        }
    }

    pub(super) fn content(
        &self,
        local: &str,
        node: &str,
        id: &str,
        only: Option<&str>,
    ) -> Result<Value, String> {
        let s = self
            .storage_cfg(local)?
            .get(id)
            .ok_or_else(|| format!("storage '{id}' does not exist"))?;
        if s.disable
            || s.nodes
                .as_ref()
                .is_some_and(|l| !l.iter().any(|n| n == node))
        {
            return Err(format!("storage '{id}' is not available on node '{node}'"));
        }
        if s.kind == "pbs" {
            return self.pbs_content(s, only);
        }
        let m = self.machine(node)?;
        let wanted = |content: &str| {
            s.content.iter().any(|c| c == content) && only.is_none_or(|o| o == content)
        };
        let vmid_of = |volname: &str| -> Option<u32> {
            let rest = volname.split('/').next_back()?;
            let mut it = rest.split('-');
            let (_, id) = (it.next()?, it.next()?);
            id.parse().ok()
        };
        let mut out = Vec::new();
        if s.kind == "dir" {
            for (path, size) in &m.files {
                if let Some((volname, content)) = dir_volname(s, path) {
                    if !wanted(content) {
                        continue;
                    }
                    let ext = volname.rsplit('.').next().unwrap_or("raw");
                    let format = match content {
                        "iso" => "iso",
                        "snippets" => "snippet",
                        _ => ext,
                    };
                    let mut v = json!({
                        "volid": format!("{id}:{volname}"), "format": format,
                        "size": size, "content": content, "ctime": 1_700_000_000,
                    });
                    if content == "images" {
                        if let Some(n) = vmid_of(&volname) {
                            v["vmid"] = json!(n);
                        }
                    }
                    out.push(v);
                }
            }
        } else if wanted("images") {
            for (volid, size) in m
                .zvols
                .iter()
                .filter(|(v, _)| v.starts_with(&format!("{id}:")))
            {
                let mut v = json!({
                    "volid": volid, "format": "raw", "size": size, "content": "images",
                });
                if let Some(n) = vmid_of(volid) {
                    v["vmid"] = json!(n);
                }
                out.push(v);
            }
        }
        Ok(Value::Array(out))
    }
}

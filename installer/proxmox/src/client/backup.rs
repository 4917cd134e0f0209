//! Backups: a Proxmox Backup Server as a storage of the cluster
//! (`POST /storage`, type `pbs`), and the scheduled backup jobs of the
//! cluster (`/cluster/backup`).

use std::collections::BTreeMap;

use super::*;

/// How many backups a job (or a datastore) keeps: Proxmox's
/// `prune-backups` options this project sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Retention {
    /// The `prune-backups` property string.
    pub fn to_property_string(&self) -> String {
        format!(
            "keep-daily={},keep-weekly={},keep-monthly={}",
            self.daily, self.weekly, self.monthly
        )
    }
}

/// A `pbs` storage: a datastore of a Proxmox Backup Server, reached with a
/// user of that server whose certificate is pinned by its fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbsStorage {
    pub id: StorageId,
    /// The server's address.
    pub server: IpAddr,
    pub datastore: String,
    /// `user@realm` on the backup server.
    pub username: String,
    pub password: Password,
    pub fingerprint: Fingerprint,
}

/// A scheduled backup job of the cluster (vzdump), as this project makes
/// it: every guest (`all`, so a VM made later is included without being
/// added), snapshot mode, into one storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupJob {
    /// Job ids are configuration ids (`pve-configid`).
    pub id: String,
    /// A systemd-like calendar event (`02:30`: every day at 02:30).
    pub schedule: String,
    pub storage: StorageId,
    pub retention: Retention,
    pub comment: String,
}

/// One entry of `GET /cluster/backup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupJobInfo {
    pub id: String,
    pub schedule: Option<String>,
    pub storage: Option<String>,
    pub mode: Option<String>,
    pub all: bool,
    pub enabled: bool,
    /// The `prune-backups` options, by name (`keep-daily` -> 7).
    pub prune: BTreeMap<String, u64>,
    pub comment: Option<String>,
}

impl BackupJobInfo {
    /// The job's retention, when it keeps daily, weekly and monthly
    /// backups and nothing else.
    pub fn retention(&self) -> Option<Retention> {
        let get = |k: &str| self.prune.get(k).and_then(|v| u32::try_from(*v).ok());
        let r = Retention {
            daily: get("keep-daily")?,
            weekly: get("keep-weekly")?,
            monthly: get("keep-monthly")?,
        };
        (self.prune.len() == 3).then_some(r)
    }
}

/// The backup calls' request builders, re-exported in
/// [`crate::client::requests`].
pub mod requests {
    use super::*;

    /// `POST /storage` with `type=pbs` (`pvesm add pbs`). The password is
    /// a secret: a transport must not put it on a command line.
    pub fn add_pbs_storage(s: &PbsStorage) -> Request {
        Request::post("/storage")
            .param("type", "pbs")
            .param("storage", s.id.as_str())
            .param("server", s.server.to_string())
            .param("datastore", s.datastore.as_str())
            .param("username", s.username.as_str())
            .param("fingerprint", s.fingerprint.as_str())
            .param("content", Content::Backup.as_str())
            .secret_param("password", s.password.expose())
    }

    /// `PUT /storage/{storage}` with a new `fingerprint` (the server's
    /// certificate was renewed).
    pub fn set_storage_fingerprint(id: &StorageId, fingerprint: &Fingerprint) -> Request {
        Request::put(format!("/storage/{id}")).param("fingerprint", fingerprint.as_str())
    }

    /// `GET /cluster/backup`
    pub fn backup_jobs() -> Request {
        Request::get("/cluster/backup")
    }

    fn job_settings(req: Request, j: &BackupJob) -> Request {
        req.param("all", "1")
            .param("mode", "snapshot")
            .param("schedule", j.schedule.as_str())
            .param("storage", j.storage.as_str())
            .param("prune-backups", j.retention.to_property_string())
            .param("enabled", "1")
            .param("comment", j.comment.as_str())
    }

    /// `POST /cluster/backup` with an explicit id.
    pub fn create_backup_job(j: &BackupJob) -> Request {
        job_settings(
            Request::post("/cluster/backup").param("id", j.id.as_str()),
            j,
        )
    }

    /// `PUT /cluster/backup/{id}`: the job's settings made what `j` says.
    pub fn update_backup_job(j: &BackupJob) -> Request {
        job_settings(Request::put(format!("/cluster/backup/{}", j.id)), j)
    }

    /// `GET /cluster/backup/{id}/included_volumes`: the guests the job
    /// covers now.
    pub fn backup_job_guests(id: &str) -> Request {
        Request::get(format!("/cluster/backup/{id}/included_volumes"))
    }
}

fn job_info(req: &Request, v: &Value) -> Result<BackupJobInfo, ApiError> {
    let o = Obj::new(req, v)?;
    // Proxmox returns prune-backups as an object; an older vzdump.cron
    // job may still hold the property string.
    let mut prune = BTreeMap::new();
    match o.get("prune-backups") {
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let n = v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
                if let Some(n) = n {
                    prune.insert(k.clone(), n);
                }
            }
        }
        Some(Value::String(s)) => {
            for part in formats::split_list(s) {
                if let Some((k, n)) = part.split_once('=') {
                    if let Ok(n) = n.parse() {
                        prune.insert(k.to_string(), n);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(BackupJobInfo {
        id: o.string("id")?,
        schedule: o.opt_string("schedule"),
        storage: o.opt_string("storage"),
        mode: o.opt_string("mode"),
        all: o.flag("all"),
        // Proxmox's default: enabled.
        enabled: o.get("enabled").is_none() || o.flag("enabled"),
        prune,
        comment: o.opt_string("comment"),
    })
}

impl<A: Api> Proxmox<A> {
    pub fn add_pbs_storage(&mut self, s: &PbsStorage) -> Result<(), ApiError> {
        self.call(&requests::add_pbs_storage(s)).map(drop)
    }

    pub fn set_storage_fingerprint(
        &mut self,
        id: &StorageId,
        fingerprint: &Fingerprint,
    ) -> Result<(), ApiError> {
        self.call(&requests::set_storage_fingerprint(id, fingerprint))
            .map(drop)
    }

    pub fn backup_jobs(&mut self) -> Result<Vec<BackupJobInfo>, ApiError> {
        let req = requests::backup_jobs();
        let v = self.call(&req)?;
        list(&req, &v)?.iter().map(|j| job_info(&req, j)).collect()
    }

    pub fn create_backup_job(&mut self, j: &BackupJob) -> Result<(), ApiError> {
        if !formats::is_config_id(&j.id) {
            return Err(input("backup job id", &j.id, "not a configuration id"));
        }
        self.call(&requests::create_backup_job(j)).map(drop)
    }

    pub fn update_backup_job(&mut self, j: &BackupJob) -> Result<(), ApiError> {
        self.call(&requests::update_backup_job(j)).map(drop)
    }

    /// The VM and container ids job `id` backs up now.
    pub fn backup_job_guests(&mut self, id: &str) -> Result<Vec<u32>, ApiError> {
        let req = requests::backup_job_guests(id);
        let v = self.call(&req)?;
        let o = Obj::new(&req, &v)?;
        let children = match o.get("children") {
            Some(c) => list(&req, c)?,
            None => return Ok(Vec::new()),
        };
        children
            .iter()
            .map(|c| {
                let g = Obj::new(&req, c)?;
                g.opt_u64("id")?
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| g.bad("a guest without an 'id'"))
            })
            .collect()
    }
}

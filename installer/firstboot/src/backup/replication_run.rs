//! `backup replicate` from start to end: the settings, this node's key
//! and record, the copy, the state kept (docs/backup.md).

use tappaas_effects::Effects;
use tappaas_plan::ReplicationPlan;

use super::replication::{
    load_conf, load_members, load_state, replicate, save_state, Job, Member, ReplicationPaths,
};
use super::replication_keys::{load_plan, setup};
use super::BackupError;

/// `backup replicate`: set up the key and records, copy, keep the
/// outcome. `Ok(false)`: the copy failed (recorded; the next run tries
/// again); `Ok(true)`: copied, or nothing to copy (said).
pub fn run(
    fx: &mut dyn Effects,
    paths: &ReplicationPaths,
    now: i64,
    line: &mut dyn FnMut(&str),
) -> Result<bool, BackupError> {
    let Some((conf, me, members)) = prepare(fx, paths, line)? else {
        return Ok(true);
    };
    let job = Job {
        conf: &conf,
        members: &members,
        me: &me,
        key: &paths.key,
    };
    let state = replicate(fx, job, load_state(paths)?, now, line);
    save_state(fx, paths, &state)?;
    Ok(state
        .targets
        .values()
        .filter(|t| t.last_attempt == now)
        .all(|t| t.last_error.is_none()))
}

/// The key, this node's record and the keys file, as at every run; first
/// boot calls it once the node is in its cluster. `None`: replication is
/// off. Returns the settings, this node, and every member (this node's
/// record counts at once, even before pmxcfs shows it).
pub fn prepare(
    fx: &mut dyn Effects,
    paths: &ReplicationPaths,
    line: &mut dyn FnMut(&str),
) -> Result<Option<(ReplicationPlan, Member, Vec<Member>)>, BackupError> {
    let Some(conf) = load_conf(paths)? else {
        line("replication is off (backup.replication.enabled = false)");
        return Ok(None);
    };
    let plan = load_plan(&paths.plan)?;
    let members = load_members(paths)?;
    let me = setup(fx, paths, &plan, &conf, &members, line)?;
    let mut members: Vec<Member> = members
        .into_iter()
        .filter(|m| m.number != me.number)
        .collect();
    members.push(me.clone());
    members.sort_by_key(|m| m.number);
    Ok(Some((conf, me, members)))
}

//! `backup receive-guard --source NODE`: the forced command of another
//! node's replication key. sshd runs it instead of what the sender asked
//! for, and puts that request in `SSH_ORIGINAL_COMMAND`; the guard lets
//! through only what syncoid sends to a receiving side with the flags of
//! [`super::replication::syncoid_args`], confined to
//! `tank2/replica/NODE/tank1`, and runs it itself, without a shell.
//!
//! What syncoid sends (read from its source): `exit` and `echo -n` (its
//! SSH master connection and the test of it), `command -v zstd` and
//! `command -v mbuffer` (is the helper there?), `ps -Ao args=` (is a
//! receive already running?), `zpool get -o value -H
//! feature@extensible_dataset tank2` (can a receive resume?), `zfs get`
//! (does the replica exist, its snapshots, its resume token, its size,
//! and two probes without a dataset), `zfs receive -A` (drop a partial
//! receive) and the receive pipeline `mbuffer ... | zstd -dc | zfs
//! receive -u -o canmount=off -s DATASET 2>&1`. Everything else is
//! refused: no `destroy`, `rollback`, `set`, no shell, no `;`, `&&`,
//! redirections or substitutions, no dataset outside the subtree.

use tappaas_plan::REPLICA_ROOT;

use super::replication::SOURCE;

/// What the guard runs for an allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// `exit` and `echo -n`: syncoid opens its SSH master connection with
    /// the first and tests it with the second (stopping the copy unless
    /// it succeeds); answered by the guard, nothing printed, success.
    Nothing,
    /// `command -v NAME`: answered by the guard (a shell builtin).
    CommandV(String),
    /// A pipeline of programs with their arguments, stdin from ssh,
    /// stdout to ssh; `merge_stderr`: the last one's stderr too (`2>&1`).
    /// `prepare`: a command run before it (the replica's parent created).
    Run {
        prepare: Option<Vec<String>>,
        stages: Vec<Vec<String>>,
        merge_stderr: bool,
    },
}

/// The helpers syncoid may pipe through or ask about.
const HELPERS: [&str; 2] = ["mbuffer", "zstd"];

/// Decide on `request` (`SSH_ORIGINAL_COMMAND`) from node `source`:
/// what to run, or why it is refused.
pub fn decide(source: &str, request: &str) -> Result<Allowed, String> {
    if !valid_component(source) {
        return Err(format!("'{source}' is not a node name"));
    }
    let base = format!("{REPLICA_ROOT}/{source}/{SOURCE}");
    let tokens = tokenize(request)?;
    let mut stages: Vec<Vec<String>> = vec![Vec::new()];
    let mut merge_stderr = false;
    for t in tokens {
        match t {
            Token::Pipe => stages.push(Vec::new()),
            Token::MergeStderr => {
                if merge_stderr {
                    return Err("2>&1 twice".into());
                }
                merge_stderr = true;
            }
            Token::Word(w) => {
                if merge_stderr {
                    return Err("only 2>&1 may end the command".into());
                }
                if let Some(last) = stages.last_mut() {
                    last.push(w);
                }
            }
        }
    }
    if stages.iter().any(Vec::is_empty) {
        return Err("an empty command in the pipeline".into());
    }
    let n = stages.len();
    if n == 1 && !merge_stderr {
        return single(&stages[0], &base);
    }
    // A pipeline: helpers first, the receive last.
    for stage in &stages[..n - 1] {
        helper(stage)?;
    }
    let prepare = receive(&stages[n - 1], &base)?;
    Ok(Allowed::Run {
        prepare,
        stages,
        merge_stderr,
    })
}

/// A request that is one command.
fn single(words: &[String], base: &str) -> Result<Allowed, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let run = |stages: Vec<Vec<String>>| {
        Ok(Allowed::Run {
            prepare: None,
            stages,
            merge_stderr: false,
        })
    };
    match w.as_slice() {
        ["exit"] | ["echo", "-n"] => Ok(Allowed::Nothing),
        ["command", "-v", name] if HELPERS.contains(name) => {
            Ok(Allowed::CommandV(name.to_string()))
        }
        ["ps", "-Ao", "args="] => run(vec![words.to_vec()]),
        ["zpool", "get", "-o", "value", "-H", "feature@extensible_dataset", pool]
            if Some(*pool) == REPLICA_ROOT.split('/').next() =>
        {
            run(vec![words.to_vec()])
        }
        ["zfs", "get", rest @ ..] => run(vec![zfs_get(rest, base)?]),
        ["zfs", "receive" | "recv", ..] => {
            let prepare = receive(words, base)?;
            Ok(Allowed::Run {
                prepare,
                stages: vec![words.to_vec()],
                merge_stderr: false,
            })
        }
        _ => Err("not a command of a replication receive".into()),
    }
}

/// `zfs get` with syncoid's options; the datasets in the subtree. The
/// feature probes name no dataset: they are asked of the subtree, so
/// that no other dataset of the node is listed.
fn zfs_get(args: &[&str], base: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = vec!["zfs".into(), "get".into()];
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if let Some(flags) = a.strip_prefix('-') {
            out.push(a.to_string());
            for (k, c) in flags.chars().enumerate() {
                match c {
                    'H' | 'p' => {}
                    // Options with a value: the last letter of the group
                    // takes the next word.
                    'd' | 't' | 'o' if k + 1 == flags.len() => {
                        i += 1;
                        let v = args.get(i).ok_or(format!("-{c} without its value"))?;
                        let ok = match c {
                            'd' => v.chars().all(|c| c.is_ascii_digit()),
                            't' => matches!(
                                *v,
                                "snapshot" | "filesystem" | "volume" | "filesystem,volume"
                            ),
                            _ => *v == "value" || *v == "name,value",
                        };
                        if !ok {
                            return Err(format!("zfs get -{c} {v} is not allowed"));
                        }
                        out.push(v.to_string());
                    }
                    _ => return Err(format!("zfs get option '{a}' is not allowed")),
                }
            }
        } else {
            positional.push(a);
        }
        i += 1;
    }
    let mut positional = positional.into_iter();
    if let Some(props) = positional.next() {
        if !props
            .split(',')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        {
            return Err(format!("'{props}' is not a property list"));
        }
        out.push(props.to_string());
    }
    let datasets: Vec<&str> = positional.collect();
    if datasets.is_empty() {
        out.push(base.to_string());
    }
    for d in datasets {
        in_subtree(d, base)?;
        out.push(d.to_string());
    }
    Ok(out)
}

/// `zfs receive -u -o canmount=off [-s] DATASET` or `zfs receive -A
/// DATASET`; the dataset in the subtree. Returns the command that
/// creates the replica's parent when the receive is of the subtree's top.
fn receive(words: &[String], base: &str) -> Result<Option<Vec<String>>, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let ["zfs", "receive" | "recv", args @ ..] = w.as_slice() else {
        return Err("the last command of a pipeline must be zfs receive".into());
    };
    let (dataset, options) = args.split_last().ok_or("zfs receive without a dataset")?;
    in_subtree(dataset, base)?;
    let abort = options == ["-A"];
    let (mut unmounted, mut no_mount) = (false, false);
    let mut i = 0;
    while i < options.len() && !abort {
        match options[i] {
            "-u" => unmounted = true,
            "-s" | "-v" => {}
            "-o" if options.get(i + 1) == Some(&"canmount=off") => {
                no_mount = true;
                i += 1;
            }
            other => return Err(format!("zfs receive option '{other}' is not allowed")),
        }
        i += 1;
    }
    if !(abort || unmounted && no_mount) {
        return Err("a replica is received with -u -o canmount=off, never mounted".into());
    }
    let parent = base.rsplit_once('/').map_or(base, |(p, _)| p);
    Ok((!abort && *dataset == base).then(|| {
        ["zfs", "create", "-p", "-o", "canmount=off", parent]
            .map(String::from)
            .to_vec()
    }))
}

/// `mbuffer` with syncoid's options, or `zstd -dc`.
fn helper(words: &[String]) -> Result<(), String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["zstd", "-dc"] => Ok(()),
        ["mbuffer", args @ ..] => {
            let size = |v: &str| {
                let digits = v.trim_end_matches(['k', 'M', 'G']);
                !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
            };
            let mut i = 0;
            while i < args.len() {
                match args[i] {
                    "-q" => {}
                    "-s" | "-m" | "-R" if args.get(i + 1).is_some_and(|v| size(v)) => i += 1,
                    other => return Err(format!("mbuffer option '{other}' is not allowed")),
                }
                i += 1;
            }
            Ok(())
        }
        _ => Err(format!("'{}' may not be piped into a receive", w.join(" "))),
    }
}

/// Run what [`decide`] allowed: its status (0 success). Each program is
/// started directly, its stdin from the previous one (the first: ssh's),
/// the last one's stdout to ssh.
pub fn execute(allowed: &Allowed) -> std::io::Result<i32> {
    use std::os::fd::AsFd;
    use std::process::{Command, Stdio};
    let (prepare, stages, merge_stderr) = match allowed {
        Allowed::Nothing => return Ok(0),
        Allowed::CommandV(name) => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            return Ok(
                match std::env::split_paths(&path)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
                {
                    Some(p) => {
                        println!("{}", p.display());
                        0
                    }
                    None => 1,
                },
            );
        }
        Allowed::Run {
            prepare,
            stages,
            merge_stderr,
        } => (prepare, stages, *merge_stderr),
    };
    if let Some(p) = prepare {
        // The parent exists already on every run but the first: a
        // failure here is the receive's to report.
        let _ = Command::new(&p[0])
            .args(&p[1..])
            .stdout(Stdio::null())
            .status();
    }
    let mut children = Vec::new();
    let mut previous: Option<std::process::ChildStdout> = None;
    for (i, stage) in stages.iter().enumerate() {
        let last = i + 1 == stages.len();
        let mut cmd = Command::new(&stage[0]);
        cmd.args(&stage[1..]);
        if let Some(out) = previous.take() {
            cmd.stdin(Stdio::from(out));
        }
        if !last {
            cmd.stdout(Stdio::piped());
        } else if merge_stderr {
            cmd.stderr(Stdio::from(std::io::stdout().as_fd().try_clone_to_owned()?));
        }
        let mut child = cmd.spawn()?;
        previous = child.stdout.take();
        children.push(child);
    }
    let mut status = 0;
    for mut child in children {
        let s = child.wait()?;
        // The pipeline's status is the last program's, as in a shell.
        status = s.code().unwrap_or(1);
    }
    Ok(status)
}

/// `dataset` is `base` or below it, each part a plain name.
fn in_subtree(dataset: &str, base: &str) -> Result<(), String> {
    let below = dataset == base
        || dataset
            .strip_prefix(base)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|rest| rest.split('/').all(valid_component));
    if below {
        Ok(())
    } else {
        Err(format!("'{dataset}' is outside {base}"))
    }
}

fn valid_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Pipe,
    MergeStderr,
}

/// The request as shell words: spaces, single and double quotes (no
/// expansion inside), `|` and `2>&1`. Any other shell syntax is refused
/// rather than interpreted.
fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&c) = chars.peek() else { break };
        if c == '|' {
            chars.next();
            if chars.peek() == Some(&'|') {
                return Err("'||' is not allowed".into());
            }
            tokens.push(Token::Pipe);
            continue;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            match c {
                ' ' | '\t' | '|' => break,
                '\'' => {
                    chars.next();
                    quoted = true;
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(c) => word.push(c),
                            None => return Err("an unclosed quote".into()),
                        }
                    }
                }
                '"' => {
                    chars.next();
                    quoted = true;
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some(c @ ('$' | '`' | '\\')) => {
                                return Err(format!("'{c}' is not allowed"))
                            }
                            Some(c) => word.push(c),
                            None => return Err("an unclosed quote".into()),
                        }
                    }
                }
                c if c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c) => {
                    chars.next();
                    word.push(c);
                }
                '>' if word == "2" && !quoted => {
                    chars.next();
                    let rest: String = chars.by_ref().take(2).collect();
                    if rest != "&1" {
                        return Err("a redirection other than 2>&1".into());
                    }
                    word.clear();
                    tokens.push(Token::MergeStderr);
                    break;
                }
                other => return Err(format!("'{other}' is not allowed")),
            }
        }
        if word.is_empty() && !quoted {
            continue;
        }
        // An empty quoted word ('') is syncoid's empty argument: dropped,
        // as the remote shell would keep it but ssh has already joined it.
        if !word.is_empty() {
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_and_the_two_operators() {
        assert_eq!(
            tokenize(" zfs get -H name 'tank2/replica/a/tank1' | x 2>&1").expect("tokens"),
            vec![
                Token::Word("zfs".into()),
                Token::Word("get".into()),
                Token::Word("-H".into()),
                Token::Word("name".into()),
                Token::Word("tank2/replica/a/tank1".into()),
                Token::Pipe,
                Token::Word("x".into()),
                Token::MergeStderr,
            ]
        );
        for bad in [
            "a; b",
            "a && b",
            "a > f",
            "$(x)",
            "`x`",
            "a || b",
            "a\nb",
            "\"$HOME\"",
            "2>/dev/null",
        ] {
            assert!(tokenize(bad).is_err(), "{bad:?}");
        }
    }
}

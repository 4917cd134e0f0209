//! The `pvesh` transport: the argv built for each call is what pvesh
//! expects, answers are parsed, failures carry the command (without
//! secrets), and no process is ever spawned here.

// Tests may unwrap: a panic is a failure with a location.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::VecDeque;

use common::{client as sim_client, ip, node, schema, world};
use tappaas_proxmox::client::{
    ClusterName, CreateCluster, Fingerprint, GuestCommand, GuestPath, JoinCluster, Link, Password,
    PoolName, StorageId, VmId, ZfsPoolStorage,
};
use tappaas_proxmox::{
    Api, ApiError, CommandOutput, CommandRunner, Invocation, Method, Proxmox, PveshApi, Request,
    SimNode,
};

/// Records every command and answers from a queue (default: exit 0, no
/// output).
#[derive(Default)]
struct Recorder {
    commands: Vec<Vec<String>>,
    /// What each command got on stdin.
    inputs: Vec<Option<Vec<u8>>>,
    replies: VecDeque<std::io::Result<CommandOutput>>,
}

impl Recorder {
    fn reply(&mut self, stdout: &str) {
        self.replies.push_back(Ok(CommandOutput {
            status: Some(0),
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
        }));
    }
}

impl CommandRunner for Recorder {
    fn run(&mut self, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput> {
        let mut argv = vec![cmd.program.to_string()];
        argv.extend(cmd.args.iter().cloned());
        self.commands.push(argv);
        self.inputs.push(cmd.input.map(<[u8]>::to_vec));
        self.replies.pop_front().unwrap_or_else(|| {
            Ok(CommandOutput {
                status: Some(0),
                stdout: Vec::new(),
                stderr: Vec::new(),
            })
        })
    }
}

fn pvesh() -> Proxmox<PveshApi<Recorder>> {
    Proxmox::new(PveshApi::new(Recorder::default()), schema())
}

fn last(p: &Proxmox<PveshApi<Recorder>>) -> String {
    p.api().runner().commands.last().unwrap().join(" ")
}

fn fp() -> Fingerprint {
    Fingerprint::parse(&vec!["4F"; 32].join(":")).unwrap()
}

#[test]
fn zfspool_storage_command() {
    let mut p = pvesh();
    let s = ZfsPoolStorage::new(
        StorageId::new("tank1").unwrap(),
        PoolName::new("tank1").unwrap(),
        vec![node("tappaas1"), node("tappaas2")],
    )
    .unwrap();
    p.add_zfspool_storage(&s).unwrap();
    assert_eq!(
        p.api().runner().commands[0],
        [
            "pvesh",
            "create",
            "/storage",
            "--content",
            "images,rootdir",
            "--nodes",
            "tappaas1,tappaas2",
            "--pool",
            "tank1",
            "--sparse",
            "1",
            "--storage",
            "tank1",
            "--type",
            "zfspool",
            "--output-format",
            "json",
        ]
    );
    p.set_storage_nodes(&StorageId::new("tank1").unwrap(), &[node("tappaas1")])
        .unwrap();
    assert_eq!(
        last(&p),
        "pvesh set /storage/tank1 --nodes tappaas1 --output-format json"
    );
}

#[test]
fn cluster_commands() {
    let mut p = pvesh();
    p.api_mut()
        .runner_mut()
        .reply("\"UPID:tappaas1:00001234:00000001:6553F100:clustercreate::root@pam:\"\n");
    let upid = p
        .create_cluster(&CreateCluster {
            name: ClusterName::new("tappaas").unwrap(),
            link0: Link::new(ip("10.0.0.10")),
        })
        .unwrap();
    assert_eq!(
        last(&p),
        "pvesh create /cluster/config --clustername tappaas --link0 address=10.0.0.10 --output-format json"
    );
    assert!(upid.unwrap().starts_with("UPID:tappaas1:"));

    let j = JoinCluster::new(
        "10.0.0.10",
        fp(),
        Password::new("s3cret"),
        Link::new(ip("10.0.0.11")),
    )
    .unwrap();
    p.join_cluster(&j).unwrap();
    let fp_text = vec!["4F"; 32].join(":");
    // Through `pvecm add`, the password on stdin: pvesh would have it in
    // the process list.
    assert_eq!(
        last(&p),
        format!("pvecm add 10.0.0.10 --fingerprint {fp_text} --link0 address=10.0.0.11")
    );
    assert_eq!(
        p.api().runner().inputs.last().unwrap().as_deref(),
        Some(&b"s3cret\n"[..])
    );
    assert!(!last(&p).contains("s3cret"));
    // And the line shown in messages hides it too.
    let shown = p
        .api()
        .display_command(&tappaas_proxmox::client::requests::join_cluster(&j));
    assert!(shown.contains("--password <redacted>") && !shown.contains("s3cret"));

    // A password pvecm cannot read as one line is refused before anything
    // runs.
    let before = p.api().runner().commands.len();
    let j = JoinCluster::new(
        "10.0.0.10",
        fp(),
        Password::new("two\nlines"),
        Link::new(ip("10.0.0.11")),
    )
    .unwrap();
    let e = p.join_cluster(&j).unwrap_err();
    assert!(e.to_string().contains("line break"), "{e}");
    assert!(!e.to_string().contains("lines"), "{e}");
    assert_eq!(p.api().runner().commands.len(), before);
}

/// A request with a secret that no command takes on stdin never runs.
#[test]
fn a_secret_with_no_stdin_route_is_refused() {
    let mut p = PveshApi::new(Recorder::default());
    let req = Request::post("/access/password")
        .param("userid", "root@pam")
        .param("password", "hunter2");
    let e = p.call(&req).unwrap_err();
    assert!(e.to_string().contains("process list"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(p.runner().commands.is_empty());
}

/// The guest agent calls: an array parameter is the option repeated in
/// order; a file's content is base64 on the command line and hidden in
/// messages.
#[test]
fn guest_agent_commands() {
    let mut p = pvesh();
    let n1 = node("tappaas1");
    let id = VmId::new(210).unwrap();
    p.api_mut()
        .runner_mut()
        .reply(r#"{"exitcode":0,"exited":1}"#);
    p.agent_file_write(&n1, id, &GuestPath::new("/etc/x").unwrap(), b"hunter2")
        .unwrap();
    // Through `qm guest exec`, the content on stdin (the bytes, not
    // base64): never on a command line.
    assert_eq!(
        p.api().runner().commands.last().unwrap(),
        &[
            "qm",
            "guest",
            "exec",
            "210",
            "--pass-stdin",
            "1",
            "--",
            "/bin/sh",
            "-c",
            tappaas_proxmox::pvesh::GUEST_WRITE_SCRIPT,
            "sh",
            "/etc/x"
        ]
    );
    assert_eq!(
        p.api().runner().inputs.last().unwrap().as_deref(),
        Some(&b"hunter2"[..])
    );
    let shown = p
        .api()
        .display_command(&tappaas_proxmox::client::requests::agent_file_write(
            &n1,
            id,
            &GuestPath::new("/etc/x").unwrap(),
            b"hunter2",
        ));
    assert!(shown.contains("--content <redacted>"), "{shown}");
    assert!(!shown.contains("aHVudGVyMg=="), "{shown}");

    // The write failing in the guest is an error with its message.
    p.api_mut()
        .runner_mut()
        .reply(r#"{"exitcode":1,"exited":1,"err-data":"sh: /etc/nodir/x: No such file"}"#);
    let e = p
        .agent_file_write(&n1, id, &GuestPath::new("/etc/nodir/x").unwrap(), b"x")
        .unwrap_err();
    assert!(e.to_string().contains("No such file"), "{e}");

    p.api_mut().runner_mut().reply(r#"{"pid":1234}"#);
    let cmd = GuestCommand::new(vec![
        "/usr/local/sbin/tappaas-pg-ensure".into(),
        "grafana".into(),
        "--".into(),
        "a b".into(),
    ])
    .unwrap();
    assert_eq!(p.agent_exec(&n1, id, &cmd).unwrap(), 1234);
    assert_eq!(
        p.api().runner().commands.last().unwrap()[2..],
        [
            "/nodes/tappaas1/qemu/210/agent/exec",
            "--command",
            "/usr/local/sbin/tappaas-pg-ensure",
            "--command",
            "grafana",
            "--command",
            "--",
            "--command",
            "a b",
            "--output-format",
            "json",
        ]
    );

    // Proxmox passes QEMU's booleans through as JSON booleans.
    p.api_mut()
        .runner_mut()
        .reply(r#"{"exited":true,"exitcode":3,"err-data":"psql: error\n","out-truncated":false}"#);
    let st = p.agent_exec_status(&n1, id, 1234).unwrap();
    assert_eq!(
        last(&p),
        "pvesh get /nodes/tappaas1/qemu/210/agent/exec-status --pid 1234 --output-format json"
    );
    assert!(st.exited && !st.succeeded());
    assert_eq!(
        (st.exitcode, st.err_data.as_str()),
        (Some(3), "psql: error\n")
    );
}

#[test]
fn read_commands_and_answers() {
    let mut p = pvesh();
    let r = p.api_mut().runner_mut();
    // Shaped like pvesh's JSON: Perl prints booleans as 0/1.
    r.reply(r#"{"release":"9.1","repoid":"e5010dc0","version":"9.1.3"}"#);
    r.reply(
        r#"[{"id":"cluster","name":"tappaas","nodes":2,"quorate":1,"type":"cluster","version":2},
            {"id":"node/tappaas1","ip":"10.0.0.10","level":"","local":1,"name":"tappaas1","nodeid":1,"online":1,"type":"node"},
            {"id":"node/tappaas2","ip":"10.0.0.11","level":"","local":0,"name":"tappaas2","nodeid":2,"online":0,"type":"node"}]"#,
    );
    r.reply(
        r#"[{"content":"images,rootdir","digest":"ab","nodes":"tappaas1","pool":"tank1","sparse":1,"storage":"tank1","type":"zfspool"},
            {"content":"backup,iso,vztmpl","digest":"ab","path":"/var/lib/vz","storage":"local","type":"dir"}]"#,
    );
    r.reply(r#"[{"alloc":0,"dedup":1,"frag":0,"free":100,"health":"ONLINE","name":"tank1","size":100}]"#);
    r.reply(r#"[{"node":"tappaas1","status":"online","ssl_fingerprint":"AB:CD"}]"#);
    r.reply(r#"{"exitstatus":"OK","status":"stopped","upid":"U","node":"tappaas1","pid":1,"pstart":1,"starttime":1,"type":"t","id":"","user":"root@pam"}"#);

    assert_eq!(p.version().unwrap().version, "9.1.3");
    assert_eq!(last(&p), "pvesh get /version --output-format json");

    let st = p.cluster_status().unwrap();
    assert_eq!(last(&p), "pvesh get /cluster/status --output-format json");
    let cl = st.cluster.as_ref().unwrap();
    assert!(cl.quorate && cl.nodes == 2);
    assert!(st.nodes[0].local && st.nodes[0].online);
    assert!(!st.nodes[1].online);

    let storages = p.storages().unwrap();
    assert_eq!(last(&p), "pvesh get /storage --output-format json");
    assert!(storages[0].sparse && storages[0].available_on("tappaas1"));
    assert!(!storages[0].available_on("tappaas2"));
    assert!(storages[1].available_on("tappaas2"));

    let pools = p.zfs_pools(&node("tappaas1")).unwrap();
    assert_eq!(
        last(&p),
        "pvesh get /nodes/tappaas1/disks/zfs --output-format json"
    );
    assert_eq!(pools[0].name, "tank1");

    p.nodes().unwrap();
    assert_eq!(last(&p), "pvesh get /nodes --output-format json");

    assert!(p
        .task_status(&node("tappaas1"), "UPID:tappaas1:1")
        .unwrap()
        .succeeded());
    assert_eq!(
        last(&p),
        "pvesh get /nodes/tappaas1/tasks/UPID:tappaas1:1/status --output-format json"
    );

    p.api_mut()
        .runner_mut()
        .reply("{\"nodelist\":[],\"preferred_node\":\"tappaas2\"}");
    p.join_info(Some(&node("tappaas2"))).unwrap();
    assert_eq!(
        last(&p),
        "pvesh get /cluster/config/join --node tappaas2 --output-format json"
    );
}

#[test]
fn a_refusal_carries_the_command_without_secrets_and_the_message() {
    let mut p = pvesh();
    p.api_mut()
        .runner_mut()
        .replies
        .push_back(Ok(CommandOutput {
            status: Some(0),
            stdout: Vec::new(),
            stderr: b"authentication failure\n".to_vec(),
        }));
    let j = JoinCluster::new(
        "10.0.0.10",
        fp(),
        Password::new("s3cret"),
        Link::new(ip("10.0.0.11")),
    )
    .unwrap();
    let e = p.join_cluster(&j).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ApiError::Command { .. }), "{text}");
    // pvecm exits 0 when the join task failed; its stderr tells.
    assert!(text.contains("authentication failure"), "{text}");
    assert!(text.contains("pvecm add 10.0.0.10"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn spawn_errors_surface() {
    let mut p = pvesh();
    p.api_mut()
        .runner_mut()
        .replies
        .push_back(Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no pvesh",
        )));
    let e = p.version().unwrap_err();
    assert!(matches!(e, ApiError::Spawn { .. }), "{e}");
    assert!(e.to_string().contains("pvesh get /version"));
}

#[test]
fn garbage_output_is_a_decode_error() {
    let mut p = pvesh();
    p.api_mut().runner_mut().reply("not json at all");
    assert!(matches!(p.version().unwrap_err(), ApiError::Decode { .. }));
    p.api_mut().runner_mut().reply("{\"unexpected\": true}");
    assert!(matches!(p.version().unwrap_err(), ApiError::Decode { .. }));
}

#[test]
fn invalid_requests_never_run() {
    let mut p = pvesh();
    let e = p
        .call(&Request::new(Method::Delete, "/cluster/status"))
        .unwrap_err();
    assert!(matches!(e, ApiError::Invalid { .. }));
    assert!(p.api().runner().commands.is_empty());
}

/// Reads a pvesh argv back the way pvesh does and answers from the
/// simulator: proves the argv round-trips into the request that was meant.
struct PveshOverSim(SimNode);

impl CommandRunner for PveshOverSim {
    fn run(&mut self, cmd: &Invocation<'_>) -> std::io::Result<CommandOutput> {
        let args = cmd.args;
        let answer = |r: Result<serde_json::Value, ApiError>| match r {
            Ok(v) => CommandOutput {
                status: Some(0),
                stdout: serde_json::to_vec(&v).unwrap(),
                stderr: Vec::new(),
            },
            Err(e) => CommandOutput {
                status: Some(255),
                stdout: Vec::new(),
                stderr: e.to_string().into_bytes(),
            },
        };
        match cmd.program {
            "pvesh" => {}
            // `pvecm add HOST --key value...`, the password one line on
            // stdin; a failed join task is on stderr with exit status 0.
            "pvecm" => {
                assert_eq!(args[0], "add");
                let line = String::from_utf8(cmd.input.unwrap().to_vec()).unwrap();
                let mut req = Request::post("/cluster/config/join")
                    .param("hostname", args[1].clone())
                    .param("password", line.strip_suffix('\n').unwrap());
                for pair in args[2..].chunks(2) {
                    req = req.param(pair[0].strip_prefix("--").unwrap(), pair[1].clone());
                }
                return Ok(match self.0.call(&req) {
                    Ok(_) => answer(Ok(serde_json::Value::Null)),
                    Err(e) => CommandOutput {
                        status: Some(0),
                        stdout: Vec::new(),
                        stderr: e.to_string().into_bytes(),
                    },
                });
            }
            // `qm guest exec VMID --pass-stdin 1 -- /bin/sh -c SCRIPT sh FILE`
            "qm" => {
                assert_eq!(args[..2], ["guest", "exec"]);
                assert_eq!(
                    args[3..9],
                    [
                        "--pass-stdin",
                        "1",
                        "--",
                        "/bin/sh",
                        "-c",
                        tappaas_proxmox::pvesh::GUEST_WRITE_SCRIPT
                    ]
                );
                use base64::Engine;
                let req =
                    Request::post(format!("/nodes/tappaas1/qemu/{}/agent/file-write", args[2]))
                        .param("file", args[10].clone())
                        .param(
                            "content",
                            base64::engine::general_purpose::STANDARD.encode(cmd.input.unwrap()),
                        )
                        .param("encode", "0");
                return Ok(answer(
                    self.0
                        .call(&req)
                        .map(|_| serde_json::json!({"exitcode": 0, "exited": 1})),
                ));
            }
            other => panic!("no {other} on a node"),
        }
        let method = match args[0].as_str() {
            "get" => Method::Get,
            "create" => Method::Post,
            "set" => Method::Put,
            "delete" => Method::Delete,
            other => panic!("pvesh has no sub-command {other}"),
        };
        let mut req = Request::new(method, args[1].clone());
        let mut rest = args[2..].chunks(2);
        let mut format = None;
        for pair in &mut rest {
            let key = pair[0].strip_prefix("--").expect("options start with --");
            if key == "output-format" {
                format = Some(pair[1].clone());
            } else if let Some(list) = req.lists.get_mut(key) {
                list.push(pair[1].clone());
            } else if let Some(first) = req.params.remove(key) {
                // A repeated option is an array.
                req.lists
                    .insert(key.to_string(), vec![first, pair[1].clone()]);
            } else {
                req.params.insert(key.to_string(), pair[1].clone());
            }
        }
        assert_eq!(format.as_deref(), Some("json"));
        Ok(answer(self.0.call(&req)))
    }
}

/// The guest agent's calls read back from their argv (the command's
/// repeated option an array again) do what was meant in the simulator.
#[test]
fn guest_agent_argv_round_trips_through_the_simulator() {
    use tappaas_proxmox::client::{CreateVm, VmName, VmSettings};
    let sim = world();
    let mut direct = sim_client(&sim, "tappaas1");
    let n1 = node("tappaas1");
    let id = VmId::new(210).unwrap();
    let settings = VmSettings::new()
        .name(&VmName::new("postgresql").unwrap())
        .agent(true);
    direct.create_vm(&n1, &CreateVm::new(id, settings)).unwrap();
    direct.start_vm(&n1, id).unwrap();
    let mut p = Proxmox::new(
        PveshApi::new(PveshOverSim(sim.client("tappaas1"))),
        schema(),
    );
    p.agent_file_write(&n1, id, &GuestPath::new("/etc/x").unwrap(), b"pw\n")
        .unwrap();
    assert_eq!(sim.guest_file("tappaas1", 210, "/etc/x").unwrap(), b"pw\n");
    for args in [vec!["/bin/true"], vec!["/usr/local/sbin/x", "a b", "--"]] {
        let cmd = GuestCommand::new(args.iter().map(|a| a.to_string()).collect()).unwrap();
        let pid = p.agent_exec(&n1, id, &cmd).unwrap();
        assert!(p.agent_exec_status(&n1, id, pid).unwrap().succeeded());
        assert_eq!(sim.guest_commands("tappaas1", 210).last().unwrap(), &args);
    }
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn pvesh_argv_round_trips_through_the_simulator() {
    let sim = world();
    let on = |n: &str| Proxmox::new(PveshApi::new(PveshOverSim(sim.client(n))), schema());
    let mut p1 = on("tappaas1");
    p1.create_cluster(&CreateCluster {
        name: ClusterName::new("tappaas").unwrap(),
        link0: Link::new(ip("10.0.0.10")),
    })
    .unwrap();
    let fp1 = Fingerprint::parse(&sim.fingerprint("tappaas1").unwrap()).unwrap();
    let mut p2 = on("tappaas2");
    p2.join_cluster(
        &JoinCluster::new(
            "tappaas1",
            fp1,
            Password::new(common::password(1)),
            Link::new(ip("10.0.0.11")),
        )
        .unwrap(),
    )
    .unwrap();
    p2.add_zfspool_storage(
        &ZfsPoolStorage::new(
            StorageId::new("tank1").unwrap(),
            PoolName::new("tank1").unwrap(),
            vec![node("tappaas1"), node("tappaas2")],
        )
        .unwrap(),
    )
    .unwrap();
    let seen = sim_client(&sim, "tappaas1").storages().unwrap();
    assert!(seen.iter().any(|s| s.storage == "tank1"));
    let e = p2
        .add_zfspool_storage(
            &ZfsPoolStorage::new(
                StorageId::new("tank1").unwrap(),
                PoolName::new("tank1").unwrap(),
                vec![node("tappaas1")],
            )
            .unwrap(),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("storage ID 'tank1' already defined"),
        "{e}"
    );
}

//! The service VM template (image/lib/template.sh) boots in QEMU (TCG), by
//! legacy BIOS and by UEFI, as Proxmox would start a clone of it: a qcow2
//! overlay of the template (larger than the template, as after a resize),
//! a NoCloud seed on a CD (label `cidata`, as Proxmox's cloud-init drive)
//! with meta-data, a network config (version 1, static, as Proxmox writes
//! it) and the user-data of a service, and the QEMU guest agent's port.
//!
//! Checked on the serial console and through the guest agent: cloud-init's
//! final message, `cloud-init status --long` is `done` without errors, the
//! hostname from meta-data, the static address on eth0, the root grown to
//! the disk, the guest agent answering, fresh SSH host keys and machine-id,
//! no failed units, what the service user-data does (its package, files,
//! user and the service answering on its health port), and that
//! `update-grub` (run by a kernel upgrade) works in the VM.
//!
//! The user-data is a catalog entry's, rendered by the installer's catalog
//! code (`tappaas-services`) as first boot renders it: PostgreSQL, whose
//! packages come from Debian's archive, placed on QEMU's user network as
//! if that were its zone; the host then checks the entry's health check
//! (TCP 5432 on the service's address) through a forwarded port. Then a
//! service deployed later (Grafana) gets its role as the node gives it:
//! PostgreSQL's `add-dependant` files and command through the guest agent
//! (twice), and the role logs in with the written password. The UEFI
//! run uses `tests/fixtures/cloud-init/service-user-data.yaml`, a small
//! stand-in service. The test adds a second MIME part, a shell script that
//! prints the report on the serial port once cloud-init is done.
//!
//! The template comes from `TAPPAAS_TEMPLATE` (a qcow2, e.g. the build
//! cache's) or else from the ISO in `TAPPAAS_ISO` (extracted with xorriso
//! and checked against its manifest). Skipped when neither is set, or when
//! the ISO was built with `--no-template`.

#[path = "template/agent.rs"]
mod agent;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use agent::Agent;
use tappaas_vmtests::{
    host_command, iso_under_test, work_dir, Disk, DiskBus, Firmware, NetBackend, Vm, VmConfig,
};

/// One VM at a time: TCG on two cores is slow enough already.
static ONE_VM: Mutex<()> = Mutex::new(());

const TEMPLATE_ENV: &str = "TAPPAAS_TEMPLATE";
const TEMPLATE_ON_ISO: &str = "/.tappaas/templates/debian-cloud.qcow2";
const MAC: &str = "52:54:00:7c:00:01";
/// The clone's disk: larger than the template's 4 GiB, so growpart has work.
const DISK_SIZE: &str = "6G";
/// TCG on two cores, with packages installed from Debian's archive:
/// generous, since the wait ends on the report, not on time.
const DEADLINE: Duration = Duration::from_secs(30 * 60);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cloud-init")
        .join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("paths of the test are UTF-8")
}

fn run(program: &str, args: &[&str]) -> String {
    host_command(program, args)
}

fn sha256(file: &Path) -> String {
    run("sha256sum", &[path(file)])
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `KEY=value` lines (build-info, the template's manifest).
fn key_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
}

fn extract_from_iso(iso: &Path, inside: &str, to: &Path) -> bool {
    let out = Command::new("xorriso")
        .args([
            "-osirrox",
            "on",
            "-indev",
            path(iso),
            "-extract",
            inside,
            path(to),
        ])
        .output()
        .unwrap_or_else(|e| panic!("xorriso: {e} (run scripts/setup-host)"));
    out.status.success() && to.is_file()
}

/// The template to boot: `TAPPAAS_TEMPLATE`, or the one on the ISO, whose
/// checksum must match both build-info and the manifest next to it.
fn template_under_test(name: &str, dir: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(TEMPLATE_ENV) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{TEMPLATE_ENV}={} does not exist", p.display());
        return Some(std::fs::canonicalize(&p).expect("canonical template path"));
    }
    let iso = iso_under_test(name)?;
    let info_path = dir.join("build-info");
    assert!(
        extract_from_iso(&iso, "/.tappaas/build-info", &info_path),
        "{name}: {} has no /.tappaas/build-info",
        iso.display()
    );
    let info = std::fs::read_to_string(&info_path).expect("read build-info");
    let Some(image) = key_value(&info, "TEMPLATE_IMAGE") else {
        println!(
            "SKIPPED {name}: {} was built without the template (--no-template)",
            iso.display()
        );
        return None;
    };
    assert_eq!(
        image, TEMPLATE_ON_ISO,
        "{name}: TEMPLATE_IMAGE in build-info"
    );
    let template = dir.join("debian-cloud.qcow2");
    let manifest = dir.join("debian-cloud.manifest");
    assert!(
        extract_from_iso(&iso, &image, &template),
        "{name}: build-info names {image}, which is not on the ISO"
    );
    let manifest_on_iso = key_value(&info, "TEMPLATE_MANIFEST").expect("TEMPLATE_MANIFEST");
    assert!(
        extract_from_iso(&iso, &manifest_on_iso, &manifest),
        "{name}: build-info names {manifest_on_iso}, which is not on the ISO"
    );
    let manifest = std::fs::read_to_string(&manifest).expect("read the manifest");
    let sum = sha256(&template);
    assert_eq!(
        Some(sum.clone()),
        key_value(&info, "TEMPLATE_IMAGE_SHA256"),
        "{name}: template checksum vs build-info"
    );
    assert_eq!(
        Some(sum),
        key_value(&manifest, "SHA256"),
        "{name}: template checksum vs manifest"
    );
    for key in ["CLOUD_INIT_VERSION", "QEMU_GUEST_AGENT_VERSION", "KERNEL"] {
        assert!(
            key_value(&manifest, key).is_some_and(|v| !v.is_empty()),
            "{name}: manifest has no {key}:\n{manifest}"
        );
    }
    Some(template)
}

/// The shell script part of the user-data: prints the report on ttyS0 once
/// cloud-init has finished (from a unit of its own, since this part runs
/// inside cloud-init's final stage, which `status --wait` waits for).
const REPORT_SCRIPT: &str = r#"#!/bin/sh
set -e
cat >/usr/local/sbin/tappaas-report <<'EOF'
#!/bin/sh
exec >/dev/ttyS0 2>&1
cloud-init status --wait --long >/run/tappaas-ci-status 2>&1
rc=$?
echo TAPPAAS-REPORT-BEGIN
sed 's/^/@@ ci: /' /run/tappaas-ci-status
echo "@@ ci-exit=$rc"
echo "@@ hostname=$(hostname)"
echo "@@ qga=$(systemctl is-active qemu-guest-agent)"
echo "@@ root-mib=$(df -BM --output=size / | tail -n1 | tr -dc 0-9)"
echo "@@ ipv4=$(ip -4 -o addr show scope global | awk '{print $2 "=" $4}' | paste -sd, -)"
echo "@@ machine-id=$(cat /etc/machine-id)"
echo "@@ ssh-host-keys=$(ls /etc/ssh/ssh_host_*_key.pub 2>/dev/null | wc -l)"
echo "@@ sshd=$(systemctl is-active ssh)"
echo "@@ failed-units=$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | paste -sd, -)"
@@SERVICE-CHECKS@@
echo "@@ tappaas-user=$(id -nG tappaas 2>&1)"
echo "@@ tappaas-keys=$(cat /home/tappaas/.ssh/authorized_keys 2>&1)"
update-grub >/run/tappaas-update-grub.log 2>&1
echo "@@ update-grub=$?"
echo "@@ grub-cfg=$(grep -c 'root=UUID=[^ ]* ro .*console=ttyS0' /boot/grub/grub.cfg)"
echo TAPPAAS-REPORT-END
EOF
chmod 755 /usr/local/sbin/tappaas-report
systemd-run --no-block --unit=tappaas-report --property=After=cloud-final.service /usr/local/sbin/tappaas-report
"#;

/// What the seed gives the VM and what the report then checks.
struct Service {
    /// Cloud-config.
    user_data: String,
    /// meta-data's `local-hostname`.
    hostname: String,
    /// What `hostname` says once the user-data has run (it may set the
    /// FQDN).
    expect_hostname: String,
    address: std::net::Ipv4Addr,
    /// Report lines (`echo "@@ key=..."`) for the service's own checks.
    report_lines: &'static str,
    /// A TCP port of the service that the host checks through a forward.
    health_port: Option<u16>,
    /// The entry's `add-dependant` action for a service deployed after
    /// this VM was made, run through the guest agent as the node runs it.
    later_dependant: Option<LaterDependant>,
}

struct LaterDependant {
    action: tappaas_services::DependantAction,
    /// Every dependant's role (the planned ones' and the later one's) and
    /// address, which its pg_hba line names.
    roles: Vec<(String, std::net::Ipv4Addr)>,
}

/// QEMU's user-mode network (10.0.2.0/24: gateway .2, DNS .3) as the zone.
const USER_NET_GATEWAY: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 2, 2);
const USER_NET_DNS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 2, 3);

/// The stand-in service of the fixture file.
fn fixture_service() -> Service {
    Service {
        user_data: std::fs::read_to_string(fixture("service-user-data.yaml"))
            .expect("read tests/fixtures/cloud-init/service-user-data.yaml"),
        hostname: "tmpl-uefi".into(),
        expect_hostname: "tmpl-uefi".into(),
        address: std::net::Ipv4Addr::new(10, 0, 2, 15),
        report_lines: r#"echo "@@ provisioned=$(cat /var/lib/tappaas/provisioned 2>&1)"
echo "@@ health=$(curl -fsS --max-time 20 http://127.0.0.1:8080/health 2>&1)"
echo "@@ service-env=$(stat -c %a:%U /etc/tappaas/service.env 2>&1)""#,
        health_port: None,
        later_dependant: None,
    }
}

/// The catalog's PostgreSQL, rendered as first boot renders it, with its
/// zone moved onto QEMU's user network.
fn catalog_postgresql() -> Service {
    use tappaas_answer::Secret;
    use tappaas_services::{render, render_add_dependant, resolve, Catalog, Context, HealthCheck};
    let catalog = Catalog::embedded().expect("the embedded catalog loads");
    // Authentik is planned with it: its role comes from the user-data.
    let planned = ["postgresql".to_string(), "authentik".to_string()];
    let resolved = resolve(&catalog, &planned).expect("resolve postgresql and authentik");
    let mut ctx = Context::example(&resolved);
    // Passwords of their own, so that a login proves whose it is.
    let authentik_password = "Authentik0planned0password0123456789";
    ctx.secrets
        .insert("authentik", "db-password", Secret::new(authentik_password));
    let zone = &resolved
        .get("postgresql")
        .expect("postgresql resolved")
        .zone;
    ctx.zones = vec![tappaas_answer::Zone {
        name: zone.clone(),
        vlan: 210,
        // The zone's own address is the gateway (the firewall on a node).
        cidr: format!("{USER_NET_GATEWAY}/24").parse().expect("cidr"),
    }];
    ctx.dns_server = USER_NET_DNS.into();
    let r = render(&catalog, &resolved, "postgresql", &ctx).expect("render postgresql");
    // Grafana, deployed later: PostgreSQL's user-data above does not know
    // it, so its role comes from the entry's add-dependant action.
    let mut all = planned.to_vec();
    all.push("grafana".to_string());
    let both = resolve(&catalog, &all).expect("resolve postgresql, authentik and grafana");
    let mut later = Context::example(&both);
    later.zones = ctx.zones.clone();
    later.dns_server = ctx.dns_server;
    later
        .secrets
        .insert("authentik", "db-password", Secret::new(authentik_password));
    later.secrets.insert(
        "grafana",
        "db-password",
        Secret::new("Grafana0later0password0123456789ab"),
    );
    let action = render_add_dependant(&catalog, &both, "postgresql", "grafana", &later)
        .expect("render postgresql's add-dependant for grafana")
        .expect("postgresql has an add-dependant action");
    let grafana = render(&catalog, &both, "grafana", &later).expect("render grafana");
    let authentik = render(&catalog, &both, "authentik", &later).expect("render authentik");
    let port = match r.health {
        HealthCheck::Tcp { address } => address.port(),
        other => panic!("postgresql's health check is TCP in the catalog, not {other:?}"),
    };
    Service {
        user_data: r.user_data,
        hostname: r.entry.name.clone(),
        // The catalog's user-data asks for the FQDN (prefer_fqdn_over_hostname).
        expect_hostname: format!("{}.{}", r.entry.name, ctx.domain),
        address: r.placement.address,
        report_lines: r#"echo "@@ pg=$(systemctl is-active postgresql)"
echo "@@ pg-listen=$(ss -Hltn 'sport = :5432' | awk '{print $4}' | paste -sd, -)"
echo "@@ pg-ensure=$(test -x /usr/local/sbin/tappaas-pg-ensure && echo yes)""#,
        health_port: Some(port),
        later_dependant: Some(LaterDependant {
            action,
            roles: vec![
                ("authentik".into(), authentik.placement.address),
                ("grafana".into(), grafana.placement.address),
            ],
        }),
    }
}

/// The seed's user-data: the service's cloud-config and the report script
/// as a MIME multipart message (cloud-init runs both).
fn user_data(service: &str, report_lines: &str) -> String {
    let report = REPORT_SCRIPT.replace("@@SERVICE-CHECKS@@", report_lines);
    const B: &str = "==TAPPAAS-TEMPLATE-TEST==";
    format!(
        "Content-Type: multipart/mixed; boundary=\"{B}\"\nMIME-Version: 1.0\n\n\
         --{B}\nContent-Type: text/cloud-config; charset=\"utf-8\"\nMIME-Version: 1.0\n\
         Content-Disposition: attachment; filename=\"service.yaml\"\n\n{service}\n\
         --{B}\nContent-Type: text/x-shellscript; charset=\"utf-8\"\nMIME-Version: 1.0\n\
         Content-Disposition: attachment; filename=\"report.sh\"\n\n{report}\n\
         --{B}--\n"
    )
}

/// The NoCloud seed as Proxmox makes it: an ISO labelled `cidata`.
fn seed_iso(dir: &Path, service: &Service, instance: &str) -> PathBuf {
    let seed = dir.join("seed");
    std::fs::create_dir_all(&seed).expect("seed dir");
    std::fs::write(
        seed.join("user-data"),
        user_data(&service.user_data, service.report_lines),
    )
    .expect("write user-data");
    std::fs::write(
        seed.join("meta-data"),
        format!(
            "instance-id: {instance}\nlocal-hostname: {}\n",
            service.hostname
        ),
    )
    .expect("write meta-data");
    // QEMU's user-mode network: 10.0.2.0/24, gateway .2, DNS .3.
    std::fs::write(
        seed.join("network-config"),
        format!(
            "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: '{MAC}'\n    \
             subnets:\n      - type: static\n        address: '{}'\n        netmask: '255.255.255.0'\n        \
             gateway: '{USER_NET_GATEWAY}'\n  - type: nameserver\n    address:\n      - '{USER_NET_DNS}'\n",
            service.address
        ),
    )
    .expect("write network-config");
    let iso = dir.join("seed.iso");
    run(
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-quiet",
            "-o",
            path(&iso),
            "-V",
            "cidata",
            "-J",
            "-r",
            path(&seed),
        ],
    );
    iso
}

/// The report's `@@ key=value` lines (other console output may come between).
fn report_value<'a>(report: &'a str, key: &str) -> Option<&'a str> {
    report.lines().find_map(|l| {
        l.trim_start()
            .strip_prefix("@@ ")?
            .strip_prefix(key)?
            .strip_prefix('=')
    })
}

fn fail(vm: &Vm, what: &str, err: impl std::fmt::Display) -> ! {
    panic!(
        "{}: {what}: {err}\nQEMU said: {}",
        vm.config.name,
        vm.qemu_stderr()
    )
}

fn boot_template(name: &str, firmware: Firmware, service: Service) {
    let dir = work_dir(name);
    std::fs::create_dir_all(&dir).expect("work dir");
    let Some(template) = template_under_test(name, &dir) else {
        return;
    };
    let _one = ONE_VM.lock().unwrap_or_else(|p| p.into_inner());
    let hostname = service.expect_hostname.clone();
    let overlay = dir.join("clone.qcow2");
    run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            path(&template),
            path(&overlay),
            DISK_SIZE,
        ],
    );
    let seed = seed_iso(&dir, &service, &format!("tappaas-template-test-{firmware}"));
    let qga = dir.join("qga.sock");
    // The host reaches the service's port as the node's health check would.
    let forward = service.health_port.map(|port| {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        (free, port)
    });
    let backend = match forward {
        Some((host_port, port)) => NetBackend::UserForward {
            host_port,
            guest: std::net::SocketAddrV4::new(service.address, port),
        },
        None => NetBackend::User,
    };
    let mut config = VmConfig::new(name, &dir)
        .firmware(firmware)
        .memory_mib(1536)
        .cpus(2)
        .nic_with("virtio-net-pci", MAC, backend)
        // Proxmox attaches its cloud-init drive as a CD, too.
        .arg("-drive")
        .arg(&format!(
            "if=none,id=seed,media=cdrom,readonly=on,format=raw,file={}",
            path(&seed)
        ))
        .arg("-device")
        .arg("ide-cd,drive=seed,bus=ide.0")
        .arg("-device")
        .arg("virtio-serial-pci")
        .arg("-chardev")
        .arg(&format!(
            "socket,id=qga0,path={},server=on,wait=off",
            path(&qga)
        ))
        .arg("-device")
        .arg("virtserialport,chardev=qga0,name=org.qemu.guest_agent.0");
    config.disks.push(Disk {
        serial: "TAPPAAS-CLONE".to_string(),
        size: DISK_SIZE.to_string(),
        bus: DiskBus::Virtio,
        image: Some(overlay),
        boot: true,
    });
    let mut vm = config.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));

    let c = &mut vm.console;
    let kernel = match c.expect(r"Linux version \S+", Duration::from_secs(300)) {
        Ok(m) => m,
        Err(e) => fail(&vm, "GRUB did not start the kernel", e),
    };
    println!(
        "{name}: kernel started after {:.1}s ({})",
        kernel.at.as_secs_f64(),
        kernel.text
    );
    let c = &mut vm.console;
    let end = match c.expect(
        r"Cloud-init v\. \S+ finished at [^\n]*Up ([0-9.]+) seconds|Kernel panic|You are in emergency mode",
        DEADLINE,
    ) {
        Ok(m) => m,
        Err(e) => fail(&vm, "cloud-init never finished", e),
    };
    if !end.text.starts_with("Cloud-init") {
        fail(&vm, "the VM did not come up", &end.text);
    }
    println!(
        "{name}: cloud-init finished after {:.1}s from power-on (guest uptime {} s)",
        end.at.as_secs_f64(),
        end.groups.get(1).cloned().flatten().unwrap_or_default()
    );
    let c = &mut vm.console;
    let report = match c.expect(
        r"(?s)TAPPAAS-REPORT-BEGIN\n(.*?)TAPPAAS-REPORT-END",
        Duration::from_secs(300),
    ) {
        Ok(m) => m.groups.get(1).cloned().flatten().unwrap_or_default(),
        Err(e) => fail(&vm, "no report from the guest", e),
    };
    println!(
        "{name}: report after {:.1}s:\n{report}",
        c.elapsed().as_secs_f64()
    );

    let log = vm.serial_log().display().to_string();
    let check = |ok: bool, what: &str| {
        assert!(ok, "{name}: {what}\nreport:\n{report}\nserial log: {log}");
    };
    let value = |key: &str| report_value(&report, key).unwrap_or("").trim().to_string();
    // cloud-init itself.
    check(
        report.contains("@@ ci: status: done"),
        "cloud-init status is not done",
    );
    check(
        report.contains("@@ ci: errors: []"),
        "cloud-init reported errors",
    );
    check(
        value("ci-exit") == "0",
        "cloud-init status did not exit 0 (errors or recoverable errors)",
    );
    check(
        value("hostname") == hostname,
        "the hostname from meta-data (or the user-data's FQDN) was not applied",
    );
    check(
        value("ipv4") == format!("eth0={}/24", service.address),
        "eth0 does not have the static address of the network config",
    );
    check(value("qga") == "active", "qemu-guest-agent is not active");
    let root_mib: u64 = value("root-mib").parse().unwrap_or(0);
    check(
        root_mib > 5 * 1024,
        "the root file system was not grown to the 6 GiB disk",
    );
    let machine_id = value("machine-id");
    check(
        machine_id.len() == 32 && machine_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "no machine-id was generated",
    );
    check(
        value("ssh-host-keys").parse().unwrap_or(0) >= 2,
        "no SSH host keys were generated",
    );
    check(value("sshd") == "active", "sshd is not running");
    check(value("failed-units").is_empty(), "units failed");
    // What the service user-data does.
    if service.health_port.is_none() {
        check(
            value("provisioned").starts_with("jq-"),
            "runcmd did not run, or the package jq is missing",
        );
        check(
            value("health").contains(r#""status": "ok""#),
            "the service does not answer on its health port",
        );
        check(
            value("service-env") == "640:root",
            "write_files: wrong mode or owner",
        );
    } else {
        check(value("pg") == "active", "postgresql is not running");
        check(
            value("pg-listen")
                .split(',')
                .any(|a| a == format!("{}:5432", service.address)),
            "postgresql does not listen on the service's address",
        );
        check(
            value("pg-ensure") == "yes",
            "write_files: tappaas-pg-ensure is missing or not executable",
        );
    }
    if let Some((host_port, port)) = forward {
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], host_port));
        check(
            std::net::TcpStream::connect_timeout(&to, Duration::from_secs(20)).is_ok(),
            &format!(
                "the catalog's health check (TCP {}:{port}) fails from the host",
                service.address
            ),
        );
    }
    check(
        value("tappaas-user")
            .split_whitespace()
            .any(|g| g == "sudo"),
        "the user tappaas is not in sudo",
    );
    check(
        value("tappaas-keys").contains("ssh-ed25519 "),
        "the user's SSH key is missing",
    );

    // A kernel upgrade's update-grub works in the VM (the build wrote the
    // first grub.cfg by hand) and keeps the serial console.
    check(value("update-grub") == "0", "update-grub failed in the VM");
    check(
        value("grub-cfg").parse().unwrap_or(0) >= 1,
        "update-grub's grub.cfg has no entry with root=UUID and console=ttyS0",
    );

    // The agent answers the host (as Proxmox asks it for the VM's addresses).
    let mut agent =
        Agent::connect(&qga).unwrap_or_else(|e| fail(&vm, "the guest agent did not answer", e));
    match agent.call("guest-get-host-name", serde_json::json!({})) {
        Ok(answer) => check(
            answer["host-name"] == serde_json::json!(hostname),
            &format!("the guest agent answered {answer}"),
        ),
        Err(e) => fail(&vm, "the guest agent did not answer", e),
    }
    if let Some(later) = &service.later_dependant {
        later_dependant(&vm, &mut agent, later);
    }
    println!(
        "{name}: checked after {:.1}s; serial log {log}",
        vm.console.elapsed().as_secs_f64()
    );
}

/// A dependant deployed after the service's VM was made: the entry's
/// `add-dependant` files and command through the guest agent, twice (the
/// node may run it again after a crash); then the dependant's role logs in
/// with the password from its file, to its own database.
fn later_dependant(vm: &Vm, agent: &mut Agent, later: &LaterDependant) {
    let action = &later.action;
    let check = |ok: bool, what: &str| {
        if !ok {
            fail(vm, what, "see the serial log");
        }
    };
    for round in 1..=2 {
        for (path, content) in &action.files {
            if let Err(e) = agent.write_file(path, content.expose().as_bytes()) {
                fail(
                    vm,
                    &format!("agent file-write of {path} (round {round})"),
                    e,
                );
            }
        }
        match agent.exec(&action.command) {
            Ok((0, _, _)) => {}
            Ok((code, out, err)) => fail(
                vm,
                &format!("{:?} exited {code} (round {round})", action.command),
                format!("stdout: {out}\nstderr: {err}"),
            ),
            Err(e) => fail(vm, &format!("agent exec of {:?}", action.command), e),
        }
    }
    let sh = |script: String| vec!["/bin/sh".to_string(), "-c".to_string(), script];
    for (ident, address) in &later.roles {
        // Its password from its file (as root: the files are root's),
        // then a login over TCP, where scram checks the password.
        let login = sh(format!(
            "PGPASSWORD=\"$(cat /etc/tappaas/secrets/{ident}.db-password)\" psql -X -h 127.0.0.1 -U {ident} -d {ident} -tAc 'SELECT current_user, current_database()'"
        ));
        match agent.exec(&login) {
            Ok((0, out, _)) => check(
                out.trim() == format!("{ident}|{ident}"),
                &format!("{ident} logged in as something else: {out}"),
            ),
            other => fail(
                vm,
                &format!("{ident} cannot log in with the password in its file"),
                format!("{other:?}"),
            ),
        }
        // One pg_hba line for its address, however often the action ran.
        let hba = sh(format!(
            "grep -cxF 'host {ident} {ident} {address}/32 scram-sha-256' /etc/tappaas/pg_hba.conf"
        ));
        match agent.exec(&hba) {
            Ok((0, out, _)) => check(out.trim() == "1", &format!("{ident}'s pg_hba lines: {out}")),
            other => fail(vm, "reading pg_hba.conf", format!("{other:?}")),
        }
    }
    match agent.exec(&sh("stat -c %a /etc/tappaas/secrets".into())) {
        Ok((0, out, _)) => check(out.trim() == "700", "/etc/tappaas/secrets is not 0700"),
        other => fail(vm, "stat /etc/tappaas/secrets", format!("{other:?}")),
    }
    println!(
        "the planned and the later dependants' roles log in ({} through the guest agent)",
        action.dependant
    );
}

#[test]
fn template_boots_with_cloud_init_by_bios() {
    boot_template("template-bios", Firmware::Bios, catalog_postgresql());
}

// Passed here (docs/iso.md has its figures); left out of CI for time: CI
// must finish in 90 minutes on two cores, and Proxmox starts VMs with
// SeaBIOS unless told otherwise, which the test above covers.
#[test]
#[ignore = "CI time; run with scripts/vm-tests -- --include-ignored template"]
fn template_boots_with_cloud_init_by_uefi() {
    boot_template("template-uefi", Firmware::Uefi, fixture_service());
}

#[test]
fn user_data_is_a_two_part_mime_message() {
    let ud = user_data("#cloud-config\npackages: [jq]\n", "echo \"@@ extra=1\"");
    assert!(ud.starts_with("Content-Type: multipart/mixed; boundary="));
    assert_eq!(ud.matches("--==TAPPAAS-TEMPLATE-TEST==\n").count(), 2);
    assert!(ud.ends_with("--==TAPPAAS-TEMPLATE-TEST==--\n"));
    assert!(ud.contains("text/cloud-config") && ud.contains("packages: [jq]"));
    assert!(ud.contains("text/x-shellscript") && ud.contains("tappaas-report"));
    assert!(ud.contains("@@ extra=1") && !ud.contains("@@SERVICE-CHECKS@@"));
}

#[test]
fn the_catalog_entry_is_placed_on_the_user_network() {
    let s = catalog_postgresql();
    assert!(s.user_data.starts_with("#cloud-config"));
    assert_eq!(s.hostname, "postgresql");
    assert!(s.expect_hostname.starts_with("postgresql."));
    assert_eq!(s.address.octets()[..3], [10, 0, 2]);
    assert!(s.user_data.contains(&format!("{}", s.address)));
    assert_eq!(s.health_port, Some(5432));
}

#[test]
fn report_values_are_found_between_other_lines() {
    let r = "@@ hostname=a\n[  OK  ] Started x\n  @@ qga=active\n@@ ci: status: done\n";
    assert_eq!(report_value(r, "hostname"), Some("a"));
    assert_eq!(report_value(r, "qga"), Some("active"));
    assert_eq!(report_value(r, "sshd"), None);
}

//! The files the installer writes on the node, from the plan.

use tappaas_answer::Answer;

use crate::backup_check::{BACKUP_CHECK_SERVICE_TEXT, BACKUP_CHECK_TIMER_TEXT};
use crate::network::interfaces_file;
use crate::node_config::{NODE_CONFIG_SERVICE_TEXT, NODE_CONFIG_TIMER_TEXT};
use crate::{Address, FileContent, FileSpec, NodePlan, Plan};

pub(crate) const ANSWER_COPY: &str = "/etc/tappaas/answer.toml";
pub(crate) const PLAN_COPY: &str = "/etc/tappaas/plan.json";
pub(crate) const FIRSTBOOT_MARKER: &str = "/etc/tappaas/firstboot-pending";
/// The ZFS module's options on the node (also in its initramfs).
pub(crate) const ZFS_MODULE_OPTIONS: &str = "/etc/modprobe.d/zfs.conf";
pub(crate) const FIRSTBOOT_UNIT: &str = "tappaas-firstboot.service";
/// The peer's password for a join, encrypted with the node's own
/// credential key (systemd-creds); first boot deletes it after the join.
pub const PEER_PASSWORD_CREDENTIAL: &str = "/etc/credstore.encrypted/tappaas-peer-password";

/// The first-boot unit, shipped in the overlay for the installed node.
const FIRSTBOOT_UNIT_TEXT: &str =
    include_str!("../../../overlays/node/etc/systemd/system/tappaas-firstboot.service");

fn text(path: &str, mode: &str, content: String) -> FileSpec {
    FileSpec {
        path: path.into(),
        mode: mode.into(),
        content: FileContent::Text(content),
    }
}

pub(crate) fn node_files(plan: &Plan, answer: &Answer) -> Vec<FileSpec> {
    let node = &plan.node;
    let net = &plan.network;
    let mut files = vec![
        text("/etc/hostname", "0644", format!("{}\n", node.hostname)),
        hosts_file(node, &net.address),
        text("/etc/network/interfaces", "0644", interfaces_file(net)),
    ];
    if let Some(dns) = &net.dns {
        let mut r = String::new();
        if let Some(d) = &node.domain {
            r.push_str(&format!("search {d}\n"));
        }
        r.push_str(&format!("nameserver {dns}\n"));
        files.push(text("/etc/resolv.conf", "0644", r));
    }
    files.push(text(
        "/etc/timezone",
        "0644",
        format!("{}\n", node.timezone),
    ));
    let (layout, variant) = xkb_layout(&node.keyboard);
    files.push(text(
        "/etc/default/keyboard",
        "0644",
        format!(
            "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"{layout}\"\nXKBVARIANT=\"{variant}\"\nXKBOPTIONS=\"\"\nBACKSPACE=\"guess\"\n"
        ),
    ));
    files.push(text(
        ZFS_MODULE_OPTIONS,
        "0644",
        format!(
            "# ZFS ARC maximum: 10% of memory, clamped to 64 MiB..16 GiB, unless the answer set zfs.arc-max.\noptions zfs zfs_arc_max={}\n",
            plan.zfs_arc_max_bytes
        ),
    ));
    if !answer.global.root_ssh_keys.is_empty() {
        let mut keys = answer.global.root_ssh_keys.join("\n");
        keys.push('\n');
        files.push(text("/root/.ssh/authorized_keys", "0600", keys));
    }
    // The kernel command line for proxmox-boot-tool (pve) and GRUB (test).
    files.push(text(
        "/etc/kernel/cmdline",
        "0644",
        format!("{}\n", kernel_cmdline()),
    ));
    files.push(text(
        "/etc/default/grub.d/tappaas.cfg",
        "0644",
        format!(
            "GRUB_CMDLINE_LINUX=\"{}\"\nGRUB_TERMINAL=\"console serial\"\nGRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n",
            kernel_cmdline()
        ),
    ));
    files.push(text(
        &format!("/etc/systemd/system/{FIRSTBOOT_UNIT}"),
        "0644",
        FIRSTBOOT_UNIT_TEXT.to_string(),
    ));
    if let Some(policy) = &plan.snapshots {
        files.push(text(crate::SANOID_CONF, "0644", policy.sanoid_conf()));
        // The daily archive of the node's configuration goes to a
        // snapshot-covered dataset, and the health check reads the
        // policy: both laid only with it.
        for (unit, body) in [
            (crate::NODE_CONFIG_SERVICE, NODE_CONFIG_SERVICE_TEXT),
            (crate::NODE_CONFIG_TIMER, NODE_CONFIG_TIMER_TEXT),
            (crate::BACKUP_CHECK_SERVICE, BACKUP_CHECK_SERVICE_TEXT),
            (crate::BACKUP_CHECK_TIMER, BACKUP_CHECK_TIMER_TEXT),
        ] {
            files.push(text(
                &format!("/etc/systemd/system/{unit}"),
                "0644",
                body.to_string(),
            ));
        }
    }
    if let Some(replication) = &plan.replication {
        files.extend(replication.files());
    }
    // Secrets in the answer serialise as a redaction marker.
    files.push(text(ANSWER_COPY, "0600", redacted_answer(answer)));
    files.push(FileSpec {
        path: PLAN_COPY.into(),
        mode: "0600".into(),
        content: FileContent::ThePlan,
    });
    files.push(text(
        FIRSTBOOT_MARKER,
        "0600",
        "First boot has not finished. tappaas-firstboot.service removes this file when it has.\n"
            .into(),
    ));
    files
}

pub(crate) fn kernel_cmdline() -> String {
    // Both consoles: the first-boot screen on the screen, and the serial
    // port for headless machines.
    format!(
        "root=ZFS={} boot=zfs console=ttyS0,115200n8 console=tty0",
        crate::pools::ROOT_DATASET
    )
}

fn hosts_file(node: &NodePlan, address: &Address) -> FileSpec {
    match address {
        // Proxmox needs the hostname to resolve to the management
        // address, not 127.0.1.1.
        Address::Static(cidr) => {
            let ip = cidr.addr;
            text(
                "/etc/hosts",
                "0644",
                format!(
                    "127.0.0.1 localhost.localdomain localhost\n{ip} {} {}\n\n::1 ip6-localhost ip6-loopback\nfe00::0 ip6-localnet\nff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
                    node.fqdn(),
                    node.hostname
                ),
            )
        }
        Address::FromDhcp => FileSpec {
            path: "/etc/hosts".into(),
            mode: "0644".into(),
            content: FileContent::HostsForLease,
        },
    }
}

fn redacted_answer(answer: &Answer) -> String {
    let body = tappaas_answer::to_toml(answer);
    format!("# The answer this node was installed with. Passwords are redacted.\n{body}")
}

/// Proxmox's keyboard names to X keyboard layout and variant.
pub(crate) fn xkb_layout(keyboard: &str) -> (&'static str, &'static str) {
    match keyboard {
        "de" => ("de", ""),
        "de-ch" => ("ch", ""),
        "dk" => ("dk", ""),
        "en-gb" => ("gb", ""),
        "es" => ("es", ""),
        "fi" => ("fi", ""),
        "fr" => ("fr", ""),
        "fr-be" => ("be", ""),
        "fr-ca" => ("ca", "fr"),
        "fr-ch" => ("ch", "fr"),
        "hu" => ("hu", ""),
        "is" => ("is", ""),
        "it" => ("it", ""),
        "jp" => ("jp", ""),
        "lt" => ("lt", ""),
        "mk" => ("mk", ""),
        "nl" => ("nl", ""),
        "no" => ("no", ""),
        "pl" => ("pl", ""),
        "pt" => ("pt", ""),
        "pt-br" => ("br", ""),
        "se" => ("se", ""),
        "si" => ("si", ""),
        "tr" => ("tr", ""),
        _ => ("us", ""),
    }
}

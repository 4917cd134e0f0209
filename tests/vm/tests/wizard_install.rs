//! The install from the wizard, proven in a VM: the test ISO boots (BIOS,
//! CD) with blank disks, the interactive serial-console entry is chosen,
//! and the wizard is driven key by key over the serial line, each key sent
//! after the screen shows what it should (the output is parsed into a
//! screen by the harness's terminal emulator; no fixed sleeps):
//!
//! 1. welcome, "create a new cluster", the hardware check;
//! 2. disks: the planner's proposal is on screen and accepted with one
//!    key (the focus starts on Next): the large virtio disk boots (rpool),
//!    the two matching virtio disks are tank1 (a mirror), the SATA disk is
//!    tank2;
//! 3. network: the defaults come from the DHCP lease that QEMU's user
//!    network gave the live system (10.0.2.15/24 via 10.0.2.2, DNS
//!    10.0.2.3), and are taken as they are;
//! 4. cluster name, credentials, services (the defaults);
//! 5. the summary lists the four disks to erase; "yes" and the install
//!    button start the install;
//! 6. the progress screen, fed by the real install engine, shows steps
//!    done and the current step's elapsed time, and ends with "is
//!    installed"; Enter reboots, which ends QEMU (-no-reboot).
//!
//! The installed node booting is the unattended install test's part
//! (tests/install.rs): the wizard runs the same engine on the same kind of
//! plan, and CI's time is short.
//!
//! Skipped unless TAPPAAS_ISO names a test-flavour ISO (scripts/vm-tests).

use std::path::Path;
use std::time::{Duration, Instant};

use tappaas_vmtests::{install_vm, iso_under_test, work_dir, Disk, DiskBus, Firmware, Vm};

const PASSWORD: &str = "vm-wizard-Root-Pw-3c9e";
const MAIL: &str = "admin@home.lan";
const MACS: [&str; 2] = ["52:54:00:7c:00:01", "52:54:00:7c:00:02"];
/// TCG on two cores, maybe beside another VM: generous, since every wait
/// ends on what the screen shows.
const BOOT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const KEY_TIMEOUT: Duration = Duration::from_secs(120);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(45 * 60);

// Only one-byte keys: over a serial line the bytes of an escape sequence
// (an arrow key, Shift-Tab) can arrive apart, and crossterm then reads the
// lone ESC as the Esc key. Tab moves the focus.
const TAB: &str = "\t";
const ENTER: &str = "\r";
/// Ctrl-U: clears a text field.
const CLEAR: &str = "\x15";

fn fail(vm: &Vm, what: &str, e: impl std::fmt::Display) -> ! {
    panic!(
        "{}: {what}: {e}\nscreen now:\n{}\nserial log: {}\nQEMU said: {}",
        vm.config.name,
        vm.console.screen(),
        vm.serial_log().display(),
        vm.qemu_stderr()
    )
}

/// The line of the screen with the focus marker (`> ` just inside the
/// box), without the marker.
fn focused(screen: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let mut chars = l.chars();
        let first = chars.next()?;
        let rest: String = if first == '|' || first == '│' {
            chars.collect()
        } else {
            l.to_string()
        };
        rest.strip_prefix("> ").map(|r| r.trim_end().to_string())
    })
}

fn send(vm: &mut Vm, keys: &str) {
    if let Err(e) = vm.console.send(keys) {
        fail(vm, "typing on the serial console", e);
    }
}

/// Waits until the screen shows `pattern` (a regex).
fn expect_screen(vm: &mut Vm, pattern: &str, timeout: Duration) {
    if let Err(e) = vm.console.expect_screen(pattern, timeout) {
        fail(vm, &format!("waiting for /{pattern}/"), e);
    }
}

/// A frame reaches the serial line in pieces: one is complete once the
/// guest has been silent this long (as in boot.rs).
const QUIET: Duration = Duration::from_millis(1000);

/// Waits until the focused line satisfies `want` and the frame is drawn
/// to the end (half a frame can look like a change); returns the line.
fn wait_focus(vm: &mut Vm, what: &str, want: impl Fn(&str) -> bool) -> String {
    if let Err(e) = vm
        .console
        .wait_screen(what, KEY_TIMEOUT, |s| focused(s).filter(|f| want(f)))
    {
        fail(vm, what, e);
    }
    if let Err(e) = vm.console.wait_quiet(QUIET, KEY_TIMEOUT) {
        fail(vm, "the screen to settle", e);
    }
    match vm
        .console
        .wait_screen(what, KEY_TIMEOUT, |s| focused(s).filter(|f| want(f)))
    {
        Ok(line) => line,
        Err(e) => fail(vm, what, e),
    }
}

/// Moves the focus with `key` (forward: it stops at the last item) until
/// the focused line starts with `label`. Each key is sent only after the
/// previous one has moved the focus.
fn focus(vm: &mut Vm, key: &str, label: &str) {
    for _ in 0..40 {
        let now = wait_focus(vm, "a focused item", |_| true);
        if now.starts_with(label) {
            return;
        }
        send(vm, key);
        wait_focus(vm, &format!("the focus to leave '{now}'"), |f| f != now);
    }
    fail(vm, &format!("'{label}' never got the focus"), "40 moves");
}

/// Focuses the text field `label` and replaces its text; `shown` is what
/// the field then shows (stars for a password).
fn type_into(vm: &mut Vm, label: &str, text: &str, shown: &str) {
    focus(vm, TAB, label);
    send(vm, &format!("{CLEAR}{text}"));
    wait_focus(vm, &format!("'{label}' to show what was typed"), |f| {
        f.contains(shown)
    });
}

/// Presses Enter on the focused button and waits for the next screen.
fn next_screen(vm: &mut Vm, key: &str, title: &str) {
    focus(vm, key, "[ Next ]");
    send(vm, ENTER);
    expect_screen(vm, &format!(r"step \d of \d+: {title}"), KEY_TIMEOUT);
}

fn disk(serial: &str, bus: DiskBus, size: &str, dir: &Path) -> Disk {
    Disk {
        boot: serial == "tappaas-boot-0",
        serial: serial.into(),
        size: size.into(),
        bus,
        image: Some(dir.join(format!("{serial}.qcow2"))),
    }
}

fn vm(name: &str, dir: &Path, disks: &[Disk], firmware: Firmware, iso: Option<&Path>) -> Vm {
    install_vm(name, dir, disks, &MACS, firmware, iso)
}

/// Steps 1 to 5: from power-on to the install button.
fn walk_the_wizard(vm: &mut Vm) {
    if let Err(e) = vm
        .console
        .expect(r"TAPPaaS installer \(serial console\)", BOOT_TIMEOUT)
    {
        fail(vm, "no GRUB menu", e);
    }
    send(vm, "s");
    let up = vm.console.wait_screen("the wizard", BOOT_TIMEOUT, |s| {
        if s.contains("The installer exited") {
            Some(Err(()))
        } else if s.contains("step 1 of 9: Welcome") {
            Some(Ok(()))
        } else {
            None
        }
    });
    match up {
        Ok(Ok(())) => {}
        Ok(Err(())) => fail(
            vm,
            "the installer stopped instead of showing the wizard",
            "",
        ),
        Err(e) => fail(vm, "the wizard did not come up", e),
    }
    println!(
        "wizard-install: wizard on screen after {:.0} s",
        vm.console.elapsed().as_secs_f64()
    );

    // 1. Welcome, create (the default), hardware.
    send(vm, ENTER);
    expect_screen(vm, r"step 2 of 9: New cluster or join", KEY_TIMEOUT);
    wait_focus(vm, "create chosen", |f| {
        f.contains("(*) Create a new TAPPaaS cluster")
    });
    send(vm, ENTER);
    expect_screen(vm, r"step 3 of 9: Hardware", KEY_TIMEOUT);
    send(vm, ENTER);
    expect_screen(vm, r"step 4 of 9: Disks", KEY_TIMEOUT);

    // 2. Disks: the proposal (blank disks, so all of them; the installer
    // sr0 never), accepted as it is with Enter on Next, where the focus
    // starts. The summary below checks each disk's role again.
    expect_screen(
        vm,
        r"Proposed: rpool on vda, tank1 mirror on vdb, vdc, tank2 on sda\.",
        KEY_TIMEOUT,
    );
    expect_screen(vm, r"tank1 layout +< mirror >", KEY_TIMEOUT);
    wait_focus(vm, "the focus on Next", |f| f.starts_with("[ Next ]"));
    send(vm, ENTER);
    expect_screen(vm, r"step \d of \d+: Network", KEY_TIMEOUT);

    // 3. The lease's facts are the defaults (read once the whole form,
    // down to its button, is drawn).
    expect_screen(vm, r"Domain .*\n.*\[ Next \]", KEY_TIMEOUT);
    let screen = vm.console.screen();
    for want in [
        "Address/prefix       10.0.2.15/24",
        "Gateway              10.0.2.2",
        "DNS server           10.0.2.3",
    ] {
        if !screen.contains(want) {
            fail(vm, "the network defaults are not the DHCP lease's", want);
        }
    }
    println!("wizard-install: network defaults from the DHCP lease");
    next_screen(vm, TAB, "Cluster: create");

    // 4. The cluster's default name; credentials; the default services.
    next_screen(vm, TAB, "Credentials");
    let stars = "*".repeat(PASSWORD.len());
    type_into(vm, "Root password ", PASSWORD, &stars);
    type_into(vm, "Root password again", PASSWORD, &stars);
    type_into(vm, "Admin e-mail", MAIL, MAIL);
    next_screen(vm, TAB, "Services");
    next_screen(vm, TAB, "Summary");

    // 5. Every disk to erase is listed; confirm and install. (The install
    // button is below the confirmation: it scrolls into view with the
    // focus.)
    expect_screen(vm, r"Type yes to confirm", KEY_TIMEOUT);
    let screen = vm.console.screen();
    for want in [
        "4 disk(s) will be ERASED",
        "vda -> boot",
        "vdb -> tank1",
        "vdc -> tank1",
        "sda -> tank2",
    ] {
        if !screen.contains(want) {
            fail(vm, "the summary does not list the disks to erase", want);
        }
    }
    type_into(vm, "Type yes to confirm", "yes", "yes");
    focus(vm, TAB, "[ Erase these disks and install ]");
    send(vm, ENTER);
}

/// What the progress screen showed on the way to the end.
#[derive(Default, Debug)]
struct Seen {
    most_done: u32,
    total: u32,
    elapsed_shown: bool,
}

/// Step 6: waits for "is installed" (or the failure screen), watching the
/// progress screen on the way.
fn follow_the_install(vm: &mut Vm) -> Seen {
    let progress =
        regex::Regex::new(r"Installing \S+: (\d+) of (\d+) steps done").expect("progress pattern");
    let now = regex::Regex::new(r"Now: \d+\. .+ \((\d+ min )?\d+ s\)").expect("now pattern");
    let mut seen = Seen::default();
    let t = Instant::now();
    let end = vm
        .console
        .wait_screen("the end of the install", INSTALL_TIMEOUT, |s| {
            if let Some(c) = progress.captures(s) {
                let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse().ok());
                seen.most_done = seen.most_done.max(num(1).unwrap_or(0));
                seen.total = num(2).unwrap_or(seen.total);
            }
            seen.elapsed_shown |= now.is_match(s);
            if s.contains("is installed (") {
                Some(Ok(()))
            } else if s.contains("! Step ") && s.contains(" failed: ") {
                Some(Err(()))
            } else {
                None
            }
        });
    match end {
        Ok(Ok(())) => {}
        Ok(Err(())) => fail(vm, "the install failed", "the failure screen is shown"),
        Err(e) => fail(vm, "the install did not finish", e),
    }
    println!(
        "wizard-install: installed in {:.0} s; progress seen: {seen:?}",
        t.elapsed().as_secs_f64()
    );
    seen
}

#[test]
fn the_wizard_installs_a_node_over_the_serial_console() {
    let name = "wizard-install";
    let Some(iso) = iso_under_test(name) else {
        return;
    };
    let started = Instant::now();
    let dir = work_dir(name);
    std::fs::create_dir_all(&dir).expect("work dir");
    // Blank disks, created by the harness.
    let disks = [
        disk("tappaas-boot-0", DiskBus::Virtio, "16G", &dir),
        disk("tappaas-tank1-a", DiskBus::Virtio, "8G", &dir),
        disk("tappaas-tank1-b", DiskBus::Virtio, "8G", &dir),
        disk("tappaas-tank2", DiskBus::Sata, "8G", &dir),
    ];

    let mut live = vm("wizard-live", &dir, &disks, Firmware::Bios, Some(&iso));
    walk_the_wizard(&mut live);
    println!(
        "wizard-install: install confirmed {:.0} s after power-on",
        live.console.elapsed().as_secs_f64()
    );
    let seen = follow_the_install(&mut live);
    assert!(
        seen.total > 0 && seen.most_done > 0,
        "the progress screen never showed steps done: {seen:?}"
    );
    assert!(
        seen.elapsed_shown,
        "the progress screen never showed the current step's elapsed time"
    );
    // The end screen arrives over the serial line in pieces: wait for the
    // whole of it.
    let end = live
        .console
        .wait_screen("the end screen", KEY_TIMEOUT, |s| {
            (s.contains("The node tappaas1.lan is installed")
                && s.contains("https://10.0.2.15:8006"))
            .then_some(())
        });
    if let Err(e) = end {
        fail(&live, "the end screen names the node and its address", e);
    }
    // Enter reboots; -no-reboot makes that the end of QEMU.
    send(&mut live, ENTER);
    if live.wait_exit(Duration::from_secs(300)).is_none() {
        fail(&live, "QEMU did not stop at the reboot", "timeout");
    }
    drop(live);
    // That the installed disk boots, with what was asked, is the unattended
    // install test's part (tests/install.rs); here it would cost CI three
    // more minutes.
    println!(
        "wizard-install: installed from the wizard; whole test {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod focus_tests {
    use super::focused;

    #[test]
    fn the_focused_line_is_found_inside_a_box_or_without_one() {
        let screen = "+ Disks ---+\n|  vda   16.0 GiB  < - >  |\n|> vdb   8.0 GiB  < tank1 >  |\n";
        assert_eq!(
            focused(screen).as_deref(),
            Some("vdb   8.0 GiB  < tank1 >  |")
        );
        assert_eq!(
            focused("│> Cluster name  tappaas_\n").as_deref(),
            Some("Cluster name  tappaas_")
        );
        assert_eq!(
            focused("The node\n\n> [ Reboot ]").as_deref(),
            Some("[ Reboot ]")
        );
        assert_eq!(focused("|  nothing here\n Tab: move"), None);
    }
}

//! Builds and runs a QEMU virtual machine for the installer tests: firmware
//! (SeaBIOS or OVMF), blank disks with chosen serial numbers, NICs with
//! chosen MAC addresses, and the ISO as a CD or a USB stick. Always TCG
//! (KVM does not work on the development machines). The serial port is the
//! QEMU process's stdin/stdout and is wrapped in a [`Console`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::console::Console;

/// Debian's OVMF build (package `ovmf`), 4 MiB flash layout.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// Legacy BIOS (SeaBIOS).
    Bios,
    /// UEFI (OVMF) with its own copy of the variable store.
    Uefi,
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        })
    }
}

/// How the installer ISO is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// A SATA CD-ROM drive.
    Cdrom,
    /// A USB stick (the hybrid image written as is), on an xHCI controller.
    Usb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskBus {
    Virtio,
    Sata,
    Nvme,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub serial: String,
    /// Size for `qemu-img create`, e.g. "8G". Unused when `image` exists.
    pub size: String,
    pub bus: DiskBus,
    /// qcow2 file; default: `<work dir>/<serial>.qcow2`, created blank.
    pub image: Option<PathBuf>,
    /// First in the firmware's boot order, as a user sets the boot disk in
    /// the BIOS setup. Without it SeaBIOS may pick another disk whose GPT
    /// protective MBR looks bootable (a ZFS data disk) and hang there.
    pub boot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetBackend {
    /// QEMU user-mode networking (no host network needed for the guest to
    /// have a link and DHCP).
    User,
    /// User-mode networking with 127.0.0.1:`host_port` forwarded to a TCP
    /// port of the guest (any address on its 10.0.2.0/24), so the host can
    /// check a service as the node would.
    UserForward {
        host_port: u16,
        guest: std::net::SocketAddrV4,
    },
    /// Listens on 127.0.0.1:PORT for another VM (`SocketConnect`).
    SocketListen(u16),
    /// Connects to another VM's `SocketListen` on 127.0.0.1:PORT.
    SocketConnect(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub mac: String,
    /// QEMU device model, e.g. "virtio-net-pci" or "e1000".
    pub model: String,
    pub backend: NetBackend,
}

/// A VM to start. Build with the methods, then [`VmConfig::spawn`].
#[derive(Debug, Clone)]
pub struct VmConfig {
    pub name: String,
    pub work_dir: PathBuf,
    pub firmware: Firmware,
    pub memory_mib: u32,
    pub cpus: u32,
    pub disks: Vec<Disk>,
    pub nics: Vec<Nic>,
    pub boot: Option<(Medium, PathBuf)>,
    pub no_reboot: bool,
    pub extra_args: Vec<String>,
}

impl VmConfig {
    /// A VM named `name` whose disks, firmware variables and logs live in
    /// `work_dir` (created when the VM starts).
    pub fn new(name: &str, work_dir: impl Into<PathBuf>) -> VmConfig {
        VmConfig {
            name: name.to_string(),
            work_dir: work_dir.into(),
            firmware: Firmware::Bios,
            memory_mib: 2048,
            cpus: 2,
            disks: Vec::new(),
            nics: Vec::new(),
            boot: None,
            no_reboot: false,
            extra_args: Vec::new(),
        }
    }

    pub fn firmware(mut self, firmware: Firmware) -> Self {
        self.firmware = firmware;
        self
    }

    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }

    pub fn cpus(mut self, cpus: u32) -> Self {
        self.cpus = cpus;
        self
    }

    /// A blank virtio disk with this serial number.
    pub fn disk(self, serial: &str, size: &str) -> Self {
        self.disk_on(DiskBus::Virtio, serial, size)
    }

    pub fn disk_on(mut self, bus: DiskBus, serial: &str, size: &str) -> Self {
        self.disks.push(Disk {
            boot: false,
            serial: serial.to_string(),
            size: size.to_string(),
            bus,
            image: None,
        });
        self
    }

    /// A virtio NIC on user-mode networking.
    pub fn nic(self, mac: &str) -> Self {
        self.nic_with("virtio-net-pci", mac, NetBackend::User)
    }

    pub fn nic_with(mut self, model: &str, mac: &str, backend: NetBackend) -> Self {
        self.nics.push(Nic {
            mac: mac.to_string(),
            model: model.to_string(),
            backend,
        });
        self
    }

    /// Boot from this ISO, attached as a CD or a USB stick.
    pub fn boot_from(mut self, medium: Medium, iso: impl Into<PathBuf>) -> Self {
        self.boot = Some((medium, iso.into()));
        self
    }

    /// Exit instead of rebooting (e.g. to notice the end of an install).
    pub fn no_reboot(mut self) -> Self {
        self.no_reboot = true;
        self
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_string());
        self
    }

    fn disk_path(&self, index: usize) -> PathBuf {
        let d = &self.disks[index];
        d.image
            .clone()
            .unwrap_or_else(|| self.work_dir.join(format!("{}.qcow2", d.serial)))
    }

    fn vars_path(&self) -> PathBuf {
        self.work_dir.join("OVMF_VARS.fd")
    }

    /// The QEMU arguments (without the program name). Pure: creates nothing.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |s: &[&str]| a.extend(s.iter().map(|x| x.to_string()));
        push(&["-name", &self.name, "-accel", "tcg", "-cpu", "max"]);
        push(&[
            "-smp",
            &self.cpus.to_string(),
            "-m",
            &self.memory_mib.to_string(),
        ]);
        push(&[
            "-machine",
            "q35",
            "-nodefaults",
            "-display",
            "none",
            "-vga",
            "std",
        ]);
        // q35's TCO watchdog runs from power-on and Linux's iTCO_wdt keeps
        // it fed; under TCG on a busy host the guest can stall past its
        // 30 s and QEMU resets it, which with -no-reboot ends the VM in
        // mid-boot with no message. A hang is the test's timeout to find.
        push(&["-action", "watchdog=none"]);
        // The serial port is our stdin/stdout; no monitor on it.
        push(&[
            "-chardev",
            "stdio,id=ser0,signal=off",
            "-serial",
            "chardev:ser0",
            "-monitor",
            "none",
        ]);
        if self.firmware == Firmware::Uefi {
            push(&[
                "-drive",
                &format!("if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"),
            ]);
            push(&[
                "-drive",
                &format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    self.vars_path().display()
                ),
            ]);
        }
        if let Some((medium, iso)) = &self.boot {
            let iso = iso.display();
            match medium {
                Medium::Cdrom => {
                    push(&[
                        "-drive",
                        &format!("if=none,id=boot,media=cdrom,readonly=on,format=raw,file={iso}"),
                    ]);
                    push(&["-device", "ide-cd,drive=boot,bus=ide.0,bootindex=0"]);
                }
                Medium::Usb => {
                    push(&["-device", "qemu-xhci,id=xhci"]);
                    push(&[
                        "-drive",
                        &format!("if=none,id=boot,readonly=on,format=raw,file={iso}"),
                    ]);
                    push(&[
                        "-device",
                        "usb-storage,bus=xhci.0,drive=boot,removable=on,bootindex=0",
                    ]);
                }
            }
        }
        // SATA ports after the one the CD uses (q35's AHCI has six).
        let mut sata_port = 1;
        for (i, d) in self.disks.iter().enumerate() {
            let path = self.disk_path(i);
            push(&[
                "-drive",
                &format!("if=none,id=disk{i},format=qcow2,file={}", path.display()),
            ]);
            let mut dev = match d.bus {
                DiskBus::Virtio => format!("virtio-blk-pci,drive=disk{i},serial={}", d.serial),
                DiskBus::Sata => {
                    let s = format!(
                        "ide-hd,drive=disk{i},bus=ide.{sata_port},serial={}",
                        d.serial
                    );
                    sata_port += 1;
                    s
                }
                DiskBus::Nvme => format!("nvme,drive=disk{i},serial={}", d.serial),
            };
            if d.boot {
                dev.push_str(",bootindex=1");
            }
            push(&["-device", &dev]);
        }
        for (i, n) in self.nics.iter().enumerate() {
            let backend = match &n.backend {
                NetBackend::User => format!("user,id=net{i}"),
                NetBackend::UserForward { host_port, guest } => format!(
                    "user,id=net{i},hostfwd=tcp:127.0.0.1:{host_port}-{}:{}",
                    guest.ip(),
                    guest.port()
                ),
                NetBackend::SocketListen(p) => format!("socket,id=net{i},listen=127.0.0.1:{p}"),
                NetBackend::SocketConnect(p) => format!("socket,id=net{i},connect=127.0.0.1:{p}"),
            };
            push(&["-netdev", &backend]);
            push(&[
                "-device",
                &format!("{},netdev=net{i},mac={}", n.model, n.mac),
            ]);
        }
        if self.no_reboot {
            push(&["-no-reboot"]);
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }

    /// Creates the blank disks and the firmware variable store, starts QEMU
    /// and opens its serial console (logged to `<work dir>/serial.log`).
    pub fn spawn(self) -> Result<Vm, String> {
        std::fs::create_dir_all(&self.work_dir)
            .map_err(|e| format!("creating {}: {e}", self.work_dir.display()))?;
        for i in 0..self.disks.len() {
            let path = self.disk_path(i);
            if self.disks[i].image.is_some() && path.exists() {
                continue;
            }
            let _ = std::fs::remove_file(&path);
            let out = Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2"])
                .arg(&path)
                .arg(&self.disks[i].size)
                .output()
                .map_err(|e| format!("running qemu-img (run scripts/setup-host): {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "qemu-img create {} failed: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        if self.firmware == Firmware::Uefi {
            std::fs::copy(OVMF_VARS, self.vars_path()).map_err(|e| {
                format!("copying {OVMF_VARS} (install ovmf: scripts/setup-host): {e}")
            })?;
        }
        // QEMU does not retry a socket link's connect: started before its
        // peer listens, the NIC stays unplugged for good (QEMU 10 runs on
        // without a word), so the connecting VM waits for the listener.
        for nic in &self.nics {
            if let NetBackend::SocketConnect(port) = nic.backend {
                wait_for_listener(port, std::time::Duration::from_secs(60))?;
            }
        }
        let qemu =
            std::env::var("TAPPAAS_QEMU").unwrap_or_else(|_| "qemu-system-x86_64".to_string());
        let args = self.args();
        self.start(&qemu, &args)
    }

    /// Runs `program` (which starts QEMU with its serial port on stdio,
    /// e.g. scripts/try) instead of building a VM from this configuration:
    /// only the name and the work directory are used.
    pub fn spawn_command(self, program: &str, args: &[String]) -> Result<Vm, String> {
        std::fs::create_dir_all(&self.work_dir)
            .map_err(|e| format!("creating {}: {e}", self.work_dir.display()))?;
        self.start(program, args)
    }

    fn start(self, program: &str, args: &[String]) -> Result<Vm, String> {
        let qemu = program;
        let stderr_path = self.work_dir.join("qemu.stderr");
        let stderr = std::fs::File::create(&stderr_path)
            .map_err(|e| format!("creating {}: {e}", stderr_path.display()))?;
        std::fs::write(
            self.work_dir.join("qemu.cmdline"),
            format!("{qemu} {}\n", args.join(" ")),
        )
        .map_err(|e| format!("writing the command line: {e}"))?;
        let mut child = Command::new(qemu)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("starting {qemu} (run scripts/setup-host): {e}"))?;
        let started = Instant::now();
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err("QEMU's stdio was not captured".to_string());
        };
        let console = match Console::new(stdout, stdin, &self.work_dir.join("serial.log")) {
            Ok(c) => c,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("opening the serial log: {e}"));
            }
        };
        Ok(Vm {
            config: self,
            child,
            console,
            started,
        })
    }
}

/// A running VM. QEMU is killed when this is dropped.
pub struct Vm {
    pub config: VmConfig,
    pub console: Console,
    child: Child,
    started: Instant,
}

impl Vm {
    /// Time since QEMU was started ("power-on").
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn work_dir(&self) -> &Path {
        &self.config.work_dir
    }

    pub fn serial_log(&self) -> &Path {
        self.console.log_path()
    }

    /// QEMU's own messages so far (errors about options, firmware...).
    pub fn qemu_stderr(&self) -> String {
        std::fs::read_to_string(self.config.work_dir.join("qemu.stderr")).unwrap_or_default()
    }

    /// Waits up to `timeout` for QEMU to exit by itself (e.g. after a
    /// power-off with `no_reboot`), polling its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops QEMU now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something listens on 127.0.0.1:`port` (read from the
/// kernel's socket table: a test connection would be taken by QEMU as its
/// one peer).
fn wait_for_listener(port: u16, limit: std::time::Duration) -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp")
            .map_err(|e| format!("reading /proc/net/tcp: {e}"))?;
        if listens_on_loopback(&table, port) {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!(
                "nothing listens on 127.0.0.1:{port} after {} s: start the VM with \
                 NetBackend::SocketListen({port}) first",
                limit.as_secs()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Whether `/proc/net/tcp` text has a socket in LISTEN (state 0A) on
/// 127.0.0.1:`port` or on any address.
fn listens_on_loopback(table: &str, port: u16) -> bool {
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && wanted.iter().any(|w| w == fields[1]) && fields[3] == "0A"
    })
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "VM {}: serial log {}, QEMU command line and messages in {}",
                self.config.name,
                self.console.log_path().display(),
                self.config.work_dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(c: &VmConfig) -> String {
        c.args().join(" ")
    }

    #[test]
    fn bios_cdrom_with_disks_and_nics() {
        let c = VmConfig::new("t", "/w")
            .boot_from(Medium::Cdrom, "/x/a.iso")
            .disk("TAPPAAS-DISK1", "8G")
            .disk_on(DiskBus::Sata, "TAPPAAS-DISK2", "8G")
            .disk_on(DiskBus::Nvme, "TAPPAAS-DISK3", "8G")
            .nic("52:54:00:00:00:01")
            .nic_with("e1000", "52:54:00:00:00:02", NetBackend::SocketListen(4444));
        let a = joined(&c);
        assert!(a.contains("-accel tcg"), "{a}");
        assert!(!a.contains("pflash"), "{a}");
        assert!(
            a.contains("file=/x/a.iso") && a.contains("ide-cd,drive=boot,bus=ide.0,bootindex=0"),
            "{a}"
        );
        assert!(
            a.contains("virtio-blk-pci,drive=disk0,serial=TAPPAAS-DISK1"),
            "{a}"
        );
        assert!(a.contains("file=/w/TAPPAAS-DISK1.qcow2"), "{a}");
        assert!(
            a.contains("ide-hd,drive=disk1,bus=ide.1,serial=TAPPAAS-DISK2"),
            "{a}"
        );
        assert!(a.contains("nvme,drive=disk2,serial=TAPPAAS-DISK3"), "{a}");
        assert!(
            a.contains(
                "-netdev user,id=net0 -device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01"
            ),
            "{a}"
        );
        assert!(a.contains("socket,id=net1,listen=127.0.0.1:4444"), "{a}");
        assert!(a.contains("e1000,netdev=net1,mac=52:54:00:00:00:02"), "{a}");
        assert!(a.contains("-serial chardev:ser0"), "{a}");
    }

    #[test]
    fn a_listener_is_found_in_the_socket_table_and_a_connection_is_not() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CF9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:9C40 0100007F:0CF9 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
";
        assert!(listens_on_loopback(table, 3321));
        assert!(listens_on_loopback(table, 22));
        // 40000 is only the local end of an established connection.
        assert!(!listens_on_loopback(table, 40000));
        assert!(!listens_on_loopback(table, 3322));
    }

    #[test]
    fn uefi_usb() {
        let c = VmConfig::new("t", "/w")
            .firmware(Firmware::Uefi)
            .boot_from(Medium::Usb, "/x/a.iso")
            .no_reboot();
        let a = joined(&c);
        assert!(a.contains(&format!("readonly=on,file={OVMF_CODE}")), "{a}");
        assert!(a.contains("unit=1,file=/w/OVMF_VARS.fd"), "{a}");
        assert!(
            a.contains("usb-storage,bus=xhci.0,drive=boot,removable=on,bootindex=0"),
            "{a}"
        );
        assert!(a.contains("-no-reboot"), "{a}");
        // A stalled guest is not reset (and so ended) by q35's watchdog.
        assert!(a.contains("-action watchdog=none"), "{a}");
    }
}

//! The OPNsense firewall of TAPPaaS.
//!
//! OPNsense has no cloud-init, so the installer writes the whole
//! configuration itself and puts it in place through the VM's serial
//! console:
//!
//! * [`render_config`] turns [`FirewallSettings`] (plain data the plan fills
//!   in) into a complete `config.xml`, after [`FirewallSettings::validate`]
//!   has checked it;
//! * [`ConsoleSession`] follows the console's own prompts (login, menu,
//!   shell), uploads the file in checked pieces, verifies its SHA-256 on the
//!   firewall, moves it into place and reloads the services;
//! * [`check_reachable`] then checks the firewall over the network.
//!
//! `emulator` (feature `emulator`, tests only) plays OPNsense's console for
//! tests of code that drives it.
//!
//! See `docs/firewall.md` for what is verified here and what only on a real
//! OPNsense.

#![forbid(unsafe_code)]

mod config;
mod console;
#[cfg(feature = "emulator")]
pub mod emulator;
mod password;
mod reach;
mod settings;

pub use config::render_config;
pub use console::{
    install_config, CommandOutput, ConsoleError, ConsoleEvent, ConsoleFailure, ConsoleSession,
    ConsoleStream, ConsoleTimeouts, Credentials, CONFIG_PATH, DEFAULT_PASSWORD, DEFAULT_USER,
    MENU_PROMPT, RELOAD_ALL,
};
pub use password::{is_bcrypt_hash, verify_password, BCRYPT_COST};
pub use reach::{check_reachable, NotReachable, Reachable};
pub use settings::{
    default_dhcp_range, hash_password, DhcpRange, Error, FirewallSettings, Ipv4Cidr, Wan, Zone,
    LAN_DEVICE, WAN_DEVICE,
};

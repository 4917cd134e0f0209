//! Network interfaces: `/sys/class/net/*` plus their udev records and
//! the live system's DHCP lease on each.

use std::path::Path;

use super::{kernel_name_order, lease, sysfs, udev, ProbeError};
use crate::profile::Nic;

pub(crate) fn probe_nics(sysroot: &Path) -> Result<Vec<Nic>, ProbeError> {
    let class = sysroot.join("sys/class/net");
    let mut nics = Vec::new();
    for name in sysfs::list_dir(&class)? {
        let dir = class.join(&name);
        // Only hardware has a `device` link; bridges, bonds, veth, tun,
        // ifb and the loopback are software the installed system recreates.
        if name == "lo" || !dir.join("device").exists() {
            continue;
        }
        let mac = sysfs::attr(&dir.join("address"))?.unwrap_or_default();
        let driver = sysfs::link_basename(&dir.join("device/driver"));
        // Both read as EINVAL while the interface is down.
        let link = match sysfs::attr(&dir.join("carrier")) {
            Ok(Some(c)) if c == "1" => Some(true),
            Ok(Some(c)) if c == "0" => Some(false),
            _ => None,
        };
        let speed_mbps = sysfs::attr(&dir.join("speed"))
            .ok()
            .flatten()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|s| *s > 0)
            .and_then(|s| u32::try_from(s).ok());
        let ifindex = sysfs::optional_u64(&dir.join("ifindex"))?;
        let dhcp = match ifindex {
            Some(index) => lease::read_lease(sysroot, index)?,
            None => None,
        };
        let mut udev = match ifindex {
            Some(index) => {
                let mut props = udev::read_record(sysroot, &format!("n{index}"))?.properties;
                // The kernel's own properties, which `udevadm info` shows
                // and answer filters (e.g. INTERFACE) match.
                props.insert("IFINDEX".into(), index.to_string());
                props
            }
            None => Default::default(),
        };
        udev.insert("INTERFACE".into(), name.clone());
        udev.insert("SUBSYSTEM".into(), "net".into());
        nics.push(Nic {
            name,
            mac,
            driver,
            link,
            speed_mbps,
            udev,
            dhcp,
        });
    }
    nics.sort_by(|a, b| kernel_name_order(&a.name, &b.name));
    Ok(nics)
}

//! The udev database (`/run/udev/data/<type><major>:<minor>`).
//!
//! Each line is `<kind>:<value>`; `E:` lines are properties (`KEY=VALUE`),
//! `S:` lines are symlinks below `/dev`. Other kinds (tags, timestamps) are
//! of no use to the installer.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use super::{sysfs, ProbeError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdevRecord {
    pub properties: BTreeMap<String, String>,
    /// Symlinks relative to `/dev`, e.g. `disk/by-id/ata-...`.
    pub links: Vec<String>,
}

impl UdevRecord {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The `/dev/disk/by-id` names, without the prefix, best first.
    pub fn by_id(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .links
            .iter()
            .filter_map(|l| l.strip_prefix("disk/by-id/"))
            .filter(|l| !l.is_empty() && !l.contains('/'))
            .map(str::to_string)
            .collect();
        ids.sort_by(|a, b| by_id_order(a, b));
        ids.dedup();
        ids
    }

    /// The `/dev/disk/by-path` name (without the prefix) udev makes from
    /// `ID_PATH`; its other by-path links (`virtio-pci-...`, ATA's
    /// compatibility names) name the same slot.
    pub fn by_path(&self) -> Option<String> {
        let id_path = self.get("ID_PATH")?;
        self.links
            .iter()
            .filter_map(|l| l.strip_prefix("disk/by-path/"))
            .find(|l| *l == id_path)
            .map(str::to_string)
    }
}

/// Parses the text of one udev database file. Unknown line kinds are
/// ignored, so newer udev versions keep working.
pub fn parse_udev_db(text: &str) -> UdevRecord {
    let mut record = UdevRecord::default();
    for line in text.lines() {
        if let Some(prop) = line.strip_prefix("E:") {
            if let Some((key, value)) = prop.split_once('=') {
                record.properties.insert(key.to_string(), value.to_string());
            }
        } else if let Some(link) = line.strip_prefix("S:") {
            if !link.is_empty() {
                record.links.push(link.to_string());
            }
        }
    }
    record
}

/// Reads `run/udev/data/<id>`; a missing database (no udev, or a device
/// udev has not processed) is an empty record.
pub(crate) fn read_record(sysroot: &Path, id: &str) -> Result<UdevRecord, ProbeError> {
    let path = sysroot.join("run/udev/data").join(id);
    Ok(sysfs::read_optional(&path)?
        .map(|text| parse_udev_db(&text))
        .unwrap_or_default())
}

/// How good a by-id name is as the disk's permanent address: names people
/// can match against the label on the disk (model + serial) first, names
/// derived from the WWN/EUI last (they are correct but unreadable).
fn by_id_rank(id: &str) -> u8 {
    if id.starts_with("wwn-") || id.starts_with("nvme-eui.") || id.starts_with("nvme-nvme.") {
        7
    } else if id.starts_with("ata-") {
        0
    } else if id.starts_with("nvme-") {
        1
    } else if id.starts_with("scsi-S") {
        // sg3-utils' vendor_model_serial form.
        2
    } else if id.starts_with("scsi-") {
        3
    } else if id.starts_with("usb-") {
        4
    } else if id.starts_with("virtio-") {
        5
    } else if id.starts_with("lvm-pv-") || id.starts_with("md-") || id.starts_with("dm-") {
        // These name the contents, which an install replaces.
        8
    } else {
        // Other buses (`mmc-NAME_SERIAL`, `memstick-`, ...).
        6
    }
}

pub fn by_id_order(a: &str, b: &str) -> Ordering {
    by_id_rank(a)
        .cmp(&by_id_rank(b))
        // `nvme-MODEL_SERIAL` before `nvme-MODEL_SERIAL_1` (namespace).
        .then(a.len().cmp(&b.len()))
        .then(a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SATA_DB: &str = "\
S:disk/by-id/wwn-0x5002538f4123abcd
S:disk/by-path/pci-0000:00:17.0-ata-1.0
S:disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PTNM0T123456A
S:disk/by-diskseq/1
I:2073716
E:ID_ATA=1
E:ID_BUS=ata
E:ID_MODEL=Samsung_SSD_870_EVO_1TB
E:ID_SERIAL_SHORT=S6PTNM0T123456A
E:ID_FS_LABEL=a=b
E:EMPTY=
E:garbage line without equals
G:systemd
Q:systemd
V:1
";

    #[test]
    fn parses_properties_and_links() {
        let r = parse_udev_db(SATA_DB);
        assert_eq!(r.get("ID_BUS"), Some("ata"));
        assert_eq!(r.get("ID_SERIAL_SHORT"), Some("S6PTNM0T123456A"));
        // Only the first '=' separates key and value.
        assert_eq!(r.get("ID_FS_LABEL"), Some("a=b"));
        assert_eq!(r.properties.get("EMPTY").map(String::as_str), Some(""));
        assert_eq!(r.get("EMPTY"), None);
        assert!(!r.properties.contains_key("garbage line without equals"));
        assert_eq!(r.links.len(), 4);
        // No ID_PATH: no by-path name, whatever links there are.
        assert_eq!(r.by_path(), None);
        let virtio = parse_udev_db(
            "S:disk/by-path/virtio-pci-0000:00:04.0\nS:disk/by-path/pci-0000:00:04.0\n\
             E:ID_PATH=pci-0000:00:04.0\n",
        );
        assert_eq!(virtio.by_path().as_deref(), Some("pci-0000:00:04.0"));
        assert_eq!(
            r.by_id(),
            [
                "ata-Samsung_SSD_870_EVO_1TB_S6PTNM0T123456A",
                "wwn-0x5002538f4123abcd"
            ]
        );
    }

    #[test]
    fn by_id_prefers_model_serial_names() {
        let r = parse_udev_db(
            "S:disk/by-id/nvme-eui.002538b811b2c3d4\n\
             S:disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456_1\n\
             S:disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456\n",
        );
        assert_eq!(
            r.by_id(),
            [
                "nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456",
                "nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456_1",
                "nvme-eui.002538b811b2c3d4"
            ]
        );
        let sas = parse_udev_db(
            "S:disk/by-id/wwn-0x5000c500a1b2c3d7\nS:disk/by-id/scsi-35000c500a1b2c3d7\n",
        );
        assert_eq!(
            sas.by_id(),
            ["scsi-35000c500a1b2c3d7", "wwn-0x5000c500a1b2c3d7"]
        );
    }

    #[test]
    fn by_id_ranks_every_kind() {
        let mut ids = vec![
            "lvm-pv-uuid-abc",
            "wwn-0x5000c500a1b2c3d7",
            "virtio-tappaas-boot-0",
            "usb-SanDisk_Ultra_4C53-0:0",
            "scsi-35000c500a1b2c3d7",
            "scsi-SSEAGATE_ST8000NM0185_ZA1",
            "nvme-eui.0025385401b2c3d4",
            "mmc-SD32G_0x1234",
            "nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EW",
            "ata-WDC_WD40EFZX-68AWUN0_WD-WX12",
        ];
        ids.sort_by(|a, b| by_id_order(a, b));
        assert_eq!(
            ids,
            [
                "ata-WDC_WD40EFZX-68AWUN0_WD-WX12",
                "nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EW",
                "scsi-SSEAGATE_ST8000NM0185_ZA1",
                "scsi-35000c500a1b2c3d7",
                "usb-SanDisk_Ultra_4C53-0:0",
                "virtio-tappaas-boot-0",
                "mmc-SD32G_0x1234",
                "wwn-0x5000c500a1b2c3d7",
                "nvme-eui.0025385401b2c3d4",
                "lvm-pv-uuid-abc",
            ]
        );
    }

    #[test]
    fn empty_and_odd_input() {
        assert_eq!(parse_udev_db(""), UdevRecord::default());
        let r = parse_udev_db("X:unknown\nS:\nE:\n\n");
        assert!(r.properties.is_empty() && r.links.is_empty());
    }
}

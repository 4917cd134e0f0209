use std::fmt;

use serde::{Serialize, Serializer};

/// Something that stops the plan: what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanError {
    /// The answer key the problem comes from, when there is one.
    pub key: Option<AnswerKey>,
    /// The answer key whose consent would lift the problem, when that is
    /// a way out (e.g. `node.erase-disks-with-data` for a disk with data),
    /// so that a front end need not read it from the hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<AnswerKey>,
    pub message: String,
    pub hint: String,
}

/// A section of the answer the planner speaks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    DiskSetup,
    Tank1,
    Tank2,
    Node,
    Network,
    Bridges,
    Firewall,
    Backup,
}

impl Section {
    /// As the answer file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::DiskSetup => "disk-setup",
            Section::Tank1 => "tank1",
            Section::Tank2 => "tank2",
            Section::Node => "node",
            Section::Network => "network",
            Section::Bridges => "bridges",
            Section::Firewall => "firewall",
            Section::Backup => "backup.replication",
        }
    }

    /// This section's key `field`.
    pub fn key(self, field: Field) -> AnswerKey {
        AnswerKey {
            section: self,
            field: Some(field),
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key inside a section that the planner speaks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    DiskList,
    Filter,
    /// `zfs.raid` of `[disk-setup]`.
    ZfsRaid,
    /// `zfs.hdsize` of `[disk-setup]`.
    ZfsHdsize,
    Layout,
    Existing,
    BootRemainder,
    EraseDisksWithData,
    RenameOldRpool,
    Cidr,
    WanFilter,
    LanAddress,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::DiskList => "disk-list",
            Field::Filter => "filter",
            Field::ZfsRaid => "zfs.raid",
            Field::ZfsHdsize => "zfs.hdsize",
            Field::Layout => "layout",
            Field::Existing => "existing",
            Field::BootRemainder => "boot-remainder",
            Field::EraseDisksWithData => "erase-disks-with-data",
            Field::RenameOldRpool => "rename-old-rpool",
            Field::Cidr => "cidr",
            Field::WanFilter => "wan-filter",
            Field::LanAddress => "lan-address",
        }
    }
}

/// An answer key: a section, or a key in it. Printed as the answer file
/// spells it (`tank1.disk-list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    pub section: Section,
    pub field: Option<Field>,
}

impl AnswerKey {
    pub const ERASE_DISKS_WITH_DATA: AnswerKey = AnswerKey {
        section: Section::Node,
        field: Some(Field::EraseDisksWithData),
    };
}

impl From<Section> for AnswerKey {
    fn from(section: Section) -> Self {
        AnswerKey {
            section,
            field: None,
        }
    }
}

impl fmt::Display for AnswerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.section.as_str())?;
        if let Some(field) = self.field {
            write!(f, ".{}", field.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for AnswerKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PlanError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        PlanError {
            key: None,
            consent: None,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn at(
        key: impl Into<AnswerKey>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        PlanError {
            key: Some(key.into()),
            consent: None,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// `consent` in the answer would lift this problem.
    pub fn lifted_by(mut self, consent: AnswerKey) -> Self {
        self.consent = Some(consent);
        self
    }

    /// Whether the key is `section` or a key in it.
    pub fn is_under(&self, section: Section) -> bool {
        self.key.is_some_and(|k| k.section == section)
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  what to do: {}", self.hint)?;
        }
        Ok(())
    }
}

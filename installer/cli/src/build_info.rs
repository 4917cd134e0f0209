//! What the ISO says about itself: `/usr/share/tappaas/build-info`, written
//! by the image build as KEY=value lines.

use std::path::Path;

use tappaas_plan::{Environment, Flavour};

pub const BUILD_INFO_PATH: &str = "/usr/share/tappaas/build-info";
/// Tests and developers point this at another file.
pub const BUILD_INFO_ENV: &str = "TAPPAAS_BUILD_INFO";
/// Where live-boot mounts the medium the installer was booted from.
const MEDIUM_ROOT: &str = "/run/live/medium";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    pub flavour: Option<Flavour>,
    pub debian_suite: Option<String>,
    pub build_date: Option<String>,
    /// Path of the target image on the medium (`/.tappaas/...`).
    pub target_image: Option<String>,
    /// Paths on the medium of the VM images first boot deploys from, when
    /// the ISO carries them.
    pub firewall_image: Option<String>,
    pub service_template: Option<String>,
}

impl BuildInfo {
    pub fn parse(text: &str) -> BuildInfo {
        let mut info = BuildInfo::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').to_string();
            match key.trim() {
                "FLAVOUR" => {
                    info.flavour = match value.as_str() {
                        "pve" => Some(Flavour::Pve),
                        "test" => Some(Flavour::Test),
                        _ => None,
                    }
                }
                "DEBIAN_SUITE" => info.debian_suite = Some(value),
                "BUILD_DATE" => info.build_date = Some(value),
                "TARGET_IMAGE" => info.target_image = Some(value),
                "FIREWALL_IMAGE" => info.firewall_image = Some(value),
                "TEMPLATE_IMAGE" => info.service_template = Some(value),
                _ => {}
            }
        }
        info
    }

    /// The running ISO's build info, or `None` when not running from one.
    pub fn load() -> Option<BuildInfo> {
        let path = std::env::var(BUILD_INFO_ENV).unwrap_or_else(|_| BUILD_INFO_PATH.to_string());
        std::fs::read_to_string(Path::new(&path))
            .ok()
            .map(|t| BuildInfo::parse(&t))
    }

    /// The planner's environment: this ISO's, with defaults off an ISO.
    pub fn environment(&self) -> Environment {
        let mut env = Environment::default();
        if let Some(f) = self.flavour {
            env.flavour = f;
            env.target_image = format!("{MEDIUM_ROOT}/.tappaas/target-{f}.squashfs");
        }
        if let Some(img) = &self.target_image {
            env.target_image = format!("{MEDIUM_ROOT}{img}");
        }
        // On an ISO, only what it says it carries.
        env.firewall_image = self
            .firewall_image
            .as_ref()
            .map(|p| format!("{MEDIUM_ROOT}{p}"));
        env.service_template = self
            .service_template
            .as_ref()
            .map(|p| format!("{MEDIUM_ROOT}{p}"));
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_build_info_and_derives_the_target_image() {
        let info = BuildInfo::parse(
            "FLAVOUR=test\nDEBIAN_SUITE=trixie\nBUILD_DATE=2026-11-22\nTARGET_IMAGE=/.tappaas/target-test.squashfs\n",
        );
        assert_eq!(info.flavour, Some(Flavour::Test));
        assert_eq!(info.debian_suite.as_deref(), Some("trixie"));
        let env = info.environment();
        assert_eq!(env.flavour, Flavour::Test);
        assert_eq!(
            env.target_image,
            "/run/live/medium/.tappaas/target-test.squashfs"
        );
    }

    #[test]
    fn the_vm_images_are_the_ones_the_iso_says_it_carries() {
        let without = BuildInfo::parse("FLAVOUR=pve\n").environment();
        assert_eq!(without.firewall_image, None);
        assert_eq!(without.service_template, None);
        let with = BuildInfo::parse(
            "FLAVOUR=pve\nTEMPLATE_IMAGE=/.tappaas/templates/debian-cloud.qcow2\nFIREWALL_IMAGE=/.tappaas/firewall/opnsense.img\n",
        )
        .environment();
        assert_eq!(
            with.service_template.as_deref(),
            Some("/run/live/medium/.tappaas/templates/debian-cloud.qcow2")
        );
        assert_eq!(
            with.firewall_image.as_deref(),
            Some("/run/live/medium/.tappaas/firewall/opnsense.img")
        );
    }

    #[test]
    fn unknown_flavour_is_ignored() {
        assert_eq!(BuildInfo::parse("FLAVOUR=xyz").flavour, None);
    }
}

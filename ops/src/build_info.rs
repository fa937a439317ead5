//! `elector_build_info`: which build is running, as an OpenMetrics info
//! metric (a series that is always 1 and carries the facts as labels), so
//! dashboards can join any series with the version that produced it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    rustc: &'static str,
}

/// Adds `build_info` to `registry` (under its prefix).
pub fn register(registry: &mut Registry) {
    registry.register(
        "build",
        "The running elector's version and the compiler that built it",
        Info::new(BuildLabels {
            version: env!("CARGO_PKG_VERSION"),
            rustc: env!("ELECTOR_RUSTC_VERSION"),
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exposition;

    #[test]
    fn build_info_is_one_with_the_version() {
        let mut registry = Registry::with_prefix("elector");
        register(&mut registry);
        let text = registry.encode();
        assert!(text.contains("# TYPE elector_build info"), "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("elector_build_info{"))
            .unwrap_or_else(|| panic!("no build info in\n{text}"));
        assert!(
            line.starts_with(&format!(
                "elector_build_info{{version=\"{}\",rustc=\"rustc 1.",
                env!("CARGO_PKG_VERSION")
            )),
            "{line}"
        );
        assert!(line.ends_with("} 1"), "{line}");
    }
}

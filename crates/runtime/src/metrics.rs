//! The metrics registry every daemon starts from, and its OpenMetrics
//! encoding.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `Content-Type` of an OpenMetrics text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A registry holding `hwc_ai_build_info{daemon,version} 1`. Daemons add
/// their own metrics under `hwc_ai_<daemon>_` with
/// [`Registry::sub_registry_with_prefix`].
pub fn registry(daemon: &str) -> Registry {
    let mut registry = Registry::default();
    let info = Family::<Vec<(String, String)>, Gauge>::default();
    info.get_or_create(&vec![
        ("daemon".to_owned(), format!("hwc-ai-{daemon}")),
        ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
    ])
    .set(1);
    // A gauge fixed at 1 rather than an OpenMetrics `info` type: every
    // Prometheus-format consumer reads gauges, not all read `info`.
    registry.register(
        "hwc_ai_build_info",
        "Build of this hwc-ai daemon, as labels; always 1",
        info,
    );
    registry
}

/// Encodes the registry as OpenMetrics text.
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(4096);
    encode(&mut out, registry).expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_is_exported() {
        let text = render(&registry("prober"));
        assert!(
            text.contains("hwc_ai_build_info{daemon=\"hwc-ai-prober\",version=\""),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}

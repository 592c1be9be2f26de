//! The metrics registry every daemon starts from, and its OpenMetrics
//! encoding.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// `Content-Type` of an OpenMetrics text exposition.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` of the classic Prometheus text exposition.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

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
    // The name every Prometheus client library uses, so the usual "a
    // process restarting" queries (`changes(process_start_time_seconds[..])`)
    // work on hwc-ai as on anything else; hwc-ai's alert rules use it.
    let start: Gauge<f64, AtomicU64> = Gauge::default();
    start.set(start_time());
    registry.register_with_unit(
        "process_start_time",
        "Start time of the process since the Unix epoch",
        Unit::Seconds,
        start,
    );
    registry
}

/// When this process started: the first time a daemon asked for its
/// registry, which each does at start.
fn start_time() -> f64 {
    static START: OnceLock<f64> = OnceLock::new();
    *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    })
}

/// One series of a family, as an owned handle to keep and update later.
///
/// The lookup's read guard ends inside this call. Two live guards on one
/// family deadlock when the second lookup has to create its series, which
/// is easy to write by accident in a struct literal; going through this
/// function makes it impossible.
pub fn series<S, M>(family: &Family<S, M>, labels: &S) -> M
where
    S: Clone + std::hash::Hash + Eq,
    M: Clone + prometheus_client::metrics::TypedMetric + Default,
{
    family.get_or_create(labels).clone()
}

/// Encodes the registry as OpenMetrics text.
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(4096);
    encode(&mut out, registry).expect("writing to a String cannot fail");
    out
}

/// Encodes the registry in the classic Prometheus text format (0.0.4), for
/// scrapers and tools that do not ask for OpenMetrics (`promtool`, `curl`).
///
/// The two formats differ only in ways this rewrite covers for the metric
/// types hwc-ai uses: counter families are named with their `_total`
/// suffix, and there are no `# UNIT` or `# EOF` lines.
pub fn render_classic(registry: &Registry) -> String {
    let open = render(registry);
    let mut out = String::with_capacity(open.len());
    for line in open.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                out.push_str(&format!("# TYPE {name}_total counter\n"));
                continue;
            }
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            // HELP comes before TYPE; look ahead is not needed because
            // prometheus-client names counters without the suffix in both.
            if open.contains(&format!("# TYPE {name} counter\n")) {
                out.push_str(&format!("# HELP {name}_total {help}\n"));
                continue;
            }
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Picks the format from an `Accept` header: OpenMetrics when asked for
/// (Prometheus asks), the classic text format otherwise.
pub fn negotiate(registry: &Registry, accept: Option<&str>) -> (&'static str, String) {
    if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
        (OPENMETRICS, render(registry))
    } else {
        (TEXT, render_classic(registry))
    }
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

    #[test]
    fn the_process_start_time_is_exported_and_fixed() {
        let first = render_classic(&registry("prober"));
        let again = render_classic(&registry("router"));
        let line = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("process_start_time_seconds "))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("no start time in {text}"))
        };
        let started: f64 = line(&first)[27..].parse().unwrap();
        assert!(started > 1.7e9, "{started}");
        assert_eq!(line(&first), line(&again));
    }

    #[test]
    fn classic_format_names_counters_with_total() {
        use prometheus_client::metrics::counter::Counter;
        let mut registry = registry("prober");
        let counter: Counter = Counter::default();
        counter.inc();
        registry.register("hwc_ai_prober_probes", "Probes run", counter);
        let (content_type, text) = negotiate(&registry, Some("text/plain"));
        assert_eq!(content_type, TEXT);
        assert!(
            text.contains("# HELP hwc_ai_prober_probes_total Probes run.\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE hwc_ai_prober_probes_total counter\n"),
            "{text}"
        );
        assert!(text.contains("hwc_ai_prober_probes_total 1\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        let (content_type, text) = negotiate(
            &registry,
            Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
        );
        assert_eq!(content_type, OPENMETRICS);
        assert!(
            text.contains("# TYPE hwc_ai_prober_probes counter\n"),
            "{text}"
        );
    }
}

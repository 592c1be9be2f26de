//! Logging: one line per event.
//!
//! Under systemd (`JOURNAL_STREAM` set) lines carry no timestamp (journald
//! adds its own) and start with a `<N>` syslog priority prefix, so
//! `journalctl -p err` finds errors. Elsewhere lines are timestamped, and
//! coloured on a terminal. `format: json` gives one JSON object per line.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Safe to call twice (the second call is
/// ignored), which the all-in-one `hwc-ai up` relies on.
pub fn init(config: &LogConfig) {
    let _ = tracing_subscriber::registry()
        .with(layer(config))
        .try_init();
}

/// The log lines as a layer, with their own level filter, for a daemon
/// that adds another layer (the assistant's OpenTelemetry traces) that
/// must see what the lines' level leaves out.
pub fn layer<S>(config: &LogConfig) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::new(env),
        // The MCP SDK logs every session and notification at info; its
        // warnings are what an operator needs. RUST_LOG can say otherwise.
        _ => EnvFilter::new(format!("{},rmcp=warn", config.level)),
    };
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    match config.format {
        LogFormat::Json => layer.json().flatten_event(true).with_filter(filter).boxed(),
        LogFormat::Plain if journald => layer
            .event_format(JournalFormat(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_target(false)
                    .with_ansi(false),
            ))
            .with_ansi(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Plain => layer
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
    }
}

/// Prefixes each line with its syslog priority for journald.
struct JournalFormat(Format<Full, ()>);

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

//! What the hwc-ai crates' tests share, as a dev-dependency: a daemon
//! started embedded (in the test's process, on a free loopback port, with
//! the same `run()` the unit and `hwc-ai up` use), the value of one series
//! in a metrics scrape, free loopback ports, and an OpenTelemetry
//! receiver (`otlp`).
//!
//! Each crate's `tests/support/` keeps what is its own (a fake upstream,
//! config documents, readers of its documents) and builds on these.

pub mod otlp;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use hwc_ai_runtime::{Context, Shutdown};
use tokio::task::JoinHandle;

/// A daemon running in this process, serving on a loopback port of its own.
pub struct Embedded {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://<addr>`, without a trailing slash.
    pub url: String,
    /// Triggers its graceful stop (as SIGTERM does for the unit).
    pub shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Embedded {
    /// Binds a free loopback port and spawns `run` with a context that
    /// hands it that listener (notifications off, as `hwc-ai up` runs it):
    /// `Embedded::start(|ctx| hwc_ai_prober::run(config, ctx))`. The port
    /// is bound before `run` starts, so the daemon is reachable as soon as
    /// it accepts.
    pub fn start<F, Fut>(run: F) -> Self
    where
        F: FnOnce(Context) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self::start_with_url(|_, ctx| run(ctx))
    }

    /// As [`Embedded::start`], for a daemon whose config names its own
    /// address (a prober probing itself): `run` gets the URL it will serve
    /// on, `http://<addr>`, with the context.
    pub fn start_with_url<F, Fut>(run: F) -> Self
    where
        F: FnOnce(&str, Context) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("the listener's address");
        let url = format!("http://{addr}");
        let shutdown = Shutdown::new();
        let mut ctx = Context::embedded(shutdown.clone());
        ctx.listener = Some(listener);
        let task = tokio::spawn(run(&url, ctx));
        Self {
            addr,
            url,
            shutdown,
            task,
        }
    }

    /// `GET <url><path>` with [`client`]; panics when nothing answers.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.url);
        client()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {url}: {err}"))
    }

    /// The body of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("a metrics body")
    }

    /// Triggers the graceful stop and returns what `run` returned; panics
    /// when the task panicked.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        self.task.await.expect("the daemon's task panicked")
    }

    /// As [`Embedded::stop`], giving up after `within`: `None` when it had
    /// not stopped by then.
    pub async fn stop_within(self, within: Duration) -> Option<anyhow::Result<()>> {
        self.shutdown.trigger();
        tokio::time::timeout(within, self.task)
            .await
            .ok()
            .map(|joined| joined.expect("the daemon's task panicked"))
    }
}

/// An HTTP client for tests: a 30 s bound on every request, and no proxy
/// from the environment (the tests talk to loopback only).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .expect("build the test HTTP client")
}

/// The value of one sample in a metrics scrape, by its full series text
/// (`hwc_ai_puller_model_present{model="x"}`): `None` when the scrape has
/// no such line or its value is not a number.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    })
}

/// A loopback address nothing listens on (yet): the port was free when
/// this returned.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    free_addr().port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_reads_the_series_named_in_full() {
        let scrape =
            "# HELP x\nhwc_ai_x_total{a=\"1\"} 3\nhwc_ai_x_total{a=\"10\"} 7\nhwc_ai_y 2.5\n";
        assert_eq!(sample(scrape, "hwc_ai_x_total{a=\"1\"}"), Some(3.0));
        assert_eq!(sample(scrape, "hwc_ai_x_total{a=\"10\"}"), Some(7.0));
        assert_eq!(sample(scrape, "hwc_ai_y"), Some(2.5));
        // a prefix of a series is not that series
        assert_eq!(sample(scrape, "hwc_ai_x_total"), None);
        assert_eq!(sample(scrape, "hwc_ai_z"), None);
    }

    #[test]
    fn free_ports_are_free() {
        let port = free_port();
        TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
    }
}

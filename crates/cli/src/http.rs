//! Asking a local daemon for a document.

use std::time::Duration;

/// An HTTP client for the daemons on this host: the runtime's policy (no
/// proxy: loopback must not go through `http_proxy`), and an optional
/// overall timeout.
pub fn client(timeout: Option<Duration>) -> reqwest::Client {
    let mut builder = hwc_ai_runtime::client::builder("cli");
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    // No TLS files are read here: building fails only when the process
    // cannot set up TLS at all, which no command could work around.
    builder.build().expect("HTTP client")
}

/// `GET url` within 5 s; the body of a 2xx answer, else a short reason.
pub async fn get(url: &str) -> Result<String, String> {
    let response = client(Some(Duration::from_secs(5)))
        .get(url)
        .send()
        .await
        .map_err(reason)?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status().as_u16()));
    }
    response
        .text()
        .await
        .map_err(|e| e.without_url().to_string())
}

/// Why a request failed, in a few words and without the URL.
pub fn reason(err: reqwest::Error) -> String {
    if err.is_connect() {
        "connection refused".to_owned()
    } else if err.is_timeout() {
        "timed out".to_owned()
    } else {
        err.without_url().to_string()
    }
}

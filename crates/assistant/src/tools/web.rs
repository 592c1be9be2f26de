//! `web_fetch`: a page from a host on the operator's list, as text.
//!
//! The list is the only way out: a URL whose host is not on it is refused
//! before any request, and so is every redirect that leaves it (redirects
//! are followed here, one at a time, each target checked). HTTPS only
//! unless the operator allows HTTP; no credentials in URLs; `GET` only;
//! the body bounded in size and time; HTML reduced to its text (no
//! scripts, styles or tags), other text passed on, anything else refused.

use std::time::Duration;

use serde_json::{json, Value};

use super::service::cut;
use super::ToolError;
use crate::config::WebConfig;
use hwc_ai_runtime::ConfigError;

/// The largest page read.
const MAX_BODY: usize = 2 << 20;
/// Most characters of a page's text passed on.
const MAX_TEXT: usize = 10_000;
const MAX_REDIRECTS: usize = 5;

pub struct Web {
    hosts: Vec<String>,
    allow_http: bool,
    timeout: Duration,
    client: reqwest::Client,
}

pub fn description() -> &'static str {
    "Fetch a web page (documentation, release notes, a status page) from one of the hosts the operator allows, as text."
}

pub fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {"url": {"type": "string", "maxLength": 2000, "description": "The page's https:// address, on an allowed host"}},
        "required": ["url"],
        "additionalProperties": false
    })
}

/// Whether `entry` (`docs.k3s.io`, `*.nixos.org`, `10.0.0.7:8080`) is a
/// host the list can hold.
pub fn is_host_entry(entry: &str) -> bool {
    let (host, port) = match entry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (entry, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !host.starts_with(['.', '-'])
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

impl Web {
    pub fn new(config: &WebConfig) -> Result<Self, ConfigError> {
        let builder = hwc_ai_runtime::client::builder("assistant")
            .redirect(reqwest::redirect::Policy::none());
        Ok(Self {
            hosts: config.hosts.clone(),
            allow_http: config.allow_http,
            timeout: config.timeout,
            client: hwc_ai_runtime::client::build(builder, "web")?,
        })
    }

    /// Why `url` may not be fetched, or nothing when it may.
    pub fn refusal(&self, url: &url::Url) -> Option<String> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Some("only https:// pages may be fetched".into()),
            other => return Some(format!("`{other}:` is not a web address")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Some("an address with credentials is not fetched".into());
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let on_list = self.hosts.iter().any(|entry| {
            let (name, port) = match entry.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok()),
                None => (entry.as_str(), None),
            };
            let port_ok = match port {
                Some(p) => url.port_or_known_default() == Some(p),
                None => url.port().is_none(),
            };
            let host_ok = match name.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => host == name,
            };
            host_ok && port_ok
        });
        if !on_list {
            return Some(format!(
                "`{}` is not on the operator's list of web hosts",
                url.host_str().unwrap_or_default()
            ));
        }
        None
    }

    pub async fn fetch(&self, address: &str) -> Result<Value, ToolError> {
        let mut url = url::Url::parse(address)
            .map_err(|e| ToolError::InvalidArguments(format!("`{address}` is not a URL: {e}")))?;
        if let Some(why) = self.refusal(&url) {
            return Err(ToolError::InvalidArguments(why));
        }
        url.set_fragment(None);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut redirects = 0;
        let response = loop {
            let send = self.client.get(url.clone()).send();
            let response = tokio::time::timeout_at(deadline, send)
                .await
                .map_err(|_| self.late(&url))?
                .map_err(|e| {
                    ToolError::Unavailable(format!(
                        "cannot reach {}: {}",
                        url.origin().ascii_serialization(),
                        e.without_url()
                    ))
                })?;
            if !response.status().is_redirection() {
                break response;
            }
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| {
                    ToolError::Failed(format!("{url} redirects without a usable Location"))
                })?;
            if let Some(why) = self.refusal(&location) {
                return Err(ToolError::Failed(format!(
                    "{url} redirects to {location}, which is refused: {why}"
                )));
            }
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(ToolError::Failed(format!(
                    "more than {MAX_REDIRECTS} redirects from {address}"
                )));
            }
            url = location;
        };
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|c| c.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut response = response;
        let mut body = Vec::new();
        let mut cut_at = None;
        loop {
            let chunk = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .map_err(|_| self.late(&url))?
                .map_err(|e| {
                    ToolError::Unavailable(format!("reading {url}: {}", e.without_url()))
                })?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > MAX_BODY {
                body.extend_from_slice(&chunk[..MAX_BODY - body.len()]);
                cut_at = Some(MAX_BODY);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(ToolError::Unavailable(format!("{url} answered {status}")));
        }
        let text = String::from_utf8_lossy(&body);
        let html = kind.starts_with("text/html") || kind.starts_with("application/xhtml");
        let (title, text) = if html {
            html_to_text(&text)
        } else if kind.starts_with("text/")
            || kind.starts_with("application/json")
            || kind.is_empty()
        {
            (None, text.trim().to_owned())
        } else {
            return Err(ToolError::Failed(format!(
                "{url} is `{kind}`, not a page of text"
            )));
        };
        let chars = text.chars().count();
        let mut out = json!({
            "url": url.as_str(),
            "status": status.as_u16(),
            "title": title,
            "text": cut(&text, MAX_TEXT),
        });
        if chars > MAX_TEXT || cut_at.is_some() {
            out["truncated"] = json!(format!(
                "the first {} characters of the page's text{}",
                MAX_TEXT.min(chars),
                if cut_at.is_some() {
                    " (the page is larger than 2 MiB)"
                } else {
                    ""
                }
            ));
        }
        Ok(out)
    }

    fn late(&self, url: &url::Url) -> ToolError {
        ToolError::Unavailable(format!(
            "{} did not answer within {:?}",
            url.origin().ascii_serialization(),
            self.timeout
        ))
    }
}

/// An HTML page's title and its text: no scripts, styles or tags; block
/// elements on their own lines, list items marked, entities decoded.
pub fn html_to_text(html: &str) -> (Option<String>, String) {
    let lower = html.to_ascii_lowercase();
    let mut out = String::new();
    let mut title = None;
    let mut i = 0;
    while i < html.len() {
        let rest = &lower[i..];
        if rest.starts_with("<!--") {
            i += rest.find("-->").map_or(rest.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag: String = rest[1..end.saturating_sub(1).max(1)]
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let closing = rest.starts_with("</");
            if !closing
                && matches!(
                    tag.as_str(),
                    "script" | "style" | "noscript" | "svg" | "template" | "title"
                )
            {
                let close = format!("</{tag}");
                let body_end = rest[end..].find(&close).map_or(rest.len(), |e| end + e);
                if tag == "title" {
                    title = Some(collapse(&decode(&html[i + end..i + body_end])));
                }
                let after = rest[body_end..]
                    .find('>')
                    .map_or(rest.len(), |e| body_end + e + 1);
                i += after;
                continue;
            }
            match tag.as_str() {
                "li" if !closing => out.push_str("\n- "),
                "br" | "p" | "div" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "pre"
                | "section" | "article" | "header" | "footer" | "table" | "ul" | "ol"
                | "blockquote" | "main" | "nav" | "dt" | "dd" => out.push('\n'),
                "td" | "th" => out.push(' '),
                _ => {}
            }
            i += end;
            continue;
        }
        let next = rest.find('<').unwrap_or(rest.len());
        out.push_str(&decode(&html[i..i + next]));
        i += next;
    }
    (title.filter(|t| !t.is_empty()), collapse(&out))
}

/// Spaces within lines collapsed, blank lines at most one in a row.
fn collapse(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let line = words.join(" ");
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// HTML's common named entities and numeric ones.
fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or(name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{html_to_text, is_host_entry, Web};
    use crate::config::WebConfig;

    #[test]
    fn html_is_reduced_to_its_text() {
        let (title, text) = html_to_text(
            "<html><head><title>K3s &amp; you</title><style>p{color:red}</style>\
             <script>alert('x<p>')</script></head><body><!-- hidden --><h1>Upgrade</h1>\
             <p>Run <code>k3s</code>&nbsp;then&#x21;</p><ul><li>one</li><li>two</li></ul></body></html>",
        );
        assert_eq!(title.as_deref(), Some("K3s & you"));
        assert_eq!(text, "Upgrade\n\nRun k3s then!\n\n- one\n- two");
    }

    #[test]
    fn only_listed_hosts_are_fetched() {
        let web = Web::new(&WebConfig {
            hosts: vec![
                "docs.k3s.io".into(),
                "*.nixos.org".into(),
                "10.0.0.7:8080".into(),
            ],
            allow_http: false,
            timeout: std::time::Duration::from_secs(1),
        })
        .unwrap();
        let refused = |u: &str| web.refusal(&url::Url::parse(u).unwrap());
        assert_eq!(refused("https://docs.k3s.io/upgrades"), None);
        assert_eq!(refused("https://wiki.nixos.org/wiki/K3s"), None);
        assert_eq!(refused("https://10.0.0.7:8080/status"), None);
        for bad in [
            "http://docs.k3s.io/",
            "https://docs.k3s.io.evil.example/",
            "https://nixos.org.evil.example/",
            "https://evilnixos.org/",
            "https://docs.k3s.io:8443/",
            "https://10.0.0.7/",
            "https://user:pw@docs.k3s.io/",
            "file:///etc/passwd",
            "https://169.254.169.254/latest/meta-data",
        ] {
            assert!(refused(bad).is_some(), "{bad}");
        }
        assert!(is_host_entry("docs.k3s.io") && is_host_entry("*.nixos.org"));
        assert!(!is_host_entry("https://docs.k3s.io") && !is_host_entry("Docs.k3s.io/x"));
    }
}

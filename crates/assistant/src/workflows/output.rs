//! Where a run's results go. Files are written to a temporary file in
//! the same directory, synced, then renamed over the name: a reader sees
//! the old file or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::config::Ntfy;
use super::run::RunError;

/// A file a run wants written, relative to its output directory.
pub struct File {
    pub relative: PathBuf,
    pub content: String,
}

/// The directory exists, is a directory, and a file can be created in it.
pub fn check_directory(dir: &Path) -> Result<(), RunError> {
    let meta = std::fs::metadata(dir).map_err(|e| {
        RunError::Output(format!(
            "the output directory {} cannot be used: {e}",
            dir.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(RunError::Output(format!(
            "the output directory {} is not a directory",
            dir.display()
        )));
    }
    let probe = dir.join(format!(".hwc-ai-write-check-{}", std::process::id()));
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| {
            RunError::Output(format!(
                "the output directory {} is not writable: {e}",
                dir.display()
            ))
        })
}

/// Writes `content` to `path` by way of a temporary file beside it.
pub fn write_atomic(path: &Path, content: &str) -> Result<(), RunError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(content.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        RunError::Output(format!("cannot write {}: {e}", path.display()))
    })
}

/// Writes every file under `dir`, creating the folders they need there.
pub fn write_files(dir: &Path, files: &[File]) -> Result<Vec<String>, RunError> {
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(&file.relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                RunError::Output(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        write_atomic(&path, &file.content)?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// POSTs the result; an error names the status, never the URL's secrets.
pub async fn webhook(
    http: &reqwest::Client,
    url: &url::Url,
    workflow: &str,
    run: &str,
    content: &str,
    data: &Value,
) -> Result<(), String> {
    let body = json!({"workflow": workflow, "run": run, "message": content, "data": data});
    let response = http
        .post(url.clone())
        .json(&body)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("the webhook could not be reached: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("the webhook answered {}", response.status()));
    }
    Ok(())
}

/// ntfy's message limit: a longer body becomes an attachment, which a
/// server may not accept. The text is cut there, marked with `…`.
pub const NTFY_MAX_BYTES: usize = 4096;

/// Publishes the result's text to an ntfy topic: Markdown, titled with the
/// workflow, at the declared priority, with the token when there is one.
/// An error names the status, never the token.
pub async fn ntfy(
    http: &reqwest::Client,
    topic: &Ntfy,
    token: Option<&hwc_ai_runtime::Secret>,
    workflow: &str,
    content: &str,
) -> Result<(), String> {
    let mut request = http
        .post(topic.url.clone())
        .header("Title", format!("hwc-ai workflow {workflow}"))
        .header("Markdown", "yes")
        .body(cut(content, NTFY_MAX_BYTES))
        .timeout(std::time::Duration::from_secs(10));
    if let Some(priority) = topic.priority {
        request = request.header("Priority", priority.to_string());
    }
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("ntfy could not be reached: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("ntfy answered {}", response.status()));
    }
    Ok(())
}

/// At most `max` bytes of `text`, cut at a character boundary and marked.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(super::cut("short", 10), "short");
        let long = "é".repeat(10); // 20 bytes
        let cut = super::cut(&long, 10);
        assert!(cut.len() <= 10 && cut.ends_with('…'), "{cut}");
        assert_eq!(cut, format!("{}…", "é".repeat(3)));
    }
}

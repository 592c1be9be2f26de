//! Running git for the two features that need it (a draft pull request's
//! branch, the docs repository's sync): with nothing of the daemon's
//! environment or the machine's git config, no prompt, bounded in time,
//! and the token kept out of its arguments and its errors.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;

use super::ToolError;

/// One git command (a fetch of one commit, a push of one branch).
const TIMEOUT: Duration = Duration::from_secs(60);

/// git's `http.extraHeader` carrying `token` as HTTP basic credentials,
/// for a remote over HTTP(S); none for a local one.
pub fn auth_header(remote: &str, token: Option<&str>) -> Option<String> {
    let token = token?;
    remote.starts_with("http").then(|| {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("hwc-ai-assistant:{token}"));
        format!("Authorization: Basic {basic}")
    })
}

/// Runs `git args` in `dir`; its standard output, or an error naming the
/// command with its standard error (`token` replaced). `auth` is an HTTP
/// header for the remote, passed in git's environment (never on its
/// command line, which other local users can read).
pub async fn run(
    git: &Path,
    dir: &Path,
    args: &[&str],
    auth: Option<&str>,
    token: Option<&str>,
) -> Result<String, ToolError> {
    let mut cmd = tokio::process::Command::new(git);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ALLOW_PROTOCOL", "http:https:file")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(header) = auth {
        cmd.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", header);
    }
    let name = args
        .iter()
        .find(|a| !a.starts_with('-') && !a.contains('='))
        .copied()
        .unwrap_or("");
    let output = tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            ToolError::Unavailable(format!("git {name} did not finish within {TIMEOUT:?}"))
        })?
        .map_err(|e| ToolError::Unavailable(format!("cannot run {}: {e}", git.display())))?;
    if !output.status.success() {
        let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            stderr = stderr.replace(token, "<token>");
        }
        return Err(ToolError::Failed(format!(
            "git {name} failed ({}): {}",
            output.status,
            super::service::cut(stderr.trim(), 500)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

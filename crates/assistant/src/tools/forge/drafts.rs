//! The one write to the forge: a proposed change as a draft pull request.
//!
//! Present only when `forge.drafts.enable` is set, and only for the
//! repositories in `forge.drafts.repositories` (the schema's `enum`, and
//! checked again here). The change goes on a new branch named after the
//! request under `hwc-ai/`, created by `git push` with a lease that fails
//! if the branch exists: never the default branch, never a force-push
//! over someone's work. The pull request is opened as a draft (`WIP:`,
//! the prefix Gitea and Forgejo read as a draft); nothing here merges,
//! closes or approves. The new content is bounded (`maxBytes`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

use super::{is_file_path, status_error, Forge, PATH};
use crate::config::DraftsConfig;
use crate::tools::{git, ToolError};

/// Every branch the assistant creates starts with this.
pub const BRANCH_PREFIX: &str = "hwc-ai/";
const MAX_FILES: usize = 20;

pub(super) struct Drafts {
    pub repositories: Vec<String>,
    git_url: String,
    git: PathBuf,
    max_bytes: usize,
}

pub(super) fn parameters(repositories: &[String]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "repo": {"type": "string", "enum": repositories, "description": "The repository (owner/name), one of those allowed"},
            "title": {"type": "string", "minLength": 3, "maxLength": 120, "description": "The pull request's title: what the change does"},
            "summary": {"type": "string", "maxLength": 4000, "description": "Why, from the conversation: what was asked, what was found, what to check before merging"},
            "files": {
                "type": "array", "minItems": 1, "maxItems": MAX_FILES,
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "pattern": PATH, "description": "The file, relative to the repository's top, e.g. docs/backup.md"},
                        "content": {"type": "string", "description": "The file's complete new content"}
                    },
                    "required": ["path", "content"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["repo", "title", "summary", "files"],
        "additionalProperties": false
    })
}

/// `title` as a branch name's tail: lower-case words joined by `-`.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "change".into()
    } else {
        out.into()
    }
}

impl Drafts {
    pub fn new(forge_url: &url::Url, config: &DraftsConfig) -> Self {
        let git_url = config.git_url.clone().unwrap_or_else(|| {
            format!("{}/{{repo}}.git", forge_url.as_str().trim_end_matches('/'))
        });
        Self {
            repositories: config.repositories.clone(),
            git_url,
            git: config.git.clone(),
            max_bytes: config.max_bytes,
        }
    }

    /// Branch, commit, push, and the draft pull request.
    pub async fn propose(&self, forge: &Forge, a: &Value) -> Result<Value, ToolError> {
        let repo = a["repo"].as_str().unwrap_or_default();
        if !self.repositories.iter().any(|r| r == repo) {
            return Err(ToolError::InvalidArguments(format!(
                "`{repo}` is not one of the repositories drafts may go to"
            )));
        }
        let title = a["title"].as_str().unwrap_or_default().trim();
        let summary = a["summary"].as_str().unwrap_or_default();
        let mut files: Vec<(&str, &str)> = Vec::new();
        let mut bytes = 0;
        for f in a["files"].as_array().into_iter().flatten() {
            let path = f["path"].as_str().unwrap_or_default();
            let content = f["content"].as_str().unwrap_or_default();
            if !is_file_path(path) || path.split('/').any(|s| s.eq_ignore_ascii_case(".git")) {
                return Err(ToolError::InvalidArguments(format!(
                    "`{path}` is not a file path inside the repository"
                )));
            }
            if files.iter().any(|(p, _)| *p == path) {
                return Err(ToolError::InvalidArguments(format!(
                    "`{path}` is given twice"
                )));
            }
            bytes += content.len();
            files.push((path, content));
        }
        if bytes > self.max_bytes {
            return Err(ToolError::InvalidArguments(format!(
                "the change carries {bytes} bytes; a draft may carry at most {}",
                self.max_bytes
            )));
        }

        let info = forge.get(&format!("/api/v1/repos/{repo}"), &[]).await?;
        if info["archived"] == true {
            return Err(ToolError::Failed(format!("{repo} is archived")));
        }
        let base = info["default_branch"]
            .as_str()
            .filter(|b| super::is_ref(b))
            .ok_or_else(|| {
                ToolError::Failed(format!("the forge named no default branch of {repo}"))
            })?
            .to_owned();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let branch = format!("{BRANCH_PREFIX}{}-{stamp}", slug(title));
        if branch == base {
            return Err(ToolError::Failed(
                "the branch would be the default branch".into(),
            ));
        }

        let work = WorkDir::new()?;
        let remote = self.git_url.replace("{repo}", repo);
        let (additions, deletions, commit) = self
            .commit_and_push(
                forge, &work.0, &remote, &base, &branch, title, summary, &files,
            )
            .await?;

        let body = format!(
            "{summary}\n\n---\nProposed by hwc-ai-assistant as a draft: review the change, then mark it ready and merge it yourself."
        );
        let path = format!("/api/v1/repos/{repo}/pulls");
        let request = forge.request(reqwest::Method::POST, &path).json(
            &json!({"head": branch, "base": base, "title": format!("WIP: {title}"), "body": body}),
        );
        let (status, answer) = forge.service.fetch(request, &path).await?;
        if !status.is_success() {
            let err = status_error(&forge.service, status, &path, &answer);
            return Err(ToolError::Failed(format!(
                "branch {branch} was pushed, but the pull request was not opened: {err}"
            )));
        }
        let pr = forge.service.json(&path, &answer)?;
        Ok(json!({
            "repo": repo,
            "pullRequest": pr["number"],
            "url": pr["html_url"],
            "draft": true,
            "branch": branch,
            "base": base,
            "commit": commit,
            "files": files.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            "additions": additions,
            "deletions": deletions,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_and_push(
        &self,
        forge: &Forge,
        dir: &Path,
        remote: &str,
        base: &str,
        branch: &str,
        title: &str,
        summary: &str,
        files: &[(&str, &str)],
    ) -> Result<(u64, u64, String), ToolError> {
        let token = forge.token.expose();
        let auth = git::auth_header(remote, Some(token));
        let auth = auth.as_deref();
        git::run(&self.git, dir, &["init", "-q", "."], None, Some(token)).await?;
        git::run(
            &self.git,
            dir,
            &[
                "fetch",
                "-q",
                "--depth=1",
                "--",
                remote,
                &format!("refs/heads/{base}"),
            ],
            auth,
            Some(token),
        )
        .await?;
        git::run(
            &self.git,
            dir,
            &["checkout", "-q", "-b", branch, "FETCH_HEAD"],
            None,
            Some(token),
        )
        .await?;
        for (path, content) in files {
            write_inside(dir, path, content)?;
        }
        let mut add = vec!["add", "--"];
        add.extend(files.iter().map(|(p, _)| *p));
        git::run(&self.git, dir, &add, None, Some(token)).await?;
        let numstat = git::run(
            &self.git,
            dir,
            &["diff", "--cached", "--numstat"],
            None,
            Some(token),
        )
        .await?;
        if numstat.trim().is_empty() {
            return Err(ToolError::Failed(
                "the files are the same as on the default branch: nothing to propose".into(),
            ));
        }
        let (mut additions, mut deletions) = (0u64, 0u64);
        for line in numstat.lines() {
            let mut cols = line.split('\t');
            additions += cols.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            deletions += cols.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        }
        let message = format!("{title}\n\n{summary}\n");
        git::run(
            &self.git,
            dir,
            &[
                "-c",
                "user.name=hwc-ai-assistant",
                "-c",
                "user.email=hwc-ai-assistant@localhost",
                "commit",
                "-q",
                "--no-verify",
                "-m",
                &message,
            ],
            None,
            Some(token),
        )
        .await?;
        let commit = git::run(&self.git, dir, &["rev-parse", "HEAD"], None, Some(token))
            .await?
            .trim()
            .to_owned();
        // The lease with no value: the push fails if the branch exists.
        let target = format!("refs/heads/{branch}");
        git::run(
            &self.git,
            dir,
            &[
                "push",
                "-q",
                "--no-verify",
                &format!("--force-with-lease={target}:"),
                "--",
                remote,
                &format!("HEAD:{target}"),
            ],
            auth,
            Some(token),
        )
        .await?;
        Ok((additions, deletions, commit))
    }
}

/// Writes `content` to `path` under `dir`, refusing to follow a symbolic
/// link the repository holds (it could point outside the checkout).
fn write_inside(dir: &Path, path: &str, content: &str) -> Result<(), ToolError> {
    let mut at = dir.to_path_buf();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        at.push(segment);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(ToolError::InvalidArguments(format!(
                    "`{path}` goes through a symbolic link in the repository"
                )))
            }
            Ok(m) if i + 1 < segments.len() && !m.is_dir() => {
                return Err(ToolError::InvalidArguments(format!(
                    "`{path}`: `{segment}` is a file"
                )))
            }
            Ok(m) if i + 1 == segments.len() && m.is_dir() => {
                return Err(ToolError::InvalidArguments(format!("`{path}` is a folder")))
            }
            Ok(_) => {}
            Err(_) if i + 1 < segments.len() => std::fs::create_dir(&at)
                .map_err(|e| ToolError::Failed(format!("creating {path}: {e}")))?,
            Err(_) => {}
        }
    }
    std::fs::write(&at, content).map_err(|e| ToolError::Failed(format!("writing {path}: {e}")))
}

/// A fresh directory under the temporary directory, removed when done.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Result<Self, ToolError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hwc-ai-draft-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir)
            .map_err(|e| ToolError::Failed(format!("creating {}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn branch_names_are_made_of_the_title() {
        assert_eq!(
            slug("Fix the backup runbook's typo"),
            "fix-the-backup-runbook-s-typo"
        );
        assert_eq!(slug("!!!"), "change");
        assert!(slug(&"word ".repeat(30)).len() <= 40);
    }
}

//! A Gitea or Forgejo forge (the same REST API, `/api/v1`, with
//! `Authorization: token ...`): repositories, open issues and pull
//! requests, one pull request's files and CI status, a file at a ref.
//!
//! Every read goes through [`Forge::get`]: `GET` only, and only the paths
//! [`allowed`] admits. The one write is `forge_draft_pr` (`forge/drafts.rs`):
//! present only when the operator enables drafts and names repositories.

use base64::Engine as _;
use serde_json::{json, Value};

use super::service::{self, cut, fit, with_omitted, Service};
use super::{ToolError, ToolName};
use crate::config::ForgeConfig;
use hwc_ai_runtime::{ConfigError, Secret};

mod drafts;

const MAX_BODY: usize = 8 << 20;
/// An owner's or a repository's name on Gitea and Forgejo.
const NAME: &str = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}";
/// A branch, tag or commit: no `..`, no spaces (checked again in code).
const REF: &str = "^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$";
/// A file's path in a repository, relative (checked again in code).
const PATH: &str = "^[^/\\\\%?#][^\\\\%?#]{0,499}$";
/// Most characters of a file passed on.
const MAX_FILE_CHARS: usize = 10_000;

pub struct Forge {
    service: Service,
    token: Secret,
    drafts: Option<drafts::Drafts>,
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && !s.starts_with('.')
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Whether `repo` is `owner/name`.
pub fn is_repo(repo: &str) -> bool {
    repo.split_once('/')
        .is_some_and(|(owner, name)| is_name(owner) && is_name(name))
}

/// Whether `path` (a file or folder in a repository) stays inside it.
pub fn is_file_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 500
        && path.split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && !s.chars().any(|c| c.is_control() || "\\%?#".contains(c))
        })
}

fn is_ref(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 200
        && !r.contains("..")
        && !r.starts_with(['/', '-', '.'])
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b))
}

/// Whether `GET path` is one these tools may read.
pub fn allowed(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "v1", "repos", "search"] => true,
        ["api", "v1", "repos", owner, repo, rest @ ..] if is_name(owner) && is_name(repo) => {
            match rest {
                [] | ["issues"] | ["pulls"] => true,
                ["pulls", n] | ["pulls", n, "files"] => n.parse::<u64>().is_ok(),
                ["commits", sha, "status"] => is_ref(sha),
                ["contents"] => true,
                ["contents", file @ ..] => is_file_path(&file.join("/")),
                _ => false,
            }
        }
        _ => false,
    }
}

pub fn description(tool: ToolName) -> &'static str {
    match tool {
        ToolName::ForgeRepos => "Repositories on the Gitea/Forgejo forge the token can see: name, description, default branch, open issues and pull requests, last update; optionally matching words.",
        ToolName::ForgeIssues => "A repository's open (or closed) issues: number, title, author, labels, comments, last update, the start of the body.",
        ToolName::ForgePulls => "A repository's open (or closed) pull requests: number, title, author, head and base branch, draft, mergeable, last update.",
        ToolName::ForgePull => "One pull request: its description, head and base, mergeable, the files changed with added and deleted lines, and the CI status of its head commit (each check's state and description).",
        ToolName::ForgeFile => "A file's content in a repository at a branch, tag or commit (the default branch when none), bounded; or a folder's entries.",
        ToolName::ForgeDraftPr => "Propose a change to one of the allowed repositories as a DRAFT pull request that a person reviews and merges: the files' complete new contents are committed on a new branch (never the default branch) and a draft pull request is opened. It never merges.",
        _ => "",
    }
}

pub fn parameters(tool: ToolName) -> Value {
    let repo = json!({"type": "string", "pattern": format!("^{NAME}/{NAME}$"), "description": "owner/name"});
    let state = json!({"type": "string", "enum": ["open", "closed", "all"], "description": "open (default), closed or all"});
    match tool {
        ToolName::ForgeRepos => json!({
            "type": "object",
            "properties": {"query": {"type": "string", "maxLength": 100, "description": "Words in the name or description"}},
            "additionalProperties": false
        }),
        ToolName::ForgeIssues | ToolName::ForgePulls => json!({
            "type": "object",
            "properties": {"repo": repo, "state": state},
            "required": ["repo"],
            "additionalProperties": false
        }),
        ToolName::ForgePull => json!({
            "type": "object",
            "properties": {"repo": repo, "number": {"type": "integer", "minimum": 1, "description": "The pull request's number"}},
            "required": ["repo", "number"],
            "additionalProperties": false
        }),
        ToolName::ForgeFile => json!({
            "type": "object",
            "properties": {
                "repo": repo,
                "path": {"type": "string", "pattern": PATH, "description": "The file or folder, e.g. docs/README.md; the top folder when absent"},
                "ref": {"type": "string", "pattern": REF, "description": "A branch, tag or commit; the default branch when absent"}
            },
            "required": ["repo"],
            "additionalProperties": false
        }),
        _ => drafts::parameters(&[]),
    }
}

impl Forge {
    pub fn new(config: &ForgeConfig) -> Result<Self, ConfigError> {
        let token = config.token.read("forge.token")?;
        let drafts = config
            .drafts
            .enable
            .then(|| drafts::Drafts::new(&config.url, &config.drafts));
        Ok(Self {
            service: Service {
                name: "the forge",
                base: config.url.clone(),
                client: service::client(config.ca_file.clone(), "forge")?,
                timeout: config.timeout,
                max_body: MAX_BODY,
            },
            token,
            drafts,
        })
    }

    /// The repositories drafts may go to; empty when drafts are off.
    pub fn draft_repositories(&self) -> &[String] {
        self.drafts.as_ref().map_or(&[], |d| &d.repositories)
    }

    /// The draft tool's schema, the allowed repositories filled in.
    pub fn draft_parameters(&self) -> Value {
        drafts::parameters(self.draft_repositories())
    }

    pub async fn call(&self, tool: ToolName, a: &Value) -> Result<Value, ToolError> {
        let repo = a["repo"].as_str().unwrap_or_default();
        let state = a["state"].as_str().unwrap_or("open");
        match tool {
            ToolName::ForgeRepos => self.repos(a["query"].as_str()).await,
            ToolName::ForgeIssues => self.issues(repo, state).await,
            ToolName::ForgePulls => self.pulls(repo, state).await,
            ToolName::ForgePull => self.pull(repo, a["number"].as_u64().unwrap_or(0)).await,
            ToolName::ForgeFile => {
                self.file(repo, a["path"].as_str().unwrap_or(""), a["ref"].as_str())
                    .await
            }
            ToolName::ForgeDraftPr => match &self.drafts {
                Some(drafts) => drafts.propose(self, a).await,
                None => Err(ToolError::Disabled(tool.as_str().to_owned())),
            },
            other => Err(ToolError::Unknown(other.as_str().to_owned())),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.service
            .client
            .request(method, self.service.url(path))
            .header("authorization", format!("token {}", self.token.expose()))
            .header("accept", "application/json")
    }

    /// `GET path?query` for an [`allowed`] path, as JSON, bounded.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ToolError> {
        if !allowed(path) {
            return Err(ToolError::Failed(format!(
                "`{path}` is outside the forge tools' read-only set"
            )));
        }
        let mut request = self.request(reqwest::Method::GET, path);
        if !query.is_empty() {
            request = request.query(query);
        }
        let (status, body) = self.service.fetch(request, path).await?;
        if !status.is_success() {
            return Err(status_error(&self.service, status, path, &body));
        }
        self.service.json(path, &body)
    }

    pub async fn repos(&self, query: Option<&str>) -> Result<Value, ToolError> {
        let mut q = vec![("limit", "50")];
        if let Some(words) = query {
            q.push(("q", words));
        }
        let found = self.get("/api/v1/repos/search", &q).await?;
        if found["ok"] == false {
            return Err(ToolError::Failed(format!(
                "the forge could not search repositories: {}",
                cut(found["error"].as_str().unwrap_or_default(), 300)
            )));
        }
        let (repos, omitted) = fit(found["data"].as_array().into_iter().flatten().map(|r| {
            json!({
                "repo": r["full_name"],
                "description": cut(r["description"].as_str().unwrap_or_default(), 200),
                "defaultBranch": r["default_branch"],
                "private": r["private"],
                "archived": r["archived"],
                "openIssues": r["open_issues_count"],
                "openPullRequests": r["open_pr_counter"],
                "updated": r["updated_at"],
            })
        }));
        let mut out = with_omitted(json!({"repositories": repos}), omitted);
        if omitted > 0 {
            out["truncated"] = json!(format!("{omitted} more not shown; narrow with query"));
        }
        Ok(out)
    }

    pub async fn issues(&self, repo: &str, state: &str) -> Result<Value, ToolError> {
        let list = self
            .get(
                &format!("/api/v1/repos/{repo}/issues"),
                &[("state", state), ("type", "issues"), ("limit", "50")],
            )
            .await?;
        let (issues, omitted) = fit(list.as_array().into_iter().flatten().map(|i| {
            json!({
                "number": i["number"],
                "title": cut(i["title"].as_str().unwrap_or_default(), 200),
                "state": i["state"],
                "author": i["user"]["login"],
                "labels": labels(i),
                "comments": i["comments"],
                "updated": i["updated_at"],
                "body": cut(i["body"].as_str().unwrap_or_default(), 300),
            })
        }));
        Ok(with_omitted(
            json!({"repo": repo, "state": state, "issues": issues}),
            omitted,
        ))
    }

    pub async fn pulls(&self, repo: &str, state: &str) -> Result<Value, ToolError> {
        let list = self
            .get(
                &format!("/api/v1/repos/{repo}/pulls"),
                &[("state", state), ("limit", "50")],
            )
            .await?;
        let (pulls, omitted) = fit(list.as_array().into_iter().flatten().map(|p| {
            json!({
                "number": p["number"],
                "title": cut(p["title"].as_str().unwrap_or_default(), 200),
                "state": p["state"],
                "author": p["user"]["login"],
                "head": p["head"]["ref"],
                "base": p["base"]["ref"],
                "draft": is_draft(p),
                "mergeable": p["mergeable"],
                "labels": labels(p),
                "updated": p["updated_at"],
            })
        }));
        Ok(with_omitted(
            json!({"repo": repo, "state": state, "pullRequests": pulls}),
            omitted,
        ))
    }

    pub async fn pull(&self, repo: &str, number: u64) -> Result<Value, ToolError> {
        let base = format!("/api/v1/repos/{repo}/pulls/{number}");
        let p = self.get(&base, &[]).await?;
        let files = self
            .get(&format!("{base}/files"), &[("limit", "50")])
            .await?;
        let (files, omitted) = fit(files.as_array().into_iter().flatten().map(|f| {
            json!({
                "file": f["filename"], "status": f["status"],
                "additions": f["additions"], "deletions": f["deletions"],
            })
        }));
        let sha = p["head"]["sha"].as_str().unwrap_or_default();
        let ci = if is_ref(sha) {
            match self
                .get(&format!("/api/v1/repos/{repo}/commits/{sha}/status"), &[])
                .await
            {
                Ok(s) => json!({
                    "state": s["state"],
                    "checks": s["statuses"].as_array().into_iter().flatten().take(30).map(|c| json!({
                        "context": c["context"],
                        // Gitea names a status's state `status`.
                        "state": if c["status"].is_null() { &c["state"] } else { &c["status"] },
                        "description": cut(c["description"].as_str().unwrap_or_default(), 200),
                    })).collect::<Vec<_>>(),
                }),
                Err(e) => json!({"error": e.to_string()}),
            }
        } else {
            Value::Null
        };
        Ok(with_omitted(
            json!({
                "repo": repo,
                "number": p["number"],
                "title": p["title"],
                "state": p["state"],
                "author": p["user"]["login"],
                "draft": is_draft(&p),
                "head": p["head"]["ref"],
                "headCommit": sha,
                "base": p["base"]["ref"],
                "mergeable": p["mergeable"],
                "merged": p["merged"],
                "additions": p["additions"],
                "deletions": p["deletions"],
                "changedFiles": p["changed_files"],
                "body": cut(p["body"].as_str().unwrap_or_default(), 2000),
                "files": files,
                "ci": ci,
            }),
            omitted,
        ))
    }

    pub async fn file(&self, repo: &str, path: &str, at: Option<&str>) -> Result<Value, ToolError> {
        if !(path.is_empty() || is_file_path(path)) || at.is_some_and(|r| !is_ref(r)) {
            return Err(ToolError::InvalidArguments(
                "path or ref would leave the repository".into(),
            ));
        }
        let query: Vec<(&str, &str)> = at.map(|r| ("ref", r)).into_iter().collect();
        let at_path = if path.is_empty() {
            format!("/api/v1/repos/{repo}/contents")
        } else {
            format!("/api/v1/repos/{repo}/contents/{path}")
        };
        let got = self.get(&at_path, &query).await?;
        if let Some(entries) = got.as_array() {
            let (entries, omitted) = fit(entries
                .iter()
                .map(|e| json!({"name": e["name"], "type": e["type"], "size": e["size"]})));
            return Ok(with_omitted(
                json!({"repo": repo, "path": path, "ref": at, "entries": entries}),
                omitted,
            ));
        }
        let mut out = json!({
            "repo": repo, "path": got["path"], "ref": at, "type": got["type"],
            "size": got["size"], "sha": got["sha"],
        });
        match got["type"].as_str() {
            Some("file") => {
                let encoded: String = got["content"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| {
                        ToolError::Failed(format!("the forge sent {path} in invalid base64: {e}"))
                    })?;
                match String::from_utf8(bytes) {
                    Ok(text) => {
                        let chars = text.chars().count();
                        out["content"] = json!(cut(&text, MAX_FILE_CHARS));
                        if chars > MAX_FILE_CHARS {
                            out["truncated"] =
                                json!(format!("the first {MAX_FILE_CHARS} of {chars} characters"));
                        }
                    }
                    Err(_) => out["content"] = json!(null),
                }
            }
            Some("symlink") => out["target"] = got["target"].clone(),
            _ => {}
        }
        Ok(out)
    }
}

/// Whether a request the refusal check caught (its `action`) asks for a
/// draft pull request: with drafts enabled, the model may propose one
/// (`forge_draft_pr`), which a person reviews and merges. Any other
/// action stays refused.
pub fn asks_for_draft(text: &str, action: &str) -> bool {
    let proposing = matches!(
        action,
        "open"
            | "create"
            | "make"
            | "draft"
            | "propose"
            | "submit"
            | "raise"
            | "file"
            | "fix"
            | "update"
            | "edit"
            | "change"
            | "write"
            | "add"
            | "correct"
    );
    let lower = text.to_lowercase();
    let about_pull_request = lower.contains("pull request")
        || lower.contains("merge request")
        || lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "pr");
    proposing && about_pull_request
}

fn labels(item: &Value) -> Vec<Value> {
    item["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .take(10)
        .map(|l| l["name"].clone())
        .collect()
}

/// Gitea and Forgejo mark a draft by a title prefix (`WIP:` or `[WIP]`);
/// newer versions also say `draft`.
fn is_draft(p: &Value) -> bool {
    let title = p["title"].as_str().unwrap_or_default().to_uppercase();
    p["draft"] == true || title.starts_with("WIP:") || title.starts_with("[WIP]")
}

/// An error answer, named: 401 (the token), 403 (its rights), 404 (Gitea
/// also answers 404 for a private repository the token cannot see).
fn status_error(
    service: &Service,
    status: reqwest::StatusCode,
    path: &str,
    body: &[u8],
) -> ToolError {
    let message = service::error_message(body);
    let why = match status.as_u16() {
        401 => "the token is not accepted (missing, expired or revoked)",
        403 => "the token may not do this (its scopes or the repository's permissions)",
        404 => "not found, or the token cannot see it",
        409 | 422 => "the forge refused the change",
        _ => "the request failed",
    };
    service.refused(status, path, why, &message)
}

#[cfg(test)]
mod tests {
    use super::{allowed, is_file_path, is_repo};

    #[test]
    fn only_the_read_only_set_is_read() {
        for path in [
            "/api/v1/repos/search",
            "/api/v1/repos/ops/infra",
            "/api/v1/repos/ops/infra/issues",
            "/api/v1/repos/ops/infra/pulls",
            "/api/v1/repos/ops/infra/pulls/7",
            "/api/v1/repos/ops/infra/pulls/7/files",
            "/api/v1/repos/ops/infra/commits/4f1c2e9/status",
            "/api/v1/repos/ops/infra/contents",
            "/api/v1/repos/ops/infra/contents/docs/README.md",
        ] {
            assert!(allowed(path), "{path}");
        }
        for path in [
            "/api/v1/repos/ops/infra/pulls/7/merge",
            "/api/v1/repos/ops/infra/contents/../../admin",
            "/api/v1/repos/ops/infra/hooks",
            "/api/v1/repos/ops/infra/collaborators",
            "/api/v1/repos/ops/infra/keys",
            "/api/v1/repos/ops/../admin/users",
            "/api/v1/admin/users",
            "/api/v1/user/tokens",
            "/api/v1/repos/ops/infra/actions/secrets",
            "/api/v1/repos/ops/infra/contents/",
        ] {
            assert!(!allowed(path), "{path}");
        }
        assert!(is_repo("ops/infra") && !is_repo("ops") && !is_repo("../x") && !is_repo("a/b/c"));
        assert!(
            !is_file_path("/etc/passwd") && !is_file_path("a/../../b") && !is_file_path("a//b")
        );
    }
}

#[cfg(test)]
mod draft_requests {
    use super::asks_for_draft;

    /// A request for a draft pull request passes (when drafts are
    /// enabled); any other change stays refused.
    #[test]
    fn only_a_pull_request_is_let_through() {
        for text in [
            "open a draft pull request that fixes the typo in the backup runbook",
            "please create a PR updating docs/restore.md",
            "could you fix the typo in runbooks/backup.md and open a PR",
            "write a pull request that documents the new NAS",
            "propose a pull request adding the missing step",
        ] {
            if let Some(refusal) = crate::refusal::check(text) {
                assert!(
                    asks_for_draft(text, &refusal.action),
                    "{text}: {}",
                    refusal.action
                );
            }
        }
        for text in [
            "delete the repository ops/infra",
            "restart nginx and open a PR",
            "close the pull request",
            "push the fix to main",
            "delete the namespace, then open a PR",
        ] {
            // Refused as before.
            let refusal = crate::refusal::check(text).expect(text);
            assert!(
                !asks_for_draft(text, &refusal.action),
                "{text}: {}",
                refusal.action
            );
        }
    }
}

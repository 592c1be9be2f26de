//! The docs repository: a git repository of runbooks kept in sync in the
//! state directory, read by `docs_search` besides `runbooks`.
//!
//! Every `interval` the branch is fetched, one commit deep, into a bare
//! repository (`docs-repository.git`) and its files written to
//! `docs-repository/` (`git reset --hard`, which also removes files the
//! branch no longer has). Nothing is ever pushed. A failed sync is logged
//! and the last good copy stays in use.

use std::path::{Path, PathBuf};

use super::{git, ToolError};
use crate::config::DocsRepositoryConfig;
use hwc_ai_runtime::{ConfigError, Secret, Shutdown};

pub struct DocsRepository {
    config: DocsRepositoryConfig,
    token: Option<Secret>,
    bare: PathBuf,
    checkout: PathBuf,
}

impl DocsRepository {
    pub fn new(config: &DocsRepositoryConfig, state: &Path) -> Result<Self, ConfigError> {
        let token = match &config.token {
            Some(source) => Some(source.read("docsRepository.token")?),
            None => None,
        };
        Ok(Self {
            config: config.clone(),
            token,
            bare: state.join("docs-repository.git"),
            checkout: state.join("docs-repository"),
        })
    }

    /// Where its files are.
    pub fn checkout(&self) -> &Path {
        &self.checkout
    }

    /// One fetch and checkout: the commit now in use.
    pub async fn sync(&self) -> Result<String, ToolError> {
        let token = self.token.as_ref().map(Secret::expose);
        let url = self.config.url.as_str();
        let auth = git::auth_header(url, token);
        let git_bin = &self.config.git;
        create(&self.bare)?;
        if !self.bare.join("HEAD").exists() {
            git::run(git_bin, &self.bare, &["init", "-q", "--bare"], None, token).await?;
        }
        let branch = format!("refs/heads/{}", self.config.branch);
        git::run(
            git_bin,
            &self.bare,
            &[
                "fetch",
                "-q",
                "--depth=1",
                "--force",
                "--",
                url,
                &format!("+{branch}:{branch}"),
            ],
            auth.as_deref(),
            token,
        )
        .await?;
        // Only now: before a first good fetch, docs_search says so. The
        // first checkout is written beside and moved into place whole, so
        // a search never sees half of it.
        let first = !self.checkout.exists();
        let target = if first {
            let fresh = self.checkout.with_extension("new");
            let _ = std::fs::remove_dir_all(&fresh);
            fresh
        } else {
            self.checkout.clone()
        };
        create(&target)?;
        let work_tree = format!("--work-tree={}", target.display());
        git::run(
            git_bin,
            &self.bare,
            &[&work_tree, "reset", "-q", "--hard", &branch],
            None,
            token,
        )
        .await?;
        if first {
            std::fs::rename(&target, &self.checkout).map_err(|e| {
                ToolError::Failed(format!(
                    "moving {} into place: {e}",
                    self.checkout.display()
                ))
            })?;
        }
        Ok(
            git::run(git_bin, &self.bare, &["rev-parse", &branch], None, token)
                .await?
                .trim()
                .to_owned(),
        )
    }

    /// Syncs now and every `interval` until `shutdown`.
    pub async fn keep_in_sync(&self, shutdown: Shutdown) {
        loop {
            match self.sync().await {
                Ok(commit) => {
                    tracing::info!(commit = %commit, branch = %self.config.branch, "docs repository in sync")
                }
                Err(e) => {
                    tracing::warn!("docs repository not synced (the last copy stays in use): {e}")
                }
            }
            if !shutdown.sleep(self.config.interval).await {
                return;
            }
        }
    }
}

fn create(dir: &Path) -> Result<(), ToolError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ToolError::Failed(format!("creating {}: {e}", dir.display())))
}

//! `docs_search`: the operator's runbooks (a directory of Markdown files):
//! list them, read one, or search them. Nothing outside the directory is
//! read, and every answer is bounded.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::ToolError;

const MAX_FILES: usize = 200;
const MAX_READ_BYTES: usize = 8 * 1024;
const MAX_MATCHES: usize = 20;

/// Where the docs repository's files appear among the runbooks.
pub const REPOSITORY_PREFIX: &str = "repository/";

/// `file` reads one runbook; `query` searches all of them (every word,
/// case-insensitive, per line); neither lists them. The runbooks are the
/// `runbooks` directory's and the docs repository's (`repository/...`).
pub fn docs(
    runbooks: Option<&Path>,
    repository: Option<&Path>,
    query: Option<&str>,
    file: Option<&str>,
) -> Result<Value, ToolError> {
    if runbooks.is_none() && repository.is_none() {
        return Err(ToolError::Unavailable(
            "no runbook directory (runbooks) or docs repository (docsRepository) is configured"
                .into(),
        ));
    }
    let mut roots: Vec<(&str, PathBuf)> = Vec::new();
    if let Some(dir) = runbooks {
        let dir = dir
            .canonicalize()
            .map_err(|e| ToolError::Failed(format!("the runbook directory: {e}")))?;
        roots.push(("", dir));
    }
    // Absent until its first sync.
    if let Some(dir) = repository.and_then(|d| d.canonicalize().ok()) {
        roots.push((REPOSITORY_PREFIX, dir));
    }
    if roots.is_empty() {
        return Err(ToolError::Unavailable(
            "the docs repository has not been fetched yet".into(),
        ));
    }
    if let Some(file) = file {
        let (root, name) = match file.strip_prefix(REPOSITORY_PREFIX) {
            Some(rest) if roots.iter().any(|(p, _)| *p == REPOSITORY_PREFIX) => (
                &roots
                    .iter()
                    .find(|(p, _)| *p == REPOSITORY_PREFIX)
                    .unwrap()
                    .1,
                rest,
            ),
            _ => match roots.iter().find(|(p, _)| p.is_empty()) {
                Some((_, root)) => (root, file),
                None => return Err(ToolError::InvalidArguments(format!("no runbook `{file}`"))),
            },
        };
        let path = inside(root, name)?;
        let text = std::fs::read(&path).map_err(|e| {
            ToolError::InvalidArguments(format!("cannot read runbook `{file}`: {e}"))
        })?;
        let truncated = text.len() > MAX_READ_BYTES;
        let mut end = text.len().min(MAX_READ_BYTES);
        while end > 0 && std::str::from_utf8(&text[..end]).is_err() {
            end -= 1;
        }
        return Ok(json!({
            "file": file,
            "text": String::from_utf8_lossy(&text[..end]),
            "truncated": truncated,
        }));
    }
    let files: Vec<(String, PathBuf)> = roots
        .iter()
        .flat_map(|(prefix, root)| {
            markdown_files(root)
                .into_iter()
                .map(move |p| (format!("{prefix}{}", relative(root, &p)), p))
        })
        .take(MAX_FILES)
        .collect();
    match query {
        None => Ok(json!({
            "files": files.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        })),
        Some(query) => {
            let words: Vec<String> = query
                .to_lowercase()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if words.is_empty() {
                return Err(ToolError::InvalidArguments("query is empty".into()));
            }
            let mut matches = Vec::new();
            let mut more = false;
            for (name, path) in &files {
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                for (n, line) in text.lines().enumerate() {
                    let lower = line.to_lowercase();
                    if words.iter().all(|w| lower.contains(w.as_str())) {
                        if matches.len() == MAX_MATCHES {
                            more = true;
                            break;
                        }
                        let line: String = line.chars().take(300).collect();
                        matches.push(json!({"file": name, "line": n + 1, "text": line}));
                    }
                }
            }
            Ok(json!({"query": query, "matches": matches, "more": more}))
        }
    }
}

/// `name` resolved under `root`, refusing anything that leaves it.
fn inside(root: &Path, name: &str) -> Result<PathBuf, ToolError> {
    let path = root
        .join(name)
        .canonicalize()
        .map_err(|_| ToolError::InvalidArguments(format!("no runbook `{name}`")))?;
    if !path.starts_with(root) || path.extension().is_none_or(|e| e != "md") {
        return Err(ToolError::InvalidArguments(format!(
            "`{name}` is not a runbook (a .md file in the runbook directory)"
        )));
    }
    Ok(path)
}

fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if out.len() == MAX_FILES {
                return out;
            }
            // Symlinks are not followed: they could lead out of the root.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() && path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbooks() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("disk.md"),
            "# Disk full\n\nWhen the disk is full, prune old models.\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("net")).unwrap();
        std::fs::write(
            dir.path().join("net/dns.md"),
            "# DNS\nCheck the resolver.\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not markdown").unwrap();
        dir
    }

    #[test]
    fn list_read_and_search() {
        let dir = runbooks();
        let list = docs(Some(dir.path()), None, None, None).unwrap();
        assert_eq!(list["files"], json!(["disk.md", "net/dns.md"]));
        let read = docs(Some(dir.path()), None, None, Some("net/dns.md")).unwrap();
        assert!(read["text"].as_str().unwrap().contains("resolver"));
        let found = docs(Some(dir.path()), None, Some("DISK full"), None).unwrap();
        assert_eq!(found["matches"][0]["file"], "disk.md");
        assert_eq!(found["matches"][0]["line"], 1);
        assert_eq!(found["matches"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_docs_repository_is_read_beside_the_runbooks() {
        let dir = runbooks();
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(
            repo.path().join("backup.md"),
            "# Backup\nDisk full? Prune snapshots.\n",
        )
        .unwrap();
        let list = docs(Some(dir.path()), Some(repo.path()), None, None).unwrap();
        assert_eq!(
            list["files"],
            json!(["disk.md", "net/dns.md", "repository/backup.md"])
        );
        let read = docs(
            Some(dir.path()),
            Some(repo.path()),
            None,
            Some("repository/backup.md"),
        )
        .unwrap();
        assert!(read["text"].as_str().unwrap().contains("Prune snapshots"));
        let found = docs(Some(dir.path()), Some(repo.path()), Some("disk full"), None).unwrap();
        let files: Vec<&str> = found["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["file"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["disk.md", "disk.md", "repository/backup.md"]);
        assert!(docs(
            Some(dir.path()),
            Some(repo.path()),
            None,
            Some("repository/../disk.md")
        )
        .is_err());
        // Before its first sync, the repository's directory does not exist.
        let err = docs(None, Some(&repo.path().join("absent")), None, None).unwrap_err();
        assert!(err.to_string().contains("not been fetched yet"), "{err}");
    }

    #[test]
    fn nothing_outside_the_directory_is_read() {
        let dir = runbooks();
        for name in [
            "../../etc/passwd",
            "/etc/passwd",
            "notes.txt",
            "net/../../x.md",
        ] {
            let err = docs(Some(dir.path()), None, None, Some(name)).unwrap_err();
            assert!(
                matches!(err, ToolError::InvalidArguments(_)),
                "{name}: {err}"
            );
        }
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("host.md")).unwrap();
        assert!(docs(Some(dir.path()), None, None, Some("host.md")).is_err());
    }
}

//! The `auto-doc` kind: a README-style summary of each folder of the
//! declared `source`, written to the same relative folder under the
//! output directory. Only `source` is read: symlinks are not followed,
//! an input `folder` that leaves it is refused, and what is read is
//! bounded (`limits`). Every summary is made before any file is written,
//! so a model that stops answering halfway leaves nothing half-done.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::config::Workflow;
use super::output::File;
use super::run::{Produced, RunError};
use crate::engine::{AgentRun, Engine};

const SYSTEM: &str = "You document a folder of files for its README. From the listing and \
the file excerpts given, write Markdown: one paragraph on what the folder is for, then a \
bullet per important file saying what it does. Use only what the excerpts show.";

/// One folder's listing and excerpts.
struct Folder {
    relative: PathBuf,
    files: Vec<(String, u64)>,
    folders: Vec<String>,
    excerpts: Vec<(String, String)>,
}

/// `folder` (an input, relative to `source`) resolved inside `source`;
/// `..`, absolute paths and symlinks leading out are refused.
pub fn resolve(source: &Path, folder: Option<&str>) -> Result<PathBuf, RunError> {
    let root = source.canonicalize().map_err(|e| {
        RunError::Failed(format!(
            "the source directory {} cannot be read: {e}",
            source.display()
        ))
    })?;
    let Some(folder) = folder.filter(|f| !f.is_empty() && *f != ".") else {
        return Ok(root);
    };
    let relative = Path::new(folder);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(RunError::PathRefused(format!(
            "`{folder}` is not a folder inside {} (no `..`, no absolute paths)",
            source.display()
        )));
    }
    let path = root.join(relative);
    let real = path
        .canonicalize()
        .map_err(|e| RunError::Failed(format!("{} cannot be read: {e}", path.display())))?;
    if !real.starts_with(&root) {
        return Err(RunError::PathRefused(format!(
            "{} leads out of {} (a symlink)",
            path.display(),
            source.display()
        )));
    }
    Ok(real)
}

fn looks_textual(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The folders under `start` (itself first), breadth first, bounded.
fn walk(root: &Path, start: &Path, workflow: &Workflow) -> Result<Vec<Folder>, RunError> {
    let limits = &workflow.limits;
    let mut budget = limits.max_total_bytes;
    let mut queue = std::collections::VecDeque::from([start.to_path_buf()]);
    let mut out = Vec::new();
    while let Some(dir) = queue.pop_front() {
        if out.len() >= limits.max_entries {
            break;
        }
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| RunError::Failed(format!("{} cannot be read: {e}", dir.display())))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        let mut folder = Folder {
            relative: dir
                .strip_prefix(root)
                .unwrap_or(Path::new(""))
                .to_path_buf(),
            files: Vec::new(),
            folders: Vec::new(),
            excerpts: Vec::new(),
        };
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // symlink_metadata: a symlink is listed as what it is, never followed.
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                folder.folders.push(name);
                queue.push_back(entry.path());
            } else if meta.is_file() {
                folder.files.push((name.clone(), meta.len()));
                let want = limits.max_file_bytes.min(budget);
                if want == 0 {
                    continue;
                }
                let mut head = Vec::new();
                if std::fs::File::open(entry.path())
                    .and_then(|f| f.take(want).read_to_end(&mut head))
                    .is_ok()
                    && looks_textual(&head)
                {
                    budget -= head.len() as u64;
                    folder
                        .excerpts
                        .push((name, String::from_utf8_lossy(&head).into_owned()));
                }
            }
        }
        out.push(folder);
    }
    Ok(out)
}

pub async fn run(
    engine: &Engine,
    client: &str,
    _name: &str,
    workflow: &Workflow,
    inputs: &Value,
) -> Result<Produced, RunError> {
    let source = workflow.source.as_deref().unwrap_or(Path::new("/"));
    let root = resolve(source, None)?;
    let start = resolve(source, inputs["folder"].as_str())?;
    // Bounded by `limits`; small enough to read on the runtime thread.
    let folders = walk(&root, &start, workflow)?;
    let (router, _, _) = engine.router();
    let model = workflow.model.as_deref().unwrap_or(&router.model);
    let budget = workflow.budget.unwrap_or_else(|| engine.budget());
    let mut files = Vec::new();
    let mut documented = Vec::new();
    for folder in &folders {
        let shown = if folder.relative.as_os_str().is_empty() {
            source.display().to_string()
        } else {
            source.join(&folder.relative).display().to_string()
        };
        let mut task = format!(
            "Folder `{shown}`.\nSubfolders: {}\nFiles:\n",
            folder.folders.join(", ")
        );
        for (file, size) in &folder.files {
            task.push_str(&format!("- {file} ({size} bytes)\n"));
        }
        for (file, text) in &folder.excerpts {
            task.push_str(&format!("\n--- {file} ---\n{text}\n"));
        }
        if let Some(extra) = &workflow.prompt {
            task.push_str(&format!("\n{extra}"));
        }
        let run = AgentRun {
            model,
            system: SYSTEM,
            tools: Some(&[]),
            budget,
        };
        let summary = engine
            .run_agent(client, &task, &run, &mut Vec::new())
            .await
            .map_err(RunError::ModelUnavailable)?;
        let mut content = format!("# {shown}\n\n{summary}\n\n## Contents\n\n");
        for sub in &folder.folders {
            content.push_str(&format!("- `{sub}/`\n"));
        }
        for (file, size) in &folder.files {
            content.push_str(&format!("- `{file}` ({size} bytes)\n"));
        }
        files.push(File {
            relative: folder.relative.join("README.md"),
            content,
        });
        documented.push(shown);
    }
    let content = format!(
        "Documented {} folder(s) of {}.",
        documented.len(),
        source.display()
    );
    Ok(Produced {
        files,
        content,
        data: json!({"folders": documented}),
        notes: Vec::new(),
    })
}

//! The `file-triage` kind: a plan saying where each file of the inbox
//! goes, from the declared destinations' rules (name words, extensions,
//! the type sniffed from the first bytes). Applying it is opt-in (`apply`
//! in the declaration or the run's request) and narrow:
//!
//! - only regular files directly in the inbox move, and only into a
//!   declared destination directory; a symlink, a folder or a name with
//!   `/` or `..` is refused, never followed;
//! - a move is a `rename` that never replaces a file (`RENAME_NOREPLACE`);
//!   nothing is copied, overwritten or deleted;
//! - before the first move the undo log (`STATE/workflows/undo/RUN.json`)
//!   is written, and after each move it is written again, so it always
//!   lists the moves made; [`undo`] moves them back.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::config::Workflow;
use super::output::{write_atomic, File};
use super::run::{stamp, Produced, RunError};

/// One file's fate in the plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub file: String,
    /// The destination's name, when a rule matched.
    pub destination: Option<String>,
    pub to: Option<String>,
    /// Why: the rule that matched, or why the file stays.
    pub reason: String,
}

/// A move made, as the undo log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub from: PathBuf,
    pub to: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UndoLog {
    pub workflow: String,
    pub run: String,
    /// The directories moves may touch: the inbox and the destinations.
    pub directories: Vec<PathBuf>,
    pub moves: Vec<Move>,
}

/// The type of a file from its first bytes.
pub fn sniff(head: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"%PDF") {
        "pdf"
    } else if starts(b"\x89PNG")
        || starts(b"\xff\xd8\xff")
        || starts(b"GIF8")
        || (starts(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
    {
        "image"
    } else if starts(b"PK\x03\x04")
        || starts(b"\x1f\x8b")
        || starts(b"7z\xbc\xaf")
        || starts(b"\xfd7zXZ")
    {
        "archive"
    } else if starts(b"ID3")
        || starts(b"fLaC")
        || starts(b"OggS")
        || (starts(b"RIFF") && head.get(8..12) == Some(b"WAVE"))
    {
        "audio"
    } else if head.get(4..8) == Some(b"ftyp") || starts(b"\x1a\x45\xdf\xa3") {
        "video"
    } else if head.is_empty() || (!head.contains(&0) && std::str::from_utf8(head).is_ok()) {
        "text"
    } else {
        "binary"
    }
}

/// The plan for every entry of the inbox (bounded by `limits.maxEntries`).
pub fn plan(workflow: &Workflow) -> Result<Vec<Item>, RunError> {
    let inbox = workflow
        .inbox
        .as_deref()
        .unwrap_or(Path::new("/nonexistent"));
    let mut entries: Vec<_> = std::fs::read_dir(inbox)
        .map_err(|e| {
            RunError::Failed(format!("the inbox {} cannot be read: {e}", inbox.display()))
        })?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut items = Vec::new();
    for entry in entries.into_iter().take(workflow.limits.max_entries) {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with('.') {
            continue;
        }
        let stay = |reason: &str| Item {
            file: file.clone(),
            destination: None,
            to: None,
            reason: reason.into(),
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            items.push(stay("cannot be read"));
            continue;
        };
        if meta.file_type().is_symlink() {
            items.push(stay("a symlink: refused, never followed"));
            continue;
        }
        if !meta.is_file() {
            items.push(stay("not a regular file"));
            continue;
        }
        let mut head = Vec::new();
        let _ = std::fs::File::open(entry.path()).and_then(|f| f.take(512).read_to_end(&mut head));
        let kind = sniff(&head);
        let lower = file.to_lowercase();
        let extension = Path::new(&lower)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let matched = workflow.destinations.iter().find_map(|(name, d)| {
            let reason = if let Some(word) = d
                .name_contains
                .iter()
                .find(|w| lower.contains(&w.to_lowercase()))
            {
                format!("the name contains `{word}`")
            } else if d
                .extensions
                .iter()
                .any(|e| e.trim_start_matches('.').eq_ignore_ascii_case(&extension))
            {
                format!("extension `.{extension}`")
            } else if d.types.iter().any(|t| t == kind) {
                format!("its content is {kind}")
            } else {
                return None;
            };
            Some((name, d, reason))
        });
        items.push(match matched {
            Some((name, d, reason)) => Item {
                file: file.clone(),
                destination: Some(name.clone()),
                to: Some(d.directory.join(&file).display().to_string()),
                reason,
            },
            None => stay(&format!("no destination's rule matches ({kind})")),
        });
    }
    Ok(items)
}

/// `path` is directly inside one of `dirs` and is not a symlink.
fn inside(path: &Path, dirs: &[PathBuf]) -> bool {
    let Some(parent) = path.parent() else {
        return false;
    };
    let name_ok = path
        .file_name()
        .is_some_and(|n| n != ".." && n != "." && !n.to_string_lossy().contains('/'));
    name_ok && dirs.iter().any(|d| d == parent)
}

fn rename_no_replace(from: &Path, to: &Path) -> Result<(), String> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE)
        .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))
}

/// Moves the planned files, writing the undo log at `log` first and after
/// every move. Returns the moves made; stops at the first failure.
pub fn apply(
    workflow_name: &str,
    run: &str,
    workflow: &Workflow,
    items: &[Item],
    log: &Path,
) -> Result<Vec<Move>, RunError> {
    let inbox = workflow.inbox.clone().unwrap_or_default();
    let mut directories = vec![inbox.clone()];
    directories.extend(workflow.destinations.values().map(|d| d.directory.clone()));
    for dir in &directories {
        let meta = std::fs::symlink_metadata(dir).map_err(|e| {
            RunError::Output(format!(
                "the directory {} cannot be used: {e}",
                dir.display()
            ))
        })?;
        if !meta.is_dir() {
            return Err(RunError::PathRefused(format!(
                "{} is not a directory (a symlink is not followed)",
                dir.display()
            )));
        }
    }
    let mut undo = UndoLog {
        workflow: workflow_name.into(),
        run: run.into(),
        directories: directories.clone(),
        moves: Vec::new(),
    };
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| RunError::Output(format!("cannot create {}: {e}", parent.display())))?;
    }
    let save =
        |undo: &UndoLog| write_atomic(log, &serde_json::to_string_pretty(undo).unwrap_or_default());
    save(&undo)?;
    for item in items {
        let Some(to) = &item.to else { continue };
        let from = inbox.join(&item.file);
        let to = PathBuf::from(to);
        if !inside(&from, &directories[..1]) || !inside(&to, &directories[1..]) {
            return Err(RunError::PathRefused(format!(
                "{} → {}: moves go from the inbox to a declared destination only",
                from.display(),
                to.display()
            )));
        }
        let meta = from
            .symlink_metadata()
            .map_err(|e| RunError::Failed(format!("{} cannot be read: {e}", from.display())))?;
        if !meta.is_file() {
            return Err(RunError::PathRefused(format!(
                "{} is not a regular file (a symlink is never moved)",
                from.display()
            )));
        }
        rename_no_replace(&from, &to).map_err(RunError::Failed)?;
        undo.moves.push(Move { from, to });
        save(&undo)?;
    }
    Ok(undo.moves)
}

/// Moves back what the undo log at `log` lists, newest first, only
/// between the directories it names, never replacing a file. Returns the
/// moves undone.
pub fn undo(log: &Path) -> Result<Vec<Move>, RunError> {
    let text = std::fs::read_to_string(log).map_err(|e| {
        RunError::Failed(format!(
            "the undo log {} cannot be read: {e}",
            log.display()
        ))
    })?;
    let undo: UndoLog = serde_json::from_str(&text).map_err(|e| {
        RunError::Failed(format!("the undo log {} is not valid: {e}", log.display()))
    })?;
    let mut undone = Vec::new();
    for m in undo.moves.iter().rev() {
        if !inside(&m.from, &undo.directories) || !inside(&m.to, &undo.directories) {
            return Err(RunError::PathRefused(format!(
                "{} → {}: outside the directories of the undo log",
                m.to.display(),
                m.from.display()
            )));
        }
        rename_no_replace(&m.to, &m.from).map_err(RunError::Failed)?;
        undone.push(Move {
            from: m.to.clone(),
            to: m.from.clone(),
        });
    }
    Ok(undone)
}

/// The undo log of run `run` under `undo_dir`; run ids are checked so a
/// request cannot name a file elsewhere.
pub fn undo_log_path(undo_dir: &Path, run: &str) -> Result<PathBuf, RunError> {
    if run.is_empty() || !run.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(RunError::PathRefused(format!("`{run}` is not a run id")));
    }
    Ok(undo_dir.join(format!("{run}.json")))
}

pub fn run(
    name: &str,
    run: &str,
    workflow: &Workflow,
    _inputs: &Value,
    apply_plan: bool,
    undo_dir: &Path,
) -> Result<Produced, RunError> {
    let items = plan(workflow)?;
    let (_, time) = stamp();
    let mut markdown = format!(
        "# File triage: {}\n\n| file | goes to | why |\n| --- | --- | --- |\n",
        workflow.inbox.as_deref().unwrap_or(Path::new("")).display()
    );
    for item in &items {
        markdown.push_str(&format!(
            "| `{}` | {} | {} |\n",
            item.file,
            item.destination.as_deref().unwrap_or("(stays)"),
            item.reason
        ));
    }
    let mut data = json!({"plan": items, "applied": false});
    if apply_plan {
        let log = undo_log_path(undo_dir, run)?;
        let moves = apply(name, run, workflow, &items, &log)?;
        markdown.push_str(&format!(
            "\nApplied: {} file(s) moved; undo log {}.\n",
            moves.len(),
            log.display()
        ));
        data["applied"] = json!(true);
        data["moves"] = json!(moves);
        data["undoLog"] = json!(log);
    }
    Ok(Produced {
        files: vec![File {
            relative: format!("{name}-{time}.md").into(),
            content: markdown.clone(),
        }],
        content: markdown,
        data,
        notes: Vec::new(),
    })
}

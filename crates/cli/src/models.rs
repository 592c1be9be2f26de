//! `hwc-ai models` (declared vs present, as a table) and `hwc-ai models
//! sync` (reconcile now, with progress).
//!
//! Both read the puller's `/models` document. `sync` asks the running
//! puller to reconcile (`POST /reconcile?wait=true`) and draws progress
//! from `/models` while it waits; with `--config` and no puller answering,
//! it runs the puller's library in this process instead.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use hwc_ai_puller::report::ModelReport;
use hwc_ai_puller::{ModelState, ModelsDoc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::term;

/// `hwc-ai models <action>`.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Reconcile now with live progress: pull what is missing, validate
    /// what is unproven, retry what failed.
    ///
    /// Asks the running puller; with --config and no puller answering,
    /// runs the puller here. Exit status: 0 every declared model present
    /// and valid, 1 not, 2 the puller (or Ollama) cannot be reached.
    Sync {
        /// A puller config to run here when no puller answers.
        #[arg(long, value_name = "FILE")]
        config: Option<std::path::PathBuf>,
        /// Also re-pull the autoUpdate models now.
        #[arg(long)]
        update: bool,
        /// Also validate every model again.
        #[arg(long)]
        validate: bool,
    },
}

/// `hwc-ai models [sync]`.
pub fn main(url: &str, json: bool, action: Option<Action>) -> ExitCode {
    match action {
        None => list(url, json),
        Some(Action::Sync {
            config,
            update,
            validate,
        }) => sync(url, config.as_deref(), SyncFlags { update, validate }),
    }
}

/// What `sync` asks for beyond making declared models present.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncFlags {
    pub update: bool,
    pub validate: bool,
}

async fn fetch(url: &str) -> Result<ModelsDoc, String> {
    let body = crate::http::get(&format!("{url}/models")).await?;
    serde_json::from_str(&body).map_err(|e| format!("not a puller /models document: {e}"))
}

fn unreachable(url: &str, err: &str) -> ExitCode {
    eprintln!("cannot reach the puller at {url}: {err}");
    eprintln!(
        "is hwc-ai-puller running? (systemctl status hwc-ai-puller, or hwc-ai up); \
         `hwc-ai models sync --config FILE` runs it here"
    );
    ExitCode::from(2)
}

/// `hwc-ai models`: exit 0 when every declared model is present and valid,
/// 1 when not, 2 when the puller cannot be reached.
pub fn list(url: &str, json: bool) -> ExitCode {
    let url = url.trim_end_matches('/');
    let runtime = match crate::rt::current_thread("models") {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let doc = match runtime.block_on(fetch(url)) {
        Ok(doc) => doc,
        Err(err) => return unreachable(url, &err),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("document serializes")
        );
    } else {
        print!("{}", render(&doc, SystemTime::now(), term::colour()));
    }
    verdict(&doc)
}

fn verdict(doc: &ModelsDoc) -> ExitCode {
    if doc.all_ready() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `hwc-ai models sync`: same exit codes as `hwc-ai models`.
pub fn sync(url: &str, config: Option<&Path>, flags: SyncFlags) -> ExitCode {
    let url = url.trim_end_matches('/');
    let runtime = match crate::rt::current_thread("models sync") {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let doc = match runtime.block_on(fetch(url)) {
        Ok(_) => runtime.block_on(sync_remote(url, flags)),
        Err(err) => match config {
            Some(path) => runtime.block_on(sync_local(path, flags)),
            None => return unreachable(url, &err),
        },
    };
    let doc = match doc {
        Ok(doc) => doc,
        Err(err) => {
            eprintln!("hwc-ai models sync: {err:#}");
            return ExitCode::from(2);
        }
    };
    print!("{}", render(&doc, SystemTime::now(), term::colour()));
    verdict(&doc)
}

/// Asks the running puller and draws its progress until it answers.
async fn sync_remote(url: &str, flags: SyncFlags) -> anyhow::Result<ModelsDoc> {
    let query = format!(
        "{url}/reconcile?wait=true&update={}&validate={}",
        flags.update, flags.validate
    );
    let request = tokio::spawn(async move {
        let response = crate::http::client(None).post(query).send().await?;
        anyhow::Ok(response.json::<ModelsDoc>().await?)
    });
    let mut view = Progress::new();
    let poll = async {
        loop {
            if let Ok(doc) = fetch(url).await {
                view.show(&doc);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let doc = tokio::select! {
        doc = request => doc??,
        _ = poll => unreachable!("polling never ends"),
    };
    view.show(&doc);
    view.finish();
    Ok(doc)
}

/// Runs the puller's library here, for a machine without the daemon.
async fn sync_local(path: &Path, flags: SyncFlags) -> anyhow::Result<ModelsDoc> {
    let config: hwc_ai_puller::Config = hwc_ai_runtime::config::load(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    hwc_ai_runtime::logging::init(&hwc_ai_runtime::LogConfig {
        level: "warn".to_owned(),
        ..config.log.clone()
    });
    let puller = hwc_ai_puller::Puller::new(
        config,
        hwc_ai_puller::Options::default(),
        hwc_ai_runtime::notify::Notifier::disabled(),
        None,
    )?;
    let shutdown = hwc_ai_runtime::Shutdown::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        hwc_ai_runtime::shutdown::signal().await;
        on_signal.trigger();
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    if !puller.wait_for_ollama(&shutdown, Some(deadline)).await {
        let doc = puller.snapshot();
        anyhow::bail!(
            "Ollama at {} did not answer: {}",
            doc.ollama.url,
            doc.ollama.error.unwrap_or_default()
        );
    }
    let request = hwc_ai_puller::Request {
        force: true,
        update: flags.update,
        revalidate: flags.validate,
    };
    let task = {
        let puller = puller.clone();
        tokio::spawn(async move { puller.reconcile(request).await })
    };
    let mut view = Progress::new();
    let poll = async {
        loop {
            view.show(&puller.snapshot());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        _ = task => {}
        _ = poll => unreachable!("polling never ends"),
        _ = shutdown.wait() => anyhow::bail!("interrupted"),
    }
    let doc = puller.snapshot();
    view.show(&doc);
    view.finish();
    Ok(doc)
}

/// Live progress: bars on a terminal, a line per change otherwise.
struct Progress {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    /// Plain mode: the last line printed per model.
    last: HashMap<String, String>,
}

impl Progress {
    fn new() -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                HashMap::new(),
            )
        });
        Self {
            bars,
            last: HashMap::new(),
        }
    }

    fn show(&mut self, doc: &ModelsDoc) {
        for m in doc.models.iter().filter(|m| m.declared) {
            match &mut self.bars {
                Some((multi, bars)) => {
                    let bar = bars.entry(m.name.clone()).or_insert_with(|| {
                        let bar = multi.add(ProgressBar::new(0));
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{prefix:<28} [{bar:30}] {decimal_bytes:>9}/{decimal_total_bytes:<9} {msg}",
                            )
                            .expect("constant template")
                            .progress_chars("=> "),
                        );
                        bar.set_prefix(m.name.clone());
                        bar
                    });
                    if let Some(p) = m.progress {
                        bar.set_length(p.total_bytes);
                        bar.set_position(p.completed_bytes);
                    } else if let Some(size) = m.size_bytes.filter(|_| m.present) {
                        bar.set_length(size);
                        bar.set_position(size);
                    }
                    bar.set_message(state_words(m));
                }
                None => {
                    let line = match (&m.state, m.progress) {
                        (ModelState::Pulling, Some(p)) => {
                            // A line per quarter, not per poll.
                            format!("pulling {}%", p.percent() / 25 * 25)
                        }
                        _ => state_words(m),
                    };
                    if self.last.get(&m.name) != Some(&line) {
                        eprintln!("{}: {line}", m.name);
                        self.last.insert(m.name.clone(), line);
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some((multi, bars)) = &self.bars {
            for bar in bars.values() {
                bar.finish();
            }
            let _ = multi.clear();
        }
    }
}

fn state_words(m: &ModelReport) -> String {
    match (&m.state, &m.error) {
        (s, Some(err)) if s.is_problem() => format!("{s}: {err}"),
        (s, _) => s.to_string(),
    }
}

/// The table: declared models first (in declaration order), then the
/// undeclared ones Ollama holds, marked.
fn render(doc: &ModelsDoc, now: SystemTime, colour: bool) -> String {
    let rows: Vec<Vec<String>> = doc
        .models
        .iter()
        .map(|m| {
            let name = if m.declared {
                m.name.clone()
            } else if m.kept {
                format!("{} (undeclared, kept)", m.name)
            } else {
                format!("{} (undeclared)", m.name)
            };
            let valid = match (m.declared, m.validate, m.valid) {
                (false, _, _) => "",
                (true, false, _) => "off",
                (true, true, Some(true)) => "yes",
                (true, true, Some(false)) => "NO",
                (true, true, None) => "-",
            };
            let detail = match (&m.state, &m.progress, &m.error) {
                (ModelState::Pulling, Some(p), _) => format!(
                    "{}% of {}",
                    p.percent(),
                    hwc_ai_puller::disk::human(p.total_bytes)
                ),
                (_, _, Some(err)) => err.clone(),
                _ => String::new(),
            };
            vec![
                name,
                m.state.to_string(),
                m.size_bytes
                    .filter(|_| m.present)
                    .map(hwc_ai_puller::disk::human)
                    .unwrap_or_default(),
                m.digest
                    .as_deref()
                    .map(hwc_ai_puller::engine::short)
                    .unwrap_or_default(),
                valid.to_owned(),
                if m.declared {
                    if m.auto_update { "yes" } else { "no" }.to_owned()
                } else {
                    String::new()
                },
                m.modified_at
                    .as_deref()
                    .filter(|_| m.present)
                    .map(|t| ago(t, now))
                    .unwrap_or_default(),
                detail,
            ]
        })
        .collect();
    let mut out = term::table(
        &[
            "MODEL",
            "STATE",
            "SIZE",
            "DIGEST",
            "VALID",
            "AUTO-UPDATE",
            "LAST PULLED",
            "DETAIL",
        ],
        &rows,
        |col, cell| match (col, cell) {
            (1, "ready") => term::paint(cell, "32", colour),
            (1, "failed" | "invalid" | "refused") => term::paint(cell, "1;31", colour),
            (1, "undeclared") => term::paint(cell, "2", colour),
            (1, _) => term::paint(cell, "33", colour),
            (4, "NO") => term::paint(cell, "1;31", colour),
            _ => cell.to_owned(),
        },
    );
    let declared: Vec<_> = doc.models.iter().filter(|m| m.declared).collect();
    let ready = declared
        .iter()
        .filter(|m| m.state == ModelState::Ready)
        .count();
    let undeclared = doc.models.len() - declared.len();
    out.push_str(&format!(
        "\n{ready} of {} declared models ready",
        declared.len()
    ));
    if undeclared > 0 {
        out.push_str(&format!("; {undeclared} undeclared"));
    }
    if let Some(disk) = &doc.disk {
        if let (Some(free), Some(ratio)) = (disk.free_bytes, disk.used_ratio) {
            out.push_str(&format!(
                "; disk {:.0}% used, {} free",
                ratio * 100.0,
                hwc_ai_puller::disk::human(free)
            ));
        }
    }
    if doc.ollama.reachable == Some(false) {
        out.push_str(&format!("; Ollama at {} is DOWN", doc.ollama.url));
    }
    out.push('\n');
    out
}

/// An Ollama timestamp (RFC 3339, any fraction and offset) → `3h ago`.
fn ago(stamp: &str, now: SystemTime) -> String {
    let Some(then) = parse_time(stamp) else {
        return stamp.to_owned();
    };
    let secs = now.duration_since(then).unwrap_or_default().as_secs();
    let (n, unit) = match secs {
        0..60 => (secs, "s"),
        60..3600 => (secs / 60, "m"),
        3600..86400 => (secs / 3600, "h"),
        _ => (secs / 86400, "d"),
    };
    format!("{n}{unit} ago")
}

/// humantime reads UTC (`Z`) only; Ollama writes local offsets
/// (`2025-10-03T23:34:03.409490317-07:00`).
fn parse_time(stamp: &str) -> Option<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(stamp.trim_end_matches('Z')) {
        if stamp.ends_with('Z') || !has_offset(stamp) {
            return Some(t);
        }
    }
    let split = stamp.len().checked_sub(6)?;
    let (local, offset) = stamp.split_at(split);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1i64,
        b'-' => -1,
        _ => return None,
    };
    let hours: i64 = offset.get(1..3)?.parse().ok()?;
    let minutes: i64 = offset.get(4..6)?.parse().ok()?;
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = Duration::from_secs((hours * 3600 + minutes * 60) as u64);
    Some(if sign > 0 { t - shift } else { t + shift })
}

fn has_offset(stamp: &str) -> bool {
    let tail = &stamp[stamp.len().saturating_sub(6)..];
    tail.len() == 6 && (tail.starts_with('+') || tail.starts_with('-')) && &tail[3..4] == ":"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> ModelsDoc {
        serde_json::from_value(serde_json::json!({
            "service": "hwc-ai-puller", "version": "0",
            "ollama": {"url": "http://127.0.0.1:11434", "reachable": true, "version": "0.12.6", "error": null},
            "reconcile": {"running": 0},
            "disk": {"path": "/var/lib/ollama/models", "freeBytes": 50000000000u64, "totalBytes": 100000000000u64,
                     "usedRatio": 0.5, "minFreeBytes": 5368709120u64, "warnUsedRatio": 0.8, "error": null},
            "models": [
                {"name": "llama3.2:3b", "declared": true, "kept": false, "state": "ready", "present": true,
                 "digest": "a2af6cc3eb7fa8be8504abaf9b04e88f17a119ec3f04a3addf55f92841195f5a", "sizeBytes": 2019393189u64,
                 "modifiedAt": "2026-11-22T01:00:00-02:00", "autoUpdate": true, "validate": true, "valid": true,
                 "failures": 0},
                {"name": "ghost:7b", "declared": true, "kept": false, "state": "failed", "present": false,
                 "autoUpdate": false, "validate": true, "valid": null, "failures": 2,
                 "error": "POST /api/pull: HTTP 500: pull model manifest: file does not exist"},
                {"name": "old:latest", "declared": false, "kept": false, "state": "undeclared", "present": true,
                 "digest": "0123456789abcdef", "sizeBytes": 1000, "modifiedAt": "2026-11-20T04:00:00Z",
                 "autoUpdate": false, "validate": false, "failures": 0}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn the_table_shows_declared_and_undeclared_models() {
        let now = humantime::parse_rfc3339("2026-11-22T04:00:00Z").unwrap();
        let text = render(&doc(), now, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("MODEL"), "{text}");
        assert!(
            lines[1].starts_with("llama3.2:3b")
                && lines[1].contains("ready")
                && lines[1].contains("2.0 GB")
                && lines[1].contains("a2af6cc3eb7f ")
                && lines[1].contains(" yes ")
                && lines[1].contains("1h ago"),
            "{text}"
        );
        assert!(
            lines[2].contains("failed") && lines[2].contains("file does not exist"),
            "{text}"
        );
        assert!(lines[3].starts_with("old:latest (undeclared)"), "{text}");
        assert!(lines[3].contains("2d ago"), "{text}");
        assert!(
            text.ends_with(
                "1 of 2 declared models ready; 1 undeclared; disk 50% used, 50.0 GB free\n"
            ),
            "{text}"
        );
        assert_eq!(verdict(&doc()), ExitCode::FAILURE);
    }

    #[test]
    fn ollama_times_with_offsets() {
        let utc = humantime::parse_rfc3339("2025-10-04T06:34:03Z").unwrap();
        let t = parse_time("2025-10-03T23:34:03.409490317-07:00").unwrap();
        assert_eq!(t.duration_since(utc).unwrap().as_secs(), 0);
        assert!(parse_time("2025-10-04T06:34:03Z").is_some());
    }
}

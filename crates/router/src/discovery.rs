//! Which models each Ollama backend has: installed (`GET /api/tags`) and
//! loaded (`GET /api/ps`) on the base URL without its `/v1`, asked every
//! `defaults.discoverInterval`, sooner after the backend said it lacks a
//! model or failed.
//!
//! The catalogue is read on the request path: one read lock per backend,
//! held for a clone of an `Arc`, and written only by the refresh task (and
//! when a request finds a model newly loaded), so requests do not queue on
//! it.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use hwc_ai_runtime::Shutdown;
use tokio::sync::Notify;

use crate::table::Table;

/// What a backend said it has, at the last listing that answered.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// Normalised names (`name:tag`).
    pub installed: HashSet<String>,
    pub loaded: HashSet<String>,
    /// When the last listing answered; `None` until one has.
    pub listed_at: Option<SystemTime>,
    /// Why the last listing failed, when it did.
    pub error: Option<String>,
}

/// Whether a backend has a model, by its last listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Has {
    /// Not listed yet (or not an Ollama): tried like any backend.
    Unknown,
    No,
    Installed,
    Loaded,
}

/// One backend's discovered catalogue.
pub struct Discovered {
    /// The Ollama root: the base URL without a trailing `/v1`.
    pub root: String,
    catalog: RwLock<Arc<Catalog>>,
    refresh: Notify,
}

impl Discovered {
    pub fn new(base: &str) -> Self {
        Self {
            root: base.strip_suffix("/v1").unwrap_or(base).to_owned(),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            refresh: Notify::new(),
        }
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether this backend has `model` (an upstream name), by its last
    /// listing.
    pub fn has(&self, model: &str) -> Has {
        let catalog = self.catalog();
        if catalog.listed_at.is_none() {
            return Has::Unknown;
        }
        let name = normalise(model);
        if catalog.loaded.contains(name.as_ref()) {
            Has::Loaded
        } else if catalog.installed.contains(name.as_ref()) {
            Has::Installed
        } else {
            Has::No
        }
    }

    /// A request was answered with `model`: Ollama has it loaded now.
    pub fn answered(&self, model: &str) {
        let name = normalise(model);
        if self.catalog().loaded.contains(name.as_ref()) {
            return;
        }
        let mut slot = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Catalog::clone(&slot);
        next.installed.insert(name.to_string());
        next.loaded.insert(name.into_owned());
        *slot = Arc::new(next);
    }

    /// The backend lacked a model or failed: list it again now.
    pub fn stale(&self) {
        self.refresh.notify_one();
    }

    fn store(&self, listed: Result<Catalog, String>) {
        let mut slot = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        *slot = Arc::new(match listed {
            Ok(catalog) => catalog,
            // A backend that stops answering keeps what it last said: its
            // circuit, not its catalogue, decides whether it is tried.
            Err(error) => Catalog {
                error: Some(error),
                ..Catalog::clone(&slot)
            },
        });
    }
}

/// Ollama's form of a name: `llama3.2` is `llama3.2:latest`.
pub fn normalise(model: &str) -> std::borrow::Cow<'_, str> {
    let tail = model.rsplit('/').next().unwrap_or(model);
    if tail.contains(':') {
        model.into()
    } else {
        format!("{model}:latest").into()
    }
}

/// How long one listing may take: it is a local lookup on the host.
const LIST_TIMEOUT: Duration = Duration::from_secs(2);

/// The shortest time between two listings of one backend, however often
/// requests find it stale.
const MIN_GAP: Duration = Duration::from_millis(500);

async fn names(client: &reqwest::Client, url: String) -> Result<HashSet<String>, String> {
    #[derive(serde::Deserialize)]
    struct List {
        #[serde(default)]
        models: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: Option<String>,
        model: Option<String>,
    }
    let response = client
        .get(&url)
        .timeout(LIST_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!(
                    "{url}: no answer within {}",
                    humantime::format_duration(LIST_TIMEOUT)
                )
            } else {
                format!("{url}: cannot connect")
            }
        })?;
    if !response.status().is_success() {
        return Err(format!("{url}: {}", response.status()));
    }
    let list: List = response
        .json()
        .await
        .map_err(|e| format!("{url}: not a model list: {e}"))?;
    Ok(list
        .models
        .into_iter()
        .filter_map(|e| e.name.or(e.model))
        .map(|n| normalise(&n).into_owned())
        .collect())
}

/// Lists one backend: installed and loaded models.
pub async fn list(client: &reqwest::Client, root: &str) -> Result<Catalog, String> {
    let (installed, loaded) = tokio::join!(
        names(client, format!("{root}/api/tags")),
        names(client, format!("{root}/api/ps"))
    );
    let mut installed = installed?;
    let loaded = loaded?;
    installed.extend(loaded.iter().cloned());
    Ok(Catalog {
        installed,
        loaded,
        listed_at: Some(SystemTime::now()),
        error: None,
    })
}

/// Lists every discovering backend once, together (each bounded by
/// [`LIST_TIMEOUT`]): the router starts knowing who has what.
pub async fn first(table: &Table) {
    let all = table.backends.iter().filter_map(|b| {
        let d = b.discovery.as_ref()?;
        Some(async move {
            let listed = list(&b.client, &d.root).await;
            if let Err(e) = &listed {
                tracing::warn!("backend `{}`: cannot list its models: {e}", b.name);
            }
            d.store(listed);
        })
    });
    futures_util::future::join_all(all).await;
}

/// One task per discovering backend, listing it every `interval` and when
/// made stale, until `shutdown`.
pub fn spawn(table: Arc<Table>, interval: Duration, shutdown: Shutdown) {
    for i in 0..table.backends.len() {
        if table.backends[i].discovery.is_none() {
            continue;
        }
        let table = table.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let backend = &table.backends[i];
            let d = backend.discovery.as_ref().expect("checked above");
            loop {
                tokio::select! {
                    () = shutdown.wait() => return,
                    () = tokio::time::sleep(interval) => {}
                    () = d.refresh.notified() => {}
                }
                let listed = list(&backend.client, &d.root).await;
                match &listed {
                    Err(e) if d.catalog().error.is_none() => {
                        tracing::warn!("backend `{}`: cannot list its models: {e}", backend.name)
                    }
                    Ok(_) if d.catalog().error.is_some() => {
                        tracing::info!("backend `{}`: lists its models again", backend.name)
                    }
                    _ => {}
                }
                d.store(listed);
                if !shutdown.sleep(MIN_GAP).await {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_as_ollama_does() {
        assert_eq!(normalise("llama3.2"), "llama3.2:latest");
        assert_eq!(normalise("llama3.2:3b"), "llama3.2:3b");
        assert_eq!(normalise("user/model"), "user/model:latest");
        assert_eq!(
            normalise("host:5000/user/model"),
            "host:5000/user/model:latest"
        );
    }

    #[test]
    fn unknown_until_listed_then_by_the_listing() {
        let d = Discovered::new("http://127.0.0.1:11434/v1");
        assert_eq!(d.root, "http://127.0.0.1:11434");
        assert_eq!(d.has("a"), Has::Unknown);
        d.store(Ok(Catalog {
            installed: ["a:latest".to_owned(), "b:1b".to_owned()].into(),
            loaded: ["b:1b".to_owned()].into(),
            listed_at: Some(SystemTime::now()),
            error: None,
        }));
        assert_eq!(d.has("a"), Has::Installed);
        assert_eq!(d.has("b:1b"), Has::Loaded);
        assert_eq!(d.has("c"), Has::No);
        d.answered("a");
        assert_eq!(d.has("a:latest"), Has::Loaded);
        // A failed listing keeps what was known.
        d.store(Err("down".to_owned()));
        assert_eq!(d.has("a"), Has::Loaded);
        assert_eq!(d.catalog().error.as_deref(), Some("down"));
    }
}

//! The fake's memory: catalog, store, loaded models, faults, counters.
//! Held behind one mutex that is never kept across an `.await`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use crate::catalog::CatalogModel;
use crate::fault::{fire, Failure, Faults, InferenceFault, PullFault, PullSpeed};

/// How many recent requests [`crate::FakeOllama::requests`] keeps.
pub const REQUEST_LOG_LEN: usize = 1000;

/// Ollama's default `keep_alive`.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5 * 60);

pub(crate) struct State {
    pub version: String,
    /// Upstream: key → manifest.
    pub catalog: BTreeMap<String, CatalogModel>,
    /// Local manifests: key → snapshot taken when it was pulled.
    pub installed: BTreeMap<String, Installed>,
    /// Complete blobs by digest.
    pub blobs: HashSet<String>,
    /// Partly downloaded blobs: digest → bytes present.
    pub partial: HashMap<String, u64>,
    /// Loaded models: key → when they unload (`None`: never).
    pub loaded: BTreeMap<String, Option<SystemTime>>,
    pub global: Faults,
    pub per_model: HashMap<String, Faults>,
    pub pull_speed: PullSpeed,
    pub calls: BTreeMap<String, u64>,
    pub requests: VecDeque<RecordedRequest>,
}

#[derive(Clone)]
pub(crate) struct Installed {
    pub model: CatalogModel,
    pub modified_at: SystemTime,
}

/// A request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The body, when it was JSON.
    pub body: Option<serde_json::Value>,
    /// The W3C `traceparent` the client sent, for a test that follows a
    /// trace through to the model server.
    pub traceparent: Option<String>,
}

/// A model in the fake's store.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledModel {
    /// Shortest form, as `/api/tags` shows it: `llama3.2:latest`.
    pub name: String,
    /// Manifest digest, 64 hex.
    pub digest: String,
    pub size: u64,
    pub modified_at: SystemTime,
    /// The catalog entry as it was when pulled.
    pub model: CatalogModel,
}

/// How often each endpoint was called, keyed by path (`/api/pull`).
/// Every request counts, including rejected and faulted ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls(pub BTreeMap<String, u64>);

impl Calls {
    /// Calls to `path`, e.g. `"/api/tags"`.
    pub fn get(&self, path: &str) -> u64 {
        self.0.get(path).copied().unwrap_or(0)
    }
    /// All calls.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
    pub fn version(&self) -> u64 {
        self.get("/api/version")
    }
    pub fn tags(&self) -> u64 {
        self.get("/api/tags")
    }
    pub fn pull(&self) -> u64 {
        self.get("/api/pull")
    }
    pub fn show(&self) -> u64 {
        self.get("/api/show")
    }
    pub fn delete(&self) -> u64 {
        self.get("/api/delete")
    }
    pub fn generate(&self) -> u64 {
        self.get("/api/generate")
    }
    pub fn chat(&self) -> u64 {
        self.get("/api/chat")
    }
    pub fn embed(&self) -> u64 {
        self.get("/api/embed")
    }
    pub fn ps(&self) -> u64 {
        self.get("/api/ps")
    }
    pub fn chat_completions(&self) -> u64 {
        self.get("/v1/chat/completions")
    }
    pub fn models(&self) -> u64 {
        self.get("/v1/models")
    }
    pub fn embeddings(&self) -> u64 {
        self.get("/v1/embeddings")
    }
}

/// `keep_alive` as Ollama reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepAlive {
    For(Duration),
    Forever,
}

impl State {
    pub fn new(catalog: impl IntoIterator<Item = CatalogModel>) -> Self {
        State {
            version: crate::DEFAULT_VERSION.into(),
            catalog: catalog.into_iter().map(|m| (m.name.key(), m)).collect(),
            installed: BTreeMap::new(),
            blobs: HashSet::new(),
            partial: HashMap::new(),
            loaded: BTreeMap::new(),
            global: Faults::default(),
            per_model: HashMap::new(),
            pull_speed: PullSpeed::default(),
            calls: BTreeMap::new(),
            requests: VecDeque::new(),
        }
    }

    fn faults(&self, key: Option<&str>) -> Option<&Faults> {
        self.per_model.get(key?)
    }

    pub fn delay(&self, key: Option<&str>) -> Option<Duration> {
        self.faults(key).and_then(|f| f.delay)
    }

    pub fn global_delay(&self) -> Option<Duration> {
        self.global.delay
    }

    pub fn pull_speed(&self, key: &str) -> PullSpeed {
        self.faults(Some(key))
            .and_then(|f| f.pull_speed)
            .or(self.global.pull_speed)
            .unwrap_or(self.pull_speed)
    }

    pub fn token_delay(&self, key: &str) -> Duration {
        self.faults(Some(key))
            .and_then(|f| f.token_delay)
            .or(self.global.token_delay)
            .unwrap_or_default()
    }

    pub fn fire_pull(&mut self, key: &str) -> Option<PullFault> {
        if let Some(f) = self.per_model.get_mut(key) {
            if f.pull.is_some() {
                return fire(&mut f.pull);
            }
        }
        fire(&mut self.global.pull)
    }

    pub fn fire_generate(&mut self, key: &str) -> Option<InferenceFault> {
        if let Some(f) = self.per_model.get_mut(key) {
            if f.generate.is_some() {
                return fire(&mut f.generate);
            }
        }
        fire(&mut self.global.generate)
    }

    pub fn fire_embed(&mut self, key: &str) -> Option<Failure> {
        if let Some(f) = self.per_model.get_mut(key) {
            if f.embed.is_some() {
                return fire(&mut f.embed);
            }
        }
        fire(&mut self.global.embed)
    }

    /// Puts a complete model in the store, as the end of a pull does, and
    /// removes the layers of the version it replaces that nothing else
    /// uses.
    pub fn install(&mut self, model: CatalogModel) {
        let key = model.name.key();
        for layer in &model.layers {
            self.partial.remove(&layer.digest);
            self.blobs.insert(layer.digest.clone());
        }
        let old = self.installed.insert(
            key,
            Installed {
                model,
                modified_at: SystemTime::now(),
            },
        );
        if let Some(old) = old {
            self.prune(&old.model);
        }
    }

    /// Removes a model from the store; its layers go unless another model
    /// uses them.
    pub fn uninstall(&mut self, key: &str) -> bool {
        self.loaded.remove(key);
        match self.installed.remove(key) {
            Some(old) => {
                self.prune(&old.model);
                true
            }
            None => false,
        }
    }

    fn prune(&mut self, gone: &CatalogModel) {
        let used: HashSet<&str> = self
            .installed
            .values()
            .flat_map(|i| i.model.layers.iter().map(|l| l.digest.as_str()))
            .collect();
        for layer in &gone.layers {
            if !used.contains(layer.digest.as_str()) {
                self.blobs.remove(&layer.digest);
            }
        }
    }

    /// Marks a model loaded until `keep_alive` runs out.
    pub fn load(&mut self, key: &str, keep_alive: KeepAlive) {
        let until = match keep_alive {
            KeepAlive::Forever => None,
            KeepAlive::For(d) if d.is_zero() => {
                self.loaded.remove(key);
                return;
            }
            KeepAlive::For(d) => Some(SystemTime::now() + d),
        };
        self.loaded.insert(key.to_owned(), until);
    }

    /// Loaded models, forgetting those whose time ran out.
    pub fn loaded(&mut self) -> Vec<(String, Option<SystemTime>)> {
        let now = SystemTime::now();
        self.loaded
            .retain(|_, until| until.is_none_or(|until| until > now));
        self.loaded.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn count(&mut self, path: &str) {
        *self.calls.entry(path.to_owned()).or_default() += 1;
    }

    pub fn record(&mut self, request: RecordedRequest) {
        if self.requests.len() == REQUEST_LOG_LEN {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }

    pub fn installed_model(&self, key: &str) -> Option<InstalledModel> {
        self.installed.get(key).map(|i| InstalledModel {
            name: i.model.name.shortest(),
            digest: i.model.digest(),
            size: i.model.size(),
            modified_at: i.modified_at,
            model: i.model.clone(),
        })
    }
}

//! [`FakeOllama`]: the state a test holds, and the servers that expose it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::catalog::{self, CatalogModel};
use crate::fault::{Faults, PullSpeed};
use crate::name::{ModelName, NameError};
use crate::state::{Calls, InstalledModel, RecordedRequest, State};

/// What a test asked for that the fake cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("{0} is not in the catalog")]
    NotInCatalog(String),
}

/// A fake Ollama: catalog, model store, loaded models, faults and call
/// counters. Cheap to clone; clones share the state. It serves HTTP
/// through [`spawn`](Self::spawn) (any number of times, one after
/// another, to model Ollama going down and coming back with its store
/// intact).
#[derive(Clone)]
pub struct FakeOllama {
    state: Arc<Mutex<State>>,
}

impl FakeOllama {
    /// A fake whose registry offers `catalog` and whose store is empty.
    pub fn new(catalog: impl IntoIterator<Item = CatalogModel>) -> Self {
        FakeOllama {
            state: Arc::new(Mutex::new(State::new(catalog))),
        }
    }

    /// A fake offering [`catalog::builtin`].
    pub fn builtin() -> Self {
        Self::new(catalog::builtin())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep
        // serving rather than poisoning every later request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The HTTP API as an axum router, to serve on a listener of your own.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.clone())
    }

    /// Serves on `127.0.0.1` at a free port.
    pub async fn spawn(&self) -> std::io::Result<Server> {
        self.spawn_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on `addr`; for "Ollama comes up later on its usual port"
    /// tests, or after [`Server::stop`] on the same address.
    pub async fn spawn_on(&self, addr: SocketAddr) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        self.serve(listener)
    }

    /// Serves on a listener that is already bound.
    pub fn serve(&self, listener: TcpListener) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, self.router()));
        Ok(Server {
            addr,
            fake: self.clone(),
            task: Some(task),
        })
    }

    // ---- the registry ----

    /// Adds `model` to the catalog, or replaces the entry of that name
    /// (a new upstream version: installed copies keep theirs until pulled
    /// again).
    pub fn publish(&self, model: CatalogModel) {
        self.lock().catalog.insert(model.name.key(), model);
    }

    /// Removes a model from the catalog; pulling it then fails as for a
    /// model that never existed. Returns whether it was there.
    pub fn unpublish(&self, name: &str) -> Result<bool, Error> {
        let key = ModelName::parse(name)?.key();
        Ok(self.lock().catalog.remove(&key).is_some())
    }

    /// The catalog entry for `name`.
    pub fn catalog_model(&self, name: &str) -> Result<Option<CatalogModel>, Error> {
        let key = ModelName::parse(name)?.key();
        Ok(self.lock().catalog.get(&key).cloned())
    }

    /// "The model changed upstream": gives the catalog entry new weights,
    /// so the next pull brings a new digest. Returns that digest.
    pub fn change_upstream(&self, name: &str) -> Result<String, Error> {
        let key = ModelName::parse(name)?.key();
        let mut st = self.lock();
        let model = st
            .catalog
            .get_mut(&key)
            .ok_or_else(|| Error::NotInCatalog(name.to_owned()))?;
        *model = model.next_revision();
        Ok(model.digest())
    }

    // ---- the store ----

    /// Installs a catalog model at once, as if pulled before the test.
    pub fn install(&self, name: &str) -> Result<InstalledModel, Error> {
        let key = ModelName::parse(name)?.key();
        let mut st = self.lock();
        let model = st
            .catalog
            .get(&key)
            .cloned()
            .ok_or_else(|| Error::NotInCatalog(name.to_owned()))?;
        st.install(model);
        Ok(st.installed_model(&key).expect("just installed"))
    }

    /// Installs `model` as given, whatever the catalog says (e.g. an old
    /// revision, or a model the registry no longer has).
    pub fn install_model(&self, model: CatalogModel) -> InstalledModel {
        let key = model.name.key();
        let mut st = self.lock();
        st.install(model);
        st.installed_model(&key).expect("just installed")
    }

    /// Deletes a model from the store, as `DELETE /api/delete` does.
    /// Returns whether it was there.
    pub fn remove(&self, name: &str) -> Result<bool, Error> {
        let key = ModelName::parse(name)?.key();
        Ok(self.lock().uninstall(&key))
    }

    /// Installed models, in name order.
    pub fn installed(&self) -> Vec<InstalledModel> {
        let st = self.lock();
        st.installed
            .keys()
            .filter_map(|k| st.installed_model(k))
            .collect()
    }

    /// The installed model called `name`.
    pub fn installed_model(&self, name: &str) -> Result<Option<InstalledModel>, Error> {
        let key = ModelName::parse(name)?.key();
        Ok(self.lock().installed_model(&key))
    }

    /// Bytes of a layer downloaded by an unfinished pull (0 when none, or
    /// when the layer is complete).
    pub fn partial_bytes(&self, digest: &str) -> u64 {
        self.lock().partial.get(digest).copied().unwrap_or(0)
    }

    /// Whether a layer is complete in the store.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.lock().blobs.contains(digest)
    }

    /// Names of loaded models (`/api/ps`), shortest form.
    pub fn loaded(&self) -> Vec<String> {
        let mut st = self.lock();
        st.loaded()
            .into_iter()
            .filter_map(|(k, _)| st.installed.get(&k).map(|i| i.model.name.shortest()))
            .collect()
    }

    // ---- faults and speed ----

    /// Sets the faults for one model (replacing any it had). The model
    /// need not be in the catalog: faults for an unknown name shape how
    /// its pull fails.
    pub fn set_faults(&self, name: &str, faults: Faults) -> Result<(), Error> {
        let key = ModelName::parse(name)?.key();
        self.lock().per_model.insert(key, faults);
        Ok(())
    }

    /// Sets the faults for every model without its own setting, and the
    /// delay of every request.
    pub fn set_global_faults(&self, faults: Faults) {
        self.lock().global = faults;
    }

    /// Clears every fault, global and per model.
    pub fn clear_faults(&self) {
        let mut st = self.lock();
        st.global = Faults::default();
        st.per_model.clear();
    }

    /// The default pull speed (faults may override it per model).
    pub fn set_pull_speed(&self, speed: PullSpeed) {
        self.lock().pull_speed = speed;
    }

    /// What `/api/version` reports.
    pub fn set_version(&self, version: &str) {
        self.lock().version = version.to_owned();
    }

    // ---- observation ----

    /// Calls per endpoint since the start or the last
    /// [`reset_calls`](Self::reset_calls).
    pub fn calls(&self) -> Calls {
        Calls(self.lock().calls.clone())
    }

    /// Zeroes the counters and forgets recorded requests.
    pub fn reset_calls(&self) {
        let mut st = self.lock();
        st.calls.clear();
        st.requests.clear();
    }

    /// The most recent requests (up to [`crate::state::REQUEST_LOG_LEN`]),
    /// oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.iter().cloned().collect()
    }
}

/// A running HTTP server for a [`FakeOllama`]. Dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    fake: FakeOllama,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, the base URL for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The state behind this server.
    pub fn fake(&self) -> &FakeOllama {
        &self.fake
    }

    /// Stops as a crash would: the listener closes and open connections
    /// (streaming pulls included) are cut. Returns once the port is free.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Waits until the server ends (it ends only when stopped or on a
    /// listener failure).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl std::ops::Deref for Server {
    type Target = FakeOllama;

    fn deref(&self) -> &FakeOllama {
        &self.fake
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Accepts connections and serves each on its own task. The tasks live in
/// a `JoinSet` owned by this future, so aborting it cuts every connection,
/// which axum's own `serve` (detached tasks) would not do.
async fn accept_loop(listener: TcpListener, router: axum::Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(router.clone());
                    connections.spawn(async move {
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off
                    // instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

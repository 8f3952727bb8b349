//! Durable execution stores for the Legion engine.
//!
//! [`open`] turns a store URL into an [`ExecutionStore`]: `memory` (the engine's
//! [`MemoryStore`](legion_engine::MemoryStore), the default) or `sqlite:PATH` (an embedded SQLite
//! file, [`SqliteStore`]). With a durable store, every Standard execution commits its history and
//! checkpoint at each top-level state boundary, and [`Engine::recover`](legion_engine::Engine::recover)
//! resumes the ones that were RUNNING when the process stopped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let stores = legion_store::open("sqlite:legion.db", legion_engine::Retention::forever())?;
//! let engine = legion_engine::Engine::builder().store(stores.executions).build();
//! let resumed = engine.recover().await?;
//! println!("resumed {resumed} executions");
//! # Ok(()) }
//! ```

mod schema;
mod sqlite;
mod writer;

use std::sync::Arc;

use legion_engine::{DocumentStore, ExecutionStore, MemoryStore, Retention, StoreError};

pub use sqlite::{SqliteStore, Sync};

/// The stores a URL opened: executions, and (durable backends) the documents a server keeps.
#[non_exhaustive]
pub struct Stores {
    /// Executions, their history and checkpoints.
    pub executions: Arc<dyn ExecutionStore>,
    /// State machines, activities and execution snapshots; `None` for the memory backend.
    pub documents: Option<Arc<dyn DocumentStore>>,
}

/// Opens the stores a URL names: `memory`, or `sqlite:PATH` (created when absent; `?sync=full` makes
/// every commit survive a power loss, not only a crash of the process).
pub fn open(url: &str, retention: Retention) -> Result<Stores, StoreError> {
    if url == "memory" || url.is_empty() {
        return Ok(Stores { executions: Arc::new(MemoryStore::with_retention(retention)), documents: None });
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let (path, sync) = match rest.strip_suffix("?sync=full") {
            Some(path) => (path, Sync::Full),
            None => (rest, Sync::Normal),
        };
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(StoreError::Unavailable("a sqlite store needs a file: sqlite:PATH".to_owned()));
        }
        let store = Arc::new(SqliteStore::open(path, sync, retention)?);
        return Ok(Stores { executions: store.clone(), documents: Some(store) });
    }
    Err(StoreError::Unavailable(format!("unknown store '{url}': use memory or sqlite:PATH")))
}

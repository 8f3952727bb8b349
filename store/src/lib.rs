//! Durable execution stores for the Legion engine.
//!
//! [`open`] turns a store URL into an [`ExecutionStore`]: `memory` (the engine's
//! [`MemoryStore`](legion_engine::MemoryStore), the default), `sqlite:PATH` (an embedded SQLite
//! file, [`SqliteStore`]) or `postgres://USER@HOST:PORT/DB` (a PostgreSQL database several
//! instances share, `PostgresStore`, with the default `postgres` feature). With a durable store,
//! every Standard execution commits its history and checkpoint at each top-level state boundary,
//! and [`Engine::recover`](legion_engine::Engine::recover) resumes the ones that were RUNNING when
//! the process stopped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let stores = legion_store::open("sqlite:legion.db", legion_engine::Retention::forever()).await?;
//! let engine = legion_engine::Engine::builder().store(stores.executions).build();
//! let resumed = engine.recover().await?;
//! println!("resumed {resumed} executions");
//! # Ok(()) }
//! ```

mod map_runs;
#[cfg(feature = "postgres")]
mod postgres;
mod recent;
mod rows;
mod schema;
mod sqlite;
mod sqlite_map_runs;
mod writer;

use std::sync::Arc;

use legion_engine::map_run::{ChildQueue, MapRunStore};
use legion_engine::{DocumentStore, ExecutionStore, MemoryStore, Retention, StoreError};

#[cfg(feature = "postgres")]
pub use postgres::{PostgresStore, DEFAULT_CHILD_CAPACITY, DEFAULT_LEASE};
pub use sqlite::{SqliteStore, Sync};

/// The stores a URL opened: executions, and (durable backends) the documents a server keeps.
#[non_exhaustive]
pub struct Stores {
    /// Executions, their history and checkpoints.
    pub executions: Arc<dyn ExecutionStore>,
    /// State machines, activities and the revisions executions ran; `None` for the memory backend.
    pub documents: Option<Arc<dyn DocumentStore>>,
    /// Map runs and their children; `None` for the memory backend (the engine keeps its own).
    pub map_runs: Option<Arc<dyn MapRunStore>>,
    /// Where the children of Distributed Maps are offered to every instance sharing the store
    /// (PostgreSQL); give it to [`legion_engine::EngineBuilder::child_queue`].
    pub children: Option<Arc<dyn ChildQueue>>,
}

/// Opens the stores a URL names: `memory`; `sqlite:PATH` (created when absent; `?sync=full` makes
/// every commit survive a power loss, not only a crash of the process); or
/// `postgres://USER[:PASSWORD]@HOST:PORT/DB` (`?lease=SECONDS` sets how long an instance owns its
/// running executions without renewing, 10 by default; `children=N` how many map-run children it
/// runs at once at most, 10,000 by default).
pub async fn open(url: &str, retention: Retention) -> Result<Stores, StoreError> {
    if url == "memory" || url.is_empty() {
        let executions = Arc::new(MemoryStore::with_retention(retention));
        return Ok(Stores { executions, documents: None, map_runs: None, children: None });
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
        return Ok(Stores {
            executions: store.clone(),
            documents: Some(store.clone()),
            map_runs: Some(store),
            children: None,
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return open_postgres(url, retention).await;
    }
    Err(StoreError::Unavailable(format!(
        "unknown store '{url}': use memory, sqlite:PATH or postgres://USER@HOST:PORT/DB"
    )))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str, retention: Retention) -> Result<Stores, StoreError> {
    let store = Arc::new(PostgresStore::open(url, retention).await?);
    Ok(Stores {
        executions: store.clone(),
        documents: Some(store.clone()),
        map_runs: Some(store.clone()),
        children: Some(store),
    })
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_: &str, _: Retention) -> Result<Stores, StoreError> {
    Err(StoreError::Unavailable("this Legion was built without the postgres feature".to_owned()))
}

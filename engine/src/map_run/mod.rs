//! Distributed Map: the traits behind item readers and result writers, map-run records, and the
//! in-memory doubles that stand in for S3 in tests.
//!
//! A `Map` state with `ProcessorConfig.Mode: DISTRIBUTED` starts a *map run*: every item (or batch of
//! items) runs as a child execution of the `ItemProcessor`. Items come from an [`ItemSource`] (the
//! state input, or an S3 object or listing opened through an [`S3Connector`]) and are pulled one at a
//! time, only once a concurrency permit is free, so a reader never runs far ahead of the children.
//! Results go to the state output or, with a `ResultWriter`, to result files written through the same
//! connector. Map runs and their children are recorded in a [`MapRunStore`].
//!
//! The engine knows no wire format: the real S3 implementation lives in `legion-connectors`.

mod api;
mod live;
mod memory;
mod queue;
mod results;
mod store;
pub(crate) mod workers;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::dispatch::BoxFuture;

pub(crate) use live::{LiveRuns, RunLimits};
pub use live::{MapRunLimitsUpdate, UpdateMapRunError};
pub use memory::{MemoryS3, VecItemSource};
pub use queue::{ChildQueue, ChildResult, QueuedChild};
pub use results::{RecordKind, ResultFiles};
pub use store::{ChildExecution, Counts, InMemoryMapRunStore, MapRunInfo, MapRunStatus, MapRunStore, MapRunUpdate};

/// An item reader failed: the map run fails with `States.ItemReaderFailed` and this cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cause}")]
pub struct ItemReaderError {
    /// The cause reported with `States.ItemReaderFailed`.
    pub cause: String,
}

impl ItemReaderError {
    /// An error with this cause.
    pub fn new(cause: impl Into<String>) -> ItemReaderError {
        ItemReaderError { cause: cause.into() }
    }
}

/// Writing result files failed: the map run fails with `States.ResultWriterFailed` and this cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cause}")]
pub struct ResultWriterError {
    /// The cause reported with `States.ResultWriterFailed`.
    pub cause: String,
}

impl ResultWriterError {
    /// An error with this cause.
    pub fn new(cause: impl Into<String>) -> ResultWriterError {
        ResultWriterError { cause: cause.into() }
    }
}

/// A stream of items, pulled one at a time.
///
/// Implementations read lazily (a page of a listing, a chunk of an object) so that only a bounded
/// part of a large data set is ever in memory.
pub trait ItemSource: Send {
    /// The next item, or `None` after the last one.
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>>;

    /// How many items are left to read, when that is known before reading them.
    fn len_hint(&self) -> Option<u64> {
        None
    }
}

/// Which S3 action an `ItemReader` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderResource {
    /// `arn:aws:states:::s3:listObjectsV2`: one item per object under a prefix.
    ListObjectsV2,
    /// `arn:aws:states:::s3:getObject`: the items held in one object.
    GetObject,
}

/// `ReaderConfig.InputType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// Comma- (or otherwise) separated values.
    Csv,
    /// A JSON array (or object).
    Json,
    /// One JSON value per line.
    Jsonl,
    /// An S3 Inventory `manifest.json` (or an Athena UNLOAD manifest).
    Manifest,
    /// Apache Parquet.
    Parquet,
}

/// `ReaderConfig.CSVHeaderLocation`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CsvHeaders {
    /// The first row holds the column names.
    #[default]
    FirstRow,
    /// The names are given in `CSVHeaders`.
    Given(Vec<String>),
}

/// `ReaderConfig.CSVDelimiter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvDelimiter {
    /// `,` (the default).
    #[default]
    Comma,
    /// `|`.
    Pipe,
    /// `;`.
    Semicolon,
    /// ` `.
    Space,
    /// `\t`.
    Tab,
}

impl CsvDelimiter {
    /// The delimiter byte.
    pub fn byte(self) -> u8 {
        match self {
            CsvDelimiter::Comma => b',',
            CsvDelimiter::Pipe => b'|',
            CsvDelimiter::Semicolon => b';',
            CsvDelimiter::Space => b' ',
            CsvDelimiter::Tab => b'\t',
        }
    }
}

/// `ReaderConfig.ManifestType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestType {
    /// An S3 Inventory manifest (the default).
    #[default]
    S3Inventory,
    /// An Athena UNLOAD manifest.
    AthenaData,
}

/// `ReaderConfig.Transformation` (listObjectsV2 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transformation {
    /// Each listed object is an item.
    #[default]
    None,
    /// Each listed object is read as `InputType` and its records are the items.
    LoadAndFlatten,
}

/// `ReaderConfig`, less `MaxItems`, which the engine applies itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReaderConfig {
    /// `InputType`; absent for a plain listing.
    pub input_type: Option<InputType>,
    /// `CSVHeaderLocation` with `CSVHeaders`.
    pub csv_headers: CsvHeaders,
    /// `CSVDelimiter`.
    pub csv_delimiter: CsvDelimiter,
    /// `ItemsPointer`: a JSON Pointer to the array inside a JSON document.
    pub items_pointer: Option<String>,
    /// `Transformation`.
    pub transformation: Transformation,
    /// `ManifestType`.
    pub manifest_type: ManifestType,
}

/// What an `ItemReader` asks for, with its `Parameters`/`Arguments` evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderRequest {
    /// The S3 action.
    pub resource: ReaderResource,
    /// The evaluated parameters: `Bucket`, and `Key`/`VersionId` or `Prefix` and the other
    /// ListObjectsV2 parameters.
    pub parameters: Map<String, Value>,
    /// How to read the data.
    pub config: ReaderConfig,
}

impl ReaderRequest {
    /// A string parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).and_then(Value::as_str)
    }
}

/// One object being written, chunk by chunk.
pub trait ResultObject: Send {
    /// Appends bytes.
    fn write(&mut self, chunk: Vec<u8>) -> BoxFuture<'_, Result<(), ResultWriterError>>;
    /// Completes the object; returns its size in bytes.
    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<u64, ResultWriterError>>;
}

/// Access to S3 for Distributed Map: item readers and result files.
pub trait S3Connector: Send + Sync {
    /// Opens the items an `ItemReader` names.
    fn open_items(&self, request: ReaderRequest) -> BoxFuture<'static, Result<Box<dyn ItemSource>, ItemReaderError>>;

    /// Starts writing the object `bucket`/`key`.
    fn create_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Box<dyn ResultObject>, ResultWriterError>>;
}

/// The engine's Distributed Map services: S3 access and the map-run store.
#[derive(Clone)]
pub(crate) struct MapRunServices {
    pub(crate) s3: Option<Arc<dyn S3Connector>>,
    pub(crate) store: Arc<dyn MapRunStore>,
    /// The limits of the runs in progress, for UpdateMapRun.
    pub(crate) live: Arc<LiveRuns>,
    /// Where children are offered to every engine sharing the store, when one is.
    pub(crate) queue: Option<Arc<dyn ChildQueue>>,
    /// This engine's room for children of shared map runs (the queue's capacity): its own children
    /// run here while there is room, and are offered to every engine beyond it.
    pub(crate) slots: Arc<tokio::sync::Semaphore>,
    /// Whether this engine claims the queue's children yet.
    pub(crate) claiming: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for MapRunServices {
    fn default() -> MapRunServices {
        MapRunServices {
            s3: None,
            store: Arc::new(InMemoryMapRunStore::new()),
            live: Arc::default(),
            queue: None,
            slots: Arc::new(tokio::sync::Semaphore::new(0)),
            claiming: Default::default(),
        }
    }
}

//! In-memory item sources and an in-memory stand-in for S3, for embedding and tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{
    InputType, ItemReaderError, ItemSource, ReaderRequest, ReaderResource, ResultObject, ResultWriterError, S3Connector,
};
use crate::dispatch::BoxFuture;

/// Items already in memory (the state input's array).
#[derive(Debug)]
pub struct VecItemSource {
    items: std::vec::IntoIter<Value>,
}

impl VecItemSource {
    /// A source yielding `items` in order.
    pub fn new(items: Vec<Value>) -> VecItemSource {
        VecItemSource { items: items.into_iter() }
    }
}

impl ItemSource for VecItemSource {
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>> {
        let next = self.items.next();
        Box::pin(async move { Ok(next) })
    }

    fn len_hint(&self) -> Option<u64> {
        Some(self.items.len() as u64)
    }
}

type Objects = Arc<Mutex<BTreeMap<(String, String), Vec<u8>>>>;

/// An in-memory object store implementing [`S3Connector`], for tests of Distributed Map without S3.
///
/// It lists objects (with a stand-in ETag: a hash of the content, not its MD5) and reads JSON and
/// JSONL objects; other input types fail with `States.ItemReaderFailed`.
#[derive(Clone, Default)]
pub struct MemoryS3 {
    objects: Objects,
}

impl MemoryS3 {
    /// An empty store.
    pub fn new() -> MemoryS3 {
        MemoryS3::default()
    }

    /// Stores an object.
    pub fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.lock().insert((bucket.to_owned(), key.to_owned()), body.into());
    }

    /// An object's content.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.lock().get(&(bucket.to_owned(), key.to_owned())).cloned()
    }

    /// The keys in a bucket, in order.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock().keys().filter(|(b, _)| b == bucket).map(|(_, k)| k.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self, request: &ReaderRequest) -> Result<Vec<Value>, ItemReaderError> {
        let bucket = request.param("Bucket").ok_or_else(|| ItemReaderError::new("Bucket is required"))?;
        match request.resource {
            ReaderResource::ListObjectsV2 => {
                let prefix = request.param("Prefix").unwrap_or("");
                Ok(self
                    .lock()
                    .iter()
                    .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
                    .map(|((_, k), body)| {
                        json!({
                            "Etag": format!("\"{:016x}\"", fnv(body)),
                            "Key": k,
                            "LastModified": 0,
                            "Size": body.len(),
                            "StorageClass": "STANDARD",
                        })
                    })
                    .collect())
            }
            ReaderResource::GetObject => {
                let key = request.param("Key").ok_or_else(|| ItemReaderError::new("Key is required"))?;
                let body = self
                    .get(bucket, key)
                    .ok_or_else(|| ItemReaderError::new(format!("The specified key does not exist: {key}")))?;
                let text = String::from_utf8_lossy(&body);
                match request.config.input_type {
                    Some(InputType::Json) => match serde_json::from_str::<Value>(&text) {
                        Ok(Value::Array(items)) => Ok(items),
                        Ok(_) => Err(ItemReaderError::new("Attempting to map over non-iterable node.")),
                        Err(e) => Err(ItemReaderError::new(e.to_string())),
                    },
                    Some(InputType::Jsonl) => text
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| serde_json::from_str(l).map_err(|e| ItemReaderError::new(e.to_string())))
                        .collect(),
                    other => Err(ItemReaderError::new(format!("MemoryS3 cannot read input type {other:?}"))),
                }
            }
        }
    }
}

/// FNV-1a: a stand-in ETag.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

impl S3Connector for MemoryS3 {
    fn open_items(&self, request: ReaderRequest) -> BoxFuture<'static, Result<Box<dyn ItemSource>, ItemReaderError>> {
        let read = self.read(&request);
        Box::pin(async move { read.map(|items| Box::new(VecItemSource::new(items)) as Box<dyn ItemSource>) })
    }

    fn create_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Box<dyn ResultObject>, ResultWriterError>> {
        let object = MemoryObject {
            objects: self.objects.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            body: Vec::new(),
        };
        Box::pin(async move { Ok(Box::new(object) as Box<dyn ResultObject>) })
    }
}

struct MemoryObject {
    objects: Objects,
    bucket: String,
    key: String,
    body: Vec<u8>,
}

impl ResultObject for MemoryObject {
    fn write(&mut self, chunk: Vec<u8>) -> BoxFuture<'_, Result<(), ResultWriterError>> {
        self.body.extend_from_slice(&chunk);
        Box::pin(async { Ok(()) })
    }

    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<u64, ResultWriterError>> {
        let size = self.body.len() as u64;
        self.objects.lock().unwrap_or_else(|e| e.into_inner()).insert((self.bucket, self.key), self.body);
        Box::pin(async move { Ok(size) })
    }
}

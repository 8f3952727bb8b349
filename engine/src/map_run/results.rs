//! Result files of a map run: `SUCCEEDED_n`, `FAILED_n`, `PENDING_n` and `manifest.json`, written
//! record by record through an [`S3Connector`] so that no file is ever held whole in memory.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{ResultObject, ResultWriterError, S3Connector};

/// Bytes buffered before they are handed to the object writer.
const FLUSH_BYTES: usize = 8 * 1024 * 1024;
/// A result file is closed and the next one started past this size (AWS: 5 GB).
const MAX_FILE_BYTES: u64 = 5 * 1000 * 1000 * 1000;

/// Which file a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Succeeded children.
    Succeeded,
    /// Failed, timed-out and aborted children.
    Failed,
    /// Items that never ran.
    Pending,
}

impl RecordKind {
    fn name(self) -> &'static str {
        match self {
            RecordKind::Succeeded => "SUCCEEDED",
            RecordKind::Failed => "FAILED",
            RecordKind::Pending => "PENDING",
        }
    }

    fn slot(self) -> usize {
        match self {
            RecordKind::Succeeded => 0,
            RecordKind::Failed => 1,
            RecordKind::Pending => 2,
        }
    }
}

struct OpenFile {
    object: Box<dyn ResultObject>,
    key: String,
    buffer: Vec<u8>,
    written: u64,
    records: u64,
}

#[derive(Default)]
struct FileSet {
    open: Option<OpenFile>,
    next_index: u32,
    done: Vec<(String, u64)>,
}

/// Writes a map run's result files under `<Prefix>/<map run id>/`.
pub struct ResultFiles {
    s3: Arc<dyn S3Connector>,
    bucket: String,
    dir: String,
    map_run_arn: String,
    jsonl: bool,
    sets: [FileSet; 3],
}

impl ResultFiles {
    /// Result files in `bucket` under `prefix` for the map run `map_run_arn` whose id is `run_id`.
    pub fn new(
        s3: Arc<dyn S3Connector>,
        bucket: &str,
        prefix: &str,
        run_id: &str,
        map_run_arn: &str,
        jsonl: bool,
    ) -> ResultFiles {
        let dir = if prefix.is_empty() || prefix.ends_with('/') {
            format!("{prefix}{run_id}/")
        } else {
            format!("{prefix}/{run_id}/")
        };
        ResultFiles {
            s3,
            bucket: bucket.to_owned(),
            dir,
            map_run_arn: map_run_arn.to_owned(),
            jsonl,
            sets: Default::default(),
        }
    }

    /// Continues the files of a redriven map run: `earlier` are the SUCCEEDED files of its earlier
    /// attempts, listed again in the manifest; new SUCCEEDED files are numbered after them.
    pub fn after_earlier_successes(mut self, earlier: Vec<(String, u64)>) -> ResultFiles {
        let set = &mut self.sets[RecordKind::Succeeded.slot()];
        set.next_index = u32::try_from(earlier.len()).unwrap_or(u32::MAX);
        set.done = earlier;
        self
    }

    /// The key `manifest.json` is written to.
    pub fn manifest_key(&self) -> String {
        format!("{}manifest.json", self.dir)
    }

    /// The bucket written to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Appends one record.
    pub async fn write<R: serde::Serialize + ?Sized>(
        &mut self,
        kind: RecordKind,
        record: &R,
    ) -> Result<(), ResultWriterError> {
        let text = serde_json::to_vec(record).map_err(|e| ResultWriterError::new(e.to_string()))?;
        let full = self.sets[kind.slot()].open.as_ref().is_some_and(|f| f.written >= MAX_FILE_BYTES);
        if full {
            self.close(kind).await?;
        }
        if self.sets[kind.slot()].open.is_none() {
            let set = &mut self.sets[kind.slot()];
            let key = format!("{}{}_{}.json", self.dir, kind.name(), set.next_index);
            set.next_index += 1;
            let object = self.s3.create_object(&self.bucket, &key).await?;
            set.open = Some(OpenFile { object, key, buffer: Vec::new(), written: 0, records: 0 });
        }
        let jsonl = self.jsonl;
        let Some(file) = self.sets[kind.slot()].open.as_mut() else {
            return Err(ResultWriterError::new("result file not open"));
        };
        let before = file.buffer.len();
        if jsonl {
            file.buffer.extend_from_slice(&text);
            file.buffer.push(b'\n');
        } else {
            file.buffer.push(if file.records == 0 { b'[' } else { b',' });
            file.buffer.extend_from_slice(&text);
        }
        file.records += 1;
        file.written += (file.buffer.len() - before) as u64;
        if file.buffer.len() >= FLUSH_BYTES {
            let chunk = std::mem::take(&mut file.buffer);
            file.object.write(chunk).await?;
        }
        Ok(())
    }

    async fn close(&mut self, kind: RecordKind) -> Result<(), ResultWriterError> {
        let jsonl = self.jsonl;
        let set = &mut self.sets[kind.slot()];
        let Some(mut file) = set.open.take() else { return Ok(()) };
        if !jsonl {
            file.buffer.push(b']');
        }
        if !file.buffer.is_empty() {
            file.object.write(std::mem::take(&mut file.buffer)).await?;
        }
        let size = file.object.finish().await?;
        set.done.push((file.key, size));
        Ok(())
    }

    /// Closes every file and writes `manifest.json`; returns the manifest's key.
    pub async fn finish(self) -> Result<String, ResultWriterError> {
        self.finish_listing().await.map(|(key, _)| key)
    }

    /// Closes every file and writes `manifest.json`; returns the manifest's key and the SUCCEEDED files
    /// (key and size) it lists.
    pub async fn finish_listing(mut self) -> Result<(String, Vec<(String, u64)>), ResultWriterError> {
        for kind in [RecordKind::Succeeded, RecordKind::Failed, RecordKind::Pending] {
            self.close(kind).await?;
        }
        let list = |set: &FileSet| -> Value {
            Value::Array(set.done.iter().map(|(k, s)| json!({"Key": k, "Size": s})).collect())
        };
        let mut files = Map::new();
        files.insert("FAILED".into(), list(&self.sets[RecordKind::Failed.slot()]));
        files.insert("PENDING".into(), list(&self.sets[RecordKind::Pending.slot()]));
        files.insert("SUCCEEDED".into(), list(&self.sets[RecordKind::Succeeded.slot()]));
        let manifest = json!({
            "DestinationBucket": self.bucket,
            "MapRunArn": self.map_run_arn,
            "ResultFiles": files,
        });
        let key = self.manifest_key();
        let mut object = self.s3.create_object(&self.bucket, &key).await?;
        let body = serde_json::to_vec(&manifest).map_err(|e| ResultWriterError::new(e.to_string()))?;
        object.write(body).await?;
        object.finish().await?;
        let succeeded = std::mem::take(&mut self.sets[RecordKind::Succeeded.slot()].done);
        Ok((key, succeeded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map_run::MemoryS3;

    #[tokio::test]
    async fn files_and_manifest_account_for_every_record() {
        let s3 = MemoryS3::new();
        let mut files = ResultFiles::new(Arc::new(s3.clone()), "b", "out", "run-1", "arn:run", false);
        files.write(RecordKind::Succeeded, &json!({"n": 1})).await.unwrap();
        files.write(RecordKind::Succeeded, &json!({"n": 2})).await.unwrap();
        files.write(RecordKind::Failed, &json!({"n": 3})).await.unwrap();
        let key = files.finish().await.unwrap();
        assert_eq!(key, "out/run-1/manifest.json");
        let succeeded: Value = serde_json::from_slice(&s3.get("b", "out/run-1/SUCCEEDED_0.json").unwrap()).unwrap();
        assert_eq!(succeeded, json!([{"n": 1}, {"n": 2}]));
        let manifest: Value = serde_json::from_slice(&s3.get("b", &key).unwrap()).unwrap();
        assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
        assert_eq!(manifest["ResultFiles"]["FAILED"][0]["Key"], "out/run-1/FAILED_0.json");
        assert_eq!(manifest["ResultFiles"]["SUCCEEDED"][0]["Size"], 17);
        assert_eq!(manifest["MapRunArn"], "arn:run");
    }

    #[tokio::test]
    async fn jsonl_writes_one_record_per_line() {
        let s3 = MemoryS3::new();
        let mut files = ResultFiles::new(Arc::new(s3.clone()), "b", "", "r", "arn", true);
        files.write(RecordKind::Pending, &json!(1)).await.unwrap();
        files.write(RecordKind::Pending, &json!(2)).await.unwrap();
        files.finish().await.unwrap();
        assert_eq!(s3.get("b", "r/PENDING_0.json").unwrap(), b"1\n2\n");
    }
}

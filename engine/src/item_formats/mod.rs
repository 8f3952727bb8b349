//! Item sources over a data source's bytes (an S3 object, or TestState's `mapItemReaderData`): CSV
//! and JSONL are decoded as the chunks arrive; a JSON document is parsed whole (its items are then
//! handed out one by one).

pub mod csv;

use std::collections::HashSet;
use std::pin::Pin;

use crate::dispatch::BoxFuture;
use crate::map_run::{CsvHeaders, ItemReaderError, ItemSource, ReaderConfig};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value};

use csv::CsvDecoder;

/// An object's content as a stream of chunks.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, ItemReaderError>> + Send>>;

/// The cause AWS gives for duplicate CSV headers.
const DUPLICATE_HEADERS: &str = "CSV headers cannot contain duplicates.";

fn check_headers(headers: &[String]) -> Result<(), ItemReaderError> {
    let mut seen = HashSet::new();
    if headers.iter().all(|h| seen.insert(h.as_str())) {
        Ok(())
    } else {
        Err(ItemReaderError::new(DUPLICATE_HEADERS))
    }
}

/// CSV rows as objects keyed by the header names; every value a string.
pub struct CsvItems {
    chunks: Chunks,
    decoder: CsvDecoder,
    headers: Option<Vec<String>>,
    eof: bool,
}

impl CsvItems {
    /// Rows of `chunks`, with headers from the first row or as given.
    pub fn new(chunks: Chunks, config: &ReaderConfig) -> Result<CsvItems, ItemReaderError> {
        let headers = match &config.csv_headers {
            CsvHeaders::FirstRow => None,
            CsvHeaders::Given(h) => {
                check_headers(h)?;
                Some(h.clone())
            }
        };
        Ok(CsvItems { chunks, decoder: CsvDecoder::new(config.csv_delimiter.byte()), headers, eof: false })
    }

    async fn next_row(&mut self) -> Result<Option<Vec<String>>, ItemReaderError> {
        loop {
            if let Some(r) = self.decoder.next_record(self.eof) {
                return Ok(Some(r));
            }
            if self.eof {
                return Ok(None);
            }
            match self.chunks.next().await {
                Some(chunk) => self.decoder.feed(&chunk?),
                None => self.eof = true,
            }
        }
    }

    async fn next(&mut self) -> Result<Option<Value>, ItemReaderError> {
        if self.headers.is_none() {
            let Some(headers) = self.next_row().await? else { return Ok(None) };
            check_headers(&headers)?;
            self.headers = Some(headers);
        }
        let Some(row) = self.next_row().await? else { return Ok(None) };
        Ok(Some(self.object(row)))
    }

    /// A row as an object: short rows padded with "", extra fields dropped.
    fn object(&self, row: Vec<String>) -> Value {
        let mut out = Map::new();
        let mut fields = row.into_iter();
        for h in self.headers.iter().flatten() {
            out.insert(h.clone(), Value::String(fields.next().unwrap_or_default()));
        }
        Value::Object(out)
    }
}

impl ItemSource for CsvItems {
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>> {
        Box::pin(self.next())
    }
}

/// One JSON value per line; blank lines are skipped.
pub struct JsonlItems {
    chunks: Chunks,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

impl JsonlItems {
    /// The lines of `chunks`.
    pub fn new(chunks: Chunks) -> JsonlItems {
        JsonlItems { chunks, buf: Vec::new(), start: 0, eof: false }
    }

    async fn next(&mut self) -> Result<Option<Value>, ItemReaderError> {
        loop {
            let rest = &self.buf[self.start..];
            let line_end = rest.iter().position(|b| *b == b'\n');
            let line = match (line_end, self.eof) {
                (Some(n), _) => {
                    let line = &rest[..n];
                    self.start += n + 1;
                    Some(line)
                }
                (None, true) if !rest.is_empty() => {
                    self.start = self.buf.len();
                    Some(rest)
                }
                (None, true) => return Ok(None),
                (None, false) => None,
            };
            if let Some(line) = line {
                let text = String::from_utf8_lossy(line);
                if text.trim().is_empty() {
                    continue;
                }
                return serde_json::from_str(text.trim())
                    .map(Some)
                    .map_err(|e| ItemReaderError::new(format!("Invalid JSON line: {e}")));
            }
            match self.chunks.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    if self.start > 0 {
                        self.buf.drain(..self.start);
                        self.start = 0;
                    }
                    self.buf.extend_from_slice(&chunk);
                }
                None => self.eof = true,
            }
        }
    }
}

impl ItemSource for JsonlItems {
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>> {
        Box::pin(self.next())
    }
}

/// Reads a whole stream.
pub async fn read_all(mut chunks: Chunks) -> Result<Vec<u8>, ItemReaderError> {
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// AWS's cause when a JSON document (or the node `ItemsPointer` selects) is not an array.
const NOT_ITERABLE: &str = "Attempting to map over non-iterable node.";

/// The items of a JSON document: the document itself when it is an array, or the array that
/// `ReaderConfig.ItemsPointer` (a JSON Pointer, RFC 6901) selects inside it, for a document that
/// holds an object. Anything but an array (an object without `ItemsPointer`, a scalar) fails with
/// AWS's cause for a non-iterable node, as it did before `ItemsPointer` existed.
pub fn json_items(body: &[u8], pointer: Option<&str>) -> Result<Vec<Value>, ItemReaderError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| ItemReaderError::new(format!("Invalid JSON document: {e}")))?;
    let node = match pointer {
        // Legion's wording: AWS's cause for a pointer that selects nothing is not documented.
        Some(p) => doc
            .pointer(p)
            .cloned()
            .ok_or_else(|| ItemReaderError::new(format!("The ItemsPointer '{p}' does not point to a node.")))?,
        None => doc,
    };
    match node {
        Value::Array(items) => Ok(items),
        _ => Err(ItemReaderError::new(NOT_ITERABLE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map_run::CsvDelimiter;
    use serde_json::json;

    fn chunks(text: &'static str, size: usize) -> Chunks {
        let parts: Vec<Result<Bytes, ItemReaderError>> =
            text.as_bytes().chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        Box::pin(futures::stream::iter(parts))
    }

    async fn drain(source: &mut dyn ItemSource) -> Result<Vec<Value>, ItemReaderError> {
        let mut out = Vec::new();
        while let Some(v) = source.next_item().await? {
            out.push(v);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn csv_first_row_headers() {
        let config = ReaderConfig::default();
        let mut items =
            CsvItems::new(chunks("0,True,{}\nValue4,Value5,Value6\n,,,\nNull,None,\n   \n", 3), &config).unwrap();
        assert_eq!(
            drain(&mut items).await.unwrap(),
            json!([
                {"0": "Value4", "True": "Value5", "{}": "Value6"},
                {"0": "", "True": "", "{}": ""},
                {"0": "Null", "True": "None", "{}": ""},
                {"0": "   ", "True": "", "{}": ""}
            ])
            .as_array()
            .unwrap()
            .clone()
        );
    }

    #[tokio::test]
    async fn csv_given_headers_and_duplicates() {
        let config = ReaderConfig {
            csv_headers: CsvHeaders::Given(vec!["H1".into()]),
            csv_delimiter: CsvDelimiter::Semicolon,
            ..ReaderConfig::default()
        };
        let mut items = CsvItems::new(chunks("a;b\nc\n", 2), &config).unwrap();
        assert_eq!(drain(&mut items).await.unwrap(), vec![json!({"H1": "a"}), json!({"H1": "c"})]);
        let dup =
            ReaderConfig { csv_headers: CsvHeaders::Given(vec!["H".into(), "H".into()]), ..ReaderConfig::default() };
        assert_eq!(CsvItems::new(chunks("", 1), &dup).err().unwrap().cause, DUPLICATE_HEADERS);
        let mut first = CsvItems::new(chunks("x,x\n1,2\n", 4), &ReaderConfig::default()).unwrap();
        assert_eq!(drain(&mut first).await.unwrap_err().cause, DUPLICATE_HEADERS);
    }

    #[tokio::test]
    async fn jsonl_lines() {
        let mut items = JsonlItems::new(chunks("{\"a\":1}\n\n[2]\n3", 2));
        assert_eq!(drain(&mut items).await.unwrap(), vec![json!({"a": 1}), json!([2]), json!(3)]);
        let mut bad = JsonlItems::new(chunks("{\n", 5));
        assert!(drain(&mut bad).await.is_err());
    }

    #[test]
    fn json_documents() {
        assert_eq!(json_items(b"[1,2]", None).unwrap(), vec![json!(1), json!(2)]);
        assert_eq!(json_items(br#"{"a":{"b":[3]}}"#, Some("/a/b")).unwrap(), vec![json!(3)]);
        let object = br#"{"meta":{"n":2},"data":{"rows":[{"id":1},{"id":2}],"name":"x"}}"#;
        assert_eq!(json_items(object, Some("/data/rows")).unwrap(), vec![json!({"id": 1}), json!({"id": 2})]);
        assert_eq!(json_items(object, None).unwrap_err().cause, "Attempting to map over non-iterable node.");
        assert_eq!(json_items(object, Some("/meta")).unwrap_err().cause, "Attempting to map over non-iterable node.");
        assert_eq!(
            json_items(object, Some("/data/name")).unwrap_err().cause,
            "Attempting to map over non-iterable node."
        );
        assert_eq!(
            json_items(object, Some("/nope")).unwrap_err().cause,
            "The ItemsPointer '/nope' does not point to a node."
        );
        assert_eq!(json_items(b"[[1],[2]]", Some("/1")).unwrap(), vec![json!(2)]);
        assert_eq!(json_items(b"5", None).unwrap_err().cause, "Attempting to map over non-iterable node.");
        assert!(json_items(b"[", None).is_err());
    }
}

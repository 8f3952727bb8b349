//! [`AwsS3`]: the engine's [`S3Connector`] over `aws-sdk-s3`, for AWS and any S3-compatible endpoint.
//!
//! Listings are read a page at a time and objects a chunk at a time; result files go out with one
//! PutObject, or as a multipart upload once they outgrow one part.

use std::collections::VecDeque;
use std::io::Write as _;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::{RequestId, RequestIdExt};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use legion_engine::dispatch::BoxFuture;
use legion_engine::map_run::{
    InputType, ItemReaderError, ItemSource, ReaderConfig, ReaderRequest, ReaderResource, ResultObject,
    ResultWriterError, S3Connector, Transformation, VecItemSource,
};
use serde_json::{json, Value};

use super::formats::{json_items, read_all, Chunks, CsvItems, JsonlItems};

/// Environment variables that override the S3 endpoint; when one is set, requests use path-style
/// addressing (`http://host/bucket/key`), which local S3-compatible servers expect.
pub const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"];

/// Multipart part size for result files (S3's minimum is 5 MiB).
const PART_BYTES: usize = 8 * 1024 * 1024;

/// S3 through the AWS SDK.
#[derive(Clone, Debug)]
pub struct AwsS3 {
    client: Client,
}

impl AwsS3 {
    /// A connector configured like any AWS SDK client: the standard credential chain and region,
    /// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` honoured (with path-style addressing).
    pub async fn from_env() -> AwsS3 {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared);
        if shared.region().is_none() {
            builder = builder.region(aws_sdk_s3::config::Region::new("us-east-1"));
        }
        let overridden = ENDPOINT_VARIABLES.iter().any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        if overridden {
            builder = builder.force_path_style(true);
        }
        AwsS3 { client: Client::from_conf(builder.build()) }
    }

    /// A connector for an S3-compatible endpoint (path-style) with static credentials.
    pub fn for_endpoint(endpoint: &str, region: &str, access_key: &str, secret_key: &str) -> AwsS3 {
        let credentials = aws_sdk_s3::config::Credentials::new(access_key, secret_key, None, None, "legion");
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .force_path_style(true)
            .build();
        AwsS3 { client: Client::from_conf(config) }
    }

    /// A connector over an existing client.
    pub fn from_client(client: Client) -> AwsS3 {
        AwsS3 { client }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn open(&self, request: ReaderRequest) -> Result<Box<dyn ItemSource>, ItemReaderError> {
        let bucket = request
            .param("Bucket")
            .ok_or_else(|| ItemReaderError::new("The ItemReader parameters must include a Bucket"))?
            .to_owned();
        match request.resource {
            ReaderResource::ListObjectsV2 => {
                let listing = Listing::new(self.client.clone(), bucket, &request);
                match request.config.transformation {
                    Transformation::None => Ok(Box::new(listing)),
                    Transformation::LoadAndFlatten => {
                        Ok(Box::new(Flatten { s3: self.clone(), listing, config: request.config, current: None }))
                    }
                }
            }
            ReaderResource::GetObject => {
                let key = request
                    .param("Key")
                    .ok_or_else(|| ItemReaderError::new("The ItemReader parameters must include a Key"))?
                    .to_owned();
                let version = request.param("VersionId").map(str::to_owned);
                self.object_items(&bucket, &key, version, &request.config).await
            }
        }
    }

    /// The items held in one object, read as `config.input_type`.
    async fn object_items(
        &self,
        bucket: &str,
        key: &str,
        version: Option<String>,
        config: &ReaderConfig,
    ) -> Result<Box<dyn ItemSource>, ItemReaderError> {
        let input_type = config.input_type.unwrap_or(InputType::Json);
        if input_type == InputType::Parquet {
            return Err(ItemReaderError::new("The PARQUET input type is not supported"));
        }
        let chunks = self.get(bucket, key, version).await?;
        match input_type {
            InputType::Csv => Ok(Box::new(CsvItems::new(chunks, config)?)),
            InputType::Jsonl => Ok(Box::new(JsonlItems::new(chunks))),
            InputType::Json | InputType::Parquet => {
                let body = read_all(chunks).await?;
                Ok(Box::new(VecItemSource::new(json_items(&body, config.items_pointer.as_deref())?)))
            }
            InputType::Manifest => {
                let body = read_all(chunks).await?;
                Ok(Box::new(Inventory::new(self.clone(), bucket, &body)?))
            }
        }
    }

    /// An object's body as a stream of chunks. A body that breaks off is resumed where it stopped
    /// (a ranged GetObject of the same version) up to [`RESUMES`] times; after that, or when the
    /// object changed meanwhile, the stream ends with an error that says how far it got.
    async fn get(&self, bucket: &str, key: &str, version: Option<String>) -> Result<Chunks, ItemReaderError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.clone())
            .send()
            .await
            .map_err(|e| ItemReaderError::new(describe(&e).cause()))?;
        let read = Resumable {
            client: self.client.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version,
            etag: out.e_tag,
            offset: 0,
            resumes_left: RESUMES,
            body: Some(out.body),
        };
        Ok(Box::pin(futures::stream::unfold(read, Resumable::next_chunk)))
    }
}

/// How many times one GetObject body that breaks off mid-stream is resumed.
pub const RESUMES: u32 = 3;

/// A GetObject body being read, with what is needed to resume it.
struct Resumable {
    client: Client,
    bucket: String,
    key: String,
    version: Option<String>,
    etag: Option<String>,
    offset: u64,
    resumes_left: u32,
    /// `None` once the stream ended or failed.
    body: Option<aws_sdk_s3::primitives::ByteStream>,
}

impl Resumable {
    async fn next_chunk(mut self) -> Option<(Result<bytes::Bytes, ItemReaderError>, Resumable)> {
        loop {
            let broke = match self.body.as_mut()?.next().await {
                None => return None,
                Some(Ok(chunk)) => {
                    self.offset += chunk.len() as u64;
                    return Some((Ok(chunk), self));
                }
                Some(Err(e)) => aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
            };
            if let Err(cause) = self.resume(&broke).await {
                self.body = None;
                return Some((Err(ItemReaderError::new(cause)), self));
            }
        }
    }

    /// Asks for the rest of the object after a break; the cause when it cannot be had.
    async fn resume(&mut self, broke: &str) -> Result<(), String> {
        let location = format!("s3://{}/{}", self.bucket, self.key);
        if self.resumes_left == 0 {
            return Err(format!(
                "Reading {location} broke off after {} bytes ({broke}), {RESUMES} times resumed",
                self.offset
            ));
        }
        self.resumes_left -= 1;
        tracing::warn!(%location, offset = self.offset, cause = broke, "resuming an object read that broke off");
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(self.version.clone())
            .range(format!("bytes={}-", self.offset))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Reading {location} broke off after {} bytes ({broke}) and could not be resumed: {}",
                    self.offset,
                    describe(&e).cause()
                )
            })?;
        if out.e_tag != self.etag {
            return Err(format!("{location} changed while it was being read (after {} bytes)", self.offset));
        }
        self.body = Some(out.body);
        Ok(())
    }
}

/// What an S3 call failed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Failure {
    /// The S3 error code (`NoSuchBucket`…), when the service answered.
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// The HTTP status.
    pub status: Option<u16>,
    /// `x-amz-request-id`.
    pub request_id: Option<String>,
    /// `x-amz-id-2`.
    pub extended_request_id: Option<String>,
}

impl S3Failure {
    /// The cause as AWS's SDK integrations word it:
    /// `message (Service: S3, Status Code: 404, Request ID: …, Extended Request ID: …)`.
    pub fn cause(&self) -> String {
        match self.status {
            Some(status) => format!(
                "{} (Service: S3, Status Code: {}, Request ID: {}, Extended Request ID: {})",
                self.message,
                status,
                self.request_id.as_deref().unwrap_or("null"),
                self.extended_request_id.as_deref().unwrap_or("null"),
            ),
            None => self.message.clone(),
        }
    }
}

/// Reads code, message, status and request ids from an SDK error.
pub fn describe<E>(e: &SdkError<E, HttpResponse>) -> S3Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let message = e
        .message()
        .map(str::to_owned)
        .or_else(|| e.code().map(str::to_owned))
        .unwrap_or_else(|| aws_sdk_s3::error::DisplayErrorContext(e).to_string());
    S3Failure {
        code: e.code().map(str::to_owned),
        message,
        status,
        request_id: e.request_id().map(str::to_owned),
        extended_request_id: e.extended_request_id().map(str::to_owned),
    }
}

/// What a listing asks for, shared by its page requests.
struct ListRequest {
    client: Client,
    bucket: String,
    prefix: Option<String>,
    delimiter: Option<String>,
    start_after: Option<String>,
    max_keys: Option<i32>,
}

/// One page of a listing: its objects as items, and the token of the next page (`None` on the last).
struct Page {
    items: Vec<Value>,
    next: Option<String>,
}

impl ListRequest {
    async fn page(self: std::sync::Arc<Self>, token: Option<String>) -> Result<Page, ItemReaderError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(self.prefix.clone())
            .set_delimiter(self.delimiter.clone())
            .set_start_after(self.start_after.clone())
            .set_max_keys(self.max_keys)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| ItemReaderError::new(describe(&e).cause()))?;
        let items = out
            .contents()
            .iter()
            .map(|o| {
                let last_modified = o.last_modified().map(|t| t.secs());
                let storage = o.storage_class().map(|s| s.as_str().to_owned()).unwrap_or_else(|| "STANDARD".to_owned());
                json!({
                    "Etag": o.e_tag().unwrap_or_default(),
                    "Key": o.key().unwrap_or_default(),
                    "LastModified": last_modified,
                    "Size": o.size().unwrap_or(0),
                    "StorageClass": storage,
                })
            })
            .collect();
        let next = out.next_continuation_token().filter(|_| out.is_truncated().unwrap_or(false)).map(str::to_owned);
        Ok(Page { items, next })
    }
}

/// A listObjectsV2 listing, streamed page by page. The next page is requested as soon as the
/// current one arrives, so children are not held up by a round trip every 1000 keys; at most two
/// pages are in memory.
struct Listing {
    request: std::sync::Arc<ListRequest>,
    page: VecDeque<Value>,
    /// The request for the next page, already on its way.
    pending: Option<tokio::task::JoinHandle<Result<Page, ItemReaderError>>>,
    /// The first page's continuation token (`ContinuationToken` in the reader's parameters).
    first_token: Option<String>,
    started: bool,
}

impl Listing {
    fn new(client: Client, bucket: String, request: &ReaderRequest) -> Listing {
        let owned = |name: &str| request.param(name).map(str::to_owned);
        Listing {
            request: std::sync::Arc::new(ListRequest {
                client,
                bucket,
                prefix: owned("Prefix"),
                delimiter: owned("Delimiter"),
                start_after: owned("StartAfter"),
                max_keys: request.parameters.get("MaxKeys").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()),
            }),
            page: VecDeque::new(),
            pending: None,
            first_token: owned("ContinuationToken"),
            started: false,
        }
    }

    fn fetch(&self, token: Option<String>) -> tokio::task::JoinHandle<Result<Page, ItemReaderError>> {
        tokio::spawn(self.request.clone().page(token))
    }

    async fn next(&mut self) -> Result<Option<Value>, ItemReaderError> {
        loop {
            if let Some(item) = self.page.pop_front() {
                return Ok(Some(item));
            }
            let pending = match self.pending.take() {
                Some(p) => p,
                None if self.started => return Ok(None),
                None => {
                    self.started = true;
                    let token = self.first_token.take();
                    self.fetch(token)
                }
            };
            let page = pending.await.map_err(|e| ItemReaderError::new(format!("listing objects: {e}")))??;
            self.page.extend(page.items);
            if let Some(token) = page.next {
                self.pending = Some(self.fetch(Some(token)));
            }
        }
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        if let Some(p) = &self.pending {
            p.abort();
        }
    }
}

impl ItemSource for Listing {
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>> {
        Box::pin(self.next())
    }
}

/// `Transformation: LOAD_AND_FLATTEN`: the records of every listed object, object after object.
struct Flatten {
    s3: AwsS3,
    listing: Listing,
    config: ReaderConfig,
    current: Option<Box<dyn ItemSource>>,
}

impl Flatten {
    async fn next(&mut self) -> Result<Option<Value>, ItemReaderError> {
        loop {
            if let Some(current) = self.current.as_mut() {
                if let Some(item) = current.next_item().await? {
                    return Ok(Some(item));
                }
                self.current = None;
            }
            let Some(object) = self.listing.next().await? else { return Ok(None) };
            let key = object["Key"].as_str().unwrap_or_default().to_owned();
            if key.ends_with('/') {
                continue;
            }
            let bucket = self.listing.request.bucket.clone();
            self.current = Some(self.s3.object_items(&bucket, &key, None, &self.config).await?);
        }
    }
}

impl ItemSource for Flatten {
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>> {
        Box::pin(self.next())
    }
}

/// An S3 Inventory report: the rows of every CSV file its `manifest.json` lists, as objects keyed
/// by the manifest's `fileSchema` (all values strings).
struct Inventory {
    s3: AwsS3,
    bucket: String,
    files: VecDeque<String>,
    schema: Vec<String>,
    current: Option<CsvItems>,
}

impl Inventory {
    fn new(s3: AwsS3, bucket: &str, manifest: &[u8]) -> Result<Inventory, ItemReaderError> {
        let m: Value = serde_json::from_slice(manifest)
            .map_err(|e| ItemReaderError::new(format!("Invalid inventory manifest: {e}")))?;
        if m.get("fileFormat").and_then(Value::as_str).is_some_and(|f| !f.eq_ignore_ascii_case("CSV")) {
            return Err(ItemReaderError::new("Only CSV inventory reports are supported"));
        }
        let schema: Vec<String> = m
            .get("fileSchema")
            .and_then(Value::as_str)
            .ok_or_else(|| ItemReaderError::new("The inventory manifest has no fileSchema"))?
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect();
        let files = m
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| ItemReaderError::new("The inventory manifest has no files"))?
            .iter()
            .filter_map(|f| f.get("key").and_then(Value::as_str).map(str::to_owned))
            .collect();
        // Inventory files live in the manifest's own bucket.
        Ok(Inventory { s3, bucket: bucket.to_owned(), files, schema, current: None })
    }

    async fn next(&mut self) -> Result<Option<Value>, ItemReaderError> {
        loop {
            if let Some(current) = self.current.as_mut() {
                if let Some(item) = current.next_item().await? {
                    return Ok(Some(item));
                }
                self.current = None;
            }
            let Some(key) = self.files.pop_front() else { return Ok(None) };
            let mut chunks = self.s3.get(&self.bucket, &key, None).await?;
            if key.ends_with(".gz") {
                chunks = gunzip(chunks);
            }
            let config = ReaderConfig {
                csv_headers: legion_engine::map_run::CsvHeaders::Given(self.schema.clone()),
                ..ReaderConfig::default()
            };
            self.current = Some(CsvItems::new(chunks, &config)?);
        }
    }
}

impl ItemSource for Inventory {
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>> {
        Box::pin(self.next())
    }
}

/// Decompresses a gzip stream chunk by chunk.
fn gunzip(chunks: Chunks) -> Chunks {
    let decoder = flate2::write::MultiGzDecoder::new(Vec::new());
    let stream = futures::stream::unfold(Some((chunks, decoder)), |state| async move {
        use futures::StreamExt;
        let (mut chunks, mut decoder) = state?;
        loop {
            match chunks.next().await {
                Some(Ok(chunk)) => {
                    if let Err(e) = decoder.write_all(&chunk) {
                        return Some((Err(ItemReaderError::new(format!("Invalid gzip data: {e}"))), None));
                    }
                    let out = std::mem::take(decoder.get_mut());
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), Some((chunks, decoder))));
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None => {
                    return match decoder.finish() {
                        Ok(rest) if rest.is_empty() => None,
                        Ok(rest) => Some((Ok(Bytes::from(rest)), None)),
                        Err(e) => Some((Err(ItemReaderError::new(format!("Invalid gzip data: {e}"))), None)),
                    }
                }
            }
        }
    });
    Box::pin(stream)
}

/// A result file being uploaded.
struct Upload {
    client: Client,
    bucket: String,
    key: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    size: u64,
}

fn writer_error<E>(e: &SdkError<E, HttpResponse>) -> ResultWriterError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    ResultWriterError::new(describe(e).cause())
}

impl Upload {
    async fn flush_part(&mut self) -> Result<(), ResultWriterError> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .send()
                    .await
                    .map_err(|e| writer_error(&e))?;
                let id = out.upload_id().unwrap_or_default().to_owned();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buffer);
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| writer_error(&e))?;
        self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag().map(str::to_owned)).build());
        Ok(())
    }

    async fn complete(mut self) -> Result<u64, ResultWriterError> {
        match self.upload_id.clone() {
            None => {
                let body = std::mem::take(&mut self.buffer);
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| writer_error(&e))?;
            }
            Some(id) => {
                if !self.buffer.is_empty() {
                    self.flush_part().await?;
                }
                let parts =
                    CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build();
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(id)
                    .multipart_upload(parts)
                    .send()
                    .await
                    .map_err(|e| writer_error(&e))?;
            }
        }
        Ok(self.size)
    }
}

impl ResultObject for Upload {
    fn write(&mut self, chunk: Vec<u8>) -> BoxFuture<'_, Result<(), ResultWriterError>> {
        Box::pin(async move {
            self.size += chunk.len() as u64;
            self.buffer.extend_from_slice(&chunk);
            if self.buffer.len() >= PART_BYTES {
                self.flush_part().await?;
            }
            Ok(())
        })
    }

    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<u64, ResultWriterError>> {
        Box::pin(self.complete())
    }
}

impl S3Connector for AwsS3 {
    fn open_items(&self, request: ReaderRequest) -> BoxFuture<'static, Result<Box<dyn ItemSource>, ItemReaderError>> {
        let this = self.clone();
        Box::pin(async move { this.open(request).await })
    }

    fn create_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Box<dyn ResultObject>, ResultWriterError>> {
        let upload = Upload {
            client: self.client.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            size: 0,
        };
        Box::pin(async move { Ok(Box::new(upload) as Box<dyn ResultObject>) })
    }
}

/// An [`AwsS3`] built from the environment on first use, so that programs which never touch S3
/// never load AWS configuration.
#[derive(Clone, Default)]
pub struct LazyAwsS3 {
    cell: std::sync::Arc<tokio::sync::OnceCell<AwsS3>>,
}

impl LazyAwsS3 {
    /// A connector that runs [`AwsS3::from_env`] when first needed.
    pub fn new() -> LazyAwsS3 {
        LazyAwsS3::default()
    }

    pub(crate) async fn get(&self) -> AwsS3 {
        self.cell.get_or_init(AwsS3::from_env).await.clone()
    }
}

impl S3Connector for LazyAwsS3 {
    fn open_items(&self, request: ReaderRequest) -> BoxFuture<'static, Result<Box<dyn ItemSource>, ItemReaderError>> {
        let this = self.clone();
        Box::pin(async move { this.get().await.open(request).await })
    }

    fn create_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Box<dyn ResultObject>, ResultWriterError>> {
        let (this, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        Box::pin(async move { this.get().await.create_object(&bucket, &key).await })
    }
}

//! An embedded S3-compatible endpoint over a local folder: each sub-folder is a bucket, each file an
//! object. It speaks the S3 REST protocol on a local port, so the engine reaches it through the same
//! AWS SDK code path as real S3.
//!
//! Object operations come from `s3s-fs`; ListObjectsV2 is served here by a walk in key order that
//! starts where the previous page stopped and reads only what one page needs, so listing millions
//! of objects costs time in proportion to the page, not to the bucket.
//!
//! The endpoint never reads or writes outside its folder: a key with a `.` or `..` segment, an
//! absolute key, a key with a NUL or a backslash, and a key that reaches a symbolic link leading out
//! of the folder are refused with `AccessDenied` before any file is touched (keys arrive already
//! percent-decoded, so `%2E%2E%2F` is caught as `../`), and listings skip such links.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use md5::{Digest, Md5};
use s3s::dto::{
    ETag, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output, Object, ObjectStorageClass,
    Timestamp,
};
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::aws::AwsS3;

/// The access key the embedded endpoint accepts (and the connector signs with).
pub const ACCESS_KEY: &str = "legion";
/// The secret key the embedded endpoint accepts.
pub const SECRET_KEY: &str = "legion-local-secret";

/// Starting the endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalS3Error {
    /// The folder cannot be served.
    #[error("cannot serve {path}: {message}")]
    Root {
        /// The folder.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The port cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A running embedded endpoint; it stops when dropped.
#[derive(Debug)]
pub struct LocalS3 {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

/// Marks an object answer (GetObject's, PutObject's) that carries a checksum as a full-object one, as
/// S3 does for objects uploaded in one part.
macro_rules! full_object_checksum {
    ($o:expr) => {
        let checksummed = $o.checksum_crc32.is_some()
            || $o.checksum_crc32c.is_some()
            || $o.checksum_sha1.is_some()
            || $o.checksum_sha256.is_some()
            || $o.checksum_crc64nvme.is_some();
        if checksummed {
            $o.checksum_type
                .get_or_insert_with(|| s3s::dto::ChecksumType::from_static(s3s::dto::ChecksumType::FULL_OBJECT));
        }
    };
}

impl LocalS3 {
    /// Serves `root` on `addr` (port 0 picks a free port).
    pub async fn start(root: &Path, addr: SocketAddr) -> Result<LocalS3, LocalS3Error> {
        let root_error = |message: String| LocalS3Error::Root { path: root.to_owned(), message };
        std::fs::create_dir_all(root).map_err(|e| root_error(e.to_string()))?;
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| root_error(format!("{e:?}")))?;
        let root = std::fs::canonicalize(root).map_err(|e| root_error(e.to_string()))?;
        let index = Arc::new(Index { root: root.clone(), ..Index::default() });
        let backend = Folder { fs, root, index };
        let service = {
            let mut b = s3s::service::S3ServiceBuilder::new(backend);
            b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let listener = TcpListener::bind(addr).await.map_err(|source| LocalS3Error::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| LocalS3Error::Bind { addr, source })?;
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Ok(LocalS3 { addr, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connector that reaches this endpoint through the AWS SDK.
    pub fn connector(&self) -> AwsS3 {
        AwsS3::for_endpoint(&self.endpoint_url(), "us-east-1", ACCESS_KEY, SECRET_KEY)
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A directory's entries sorted in key order: `(name, is_dir)`.
type SortedDir = Arc<Vec<(String, bool)>>;

/// How many directory listings are kept between pages.
const DIR_CACHE: usize = 64;

/// The folder backend: `s3s-fs` plus a paged, ordered listing.
struct Folder {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
    index: Arc<Index>,
}

/// Sorted directory listings, cached while a directory is unchanged.
#[derive(Default)]
struct Index {
    /// The served folder, canonical: symbolic links leading outside it are not listed.
    root: PathBuf,
    dirs: Mutex<HashMap<PathBuf, (SystemTime, SortedDir)>>,
}

/// One listed object.
struct Listed {
    key: String,
    path: PathBuf,
}

impl Folder {
    fn bucket_path(&self, bucket: &str) -> S3Result<PathBuf> {
        if bucket.is_empty() || bucket.contains('/') || bucket.contains("..") || bucket.starts_with('.') {
            return Err(s3_error!(InvalidBucketName));
        }
        Ok(self.root.join(bucket))
    }

    /// The file of `key` in `bucket`, refused with `AccessDenied` unless it stays inside the folder.
    fn object_path(&self, bucket: &str, key: &str) -> S3Result<PathBuf> {
        let bucket = self.bucket_path(bucket)?;
        check_key(key)?;
        let path = bucket.join(key);
        if !inside(&self.root, &path) {
            return Err(s3_error!(AccessDenied, "The key leads outside the served folder"));
        }
        Ok(path)
    }

    /// Checks an object named by a request before it is handed to `s3s-fs`.
    fn check(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.object_path(bucket, key).map(drop)
    }
}

/// Refuses keys that do not name a file below their bucket: empty, absolute, with a NUL or a
/// backslash, or with a `.` or `..` segment. (S3 itself stores such keys as plain strings; a folder
/// cannot, so the endpoint refuses them: `AccessDenied` is a choice, S3 has no error for this.)
fn check_key(key: &str) -> S3Result<()> {
    let refused = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key.contains('\0')
        || key.split('/').any(|segment| segment == "." || segment == "..");
    if refused {
        return Err(s3_error!(
            AccessDenied,
            "The key is not allowed by the embedded endpoint: it must be relative and have no '.' or '..' segment"
        ));
    }
    Ok(())
}

/// Whether `path` (which may not exist yet) stays inside `root` once every symbolic link on its
/// way is followed: the deepest part that exists is resolved and must be below `root`.
fn inside(root: &Path, path: &Path) -> bool {
    let mut existing = path;
    loop {
        match std::fs::canonicalize(existing) {
            Ok(real) => return real.starts_with(root),
            // A dangling link: refuse it rather than let a write follow it.
            Err(_) if existing.symlink_metadata().is_ok() => return false,
            Err(_) => match existing.parent() {
                Some(parent) => existing = parent,
                None => return false,
            },
        }
    }
}

impl Index {
    /// The entries of `dir`, sorted so that walking them visits keys in S3 order (a folder sorts as
    /// its name followed by `/`).
    fn sorted(&self, dir: &Path) -> std::io::Result<SortedDir> {
        let modified = std::fs::metadata(dir)?.modified()?;
        if let Some((at, entries)) = self.dirs.lock().unwrap_or_else(|e| e.into_inner()).get(dir) {
            if *at == modified {
                return Ok(entries.clone());
            }
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let mut kind = entry.file_type()?;
            if kind.is_symlink() {
                // A link is listed as what it leads to, and only when that is inside the folder.
                let path = entry.path();
                if !inside(&self.root, &path) {
                    continue;
                }
                kind = std::fs::metadata(&path)?.file_type();
            }
            entries.push((name, kind.is_dir()));
        }
        entries.sort_by_key(sort_key);
        let entries = Arc::new(entries);
        let mut cache = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= DIR_CACHE {
            cache.clear();
        }
        cache.insert(dir.to_owned(), (modified, entries.clone()));
        Ok(entries)
    }

    /// Up to `max` objects whose keys start with `prefix` and come after `after`, in key order;
    /// the flag tells whether more follow.
    fn page(&self, bucket: &Path, prefix: &str, after: &str, max: usize) -> std::io::Result<(Vec<Listed>, bool)> {
        let mut out = Vec::new();
        let more = self.walk(bucket, "", prefix, after, max, &mut out)?;
        Ok((out, more))
    }

    /// Walks `dir` (whose keys start with `base`); returns true once more than `max` were found.
    fn walk(
        &self,
        dir: &Path,
        base: &str,
        prefix: &str,
        after: &str,
        max: usize,
        out: &mut Vec<Listed>,
    ) -> std::io::Result<bool> {
        let entries = self.sorted(dir)?;
        // Skip every entry whose keys all sort at or before `after`.
        let start = entries.partition_point(|(name, is_dir)| {
            let key = format!("{base}{name}");
            if *is_dir {
                let folder = format!("{key}/");
                after >= folder.as_str() && !after.starts_with(&folder)
            } else {
                key.as_str() <= after
            }
        });
        for (name, is_dir) in &entries[start..] {
            let key = format!("{base}{name}");
            if *is_dir {
                let folder = format!("{key}/");
                if !(folder.starts_with(prefix) || prefix.starts_with(&folder)) {
                    if folder.as_str() > prefix && !folder.starts_with(prefix) {
                        break;
                    }
                    continue;
                }
                if self.walk(&dir.join(name), &folder, prefix, after, max, out)? {
                    return Ok(true);
                }
            } else {
                if !key.starts_with(prefix) {
                    if key.as_str() > prefix {
                        break;
                    }
                    continue;
                }
                if key.as_str() <= after {
                    continue;
                }
                if out.len() == max {
                    return Ok(true);
                }
                out.push(Listed { key, path: dir.join(name) });
            }
        }
        Ok(false)
    }
}

fn sort_key((name, is_dir): &(String, bool)) -> String {
    if *is_dir {
        format!("{name}/")
    } else {
        name.clone()
    }
}

/// The MD5 of a file's content, as a quoted hex ETag.
fn etag(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hash = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    let digest = hash.finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn internal(e: std::io::Error) -> s3s::S3Error {
    s3s::S3Error::internal_error(e)
}

#[async_trait::async_trait]
impl S3 for Folder {
    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        if let Some(prefix) = &req.input.prefix {
            if prefix.starts_with('/') || prefix.split('/').any(|segment| segment == "." || segment == "..") {
                return Err(s3_error!(AccessDenied, "The prefix leads outside the bucket"));
            }
        }
        if req.input.delimiter.is_some() {
            return self.fs.list_objects_v2(req).await;
        }
        let input = req.input;
        let bucket = self.bucket_path(&input.bucket)?;
        if !bucket.is_dir() {
            return Err(s3_error!(NoSuchBucket));
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match (input.continuation_token.as_deref(), input.start_after.as_deref()) {
            (Some(t), Some(s)) => t.max(s).to_owned(),
            (Some(t), None) => t.to_owned(),
            (None, Some(s)) => s.to_owned(),
            (None, None) => String::new(),
        };
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        let (root, prefix_for_walk) = (bucket.clone(), prefix.clone());
        let this = self.index.clone();
        let listed = tokio::task::spawn_blocking(move || -> std::io::Result<(Vec<Object>, bool)> {
            let (page, more) = this.page(&root, &prefix_for_walk, &after, max_keys as usize)?;
            let mut objects = Vec::with_capacity(page.len());
            for l in page {
                let meta = std::fs::metadata(&l.path)?;
                objects.push(Object {
                    e_tag: Some(ETag::Strong(etag(&l.path)?)),
                    key: Some(l.key),
                    last_modified: meta.modified().ok().map(Timestamp::from),
                    size: Some(i64::try_from(meta.len()).unwrap_or(i64::MAX)),
                    storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                    ..Default::default()
                });
            }
            Ok((objects, more))
        })
        .await
        .map_err(s3s::S3Error::internal_error)?
        .map_err(internal)?;
        let (objects, truncated) = listed;
        let next = if truncated { objects.last().and_then(|o| o.key.clone()) } else { None };
        let output = ListObjectsV2Output {
            key_count: Some(i32::try_from(objects.len()).unwrap_or(i32::MAX)),
            max_keys: Some(max_keys),
            is_truncated: Some(truncated),
            contents: (!objects.is_empty()).then_some(objects),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let marker = req.input.marker.clone();
        let v2 = req.map_input(|i| ListObjectsV2Input {
            bucket: i.bucket,
            delimiter: i.delimiter,
            encoding_type: i.encoding_type,
            expected_bucket_owner: i.expected_bucket_owner,
            max_keys: i.max_keys,
            prefix: i.prefix,
            start_after: i.marker,
            ..Default::default()
        });
        let out = self.list_objects_v2(v2).await?;
        Ok(out.map_output(|v2| ListObjectsOutput {
            next_marker: v2.next_continuation_token,
            contents: v2.contents,
            common_prefixes: v2.common_prefixes,
            delimiter: v2.delimiter,
            name: v2.name,
            prefix: v2.prefix,
            max_keys: v2.max_keys,
            is_truncated: v2.is_truncated,
            marker,
            ..Default::default()
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<s3s::dto::CreateBucketInput>,
    ) -> S3Result<S3Response<s3s::dto::CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<s3s::dto::DeleteBucketInput>,
    ) -> S3Result<S3Response<s3s::dto::DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<s3s::dto::HeadBucketInput>,
    ) -> S3Result<S3Response<s3s::dto::HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<s3s::dto::ListBucketsInput>,
    ) -> S3Result<S3Response<s3s::dto::ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<s3s::dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<s3s::dto::GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<s3s::dto::GetObjectInput>,
    ) -> S3Result<S3Response<s3s::dto::GetObjectOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        // The headers S3 sends with every object it returns: byte ranges are served, objects are
        // encrypted with SSE-S3 by default, and a stored checksum covers the full object.
        let mut out = self.fs.get_object(req).await?;
        let o = &mut out.output;
        o.accept_ranges.get_or_insert_with(|| "bytes".to_owned());
        o.server_side_encryption
            .get_or_insert_with(|| s3s::dto::ServerSideEncryption::from_static(s3s::dto::ServerSideEncryption::AES256));
        full_object_checksum!(o);
        Ok(out)
    }

    async fn head_object(
        &self,
        req: S3Request<s3s::dto::HeadObjectInput>,
    ) -> S3Result<S3Response<s3s::dto::HeadObjectOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        let mut out = self.fs.head_object(req).await?;
        out.output.accept_ranges.get_or_insert_with(|| "bytes".to_owned());
        out.output
            .server_side_encryption
            .get_or_insert_with(|| s3s::dto::ServerSideEncryption::from_static(s3s::dto::ServerSideEncryption::AES256));
        Ok(out)
    }

    async fn put_object(
        &self,
        req: S3Request<s3s::dto::PutObjectInput>,
    ) -> S3Result<S3Response<s3s::dto::PutObjectOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        // Like S3, where every bucket has SSE-S3 default encryption and a checksummed single-part
        // upload reports a full-object checksum.
        let mut out = self.fs.put_object(req).await?;
        let o = &mut out.output;
        o.server_side_encryption
            .get_or_insert_with(|| s3s::dto::ServerSideEncryption::from_static(s3s::dto::ServerSideEncryption::AES256));
        full_object_checksum!(o);
        Ok(out)
    }

    async fn copy_object(
        &self,
        req: S3Request<s3s::dto::CopyObjectInput>,
    ) -> S3Result<S3Response<s3s::dto::CopyObjectOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        if let s3s::dto::CopySource::Bucket { bucket, key, .. } = &req.input.copy_source {
            self.check(bucket, key)?;
        }
        self.fs.copy_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<s3s::dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<s3s::dto::DeleteObjectOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        self.fs.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<s3s::dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<s3s::dto::DeleteObjectsOutput>> {
        for object in &req.input.delete.objects {
            self.check(&req.input.bucket, &object.key)?;
        }
        self.fs.delete_objects(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<s3s::dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<s3s::dto::CreateMultipartUploadOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        self.fs.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<s3s::dto::UploadPartInput>,
    ) -> S3Result<S3Response<s3s::dto::UploadPartOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        self.fs.upload_part(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<s3s::dto::ListPartsInput>,
    ) -> S3Result<S3Response<s3s::dto::ListPartsOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        self.fs.list_parts(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<s3s::dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<s3s::dto::CompleteMultipartUploadOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        self.fs.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<s3s::dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<s3s::dto::AbortMultipartUploadOutput>> {
        self.check(&req.input.bucket, &req.input.key)?;
        self.fs.abort_multipart_upload(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_keys_in_s3_order() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("b");
        for key in ["a-c", "a/b", "a/c/d", "a.txt", "a0", "z", "p/1", "p/2", "q"] {
            let path = b.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, key).unwrap();
        }
        let f = Index::default();
        let keys = |prefix: &str, after: &str, max: usize| {
            let (page, more) = f.page(&b, prefix, after, max).unwrap();
            (page.into_iter().map(|l| l.key).collect::<Vec<_>>(), more)
        };
        let all = vec!["a-c", "a.txt", "a/b", "a/c/d", "a0", "p/1", "p/2", "q", "z"];
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted, "fixture order is S3's byte order");
        assert_eq!(keys("", "", 100), (all.iter().map(|s| s.to_string()).collect(), false));
        // Page by page, each page starting after the last key of the previous one.
        let mut after = String::new();
        let mut seen = Vec::new();
        loop {
            let (page, more) = keys("", &after, 2);
            seen.extend(page.clone());
            if !more {
                break;
            }
            after = page.last().unwrap().clone();
        }
        assert_eq!(seen, all);
        assert_eq!(keys("a/", "", 10).0, ["a/b", "a/c/d"]);
        assert_eq!(keys("p/", "p/1", 10).0, ["p/2"]);
        assert_eq!(keys("a", "a/b", 10).0, ["a/c/d", "a0"]);
    }
}

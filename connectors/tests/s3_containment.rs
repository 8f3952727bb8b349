//! The embedded S3 endpoint never reads or writes outside its folder: `..` segments, absolute keys,
//! percent-encoded separators and symbolic links leading out are refused, through the AWS SDK's S3
//! client, its requests signed, some with paths rewritten to what no SDK would send.

use std::net::SocketAddr;
use std::path::Path;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::ByteStream;
use legion_connectors::s3::LocalS3;

const SECRET: &str = "the secret outside the folder";

/// A sandbox: `outside/secret.txt`, `outside/dir/`, and `root/bucket` served by the endpoint, with
/// `root/bucket/link` → the secret file, `root/bucket/dirlink` → `outside/dir`, `root/bucket/ok`
/// → a file inside the bucket.
async fn sandbox() -> (tempfile::TempDir, LocalS3) {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).expect("outside");
    std::fs::write(outside.join("secret.txt"), SECRET).expect("secret");
    let bucket = dir.path().join("root/bucket");
    std::fs::create_dir_all(&bucket).expect("bucket");
    std::fs::write(bucket.join("inside.txt"), "inside").expect("inside");
    std::os::unix::fs::symlink(outside.join("secret.txt"), bucket.join("link")).expect("link");
    std::os::unix::fs::symlink(outside.join("dir"), bucket.join("dirlink")).expect("dirlink");
    std::os::unix::fs::symlink(bucket.join("inside.txt"), bucket.join("ok")).expect("ok");
    let server = LocalS3::start(&dir.path().join("root"), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("start");
    (dir, server)
}

/// Every file below `dir`, as paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let kind = entry.file_type().expect("type");
            if kind.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path().strip_prefix(dir).expect("below").display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn error_code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("none").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_cannot_reach_outside_the_folder() {
    let (dir, server) = sandbox().await;
    let client = server.connector().client().clone();
    let before = files(dir.path());

    for key in
        ["../../outside/secret.txt", "../root/bucket/inside.txt", "a/../../x", "./inside.txt", "link", "dirlink/x"]
    {
        let got = client.get_object().bucket("bucket").key(key).send().await;
        let e = got.expect_err(key).into_service_error();
        assert_eq!(error_code(&e), "AccessDenied", "GET {key}");
        let put = client.put_object().bucket("bucket").key(key).body(ByteStream::from_static(b"x")).send().await;
        let e = put.expect_err(key).into_service_error();
        assert_eq!(error_code(&e), "AccessDenied", "PUT {key}");
        let deleted = client.delete_object().bucket("bucket").key(key).send().await;
        assert!(deleted.is_err(), "DELETE {key}");
    }
    // A copy from or to a key outside is refused too.
    let copied = client.copy_object().bucket("bucket").key("copy").copy_source("bucket/link").send().await;
    assert_eq!(error_code(&copied.expect_err("copy").into_service_error()), "AccessDenied");
    let copied = client.copy_object().bucket("bucket").key("../escaped").copy_source("bucket/inside.txt").send().await;
    assert!(copied.is_err());
    // A multipart upload to a key outside never starts.
    let multipart = client.create_multipart_upload().bucket("bucket").key("dirlink/part").send().await;
    assert!(multipart.is_err());
    // A listing shows no link leading out, and does not descend into one.
    let listed = client.list_objects_v2().bucket("bucket").send().await.expect("list");
    let keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
    assert_eq!(keys, ["inside.txt", "ok"]);
    let listed = client.list_objects_v2().bucket("bucket").prefix("../").send().await;
    assert!(listed.is_err());

    // A link inside the folder is served; ordinary keys still work.
    let ok = client.get_object().bucket("bucket").key("ok").send().await.expect("a link inside");
    assert_eq!(ok.body.collect().await.expect("body").into_bytes().as_ref(), b"inside");
    client
        .put_object()
        .bucket("bucket")
        .key("new/deep/key.txt")
        .body(ByteStream::from_static(b"n"))
        .send()
        .await
        .expect("put");

    assert_eq!(std::fs::read_to_string(dir.path().join("outside/secret.txt")).expect("secret"), SECRET);
    let mut after = files(dir.path());
    after.retain(|f| !before.contains(f));
    // s3s-fs keeps each object's metadata in hidden files at the top of the folder.
    after.retain(|f| !(f.starts_with("root/.bucket-") && f.ends_with(".json")));
    assert_eq!(after, ["root/bucket/new/deep/key.txt"], "nothing was written outside the bucket");
}

/// Signs a request for the path `signed` (a key as the endpoint decodes it) and sends it with the
/// path `sent` (the same key percent-encoded in ways no SDK would send), so the signature holds and
/// the endpoint's own checks are what refuse it.
#[derive(Debug)]
struct RawPath {
    signed: &'static str,
    sent: &'static str,
}

fn with_path(context: &mut BeforeTransmitInterceptorContextMut<'_>, path: &str) -> Result<(), BoxError> {
    let request = context.request_mut();
    let uri = request.uri().to_owned();
    let scheme_end = uri.find("://").map_or(0, |i| i + 3);
    let host_end = uri[scheme_end..].find('/').map_or(uri.len(), |i| scheme_end + i);
    request.set_uri(format!("{}{path}", &uri[..host_end]))?;
    Ok(())
}

impl Intercept for RawPath {
    fn name(&self) -> &'static str {
        "RawPath"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        with_path(context, self.signed)
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        with_path(context, self.sent)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percent_encoded_and_absolute_paths_are_refused() {
    let (dir, server) = sandbox().await;
    let client = server.connector().client().clone();
    let before = files(dir.path());
    let secret = "/bucket/../../outside/secret.txt";
    for (sent, signed) in [
        ("/bucket/%2E%2E/%2E%2E/outside/secret.txt", secret),
        ("/bucket/..%2F..%2Foutside%2Fsecret.txt", secret),
        ("/bucket/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt", secret),
        ("/bucket/.%2E/.%2e/outside/secret.txt", secret),
        ("/bucket//etc/passwd", "/bucket//etc/passwd"),
        ("/bucket/%2Fetc%2Fpasswd", "/bucket//etc/passwd"),
        ("/bucket/dirlink%2Fx", "/bucket/dirlink/x"),
        ("/bucket/link", "/bucket/link"),
    ] {
        let path = RawPath { signed, sent };
        let got = client.get_object().bucket("bucket").key("x").customize().interceptor(path).send().await;
        let e = got.expect_err(sent).into_service_error();
        assert_eq!(error_code(&e), "AccessDenied", "GET {sent}: {e:?}");
        let put = client
            .put_object()
            .bucket("bucket")
            .key("x")
            .body(ByteStream::from_static(b"written"))
            .customize()
            .interceptor(RawPath { signed, sent })
            .send()
            .await;
        let e = put.expect_err(sent).into_service_error();
        assert_eq!(error_code(&e), "AccessDenied", "PUT {sent}: {e:?}");
    }
    // The same path rewriting reaches a real object, so the refusals above are the endpoint's.
    let got = client
        .get_object()
        .bucket("bucket")
        .key("x")
        .customize()
        .interceptor(RawPath { signed: "/bucket/inside.txt", sent: "/bucket/%69nside.txt" })
        .send()
        .await
        .expect("a percent-encoded key inside the bucket");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"inside");
    assert_eq!(std::fs::read_to_string(dir.path().join("outside/secret.txt")).expect("secret"), SECRET);
    assert_eq!(files(dir.path()), before, "nothing was written anywhere");
    assert!(std::fs::read_dir(dir.path().join("outside/dir")).expect("dir").next().is_none());
}

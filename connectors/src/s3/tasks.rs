//! The `arn:aws:states:::aws-sdk:s3:<action>` task integration for the common object and bucket
//! actions, answering with the response members AWS's integration returns (PascalCase).

use aws_sdk_s3::primitives::ByteStream;
use legion_engine::dispatch::BoxFuture;
use legion_engine::{TaskDispatcher, TaskError, TaskRequest};
use serde_json::{json, Map, Value};

use super::aws::{describe, AwsS3, LazyAwsS3, S3Failure};
use super::get_object;

/// The resource prefix this integration serves.
pub const RESOURCE_PREFIX: &str = "arn:aws:states:::aws-sdk:s3:";

/// S3 errors that the SDK models with their own exception class; others are `S3.S3Exception`.
const MODELED: [&str; 9] = [
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "InvalidObjectState",
    "ObjectAlreadyInActiveTierError",
    "ObjectNotInActiveTierError",
    "TooManyParts",
];

/// Runs `aws-sdk:s3` tasks through an [`AwsS3`] connector.
#[derive(Clone)]
pub struct S3Tasks {
    s3: Source,
}

#[derive(Clone)]
enum Source {
    Ready(AwsS3),
    Lazy(LazyAwsS3),
}

impl std::fmt::Debug for S3Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Tasks").finish_non_exhaustive()
    }
}

impl S3Tasks {
    /// Tasks carried out with `s3`'s client.
    pub fn new(s3: AwsS3) -> S3Tasks {
        S3Tasks { s3: Source::Ready(s3) }
    }

    /// Tasks carried out with a client built from the environment when the first one runs.
    pub fn lazy(s3: LazyAwsS3) -> S3Tasks {
        S3Tasks { s3: Source::Lazy(s3) }
    }

    async fn connector(&self) -> AwsS3 {
        match &self.s3 {
            Source::Ready(s3) => s3.clone(),
            Source::Lazy(lazy) => lazy.get().await,
        }
    }

    /// Whether `resource` is an S3 SDK integration.
    pub fn handles(resource: &str) -> bool {
        resource.starts_with(RESOURCE_PREFIX)
    }
}

/// The ASL error for an S3 failure: `S3.NoSuchBucketException`, `S3.S3Exception`…
pub fn error_name(failure: &S3Failure) -> String {
    match failure.code.as_deref() {
        Some(code) if MODELED.contains(&code) => {
            format!("S3.{}Exception", code.strip_suffix("Error").unwrap_or(code))
        }
        Some(_) => "S3.S3Exception".to_owned(),
        None => "S3.SdkClientException".to_owned(),
    }
}

fn task_error(failure: S3Failure) -> TaskError {
    TaskError::new(error_name(&failure), failure.cause())
}

fn param(input: &Value, name: &str) -> Option<String> {
    input.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn required(input: &Value, name: &str) -> Result<String, TaskError> {
    param(input, name).ok_or_else(|| {
        TaskError::new("S3.SdkClientException", format!("The parameter {name} is required (Service: S3)"))
    })
}

fn insert(out: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        out.insert(key.to_owned(), v.into());
    }
}

fn date(t: &aws_sdk_s3::primitives::DateTime) -> Value {
    t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).map(Value::String).unwrap_or(Value::Null)
}

impl S3Tasks {
    async fn run(&self, action: &str, input: Value) -> Result<Value, TaskError> {
        let s3 = self.connector().await;
        let c = s3.client();
        let mut out = Map::new();
        match action {
            "putObject" => {
                // The body is the parameter's JSON text (a string keeps its quotes).
                let body = input.get("Body").map(legion_engine::history::compact).unwrap_or_default();
                let r = c
                    .put_object()
                    .bucket(required(&input, "Bucket")?)
                    .key(required(&input, "Key")?)
                    .set_content_type(param(&input, "ContentType"))
                    .body(ByteStream::from(body.into_bytes()))
                    .send()
                    .await
                    .map_err(|e| task_error(describe(&e)))?;
                insert(&mut out, "ChecksumCRC32", r.checksum_crc32());
                insert(&mut out, "ChecksumCRC32C", r.checksum_crc32_c());
                insert(&mut out, "ChecksumSHA1", r.checksum_sha1());
                insert(&mut out, "ChecksumSHA256", r.checksum_sha256());
                insert(&mut out, "ChecksumType", r.checksum_type().map(|t| t.as_str()));
                insert(&mut out, "ETag", r.e_tag());
                insert(&mut out, "ServerSideEncryption", r.server_side_encryption().map(|t| t.as_str()));
                insert(&mut out, "VersionId", r.version_id());
            }
            "getObject" => {
                let request = c
                    .get_object()
                    .bucket(required(&input, "Bucket")?)
                    .key(required(&input, "Key")?)
                    .set_version_id(param(&input, "VersionId"));
                let r = get_object::with_options(request, &input).send().await.map_err(|e| task_error(describe(&e)))?;
                let mut members = get_object::members(&r);
                let bytes =
                    r.body.collect().await.map_err(|e| TaskError::new("S3.SdkClientException", e.to_string()))?;
                let body = Value::String(String::from_utf8_lossy(&bytes.into_bytes()).into_owned());
                members.push(("Body", Some(body)));
                out = get_object::render(members);
            }
            "headObject" => {
                let r = c
                    .head_object()
                    .bucket(required(&input, "Bucket")?)
                    .key(required(&input, "Key")?)
                    .send()
                    .await
                    .map_err(|e| task_error(describe(&e)))?;
                insert(&mut out, "ContentLength", r.content_length());
                insert(&mut out, "ContentType", r.content_type());
                insert(&mut out, "ETag", r.e_tag());
                insert(&mut out, "LastModified", r.last_modified().map(date));
            }
            "deleteObject" => {
                let r = c
                    .delete_object()
                    .bucket(required(&input, "Bucket")?)
                    .key(required(&input, "Key")?)
                    .send()
                    .await
                    .map_err(|e| task_error(describe(&e)))?;
                insert(&mut out, "DeleteMarker", r.delete_marker());
                insert(&mut out, "VersionId", r.version_id());
            }
            "createBucket" => {
                let r = c
                    .create_bucket()
                    .bucket(required(&input, "Bucket")?)
                    .send()
                    .await
                    .map_err(|e| task_error(describe(&e)))?;
                insert(&mut out, "Location", r.location());
            }
            "listBuckets" => {
                let r = c.list_buckets().send().await.map_err(|e| task_error(describe(&e)))?;
                let buckets: Vec<Value> = r
                    .buckets()
                    .iter()
                    .map(|b| json!({"CreationDate": b.creation_date().map(date), "Name": b.name()}))
                    .collect();
                out.insert("Buckets".into(), Value::Array(buckets));
            }
            "listObjects" | "listObjectsV2" => {
                let bucket = required(&input, "Bucket")?;
                let prefix = param(&input, "Prefix");
                let max_keys = input.get("MaxKeys").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok());
                let (contents, truncated) = if action == "listObjects" {
                    let r = c
                        .list_objects()
                        .bucket(&bucket)
                        .set_prefix(prefix.clone())
                        .set_marker(param(&input, "Marker"))
                        .set_max_keys(max_keys)
                        .send()
                        .await
                        .map_err(|e| task_error(describe(&e)))?;
                    insert(&mut out, "Marker", r.marker());
                    (r.contents().to_vec(), r.is_truncated())
                } else {
                    let r = c
                        .list_objects_v2()
                        .bucket(&bucket)
                        .set_prefix(prefix.clone())
                        .set_continuation_token(param(&input, "ContinuationToken"))
                        .set_max_keys(max_keys)
                        .send()
                        .await
                        .map_err(|e| task_error(describe(&e)))?;
                    insert(&mut out, "KeyCount", r.key_count());
                    insert(&mut out, "NextContinuationToken", r.next_continuation_token());
                    (r.contents().to_vec(), r.is_truncated())
                };
                let contents: Vec<Value> = contents
                    .iter()
                    .map(|o| {
                        json!({
                            "ETag": o.e_tag(),
                            "Key": o.key(),
                            "LastModified": o.last_modified().map(date),
                            "Size": o.size(),
                            "StorageClass": o.storage_class().map(|s| s.as_str()).unwrap_or("STANDARD"),
                        })
                    })
                    .collect();
                out.insert("Contents".into(), Value::Array(contents));
                insert(&mut out, "IsTruncated", truncated);
                insert(&mut out, "MaxKeys", Some(max_keys.unwrap_or(1000)));
                out.insert("Name".into(), Value::String(bucket));
                insert(&mut out, "Prefix", prefix);
            }
            other => {
                return Err(TaskError::new(
                    "States.Runtime",
                    format!("The S3 action '{other}' is not supported by this integration"),
                ))
            }
        }
        Ok(Value::Object(out))
    }
}

impl TaskDispatcher for S3Tasks {
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'static, Result<Value, TaskError>> {
        let this = self.clone();
        Box::pin(async move {
            let Some(action) = request.resource.strip_prefix(RESOURCE_PREFIX) else {
                return Err(TaskError::new(
                    "States.Runtime",
                    format!("The resource '{}' is not an S3 SDK integration", request.resource),
                ));
            };
            this.run(action, request.input).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: Option<&str>) -> S3Failure {
        S3Failure {
            code: code.map(str::to_owned),
            message: "The specified bucket does not exist".into(),
            status: Some(404),
            request_id: Some("R".into()),
            extended_request_id: Some("X".into()),
        }
    }

    #[test]
    fn error_names_and_causes() {
        assert_eq!(error_name(&failure(Some("NoSuchBucket"))), "S3.NoSuchBucketException");
        assert_eq!(error_name(&failure(Some("AccessDenied"))), "S3.S3Exception");
        assert_eq!(
            failure(None).cause(),
            "The specified bucket does not exist (Service: S3, Status Code: 404, Request ID: R, Extended Request ID: X)"
        );
    }
}

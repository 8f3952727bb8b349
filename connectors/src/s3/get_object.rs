//! `aws-sdk:s3:getObject`: every member of S3's GetObject response, as Step Functions renders an SDK
//! result (PascalCase member names in alphabetical order, timestamps as ISO-8601 strings, the body as
//! text), read from the response S3 actually sent.

use aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::ChecksumMode;
use serde_json::{Map, Value};

/// The request parameters passed through besides `Bucket`, `Key` and `VersionId`.
pub(super) fn with_options(request: GetObjectFluentBuilder, input: &Value) -> GetObjectFluentBuilder {
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::to_owned);
    request
        .set_range(text("Range"))
        .set_if_match(text("IfMatch"))
        .set_if_none_match(text("IfNoneMatch"))
        .set_part_number(input.get("PartNumber").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()))
        .set_checksum_mode(text("ChecksumMode").map(|m| ChecksumMode::from(m.as_str())))
        .set_response_content_type(text("ResponseContentType"))
}

fn date(t: &DateTime) -> Option<Value> {
    t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok().map(Value::String)
}

/// A member name with its value, when the response had it.
pub(super) type Member = (&'static str, Option<Value>);

/// The response's members, less the body; absent headers give absent members.
pub(super) fn members(r: &GetObjectOutput) -> Vec<Member> {
    vec![
        ("AcceptRanges", r.accept_ranges().map(Value::from)),
        ("BucketKeyEnabled", r.bucket_key_enabled().map(Value::from)),
        ("CacheControl", r.cache_control().map(Value::from)),
        ("ChecksumCRC32", r.checksum_crc32().map(Value::from)),
        ("ChecksumCRC32C", r.checksum_crc32_c().map(Value::from)),
        ("ChecksumCRC64NVME", r.checksum_crc64_nvme().map(Value::from)),
        ("ChecksumSHA1", r.checksum_sha1().map(Value::from)),
        ("ChecksumSHA256", r.checksum_sha256().map(Value::from)),
        ("ChecksumType", r.checksum_type().map(|t| Value::from(t.as_str()))),
        ("ContentDisposition", r.content_disposition().map(Value::from)),
        ("ContentEncoding", r.content_encoding().map(Value::from)),
        ("ContentLanguage", r.content_language().map(Value::from)),
        ("ContentLength", r.content_length().map(Value::from)),
        ("ContentRange", r.content_range().map(Value::from)),
        ("ContentType", r.content_type().map(Value::from)),
        ("DeleteMarker", r.delete_marker().map(Value::from)),
        ("ETag", r.e_tag().map(Value::from)),
        ("Expiration", r.expiration().map(Value::from)),
        ("Expires", r.expires_string().map(Value::from)),
        ("LastModified", r.last_modified().and_then(date)),
        ("Metadata", Some(metadata(r))),
        ("MissingMeta", r.missing_meta().map(Value::from)),
        ("ObjectLockLegalHoldStatus", r.object_lock_legal_hold_status().map(|s| Value::from(s.as_str()))),
        ("ObjectLockMode", r.object_lock_mode().map(|s| Value::from(s.as_str()))),
        ("ObjectLockRetainUntilDate", r.object_lock_retain_until_date().and_then(date)),
        ("PartsCount", r.parts_count().map(Value::from)),
        ("ReplicationStatus", r.replication_status().map(|s| Value::from(s.as_str()))),
        ("RequestCharged", r.request_charged().map(|s| Value::from(s.as_str()))),
        ("Restore", r.restore().map(Value::from)),
        ("SSECustomerAlgorithm", r.sse_customer_algorithm().map(Value::from)),
        ("SSECustomerKeyMD5", r.sse_customer_key_md5().map(Value::from)),
        ("SSEKMSKeyId", r.ssekms_key_id().map(Value::from)),
        ("ServerSideEncryption", r.server_side_encryption().map(|s| Value::from(s.as_str()))),
        ("StorageClass", r.storage_class().map(|s| Value::from(s.as_str()))),
        ("TagCount", r.tag_count().map(Value::from)),
        ("VersionId", r.version_id().map(Value::from)),
        ("WebsiteRedirectLocation", r.website_redirect_location().map(Value::from)),
    ]
}

/// The present members as an object, in alphabetical order (as Step Functions orders an SDK result).
pub(super) fn render(mut members: Vec<Member>) -> Map<String, Value> {
    members.sort_by(|a, b| a.0.cmp(b.0));
    members.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))).collect()
}

/// `x-amz-meta-*` headers as an object sorted by name. S3 always answers with the (possibly empty)
/// map, as the SDKs show it; that Step Functions keeps an empty `Metadata: {}` is assumed, not
/// confirmed by a recording.
fn metadata(r: &GetObjectOutput) -> Value {
    let mut pairs: Vec<(&String, &String)> = r.metadata().map(|m| m.iter().collect()).unwrap_or_default();
    pairs.sort();
    Value::Object(pairs.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

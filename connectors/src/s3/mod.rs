//! S3 for Distributed Map: item readers (listObjectsV2, getObject as CSV, JSON, JSONL or an S3
//! Inventory manifest), result writers (putObject, multipart for large files), the `aws-sdk:s3`
//! task integration, and an embedded S3-compatible endpoint over a local folder.

mod aws;
mod get_object;
pub use legion_engine::item_formats as formats;
pub use legion_engine::item_formats::csv;
mod local;
mod tasks;

pub use aws::{describe, AwsS3, LazyAwsS3, S3Failure, ENDPOINT_VARIABLES, RESUMES};
pub use local::{LocalS3, LocalS3Error, ACCESS_KEY, SECRET_KEY};
pub use tasks::{error_name, S3Tasks, RESOURCE_PREFIX};

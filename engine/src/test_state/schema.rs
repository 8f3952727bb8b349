//! Output shapes of common service integrations, for checking TestState mock results.
//!
//! TestState checks a mocked `result` against the API's output shape (`fieldValidationMode`: STRICT
//! also requires the required members, PRESENT checks only the members given, NONE checks nothing).
//! The shapes below are transcribed from the AWS service models (member names as Step Functions shows
//! them, PascalCase) for the integrations most often mocked; a resource without a shape here is not
//! checked.

/// An API shape.
#[derive(Debug)]
pub(crate) enum Shape {
    /// An object with known members; unknown members are allowed.
    Structure {
        /// `(member, shape)` pairs.
        members: &'static [(&'static str, &'static Shape)],
        /// Members STRICT mode requires.
        required: &'static [&'static str],
    },
    /// An array of one shape.
    List(&'static Shape),
    /// An object whose values have one shape.
    Map(&'static Shape),
    /// A string, optionally from an enumeration and with length bounds.
    String { enumeration: &'static [&'static str], min: Option<usize>, max: Option<usize> },
    /// An integer or long, with optional bounds.
    Integer { min: Option<i64>, max: Option<i64> },
    /// A float or double.
    Double,
    /// A boolean.
    Boolean,
    /// A timestamp (a string in Step Functions' rendering).
    Timestamp,
    /// A blob (a base64 string), with length bounds.
    Blob { min: Option<usize>, max: Option<usize> },
    /// Anything (payloads that Step Functions passes on as JSON).
    Any,
}

/// How strictly a mock result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// Types, values and required members.
    Strict,
    /// Types and values of the members present.
    Present,
}

static STRING: Shape = Shape::String { enumeration: &[], min: None, max: None };
static INTEGER: Shape = Shape::Integer { min: None, max: None };
static DOUBLE: Shape = Shape::Double;
static BOOLEAN: Shape = Shape::Boolean;
static TIMESTAMP: Shape = Shape::Timestamp;
static ANY: Shape = Shape::Any;
static STRING_MAP: Shape = Shape::Map(&STRING);
static STRING_LIST: Shape = Shape::List(&STRING);

// Lambda Invoke (`arn:aws:states:::lambda:invoke`).
static LAMBDA_INVOKE: Shape = Shape::Structure {
    members: &[
        ("StatusCode", &INTEGER),
        ("FunctionError", &STRING),
        ("LogResult", &STRING),
        ("Payload", &ANY),
        ("ExecutedVersion", &Shape::String { enumeration: &[], min: Some(1), max: Some(1024) }),
    ],
    required: &[],
};

// Step Functions StartExecution (`arn:aws:states:::states:startExecution`).
static SFN_START_EXECUTION: Shape = Shape::Structure {
    members: &[
        ("ExecutionArn", &Shape::String { enumeration: &[], min: Some(1), max: Some(256) }),
        ("StartDate", &TIMESTAMP),
    ],
    required: &["ExecutionArn", "StartDate"],
};

// EventBridge PutEvents (`arn:aws:states:::events:putEvents`).
static PUT_EVENTS_ENTRY: Shape = Shape::Structure {
    members: &[("EventId", &STRING), ("ErrorCode", &STRING), ("ErrorMessage", &STRING)],
    required: &[],
};
static PUT_EVENTS: Shape = Shape::Structure {
    members: &[("FailedEntryCount", &INTEGER), ("Entries", &Shape::List(&PUT_EVENTS_ENTRY))],
    required: &[],
};

// DynamoDB item operations.
static DDB_ATTRIBUTES: Shape = Shape::Map(&ANY);
static DDB_CAPACITY: Shape = Shape::Structure {
    members: &[("ReadCapacityUnits", &DOUBLE), ("WriteCapacityUnits", &DOUBLE), ("CapacityUnits", &DOUBLE)],
    required: &[],
};
static DDB_CONSUMED_CAPACITY: Shape = Shape::Structure {
    members: &[
        ("TableName", &Shape::String { enumeration: &[], min: Some(1), max: Some(1024) }),
        ("CapacityUnits", &DOUBLE),
        ("ReadCapacityUnits", &DOUBLE),
        ("WriteCapacityUnits", &DOUBLE),
        ("Table", &DDB_CAPACITY),
        ("LocalSecondaryIndexes", &Shape::Map(&DDB_CAPACITY)),
        ("GlobalSecondaryIndexes", &Shape::Map(&DDB_CAPACITY)),
    ],
    required: &[],
};
static DDB_ITEM_COLLECTION_METRICS: Shape = Shape::Structure {
    members: &[("ItemCollectionKey", &DDB_ATTRIBUTES), ("SizeEstimateRangeGB", &Shape::List(&DOUBLE))],
    required: &[],
};
static DDB_WRITE_ITEM: Shape = Shape::Structure {
    members: &[
        ("Attributes", &DDB_ATTRIBUTES),
        ("ConsumedCapacity", &DDB_CONSUMED_CAPACITY),
        ("ItemCollectionMetrics", &DDB_ITEM_COLLECTION_METRICS),
    ],
    required: &[],
};
static DDB_GET_ITEM: Shape = Shape::Structure {
    members: &[("Item", &DDB_ATTRIBUTES), ("ConsumedCapacity", &DDB_CONSUMED_CAPACITY)],
    required: &[],
};

// SQS SendMessage and SNS Publish.
static SQS_SEND_MESSAGE: Shape = Shape::Structure {
    members: &[
        ("MD5OfMessageBody", &STRING),
        ("MD5OfMessageAttributes", &STRING),
        ("MD5OfMessageSystemAttributes", &STRING),
        ("MessageId", &STRING),
        ("SequenceNumber", &STRING),
    ],
    required: &[],
};
static SNS_PUBLISH: Shape =
    Shape::Structure { members: &[("MessageId", &STRING), ("SequenceNumber", &STRING)], required: &[] };

// S3 GetObject (`arn:aws:states:::aws-sdk:s3:getObject`).
static S3_GET_OBJECT: Shape = Shape::Structure {
    members: &[
        ("Body", &ANY),
        ("DeleteMarker", &BOOLEAN),
        ("AcceptRanges", &STRING),
        ("Expiration", &STRING),
        ("Restore", &STRING),
        ("LastModified", &TIMESTAMP),
        ("ContentLength", &INTEGER),
        ("ETag", &STRING),
        ("ChecksumCRC32", &STRING),
        ("ChecksumCRC32C", &STRING),
        ("ChecksumSHA1", &STRING),
        ("ChecksumSHA256", &STRING),
        ("ChecksumCRC64NVME", &STRING),
        ("ChecksumType", &Shape::String { enumeration: &["COMPOSITE", "FULL_OBJECT"], min: None, max: None }),
        ("MissingMeta", &INTEGER),
        ("VersionId", &STRING),
        ("CacheControl", &STRING),
        ("ContentDisposition", &STRING),
        ("ContentEncoding", &STRING),
        ("ContentLanguage", &STRING),
        ("ContentRange", &STRING),
        ("ContentType", &STRING),
        ("Expires", &TIMESTAMP),
        ("WebsiteRedirectLocation", &STRING),
        (
            "ServerSideEncryption",
            &Shape::String { enumeration: &["AES256", "aws:kms", "aws:kms:dsse"], min: None, max: None },
        ),
        ("Metadata", &STRING_MAP),
        ("SSECustomerAlgorithm", &STRING),
        ("SSECustomerKeyMD5", &STRING),
        ("SSEKMSKeyId", &STRING),
        ("BucketKeyEnabled", &BOOLEAN),
        (
            "StorageClass",
            &Shape::String {
                enumeration: &[
                    "STANDARD",
                    "REDUCED_REDUNDANCY",
                    "STANDARD_IA",
                    "ONEZONE_IA",
                    "INTELLIGENT_TIERING",
                    "GLACIER",
                    "DEEP_ARCHIVE",
                    "OUTPOSTS",
                    "GLACIER_IR",
                    "SNOW",
                    "EXPRESS_ONEZONE",
                    "FSX_OPENZFS",
                ],
                min: None,
                max: None,
            },
        ),
        ("RequestCharged", &Shape::String { enumeration: &["requester"], min: None, max: None }),
        (
            "ReplicationStatus",
            &Shape::String {
                enumeration: &["COMPLETE", "PENDING", "FAILED", "REPLICA", "COMPLETED"],
                min: None,
                max: None,
            },
        ),
        ("PartsCount", &INTEGER),
        ("TagCount", &INTEGER),
        ("ObjectLockMode", &Shape::String { enumeration: &["GOVERNANCE", "COMPLIANCE"], min: None, max: None }),
        ("ObjectLockRetainUntilDate", &TIMESTAMP),
        ("ObjectLockLegalHoldStatus", &Shape::String { enumeration: &["ON", "OFF"], min: None, max: None }),
    ],
    required: &[],
};

// KMS Encrypt (`arn:aws:states:::aws-sdk:kms:encrypt`).
static KMS_ENCRYPT: Shape = Shape::Structure {
    members: &[
        ("CiphertextBlob", &Shape::Blob { min: Some(1), max: Some(6144) }),
        ("KeyId", &Shape::String { enumeration: &[], min: Some(1), max: Some(2048) }),
        (
            "EncryptionAlgorithm",
            &Shape::String {
                enumeration: &["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"],
                min: None,
                max: None,
            },
        ),
    ],
    required: &[],
};

// Lambda GetFunction (`arn:aws:states:::aws-sdk:lambda:getFunction`).
static LAMBDA_FUNCTION_CONFIGURATION: Shape = Shape::Structure {
    members: &[
        ("FunctionName", &Shape::String { enumeration: &[], min: Some(1), max: Some(170) }),
        ("FunctionArn", &STRING),
        ("Runtime", &STRING),
        ("Role", &STRING),
        ("Handler", &Shape::String { enumeration: &[], min: None, max: Some(128) }),
        ("CodeSize", &INTEGER),
        ("Description", &Shape::String { enumeration: &[], min: Some(0), max: Some(256) }),
        ("Timeout", &Shape::Integer { min: Some(1), max: None }),
        ("MemorySize", &Shape::Integer { min: Some(128), max: Some(10240) }),
        ("LastModified", &STRING),
        ("CodeSha256", &STRING),
        ("Version", &Shape::String { enumeration: &[], min: Some(1), max: Some(1024) }),
        ("Environment", &ANY),
        ("Layers", &ANY),
        ("State", &Shape::String { enumeration: &["Pending", "Active", "Inactive", "Failed"], min: None, max: None }),
        ("PackageType", &Shape::String { enumeration: &["Zip", "Image"], min: None, max: None }),
        ("Architectures", &STRING_LIST),
    ],
    required: &[],
};
static LAMBDA_GET_FUNCTION: Shape = Shape::Structure {
    members: &[
        ("Configuration", &LAMBDA_FUNCTION_CONFIGURATION),
        ("Code", &ANY),
        ("Tags", &STRING_MAP),
        (
            "Concurrency",
            &Shape::Structure {
                members: &[("ReservedConcurrentExecutions", &Shape::Integer { min: Some(0), max: None })],
                required: &[],
            },
        ),
    ],
    required: &[],
};

/// The output shape of a Task resource, when known. Only request-response integrations are checked.
pub(crate) fn output_shape(resource: &str) -> Option<&'static Shape> {
    let rest = resource.strip_prefix("arn:aws:states:::")?;
    Some(match rest {
        "lambda:invoke" => &LAMBDA_INVOKE,
        "states:startExecution" => &SFN_START_EXECUTION,
        "events:putEvents" => &PUT_EVENTS,
        "dynamodb:putItem" | "dynamodb:updateItem" | "dynamodb:deleteItem" => &DDB_WRITE_ITEM,
        "dynamodb:getItem" => &DDB_GET_ITEM,
        "sqs:sendMessage" | "aws-sdk:sqs:sendMessage" => &SQS_SEND_MESSAGE,
        "sns:publish" | "aws-sdk:sns:publish" => &SNS_PUBLISH,
        "aws-sdk:s3:getObject" => &S3_GET_OBJECT,
        "aws-sdk:kms:encrypt" => &KMS_ENCRYPT,
        "aws-sdk:lambda:getFunction" => &LAMBDA_GET_FUNCTION,
        "aws-sdk:dynamodb:putItem" | "aws-sdk:dynamodb:updateItem" | "aws-sdk:dynamodb:deleteItem" => &DDB_WRITE_ITEM,
        "aws-sdk:dynamodb:getItem" => &DDB_GET_ITEM,
        _ => return None,
    })
}

/// Checks `value` (the member `field`) against `shape`; the error is AWS's wording after
/// `Mock result schema validation error: `.
pub(crate) fn check(shape: &Shape, value: &serde_json::Value, field: &str, mode: Strictness) -> Result<(), String> {
    use serde_json::Value;
    let wrong = |what: &str| Err(format!("Field '{field}' must be {what}"));
    match shape {
        Shape::Any => Ok(()),
        Shape::Structure { members, required } => {
            let Value::Object(object) = value else { return wrong("an object") };
            for (name, member_value) in object {
                if let Some((_, member_shape)) = members.iter().find(|(m, _)| m == name) {
                    check(member_shape, member_value, name, mode)?;
                }
            }
            if mode == Strictness::Strict {
                if let Some(missing) = required.iter().find(|r| !object.contains_key(**r)) {
                    return Err(format!("Required field '{missing}' is missing"));
                }
            }
            Ok(())
        }
        Shape::List(item) => {
            let Value::Array(items) = value else { return wrong("an array") };
            items.iter().try_for_each(|v| check(item, v, field, mode))
        }
        Shape::Map(item) => {
            let Value::Object(object) = value else { return wrong("an object") };
            object.values().try_for_each(|v| check(item, v, field, mode))
        }
        Shape::String { enumeration, min, max } => {
            let Value::String(s) = value else { return wrong("a string") };
            if !enumeration.is_empty() && !enumeration.contains(&s.as_str()) {
                return Err(format!("Field '{field}' is not an expected value"));
            }
            check_length(field, s.chars().count(), *min, *max)
        }
        Shape::Blob { min, max } => {
            let Value::String(s) = value else { return wrong("a string") };
            check_length(field, s.len(), *min, *max)
        }
        Shape::Timestamp => match value {
            Value::String(_) => Ok(()),
            _ => wrong("a string"),
        },
        Shape::Boolean => match value {
            Value::Bool(_) => Ok(()),
            _ => wrong("a boolean"),
        },
        Shape::Double => match value {
            Value::Number(_) => Ok(()),
            _ => wrong("a number"),
        },
        Shape::Integer { min, max } => {
            let Value::Number(n) = value else { return wrong("a number") };
            let Some(n) = n.as_i64() else { return wrong("an integer") };
            if min.is_some_and(|m| n < m) {
                return Err(format!("Field '{field}' is less than the minimum value"));
            }
            if max.is_some_and(|m| n > m) {
                return Err(format!("Field '{field}' exceeds the maximum value"));
            }
            Ok(())
        }
    }
}

fn check_length(field: &str, len: usize, min: Option<usize>, max: Option<usize>) -> Result<(), String> {
    if min.is_some_and(|m| len < m) {
        return Err(format!("Field '{field}' is smaller than the minimum length"));
    }
    if max.is_some_and(|m| len > m) {
        return Err(format!("Field '{field}' exceeds the maximum length"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strict(resource: &str, v: serde_json::Value) -> Result<(), String> {
        check(output_shape(resource).expect("known shape"), &v, "", Strictness::Strict)
    }

    #[test]
    fn types_values_and_required_members_are_checked() {
        let sfn = "arn:aws:states:::states:startExecution";
        assert_eq!(strict(sfn, json!({})), Err("Required field 'ExecutionArn' is missing".into()));
        assert_eq!(
            strict(sfn, json!({"ExecutionArn": "a", "StartDate": 1})),
            Err("Field 'StartDate' must be a string".into())
        );
        assert_eq!(strict(sfn, json!({"ExecutionArn": "a", "StartDate": "d", "extra": 1})), Ok(()));
        let events = "arn:aws:states:::events:putEvents";
        assert_eq!(
            strict(events, json!({"Entries": [{"EventId": "x"}, {"EventId": []}]})),
            Err("Field 'EventId' must be a string".into())
        );
        assert_eq!(strict(events, json!({"Entries": "x"})), Err("Field 'Entries' must be an array".into()));
        assert_eq!(
            strict("arn:aws:states:::aws-sdk:s3:getObject", json!({"StorageClass": "Papyrus"})),
            Err("Field 'StorageClass' is not an expected value".into())
        );
        assert_eq!(
            strict("arn:aws:states:::aws-sdk:lambda:getFunction", json!({"Configuration": {"MemorySize": 127}})),
            Err("Field 'MemorySize' is less than the minimum value".into())
        );
    }

    #[test]
    fn present_mode_skips_required_members() {
        let shape = output_shape("arn:aws:states:::states:startExecution").expect("known");
        assert_eq!(check(shape, &json!({}), "", Strictness::Present), Ok(()));
        assert!(output_shape("arn:aws:states:::lambda:invoke.waitForTaskToken").is_none());
    }
}

//! Step Functions' naming rules for AWS SDK integrations: PascalCase parameters and results, and
//! error names `<Prefix>.<Exception>`.
//!
//! `aws-sdk:` integrations report errors as the AWS SDK for Java 2.x names them: the client's name
//! (`Sqs`, `DynamoDb`, `SecretsManager`, `Sfn`) as the prefix, the exception class (the model's shape
//! name, with `Exception` appended when it does not end so) or `<Prefix>Exception` for errors the
//! model does not declare, and a cause `<message> (Service: <Prefix>, Status Code: <n>, Request ID:
//! <id>)`. The optimized integrations (`sqs:sendMessage`…) report them as the 1.x SDK does
//! (`SQS.AmazonSQSException`, cause `… (Service: AmazonSQS; Status Code: 400; Error Code: …; Request
//! ID: …; Proxy: null)`), as the recorded AWS behaviours show.

/// `putItem` → `PutItem`; `MessageId` stays.
pub fn pascal(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The AWS SDK for Java 2.x client name of a service id: `SQS` → `Sqs`, `DynamoDB` → `DynamoDb`,
/// `Secrets Manager` → `SecretsManager`, `SFN` → `Sfn`, `EventBridge` stays.
pub fn sdk_v2_prefix(service_id: &str) -> String {
    let mut out = String::new();
    for word in service_id.split([' ', '-', '_']).filter(|w| !w.is_empty()) {
        for segment in segments(word) {
            let mut c = segment.chars();
            if let Some(first) = c.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(c.map(|c| c.to_ascii_lowercase()));
            }
        }
    }
    out
}

/// Splits `DynamoDB` into `Dynamo`, `DB`; `SQSQueue` into `SQS`, `Queue`; `S3` stays whole.
fn segments(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let upper = |j: usize| chars.get(j).is_some_and(|c| c.is_ascii_uppercase());
        let lower = |j: usize| chars.get(j).is_some_and(|c| !c.is_ascii_uppercase());
        if upper(i) && lower(i + 1) || !upper(i) {
            // A capitalised word (or a lower-case run).
            i += 1;
            while lower(i) {
                i += 1;
            }
        } else {
            // An acronym: capitals up to the one that starts a capitalised word; digits stay with it.
            while upper(i) && !(upper(i) && chars.get(i + 1).is_some_and(|c| c.is_ascii_lowercase()) && i > start) {
                i += 1;
            }
            while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

/// The Java exception class of a modeled error shape: `QueueDoesNotExist` → `QueueDoesNotExistException`.
pub fn exception_class(shape: &str) -> String {
    if shape.ends_with("Exception") {
        shape.to_owned()
    } else {
        format!("{shape}Exception")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_follow_the_java_sdk() {
        assert_eq!(sdk_v2_prefix("SQS"), "Sqs");
        assert_eq!(sdk_v2_prefix("SFN"), "Sfn");
        assert_eq!(sdk_v2_prefix("DynamoDB"), "DynamoDb");
        assert_eq!(sdk_v2_prefix("Secrets Manager"), "SecretsManager");
        assert_eq!(sdk_v2_prefix("EventBridge"), "EventBridge");
        assert_eq!(sdk_v2_prefix("S3"), "S3");
        assert_eq!(pascal("putItem"), "PutItem");
        assert_eq!(exception_class("QueueDoesNotExist"), "QueueDoesNotExistException");
    }
}

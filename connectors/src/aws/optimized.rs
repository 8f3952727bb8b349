//! The optimized integrations that go to other AWS services: `sqs:sendMessage`, `sns:publish`,
//! `dynamodb:getItem|putItem|updateItem|deleteItem` and `events:putEvents` (each also with
//! `.waitForTaskToken` where AWS offers it).
//!
//! Their parameters are the service's own, with one convenience AWS adds: a message body, message or
//! event detail given as JSON is sent as its JSON text. Results carry `SdkHttpMetadata` and
//! `SdkResponseMetadata` (except `events:putEvents`, whose result AWS gives bare), and errors are
//! named as the AWS SDK for Java 1.x names them (`SQS.QueueDoesNotExistException`,
//! `DynamoDB.ConditionalCheckFailedException`, `SQS.AmazonSQSException` for undeclared ones). A
//! `putEvents` call with failed entries fails with `EventBridge.FailedEntry`, its cause the result.

use legion_engine::TaskError;
use serde_json::{json, Map, Value};

use super::client::{Answer, AwsClient, CallError};
use super::model;
use super::names::exception_class;

/// An optimized integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimized {
    /// `arn:aws:states:::sqs:sendMessage`.
    SqsSendMessage,
    /// `arn:aws:states:::sns:publish`.
    SnsPublish,
    /// `arn:aws:states:::dynamodb:<op>`.
    DynamoDb(DynamoDbOp),
    /// `arn:aws:states:::events:putEvents`.
    EventsPutEvents,
}

/// The DynamoDB item operations Step Functions optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamoDbOp {
    /// GetItem.
    GetItem,
    /// PutItem.
    PutItem,
    /// UpdateItem.
    UpdateItem,
    /// DeleteItem.
    DeleteItem,
}

/// How an SDK for Java 1.x client names itself in errors.
struct V1 {
    /// The model (Step Functions' service name).
    service: &'static str,
    /// The error prefix (`SQS`).
    prefix: &'static str,
    /// The client's service name in causes (`AmazonSQS`).
    client: &'static str,
    /// The exception for undeclared errors (`AmazonSQSException`).
    generic: &'static str,
}

impl Optimized {
    /// The integration a resource names (`.waitForTaskToken` allowed where AWS allows it).
    pub fn parse(resource: &str) -> Option<Optimized> {
        let rest = resource.strip_prefix("arn:aws:states:::")?;
        let (base, wait) = match rest.strip_suffix(".waitForTaskToken") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let found = match base {
            "sqs:sendMessage" => Optimized::SqsSendMessage,
            "sns:publish" => Optimized::SnsPublish,
            "events:putEvents" => Optimized::EventsPutEvents,
            "dynamodb:getItem" => Optimized::DynamoDb(DynamoDbOp::GetItem),
            "dynamodb:putItem" => Optimized::DynamoDb(DynamoDbOp::PutItem),
            "dynamodb:updateItem" => Optimized::DynamoDb(DynamoDbOp::UpdateItem),
            "dynamodb:deleteItem" => Optimized::DynamoDb(DynamoDbOp::DeleteItem),
            _ => return None,
        };
        // DynamoDB's item operations have no callback form.
        (!wait || !matches!(found, Optimized::DynamoDb(_))).then_some(found)
    }

    /// The operation, and the limit target (`sqs:SendMessage`).
    pub fn operation(self) -> &'static str {
        match self {
            Optimized::SqsSendMessage => "SendMessage",
            Optimized::SnsPublish => "Publish",
            Optimized::EventsPutEvents => "PutEvents",
            Optimized::DynamoDb(DynamoDbOp::GetItem) => "GetItem",
            Optimized::DynamoDb(DynamoDbOp::PutItem) => "PutItem",
            Optimized::DynamoDb(DynamoDbOp::UpdateItem) => "UpdateItem",
            Optimized::DynamoDb(DynamoDbOp::DeleteItem) => "DeleteItem",
        }
    }

    /// The service Step Functions names (`sqs`, `sns`, `dynamodb`, `eventbridge`).
    pub fn service(self) -> &'static str {
        self.v1().service
    }

    fn v1(self) -> V1 {
        // The client names are those of the AWS SDK for Java 1.x, which the recorded SQS and DynamoDB
        // errors show; SNS's and EventBridge's follow the same pattern (not confirmed by a recording).
        match self {
            Optimized::SqsSendMessage => {
                V1 { service: "sqs", prefix: "SQS", client: "AmazonSQS", generic: "AmazonSQSException" }
            }
            Optimized::SnsPublish => {
                V1 { service: "sns", prefix: "SNS", client: "AmazonSNS", generic: "AmazonSNSException" }
            }
            Optimized::DynamoDb(_) => V1 {
                service: "dynamodb",
                prefix: "DynamoDB",
                client: "AmazonDynamoDBv2",
                generic: "AmazonDynamoDBException",
            },
            Optimized::EventsPutEvents => V1 {
                service: "eventbridge",
                prefix: "EventBridge",
                client: "AmazonEventBridge",
                generic: "AmazonEventBridgeException",
            },
        }
    }

    /// Carries out the integration, as the task's role when its `Credentials` name one.
    pub async fn call(self, client: &AwsClient, params: &Value, role_arn: Option<&str>) -> Result<Value, TaskError> {
        let v1 = self.v1();
        let model = model::model(v1.service)
            .ok_or_else(|| TaskError::new("States.Runtime", format!("the {} model is missing", v1.service)))?;
        let params = self.prepare(params);
        let credentials = match role_arn {
            Some(role) => {
                client.role_credentials(v1.service, model, role).await.map_err(|e| super::assume_error(role, e))?
            }
            None => None,
        };
        let answer = client
            .call_with(v1.service, model, self.operation(), &params, credentials)
            .await
            .map_err(|e| v1_error(&v1, e))?;
        match self {
            Optimized::EventsPutEvents => {
                let failed = answer.result.get("FailedEntryCount").and_then(Value::as_u64).unwrap_or(0);
                if failed > 0 {
                    return Err(TaskError::new("EventBridge.FailedEntry", answer.result.to_string()));
                }
                Ok(answer.result)
            }
            _ => Ok(with_metadata(answer)),
        }
    }

    /// AWS's convenience: JSON given where the service takes text is sent as its JSON text.
    fn prepare(self, params: &Value) -> Value {
        let mut params = params.clone();
        match self {
            Optimized::SqsSendMessage => stringify(&mut params, "MessageBody"),
            Optimized::SnsPublish => stringify(&mut params, "Message"),
            Optimized::EventsPutEvents => {
                if let Some(Value::Array(entries)) = params.get_mut("Entries") {
                    entries.iter_mut().for_each(|e| stringify(e, "Detail"));
                }
            }
            Optimized::DynamoDb(_) => {}
        }
        params
    }
}

fn stringify(object: &mut Value, key: &str) {
    if let Some(v) = object.get_mut(key) {
        if !v.is_string() && !v.is_null() {
            *v = Value::String(v.to_string());
        }
    }
}

/// The result with `SdkHttpMetadata` (the response's headers and status) and `SdkResponseMetadata`.
fn with_metadata(answer: Answer) -> Value {
    let mut out = match answer.result {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("Result".into(), other);
            m
        }
    };
    out.insert("SdkHttpMetadata".into(), crate::lambda::sdk_http_metadata(answer.status, &answer.headers));
    out.insert("SdkResponseMetadata".into(), json!({"RequestId": answer.request_id}));
    Value::Object(out)
}

fn v1_error(v1: &V1, error: CallError) -> TaskError {
    match error {
        CallError::Service { status, code, modeled, message, request_id } => {
            let class = modeled.map(|s| exception_class(&s)).unwrap_or_else(|| v1.generic.to_owned());
            TaskError::new(
                format!("{}.{class}", v1.prefix),
                format!(
                    "{message} (Service: {}; Status Code: {status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)",
                    v1.client
                ),
            )
        }
        CallError::Parameters(e) => TaskError::new("States.Runtime", e.0),
        CallError::Unsupported(m) => TaskError::new("States.Runtime", m),
        CallError::Client(m) => TaskError::new(format!("{}.SdkClientException", v1.prefix), m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_integrations() {
        assert_eq!(
            Optimized::parse("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            Some(Optimized::SqsSendMessage)
        );
        assert_eq!(
            Optimized::parse("arn:aws:states:::dynamodb:putItem"),
            Some(Optimized::DynamoDb(DynamoDbOp::PutItem))
        );
        assert_eq!(Optimized::parse("arn:aws:states:::dynamodb:putItem.waitForTaskToken"), None);
        assert_eq!(Optimized::parse("arn:aws:states:::sqs:receiveMessage"), None);
    }

    #[test]
    fn json_bodies_become_text() {
        let p = Optimized::SqsSendMessage.prepare(&json!({"QueueUrl": "q", "MessageBody": {"a": 1}}));
        assert_eq!(p["MessageBody"], json!("{\"a\":1}"));
        let p = Optimized::EventsPutEvents.prepare(&json!({"Entries": [{"Detail": {"a": 1}}, {"Detail": "x"}]}));
        assert_eq!(p["Entries"], json!([{"Detail": "{\"a\":1}"}, {"Detail": "x"}]));
    }

    #[test]
    fn errors_take_the_java_1_names() {
        let v1 = Optimized::SqsSendMessage.v1();
        let e = v1_error(
            &v1,
            CallError::Service {
                status: 400,
                code: "MissingParameter".into(),
                modeled: None,
                message: "The request must contain the parameter MessageBody.".into(),
                request_id: "R".into(),
            },
        );
        assert_eq!(e.error, "SQS.AmazonSQSException");
        assert_eq!(
            e.cause.as_deref(),
            Some("The request must contain the parameter MessageBody. (Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter; Request ID: R; Proxy: null)")
        );
    }
}

//! AWS service models: the JSON models AWS publishes for its SDKs (from the `botocore` package,
//! Apache-2.0, trimmed by `connectors/models/trim.py` to what the protocol client reads).
//!
//! A model says how to reach a service (protocol, target prefix, endpoint prefix, signing name) and
//! the shape of every operation's input, output and errors, which is what turns Step Functions'
//! PascalCase parameters into a request and a response back into a result.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The wire protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// AWS JSON 1.0 / 1.1: `POST /`, `X-Amz-Target`, a JSON body.
    #[serde(rename = "json")]
    Json,
    /// AWS Query: a form-encoded body with `Action` and `Version`, an XML answer.
    #[serde(rename = "query")]
    Query,
    /// REST-JSON: the operation's method and path, members in the path, query and headers, the rest
    /// (or the payload member) as the body.
    #[serde(rename = "rest-json")]
    RestJson,
    /// REST-XML (not carried out yet).
    #[serde(rename = "rest-xml")]
    RestXml,
    /// EC2's query dialect (not carried out yet).
    #[serde(rename = "ec2")]
    Ec2,
}

/// What the client needs to know about a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The API version (`Version` of Query requests).
    pub api_version: String,
    /// The first label of the service's AWS host name.
    pub endpoint_prefix: String,
    /// The host of a global service (`iam.amazonaws.com`), which has no regional endpoints.
    #[serde(default)]
    pub global_endpoint: Option<String>,
    /// `1.0` or `1.1` for AWS JSON.
    #[serde(default)]
    pub json_version: Option<String>,
    /// The wire protocol.
    pub protocol: Protocol,
    /// The service id (`SQS`, `DynamoDB`, `Secrets Manager`…).
    pub service_id: String,
    /// The SigV4 service name, when not the endpoint prefix.
    #[serde(default)]
    pub signing_name: Option<String>,
    /// The `X-Amz-Target` prefix of AWS JSON services.
    #[serde(default)]
    pub target_prefix: Option<String>,
}

/// A reference to a shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    /// The shape's name.
    pub shape: String,
    /// The element wrapping a Query output (`PublishResult`).
    #[serde(default)]
    pub result_wrapper: Option<String>,
}

/// An operation.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    /// Its input shape.
    #[serde(default)]
    pub input: Option<ShapeRef>,
    /// Its output shape.
    #[serde(default)]
    pub output: Option<ShapeRef>,
    /// The exceptions it declares.
    #[serde(default)]
    pub errors: Vec<ShapeRef>,
    /// Its HTTP binding (REST protocols).
    #[serde(default)]
    pub http: Option<HttpBinding>,
}

/// Where a REST operation is sent: `GET /2015-03-31/functions/{FunctionName}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpBinding {
    /// The HTTP method.
    pub method: String,
    /// The path (with `{Label}` and greedy `{Label+}` placeholders) and any fixed query.
    pub request_uri: String,
}

/// The kind of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeType {
    /// An object with named members.
    Structure,
    /// A list.
    List,
    /// A map.
    Map,
    /// Text.
    String,
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer.
    Long,
    /// A boolean.
    Boolean,
    /// A point in time.
    Timestamp,
    /// Bytes (base64 in JSON).
    Blob,
    /// A double.
    Double,
    /// A float.
    Float,
    /// Anything else.
    #[serde(other)]
    Other,
}

/// A member of a structure, or the element, key or value of a list or map.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The member's shape.
    pub shape: String,
    /// The name on the wire, when not the member's own.
    #[serde(default)]
    pub location_name: Option<String>,
    /// Where the member travels in REST protocols (`header`, `uri`, `querystring`…).
    #[serde(default)]
    pub location: Option<String>,
    /// A flattened list or map (Query/XML).
    #[serde(default)]
    pub flattened: bool,
}

/// The error trait of an exception shape (Query services give their own error codes).
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorTrait {
    /// The code on the wire, when not the shape's name.
    #[serde(default)]
    pub code: Option<String>,
}

/// A shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: ShapeType,
    /// The members of a structure, in model order.
    #[serde(default)]
    pub members: indexmap::IndexMap<String, Member>,
    /// A list's element.
    #[serde(default)]
    pub member: Option<Member>,
    /// A map's key.
    #[serde(default)]
    pub key: Option<Member>,
    /// A map's value.
    #[serde(default)]
    pub value: Option<Member>,
    /// A flattened list or map.
    #[serde(default)]
    pub flattened: bool,
    /// True for exception shapes.
    #[serde(default)]
    pub exception: bool,
    /// The wire code of an exception.
    #[serde(default)]
    pub error: Option<ErrorTrait>,
    /// The member that is the whole HTTP body (REST protocols).
    #[serde(default)]
    pub payload: Option<String>,
}

/// A service model.
#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    /// How to reach the service.
    pub metadata: Metadata,
    /// Its operations by name (`SendMessage`).
    pub operations: HashMap<String, Operation>,
    /// Its shapes by name.
    pub shapes: HashMap<String, Shape>,
}

impl ServiceModel {
    /// A shape by name.
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// The exception shape whose wire code (or name) is `code`.
    pub fn exception(&self, code: &str) -> Option<&str> {
        self.shapes
            .iter()
            .filter(|(_, s)| s.exception)
            .find(|(name, s)| s.error.as_ref().and_then(|e| e.code.as_deref()) == Some(code) || name.as_str() == code)
            .map(|(name, _)| name.as_str())
    }

    /// The SigV4 service name.
    pub fn signing_name(&self) -> &str {
        self.metadata.signing_name.as_deref().unwrap_or(&self.metadata.endpoint_prefix)
    }
}

/// A shipped model: the Step Functions name of the service (`aws-sdk:<name>:…`), and the model text.
struct Shipped {
    name: &'static str,
    text: &'static str,
    parsed: OnceLock<Option<ServiceModel>>,
}

macro_rules! shipped {
    ($name:literal, $file:literal) => {
        Shipped { name: $name, text: include_str!(concat!("../../models/", $file)), parsed: OnceLock::new() }
    };
}

static MODELS: [Shipped; 8] = [
    shipped!("sqs", "sqs.json"),
    shipped!("sns", "sns.json"),
    shipped!("dynamodb", "dynamodb.json"),
    shipped!("eventbridge", "events.json"),
    shipped!("secretsmanager", "secretsmanager.json"),
    shipped!("sts", "sts.json"),
    shipped!("iam", "iam.json"),
    shipped!("lambda", "lambda.json"),
];

/// The model of the service Step Functions names `service` (`sqs`, `eventbridge`…), parsed on first
/// use; `None` when no model ships for it.
pub fn model(service: &str) -> Option<&'static ServiceModel> {
    let shipped = MODELS.iter().find(|m| m.name == service)?;
    shipped.parsed.get_or_init(|| serde_json::from_str(shipped.text).ok()).as_ref()
}

/// The services whose models ship, by their Step Functions names.
pub fn services() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|m| m.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_model_parses() {
        for name in services() {
            let m = model(name).unwrap_or_else(|| panic!("the {name} model does not parse"));
            assert!(!m.operations.is_empty(), "{name}");
        }
        let sqs = model("sqs").unwrap();
        assert_eq!(sqs.metadata.protocol, Protocol::Json);
        assert_eq!(sqs.metadata.target_prefix.as_deref(), Some("AmazonSQS"));
        assert_eq!(model("sns").unwrap().metadata.protocol, Protocol::Query);
        assert_eq!(sqs.exception("QueueDoesNotExist"), Some("QueueDoesNotExist"));
        assert_eq!(model("sns").unwrap().exception("NotFound"), Some("NotFoundException"));
    }
}

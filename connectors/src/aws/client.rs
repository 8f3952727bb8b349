//! The AWS protocol client: one call of one operation of a modeled service, over AWS JSON 1.0/1.1,
//! AWS Query or REST-JSON, signed with SigV4, to the endpoint the standard AWS configuration names.
//!
//! Where a call goes: the task-targets file's `services.<name>.endpoint`, else
//! `AWS_ENDPOINT_URL_<SERVICE_ID>` (`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`…),
//! else `AWS_ENDPOINT_URL`, else AWS (`https://<endpointPrefix>.<region>.amazonaws.com`). Credentials
//! come from the AWS SDK's default chain (environment, profile, container and instance roles); when
//! an endpoint is set and the environment names no credentials, calls are signed with placeholder
//! ones, which local servers accept.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use bytes::Bytes;
use hyper::Method;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::assume;
use super::codec::{self, ShapeError};
use super::model::{Operation, Protocol, ServiceModel};
use super::rest_json;
use super::xml;
use crate::config::ServiceConfig;
use crate::http::{HttpClient, HttpResponse};

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The response headers, as received.
    pub headers: Vec<(String, String)>,
    /// The length of the body in bytes.
    pub body_len: usize,
    /// The request id the service gave.
    pub request_id: String,
    /// The result in Step Functions' terms (PascalCase keys, ISO-8601 timestamps).
    pub result: Value,
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error.
    #[error("{code}: {message}")]
    Service {
        /// The HTTP status.
        status: u16,
        /// The error code on the wire (`ResourceNotFoundException`, `NotFound`, `MissingParameter`…).
        code: String,
        /// The exception shape the operation declares for it, if any.
        modeled: Option<String>,
        /// The message.
        message: String,
        /// The request id.
        request_id: String,
    },
    /// The parameters do not fit the operation.
    #[error(transparent)]
    Parameters(#[from] ShapeError),
    /// No answer: the connection failed, or the request could not be signed or built.
    #[error("{0}")]
    Client(String),
    /// The service or operation is unknown, or its protocol is not carried out.
    #[error("{0}")]
    Unsupported(String),
}

/// An encoded request: its content type, its other headers, its body.
type Encoded = (String, Vec<(String, String)>, Vec<u8>);

/// Calls AWS services.
#[derive(Debug)]
pub struct AwsClient {
    http: HttpClient,
    services: BTreeMap<String, ServiceConfig>,
    region: String,
    credentials: OnceCell<Option<SharedCredentialsProvider>>,
    roles: assume::RoleCache,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

impl AwsClient {
    /// A client with per-service settings from the task-targets file; `default_region` is used when
    /// neither the file nor the environment names a region.
    pub fn new(http: HttpClient, services: BTreeMap<String, ServiceConfig>, default_region: &str) -> AwsClient {
        let region =
            env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| default_region.to_owned());
        AwsClient { http, services, region, credentials: OnceCell::new(), roles: assume::RoleCache::default() }
    }

    /// The endpoint and region of the service Step Functions names `service`.
    pub fn endpoint(&self, service: &str, model: &ServiceModel) -> (String, String) {
        let configured = self.services.get(service);
        let region = configured.and_then(|c| c.region.clone()).unwrap_or_else(|| self.region.clone());
        let id = model.metadata.service_id.to_ascii_uppercase().replace([' ', '-'], "_");
        let url = configured
            .and_then(|c| c.endpoint.clone())
            .or_else(|| env(&format!("AWS_ENDPOINT_URL_{id}")))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        match (url, &model.metadata.global_endpoint) {
            (Some(url), _) => (url, region),
            // A global service (IAM) has one endpoint, whose requests are signed for us-east-1.
            (None, Some(host)) => (format!("https://{host}"), "us-east-1".to_owned()),
            (None, None) => (format!("https://{}.{region}.amazonaws.com", model.metadata.endpoint_prefix), region),
        }
    }

    async fn credentials(&self, local: bool) -> Result<Credentials, CallError> {
        let provider = self
            .credentials
            .get_or_init(|| async {
                let has_env = env("AWS_ACCESS_KEY_ID").is_some() || env("AWS_PROFILE").is_some();
                if local && !has_env {
                    return Some(SharedCredentialsProvider::new(Credentials::new(
                        "legion",
                        "legion",
                        None,
                        None,
                        "legion-local",
                    )));
                }
                let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(self.region.clone()))
                    .load()
                    .await;
                sdk.credentials_provider()
            })
            .await;
        match provider {
            Some(p) => p.provide_credentials().await.map_err(|e| CallError::Client(format!("no AWS credentials: {e}"))),
            None => Err(CallError::Client("no AWS credentials are configured".into())),
        }
    }

    /// Calls `operation` of the service Step Functions names `service` with Step Functions
    /// parameters, with the configured credentials.
    pub async fn call(
        &self,
        service: &str,
        model: &ServiceModel,
        operation: &str,
        params: &Value,
    ) -> Result<Answer, CallError> {
        self.send(service, model, operation, params, None).await
    }

    /// [`AwsClient::call`] signed with `credentials` (a role's, from
    /// [`AwsClient::role_credentials`]) instead of the configured ones, when given.
    pub async fn call_with(
        &self,
        service: &str,
        model: &ServiceModel,
        operation: &str,
        params: &Value,
        credentials: Option<Credentials>,
    ) -> Result<Answer, CallError> {
        self.send(service, model, operation, params, credentials).await
    }

    /// The credentials of the role a task's `Credentials` name, for a call to `service`: see
    /// [`AwsClient::role_credentials_at`].
    pub async fn role_credentials(
        &self,
        service: &str,
        model: &ServiceModel,
        role_arn: &str,
    ) -> Result<Option<Credentials>, CallError> {
        let (endpoint, _) = self.endpoint(service, model);
        self.role_credentials_at(role_arn, is_local(&endpoint)).await
    }

    /// The role's temporary credentials ([`AwsClient::assume`]); `None` when the task's target is a
    /// local endpoint while STS would be AWS's own. A local server checks no roles, and a definition
    /// written for AWS should run against local targets without AWS credentials: Legion then signs
    /// with the configured credentials (its choice; AWS always assumes the role).
    pub async fn role_credentials_at(
        &self,
        role_arn: &str,
        target_is_local: bool,
    ) -> Result<Option<Credentials>, CallError> {
        let sts =
            super::model::model("sts").ok_or_else(|| CallError::Unsupported("the sts model is missing".into()))?;
        if target_is_local && !is_local(&self.endpoint("sts", sts).0) {
            return Ok(None);
        }
        self.assume(role_arn).await.map(Some)
    }

    /// Temporary credentials of `role_arn`, from STS `AssumeRole` signed with the configured
    /// credentials, kept until shortly before they expire.
    pub async fn assume(&self, role_arn: &str) -> Result<Credentials, CallError> {
        if let Some(c) = self.roles.get(role_arn) {
            return Ok(c);
        }
        let sts =
            super::model::model("sts").ok_or_else(|| CallError::Unsupported("the sts model is missing".into()))?;
        let answer = self.send("sts", sts, "AssumeRole", &assume::assume_role_params(role_arn), None).await?;
        let credentials = assume::from_result(&answer.result)?;
        self.roles.put(role_arn, credentials.clone());
        Ok(credentials)
    }

    /// One call, signed with `credentials` or, when `None`, the configured ones.
    async fn send(
        &self,
        service: &str,
        model: &ServiceModel,
        operation: &str,
        params: &Value,
        credentials: Option<Credentials>,
    ) -> Result<Answer, CallError> {
        let op = model
            .operations
            .get(operation)
            .ok_or_else(|| CallError::Unsupported(format!("{service} has no operation {operation}")))?;
        let (endpoint, region) = self.endpoint(service, model);
        let local = is_local(&endpoint);
        let (method, url, mut headers, body) = if model.metadata.protocol == Protocol::RestJson {
            let r = rest_json::request(model, op, params)?;
            (r.method, format!("{}{}", endpoint.trim_end_matches('/'), r.path_and_query), r.headers, r.body)
        } else {
            let (content_type, extra, body) = self.encode(model, operation, op, params)?;
            let mut headers = vec![("Content-Type".to_owned(), content_type)];
            headers.extend(extra);
            ("POST".to_owned(), endpoint, headers, body)
        };
        let credentials = match credentials {
            Some(c) => c,
            None => self.credentials(local).await?,
        };
        sign(&mut headers, &method, &url, &body, &credentials, &region, model.signing_name())?;
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| CallError::Unsupported(format!("the HTTP method {method} of {operation}")))?;
        let response = self
            .http
            .send(method, &url, &headers, Bytes::from(body))
            .await
            .map_err(|e| CallError::Client(format!("Unable to execute HTTP request: {e}")))?;
        decode(model, operation, op, response)
    }

    fn encode(
        &self,
        model: &ServiceModel,
        operation: &str,
        op: &Operation,
        params: &Value,
    ) -> Result<Encoded, CallError> {
        let meta = &model.metadata;
        match meta.protocol {
            Protocol::Json => {
                let body = match &op.input {
                    Some(input) => codec::json_request(model, &input.shape, params)?,
                    None => Value::Object(Default::default()),
                };
                let version = meta.json_version.as_deref().unwrap_or("1.0");
                let target = format!("{}.{operation}", meta.target_prefix.as_deref().unwrap_or_default());
                let body = serde_json::to_vec(&body).map_err(|e| CallError::Client(e.to_string()))?;
                Ok((format!("application/x-amz-json-{version}"), vec![("X-Amz-Target".to_owned(), target)], body))
            }
            Protocol::Query => {
                let mut pairs =
                    vec![("Action".to_owned(), operation.to_owned()), ("Version".to_owned(), meta.api_version.clone())];
                if let Some(input) = &op.input {
                    pairs.extend(codec::query_request(model, &input.shape, params)?);
                }
                let body = form_urlencoded(&pairs);
                Ok(("application/x-www-form-urlencoded; charset=utf-8".to_owned(), Vec::new(), body.into_bytes()))
            }
            other => Err(CallError::Unsupported(format!(
                "the {:?} protocol of {} is not supported yet (AWS JSON, AWS Query and REST-JSON are)",
                other, meta.service_id
            ))),
        }
    }
}

/// True for an endpoint other than AWS's own.
pub fn is_local(endpoint: &str) -> bool {
    !endpoint.contains(".amazonaws.com")
}

fn form_urlencoded(pairs: &[(String, String)]) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, SET),
                percent_encoding::utf8_percent_encode(v, SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Adds SigV4 headers (`Authorization`, `X-Amz-Date`, the session token) to `headers`.
fn sign(
    headers: &mut Vec<(String, String)>,
    method: &str,
    url: &str,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
) -> Result<(), CallError> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = credentials.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| CallError::Client(format!("cannot sign the request: {e}")))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| CallError::Client(format!("cannot sign the request: {e}")))?;
    let (instructions, _) =
        sign(signable, &params).map_err(|e| CallError::Client(format!("cannot sign the request: {e}")))?.into_parts();
    let signed: Vec<(String, String)> = instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    headers.extend(signed);
    Ok(())
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn decode(model: &ServiceModel, operation: &str, op: &Operation, response: HttpResponse) -> Result<Answer, CallError> {
    let status = response.status.as_u16();
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut request_id = header(&headers, "x-amzn-requestid")
        .or_else(|| header(&headers, "x-amz-request-id"))
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8_lossy(&response.body);
    let output = op.output.as_ref();
    let result = match model.metadata.protocol {
        Protocol::Query => {
            let doc = if text.trim().is_empty() {
                None
            } else {
                Some(xml::parse(&text).map_err(|e| CallError::Client(e.to_string()))?)
            };
            if let Some(id) = doc
                .as_ref()
                .and_then(|d| d.text_at(&["ResponseMetadata", "RequestId"]).or_else(|| d.text_at(&["RequestId"])))
            {
                if request_id.is_empty() {
                    request_id = id.to_owned();
                }
            }
            if status >= 300 {
                let doc = doc.unwrap_or_default();
                let code = doc.text_at(&["Error", "Code"]).unwrap_or("InternalFailure").to_owned();
                let message = doc.text_at(&["Error", "Message"]).unwrap_or_default().to_owned();
                return Err(service_error(model, op, status, code, message, request_id));
            }
            let wrapper = output.and_then(|o| o.result_wrapper.clone()).unwrap_or_else(|| format!("{operation}Result"));
            codec::xml_result(model, output.map(|o| o.shape.as_str()), doc.as_ref().and_then(|d| d.child(&wrapper)))
        }
        Protocol::RestJson if status < 300 => {
            rest_json::result(model, op, status, &headers, &response.body).map_err(CallError::Client)?
        }
        _ => {
            let body: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if text.trim().is_empty() => Value::Object(Default::default()),
                // An error page that is not AWS JSON (a proxy's, a crashed handler's).
                Err(_) if status >= 300 => {
                    let code = if status >= 500 { "InternalFailure" } else { "UnknownError" }.to_owned();
                    return Err(service_error(model, op, status, code, text.trim().to_owned(), request_id));
                }
                Err(e) => return Err(CallError::Client(format!("the answer is not JSON: {e}"))),
            };
            if status >= 300 {
                let raw = header(&headers, "x-amzn-errortype")
                    .map(str::to_owned)
                    .or_else(|| body.get("__type").and_then(Value::as_str).map(str::to_owned))
                    .or_else(|| body.get("code").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| "InternalFailure".to_owned());
                let code = raw.split(':').next().unwrap_or_default();
                let code = code.rsplit('#').next().unwrap_or_default().to_owned();
                let message = body
                    .get("message")
                    .or_else(|| body.get("Message"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                // AWS JSON services that were Query services keep their Query error code in a header.
                let code = match header(&headers, "x-amzn-query-error") {
                    Some(q) if model.exception(&code).is_none() => q.split(';').next().unwrap_or(&code).to_owned(),
                    _ => code,
                };
                return Err(service_error(model, op, status, code, message, request_id));
            }
            codec::json_result(model, output.map(|o| o.shape.as_str()), &body)
        }
    };
    Ok(Answer { status, body_len: response.body.len(), headers, request_id, result })
}

fn service_error(
    model: &ServiceModel,
    op: &Operation,
    status: u16,
    code: String,
    message: String,
    request_id: String,
) -> CallError {
    let _ = op;
    let modeled = model.exception(&code).map(str::to_owned);
    CallError::Service { status, code, modeled, message, request_id }
}

//! The HTTP Task (`arn:aws:states:::http:invoke`) and the HTTP client every non-AWS target uses.
//!
//! The client is hyper's with rustls (aws-lc-rs), the same stack the AWS SDK builds, so HTTP targets
//! add no second TLS implementation. HTTP Task parameters: `ApiEndpoint`, `Method`, `Headers`,
//! `QueryParameters`, `RequestBody`, `Transform` (`RequestBodyEncoding: NONE | URL_ENCODED`,
//! `RequestEncodingOptions.ArrayFormat: INDICES | REPEAT | COMMAS | BRACKETS`). The result is
//! `{"Headers": {name: [values]}, "ResponseBody": <JSON when it parses, else text>, "StatusCode": n,
//! "StatusText": "OK"}`; a non-2xx status fails the task with `States.Http.StatusCode.<n>`, and a
//! connection failure with `States.Http.Socket`. `Authentication.ConnectionArn` is not needed
//! locally; configured default headers (credentials) can be attached per host.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use legion_engine::TaskError;
use serde_json::{json, Map, Value};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A shared HTTP/1.1 client for `http://` and `https://` targets. Each scheme has its own connection
/// pool, set up on its first request: the TLS roots are read only once an `https://` request is sent,
/// and a plain request's connection is made without the TLS connector around it (which, with
/// thousands of children connecting at once, costs a few KiB each).
#[derive(Clone, Debug, Default)]
pub struct HttpClient {
    tls: Arc<OnceLock<Client<Connector, Full<Bytes>>>>,
    plain: Arc<OnceLock<Client<HttpConnector, Full<Bytes>>>>,
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request could not be built (bad URL, header or method).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The connection failed or broke.
    #[error("connection failed: {0}")]
    Connection(String),
}

impl HttpClient {
    /// A client trusting the platform's root certificates (or none, when they cannot be read:
    /// plain `http://` still works).
    pub fn new() -> HttpClient {
        HttpClient::default()
    }

    fn tls_client(&self) -> &Client<Connector, Full<Bytes>> {
        self.tls.get_or_init(|| {
            let connector = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
                Ok(b) => b.https_or_http().enable_http1().build(),
                Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(rustls_config_without_roots())
                    .https_or_http()
                    .enable_http1()
                    .build(),
            };
            Client::builder(TokioExecutor::new()).build(connector)
        })
    }

    fn plain_client(&self) -> &Client<HttpConnector, Full<Bytes>> {
        self.plain.get_or_init(|| Client::builder(TokioExecutor::new()).build(HttpConnector::new()))
    }

    /// Sends one request and reads the whole response.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<HttpResponse, RequestError> {
        let mut builder = hyper::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| RequestError::Invalid(e.to_string()))?;
            let value = HeaderValue::from_str(v).map_err(|e| RequestError::Invalid(e.to_string()))?;
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(body)).map_err(|e| RequestError::Invalid(e.to_string()))?;
        let sent = match request.uri().scheme_str() {
            Some("http") => self.plain_client().request(request).await,
            _ => self.tls_client().request(request).await,
        };
        let response = sent.map_err(|e| RequestError::Connection(error_chain(&e)))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| RequestError::Connection(e.to_string()))?.to_bytes();
        Ok(HttpResponse { status: parts.status, headers: parts.headers, body })
    }
}

fn rustls_config_without_roots() -> rustls::ClientConfig {
    rustls::ClientConfig::builder().with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth()
}

/// An error and its sources, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// A body as a JSON value when it parses, else as text.
pub fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Headers as `{name: [values]}`.
pub fn headers_value(headers: &HeaderMap) -> Value {
    let mut m = Map::new();
    for name in headers.keys() {
        let values: Vec<Value> =
            headers.get_all(name).iter().map(|v| json!(String::from_utf8_lossy(v.as_bytes()))).collect();
        m.insert(name.as_str().to_owned(), Value::Array(values));
    }
    Value::Object(m)
}

/// The HTTP Task.
#[derive(Debug, Clone, Default)]
pub struct HttpTask {
    client: HttpClient,
}

impl HttpTask {
    /// An HTTP Task connector on `client`.
    pub fn new(client: HttpClient) -> HttpTask {
        HttpTask { client }
    }

    /// Carries out one `http:invoke` with its evaluated parameters.
    pub async fn invoke(&self, params: &Value) -> Result<Value, TaskError> {
        let invalid = |m: String| TaskError::new("States.Runtime", m);
        let endpoint = params
            .get("ApiEndpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("The field 'ApiEndpoint' is required but was missing".into()))?;
        let method = params
            .get("Method")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("The field 'Method' is required but was missing".into()))?;
        let method = match method {
            "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD" => {
                Method::from_bytes(method.as_bytes()).map_err(|e| invalid(e.to_string()))?
            }
            other => return Err(invalid(format!("Unsupported HTTP method: {other}"))),
        };
        let transform = params.get("Transform");
        let url_encoded =
            transform.and_then(|t| t.get("RequestBodyEncoding")).and_then(Value::as_str) == Some("URL_ENCODED");
        let array_format = transform
            .and_then(|t| t.get("RequestEncodingOptions"))
            .and_then(|o| o.get("ArrayFormat"))
            .and_then(Value::as_str)
            .unwrap_or("INDICES");
        let array_format = ArrayFormat::parse(array_format)
            .ok_or_else(|| invalid(format!("Unsupported ArrayFormat: {array_format}")))?;
        let mut url = endpoint.to_owned();
        if let Some(Value::Object(q)) = params.get("QueryParameters") {
            let mut pairs = Vec::new();
            for (k, v) in q {
                encode_pairs(k, v, array_format, &mut pairs);
            }
            if !pairs.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&join_pairs(&pairs));
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(Value::Object(h)) = params.get("Headers") {
            for (k, v) in h {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                headers.push((k.clone(), v));
            }
        }
        let has = |headers: &[(String, String)], name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        let body = match params.get("RequestBody") {
            None | Some(Value::Null) => Bytes::new(),
            Some(Value::String(s)) => Bytes::from(s.clone()),
            Some(Value::Object(o)) if url_encoded => {
                let mut pairs = Vec::new();
                for (k, v) in o {
                    encode_pairs(k, v, array_format, &mut pairs);
                }
                if !has(&headers, "content-type") {
                    headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
                }
                Bytes::from(join_pairs(&pairs))
            }
            Some(other) => {
                if !has(&headers, "content-type") {
                    headers.push(("Content-Type".into(), "application/json; charset=UTF-8".into()));
                }
                Bytes::from(other.to_string())
            }
        };
        let response = self
            .client
            .send(method, &url, &headers, body)
            .await
            .map_err(|e| TaskError::new("States.Http.Socket", e.to_string()))?;
        let result = json!({
            "Headers": headers_value(&response.headers),
            "ResponseBody": body_value(&response.body),
            "StatusCode": response.status.as_u16(),
            "StatusText": response.status.canonical_reason().unwrap_or(""),
        });
        if !response.status.is_success() {
            return Err(TaskError::new(
                format!("States.Http.StatusCode.{}", response.status.as_u16()),
                result.to_string(),
            ));
        }
        Ok(result)
    }
}

/// How arrays are written in URL-encoded data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayFormat {
    /// `a[0]=x&a[1]=y`
    Indices,
    /// `a=x&a=y`
    Repeat,
    /// `a=x,y`
    Commas,
    /// `a[]=x&a[]=y`
    Brackets,
}

impl ArrayFormat {
    fn parse(s: &str) -> Option<ArrayFormat> {
        match s {
            "INDICES" => Some(ArrayFormat::Indices),
            "REPEAT" => Some(ArrayFormat::Repeat),
            "COMMAS" => Some(ArrayFormat::Commas),
            "BRACKETS" => Some(ArrayFormat::Brackets),
            _ => None,
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn encode_pairs(key: &str, value: &Value, format: ArrayFormat, out: &mut Vec<(String, String)>) {
    match value {
        Value::Array(items) => match format {
            ArrayFormat::Commas => out.push((key.to_owned(), items.iter().map(scalar).collect::<Vec<_>>().join(","))),
            _ => {
                for (i, item) in items.iter().enumerate() {
                    let k = match format {
                        ArrayFormat::Indices => format!("{key}[{i}]"),
                        ArrayFormat::Brackets => format!("{key}[]"),
                        _ => key.to_owned(),
                    };
                    encode_pairs(&k, item, format, out);
                }
            }
        },
        Value::Object(m) => {
            for (k, v) in m {
                encode_pairs(&format!("{key}[{k}]"), v, format, out);
            }
        }
        other => out.push((key.to_owned(), scalar(other))),
    }
}

const QUERY: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn join_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, QUERY),
                percent_encoding::utf8_percent_encode(v, QUERY)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(v: Value, f: ArrayFormat) -> String {
        let mut pairs = Vec::new();
        for (k, v) in v.as_object().unwrap() {
            encode_pairs(k, v, f, &mut pairs);
        }
        join_pairs(&pairs)
    }

    #[test]
    fn array_formats() {
        let v = json!({"a": ["x", "y"], "b": 1});
        assert_eq!(encoded(v.clone(), ArrayFormat::Indices), "a%5B0%5D=x&a%5B1%5D=y&b=1");
        assert_eq!(encoded(v.clone(), ArrayFormat::Repeat), "a=x&a=y&b=1");
        assert_eq!(encoded(v.clone(), ArrayFormat::Commas), "a=x%2Cy&b=1");
        assert_eq!(encoded(v, ArrayFormat::Brackets), "a%5B%5D=x&a%5B%5D=y&b=1");
    }
}

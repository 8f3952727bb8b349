//! Optional request authentication for `legion serve --auth FILE`: every API request must carry an
//! AWS Signature Version 4 made with one of the file's access keys, and is answered as AWS answers
//! an unsigned or wrongly signed request otherwise.
//!
//! The file is a JSON object of access key ids to secret access keys
//! (`{"AKIDTEAMA": "secret", …}`). The OpenFaaS callback endpoint is not signed by queue workers and
//! stays open: its URL holds an unguessable task token.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::ApiError;

/// How far a request's `X-Amz-Date` may be from the server's clock, as AWS allows.
const MAX_SKEW: time::Duration = time::Duration::minutes(15);

/// The access keys a server accepts.
#[derive(Clone, Default)]
pub struct Keys {
    secrets: Arc<HashMap<String, String>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("access_keys", &self.secrets.len()).finish()
    }
}

/// The keys file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// It cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a JSON object of strings, or it is empty.
    #[error("{path} must be a JSON object of access key ids to secret access keys: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Keys {
    /// Keys from `pairs` of access key id and secret.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Keys {
        Keys { secrets: Arc::new(pairs.into_iter().collect()) }
    }

    /// Reads a keys file.
    pub fn load(path: &Path) -> Result<Keys, KeysError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeysError::Read { path: shown.clone(), source })?;
        let pairs: HashMap<String, String> = serde_json::from_str(&text)
            .map_err(|e| KeysError::Format { path: shown.clone(), message: e.to_string() })?;
        if pairs.is_empty() {
            return Err(KeysError::Format { path: shown, message: "it holds no key".into() });
        }
        Ok(Keys::new(pairs))
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key: &'a str,
    /// `date/region/service/aws4_request`.
    scope: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

/// Parses the `Authorization` header; the message of `IncompleteSignatureException` otherwise.
fn parse_authorization(value: &str) -> Result<Authorization<'_>, String> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| format!("Unsupported authorization type: '{}'", value.split(' ').next().unwrap_or("")))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for (name, part) in [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed)] {
        if part.is_none() {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(missing.join(" "));
    };
    let (access_key, scope) = credential.split_once('/').ok_or("Credential should be scoped to a valid region.")?;
    let fields: Vec<&str> = scope.split('/').collect();
    let [date, region, service, "aws4_request"] = fields[..] else {
        return Err(format!("Credential should be scoped correctly: '{credential}'"));
    };
    Ok(Authorization {
        access_key,
        scope,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&inner_key).chain_update(data).finalize();
    Sha256::new().chain_update(&outer_key).chain_update(inner).finalize().into()
}

/// SigV4's URI encoding: every byte but the unreserved ones, `/` kept.
fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The canonical request of SigV4 for a service other than S3 (the path encoded once more).
fn canonical_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    signed: &[&str],
    body: &[u8],
) -> Result<String, String> {
    let mut pairs: Vec<&str> = query.map(|q| q.split('&').filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    pairs.sort_unstable();
    let mut canonical_headers = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(format!("The signed header '{name}' is not in the request"));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Ok(format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{}",
        uri_encode(if path.is_empty() { "/" } else { path }),
        pairs.join("&"),
        signed.join(";"),
        sha256_hex(body)
    ))
}

/// AWS's message for a signature that does not match.
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Checks a request's signature against `keys`.
fn verify(keys: &Keys, method: &str, uri: &axum::http::Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(ApiError::MissingAuthenticationTokenException("Missing Authentication Token".into()));
    };
    let value =
        value.to_str().map_err(|_| ApiError::IncompleteSignatureException("Invalid authorization header".into()))?;
    let auth = parse_authorization(value).map_err(ApiError::IncompleteSignatureException)?;
    let Some(secret) = keys.secrets.get(auth.access_key) else {
        return Err(ApiError::UnrecognizedClientException(
            "The security token included in the request is invalid.".into(),
        ));
    };
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or_else(|| {
        ApiError::IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
        )
    })?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let signed_at = time::PrimitiveDateTime::parse(amz_date, &format)
        .map_err(|_| ApiError::IncompleteSignatureException(format!("Invalid X-Amz-Date: '{amz_date}'")))?
        .assume_utc();
    let now = OffsetDateTime::now_utc();
    if (now - signed_at).abs() > MAX_SKEW {
        let stamp = |t: OffsetDateTime| t.format(&format).unwrap_or_default();
        return Err(ApiError::InvalidSignatureException(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            stamp(now - MAX_SKEW),
            stamp(now)
        )));
    }
    if !amz_date.starts_with(auth.date) {
        return Err(ApiError::InvalidSignatureException(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            auth.date,
            &amz_date[..amz_date.len().min(8)]
        )));
    }
    let canonical = canonical_request(method, uri.path(), uri.query(), headers, &auth.signed_headers, body)
        .map_err(|_| ApiError::InvalidSignatureException(MISMATCH.into()))?;
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}", auth.scope, sha256_hex(canonical.as_bytes()));
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    for part in [auth.region, auth.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    // Compared in full whatever the first difference, so timing tells nothing.
    let same = expected.len() == auth.signature.len()
        && expected.bytes().zip(auth.signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::InvalidSignatureException(MISMATCH.into()))
    }
}

/// Middleware: lets a request through only when its signature verifies (the OpenFaaS callback
/// endpoint excepted). The body is already in memory ([`crate::limits::read_body`] runs first).
pub async fn require_signature(keys: Keys, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(legion_connectors::openfaas::CALLBACK_PATH) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::SerializationException("The request body could not be read".into()).into_response();
    };
    match verify(&keys, parts.method.as_str(), &parts.uri, &parts.headers, &bytes) {
        Ok(()) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 example (the IAM ListUsers GET request of the signing documentation).
    #[test]
    fn the_documented_example_signature_verifies() {
        let key = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let mut k = hmac(&[b"AWS4".as_slice(), key].concat(), b"20150830");
        for part in ["us-east-1", "iam", "aws4_request"] {
            k = hmac(&k, part.as_bytes());
        }
        assert_eq!(hex(&k), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }

    #[test]
    fn authorization_headers_parse_or_say_what_is_missing() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/states/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .expect("parses");
        assert_eq!((a.access_key, a.region, a.service, a.signature), ("AKID", "us-east-1", "states", "abc"));
        assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
        let e =
            parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/states/aws4_request").unwrap_err();
        assert!(e.contains("'Signature'") && e.contains("'SignedHeaders'"), "{e}");
        assert!(parse_authorization("Basic abc").is_err());
    }
}

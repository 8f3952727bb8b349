//! A Task state's `Credentials`: the role Step Functions assumes for the task, through STS
//! `AssumeRole` at the endpoint the standard AWS configuration names for STS (a local server such as
//! moto_server answers it as AWS does and serves later calls in the role's account).
//!
//! Temporary credentials are kept per role until five minutes before they expire.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::client::CallError;

/// Temporary credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The session name Step Functions gives the role's session. AWS does not document it; this one is
/// Legion's own (not confirmed by a recording).
pub const SESSION_NAME: &str = "legion-task";

/// The role a task's evaluated `Credentials` name: `{"RoleArn": "arn:aws:iam::…:role/…"}`.
pub fn role_arn(credentials: Option<&Value>) -> Result<Option<&str>, String> {
    let Some(c) = credentials else { return Ok(None) };
    match c.get("RoleArn") {
        Some(Value::String(arn)) if !arn.is_empty() => Ok(Some(arn)),
        Some(other) => Err(format!("The RoleArn of the task's Credentials must be a non-empty string, not {other}")),
        None => Err("The task's Credentials have no RoleArn".to_owned()),
    }
}

/// The `AssumeRole` parameters for a role.
pub fn assume_role_params(role_arn: &str) -> Value {
    json!({"RoleArn": role_arn, "RoleSessionName": SESSION_NAME})
}

/// Temporary credentials from an `AssumeRole` result (`Credentials` with `AccessKeyId`,
/// `SecretAccessKey`, `SessionToken`, `Expiration` as ISO-8601 text).
pub fn from_result(result: &Value) -> Result<Credentials, CallError> {
    let c = result.get("Credentials").ok_or_else(|| missing("Credentials"))?;
    let text = |k: &str| c.get(k).and_then(Value::as_str).ok_or_else(|| missing(k));
    let expiry = c
        .get("Expiration")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(SystemTime::from);
    Ok(Credentials::new(
        text("AccessKeyId")?,
        text("SecretAccessKey")?,
        Some(text("SessionToken")?.to_owned()),
        expiry,
        "legion-assume-role",
    ))
}

fn missing(field: &str) -> CallError {
    CallError::Client(format!("the AssumeRole answer has no {field}"))
}

/// Assumed roles' credentials, by role ARN.
#[derive(Debug, Default)]
pub struct RoleCache {
    roles: std::sync::Mutex<HashMap<String, Credentials>>,
}

impl RoleCache {
    /// The credentials kept for `role_arn`, unless they expire soon.
    pub fn get(&self, role_arn: &str) -> Option<Credentials> {
        let roles = self.roles.lock().unwrap_or_else(|e| e.into_inner());
        let c = roles.get(role_arn)?;
        let fresh = c.expiry().is_none_or(|t| t > SystemTime::now() + RENEW_BEFORE);
        fresh.then(|| c.clone())
    }

    /// Keeps `credentials` for `role_arn`.
    pub fn put(&self, role_arn: &str, credentials: Credentials) {
        self.roles.lock().unwrap_or_else(|e| e.into_inner()).insert(role_arn.to_owned(), credentials);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_name_a_role() {
        let c = json!({"RoleArn": "arn:aws:iam::111111111111:role/r"});
        assert_eq!(role_arn(Some(&c)), Ok(Some("arn:aws:iam::111111111111:role/r")));
        assert_eq!(role_arn(None), Ok(None));
        assert!(role_arn(Some(&json!({"RoleArn": 3}))).is_err());
        assert!(role_arn(Some(&json!({}))).is_err());
    }

    #[test]
    fn an_assume_role_result_gives_temporary_credentials() {
        let result = json!({"Credentials": {
            "AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t",
            "Expiration": "2030-01-01T00:00:00Z"
        }});
        let c = from_result(&result).unwrap();
        assert_eq!(c.access_key_id(), "ASIA1");
        assert_eq!(c.session_token(), Some("t"));
        assert!(c.expiry().is_some());
        assert!(from_result(&json!({"Credentials": {"AccessKeyId": "A"}})).is_err());
        let cache = RoleCache::default();
        cache.put("r", c);
        assert!(cache.get("r").is_some());
        let expired = Credentials::new("A", "s", None, Some(SystemTime::now()), "t");
        cache.put("old", expired);
        assert!(cache.get("old").is_none());
    }
}

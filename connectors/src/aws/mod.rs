//! Other AWS services: `arn:aws:states:::aws-sdk:<service>:<action>` for any service whose model
//! ships (see [`model`]) and speaks AWS JSON, AWS Query or REST-JSON, and the optimized integrations
//! (`sqs:sendMessage`, `sns:publish`, `dynamodb:*Item`, `events:putEvents`), both through one
//! [`AwsClient`].

pub mod assume;
pub mod client;
pub mod codec;
pub mod model;
pub mod names;
pub mod optimized;
pub mod rest_json;
pub mod xml;

use legion_engine::TaskError;
use serde_json::Value;

pub use client::{Answer, AwsClient, CallError};
pub use optimized::Optimized;

/// An `aws-sdk` resource: `arn:aws:states:::aws-sdk:sqs:sendMessage` (with or without
/// `.waitForTaskToken`) → `("sqs", "sendMessage")`.
pub fn sdk_resource(resource: &str) -> Option<(&str, &str)> {
    let rest = resource.strip_prefix("arn:aws:states:::aws-sdk:")?;
    let rest = rest.strip_suffix(".waitForTaskToken").unwrap_or(rest);
    let (service, action) = rest.split_once(':')?;
    (!service.is_empty() && !action.is_empty() && !action.contains(':')).then_some((service, action))
}

/// Calls an `aws-sdk` integration: the action's operation with the parameters, as the task's role
/// when its `Credentials` name one, the result in Step Functions' terms, errors named as the AWS SDK
/// for Java 2.x names them (see [`names`]).
pub async fn sdk_call(
    client: &AwsClient,
    service: &str,
    action: &str,
    params: &Value,
    role_arn: Option<&str>,
) -> Result<Value, TaskError> {
    let Some(model) = model::model(service) else {
        return Err(TaskError::new(
            "States.Runtime",
            format!(
                "Legion has no model of the AWS service '{service}' (it knows {})",
                model::services().collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let prefix = names::sdk_v2_prefix(&model.metadata.service_id);
    let operation = names::pascal(action);
    let credentials = match role_arn {
        Some(role) => client.role_credentials(service, model, role).await.map_err(|e| assume_error(role, e))?,
        None => None,
    };
    match client.call_with(service, model, &operation, params, credentials).await {
        Ok(answer) => Ok(answer.result),
        Err(e) => Err(sdk_v2_error(&prefix, e)),
    }
}

/// A role that could not be assumed. AWS does not document the error a task reports then; Legion
/// fails the task with `States.TaskFailed` and STS's answer as the cause (not confirmed by a
/// recording).
pub fn assume_error(role_arn: &str, error: CallError) -> TaskError {
    TaskError::new("States.TaskFailed", format!("Unable to assume the role {role_arn}: {error}"))
}

/// A failed call as Step Functions reports an `aws-sdk` integration's failure.
pub fn sdk_v2_error(prefix: &str, error: CallError) -> TaskError {
    match error {
        CallError::Service { status, modeled, message, request_id, .. } => {
            let class = match modeled {
                Some(shape) => names::exception_class(&shape),
                None => format!("{prefix}Exception"),
            };
            TaskError::new(
                format!("{prefix}.{class}"),
                format!("{message} (Service: {prefix}, Status Code: {status}, Request ID: {request_id}) (SDK Attempt Count: 1)"),
            )
        }
        CallError::Parameters(e) => TaskError::new("States.Runtime", e.0),
        CallError::Unsupported(m) => TaskError::new("States.Runtime", m),
        CallError::Client(m) => TaskError::new(format!("{prefix}.SdkClientException"), m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_resources_name_service_and_action() {
        assert_eq!(sdk_resource("arn:aws:states:::aws-sdk:sqs:sendMessage"), Some(("sqs", "sendMessage")));
        assert_eq!(
            sdk_resource("arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken"),
            Some(("s3", "listBuckets"))
        );
        assert_eq!(sdk_resource("arn:aws:states:::aws-sdk:sqs"), None);
        assert_eq!(sdk_resource("arn:aws:states:::sqs:sendMessage"), None);
    }

    #[test]
    fn errors_take_the_java_sdk_names() {
        let e = sdk_v2_error(
            "SecretsManager",
            CallError::Service {
                status: 400,
                code: "ValidationException".into(),
                modeled: None,
                message: "Invalid name.".into(),
                request_id: "R".into(),
            },
        );
        assert_eq!(e.error, "SecretsManager.SecretsManagerException");
        assert_eq!(
            e.cause.as_deref(),
            Some("Invalid name. (Service: SecretsManager, Status Code: 400, Request ID: R) (SDK Attempt Count: 1)")
        );
    }
}

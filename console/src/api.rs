//! How the console reads Legion: AWS Step Functions API calls in their JSON shapes.
//!
//! The server implements [`ConsoleApi`] by sending each call through its own operation dispatch,
//! so a page shows exactly what DescribeExecution, GetExecutionHistory or DescribeMapRun return.

use async_trait::async_trait;
use serde_json::{json, Value};

/// An API error: the exception's `__type` and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiFailure {
    /// `ExecutionDoesNotExist`, `InvalidArn`…
    pub kind: String,
    /// The message.
    pub message: String,
}

impl ApiFailure {
    /// Whether the error says the resource does not exist or its ARN is malformed (a 404 page).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "ExecutionDoesNotExist"
                | "StateMachineDoesNotExist"
                | "ResourceNotFound"
                | "InvalidArn"
                | "ValidationException"
        )
    }
}

/// AWS Step Functions operations, as the console calls them.
#[async_trait]
pub trait ConsoleApi: Send + Sync + 'static {
    /// Calls `operation` (`DescribeExecution`…) with an AWS JSON request; the response, or the
    /// error AWS would return.
    async fn call(&self, operation: &str, request: Value) -> Result<Value, ApiFailure>;
}

/// Most pages of GetExecutionHistory read for one page (1,000 events each).
const HISTORY_PAGES: usize = 25;
/// Most pages of ListStateMachines read for the home page (1,000 machines each).
const MACHINE_PAGES: usize = 5;

/// Typed helpers over [`ConsoleApi`].
pub struct Client<'a> {
    api: &'a dyn ConsoleApi,
}

impl<'a> Client<'a> {
    /// A client over `api`.
    pub fn new(api: &'a dyn ConsoleApi) -> Client<'a> {
        Client { api }
    }

    /// DescribeExecution.
    pub async fn describe_execution(&self, arn: &str) -> Result<Value, ApiFailure> {
        self.api.call("DescribeExecution", json!({"executionArn": arn})).await
    }

    /// DescribeStateMachineForExecution.
    pub async fn machine_for_execution(&self, arn: &str) -> Result<Value, ApiFailure> {
        self.api.call("DescribeStateMachineForExecution", json!({"executionArn": arn})).await
    }

    /// DescribeStateMachine.
    pub async fn describe_state_machine(&self, arn: &str) -> Result<Value, ApiFailure> {
        self.api.call("DescribeStateMachine", json!({"stateMachineArn": arn})).await
    }

    /// GetExecutionHistory, every page (up to 25,000 events), oldest first, with data.
    pub async fn history(&self, arn: &str) -> Result<Vec<Value>, ApiFailure> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..HISTORY_PAGES {
            let mut request = json!({"executionArn": arn, "maxResults": 1000, "includeExecutionData": true});
            if let Some(t) = &token {
                request["nextToken"] = json!(t);
            }
            let page = self.api.call("GetExecutionHistory", request).await?;
            events.extend(page.get("events").and_then(Value::as_array).cloned().unwrap_or_default());
            token = page.get("nextToken").and_then(Value::as_str).map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(events)
    }

    /// ListStateMachines, every page.
    pub async fn state_machines(&self) -> Result<Vec<Value>, ApiFailure> {
        let mut machines = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MACHINE_PAGES {
            let mut request = json!({"maxResults": 1000});
            if let Some(t) = &token {
                request["nextToken"] = json!(t);
            }
            let page = self.api.call("ListStateMachines", request).await?;
            machines.extend(page.get("stateMachines").and_then(Value::as_array).cloned().unwrap_or_default());
            token = page.get("nextToken").and_then(Value::as_str).map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(machines)
    }

    /// ListExecutions of a state machine (`stateMachineArn`) or a map run (`mapRunArn`), newest
    /// first, optionally of one status.
    pub async fn executions(
        &self,
        key: &str,
        arn: &str,
        status: Option<&str>,
        max: u32,
    ) -> Result<Vec<Value>, ApiFailure> {
        let mut request = json!({ key: arn, "maxResults": max });
        if let Some(s) = status {
            request["statusFilter"] = json!(s);
        }
        let page = self.api.call("ListExecutions", request).await?;
        Ok(page.get("executions").and_then(Value::as_array).cloned().unwrap_or_default())
    }

    /// DescribeMapRun.
    pub async fn describe_map_run(&self, arn: &str) -> Result<Value, ApiFailure> {
        self.api.call("DescribeMapRun", json!({"mapRunArn": arn})).await
    }

    /// ListMapRuns of an execution.
    pub async fn map_runs(&self, execution_arn: &str) -> Result<Vec<Value>, ApiFailure> {
        let page = self.api.call("ListMapRuns", json!({"executionArn": execution_arn, "maxResults": 1000})).await?;
        Ok(page.get("mapRuns").and_then(Value::as_array).cloned().unwrap_or_default())
    }
}

/// The parts of a Step Functions ARN the console links by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `execution`, `express`, `mapRun`, `stateMachine`…
    pub resource: &'a str,
    /// Everything after the resource type.
    pub rest: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `arn:PARTITION:states:REGION:ACCOUNT:RESOURCE:REST`; `None` when it is not one.
    pub fn parse(arn: &'a str) -> Option<Arn<'a>> {
        let mut parts = arn.splitn(7, ':');
        let (arn_word, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
        let (_region, _account, resource, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        (arn_word == "arn" && service == "states" && !resource.is_empty() && !rest.is_empty())
            .then_some(Arn { resource, rest })
    }

    /// The last `:`-separated part (an execution's name, a map run's id).
    pub fn name(&self) -> &'a str {
        self.rest.rsplit(':').next().unwrap_or(self.rest)
    }

    /// For a map run (`MACHINE/LABEL:ID`), the label.
    pub fn map_run_label(&self) -> Option<&'a str> {
        let (machine_and_label, _) = self.rest.rsplit_once(':')?;
        machine_and_label.split_once('/').map(|(_, label)| label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_resource_and_name() {
        let e = Arn::parse("arn:aws:states:us-east-1:123456789012:execution:orders:run-1").unwrap();
        assert_eq!((e.resource, e.name()), ("execution", "run-1"));
        let m = Arn::parse("arn:aws:states:us-east-1:123456789012:mapRun:orders/Each item:0b1c").unwrap();
        assert_eq!((m.resource, m.map_run_label()), ("mapRun", Some("Each item")));
        assert_eq!(Arn::parse("nonsense"), None);
        assert_eq!(Arn::parse("arn:aws:s3:::bucket:x:y"), None);
        assert_eq!(Arn::parse("arn:aws:states:r:a:execution:"), None);
    }
}

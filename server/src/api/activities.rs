//! Activities: CreateActivity, DescribeActivity, DeleteActivity, ListActivities and GetActivityTask,
//! and the task-token calls workers answer with (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::state_machines::Tag;
use super::{paginate, required, AppState, Empty};
use crate::error::ApiError;
use crate::protocol::epoch;
use crate::registry::{check_name, Activity};
use legion_engine::TokenSignal;

/// CreateActivity's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// CreateActivity's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOutput {
    activity_arn: String,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
}

/// CreateActivity (idempotent by name).
pub async fn create(state: AppState, input: CreateInput) -> Result<CreateOutput, ApiError> {
    let name = required(input.name, "name")?;
    check_name(&name, 80)?;
    let mut tags = Vec::new();
    for tag in input.tags {
        tags.push((required(tag.key, "tags.member.key")?, tag.value.unwrap_or_default()));
    }
    let activity = state.registry().create_activity(Activity {
        arn: state.arn(&format!("activity:{name}")),
        name,
        creation_date: OffsetDateTime::now_utc(),
        tags,
    });
    Ok(CreateOutput { activity_arn: activity.arn, creation_date: activity.creation_date })
}

/// Input naming one activity.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArnInput {
    activity_arn: Option<String>,
}

/// DescribeActivity's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeOutput {
    activity_arn: String,
    name: String,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
}

fn check_activity_arn(arn: &str) -> Result<(), ApiError> {
    match crate::registry::parse_arn(arn) {
        Some(a) if a.resource_type == "activity" && a.parts.len() == 1 => Ok(()),
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

/// DescribeActivity.
pub async fn describe(state: AppState, input: ArnInput) -> Result<DescribeOutput, ApiError> {
    let arn = required(input.activity_arn, "activityArn")?;
    check_activity_arn(&arn)?;
    let a = state
        .registry()
        .activity(&arn)
        .ok_or_else(|| ApiError::ActivityDoesNotExist(format!("Activity Does Not Exist: '{arn}'")))?;
    Ok(DescribeOutput { activity_arn: a.arn, name: a.name, creation_date: a.creation_date })
}

/// DeleteActivity (an unknown activity is not an error).
pub async fn delete(state: AppState, input: ArnInput) -> Result<Empty, ApiError> {
    let arn = required(input.activity_arn, "activityArn")?;
    check_activity_arn(&arn)?;
    state.registry().delete_activity(&arn);
    Ok(Empty {})
}

/// ListActivities's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// ListActivities's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOutput {
    activities: Vec<DescribeOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListActivities.
pub async fn list(state: AppState, input: ListInput) -> Result<ListOutput, ApiError> {
    let items = state
        .registry()
        .activities()
        .into_iter()
        .map(|a| DescribeOutput { activity_arn: a.arn, name: a.name, creation_date: a.creation_date })
        .collect();
    let (activities, next_token) = paginate(items, input.max_results, input.next_token.as_deref(), "ListActivities")?;
    Ok(ListOutput { activities, next_token })
}

fn token_error(e: legion_engine::TokenError) -> ApiError {
    match e {
        legion_engine::TokenError::InvalidToken(t) => ApiError::InvalidToken(format!("Invalid Token: '{t}'")),
        legion_engine::TokenError::TaskDoesNotExist => ApiError::TaskDoesNotExist("Task Does Not Exist".into()),
        legion_engine::TokenError::TaskTimedOut => ApiError::TaskTimedOut("Task Timed Out".into()),
        legion_engine::TokenError::Store(e) => ApiError::from(e),
    }
}

fn check_token(token: &str) -> Result<(), ApiError> {
    super::check_len(token, "taskToken", 1, 2048)
}

/// SendTaskSuccess's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendSuccessInput {
    task_token: Option<String>,
    output: Option<String>,
}

/// SendTaskSuccess.
pub async fn send_task_success(state: AppState, input: SendSuccessInput) -> Result<Empty, ApiError> {
    let token = required(input.task_token, "taskToken")?;
    check_token(&token)?;
    let output = required(input.output, "output")?;
    if output.len() > super::executions::MAX_INPUT_BYTES {
        return Err(ApiError::constraint("'…'", "output", "Member must have length less than or equal to 262144"));
    }
    let output: serde_json::Value =
        serde_json::from_str(&output).map_err(|e| ApiError::InvalidOutput(format!("Invalid Output: '{e}'")))?;
    state.engine().answer_task(&token, TokenSignal::Success(output)).await.map_err(token_error)?;
    Ok(Empty {})
}

/// SendTaskFailure's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendFailureInput {
    task_token: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

/// SendTaskFailure.
pub async fn send_task_failure(state: AppState, input: SendFailureInput) -> Result<Empty, ApiError> {
    let token = required(input.task_token, "taskToken")?;
    check_token(&token)?;
    if let Some(e) = &input.error {
        super::check_len(e, "error", 0, 256)?;
    }
    if let Some(c) = &input.cause {
        super::check_len(c, "cause", 0, 32_768)?;
    }
    let failure = TokenSignal::Failure { error: input.error, cause: input.cause };
    state.engine().answer_task(&token, failure).await.map_err(token_error)?;
    Ok(Empty {})
}

/// SendTaskHeartbeat's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatInput {
    task_token: Option<String>,
}

/// SendTaskHeartbeat.
pub async fn send_task_heartbeat(state: AppState, input: HeartbeatInput) -> Result<Empty, ApiError> {
    let token = required(input.task_token, "taskToken")?;
    check_token(&token)?;
    state.engine().answer_task(&token, TokenSignal::Heartbeat).await.map_err(token_error)?;
    Ok(Empty {})
}

/// The longest GetActivityTask long poll (AWS's 60 seconds).
pub const MAX_POLL: Duration = Duration::from_secs(60);

/// How many GetActivityTask calls may poll one activity at once (AWS's quota).
pub const MAX_POLLERS: usize = 1000;

/// The GetActivityTask calls polling each activity, held to a limit.
#[derive(Debug)]
pub struct Pollers {
    limit: usize,
    active: Arc<Mutex<HashMap<String, usize>>>,
}

/// One admitted poll; dropping it frees its place.
#[derive(Debug)]
pub struct Poller {
    arn: String,
    active: Arc<Mutex<HashMap<String, usize>>>,
}

impl Pollers {
    /// At most `limit` concurrent polls per activity.
    pub fn new(limit: usize) -> Pollers {
        Pollers { limit, active: Arc::default() }
    }

    /// Admits one more poll on `arn`, or `ActivityWorkerLimitExceeded` when `limit` are polling.
    pub fn admit(&self, arn: &str) -> Result<Poller, ApiError> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let n = active.entry(arn.to_owned()).or_insert(0);
        if *n >= self.limit {
            return Err(ApiError::ActivityWorkerLimitExceeded(format!(
                "The maximum number of workers concurrently polling for activity tasks has been reached: '{arn}'"
            )));
        }
        *n += 1;
        Ok(Poller { arn: arn.to_owned(), active: self.active.clone() })
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = active.get_mut(&self.arn) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                active.remove(&self.arn);
            }
        }
    }
}

/// GetActivityTask's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetActivityTaskInput {
    activity_arn: Option<String>,
    worker_name: Option<String>,
}

/// GetActivityTask's output: both members are absent when no task arrived in time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetActivityTaskOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
}

/// GetActivityTask: long-polls the activity's queue (up to 60 seconds) and hands the oldest
/// scheduled task to the worker.
pub async fn get_activity_task(
    state: AppState,
    input: GetActivityTaskInput,
) -> Result<GetActivityTaskOutput, ApiError> {
    let arn = required(input.activity_arn, "activityArn")?;
    super::check_len(&arn, "activityArn", 1, 256)?;
    check_activity_arn(&arn)?;
    if let Some(w) = &input.worker_name {
        super::check_len(w, "workerName", 1, 80)?;
    }
    if state.registry().activity(&arn).is_none() {
        return Err(ApiError::ActivityDoesNotExist(format!("Activity Does Not Exist: '{arn}'")));
    }
    let _poller = state.pollers().admit(&arn)?;
    let wait = state.activity_poll();
    match state.engine().get_activity_task(&arn, input.worker_name.as_deref(), wait).await {
        Some(task) => Ok(GetActivityTaskOutput {
            task_token: Some(task.task_token),
            input: Some(serde_json::to_string(&task.input).unwrap_or_else(|_| "{}".to_owned())),
        }),
        None => Ok(GetActivityTaskOutput { task_token: None, input: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollers_are_held_to_the_limit_per_activity_and_freed_when_done() {
        let pollers = Pollers::new(2);
        let a = pollers.admit("arn:a").expect("first");
        let _b = pollers.admit("arn:a").expect("second");
        let e = pollers.admit("arn:a").expect_err("third is over the limit");
        assert_eq!(e.type_name(), "ActivityWorkerLimitExceeded");
        let _other = pollers.admit("arn:b").expect("another activity has its own limit");
        drop(a);
        let _c = pollers.admit("arn:a").expect("a place was freed");
    }
}

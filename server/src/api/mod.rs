//! The operations, one module per resource family, and the dispatch from `X-Amz-Target` to them.

pub mod activities;
pub mod executions;
pub mod map_runs;
pub mod state_machines;
pub mod test_state;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use legion_engine::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use crate::protocol::{respond, AwsJson, Operation};
use crate::registry::Registry;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// How long GetActivityTask waits for a task (AWS: 60 seconds).
    activity_poll: std::time::Duration,
}

/// Tells the registry of an [`AppState`] which executions the engine's retention removed, so that
/// the definition snapshots a store written by an earlier Legion kept for them go with them (newer
/// executions name their revision in their record instead). The engine's builder takes
/// [`PurgeForwarder::hook`] before the state exists; [`PurgeForwarder::attach`] names the state once
/// it does.
#[derive(Clone, Default)]
pub struct PurgeForwarder(Arc<std::sync::OnceLock<std::sync::Weak<Inner>>>);

impl PurgeForwarder {
    /// The hook for `EngineBuilder::on_purged`.
    pub fn hook(&self) -> impl Fn(&[String]) + Send + Sync + 'static {
        let target = self.0.clone();
        move |gone| {
            if let Some(inner) = target.get().and_then(std::sync::Weak::upgrade) {
                inner.registry.prune_snapshots(gone);
            }
        }
    }

    /// Forwards to `state` from now on.
    pub fn attach(&self, state: &AppState) {
        let _ = self.0.set(Arc::downgrade(&state.inner));
    }
}

struct Inner {
    engine: Engine,
    registry: Registry,
    mocks: Option<Arc<legion_connectors::mock::Mocks>>,
    pollers: activities::Pollers,
}

impl AppState {
    /// State around an engine (its configuration gives the account and region of every ARN).
    pub fn new(engine: Engine) -> AppState {
        AppState::with_mocks(engine, None)
    }

    /// State around an engine whose task router answers from a mock configuration
    /// (`SFN_MOCK_CONFIG`): StartExecution then accepts `stateMachineArn#TestCase`.
    pub fn with_mocks(engine: Engine, mocks: Option<Arc<legion_connectors::mock::Mocks>>) -> AppState {
        AppState::with_registry(engine, mocks, Registry::default())
    }

    /// State around an engine and a registry (one read back from a durable store, say).
    pub fn with_registry(
        engine: Engine,
        mocks: Option<Arc<legion_connectors::mock::Mocks>>,
        registry: Registry,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                engine,
                registry,
                mocks,
                pollers: activities::Pollers::new(activities::MAX_POLLERS),
            }),
            activity_poll: activities::MAX_POLL,
        }
    }

    /// Sets how long GetActivityTask waits for a task before answering without one (at most, and
    /// by default, 60 seconds, as AWS waits).
    pub fn with_activity_poll(mut self, wait: std::time::Duration) -> AppState {
        self.activity_poll = wait.min(activities::MAX_POLL);
        self
    }

    /// The GetActivityTask calls polling right now, per activity.
    pub fn pollers(&self) -> &activities::Pollers {
        &self.inner.pollers
    }

    /// How long GetActivityTask waits for a task.
    pub fn activity_poll(&self) -> std::time::Duration {
        self.activity_poll
    }

    /// The mocks in use, if any.
    pub fn mocks(&self) -> Option<&Arc<legion_connectors::mock::Mocks>> {
        self.inner.mocks.as_ref()
    }

    /// The engine executions run on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// State machines, versions, aliases and activities.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// `arn:aws:states:<region>:<account>:<rest>`.
    pub fn arn(&self, rest: &str) -> String {
        let c = self.engine().config();
        format!("arn:aws:states:{}:{}:{rest}", c.region, c.account_id)
    }
}

/// Runs one operation on a request body.
pub async fn dispatch(state: AppState, operation: Operation, body: Bytes) -> Response {
    use Operation as Op;
    let s = state;
    let b = &body[..];
    let result = match operation {
        Op::CreateStateMachine => call(s, b, state_machines::create).await,
        Op::DescribeStateMachine => call(s, b, state_machines::describe).await,
        Op::UpdateStateMachine => call(s, b, state_machines::update).await,
        Op::DeleteStateMachine => call(s, b, state_machines::delete).await,
        Op::ListStateMachines => call(s, b, state_machines::list).await,
        Op::ValidateStateMachineDefinition => call(s, b, state_machines::validate).await,
        Op::PublishStateMachineVersion => call(s, b, state_machines::publish_version).await,
        Op::ListStateMachineVersions => call(s, b, state_machines::list_versions).await,
        Op::DeleteStateMachineVersion => call(s, b, state_machines::delete_version).await,
        Op::CreateStateMachineAlias => call(s, b, state_machines::create_alias).await,
        Op::DescribeStateMachineAlias => call(s, b, state_machines::describe_alias).await,
        Op::UpdateStateMachineAlias => call(s, b, state_machines::update_alias).await,
        Op::DeleteStateMachineAlias => call(s, b, state_machines::delete_alias).await,
        Op::ListStateMachineAliases => call(s, b, state_machines::list_aliases).await,
        Op::TagResource => call(s, b, state_machines::tag_resource).await,
        Op::UntagResource => call(s, b, state_machines::untag_resource).await,
        Op::ListTagsForResource => call(s, b, state_machines::list_tags).await,
        Op::StartExecution => call(s, b, executions::start).await,
        Op::StartSyncExecution => call(s, b, executions::start_sync).await,
        Op::DescribeExecution => call(s, b, executions::describe).await,
        Op::StopExecution => call(s, b, executions::stop).await,
        Op::ListExecutions => call(s, b, executions::list).await,
        Op::GetExecutionHistory => call(s, b, executions::history).await,
        Op::RedriveExecution => call(s, b, executions::redrive).await,
        Op::DescribeStateMachineForExecution => call(s, b, executions::describe_state_machine_for_execution).await,
        Op::CreateActivity => call(s, b, activities::create).await,
        Op::DescribeActivity => call(s, b, activities::describe).await,
        Op::DeleteActivity => call(s, b, activities::delete).await,
        Op::ListActivities => call(s, b, activities::list).await,
        Op::TestState => call(s, b, test_state::test_state).await,
        Op::DescribeMapRun => call(s, b, map_runs::describe).await,
        Op::ListMapRuns => call(s, b, map_runs::list).await,
        Op::UpdateMapRun => call(s, b, map_runs::update).await,
        Op::SendTaskSuccess => call(s, b, activities::send_task_success).await,
        Op::SendTaskFailure => call(s, b, activities::send_task_failure).await,
        Op::SendTaskHeartbeat => call(s, b, activities::send_task_heartbeat).await,
        Op::GetActivityTask => call(s, b, activities::get_activity_task).await,
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// An operation's answer on its way. Boxed: the futures of the operations differ in size by
/// kilobytes, and every layer between hyper and here would otherwise move the largest of them.
type Answer<'a> = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send + 'a>>;

fn call<'a, I, O, F, Fut>(state: AppState, body: &'a [u8], handler: F) -> Answer<'a>
where
    I: DeserializeOwned + Send + 'a,
    O: Serialize + Send + 'a,
    F: FnOnce(AppState, I) -> Fut + Send + 'a,
    Fut: Future<Output = Result<O, ApiError>> + Send + 'a,
{
    Box::pin(async move {
        let input = AwsJson::<I>::from_bytes(body)?;
        // Other instances sharing the store may have changed state machines or activities.
        state.registry().refresh().await?;
        let output = handler(state.clone(), input).await?;
        // What the operation changed is durable before it is acknowledged.
        state.registry().flush().await?;
        Ok(respond(&output))
    })
}

/// The empty output `{}`.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// Checks a required member.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::missing(field))
}

/// Checks a string member's length in characters.
pub fn check_len(value: &str, field: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len < min {
        return Err(ApiError::constraint(
            &format!("'{value}'"),
            field,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(ApiError::constraint(
            "'…'",
            field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Pages through a listing: `maxResults` 0 or absent is 100, at most 1000; the token is bound to the
/// listing it came from (`scope`) and is refused with `InvalidToken` otherwise.
pub fn paginate<T>(
    items: Vec<T>,
    max_results: Option<i64>,
    next_token: Option<&str>,
    scope: &str,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = page_size(max_results)?;
    let start = match next_token {
        None => 0,
        Some(token) => {
            decode_offset(token, scope).ok_or_else(|| ApiError::InvalidToken(format!("Invalid Token: '{token}'")))?
        }
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| encode_offset(start + page.len(), scope));
    Ok((page, next))
}

/// The page size for `maxResults`.
pub fn page_size(max_results: Option<i64>) -> Result<usize, ApiError> {
    match max_results {
        None | Some(0) => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::constraint(
            &n.to_string(),
            "maxResults",
            if n < 0 {
                "Member must have value greater than or equal to 0"
            } else {
                "Member must have value less than or equal to 1000"
            },
        )),
    }
}

fn scope_hash(scope: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    scope.hash(&mut h);
    h.finish()
}

fn encode_offset(offset: usize, scope: &str) -> String {
    format!("{offset:016x}{:016x}", scope_hash(scope))
}

fn decode_offset(token: &str, scope: &str) -> Option<usize> {
    if token.len() != 32 || !token.is_ascii() {
        return None;
    }
    let offset = usize::from_str_radix(&token[..16], 16).ok()?;
    (u64::from_str_radix(&token[16..], 16).ok()? == scope_hash(scope)).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_item_once() {
        let items: Vec<u32> = (0..250).collect();
        let mut token = None;
        let mut seen = Vec::new();
        loop {
            let (page, next) = paginate(items.clone(), Some(100), token.as_deref(), "s").expect("valid");
            seen.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn foreign_or_garbage_tokens_are_refused() {
        let (_, next) = paginate(vec![1, 2, 3], Some(1), None, "a").expect("valid");
        let next = next.expect("more");
        assert!(matches!(paginate(vec![1, 2, 3], Some(1), Some(&next), "b"), Err(ApiError::InvalidToken(_))));
        assert!(matches!(paginate(vec![1], None, Some("zz"), "a"), Err(ApiError::InvalidToken(_))));
        assert!(matches!(paginate(vec![1], Some(1001), None, "a"), Err(ApiError::ValidationException { .. })));
    }
}

//! Task dispatch: how a Task state's `Resource` is carried out.
//!
//! The interpreter hands every Task to a [`TaskDispatcher`]. [`LocalHandlers`] runs Rust closures
//! registered per resource, for embedding and tests; other targets (Lambda, OpenFaaS, HTTP, mocks)
//! implement the same trait.
//!
//! Most tasks end when [`TaskDispatcher::invoke`] returns. Callback tasks end later: for
//! `.waitForTaskToken` resources, and for resources a dispatcher claims with
//! [`TaskDispatcher::completes_by_callback`], the engine mints a task token before dispatching
//! ([`TaskRequest::task_token`]), records the dispatcher's answer as `TaskSubmitted`, and waits until
//! the token is completed through [`crate::TaskTokens`] (SendTaskSuccess, SendTaskFailure, or a
//! connector's own callback listener), with `HeartbeatSeconds` enforced between heartbeats.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One task invocation.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// The state's `Resource`, as written (shared with the parsed Task).
    pub resource: Arc<str>,
    /// The Task state's name.
    pub state_name: Arc<str>,
    /// The effective input (after `InputPath` and `Parameters`, or `Arguments`).
    pub input: Value,
    /// The evaluated `Credentials`, if any.
    pub credentials: Option<Value>,
    /// The task token, for `.waitForTaskToken` resources.
    pub task_token: Option<String>,
    /// The ARN of the execution running the task.
    pub execution_arn: Arc<str>,
    /// How many times this state has been retried so far.
    pub retry_count: u64,
    /// The evaluated `HeartbeatSeconds`, if any.
    pub heartbeat_seconds: Option<u64>,
    /// The evaluated `TimeoutSeconds`, if any.
    pub timeout_seconds: Option<u64>,
}

/// What a dispatcher did with a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatched {
    /// The task is done: this is its result.
    Done(Value),
    /// The request was accepted and the result will arrive through the task token; the value is the
    /// target's answer to the submission, recorded as `TaskSubmitted`.
    Submitted(Value),
}

/// A task failure in ASL terms: an error name that Retry and Catch match, and a cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {}", cause.as_deref().unwrap_or(""))]
pub struct TaskError {
    /// The error name (`Lambda.ServiceException`, `States.Timeout`, a function's own error type…).
    pub error: String,
    /// The cause text.
    pub cause: Option<String>,
}

impl TaskError {
    /// A task error.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskError {
        TaskError { error: error.into(), cause: Some(cause.into()) }
    }

    /// A task error without a cause.
    pub fn bare(error: impl Into<String>) -> TaskError {
        TaskError { error: error.into(), cause: None }
    }
}

/// Carries out Task states.
pub trait TaskDispatcher: Send + Sync {
    /// Runs one invocation to its result (for callback tasks: to the target's answer to the
    /// submission).
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'static, Result<Value, TaskError>>;

    /// Runs one invocation and says how the task ends. The default treats the answer of a task that
    /// carries a token as a submission and every other answer as the result; a dispatcher that can
    /// finish a callback task at once (a mock) overrides this.
    fn dispatch(&self, request: TaskRequest) -> BoxFuture<'static, Result<Dispatched, TaskError>> {
        let callback = request.task_token.is_some();
        let call = self.invoke(request);
        Box::pin(async move {
            let value = call.await?;
            Ok(if callback { Dispatched::Submitted(value) } else { Dispatched::Done(value) })
        })
    }

    /// True when tasks on `resource` end through a callback even without `.waitForTaskToken`
    /// (asynchronous targets that post their result back), so the engine mints a token for them.
    fn completes_by_callback(&self, resource: &str) -> bool {
        let _ = resource;
        false
    }
}

type Handler = Arc<dyn Fn(TaskRequest) -> BoxFuture<'static, Result<Value, TaskError>> + Send + Sync>;

/// Dispatches to Rust closures registered by resource (or by state name).
#[derive(Clone, Default)]
pub struct LocalHandlers {
    by_resource: HashMap<String, Handler>,
    by_state: HashMap<String, Handler>,
}

impl LocalHandlers {
    /// No handlers: every task fails with `States.TaskFailed`.
    pub fn new() -> LocalHandlers {
        LocalHandlers::default()
    }

    /// Handles every task whose `Resource` is `resource`.
    pub fn resource<F, Fut>(mut self, resource: impl Into<String>, handler: F) -> LocalHandlers
    where
        F: Fn(TaskRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.by_resource.insert(resource.into(), Arc::new(move |r| Box::pin(handler(r))));
        self
    }

    /// Handles the Task state named `state` (takes precedence over resources).
    pub fn state<F, Fut>(mut self, state: impl Into<String>, handler: F) -> LocalHandlers
    where
        F: Fn(TaskRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.by_state.insert(state.into(), Arc::new(move |r| Box::pin(handler(r))));
        self
    }
}

impl TaskDispatcher for LocalHandlers {
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'static, Result<Value, TaskError>> {
        let handler = self.by_state.get(&*request.state_name).or_else(|| self.by_resource.get(&*request.resource));
        match handler {
            Some(h) => h(request),
            None => {
                let cause = format!("No handler is registered for resource '{}'", request.resource);
                Box::pin(async move { Err(TaskError::new("States.TaskFailed", cause)) })
            }
        }
    }
}

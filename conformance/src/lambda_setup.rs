//! Runs the `lambda` cases: each case's functions (`resources.lambda_functions[].behaviour`) are
//! deployed on the Lambda stand-in of `legion-testkit`, and the engine reaches them through the real
//! Lambda connector ([`legion_connectors::Router`], aws-sdk-lambda) over HTTP on 127.0.0.1.
//!
//! The server, the connector and their HTTP connections live on one real-time runtime shared by all
//! cases; each execution still runs on its own paused-clock runtime. While a call is in flight the
//! paused clock must not jump ahead (it would fire `TimeoutSeconds` before the answer arrives), so a
//! blocking guard holds it still until the answer comes, or for at most [`GRACE`] of real time: a
//! function slower than that (the cases' 60-second sleepers) lets virtual time run on, and the
//! task's timeout fires as it would on AWS.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use legion_connectors::config::LambdaConfig;
use legion_connectors::{Config, Router};
use legion_engine::dispatch::BoxFuture;
use legion_engine::{Dispatched, Engine, StartRequest, TaskDispatcher, TaskError, TaskRequest, TaskTokens};
use legion_testkit::lambda::{Behaviour, LambdaServer};
use serde_json::Value;

use crate::case::{LambdaFunction, ACCOUNT_ID, REGION};
use crate::runner::{Actual, ExecutionStatus};

/// How long the paused clock waits for a Lambda answer before letting virtual time run on.
pub const GRACE: Duration = Duration::from_secs(3);

/// The Lambda stand-in and the connector, on their own runtime.
struct LambdaSetup {
    io: tokio::runtime::Runtime,
    server: LambdaServer,
    router: Router,
    tokens: TaskTokens,
}

static SHARED: OnceLock<Result<Arc<LambdaSetup>, String>> = OnceLock::new();

fn shared() -> Result<Arc<LambdaSetup>, String> {
    SHARED
        .get_or_init(|| {
            // Built on a thread of its own: the caller may be inside another runtime.
            std::thread::spawn(|| {
                let io = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime: {e}"))?;
                let tokens = TaskTokens::new();
                let (server, router) = io.block_on(async {
                    let server = LambdaServer::start(ACCOUNT_ID, REGION).await.map_err(|e| e.to_string())?;
                    let config = Config {
                        lambda: LambdaConfig { endpoint: Some(server.url()), region: Some(REGION.to_owned()) },
                        ..Config::default()
                    };
                    let router = Router::builder(config, tokens.clone())
                        .region(REGION)
                        .build()
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>((server, router))
                })?;
                Ok(Arc::new(LambdaSetup { io, server, router, tokens }))
            })
            .join()
            .unwrap_or_else(|_| Err("the Lambda setup panicked".to_owned()))
        })
        .clone()
}

/// The stand-in behaviour for a recorded function description.
pub fn behaviour(description: &str) -> Option<Behaviour> {
    let d = description.trim();
    if d.starts_with("identity:") {
        return Some(Behaviour::Identity);
    }
    if let Some(rest) = d.strip_prefix("constant: returns ") {
        return serde_json::from_str::<Value>(rest.trim()).ok().map(Behaviour::Constant);
    }
    if d.starts_with("returns 257 KiB of 'a'") {
        return Some(Behaviour::LargeString(257 * 1024));
    }
    if d.starts_with("raises CustomException()") {
        return Some(Behaviour::Raise {
            error_type: "CustomException".to_owned(),
            message: String::new(),
            stack_trace: vec![
                "  File \"/var/task/handler.py\", line 9, in handler\n    raise CustomException()\n".to_owned()
            ],
        });
    }
    if let Some(rest) = d.strip_prefix("raises Exception(\"") {
        let message = rest.split_once("\")")?.0;
        return Some(Behaviour::exception(message));
    }
    if let Some(rest) = d.strip_prefix("sleeps ") {
        let seconds: u64 = rest.split_whitespace().next()?.parse().ok()?;
        if rest.contains("then returns the event") {
            return Some(Behaviour::Sleep(Duration::from_secs(seconds), Box::new(Behaviour::Identity)));
        }
    }
    // `returns the bytes b'…'`: a Python handler returning `bytes`, which the runtime sends unencoded.
    if let Some(rest) = d.strip_prefix("returns the bytes b'") {
        let (bytes, _) = rest.rsplit_once('\'')?;
        return Some(Behaviour::RawBytes(bytes.as_bytes().to_vec()));
    }
    if d.starts_with("returns the Python string f\"input-event-{event}\"") {
        return Some(Behaviour::FormatEvent("input-event-".to_owned()));
    }
    None
}

/// Runs one `lambda` case: deploys its functions, then runs the execution on a paused clock.
pub(crate) async fn run(functions: &[LambdaFunction], request: StartRequest) -> Actual {
    let setup = match shared() {
        Ok(s) => s,
        Err(e) => return failed("Legion.LambdaSetup", e),
    };
    for f in functions {
        match behaviour(&f.behaviour) {
            Some(b) => setup.server.add(&f.function_name, b),
            None => {
                return failed("Legion.UnknownFunctionBehaviour", format!("{}: {}", f.function_name, f.behaviour));
            }
        }
    }
    let handle = tokio::task::spawn_blocking(move || run_paused(setup, request));
    match handle.await {
        Ok(actual) => actual,
        Err(e) => failed("Legion.Panic", e.to_string()),
    }
}

fn failed(error: &str, cause: String) -> Actual {
    Actual::Execution {
        status: ExecutionStatus::Failed,
        output: None,
        error: Some(error.to_owned()),
        cause: Some(cause),
        history: Vec::new(),
    }
}

/// Hands calls to the connector on the real-time runtime, holding the paused clock meanwhile.
struct Bridge {
    setup: Arc<LambdaSetup>,
}

/// Aborts the call on the other runtime when the task no longer waits for it (a timeout).
struct AbortOnDrop(tokio::task::JoinHandle<Result<Dispatched, TaskError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TaskDispatcher for Bridge {
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'static, Result<Value, TaskError>> {
        let call = self.dispatch(request);
        Box::pin(async move {
            match call.await? {
                Dispatched::Done(v) | Dispatched::Submitted(v) => Ok(v),
            }
        })
    }

    fn dispatch(&self, request: TaskRequest) -> BoxFuture<'static, Result<Dispatched, TaskError>> {
        let router = self.setup.router.clone();
        let call = AbortOnDrop(self.setup.io.spawn(async move { router.dispatch(request).await }));
        Box::pin(async move {
            let (answered, wait) = std::sync::mpsc::channel::<()>();
            // A running blocking task keeps tokio's paused clock from advancing on its own.
            let _hold = tokio::task::spawn_blocking(move || {
                let _ = wait.recv_timeout(GRACE);
            });
            let mut call = call;
            let result = (&mut call.0).await;
            let _ = answered.send(());
            result.unwrap_or_else(|e| Err(TaskError::new("Legion.Panic", e.to_string())))
        })
    }

    fn completes_by_callback(&self, resource: &str) -> bool {
        self.setup.router.completes_by_callback(resource)
    }
}

fn run_paused(setup: Arc<LambdaSetup>, request: StartRequest) -> Actual {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build() {
        Ok(rt) => rt,
        Err(e) => return Actual::Skipped(format!("cannot start a runtime: {e}")),
    };
    let tokens = setup.tokens.clone();
    runtime.block_on(async move {
        let engine = Engine::builder()
            .account(ACCOUNT_ID, REGION)
            .time_scale(1.0)
            .task_tokens(tokens)
            .dispatcher(Arc::new(Bridge { setup }))
            .build();
        let (execution, outcome) = engine.run(request).await.expect("the execution starts");
        crate::engine_runner::actual(&execution, outcome)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_behaviour_has_a_stand_in() {
        for d in [
            "identity: returns the event unchanged",
            "returns 257 KiB of 'a' as bytes (> 256 KiB payload limit)",
            "raises CustomException() (class CustomException(Exception)) -> errorType \"CustomException\"",
            "raises Exception(\"Some exception was raised.\") -> Lambda function error, errorType \"Exception\"",
            "sleeps 60 s then returns the event (used to trigger TimeoutSeconds)",
            "returns the Python string f\"input-event-{event}\" (Python repr of the event)",
            "constant: returns {\"Return\": \"HelloWorld\"}",
        ] {
            assert!(behaviour(d).is_some(), "{d}");
        }
        assert!(behaviour("does something else").is_none());
    }
}

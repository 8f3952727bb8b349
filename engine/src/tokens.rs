//! Task tokens: how a callback task learns its result.
//!
//! A `.waitForTaskToken` task (or a task on a target that posts its result back, see
//! [`crate::TaskDispatcher::completes_by_callback`]) gets a fresh token before it is dispatched. The
//! token stays open until the task closes; meanwhile [`TaskTokens::succeed`], [`TaskTokens::fail`]
//! and [`TaskTokens::heartbeat`] reach the waiting task. These are what SendTaskSuccess,
//! SendTaskFailure and SendTaskHeartbeat do ([`Engine::send_task_success`]…), and what a connector's
//! callback listener calls when an asynchronous invocation reports back.
//!
//! A registry is cheap to clone; clones share their tokens. Build one first and hand it to both the
//! engine ([`crate::EngineBuilder::task_tokens`]) and the connectors that complete tokens.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::mpsc;

use crate::engine::Engine;

/// The longest token AWS accepts.
pub const MAX_TOKEN_LENGTH: usize = 2048;

/// How many closed tokens are remembered, to tell a late call that its task timed out.
const REMEMBERED_CLOSED: usize = 10_000;

/// Why a token could not be completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is empty or longer than 2048 characters (AWS's `InvalidToken`).
    #[error("Invalid Token: '{0}'")]
    InvalidToken(String),
    /// No open task has this token: it never existed or its task has closed (`TaskDoesNotExist`).
    #[error("Task Does Not Exist")]
    TaskDoesNotExist,
    /// The task of this token timed out (`TaskTimedOut`).
    #[error("Task Timed Out")]
    TaskTimedOut,
    /// The store that routes answers between instances failed; the answer may be sent again.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What reaches a waiting task.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TokenSignal {
    /// SendTaskSuccess: the task's result.
    Success(Value),
    /// SendTaskFailure: the task's error and cause (either may be missing).
    Failure {
        /// The error name.
        error: Option<String>,
        /// The cause.
        cause: Option<String>,
    },
    /// SendTaskHeartbeat: the task is still being worked on.
    Heartbeat,
}

/// How a task's token was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    Finished,
    TimedOut,
}

#[derive(Default)]
struct Inner {
    open: HashMap<String, mpsc::UnboundedSender<TokenSignal>>,
    closed: HashMap<String, Closed>,
    closed_order: VecDeque<String>,
}

impl Inner {
    fn close(&mut self, token: &str, how: Closed) {
        self.open.remove(token);
        if self.closed.insert(token.to_owned(), how).is_none() {
            self.closed_order.push_back(token.to_owned());
            while self.closed_order.len() > REMEMBERED_CLOSED {
                if let Some(old) = self.closed_order.pop_front() {
                    self.closed.remove(&old);
                }
            }
        }
    }
}

/// The open task tokens of an engine.
#[derive(Clone, Default)]
pub struct TaskTokens {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for TaskTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskTokens").field("open", &self.lock().open.len()).finish()
    }
}

impl TaskTokens {
    /// An empty registry.
    pub fn new() -> TaskTokens {
        TaskTokens::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Mints and opens a token; the returned waiter receives its signals and closes it when dropped.
    pub fn open(&self) -> TokenWaiter {
        self.open_as(new_token())
    }

    /// Opens the token derived from a durable execution's secret `seed` and the id of the event
    /// its task follows: the same task run again after a restart gets the same token, so an answer
    /// to the token handed out before the restart is still accepted. A fresh token without a seed.
    pub fn open_derived(&self, seed: Option<uuid::Uuid>, event_id: u64) -> TokenWaiter {
        match seed {
            Some(seed) => {
                let half = |n: u8| {
                    uuid::Uuid::new_v5(&seed, &[&event_id.to_be_bytes()[..], &[n]].concat()).simple().to_string()
                };
                let token = format!("{}{}", half(0), half(1));
                if self.is_open(&token) {
                    return self.open();
                }
                self.open_as(token)
            }
            None => self.open(),
        }
    }

    fn open_as(&self, token: String) -> TokenWaiter {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().open.insert(token.clone(), tx);
        TokenWaiter { token, rx, tokens: self.clone(), closed_as: Closed::Finished }
    }

    /// True while `token` belongs to a task that is waiting.
    pub fn is_open(&self, token: &str) -> bool {
        self.lock().open.contains_key(token)
    }

    /// How many tokens are open.
    pub fn open_count(&self) -> usize {
        self.lock().open.len()
    }

    /// Resolves when the task waiting on `token` has closed it (it ended, timed out, or its execution
    /// was stopped); at once when no task waits on it. Connectors that work on behalf of a task (a
    /// nested execution) use it to stop when the task is gone.
    pub fn closed(&self, token: &str) -> impl std::future::Future<Output = ()> + Send + 'static {
        let sender = self.lock().open.get(token).cloned();
        async move {
            if let Some(tx) = sender {
                tx.closed().await;
            }
        }
    }

    /// Completes the task of `token` with `output` (SendTaskSuccess).
    pub fn succeed(&self, token: &str, output: Value) -> Result<(), TokenError> {
        self.signal(token, TokenSignal::Success(output))
    }

    /// Fails the task of `token` (SendTaskFailure).
    pub fn fail(&self, token: &str, error: Option<String>, cause: Option<String>) -> Result<(), TokenError> {
        self.signal(token, TokenSignal::Failure { error, cause })
    }

    /// Resets the heartbeat clock of the task of `token` (SendTaskHeartbeat).
    pub fn heartbeat(&self, token: &str) -> Result<(), TokenError> {
        self.signal(token, TokenSignal::Heartbeat)
    }

    /// Sends a signal; a terminal one closes the token at once, so a second answer is refused.
    pub fn signal(&self, token: &str, signal: TokenSignal) -> Result<(), TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LENGTH {
            return Err(TokenError::InvalidToken(token.to_owned()));
        }
        let mut inner = self.lock();
        let Some(tx) = inner.open.get(token) else {
            return Err(match inner.closed.get(token) {
                Some(Closed::TimedOut) => TokenError::TaskTimedOut,
                _ => TokenError::TaskDoesNotExist,
            });
        };
        let terminal = !matches!(signal, TokenSignal::Heartbeat);
        if tx.send(signal).is_err() {
            inner.close(token, Closed::Finished);
            return Err(TokenError::TaskDoesNotExist);
        }
        if terminal {
            inner.close(token, Closed::Finished);
        }
        Ok(())
    }
}

/// The waiting side of one open token. Dropping it closes the token.
#[derive(Debug)]
pub struct TokenWaiter {
    token: String,
    rx: mpsc::UnboundedReceiver<TokenSignal>,
    tokens: TaskTokens,
    closed_as: Closed,
}

impl TokenWaiter {
    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The next signal; `None` only if the registry was torn down.
    pub async fn next(&mut self) -> Option<TokenSignal> {
        self.rx.recv().await
    }

    /// Marks the task as timed out, so late calls get [`TokenError::TaskTimedOut`].
    pub fn timed_out(&mut self) {
        self.closed_as = Closed::TimedOut;
    }
}

impl Drop for TokenWaiter {
    fn drop(&mut self) {
        self.tokens.lock().close(&self.token, self.closed_as);
    }
}

/// A new opaque token: 64 random hexadecimal digits.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    s
}

impl Engine {
    /// The engine's task tokens (for connectors that complete callback tasks).
    pub fn task_tokens(&self) -> &TaskTokens {
        &self.shared.tokens
    }

    /// SendTaskSuccess: completes the callback task of `token` with `output`.
    pub fn send_task_success(&self, token: &str, output: Value) -> Result<(), TokenError> {
        self.shared.tokens.succeed(token, output)
    }

    /// SendTaskFailure: fails the callback task of `token` with `error` and `cause`.
    pub fn send_task_failure(
        &self,
        token: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<(), TokenError> {
        self.shared.tokens.fail(token, error, cause)
    }

    /// SendTaskHeartbeat: restarts the heartbeat clock of the callback task of `token`.
    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), TokenError> {
        self.shared.tokens.heartbeat(token)
    }

    /// SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat from the API: to a task of this engine,
    /// or, when the store is shared by several engines, to the engine that runs the task's execution.
    pub async fn answer_task(&self, token: &str, signal: TokenSignal) -> Result<(), TokenError> {
        let store = &self.shared.executions.store;
        if store.lease().is_none() {
            return self.shared.tokens.signal(token, signal);
        }
        // Kept in case the task waits on another engine.
        match self.shared.tokens.signal(token, signal.clone()) {
            Err(TokenError::TaskDoesNotExist) => {
                let signal = crate::store::Signal::Token { token: token.to_owned(), signal };
                match store.send(signal).await? {
                    crate::store::Sent::Queued => Ok(()),
                    _ => Err(TokenError::TaskDoesNotExist),
                }
            }
            answered => answered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_token_takes_one_answer_then_refuses_more() {
        let tokens = TaskTokens::new();
        let mut waiter = tokens.open();
        let token = waiter.token().to_owned();
        assert_eq!(token.len(), 64);
        assert!(tokens.is_open(&token));
        tokens.heartbeat(&token).unwrap();
        tokens.succeed(&token, json!({"ok": true})).unwrap();
        assert_eq!(tokens.succeed(&token, json!(1)), Err(TokenError::TaskDoesNotExist));
        assert_eq!(waiter.next().await, Some(TokenSignal::Heartbeat));
        assert_eq!(waiter.next().await, Some(TokenSignal::Success(json!({"ok": true}))));
        drop(waiter);
        assert!(!tokens.is_open(&token));
        assert_eq!(tokens.open_count(), 0);
    }

    #[test]
    fn timed_out_and_unknown_and_malformed_tokens_are_told_apart() {
        let tokens = TaskTokens::new();
        let mut waiter = tokens.open();
        let token = waiter.token().to_owned();
        waiter.timed_out();
        drop(waiter);
        assert_eq!(tokens.heartbeat(&token), Err(TokenError::TaskTimedOut));
        assert_eq!(tokens.fail("nope", None, None), Err(TokenError::TaskDoesNotExist));
        assert!(matches!(tokens.heartbeat(""), Err(TokenError::InvalidToken(_))));
        assert!(matches!(tokens.heartbeat(&"x".repeat(2049)), Err(TokenError::InvalidToken(_))));
    }
}

//! Back-pressure per target: at most N calls in flight (a semaphore) and at most R calls started per
//! second (a governor rate limiter), configured by target pattern (`lambda:*`, `openfaas:resize`,
//! `http:api.example.com`). Each target matching a rule gets its own semaphore and limiter.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LimitConfig;
use crate::routing::glob_match;

struct TargetLimit {
    concurrency: Option<Arc<Semaphore>>,
    rate: Option<DefaultDirectRateLimiter>,
}

/// The limits of every target.
#[derive(Default)]
pub struct Limits {
    rules: Vec<LimitConfig>,
    targets: Mutex<HashMap<String, Arc<TargetLimit>>>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("rules", &self.rules).finish()
    }
}

/// Held while a call is in flight.
#[derive(Debug)]
pub struct Permit {
    _concurrency: Option<OwnedSemaphorePermit>,
}

impl Limits {
    /// Limits from configuration.
    pub fn new(rules: Vec<LimitConfig>) -> Limits {
        Limits { rules, targets: Mutex::new(HashMap::new()) }
    }

    /// True when no target has limits (then [`Limits::acquire`] never waits).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn limit_for(&self, target: &str) -> Option<Arc<TargetLimit>> {
        let rule = self.rules.iter().find(|r| glob_match(&r.target, target))?;
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let limit = targets.entry(target.to_owned()).or_insert_with(|| {
            Arc::new(TargetLimit {
                concurrency: rule.max_concurrency.map(|n| Arc::new(Semaphore::new(n.max(1)))),
                rate: rule.per_second.and_then(NonZeroU32::new).map(|r| RateLimiter::direct(Quota::per_second(r))),
            })
        });
        Some(limit.clone())
    }

    /// Waits until `target` may take one more call: first a concurrency slot, then a rate token.
    pub async fn acquire(&self, target: &str) -> Permit {
        let Some(limit) = self.limit_for(target) else { return Permit { _concurrency: None } };
        let permit = match &limit.concurrency {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        if let Some(rate) = &limit.rate {
            rate.until_ready().await;
        }
        Permit { _concurrency: permit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrency_is_bounded_per_target() {
        let limits = Arc::new(Limits::new(vec![LimitConfig {
            target: "lambda:*".into(),
            max_concurrency: Some(2),
            per_second: None,
        }]));
        let a = limits.acquire("lambda:f").await;
        let _b = limits.acquire("lambda:f").await;
        // A third call on the same target waits; another target does not.
        let _other = limits.acquire("lambda:g").await;
        let _unlimited = limits.acquire("openfaas:x").await;
        let l = limits.clone();
        let third = tokio::spawn(async move { l.acquire("lambda:f").await });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        drop(a);
        third.await.expect("the third call proceeds once a slot is free");
    }
}

//! Local stand-ins for Legion's task targets, for tests, the conformance runner and the examples.
//!
//! Each one is a real HTTP server on 127.0.0.1 that speaks its target's wire protocol as the real
//! service does, so that Legion's connectors are exercised end to end through their real clients:
//!
//! - [`lambda::LambdaServer`]: the AWS Lambda Invoke API, with functions whose
//!   [`lambda::Behaviour`] is described in Rust (echo, raise, sleep, throttle…);
//! - [`openfaas::Gateway`]: an OpenFaaS gateway (`/function/{name}`, `/async-function/{name}`) with
//!   queue workers that post results to `X-Callback-Url`;
//! - [`faults::FaultProxy`]: a proxy in front of any of them that injects HTTP errors, dropped
//!   connections, stalls, truncated, non-JSON and trickled answers;
//! - [`watchdog::Watchdog`]: a function as its own HTTP server (body in, body out), as OpenFaaS's
//!   watchdog serves it behind the gateway.

pub mod faults;
pub mod http;
pub mod lambda;
pub mod openfaas;
pub mod outage;
pub mod postgres;
pub mod python;
pub mod watchdog;

/// The URL of an external server a test needs, from the environment variable `var` (`.ci/run` starts
/// one and sets it). Outside CI, when it is unset, prints one `SKIPPED` line naming `what` and
/// returns `None`; under CI (`CI` set), panics: CI must never skip.
pub fn external_server(var: &str, what: &str) -> Option<String> {
    let url = std::env::var(var).map(|u| u.trim().to_owned()).unwrap_or_default();
    if !url.is_empty() {
        return Some(url);
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("{var} must name {what} under CI (.ci/run starts it)");
    }
    eprintln!("SKIPPED: no {what}; set {var} to its URL (.ci/run starts it)");
    None
}

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
pub mod python;
pub mod watchdog;

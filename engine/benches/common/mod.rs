//! Definitions and a runtime shared by the engine benchmarks.

#![allow(dead_code)] // Each benchmark uses a subset of these helpers.

use std::sync::Arc;

use legion_asl::model::StateMachine;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::{Engine, ExecutionStatus, StartRequest};
use serde_json::{json, Map, Value};

/// How many states [`pass_chain_definition`] has.
pub const CHAIN_LENGTH: usize = 200;

/// A chain of `n` Pass states. Even states set a small `Result` at `$.r`; odd states build
/// `Parameters` from the input and put them at `$.p`.
pub fn pass_chain_definition(n: usize) -> String {
    let mut states = Map::new();
    for i in 0..n {
        let mut state = if i % 2 == 0 {
            json!({"Type": "Pass", "Result": {"step": i, "ok": true}, "ResultPath": "$.r"})
        } else {
            json!({"Type": "Pass", "Parameters": {"step.$": "$.r.step", "label": "odd"}, "ResultPath": "$.p"})
        };
        let fields = state.as_object_mut().expect("object");
        if i + 1 == n {
            fields.insert("End".into(), json!(true));
        } else {
            fields.insert("Next".into(), json!(format!("S{}", i + 1)));
        }
        states.insert(format!("S{i}"), state);
    }
    json!({"Comment": "Pass chain", "StartAt": "S0", "States": states}).to_string()
}

/// An inline Map over `$.items` whose item processor is a single Pass state.
pub fn inline_map_definition(max_concurrency: u64) -> String {
    json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "End": true}}
                },
                "End": true
            }
        }
    })
    .to_string()
}

/// `{"items": [0, 1, …, n-1]}`.
pub fn items_input(n: usize) -> Value {
    json!({ "items": (0..n).collect::<Vec<_>>() })
}

/// Parses a definition that must be valid.
pub fn machine(definition: &str) -> Arc<StateMachine> {
    Arc::new(parse_str(definition, ParseOptions::default()).expect("valid definition"))
}

/// An engine that skips every delay.
///
/// An engine keeps every execution it ran (record and history) for as long as it lives, so each
/// measured run gets a fresh one: otherwise the retained histories grow without bound over a
/// benchmark and the figures drift upward with memory use.
pub fn engine() -> Engine {
    Engine::builder().time_scale(0.0).build()
}

/// A single-threaded runtime: executions run on the thread that blocks on them.
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// A multi-threaded runtime with the default worker count.
pub fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// Runs one execution to its end on `engine`, checks that it succeeded, and drops the engine (and
/// with it the execution's history) before returning the output.
pub async fn run_once(engine: Engine, machine: &Arc<StateMachine>, input: Value) -> Value {
    let (_, outcome) =
        engine.run(StartRequest::new(machine.clone(), "bench", input)).await.expect("the execution starts");
    drop(engine);
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    outcome.output.expect("output")
}

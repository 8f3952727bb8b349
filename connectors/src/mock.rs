//! Step Functions Local's mocked service integrations (`MockConfigFile.json`).
//!
//! `StateMachines.<machine>.TestCases.<case>.<state>` names a mocked response;
//! `MockedResponses.<name>` maps invocation numbers (`"0"`, or an inclusive range `"1-2"`) to
//! `{"Return": value}` or `{"Throw": {"Error": …, "Cause": …}}`. Invocations are counted from 0 per
//! execution and state, retries included. A state the test case names but whose invocation has no
//! response fails the execution (`States.Runtime`), as Step Functions Local does; states the test
//! case does not name call their real targets.
//!
//! The test case of an execution is chosen with [`Mocks::assign`] (the API server's
//! `stateMachineArn#TestCase`) or for every execution with [`Mocks::with_default_test_case`]
//! (`legion run --test-case NAME`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use legion_engine::TaskError;
use serde_json::Value;

use crate::config::ConfigError;

/// A mocked answer.
#[derive(Debug, Clone, PartialEq)]
pub enum MockAnswer {
    /// `Return`: the task's result.
    Return(Value),
    /// `Throw`: the task's error.
    Throw(TaskError),
}

#[derive(Debug, Clone)]
struct Response {
    first: u64,
    last: u64,
    answer: MockAnswer,
}

/// A parsed mock configuration.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    /// machine → test case → state → response name.
    machines: HashMap<String, HashMap<String, HashMap<String, String>>>,
    /// response name → responses by invocation range.
    responses: HashMap<String, Vec<Response>>,
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

impl MockConfig {
    /// Reads a mock configuration file.
    pub fn load(path: &Path) -> Result<MockConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let value: Value =
            serde_json::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })?;
        MockConfig::from_value(&value)
    }

    /// Parses a mock configuration document.
    pub fn from_value(doc: &Value) -> Result<MockConfig, ConfigError> {
        let mut config = MockConfig::default();
        let machines = doc.get("StateMachines").and_then(Value::as_object);
        for (machine, spec) in machines.into_iter().flatten() {
            let cases = spec
                .get("TestCases")
                .and_then(Value::as_object)
                .ok_or_else(|| invalid(format!("StateMachines.{machine} needs TestCases")))?;
            let mut parsed = HashMap::new();
            for (case, states) in cases {
                let states =
                    states.as_object().ok_or_else(|| invalid(format!("test case {case} must be an object")))?;
                let mut map = HashMap::new();
                for (state, response) in states {
                    let name = response
                        .as_str()
                        .ok_or_else(|| invalid(format!("{case}.{state} must name a mocked response")))?;
                    map.insert(state.clone(), name.to_owned());
                }
                parsed.insert(case.clone(), map);
            }
            config.machines.insert(machine.clone(), parsed);
        }
        let responses = doc.get("MockedResponses").and_then(Value::as_object);
        for (name, spec) in responses.into_iter().flatten() {
            let spec = spec.as_object().ok_or_else(|| invalid(format!("MockedResponses.{name} must be an object")))?;
            let mut list = Vec::new();
            for (key, body) in spec {
                let (first, last) = parse_range(key).ok_or_else(|| {
                    invalid(format!("MockedResponses.{name}: '{key}' is not an invocation number or range"))
                })?;
                let answer = parse_answer(body).ok_or_else(|| {
                    invalid(format!(
                        "MockedResponses.{name}.{key} needs exactly one of Return and Throw {{Error, Cause}}"
                    ))
                })?;
                list.push(Response { first, last, answer });
            }
            config.responses.insert(name.clone(), list);
        }
        for cases in config.machines.values() {
            for states in cases.values() {
                for response in states.values() {
                    if !config.responses.contains_key(response) {
                        return Err(invalid(format!("the mocked response '{response}' is not defined")));
                    }
                }
            }
        }
        Ok(config)
    }

    /// The names of the configured state machines.
    pub fn machines(&self) -> impl Iterator<Item = &str> {
        self.machines.keys().map(String::as_str)
    }
}

fn parse_range(key: &str) -> Option<(u64, u64)> {
    match key.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => {
            let n = key.trim().parse().ok()?;
            Some((n, n))
        }
    }
}

fn parse_answer(body: &Value) -> Option<MockAnswer> {
    let obj = body.as_object()?;
    match (obj.get("Return"), obj.get("Throw")) {
        (Some(v), None) => Some(MockAnswer::Return(v.clone())),
        (None, Some(t)) => {
            let error = t.get("Error")?.as_str()?.to_owned();
            let cause = t.get("Cause").and_then(Value::as_str).map(str::to_owned);
            Some(MockAnswer::Throw(TaskError { error, cause }))
        }
        _ => None,
    }
}

/// The state machine's name in an execution ARN (standard or express).
pub fn machine_name(execution_arn: &str) -> Option<&str> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "states", _, _, "execution" | "express", machine, ..] => Some(machine),
        _ => None,
    }
}

/// Mocked answers for running executions: which test case each one uses and how often each state
/// has been invoked.
#[derive(Debug, Default)]
pub struct Mocks {
    config: MockConfig,
    default_test_case: Option<String>,
    assigned: Mutex<HashMap<String, String>>,
    counts: Mutex<HashMap<(String, String), u64>>,
}

impl Mocks {
    /// Mocks from a configuration.
    pub fn new(config: MockConfig) -> Mocks {
        Mocks { config, ..Mocks::default() }
    }

    /// Uses `test_case` for every execution not assigned one.
    pub fn with_default_test_case(mut self, test_case: impl Into<String>) -> Mocks {
        self.default_test_case = Some(test_case.into());
        self
    }

    /// Uses `test_case` for the execution `execution_arn` (call it before starting the execution).
    pub fn assign(&self, execution_arn: &str, test_case: &str) {
        self.assigned.lock().unwrap_or_else(|e| e.into_inner()).insert(execution_arn.to_owned(), test_case.to_owned());
    }

    /// Forgets an execution that has ended.
    pub fn forget(&self, execution_arn: &str) {
        self.assigned.lock().unwrap_or_else(|e| e.into_inner()).remove(execution_arn);
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).retain(|(e, _), _| e != execution_arn);
    }

    /// The mocked answer for this invocation of `state` in `execution_arn`, counting it; `None` when
    /// the state is not mocked in the execution's test case.
    pub fn answer(&self, execution_arn: &str, state: &str) -> Option<Result<MockAnswer, TaskError>> {
        let case = self
            .assigned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(execution_arn)
            .cloned()
            .or_else(|| self.default_test_case.clone())?;
        let machine = machine_name(execution_arn).unwrap_or_default();
        // A configuration with a single machine serves whatever name the execution was given.
        let cases =
            self.config.machines.get(machine).or_else(|| {
                (self.config.machines.len() == 1).then(|| self.config.machines.values().next()).flatten()
            })?;
        let response_name = cases.get(&case)?.get(state)?;
        let n = {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            let c = counts.entry((execution_arn.to_owned(), state.to_owned())).or_insert(0);
            let n = *c;
            *c += 1;
            n
        };
        let responses = self.config.responses.get(response_name)?;
        Some(match responses.iter().find(|r| r.first <= n && n <= r.last) {
            Some(r) => Ok(r.answer.clone()),
            None => Err(TaskError::new(
                "States.Runtime",
                format!("No mocked response for invocation {n} of state '{state}' (mocked response '{response_name}', test case '{case}')"),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry"}
            }}},
            "MockedResponses": {
                "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "hi"}}}},
                "MockedLambdaRetry": {
                    "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
                    "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "timed out"}},
                    "3": {"Return": {"StatusCode": 200}}
                }
            }
        })
    }

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:LambdaSQSIntegration:run-1";

    #[test]
    fn invocation_numbers_and_ranges_pick_responses() {
        let mocks = Mocks::new(MockConfig::from_value(&doc()).unwrap());
        mocks.assign(ARN, "RetryPath");
        let errors: Vec<String> = (0..3)
            .map(|_| match mocks.answer(ARN, "LambdaState") {
                Some(Ok(MockAnswer::Throw(e))) => e.error,
                other => panic!("expected a Throw, got {other:?}"),
            })
            .collect();
        assert_eq!(errors, ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException"]);
        assert_eq!(mocks.answer(ARN, "LambdaState"), Some(Ok(MockAnswer::Return(json!({"StatusCode": 200})))));
        assert!(matches!(mocks.answer(ARN, "LambdaState"), Some(Err(e)) if e.error == "States.Runtime"));
        assert_eq!(mocks.answer(ARN, "SQSState"), None);
    }

    #[test]
    fn the_default_test_case_applies_to_unassigned_executions() {
        let mocks = Mocks::new(MockConfig::from_value(&doc()).unwrap()).with_default_test_case("HappyPath");
        let other = "arn:aws:states:us-east-1:123456789012:execution:AnyName:x";
        assert!(matches!(mocks.answer(other, "LambdaState"), Some(Ok(MockAnswer::Return(_)))));
        assert_eq!(Mocks::new(MockConfig::from_value(&doc()).unwrap()).answer(ARN, "LambdaState"), None);
    }

    #[test]
    fn malformed_documents_are_refused() {
        assert!(MockConfig::from_value(&json!({"MockedResponses": {"R": {"x": {"Return": 1}}}})).is_err());
        assert!(MockConfig::from_value(&json!({"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}})).is_err());
        assert!(
            MockConfig::from_value(&json!({"StateMachines": {"M": {"TestCases": {"C": {"S": "Missing"}}}}})).is_err()
        );
        assert_eq!(machine_name("arn:aws:states:r:1:express:M:n:u"), Some("M"));
    }
}

//! Runs the `other-service` cases: nested executions on the engine itself, other AWS services on the
//! AWS-compatible server `AWS_ENDPOINT_URL` names (moto_server in CI). Each case's `setup_calls` are
//! made there first (queues, topics, tables…), its helper fixtures run beside the execution (queue
//! pollers answering task tokens as the recording's test did), its `other_state_machines` become the
//! machines its executions may start, and its Lambda functions run on the stand-in of
//! `legion-testkit`. Without `AWS_ENDPOINT_URL`, cases that need another AWS service are skipped.
//!
//! These cases run in real time: their task timeouts bound real calls. They share one server, so run
//! them one at a time (`--concurrency 1`) when a case lists what others create (`listSecrets`).

use std::collections::BTreeMap;
use std::sync::Arc;

use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse, ParseOptions};
use legion_connectors::aws::{model, names, AwsClient};
use legion_connectors::config::LambdaConfig;
use legion_connectors::http::HttpClient;
use legion_connectors::nested::{NestedMachine, StaticCatalog};
use legion_connectors::{Config, Router};
use legion_engine::{Engine, StartRequest, TaskTokens};
use legion_testkit::lambda::LambdaServer;
use serde_json::{json, Value};

use crate::case::{Case, ExecutionSpec, NormalizeSpec, SetupCall, TestRule, ACCOUNT_ID, REGION};
use crate::runner::{Actual, ExecutionStatus};

/// The needs this runner meets.
pub(crate) const NEEDS: &[&str] = &[
    "sqs",
    "sns",
    "dynamodb",
    "events",
    "secretsmanager",
    "states",
    "callback",
    "iam-credentials",
    "api:stop_execution",
];

/// The needs that take an AWS-compatible server (`iam-credentials`: a role made there, assumed
/// through its STS).
const AWS_SERVICES: &[&str] = &["sqs", "sns", "dynamodb", "events", "secretsmanager", "iam-credentials"];

/// True when this runner should take the case.
pub(crate) fn handles(case: &Case) -> bool {
    case.needs.iter().any(|n| NEEDS.contains(&n.as_str())) && !case.needs.iter().any(|n| n == "activity")
}

/// The AWS-compatible server, if one is named.
fn endpoint() -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty())
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

/// Runs one case.
pub(crate) async fn run(case: &Case, spec: &ExecutionSpec, request: StartRequest) -> Actual {
    let from_setup = spec.resources.setup_calls.iter().map(|c| &c.service);
    if let Some(service) = case.needs.iter().chain(from_setup).find(|n| AWS_SERVICES.contains(&n.as_str())) {
        if endpoint().is_none() {
            return Actual::Skipped(format!(
                "needs the '{service}' integration: set AWS_ENDPOINT_URL to an AWS-compatible server (moto_server)"
            ));
        }
    }
    match Setup::start(spec).await {
        Ok(setup) => setup.run(case, spec, request).await,
        Err(e) => failed("Legion.Setup", e),
    }
}

struct Setup {
    engine: Engine,
    aws: Arc<AwsClient>,
    // Kept running while the case runs.
    _lambda: Option<LambdaServer>,
}

impl Setup {
    async fn start(spec: &ExecutionSpec) -> Result<Setup, String> {
        let lambda = if spec.resources.lambda_functions.is_empty() {
            None
        } else {
            let server = LambdaServer::start(ACCOUNT_ID, REGION).await.map_err(|e| e.to_string())?;
            for f in &spec.resources.lambda_functions {
                let b = crate::lambda_setup::behaviour(&f.behaviour)
                    .ok_or_else(|| format!("{}: {}", f.function_name, f.behaviour))?;
                server.add(&f.function_name, b);
            }
            Some(server)
        };
        let tokens = TaskTokens::new();
        let config = Config {
            lambda: LambdaConfig { endpoint: lambda.as_ref().map(LambdaServer::url), region: Some(REGION.to_owned()) },
            ..Config::default()
        };
        let router = Router::builder(config, tokens.clone()).region(REGION).build().await.map_err(|e| e.to_string())?;
        let engine = Engine::builder()
            .account(ACCOUNT_ID, REGION)
            .time_scale(1.0)
            .task_tokens(tokens)
            .dispatcher(Arc::new(router.clone()))
            .build();
        let mut catalog = StaticCatalog::new();
        for m in &spec.resources.other_state_machines {
            let machine_type = if m.machine_type.eq_ignore_ascii_case("EXPRESS") {
                StateMachineType::Express
            } else {
                StateMachineType::Standard
            };
            let parsed = parse(&m.definition, ParseOptions { state_machine_type: machine_type })
                .map_err(|d| legion_asl::diagnostic::invalid_definition_message(&d))?;
            let machine =
                NestedMachine { machine: Arc::new(parsed), name: m.name.clone(), machine_type, role_arn: None };
            catalog.insert(m.arn.clone(), machine);
        }
        router.step_functions().attach(engine.clone(), Arc::new(catalog));
        let aws = Arc::new(AwsClient::new(HttpClient::new(), BTreeMap::new(), REGION));
        Ok(Setup { engine, aws, _lambda: lambda })
    }

    async fn run(self, case: &Case, spec: &ExecutionSpec, request: StartRequest) -> Actual {
        // Secrets are account-wide and listed by other cases: those a case makes are removed after it.
        let secrets = case.needs.iter().any(|n| n == "secretsmanager");
        let before = if secrets { self.secret_names().await } else { Vec::new() };
        let actual = self.run_case(case, spec, request).await;
        if secrets {
            for name in self.secret_names().await.into_iter().filter(|n| !before.contains(n)) {
                let params = json!({"SecretId": name, "ForceDeleteWithoutRecovery": true});
                let _ = self.aws_call("secretsmanager", "DeleteSecret", &params, &[]).await;
            }
        }
        actual
    }

    async fn secret_names(&self) -> Vec<String> {
        let listed = self.aws_call("secretsmanager", "ListSecrets", &json!({}), &[]).await.unwrap_or_default();
        let list = listed.get("SecretList").and_then(Value::as_array).cloned().unwrap_or_default();
        list.iter().filter_map(|s| s.get("Name").and_then(Value::as_str).map(str::to_owned)).collect()
    }

    async fn run_case(&self, case: &Case, spec: &ExecutionSpec, mut request: StartRequest) -> Actual {
        let mut helpers = Vec::new();
        let mut results = Vec::new();
        for call in &spec.resources.setup_calls {
            match self.setup_call(call).await {
                Ok(Made::Helper(helper)) => helpers.push(helper),
                Ok(Made::Result(value)) => results.push(FixtureResult::new(&call.op, value)),
                Ok(Made::Nothing) => {}
                Err(e) => return failed("Legion.Setup", format!("{} {}: {e}", call.service, call.op)),
            }
        }
        for r in &results {
            r.substitute(&mut request.input);
        }
        let execution = match self.engine.start(request).await {
            Ok(e) => e,
            Err(e) => return failed("Legion.Setup", e.to_string()),
        };
        if case.needs.iter().any(|n| n == "api:stop_execution") {
            let _ = self.engine.stop_execution(execution.arn(), None, None).await;
        }
        let outcome = execution.outcome().await;
        for h in helpers {
            h.abort();
        }
        let actual = crate::engine_runner::actual(&execution, outcome);
        results.iter().fold(actual, |a, r| r.normalize(&case.normalize, a))
    }

    /// Makes one setup call; a fixture that keeps working beside the execution comes back as a task,
    /// one that makes something the case's input names comes back with its result.
    async fn setup_call(&self, call: &SetupCall) -> Result<Made, String> {
        let args: Vec<Value> = match &call.args {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let queue = || args.first().and_then(Value::as_str).map(str::to_owned).ok_or("no queue URL".to_owned());
        match (call.service.as_str(), call.op.as_str()) {
            ("fixture", "sqs_send_task_success_state_machine") => {
                Ok(Made::Helper(self.answer(queue()?, Answer::Message)))
            }
            ("fixture", "sqs_send_task_failure_state_machine") => {
                Ok(Made::Helper(self.answer(queue()?, Answer::Failure)))
            }
            ("fixture", "sqs_receive_num_messages") => Ok(Made::Helper(self.answer(queue()?, Answer::Empty))),
            ("fixture", "create_cross_account_admin_role_and_policy") => {
                let trusted = call.kwargs.as_ref().and_then(|k| k.get("trusted_account_id")).and_then(Value::as_str);
                self.admin_role(trusted.unwrap_or(ACCOUNT_ID)).await.map(Made::Result)
            }
            // Queue policies and event rules delivering to a queue change nothing in what these
            // cases record: Legion checks no permissions and the results do not depend on delivery.
            ("fixture", "sns_allow_topic_sqs_queue" | "events_to_sqs_queue") => Ok(Made::Nothing),
            ("fixture", other) => Err(format!("the fixture '{other}' is not reproduced")),
            ("dynamodb", "create_table") => {
                let kwargs = call.kwargs.clone().unwrap_or_default();
                let table = kwargs.get("table_name").and_then(Value::as_str).unwrap_or_default();
                let key = kwargs.get("partition_key").and_then(Value::as_str).unwrap_or("id");
                let params = json!({
                    "TableName": table,
                    "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                });
                self.aws_call("dynamodb", "CreateTable", &params, &["ResourceInUseException"])
                    .await
                    .map(|_| Made::Nothing)
            }
            (service, op) => {
                let params = call.kwargs.clone().unwrap_or_else(|| json!({}));
                let operation: String = op.split('_').map(names::pascal).collect();
                self.aws_call(service, &operation, &params, &[]).await.map(|_| Made::Nothing)
            }
        }
    }

    /// The recording's `create_cross_account_admin_role_and_policy` fixture: a role in this account
    /// that `trusted_account` may assume, with a policy allowing everything; its ARN. (The fixture's
    /// code is not in the case: the role and policy names and the policy's form are Legion's.)
    async fn admin_role(&self, trusted_account: &str) -> Result<String, String> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let role_name = format!("cross-account-admin-{:08x}", nanos.subsec_nanos() ^ std::process::id());
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{trusted_account}:root")},
            "Action": "sts:AssumeRole",
        }]});
        let role = json!({"RoleName": role_name, "AssumeRolePolicyDocument": trust.to_string()});
        let made = self.aws_call("iam", "CreateRole", &role, &[]).await?;
        let arn = made.pointer("/Role/Arn").and_then(Value::as_str).ok_or("CreateRole gave no role ARN")?.to_owned();
        let admin =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let policy = json!({"PolicyName": format!("{role_name}-policy"), "PolicyDocument": admin.to_string()});
        let made = self.aws_call("iam", "CreatePolicy", &policy, &[]).await?;
        let policy_arn = made.pointer("/Policy/Arn").and_then(Value::as_str).ok_or("CreatePolicy gave no ARN")?;
        let attach = json!({"RoleName": role_name, "PolicyArn": policy_arn});
        self.aws_call("iam", "AttachRolePolicy", &attach, &[]).await?;
        Ok(arn)
    }

    async fn aws_call(
        &self,
        service: &str,
        operation: &str,
        params: &Value,
        tolerated: &[&str],
    ) -> Result<Value, String> {
        let name = if service == "events" { "eventbridge" } else { service };
        let m = model::model(name).ok_or_else(|| format!("no model of {service}"))?;
        match self.aws.call(name, m, operation, params).await {
            Ok(a) => Ok(a.result),
            Err(legion_connectors::aws::CallError::Service { code, .. }) if tolerated.contains(&code.as_str()) => {
                Ok(Value::Null)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Polls a queue for task tokens and answers them, as the recording's helper did.
    fn answer(&self, queue_url: String, answer: Answer) -> tokio::task::JoinHandle<()> {
        let (aws, engine) = (self.aws.clone(), self.engine.clone());
        tokio::spawn(async move {
            let Some(m) = model::model("sqs") else { return };
            loop {
                let params = json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1});
                let messages = match aws.call("sqs", m, "ReceiveMessage", &params).await {
                    Ok(a) => a.result.get("Messages").and_then(Value::as_array).cloned().unwrap_or_default(),
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                };
                for message in messages {
                    let body = message.get("Body").and_then(Value::as_str).unwrap_or_default();
                    let Some((token, content)) = token_of(body) else { continue };
                    let _ = match answer {
                        Answer::Message => {
                            engine.send_task_success(&token, content.get("Message").cloned().unwrap_or(Value::Null))
                        }
                        Answer::Empty => engine.send_task_success(&token, json!({})),
                        Answer::Failure => engine.send_task_failure(
                            &token,
                            Some("Failure error".to_owned()),
                            Some("Failure cause".to_owned()),
                        ),
                    };
                }
            }
        })
    }
}

/// What a setup call made.
enum Made {
    /// Something on the server, nothing to keep.
    Nothing,
    /// A helper working beside the execution.
    Helper(tokio::task::JoinHandle<()>),
    /// Something the case names by the fixture's result (a role ARN).
    Result(String),
}

/// A fixture's result. The recorded case keeps it only as a stand-in, `<op>-result`, in its input,
/// and the rule that rewrote it before recording as `<op>-result.pattern` (the rule's pattern was
/// the result itself): the runner puts the real result in the input and applies that rule to what
/// the execution produced, with the real result as its pattern.
struct FixtureResult {
    stand_in: String,
    value: String,
}

impl FixtureResult {
    fn new(op: &str, value: String) -> FixtureResult {
        FixtureResult { stand_in: format!("{op}-result"), value }
    }

    /// Replaces the stand-in by the result in every string of `input` that is the stand-in.
    fn substitute(&self, input: &mut Value) {
        match input {
            Value::String(s) if *s == self.stand_in => *s = self.value.clone(),
            Value::Array(items) => items.iter_mut().for_each(|v| self.substitute(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.substitute(v)),
            _ => {}
        }
    }

    /// Applies the case's rule for this result (if it has one) to the execution's output, error,
    /// cause and history.
    fn normalize(&self, spec: &NormalizeSpec, actual: Actual) -> Actual {
        let pattern = format!("{}.pattern", self.stand_in);
        let replacement = spec.test_rules.iter().find_map(|r| match r {
            TestRule::Regex { pattern: p, replacement } if *p == pattern => Some(replacement.as_str()),
            _ => None,
        });
        let (Some(replacement), Actual::Execution { status, output, error, cause, history }) =
            (replacement, actual.clone())
        else {
            return actual;
        };
        let text = |s: String| s.replace(&self.value, replacement);
        let json = |v: Value| serde_json::from_str(&text(v.to_string())).unwrap_or(Value::Null);
        Actual::Execution {
            status,
            output: output.map(json),
            error: error.map(text),
            cause: cause.map(text),
            history: history.into_iter().map(json).collect(),
        }
    }
}

/// How a queue helper answers the token it finds.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// SendTaskSuccess with the message's `Message` field.
    Message,
    /// SendTaskSuccess with `{}`.
    Empty,
    /// SendTaskFailure with `Failure error` / `Failure cause`.
    Failure,
}

/// The task token in a message body (directly, or inside an SNS notification's `Message`).
fn token_of(body: &str) -> Option<(String, Value)> {
    let v: Value = serde_json::from_str(body).ok()?;
    if let Some(t) = v.get("TaskToken").and_then(Value::as_str) {
        return Some((t.to_owned(), v.clone()));
    }
    let inner: Value = serde_json::from_str(v.get("Message")?.as_str()?).ok()?;
    let t = inner.get("TaskToken")?.as_str()?.to_owned();
    Some((t, inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pattern: &str) -> NormalizeSpec {
        NormalizeSpec {
            test_rules: vec![TestRule::Regex { pattern: pattern.into(), replacement: "<trusted_role_arn>".into() }],
        }
    }

    #[test]
    fn a_fixture_result_takes_the_place_of_its_stand_in_and_its_rule() {
        let r = FixtureResult::new("make_role", "arn:aws:iam::111111111111:role/r1".into());
        let mut input = json!({"RoleArn": "make_role-result", "List": ["make_role-result", "other"], "N": 1});
        r.substitute(&mut input);
        assert_eq!(
            input,
            json!({"RoleArn": "arn:aws:iam::111111111111:role/r1", "List": ["arn:aws:iam::111111111111:role/r1", "other"], "N": 1})
        );
        let actual = Actual::Execution {
            status: ExecutionStatus::Succeeded,
            output: Some(json!({"Role": "arn:aws:iam::111111111111:role/r1"})),
            error: None,
            cause: None,
            history: vec![json!({"type": "TaskScheduled", "roleArn": "arn:aws:iam::111111111111:role/r1"})],
        };
        let Actual::Execution { output, history, .. } = r.normalize(&spec("make_role-result.pattern"), actual.clone())
        else {
            panic!("an execution")
        };
        assert_eq!(output, Some(json!({"Role": "<trusted_role_arn>"})));
        assert_eq!(history[0]["roleArn"], json!("<trusted_role_arn>"));
        // Without the case's rule for it, nothing is rewritten.
        assert_eq!(r.normalize(&spec("another-result.pattern"), actual.clone()), actual);
    }
}

//! The [`Router`]: Legion's [`TaskDispatcher`] for real targets. It picks the connector by resource,
//! applies mocks first and routes second, and holds each call to its target's limits.
//!
//! | Resource | Connector |
//! |---|---|
//! | `arn:aws:states:::lambda:invoke[.waitForTaskToken]` | Lambda (or a route), AWS's envelope |
//! | `arn:aws:lambda:<region>:<account>:function:<name>` | Lambda (or a route), the bare answer |
//! | `arn:aws:states:::http:invoke` | HTTP Task |
//! | `arn:legion:states:::openfaas:invoke[.sync | .waitForTaskToken]` | OpenFaaS |
//! | `arn:aws:states:::aws-sdk:s3:<action>` | S3, when [`RouterBuilder::s3`] is set |
//! | `arn:aws:states:::states:startExecution[.sync | .sync:2 | .waitForTaskToken]`, `aws-sdk:sfn:*` | the same engine ([`crate::nested`]), once [`Router::step_functions`] is attached |
//! | `arn:aws:states:::sqs:sendMessage`, `sns:publish`, `dynamodb:*Item`, `events:putEvents` | the service, through [`crate::aws`] |
//! | `arn:aws:states:::aws-sdk:<service>:<action>` | the service, through [`crate::aws`] (AWS JSON and Query services whose model ships) |
//! | anything else | the fallback dispatcher, if one is set; else the task fails with `States.TaskFailed` |
//!
//! A routed Lambda call keeps Lambda's result shape (the envelope for `lambda:invoke`, the answer for
//! a bare ARN); when the target fails and its body is a Lambda-style error document (`errorType`),
//! that type is the error, otherwise the target's own error (`OpenFaaS.StatusCode.<n>`,
//! `States.Http.StatusCode.<n>`). Limits apply per target (`lambda:<name>`, `openfaas:<name>`,
//! `http:<host>`); for asynchronous OpenFaaS calls they bound the submissions, and the gateway's
//! queue workers bound the executions.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use legion_engine::dispatch::BoxFuture;
use legion_engine::{Dispatched, TaskDispatcher, TaskError, TaskRequest, TaskTokens};
use serde_json::Value;

use crate::aws::{AwsClient, Optimized};
use crate::callback::CallbackListener;
use crate::config::{Config, ConfigError};
use crate::http::{body_value, HttpClient, HttpTask};
use crate::lambda::{envelope, payload_bytes, Invoke, LambdaConnector, Shape};
use crate::limits::Limits;
use crate::mock::{MockAnswer, MockConfig, Mocks};
use crate::nested::{SfnTarget, StepFunctions};
use crate::openfaas::{FunctionCall, OpenFaas, ResultShape};
use crate::routing::{function_short_name, RouteTarget, Routes};
use crate::s3::S3Tasks;

/// Why the router could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The configuration (or the mock file) is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The callback listener could not listen.
    #[error("cannot start the callback listener: {0}")]
    Listener(std::io::Error),
}

/// How an OpenFaaS resource completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    Async,
    WaitForToken,
}

/// What a resource names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    LambdaInvoke { wait: bool },
    LambdaArn,
    HttpInvoke,
    OpenFaas(Mode),
    S3Sdk,
    StepFunctions(SfnTarget),
    Optimized(Optimized),
    AwsSdk,
    Other,
}

fn target(resource: &str) -> Target {
    match resource {
        "arn:aws:states:::lambda:invoke" => Target::LambdaInvoke { wait: false },
        "arn:aws:states:::lambda:invoke.waitForTaskToken" => Target::LambdaInvoke { wait: true },
        "arn:aws:states:::http:invoke" => Target::HttpInvoke,
        "arn:legion:states:::openfaas:invoke" => Target::OpenFaas(Mode::Sync),
        "arn:legion:states:::openfaas:invoke.sync" => Target::OpenFaas(Mode::Async),
        "arn:legion:states:::openfaas:invoke.waitForTaskToken" => Target::OpenFaas(Mode::WaitForToken),
        r if r.starts_with("arn:aws:lambda:") && r.contains(":function:") => Target::LambdaArn,
        r if S3Tasks::handles(r) => Target::S3Sdk,
        r => match (SfnTarget::parse(r), Optimized::parse(r), crate::aws::sdk_resource(r)) {
            (Some(sfn), _, _) => Target::StepFunctions(sfn),
            (_, Some(o), _) => Target::Optimized(o),
            (_, _, Some(_)) => Target::AwsSdk,
            _ => Target::Other,
        },
    }
}

struct Inner {
    lambda: LambdaConnector,
    openfaas: OpenFaas,
    http_task: HttpTask,
    http: HttpClient,
    routes: Routes,
    limits: Limits,
    mocks: Option<Arc<Mocks>>,
    s3: Option<S3Tasks>,
    aws: AwsClient,
    sfn: StepFunctions,
    fallback: Option<Arc<dyn TaskDispatcher>>,
    listener: Option<CallbackListener>,
}

/// Dispatches tasks to Lambda, OpenFaaS, HTTP and mocks.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("callback", &self.inner.listener.as_ref().map(|l| l.base_url().to_owned()))
            .finish()
    }
}

/// Builds a [`Router`].
pub struct RouterBuilder {
    config: Config,
    tokens: TaskTokens,
    region: String,
    mocks: Option<Mocks>,
    s3: Option<S3Tasks>,
    fallback: Option<Arc<dyn TaskDispatcher>>,
}

impl RouterBuilder {
    /// The region used when neither the configuration nor the environment names one.
    pub fn region(mut self, region: impl Into<String>) -> RouterBuilder {
        self.region = region.into();
        self
    }

    /// Uses these mocks instead of the configuration's `mock_config`.
    pub fn mocks(mut self, mocks: Mocks) -> RouterBuilder {
        self.mocks = Some(mocks);
        self
    }

    /// Carries out `arn:aws:states:::aws-sdk:s3:*` tasks with `s3` (the same endpoint the
    /// Distributed Map's item readers and result writers use).
    pub fn s3(mut self, s3: S3Tasks) -> RouterBuilder {
        self.s3 = Some(s3);
        self
    }

    /// Hands resources no connector knows to `fallback` (for example [`legion_engine::LocalHandlers`]).
    pub fn fallback(mut self, fallback: Arc<dyn TaskDispatcher>) -> RouterBuilder {
        self.fallback = Some(fallback);
        self
    }

    /// Builds the router on the current tokio runtime, starting the callback listener when an
    /// OpenFaaS gateway is configured.
    pub async fn build(self) -> Result<Router, RouterError> {
        let config = self.config;
        config.validate()?;
        let mocks = match (self.mocks, &config.mock_config) {
            (Some(m), _) => Some(m),
            (None, Some(path)) => {
                let m = Mocks::new(MockConfig::load(path)?);
                Some(match &config.test_case {
                    Some(case) => m.with_default_test_case(case.clone()),
                    None => m,
                })
            }
            (None, None) => None,
        };
        let listener = if config.openfaas.gateways.is_empty() {
            None
        } else {
            let addr = config.openfaas.callback.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
            let public = config.openfaas.callback.public_url.clone();
            Some(CallbackListener::start(self.tokens.clone(), addr, public).await.map_err(RouterError::Listener)?)
        };
        let http = HttpClient::new();
        let openfaas =
            OpenFaas::new(&config.openfaas, http.clone(), listener.as_ref().map(|l| l.base_url().to_owned()));
        let lambda = LambdaConnector::new(&config.lambda, &self.region).await;
        let aws = AwsClient::new(http.clone(), aws_services(&config), &self.region);
        Ok(Router {
            inner: Arc::new(Inner {
                lambda,
                openfaas,
                http_task: HttpTask::new(http.clone()),
                http,
                routes: Routes::new(config.routes.clone()),
                limits: Limits::new(config.limits.clone()),
                mocks: mocks.map(Arc::new),
                s3: self.s3,
                aws,
                sfn: StepFunctions::new(),
                fallback: self.fallback,
                listener,
            }),
        })
    }
}

impl Router {
    /// A builder for `config`, completing callback tasks through `tokens` (the engine's, see
    /// [`legion_engine::EngineBuilder::task_tokens`]).
    pub fn builder(config: Config, tokens: TaskTokens) -> RouterBuilder {
        RouterBuilder { config, tokens, region: "us-east-1".to_owned(), mocks: None, s3: None, fallback: None }
    }

    /// The mocks in use, to assign test cases to executions.
    pub fn mocks(&self) -> Option<&Arc<Mocks>> {
        self.inner.mocks.as_ref()
    }

    /// The Step Functions connector: attach the engine and its machines to it
    /// ([`StepFunctions::attach`]) to run nested executions.
    pub fn step_functions(&self) -> &StepFunctions {
        &self.inner.sfn
    }

    /// The base URL of the callback listener, when one runs.
    pub fn callback_url(&self) -> Option<&str> {
        self.inner.listener.as_ref().map(CallbackListener::base_url)
    }
}

impl Inner {
    /// Every connector but the HTTP Task's is awaited in a box of its own, so that a request's future
    /// holds only the connector it uses (a future holds its largest branch: thousands of concurrent
    /// children each held about 14 KiB before).
    async fn dispatch(&self, request: TaskRequest) -> Result<Dispatched, TaskError> {
        if let Some(mocks) = &self.mocks {
            if let Some(answer) = mocks.answer(&request.execution_arn, &request.state_name) {
                return match answer? {
                    MockAnswer::Return(v) => Ok(Dispatched::Done(v)),
                    MockAnswer::Throw(e) => Err(e),
                };
            }
        }
        match target(&request.resource) {
            Target::LambdaInvoke { wait } => {
                let mut invoke = Invoke::from_parameters(&request.input)?;
                let result = match self.routes.route(&invoke.function_name) {
                    Some(route) => {
                        let payload = invoke.payload.unwrap_or_default();
                        return Box::pin(self.routed(
                            route,
                            payload,
                            ResultShape::LambdaEnvelope,
                            request.task_token.as_deref(),
                            wait,
                        ))
                        .await;
                    }
                    None => {
                        let _permit = self
                            .limits
                            .acquire(&format!("lambda:{}", function_short_name(&invoke.function_name)))
                            .await;
                        invoke.credentials = Box::pin(self.task_credentials(&request)).await?;
                        Box::pin(self.lambda.invoke(invoke, Shape::Envelope)).await?
                    }
                };
                Ok(if wait { Dispatched::Submitted(result) } else { Dispatched::Done(result) })
            }
            Target::LambdaArn => {
                let payload = payload_bytes(Some(&Value::String(request.input.to_string()))).unwrap_or_default();
                match self.routes.route(&request.resource) {
                    Some(route) => {
                        Box::pin(self.routed(
                            route,
                            payload,
                            ResultShape::Payload,
                            request.task_token.as_deref(),
                            false,
                        ))
                        .await
                    }
                    None => {
                        let _permit =
                            self.limits.acquire(&format!("lambda:{}", function_short_name(&request.resource))).await;
                        let call = Invoke {
                            function_name: request.resource.to_string(),
                            payload: Some(payload),
                            credentials: Box::pin(self.task_credentials(&request)).await?,
                            ..Invoke::default()
                        };
                        Ok(Dispatched::Done(Box::pin(self.lambda.invoke(call, Shape::Payload)).await?))
                    }
                }
            }
            Target::HttpInvoke => {
                // The endpoint's host names the target's limits; without limits nothing is parsed.
                let _permit = match self.limits.is_empty() {
                    true => None,
                    false => Some(self.limits.acquire(&format!("http:{}", endpoint_host(&request.input))).await),
                };
                Ok(Dispatched::Done(self.http_task.invoke(&request.input).await?))
            }
            Target::OpenFaas(mode) => {
                let call = FunctionCall::from_parameters(&request.input)?;
                let _permit = self.limits.acquire(&format!("openfaas:{}", call.function)).await;
                match (mode, request.task_token.as_deref()) {
                    (Mode::Async, Some(token)) => Ok(Dispatched::Submitted(
                        Box::pin(self.openfaas.submit(&call, token, ResultShape::OpenFaas)).await?,
                    )),
                    (Mode::WaitForToken, Some(_)) => {
                        Ok(Dispatched::Submitted(OpenFaas::result(&Box::pin(self.openfaas.call(&call)).await?)))
                    }
                    _ => Ok(Dispatched::Done(OpenFaas::result(&Box::pin(self.openfaas.call(&call)).await?))),
                }
            }
            Target::S3Sdk => match &self.s3 {
                Some(s3) => Box::pin(s3.dispatch(request)).await,
                None => Box::pin(self.fallback_or_unknown(request)).await,
            },
            Target::StepFunctions(t) => Box::pin(self.inner_sfn(&t, request)).await,
            Target::Optimized(o) => {
                let _permit = self.limits.acquire(&format!("{}:{}", o.service(), o.operation())).await;
                let result = Box::pin(o.call(&self.aws, &request.input, task_role(&request)?)).await?;
                Ok(if request.task_token.is_some() { Dispatched::Submitted(result) } else { Dispatched::Done(result) })
            }
            Target::AwsSdk => {
                let Some((service, action)) = crate::aws::sdk_resource(&request.resource) else {
                    return Box::pin(self.fallback_or_unknown(request)).await;
                };
                let _permit = self.limits.acquire(&format!("{service}:{}", crate::aws::names::pascal(action))).await;
                let result =
                    Box::pin(crate::aws::sdk_call(&self.aws, service, action, &request.input, task_role(&request)?))
                        .await?;
                Ok(if request.task_token.is_some() { Dispatched::Submitted(result) } else { Dispatched::Done(result) })
            }
            Target::Other => Box::pin(self.fallback_or_unknown(request)).await,
        }
    }

    /// The temporary credentials of the role the task's `Credentials` name, if any.
    async fn task_credentials(
        &self,
        request: &TaskRequest,
    ) -> Result<Option<aws_credential_types::Credentials>, TaskError> {
        match task_role(request)? {
            Some(role) => self
                .aws
                .role_credentials_at(role, self.lambda.is_local())
                .await
                .map_err(|e| crate::aws::assume_error(role, e)),
            None => Ok(None),
        }
    }

    /// Step Functions tasks: on the attached engine, else the fallback's (embedders' own handlers).
    async fn inner_sfn(&self, target: &SfnTarget, request: TaskRequest) -> Result<Dispatched, TaskError> {
        match (&self.fallback, self.sfn.is_attached()) {
            (Some(f), false) => f.dispatch(request).await,
            _ => self.sfn.dispatch(target, request).await,
        }
    }

    /// Resources no connector handles go to the fallback, if there is one.
    async fn fallback_or_unknown(&self, request: TaskRequest) -> Result<Dispatched, TaskError> {
        match &self.fallback {
            Some(f) => f.dispatch(request).await,
            None => Err(TaskError::new(
                "States.TaskFailed",
                format!("Legion has no connector for the resource '{}'", request.resource),
            )),
        }
    }

    /// A Lambda call sent elsewhere by a route.
    async fn routed(
        &self,
        route: RouteTarget,
        payload: Vec<u8>,
        shape: ResultShape,
        token: Option<&str>,
        wait_for_token: bool,
    ) -> Result<Dispatched, TaskError> {
        let finish = |v: Value| if wait_for_token { Dispatched::Submitted(v) } else { Dispatched::Done(v) };
        let shaped = |payload: Value, status: u16, headers: &[(String, String)], id: &str| match shape {
            ResultShape::Payload => payload,
            _ => envelope(payload, status, headers, id),
        };
        match route {
            RouteTarget::OpenFaas { function, gateway, asynchronous } => {
                let _permit = self.limits.acquire(&format!("openfaas:{function}")).await;
                let call = FunctionCall { function, gateway: Some(gateway), payload, headers: Vec::new(), query: None };
                if let (true, false, Some(token)) = (asynchronous, wait_for_token, token) {
                    return Ok(Dispatched::Submitted(self.openfaas.submit(&call, token, shape).await?));
                }
                match self.openfaas.call(&call).await {
                    Ok(answer) => {
                        let id = answer
                            .headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("x-call-id"))
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        Ok(finish(shaped(body_value(&answer.body), 200, &answer.headers, &id)))
                    }
                    Err(e) => Err(lambda_style(e)),
                }
            }
            RouteTarget::Http { url } => {
                let host = url.parse::<hyper::Uri>().ok().and_then(|u| u.host().map(str::to_owned)).unwrap_or_default();
                let _permit = self.limits.acquire(&format!("http:{host}")).await;
                let headers = [("Content-Type".to_owned(), "application/json".to_owned())];
                let response = self
                    .http
                    .send(Method::POST, &url, &headers, Bytes::from(payload))
                    .await
                    .map_err(|e| TaskError::new("States.Http.Socket", e.to_string()))?;
                let status = response.status.as_u16();
                if !response.status.is_success() {
                    let e = TaskError::new(
                        format!("States.Http.StatusCode.{status}"),
                        String::from_utf8_lossy(&response.body).into_owned(),
                    );
                    return Err(lambda_style(e));
                }
                let pairs: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect();
                Ok(finish(shaped(body_value(&response.body), 200, &pairs, "")))
            }
        }
    }
}

/// The per-service settings of the model-driven client: the file's `services`, and for `aws-sdk:lambda`
/// the `lambda` section's endpoint and region unless `services.lambda` says otherwise.
fn aws_services(config: &Config) -> std::collections::BTreeMap<String, crate::config::ServiceConfig> {
    let mut services = config.services.clone();
    if config.lambda.endpoint.is_some() || config.lambda.region.is_some() {
        services.entry("lambda".to_owned()).or_insert_with(|| crate::config::ServiceConfig {
            endpoint: config.lambda.endpoint.clone(),
            region: config.lambda.region.clone(),
        });
    }
    services
}

/// The host of an HTTP Task's `ApiEndpoint` (empty when it has none).
fn endpoint_host(parameters: &Value) -> String {
    parameters
        .get("ApiEndpoint")
        .and_then(Value::as_str)
        .and_then(|u| u.parse::<hyper::Uri>().ok())
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_default()
}

/// The role a task's `Credentials` name, if any.
fn task_role(request: &TaskRequest) -> Result<Option<&str>, TaskError> {
    crate::aws::assume::role_arn(request.credentials.as_ref()).map_err(|m| TaskError::new("States.Runtime", m))
}

/// A routed target's failure, with the `errorType` of a Lambda-style error document when its body
/// carries one.
fn lambda_style(e: TaskError) -> TaskError {
    let body = e.cause.as_deref().and_then(|c| serde_json::from_str::<Value>(c).ok());
    // OpenFaaS causes wrap the body; HTTP causes are the body.
    let doc = match &body {
        Some(v) if v.get("Body").is_some() => {
            v.get("Body").and_then(Value::as_str).and_then(|b| serde_json::from_str::<Value>(b).ok())
        }
        other => other.clone(),
    };
    match doc.as_ref().and_then(|d| d.get("errorType")).and_then(Value::as_str) {
        Some(t) => TaskError::new(t, doc.as_ref().map(Value::to_string).unwrap_or_default()),
        None => e,
    }
}

impl TaskDispatcher for Router {
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'static, Result<Value, TaskError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            match inner.dispatch(request).await? {
                Dispatched::Done(v) | Dispatched::Submitted(v) => Ok(v),
            }
        })
    }

    fn dispatch(&self, request: TaskRequest) -> BoxFuture<'static, Result<Dispatched, TaskError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.dispatch(request).await })
    }

    fn completes_by_callback(&self, resource: &str) -> bool {
        match target(resource) {
            Target::OpenFaas(Mode::Async) => true,
            Target::LambdaArn => {
                matches!(self.inner.routes.route(resource), Some(RouteTarget::OpenFaas { asynchronous: true, .. }))
            }
            Target::LambdaInvoke { wait: false } => self.inner.routes.any_asynchronous(),
            Target::StepFunctions(t) if self.inner.sfn.is_attached() => t.completes_by_callback(),
            _ => self.inner.fallback.as_ref().is_some_and(|f| f.completes_by_callback(resource)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_pick_connectors() {
        assert_eq!(target("arn:aws:states:::lambda:invoke"), Target::LambdaInvoke { wait: false });
        assert_eq!(target("arn:aws:states:::lambda:invoke.waitForTaskToken"), Target::LambdaInvoke { wait: true });
        assert_eq!(target("arn:aws:lambda:us-east-1:1:function:f:prod"), Target::LambdaArn);
        assert_eq!(target("arn:legion:states:::openfaas:invoke.sync"), Target::OpenFaas(Mode::Async));
        assert_eq!(target("arn:aws:states:::sqs:sendMessage"), Target::Optimized(Optimized::SqsSendMessage));
        assert_eq!(target("arn:aws:states:::aws-sdk:dynamodb:getItem"), Target::AwsSdk);
        assert_eq!(target("arn:aws:states:::glue:startJobRun"), Target::Other);
    }

    #[test]
    fn routed_failures_keep_a_lambda_error_type() {
        let body = r#"{"errorType": "Boom", "errorMessage": "x"}"#;
        let e = crate::openfaas::status_error("f", 500, body.as_bytes());
        assert_eq!(lambda_style(e).error, "Boom");
        let e = crate::openfaas::status_error("f", 502, b"bad gateway");
        assert_eq!(lambda_style(e).error, "OpenFaaS.StatusCode.502");
    }
}

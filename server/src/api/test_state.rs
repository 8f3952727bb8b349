//! TestState: the wire shapes around [`Engine::test_state`](legion_engine::Engine::test_state).

use legion_asl::diagnostic::invalid_definition_message;
use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::test_state::{
    ErrorDetails, FieldValidationMode, InspectionData, InspectionLevel, Mock, MockResult, StateConfiguration,
    TestStateError, TestStateRequest, TestStateResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::executions::parse_input;
use super::state_machines::MAX_DEFINITION_CHARS;
use super::{check_len, required, AppState};
use crate::error::ApiError;

/// The mocked error on the wire.
#[derive(Debug, Deserialize)]
pub struct ErrorOutputDto {
    error: Option<String>,
    cause: Option<String>,
}

/// The mock on the wire.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MockDto {
    result: Option<String>,
    error_output: Option<ErrorOutputDto>,
    field_validation_mode: Option<String>,
}

/// `stateConfiguration` on the wire.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateConfigurationDto {
    retrier_retry_count: Option<i64>,
    error_caused_by_state: Option<String>,
    map_iteration_failure_count: Option<i64>,
    map_item_reader_data: Option<String>,
}

/// TestState's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateInput {
    definition: Option<String>,
    role_arn: Option<String>,
    input: Option<String>,
    inspection_level: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // Accepted; there are no secrets to hide locally.
    reveal_secrets: bool,
    variables: Option<String>,
    state_name: Option<String>,
    mock: Option<MockDto>,
    context: Option<String>,
    state_configuration: Option<StateConfigurationDto>,
}

/// `errorDetails` on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetailsDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    catch_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_backoff_interval_seconds: Option<u64>,
}

/// `inspectionData` on the wire: JSON payloads as text.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectionDataDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_input_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_parameters: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_arguments: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_result_selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_result_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variables: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_details: Option<ErrorDetailsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_items_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_items_pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_item_selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_item_batcher: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_concurrency: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerated_failure_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerated_failure_percentage: Option<f64>,
}

/// TestState's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateOutput {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inspection_data: Option<InspectionDataDto>,
}

fn text(v: Option<Value>) -> Option<String> {
    v.map(|v| v.to_string())
}

impl From<ErrorDetails> for ErrorDetailsDto {
    fn from(d: ErrorDetails) -> ErrorDetailsDto {
        ErrorDetailsDto {
            retry_index: d.retry_index,
            catch_index: d.catch_index,
            retry_backoff_interval_seconds: d.retry_backoff_interval_seconds,
        }
    }
}

impl From<InspectionData> for InspectionDataDto {
    fn from(d: InspectionData) -> InspectionDataDto {
        InspectionDataDto {
            input: text(d.input),
            after_input_path: text(d.after_input_path),
            after_parameters: text(d.after_parameters),
            after_arguments: text(d.after_arguments),
            result: text(d.result),
            after_result_selector: text(d.after_result_selector),
            after_result_path: text(d.after_result_path),
            variables: text(d.variables),
            error_details: d.error_details.map(Into::into),
            after_items_path: text(d.after_items_path),
            after_items_pointer: text(d.after_items_pointer),
            after_item_selector: text(d.after_item_selector),
            after_item_batcher: text(d.after_item_batcher),
            max_concurrency: d.max_concurrency,
            tolerated_failure_count: d.tolerated_failure_count,
            tolerated_failure_percentage: d.tolerated_failure_percentage,
        }
    }
}

impl From<TestStateResponse> for TestStateOutput {
    fn from(r: TestStateResponse) -> TestStateOutput {
        TestStateOutput {
            status: r.status.as_str(),
            output: text(r.output),
            error: r.error,
            cause: r.cause,
            next_state: r.next_state,
            inspection_data: r.inspection_data.map(Into::into),
        }
    }
}

fn non_negative(v: Option<i64>, field: &str) -> Result<Option<u64>, ApiError> {
    match v {
        Some(n) if n < 0 => {
            Err(ApiError::constraint(&n.to_string(), field, "Member must have value greater than or equal to 0"))
        }
        other => Ok(other.map(|n| n as u64)),
    }
}

/// The largest payload a TestState text field may hold (`context`, `variables`, `mock.result`,
/// `stateConfiguration.mapItemReaderData`).
const MAX_PAYLOAD_CHARS: usize = 262_144;

fn convert_mock(mock: MockDto) -> Result<Mock, ApiError> {
    let field_validation_mode = match mock.field_validation_mode.as_deref() {
        None | Some("STRICT") => FieldValidationMode::Strict,
        Some("PRESENT") => FieldValidationMode::Present,
        Some("NONE") => FieldValidationMode::None,
        Some(other) => {
            return Err(ApiError::constraint(
                &format!("'{other}'"),
                "mock.fieldValidationMode",
                "Member must satisfy enum value set: [STRICT, PRESENT, NONE]",
            ))
        }
    };
    let result = match (mock.result, mock.error_output) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "A test mock should have only one of the following fields: [result, errorOutput].",
            ))
        }
        (Some(r), None) => {
            check_len(&r, "mock.result", 0, MAX_PAYLOAD_CHARS)?;
            MockResult::Output(r)
        }
        (None, Some(e)) => {
            // The API reference: `error` "is required if mock.errorOutput is specified". AWS's wording
            // for its absence is not documented; this one follows the reference's sentence.
            let error = e
                .error
                .ok_or_else(|| ApiError::validation("The error field is required if mock.errorOutput is specified."))?;
            check_len(&error, "mock.errorOutput.error", 0, 256)?;
            if let Some(cause) = &e.cause {
                check_len(cause, "mock.errorOutput.cause", 0, 32_768)?;
            }
            MockResult::Error { error: Some(error), cause: e.cause }
        }
        (None, None) => {
            return Err(ApiError::validation(
                "A test mock should have one of the following fields: [result, errorOutput].",
            ))
        }
    };
    Ok(Mock { result, field_validation_mode })
}

/// The length limits of the API reference on the payload fields, and its rule that `context` comes
/// with a mock.
fn check_payload_fields(input: &TestStateInput) -> Result<(), ApiError> {
    if let Some(v) = &input.variables {
        check_len(v, "variables", 0, MAX_PAYLOAD_CHARS)?;
    }
    if let Some(c) = &input.context {
        check_len(c, "context", 0, MAX_PAYLOAD_CHARS)?;
        if input.mock.is_none() {
            // "This field may only be specified if a mock is specified in the same request" (API
            // reference); AWS's message for breaking the rule is not documented, so it is worded here.
            return Err(ApiError::validation("A context object may only be specified when a mock is specified."));
        }
    }
    if let Some(config) = &input.state_configuration {
        if let Some(state) = &config.error_caused_by_state {
            check_len(state, "stateConfiguration.errorCausedByState", 1, 80)?;
        }
        if let Some(data) = &config.map_item_reader_data {
            check_len(data, "stateConfiguration.mapItemReaderData", 0, MAX_PAYLOAD_CHARS)?;
        }
    }
    Ok(())
}

/// Decodes a TestState request into the engine's terms.
pub fn convert(input: TestStateInput) -> Result<TestStateRequest, ApiError> {
    check_payload_fields(&input)?;
    let definition_text = required(input.definition, "definition")?;
    check_len(&definition_text, "definition", 1, MAX_DEFINITION_CHARS)?;
    let definition: Value = serde_json::from_str(&definition_text).map_err(|_| {
        let diags = parse_str(&definition_text, ParseOptions { state_machine_type: StateMachineType::Standard })
            .err()
            .unwrap_or_default();
        ApiError::InvalidDefinition(invalid_definition_message(&diags))
    })?;
    if let Some(name) = &input.state_name {
        check_len(name, "stateName", 1, 80)?;
    }
    if let Some(role) = &input.role_arn {
        check_len(role, "roleArn", 1, 256)?;
    }
    let inspection_level = match input.inspection_level.as_deref() {
        None | Some("INFO") => InspectionLevel::Info,
        Some("DEBUG") => InspectionLevel::Debug,
        Some("TRACE") => InspectionLevel::Trace,
        Some(other) => {
            return Err(ApiError::constraint(
                &format!("'{other}'"),
                "inspectionLevel",
                "Member must satisfy enum value set: [INFO, DEBUG, TRACE]",
            ))
        }
    };
    let variables = match input.variables.as_deref() {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            _ => return Err(ApiError::validation("Variables must be a JSON object")),
        },
    };
    let context = match input.context.as_deref() {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|e| ApiError::validation(format!("Invalid Context object provided: {e}")))?,
        ),
    };
    let mock = input.mock.map(convert_mock).transpose()?;
    let config = input.state_configuration.unwrap_or_default();
    let state_configuration = StateConfiguration {
        retrier_retry_count: non_negative(config.retrier_retry_count, "stateConfiguration.retrierRetryCount")?
            .unwrap_or(0),
        error_caused_by_state: config.error_caused_by_state,
        map_iteration_failure_count: non_negative(
            config.map_iteration_failure_count,
            "stateConfiguration.mapIterationFailureCount",
        )?,
        map_item_reader_data: config.map_item_reader_data,
    };
    Ok(TestStateRequest {
        definition,
        state_name: input.state_name,
        role_arn: input.role_arn,
        input: parse_input(input.input.as_deref())?,
        inspection_level,
        variables,
        mock,
        context,
        state_configuration,
    })
}

/// TestState.
pub async fn test_state(state: AppState, input: TestStateInput) -> Result<TestStateOutput, ApiError> {
    let request = convert(input)?;
    let response = state.engine().test_state(request).await.map_err(|e| match e {
        TestStateError::Validation(m) => ApiError::validation(m),
        TestStateError::InvalidDefinition(m) => ApiError::InvalidDefinition(m),
    })?;
    Ok(response.into())
}

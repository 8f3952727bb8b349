//! The case file model and loading.
//!
//! A case file is a JSON document with a `kind`: `execution` (run a state machine and compare status,
//! output, error, cause and history), `test_state` (call TestState and compare the response) or
//! `validation` (create a state machine that AWS refused and compare the message). The case key is
//! the file stem, unique across all loaded folders; the category is the name of the folder holding it.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use thiserror::Error;

/// The account ARNs in the cases were recorded with.
pub const ACCOUNT_ID: &str = "111111111111";
/// The region ARNs in the cases were recorded with.
pub const REGION: &str = "us-east-1";

/// Why a case file could not be loaded.
#[derive(Debug, Error)]
pub enum CaseError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not JSON or does not have the shape of a case.
    #[error("invalid case file: {0}")]
    Json(#[from] serde_json::Error),
    /// A field its kind needs is missing.
    #[error("invalid case file: {kind} case without `{field}`")]
    Missing {
        /// The case kind.
        kind: CaseKind,
        /// The missing field.
        field: &'static str,
    },
    /// Another file has the same stem.
    #[error("duplicate case key (also {})", other.display())]
    Duplicate {
        /// The file loaded first.
        other: PathBuf,
    },
}

/// The three kinds of case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// Run an execution.
    Execution,
    /// Call the TestState API.
    TestState,
    /// Create a state machine AWS refused (spelled `create_state_machine_error` in the case files).
    #[serde(alias = "create_state_machine_error")]
    Validation,
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Execution => "execution",
            Self::TestState => "test_state",
            Self::Validation => "validation",
        })
    }
}

/// One loaded case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file stem: the key used in reports, filters and the known-failures list.
    pub key: String,
    /// The file the case was loaded from.
    pub path: PathBuf,
    /// The recorded test this case comes from.
    pub id: String,
    /// The case's own `category` field (normally equal to its folder name).
    pub category: String,
    /// External services the case uses (`none`, `lambda`, `s3`, ...).
    pub needs: Vec<String>,
    /// ASL features exercised, for reports by feature.
    pub features: Vec<String>,
    /// `JSONPath` or `JSONata`.
    pub query_language: Option<String>,
    /// Per-case rewriting rules applied before recording.
    pub normalize: NormalizeSpec,
    /// Where the recording comes from.
    pub source: Option<Source>,
    /// What to run and what to expect.
    pub spec: Spec,
}

impl Case {
    /// The kind of the case.
    pub fn kind(&self) -> CaseKind {
        match self.spec {
            Spec::Execution(_) => CaseKind::Execution,
            Spec::TestState(_) => CaseKind::TestState,
            Spec::Validation(_) => CaseKind::Validation,
        }
    }

    /// True when the case uses no external service, so a runner has no reason to skip it.
    pub fn needs_nothing(&self) -> bool {
        self.needs.iter().all(|n| n == "none")
    }

    /// Parses a case from JSON text; `key` and `path` identify it in reports.
    pub fn from_json(key: impl Into<String>, path: impl Into<PathBuf>, text: &str) -> Result<Self, CaseError> {
        let raw: RawCase = serde_json::from_str(text)?;
        raw.into_case(key.into(), path.into())
    }

    /// Reads and parses a case file; its key is the file stem.
    pub fn load(path: &Path) -> Result<Self, CaseError> {
        let text = fs::read_to_string(path).map_err(|source| CaseError::Io { path: path.to_owned(), source })?;
        Self::from_json(file_key(path), path, &text)
    }
}

/// What a case runs and expects, by kind.
#[derive(Debug, Clone)]
pub enum Spec {
    /// Run an execution.
    Execution(ExecutionSpec),
    /// Call TestState.
    TestState(TestStateSpec),
    /// Create a state machine that AWS refused.
    Validation(ValidationSpec),
}

/// An execution case.
#[derive(Debug, Clone)]
pub struct ExecutionSpec {
    /// The state machine and execution names to use.
    pub state_machine: StateMachineSpec,
    /// The ASL document.
    pub definition: Value,
    /// The execution input.
    pub input: Value,
    /// The exact input string that was sent.
    pub input_raw: Option<String>,
    /// Resources to set up before running.
    pub resources: Resources,
    /// The expected result.
    pub expected: ExpectedExecution,
    /// The GetExecutionHistory events AWS recorded, when recorded.
    pub expected_history: Option<Vec<Value>>,
    /// The input was built from the time of recording: compare the status only.
    pub depends_on_wall_clock: bool,
}

/// The state machine of an execution or validation case.
#[derive(Debug, Clone, Deserialize)]
pub struct StateMachineSpec {
    /// The state machine name.
    pub name: String,
    /// `STANDARD` or `EXPRESS`.
    #[serde(rename = "type")]
    pub machine_type: String,
    /// The execution name.
    #[serde(default)]
    pub execution_name: Option<String>,
    /// `StartExecution` or `StartSyncExecution`.
    #[serde(default)]
    pub started_via: Option<String>,
}

/// The expected result of an execution case.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedExecution {
    /// SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    /// The output as JSON; null when the execution has none (or its output is JSON null).
    #[serde(default)]
    pub output: Value,
    /// The recorded output could not be parsed (it is a placeholder): do not compare it.
    #[serde(default)]
    pub output_unparsed: bool,
    /// The error of a failed execution.
    #[serde(default)]
    pub error: Option<String>,
    /// The cause: a string, or a JSON value when `cause_is_json`.
    #[serde(default)]
    pub cause: Option<Value>,
    /// Compare the cause as parsed JSON.
    #[serde(default)]
    pub cause_is_json: bool,
    /// Placeholders that occur in the expected values.
    #[serde(default)]
    pub placeholders: Vec<String>,
    /// The expected values contain the `date` placeholder.
    #[serde(default)]
    pub has_date_placeholder: bool,
    /// A remark on how the case was recorded.
    #[serde(default)]
    pub note: Option<String>,
}

/// A TestState case.
#[derive(Debug, Clone)]
pub struct TestStateSpec {
    /// The TestState request.
    pub request: TestStateRequest,
    /// A summary of the expected response.
    pub expected: ExpectedTestState,
    /// The expected response, with JSON strings starting with `{` parsed.
    pub expected_response: Value,
}

/// A TestState request (definition and input as JSON values rather than strings).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateRequest {
    /// The state (or state machine) definition.
    pub definition: Value,
    /// The state input.
    #[serde(default)]
    pub input: Value,
    /// The context object to use.
    #[serde(default)]
    pub context: Option<Value>,
    /// Variables in scope.
    #[serde(default)]
    pub variables: Option<Value>,
    /// With a state machine definition: the state to test.
    #[serde(default)]
    pub state_name: Option<String>,
    /// INFO, DEBUG or TRACE.
    #[serde(default)]
    pub inspection_level: Option<String>,
    /// A mocked task result or error.
    #[serde(default)]
    pub mock: Option<Value>,
    /// Map/retry settings for the tested state.
    #[serde(default)]
    pub state_configuration: Option<Value>,
    /// Any other request fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A summary of the expected TestState response.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedTestState {
    /// SUCCEEDED, FAILED, CAUGHT_ERROR, RETRIABLE or API_ERROR.
    pub status: String,
    /// The expected output.
    #[serde(default)]
    pub output: Value,
    /// The expected error.
    #[serde(default)]
    pub error: Option<String>,
    /// The expected cause.
    #[serde(default)]
    pub cause: Option<String>,
    /// The expected next state.
    #[serde(default)]
    pub next_state: Option<String>,
    /// The API error, when the call itself failed.
    #[serde(default, rename = "api_error")]
    pub api_error: Option<ExpectedApiError>,
}

/// An expected API error.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedApiError {
    /// The error type.
    pub code: String,
    /// The message.
    pub message: String,
    /// The operation that failed, when recorded.
    #[serde(default)]
    pub operation: Option<String>,
}

/// A validation case.
#[derive(Debug, Clone)]
pub struct ValidationSpec {
    /// The state machine to create.
    pub state_machine: StateMachineSpec,
    /// The ASL document AWS refused.
    pub definition: Value,
    /// The expected error.
    pub expected: ExpectedValidation,
}

/// The expected CreateStateMachine error.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedValidation {
    /// The error code (`InvalidDefinition`).
    #[serde(default)]
    pub error_code: Option<String>,
    /// The exact message.
    pub message: String,
}

/// Resources an execution case needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Lambda functions and what they do.
    pub lambda_functions: Vec<LambdaFunction>,
    /// Bucket names.
    pub s3_buckets: Vec<String>,
    /// Objects to put before running.
    pub s3_objects: Vec<S3Object>,
    /// Other service calls made before running (queues, topics, tables, ...).
    pub setup_calls: Vec<SetupCall>,
    /// Further state machines the case starts.
    pub other_state_machines: Vec<OtherStateMachine>,
}

/// A Lambda function of a case.
#[derive(Debug, Clone, Deserialize)]
pub struct LambdaFunction {
    /// The function name.
    pub function_name: String,
    /// The function ARN.
    pub function_arn: String,
    /// The runtime it was recorded with.
    #[serde(default)]
    pub runtime: Option<String>,
    /// What the function does, in words (`identity: returns the event unchanged`, ...).
    pub behaviour: String,
    /// The behaviour is fully described, so the function can be emulated.
    #[serde(default)]
    pub reconstructible: bool,
}

/// An S3 object to create.
#[derive(Debug, Clone, Deserialize)]
pub struct S3Object {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The body.
    pub body: String,
}

/// A service call made before running.
#[derive(Debug, Clone, Deserialize)]
pub struct SetupCall {
    /// The service (`sqs`, `sns`, `dynamodb`, `fixture`, ...).
    pub service: String,
    /// The operation (`create_queue`, ...).
    pub op: String,
    /// Positional arguments.
    #[serde(default)]
    pub args: Option<Value>,
    /// Keyword arguments.
    #[serde(default)]
    pub kwargs: Option<Value>,
}

/// Another state machine a case uses.
#[derive(Debug, Clone, Deserialize)]
pub struct OtherStateMachine {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// `STANDARD` or `EXPRESS`.
    #[serde(rename = "type")]
    pub machine_type: String,
    /// Its definition.
    pub definition: Value,
}

/// The per-case rewriting rules.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NormalizeSpec {
    /// Rules specific to the case, in order.
    #[serde(default)]
    pub test_rules: Vec<TestRule>,
}

/// One per-case rewriting rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TestRule {
    /// Replace matches of `pattern` (applied to the JSON text) by `replacement`.
    Regex {
        /// The pattern.
        pattern: String,
        /// The literal replacement.
        replacement: String,
    },
    /// A rule replacing values at a path (recorded without its details).
    Jsonpath {
        /// The path, when recorded.
        #[serde(default)]
        path: Option<String>,
        /// The replacement, when recorded.
        #[serde(default)]
        replacement: Option<String>,
    },
    /// A rule replacing values under matching keys (recorded without its details).
    KeyValue {
        /// The replacement, when recorded.
        #[serde(default)]
        replacement: Option<String>,
    },
    /// A custom transformation, named by `type` (e.g. reordering parallel branch events).
    Other {
        /// The transformation's name.
        #[serde(rename = "type", default)]
        name: Option<String>,
    },
    /// A rule of a kind this harness does not know.
    #[serde(other)]
    Unknown,
}

/// Where a case was recorded.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// The repository of the recording test.
    #[serde(default)]
    pub repository: Option<String>,
    /// The commit.
    #[serde(default)]
    pub commit: Option<String>,
    /// The license of the recording.
    #[serde(default)]
    pub license: Option<String>,
    /// The test.
    #[serde(default)]
    pub test: Option<String>,
}

#[derive(Deserialize)]
struct RawCase {
    id: String,
    kind: CaseKind,
    #[serde(default)]
    category: String,
    #[serde(default)]
    needs: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    query_language: Option<String>,
    #[serde(default)]
    normalize: NormalizeSpec,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    state_machine: Option<StateMachineSpec>,
    #[serde(default)]
    definition: Option<Value>,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    input_raw: Option<String>,
    #[serde(default)]
    resources: Option<Resources>,
    #[serde(default)]
    depends_on_wall_clock: Option<bool>,
    expected: Value,
    #[serde(default)]
    expected_history: Option<Vec<Value>>,
    #[serde(default)]
    request: Option<TestStateRequest>,
    #[serde(default)]
    expected_response: Option<Value>,
}

impl RawCase {
    fn into_case(self, key: String, path: PathBuf) -> Result<Case, CaseError> {
        let kind = self.kind;
        let missing = |field| CaseError::Missing { kind, field };
        let spec = match kind {
            CaseKind::Execution => Spec::Execution(ExecutionSpec {
                state_machine: self.state_machine.ok_or_else(|| missing("state_machine"))?,
                definition: self.definition.ok_or_else(|| missing("definition"))?,
                input: self.input,
                input_raw: self.input_raw,
                resources: self.resources.unwrap_or_default(),
                expected: serde_json::from_value(self.expected)?,
                expected_history: self.expected_history,
                depends_on_wall_clock: self.depends_on_wall_clock.unwrap_or(false),
            }),
            CaseKind::TestState => Spec::TestState(TestStateSpec {
                request: self.request.ok_or_else(|| missing("request"))?,
                expected: serde_json::from_value(self.expected)?,
                expected_response: self.expected_response.ok_or_else(|| missing("expected_response"))?,
            }),
            CaseKind::Validation => Spec::Validation(ValidationSpec {
                state_machine: self.state_machine.ok_or_else(|| missing("state_machine"))?,
                definition: self.definition.ok_or_else(|| missing("definition"))?,
                expected: serde_json::from_value(self.expected)?,
            }),
        };
        Ok(Case {
            key,
            path,
            id: self.id,
            category: self.category,
            needs: self.needs,
            features: self.features,
            query_language: self.query_language,
            normalize: self.normalize,
            source: self.source,
            spec,
        })
    }
}

/// A case file found under the given folders, loaded or not.
#[derive(Debug)]
pub struct Discovered {
    /// The file stem.
    pub key: String,
    /// The name of the folder holding the file.
    pub category: String,
    /// The file.
    pub path: PathBuf,
    /// The loaded case, or why it could not be loaded.
    pub case: Result<Case, CaseError>,
}

/// Finds and loads every `*.json` file under `dirs` (recursively; a file may also be named directly).
///
/// Returns the files sorted by key, plus the folders that could not be read. A file whose stem was
/// already seen is returned with [`CaseError::Duplicate`].
pub fn discover(dirs: &[PathBuf]) -> (Vec<Discovered>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        if dir.is_file() {
            files.push(dir.clone());
        } else if let Err(e) = collect_json_files(dir, &mut files) {
            errors.push(format!("cannot read {}: {e}", dir.display()));
        }
    }
    files.sort_by(|a, b| file_key(a).cmp(&file_key(b)).then_with(|| a.cmp(b)));
    files.dedup();

    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut found = Vec::with_capacity(files.len());
    for path in files {
        let key = file_key(&path);
        let category =
            path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let case = match seen.get(&key) {
            Some(other) => Err(CaseError::Duplicate { other: other.clone() }),
            None => {
                seen.insert(key.clone(), path.clone());
                Case::load(&path)
            }
        };
        found.push(Discovered { key, category, path, case });
    }
    (found, errors)
}

/// The keys of the case files beside the given folders (every case under each folder's parent), so a
/// known-failures list that covers all categories stays valid when only some of them are run.
pub fn neighbour_keys(dirs: &[PathBuf]) -> Vec<String> {
    let mut files = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        if let Some(parent) = dir.canonicalize().ok().as_deref().and_then(Path::parent) {
            let _ = collect_json_files(parent, &mut files);
        }
    }
    files.iter().map(|f| file_key(f)).collect()
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn file_key(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

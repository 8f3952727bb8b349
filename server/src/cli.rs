//! Command-line parsing and the `validate`, `run` and `serve` commands.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use legion_asl::diagnostic::invalid_definition_message;
use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::s3::{LazyAwsS3, LocalS3, S3Tasks};
use legion_engine::{Engine, ExecutionStatus, StartRequest};
use serde_json::{json, Value};

/// Legion: run AWS Step Functions state machines locally.
#[derive(Debug, Parser)]
#[command(name = "legion", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks a definition (JSON or YAML), or every state machine of a CloudFormation or SAM
    /// template; prints the diagnostics and exits 1 when one is invalid.
    Validate {
        /// The definition or template file (`-` for standard input).
        file: PathBuf,
        /// The state machine type (default: standard, or the type a template gives).
        #[arg(long = "type", value_enum)]
        machine_type: Option<MachineType>,
        /// Replaces `${KEY}` in the definition by VALUE (repeatable).
        #[arg(long = "subst", value_name = "KEY=VALUE", value_parser = legion_server::cfn::parse_substitution)]
        substitutions: Vec<(String, String)>,
    },
    /// Runs a definition to its end and prints the output.
    Run {
        /// The definition file (`-` for standard input).
        file: PathBuf,
        /// The execution input: JSON text, or `@FILE` to read it from a file.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Multiplies Wait and Retry delays (0 skips them).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// The state machine type.
        #[arg(long = "type", value_enum, default_value = "standard")]
        machine_type: MachineType,
        /// The state machine name used in ARNs and the context object.
        #[arg(long, default_value = "legion")]
        name: String,
        /// Also print the execution history (as GetExecutionHistory events) on standard error.
        #[arg(long)]
        history: bool,
        /// Serve this folder as an S3 endpoint on 127.0.0.1 (each sub-folder a bucket) for
        /// Distributed Map item readers and result writers; without it, S3 is reached through
        /// the standard AWS configuration (`AWS_ENDPOINT_URL_S3` and the credential chain).
        #[arg(long, value_name = "DIR")]
        s3_root: Option<PathBuf>,
        /// Task targets: Lambda endpoint, OpenFaaS gateways, routes, limits (a JSON file; see the
        /// README). Environment variables fill in what it leaves out.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A Step Functions Local mock configuration (default: `SFN_MOCK_CONFIG`).
        #[arg(long, value_name = "FILE")]
        mock_config: Option<PathBuf>,
        /// The mock test case to run (from the mock configuration's `TestCases`).
        #[arg(long, value_name = "NAME")]
        test_case: Option<String>,
        /// A state machine the execution may start (`states:startExecution`, `aws-sdk:sfn`), as
        /// `NAME=FILE`; its ARN is `arn:aws:states:us-east-1:123456789012:stateMachine:NAME`.
        /// Repeatable; a folder instead of `NAME=FILE` adds each `*.asl.json` (or `*.json`) in it,
        /// named by its file name.
        #[arg(long = "machine", value_name = "NAME=FILE|DIR")]
        machines: Vec<String>,
        /// No progress lines for Distributed Map runs (they are drawn only when standard error is a
        /// terminal).
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Where the execution is kept: `memory`, `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`. With
        /// a durable store, executions that were RUNNING when an earlier `legion run` died resume first, and running again with the
        /// same `--execution-name` and input waits for that execution instead of starting another.
        #[arg(long, env = "LEGION_STORE", value_name = "URL", default_value = "memory")]
        store: String,
        /// The execution's name (default: a fresh UUID).
        #[arg(long, value_name = "NAME")]
        execution_name: Option<String>,
    },
    /// Draws a definition's graph (the drawing the console shows) as SVG or Graphviz DOT.
    Graph {
        /// The definition file (`-` for standard input).
        file: PathBuf,
        /// The output format.
        #[arg(long, value_enum, default_value = "svg")]
        format: GraphFormat,
    },
    /// Serves the AWS Step Functions API (AWS JSON 1.0) for the aws CLI, boto3 and the AWS SDKs.
    Serve(legion_server::serve::ServeArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GraphFormat {
    Svg,
    Dot,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MachineType {
    Standard,
    Express,
}

impl From<MachineType> for StateMachineType {
    fn from(t: MachineType) -> StateMachineType {
        match t {
            MachineType::Standard => StateMachineType::Standard,
            MachineType::Express => StateMachineType::Express,
        }
    }
}

/// Runs the parsed command and returns the process exit code.
pub fn main(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { file, machine_type, substitutions } => {
            let text = read_text(&file)?;
            crate::validate::run(&file, &text, machine_type.map(Into::into), &substitutions)
        }
        Command::Run {
            file,
            input,
            time_scale,
            machine_type,
            name,
            history,
            s3_root,
            config,
            mock_config,
            test_case,
            quiet,
            machines,
            store,
            execution_name,
        } => {
            let text = read_text(&file)?;
            let machine = match parse_str(&text, ParseOptions { state_machine_type: machine_type.into() }) {
                Ok(m) => m,
                Err(diags) => bail!("{}", invalid_definition_message(&diags)),
            };
            let input = read_input(&input)?;
            if !time_scale.is_finite() || time_scale < 0.0 {
                bail!("--time-scale must be a non-negative number");
            }
            let threads = crate::runtime::Threads::for_run(&machine, !machines.is_empty());
            let runtime = threads.build().context("starting the async runtime")?;
            let (s3, s3_tasks, _endpoint) = runtime.block_on(s3_setup(s3_root.as_deref()))?;
            let tokens = legion_engine::TaskTokens::new();
            let router = runtime.block_on(task_router(config, mock_config, test_case, tokens.clone(), s3_tasks))?;
            // Nothing can read a map-run child's execution or history after `legion run` (`--history`
            // prints the execution's own), so none is kept: a large map run stays small in memory.
            let children = legion_engine::map_run::InMemoryMapRunStore::new().keep_child_executions(false);
            let stores = runtime
                .block_on(legion_store::open(&store, legion_engine::Retention::forever()))
                .with_context(|| format!("opening the store {store}"))?;
            let engine = Engine::builder()
                .time_scale(time_scale)
                .s3(s3)
                .store(stores.executions)
                .map_run_store(Arc::new(children))
                .task_tokens(tokens)
                .dispatcher(Arc::new(router.clone()))
                .build();
            let catalog = machine_catalog(&engine, &machines)?;
            router.step_functions().attach(engine.clone(), Arc::new(catalog));
            let resumed = runtime.block_on(engine.recover()).context("resuming executions from the store")?;
            if resumed > 0 && !quiet {
                eprintln!("legion: resumed {resumed} running execution(s) from {store}");
            }
            let mut request = StartRequest::new(Arc::new(machine), name, input);
            request.machine_type = machine_type.into();
            request.execution_name = execution_name;
            let show_progress = !quiet && std::io::stderr().is_terminal();
            let (execution, outcome) = runtime.block_on(run_with_progress(&engine, request, show_progress))?;
            if history {
                let events: Vec<Value> = execution.history().iter().map(legion_server::history_json::event).collect();
                eprintln!("{}", serde_json::to_string_pretty(&json!({ "events": events }))?);
            }
            if outcome.status == ExecutionStatus::Succeeded {
                println!("{}", serde_json::to_string(&outcome.output.unwrap_or(Value::Null))?);
                Ok(ExitCode::SUCCESS)
            } else {
                let report = json!({"status": outcome.status.as_str(), "error": outcome.error, "cause": outcome.cause});
                eprintln!("{report}");
                Ok(ExitCode::from(1))
            }
        }
        Command::Serve(args) => {
            if !args.time_scale.is_finite() || args.time_scale < 0.0 {
                bail!("--time-scale must be a non-negative number");
            }
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(async {
                let tokens = legion_engine::TaskTokens::new();
                let (s3, s3_tasks, _endpoint) = s3_setup(args.s3_root.as_deref()).await?;
                let router =
                    task_router(args.config.clone(), args.mock_config.clone(), None, tokens.clone(), s3_tasks).await?;
                let mocks = router.mocks().cloned();
                let stores = legion_store::open(&args.store, args.retention())
                    .await
                    .with_context(|| format!("opening the store {}", args.store))?;
                // Snapshots an earlier Legion kept of what executions ran go when retention removes them.
                let purged = legion_server::PurgeForwarder::default();
                let mut builder = Engine::builder()
                    .account(args.account.clone(), args.region.clone())
                    .time_scale(args.time_scale)
                    .s3(s3)
                    .store(stores.executions)
                    .task_tokens(tokens)
                    .dispatcher(Arc::new(router.clone()))
                    .on_purged(purged.hook());
                if let Some(map_runs) = stores.map_runs {
                    builder = builder.map_run_store(map_runs);
                }
                if let Some(children) = stores.children {
                    builder = builder.child_queue(children);
                }
                let engine = builder.build();
                let registry = match stores.documents {
                    Some(documents) => legion_server::registry::Registry::load(documents)
                        .await
                        .context("reading state machines and activities from the store")?,
                    None => legion_server::registry::Registry::default(),
                };
                let state = legion_server::AppState::with_registry(engine.clone(), mocks, registry);
                purged.attach(&state);
                let catalog = legion_server::catalog::RegistryCatalog::new(state.clone());
                router.step_functions().attach(engine.clone(), Arc::new(catalog));
                let resumed = engine.recover().await.context("resuming the executions the store holds as RUNNING")?;
                if resumed > 0 {
                    eprintln!("legion: resumed {resumed} running execution(s) from {}", args.store);
                }
                legion_server::serve::run(&args, state).await.context("serving the API")
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { file, format } => graph(&file, format),
    }
}

/// Runs an execution to its end, drawing its map runs' progress on standard error when asked.
async fn run_with_progress(
    engine: &Engine,
    request: StartRequest,
    show_progress: bool,
) -> anyhow::Result<(legion_engine::Execution, legion_engine::Outcome)> {
    let execution = engine.start(request).await?;
    if !show_progress {
        let outcome = execution.outcome().await;
        return Ok((execution, outcome));
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let progress = crate::progress::Progress::on_stderr(engine.clone(), execution.arn().to_owned());
    let drawing = tokio::spawn(progress.follow(async move {
        let _ = done_rx.await;
    }));
    let outcome = execution.outcome().await;
    let _ = done_tx.send(());
    let _ = drawing.await;
    Ok((execution, outcome))
}

/// `legion graph`: the definition is validated first (both machine types' rules), then drawn.
fn graph(file: &Path, format: GraphFormat) -> anyhow::Result<ExitCode> {
    let text = read_text(file)?;
    let standard = parse_str(&text, ParseOptions { state_machine_type: StateMachineType::Standard });
    let express = || parse_str(&text, ParseOptions { state_machine_type: StateMachineType::Express });
    if let Err(diags) = standard {
        if express().is_err() {
            bail!("{}", invalid_definition_message(&diags));
        }
    }
    let graph = legion_console::graph::Graph::from_text(&text)?;
    let out = match format {
        GraphFormat::Svg => {
            legion_console::graph::svg::render(&legion_console::graph::layout::layout(&graph), &|_| None, true)
        }
        GraphFormat::Dot => legion_console::graph::dot::render(&graph),
    };
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// S3 for `legion run` and `legion serve`: the embedded endpoint over `root` when given (kept
/// running while the returned handle lives), else the AWS SDK's configuration, loaded on first use.
async fn s3_setup(
    root: Option<&Path>,
) -> anyhow::Result<(Arc<dyn legion_engine::map_run::S3Connector>, S3Tasks, Option<LocalS3>)> {
    Ok(match root {
        Some(root) => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let endpoint = LocalS3::start(root, addr).await.context("starting the embedded S3 endpoint")?;
            (Arc::new(endpoint.connector()), S3Tasks::new(endpoint.connector()), Some(endpoint))
        }
        None => {
            let lazy = LazyAwsS3::new();
            (Arc::new(lazy.clone()), S3Tasks::lazy(lazy), None)
        }
    })
}

/// The task router for `legion run` and `legion serve`: the configuration file (if any), the
/// environment, then the mock flags; `aws-sdk:s3` tasks go to `s3`.
async fn task_router(
    config: Option<PathBuf>,
    mock_config: Option<PathBuf>,
    test_case: Option<String>,
    tokens: legion_engine::TaskTokens,
    s3: S3Tasks,
) -> anyhow::Result<legion_connectors::Router> {
    let mut config = match &config {
        Some(path) => legion_connectors::Config::load(path)?,
        None => legion_connectors::Config::default(),
    };
    if mock_config.is_some() {
        config.mock_config = mock_config;
    }
    if test_case.is_some() {
        config.test_case = test_case;
    }
    let config = config.with_env();
    if config.test_case.is_some() && config.mock_config.is_none() {
        bail!("--test-case needs a mock configuration (--mock-config or SFN_MOCK_CONFIG)");
    }
    legion_connectors::Router::builder(config, tokens).s3(s3).build().await.context("setting up the task targets")
}

/// The machines of `legion run --machine NAME=FILE` (or a folder of definitions), by ARN.
fn machine_catalog(engine: &Engine, specs: &[String]) -> anyhow::Result<legion_connectors::nested::StaticCatalog> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for spec in specs {
        match spec.split_once('=') {
            Some((name, file)) => files.push((name.to_owned(), PathBuf::from(file))),
            None => {
                let dir = Path::new(spec);
                let entries =
                    std::fs::read_dir(dir).with_context(|| format!("--machine {spec}: not NAME=FILE or a folder"))?;
                for entry in entries {
                    let path = entry?.path();
                    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
                    if let Some(name) = file_name.strip_suffix(".asl.json").or_else(|| file_name.strip_suffix(".json"))
                    {
                        files.push((name.to_owned(), path.clone()));
                    }
                }
            }
        }
    }
    let mut catalog = legion_connectors::nested::StaticCatalog::new();
    for (name, file) in files {
        let text = read_text(&file)?;
        let machine = parse_str(&text, ParseOptions::default())
            .map_err(|d| anyhow::anyhow!("{}: {}", file.display(), invalid_definition_message(&d)))?;
        let nested = legion_connectors::nested::NestedMachine {
            machine: Arc::new(machine),
            name: name.clone(),
            machine_type: legion_asl::model::StateMachineType::Standard,
            role_arn: None,
        };
        catalog.insert(engine.state_machine_arn(&name), nested);
    }
    Ok(catalog)
}

fn read_text(file: &Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn read_input(arg: &str) -> anyhow::Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => read_text(Path::new(path))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).with_context(|| format!("the input is not valid JSON: {}", abbreviate(&text)))
}

fn abbreviate(s: &str) -> String {
    let short: String = s.chars().take(80).collect();
    if short.len() < s.len() {
        format!("{short}…")
    } else {
        short
    }
}

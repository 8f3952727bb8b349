//! Connector configuration: a JSON file (`legion run --config FILE`) completed by environment
//! variables.
//!
//! ```json
//! {
//!   "lambda":   { "endpoint": "http://127.0.0.1:9001", "region": "us-east-1" },
//!   "openfaas": {
//!     "gateways": { "default": { "url": "http://127.0.0.1:8080", "username": "admin", "password": "secret" } },
//!     "callback": { "listen": "127.0.0.1:0", "public_url": "http://legion.internal:8089" }
//!   },
//!   "routes": [
//!     { "match": "orders-*", "openfaas": { "function": "orders", "async": true } },
//!     { "match": "arn:aws:lambda:*:*:function:validate", "http": { "url": "http://127.0.0.1:3000/validate" } }
//!   ],
//!   "limits": [ { "target": "lambda:*", "max_concurrency": 10, "per_second": 50 } ],
//!   "mock_config": "MockConfigFile.json",
//!   "test_case": "HappyPath"
//! }
//! ```
//!
//! Environment variables fill in what the file leaves out: `OPENFAAS_URL`, `OPENFAAS_USERNAME`,
//! `OPENFAAS_PASSWORD` (the default gateway), `LEGION_CALLBACK_LISTEN`, `LEGION_CALLBACK_URL`,
//! `SFN_MOCK_CONFIG`; the Lambda client reads the AWS SDK's own (`AWS_ENDPOINT_URL_LAMBDA`,
//! `AWS_ENDPOINT_URL`, `AWS_REGION`, credentials).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{path} is not a valid configuration: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A value is out of place.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Everything the connectors need to know.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Lambda client.
    #[serde(default)]
    pub lambda: LambdaConfig,
    /// OpenFaaS gateways and the callback listener.
    #[serde(default)]
    pub openfaas: OpenFaasConfig,
    /// Lambda functions sent elsewhere, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Per-target limits, first match wins.
    #[serde(default)]
    pub limits: Vec<LimitConfig>,
    /// A Step Functions Local mock configuration file.
    #[serde(default)]
    pub mock_config: Option<PathBuf>,
    /// The mock test case every execution uses unless told otherwise.
    #[serde(default)]
    pub test_case: Option<String>,
    /// Other AWS services by Step Functions' name (`sqs`, `sns`, `dynamodb`, `eventbridge`,
    /// `secretsmanager`…): where their calls go.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
}

/// Where the calls to one AWS service go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The endpoint (else `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, then AWS).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The region (else `AWS_REGION`, else the engine's).
    #[serde(default)]
    pub region: Option<String>,
}

/// The Lambda client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaConfig {
    /// The Lambda endpoint (else the SDK's `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL` / AWS).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The region (else the SDK's, else the engine's).
    #[serde(default)]
    pub region: Option<String>,
}

/// OpenFaaS.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenFaasConfig {
    /// Gateways by name; `default` is used when a task names none.
    #[serde(default)]
    pub gateways: BTreeMap<String, GatewayConfig>,
    /// Where asynchronous calls post their results.
    #[serde(default)]
    pub callback: CallbackConfig,
}

/// One OpenFaaS gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Its URL (`http://127.0.0.1:8080`).
    pub url: String,
    /// Basic-auth user (`admin` when only a password is given).
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password.
    #[serde(default)]
    pub password: Option<String>,
}

/// The callback listener for asynchronous OpenFaaS calls.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackConfig {
    /// The address to listen on (default `127.0.0.1:0`, a free port).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The base URL the gateway's queue worker should post to, when it is not the listen address
    /// (behind a proxy, in a container network…).
    #[serde(default)]
    pub public_url: Option<String>,
}

/// A route: Lambda functions matching `match` go to another target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// A function name or ARN pattern; `*` matches any run of characters. A pattern without `:` is
    /// matched against the function's name, one with `:` against its full ARN.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Send matching calls to an OpenFaaS function.
    #[serde(default)]
    pub openfaas: Option<OpenFaasRoute>,
    /// Send matching calls to an HTTP URL (`POST`, the payload as JSON body).
    #[serde(default)]
    pub http: Option<HttpRoute>,
}

/// An OpenFaaS route target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenFaasRoute {
    /// The OpenFaaS function (default: the Lambda function's name).
    #[serde(default)]
    pub function: Option<String>,
    /// The gateway's name in `openfaas.gateways` (default `default`).
    #[serde(default)]
    pub gateway: Option<String>,
    /// Call it through the queue (`/async-function/`) and complete the task on the callback.
    #[serde(default, rename = "async")]
    pub asynchronous: bool,
}

/// An HTTP route target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRoute {
    /// The URL to `POST` the payload to.
    pub url: String,
}

/// Limits for targets matching `target`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// A target pattern: `lambda:<function>`, `openfaas:<function>`, `http:<host>` or
    /// `<service>:<Operation>` for other AWS services (`sqs:SendMessage`), `*` wildcards.
    pub target: String,
    /// At most this many calls in flight per target.
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// At most this many calls started per second per target.
    #[serde(default)]
    pub per_second: Option<u32>,
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config: Config =
            serde_json::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })?;
        // A relative mock file is relative to the configuration file.
        if let (Some(mock), Some(dir)) = (&config.mock_config, path.parent()) {
            if mock.is_relative() {
                config.mock_config = Some(dir.join(mock));
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Fills in what is unset from the environment (see the module documentation).
    pub fn with_env(self) -> Config {
        self.with_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Fills in what is unset from `var` (the environment, or a test's own map).
    pub fn with_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Config {
        if !self.openfaas.gateways.contains_key("default") {
            if let Some(url) = var("OPENFAAS_URL") {
                self.openfaas.gateways.insert(
                    "default".to_owned(),
                    GatewayConfig { url, username: var("OPENFAAS_USERNAME"), password: var("OPENFAAS_PASSWORD") },
                );
            }
        }
        if self.openfaas.callback.listen.is_none() {
            self.openfaas.callback.listen = var("LEGION_CALLBACK_LISTEN").and_then(|a| a.parse().ok());
        }
        if self.openfaas.callback.public_url.is_none() {
            self.openfaas.callback.public_url = var("LEGION_CALLBACK_URL");
        }
        if self.mock_config.is_none() {
            self.mock_config = var("SFN_MOCK_CONFIG").map(PathBuf::from);
        }
        self
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for r in &self.routes {
            if r.openfaas.is_some() == r.http.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "route '{}' must have exactly one of 'openfaas' and 'http'",
                    r.pattern
                )));
            }
        }
        for l in &self.limits {
            if l.max_concurrency == Some(0) || l.per_second == Some(0) {
                return Err(ConfigError::Invalid(format!("limits for '{}' must be positive", l.target)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let start = doc.find("//! ```json").unwrap_or(0);
        let block: String = doc[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        let config: Config = serde_json::from_str(&block).expect("the example parses");
        config.validate().expect("the example is valid");
        assert_eq!(config.routes.len(), 2);
        assert!(config.routes[0].openfaas.as_ref().is_some_and(|o| o.asynchronous));
        assert_eq!(config.limits[0].per_second, Some(50));
    }

    #[test]
    fn the_environment_fills_gaps_only() {
        let vars = |k: &str| match k {
            "OPENFAAS_URL" => Some("http://gw:8080".to_owned()),
            "OPENFAAS_PASSWORD" => Some("pw".to_owned()),
            "SFN_MOCK_CONFIG" => Some("/m.json".to_owned()),
            _ => None,
        };
        let c = Config::default().with_vars(vars);
        assert_eq!(c.openfaas.gateways["default"].url, "http://gw:8080");
        assert_eq!(c.mock_config, Some(PathBuf::from("/m.json")));
        let file = Config { mock_config: Some(PathBuf::from("/file.json")), ..Config::default() };
        assert_eq!(file.with_vars(vars).mock_config, Some(PathBuf::from("/file.json")));
    }

    #[test]
    fn a_route_needs_exactly_one_target() {
        let c: Config = serde_json::from_str(r#"{"routes": [{"match": "f"}]}"#).unwrap();
        assert!(c.validate().is_err());
    }
}

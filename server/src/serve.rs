//! `legion serve`: the API on a TCP listener, until interrupted.
//!
//! Each connection is served by hyper's HTTP/1.1 server with a header read timeout, and at most
//! [`Limits::max_connections`] are open at once, so clients that open connections and never finish
//! a request cannot keep others from being served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::auth::Keys;
use crate::limits::Limits;
use crate::{app_with_limits, app_with_options, AppState};

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    body_limit: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::with_body_bytes(body_limit);
    serve_router(listener, app_with_limits(state, limits), limits, shutdown).await
}

/// Serves `router` on `listener` with `limits` until `shutdown` completes; then stops accepting and
/// waits for the requests in progress.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let stopping = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(e) => {
                // Out of file descriptors or a connection reset before it was accepted: wait a
                // little instead of spinning, then go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let stopping = stopping.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(socket), service).with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = &mut connection => {}
                _ = stopping.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    stopping.cancel();
    // Every connection holds a permit until it ends.
    let _ = permits.acquire_many(u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX)).await;
    Ok(())
}

/// Binds `addr` and serves until `shutdown` completes; returns the bound address through `bound`.
pub async fn bind_and_serve(
    addr: SocketAddr,
    state: AppState,
    body_limit: usize,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    bound(listener.local_addr()?);
    serve(listener, state, body_limit, shutdown).await
}

/// Arguments of `legion serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8083")]
    pub bind: SocketAddr,
    /// The account id in ARNs.
    #[arg(long, env = "LEGION_ACCOUNT_ID", default_value = "123456789012")]
    pub account: String,
    /// The region in ARNs.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Multiplies Wait and Retry delays (0 skips them).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = crate::DEFAULT_BODY_LIMIT)]
    pub max_body_bytes: usize,
    /// The task targets' configuration file (Lambda, OpenFaaS, HTTP routes, limits).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// A Step Functions Local mock configuration (also `SFN_MOCK_CONFIG`); pick a test case with
    /// `stateMachineArn#TestCase` in StartExecution.
    #[arg(long)]
    pub mock_config: Option<std::path::PathBuf>,
    /// Serve this folder as an S3 endpoint on 127.0.0.1 (each sub-folder a bucket) for Distributed
    /// Map item readers, result writers and `aws-sdk:s3` tasks; without it, S3 is reached through
    /// the standard AWS configuration.
    #[arg(long, value_name = "DIR")]
    pub s3_root: Option<std::path::PathBuf>,
    /// Where executions and state machines are kept: `memory` (lost at exit), `sqlite:PATH` (one
    /// file; RUNNING executions resume after a restart, from their last state boundary), or
    /// `postgres://USER@HOST:PORT/DB[?lease=SECONDS]` (one database several instances share).
    #[arg(long, env = "LEGION_STORE", value_name = "URL", default_value = "memory")]
    pub store: String,
    /// Remove closed executions (with their history, map runs and children) this long after they
    /// stop: a number of seconds, or with a unit (`90s`, `30m`, `12h`, `7d`). Default: keep them.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retention: Option<std::time::Duration>,
    /// Keep at most this many closed executions; the ones that closed first are removed first.
    #[arg(long, value_name = "COUNT")]
    pub retention_count: Option<usize>,
    /// Seconds a client has to send a request's headers (and an idle connection stays open).
    #[arg(long, value_name = "SECONDS", default_value_t = crate::limits::DEFAULT_HEADER_TIMEOUT.as_secs_f64())]
    pub header_timeout: f64,
    /// Seconds a client has to send a request's body once its headers are in.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::limits::DEFAULT_BODY_TIMEOUT.as_secs_f64())]
    pub body_timeout: f64,
    /// The largest number of connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = crate::limits::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Require every request to be signed (AWS Signature Version 4) with a key of this file, a JSON
    /// object of access key ids to secret access keys.
    #[arg(long, value_name = "FILE")]
    pub auth: Option<std::path::PathBuf>,
}

impl ServeArgs {
    /// The retention these arguments ask for.
    pub fn retention(&self) -> legion_engine::Retention {
        let mut r = legion_engine::Retention::forever();
        if let Some(age) = self.retention {
            r = r.max_age(age);
        }
        if let Some(count) = self.retention_count {
            r = r.max_closed(count);
        }
        r
    }

    /// The request and connection limits these arguments set.
    pub fn limits(&self) -> Limits {
        let seconds = |s: f64| Duration::try_from_secs_f64(s.max(0.001)).unwrap_or(Duration::MAX);
        Limits {
            body_bytes: self.max_body_bytes,
            header_timeout: seconds(self.header_timeout),
            body_timeout: seconds(self.body_timeout),
            max_connections: self.max_connections.max(1),
        }
    }
}

/// The warning printed when the API listens on an address other hosts can reach.
pub fn exposure_warning(addr: SocketAddr, authenticated: bool) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    let access = if authenticated {
        "requests must be signed with a key from the --auth file"
    } else {
        "anyone who can reach it can create and run state machines (use --auth FILE to require signed requests)"
    };
    Some(format!("legion serve: WARNING: listening on {addr}, which is reachable from other hosts: {access}"))
}

/// A duration: whole seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("'{text}' is not a duration such as 3600, 90s, 30m, 12h or 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{text}' has an unknown unit: use s, m, h or d")),
    };
    n.checked_mul(scale).map(std::time::Duration::from_secs).ok_or_else(|| format!("'{text}' is too long"))
}

/// Runs `legion serve` on `state` until Ctrl-C (or SIGTERM on Unix).
pub async fn run(args: &ServeArgs, state: AppState) -> std::io::Result<()> {
    let (account, region) = (args.account.clone(), args.region.clone());
    let bound = move |addr: SocketAddr| {
        tracing::info!(%addr, "listening");
        eprintln!("legion serve: listening on http://{addr} (account {account}, region {region})");
    };
    let limits = args.limits();
    let keys = match &args.auth {
        Some(path) => Some(Keys::load(path).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?),
        None => None,
    };
    let listener = TcpListener::bind(args.bind).await?;
    let addr = listener.local_addr()?;
    bound(addr);
    if let Some(warning) = exposure_warning(addr, keys.is_some()) {
        eprintln!("{warning}");
    }
    serve_router(listener, app_with_options(state, limits, keys), limits, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_seconds_or_a_unit() {
        assert_eq!(parse_duration("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("7w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}

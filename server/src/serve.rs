//! `legion serve`: the API on a TCP listener, until interrupted.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::{app_with_limit, AppState};

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    body_limit: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app_with_limit(state, body_limit)).with_graceful_shutdown(shutdown).await
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
}

/// Runs `legion serve` on `state` until Ctrl-C (or SIGTERM on Unix).
pub async fn run(args: &ServeArgs, state: AppState) -> std::io::Result<()> {
    let (account, region) = (args.account.clone(), args.region.clone());
    let bound = move |addr: SocketAddr| {
        tracing::info!(%addr, "listening");
        eprintln!("legion serve: listening on http://{addr} (account {account}, region {region})");
    };
    bind_and_serve(args.bind, state, args.max_body_bytes, bound, shutdown_signal()).await
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

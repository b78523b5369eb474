//! `seam serve`: the gateway. Loads the config (the embedded default without `--config`), binds
//! with a deep accept queue, reloads on `SIGHUP`, applies audit retention on a timer, and on
//! `SIGINT`/`SIGTERM` drains in-flight requests and flushes queued audit records before exiting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use seam_config::{Config, ConfigError, Resolver};

use crate::config::load;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A TOML config file.
    #[arg(long, short = 'c', env = "SEAM_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on; overrides server.listen.
    #[arg(long, short = 'l')]
    listen: Option<SocketAddr>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    let cfg = load(args.config.as_deref())?;
    let listen = args.listen.unwrap_or(cfg.server.listen);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(cfg, listen, args.config))?;
    Ok(ExitCode::SUCCESS)
}

/// How a reload gets its config: the same file again, or the embedded default.
fn reloader(source: Option<PathBuf>) -> seam_server::Reloader {
    Box::new(move || {
        let strings = |errors: Vec<ConfigError>| errors.iter().map(ToString::to_string).collect();
        match &source {
            Some(p) => seam_config::load(p).map_err(strings),
            None => seam_config::embedded(&Resolver::process(PathBuf::from("."))).map_err(strings),
        }
    })
}

async fn serve(cfg: Config, listen: SocketAddr, source: Option<PathBuf>) -> anyhow::Result<()> {
    let metrics = seam_server::metrics::install();
    // Traces over OTLP, when `[telemetry] endpoint` is set (read once: a reload keeps these).
    seam_providers::otel::install(&cfg.telemetry).map_err(anyhow::Error::msg)?;
    let state = seam_server::AppState::new(&cfg, Some(reloader(source)), metrics)
        .map_err(anyhow::Error::msg)?;
    let state = std::sync::Arc::new(state);
    // Without API keys Seam serves unauthenticated: loopback only.
    seam_server::check_exposure(listen, state.keyring.keys().required())
        .map_err(anyhow::Error::msg)?;
    let aliases = state.live().gateway.aliases().join(", ");
    let listener = bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr().unwrap_or(listen);
    let limits = seam_server::listen::Limits::new(&cfg.server);
    let tool_servers = cfg
        .mcp
        .servers
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    tracing::info!(
        %bound,
        models = %aliases,
        mcp_servers = %tool_servers,
        max_connections = limits.max_connections,
        "seam listening on http://{bound}"
    );
    if let Some(status) = state.live().gateway.ner_status() {
        tracing::info!("{status}");
    }
    if state.conversations.as_ref().is_some_and(|c| c.in_memory()) {
        // The designed fallback, not a fault: state never reaches the disk unsealed.
        tracing::info!(
            max_entries = cfg.responses.max_memory_entries,
            "responses: no [audit] master_key, so conversation state is kept in process memory only (bounded, lost on restart)"
        );
    }
    reload_on_sighup(state.clone());
    if let Some(auditor) = state.auditor.clone() {
        purge_periodically(auditor, cfg.audit.purge_interval);
    }
    let closing = state.clone();
    seam_server::serve(
        listener,
        seam_server::app(state.clone()),
        limits,
        async move {
            shutdown_signal().await;
            // Streams that never end by themselves (an MCP session's notifications) end now, so
            // the drain can finish.
            closing.close();
        },
    )
    .await
    .context("server failed")?;
    if let Some(auditor) = &state.auditor {
        // With async durability, queued records are written before the process exits.
        if let Err(e) = auditor.flush().await {
            tracing::error!(error = %e, "audit records not flushed at shutdown");
        }
    }
    tracing::info!("seam stopped");
    Ok(())
}

/// Applies the audit retention rules every `every` (the first time after one interval).
fn purge_periodically(
    auditor: std::sync::Arc<seam_server::audit::Auditor>,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match auditor.purge().await {
                Ok(done) => tracing::info!(%done, "audit retention applied"),
                Err(e) => tracing::error!(error = %e, "audit retention failed"),
            }
        }
    });
}

/// `SIGHUP` reloads the config like `POST /admin/reload`; a bad config is logged and ignored.
fn reload_on_sighup(state: seam_server::SharedState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("SIGHUP reload unavailable");
            return;
        };
        while hup.recv().await.is_some() {
            let st = state.clone();
            match tokio::task::spawn_blocking(move || st.reload()).await {
                Ok(Ok(models)) => {
                    tracing::info!(models = %models.join(", "), "config reloaded (SIGHUP)")
                }
                Ok(Err(errors)) => {
                    for e in &errors {
                        tracing::warn!(error = %e, "config reload refused; the previous config keeps serving");
                    }
                }
                Err(e) => tracing::error!(error = %e, "config reload task failed"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}

/// Binds with a deep accept queue: the default of 128 drops connections when hundreds of clients
/// connect at once, and each dropped SYN costs the client a one-second retransmit.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Logs go to stderr; `SEAM_LOG` sets the filter (default `info`), `SEAM_LOG_FORMAT=json` the format.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let result = if std::env::var("SEAM_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(e) = result {
        eprintln!("seam: warning: logging not initialised: {e}");
    }
}

//! `seam`: the one binary. Every error is one line on stderr and a non-zero exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use seam_config::{Config, ConfigError, Resolver};

// The request path allocates many small, short-lived buffers; mimalloc serves them with less
// contention and fewer instructions than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "seam", version, about = "Seam: the AI control plane you own")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (embedded default config when --config is not given).
    Serve {
        /// A TOML config file.
        #[arg(long, short = 'c', env = "SEAM_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on; overrides server.listen.
        #[arg(long, short = 'l')]
        listen: Option<SocketAddr>,
    },
    /// Work with config files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config: exit 0, or print each error with its TOML path and exit 2.
    Check {
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
    /// Print the embedded default config (what `seam serve` runs without --config).
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, listen } => serve(config.as_deref(), listen),
        Command::Config {
            command: ConfigCommand::Check { config },
        } => return check(&config),
        Command::Config {
            command: ConfigCommand::Default,
        } => {
            print!("{}", seam_config::default_toml(&|k| std::env::var(k).ok()));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seam: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `anyhow`'s chain on one line: "context: cause: root cause".
fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(ToString::to_string).collect();
    parts.join(": ").replace('\n', " ")
}

fn check(path: &Path) -> ExitCode {
    match seam_config::load(path) {
        Ok(cfg) => {
            println!(
                "{}: ok ({} providers, {} models)",
                path.display(),
                cfg.providers.len(),
                cfg.models.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: {e}", path.display());
            }
            ExitCode::from(2)
        }
    }
}

fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    let joined = |errors: Vec<ConfigError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    match path {
        Some(p) => {
            seam_config::load(p).map_err(|e| anyhow::anyhow!("{}: {}", p.display(), joined(e)))
        }
        None => seam_config::embedded(&Resolver::process(PathBuf::from(".")))
            .map_err(|e| anyhow::anyhow!("embedded default: {}", joined(e))),
    }
}

fn serve(config: Option<&Path>, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    init_logging();
    let cfg = load(config)?;
    let listen = listen.unwrap_or(cfg.server.listen);
    // No [keys] section exists yet, so Seam is always unauthenticated: loopback only.
    seam_server::check_exposure(listen, false).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(cfg, listen))
}

async fn run(cfg: Config, listen: SocketAddr) -> anyhow::Result<()> {
    let gateway = seam_gateway::Gateway::new(&cfg).map_err(anyhow::Error::msg)?;
    let aliases = gateway.aliases().join(", ");
    let state = seam_server::AppState {
        gateway,
        metrics: seam_server::metrics::install(),
        max_body_bytes: cfg.server.max_body_bytes,
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let listener = bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr().unwrap_or(listen);
    tracing::info!(%bound, models = %aliases, "seam listening on http://{bound}");
    seam_server::serve(listener, seam_server::app(state), shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("seam stopped");
    Ok(())
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

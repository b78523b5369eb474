//! `seam`: the one binary. Every error is one line on stderr and a non-zero exit.

mod audit;
mod eval;
mod exit;
mod ingest;
mod keys;
mod models;
mod parquet;
mod progress;
mod prompts;
mod redact;
mod redteam;
mod report;
mod rollout;

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
    /// Run an evaluation suite (promptfoo's format) against models and prompts; exit 0 when
    /// every case passed, 100 when one failed (or a --margin gate did), 1 on an error.
    Eval(Box<eval::Args>),
    /// Models Seam runs in process: fetch (download, verify, install) and list.
    Models(models::Args),
    /// The prompt registry (`prompts/*.prompt` beside the config): list, show, render, versions,
    /// tag, untag, diff, test.
    Prompts(prompts::Args),
    /// Rollouts (canary, A/B, shadow) as the shared store holds them: list, status, and the
    /// operator's start, pause, promote, abort.
    Rollout(rollout::Args),
    /// Reports for the build/buy/hybrid decision from this store's traffic: cost, whatif,
    /// quality, matrix, exit (Markdown, self-contained HTML or JSON).
    Report(report::Args),
    /// Work with config files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The audit trail: verify the chain, show or export records, erase a subject, apply retention.
    Audit {
        /// The config naming the store and keys (default: SEAM_CONFIG, else the embedded default).
        #[arg(long, short = 'c', env = "SEAM_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Virtual API keys: create (the secret is printed once; models, MCP tools, limits, a
    /// policy, a placement such as `trust=private;region=eu`), list, show, revoke; hash a secret
    /// for a config's [keys.NAME].
    Keys {
        /// The config naming the store (default: SEAM_CONFIG, else the embedded default).
        #[arg(long, short = 'c', env = "SEAM_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run a policy's input stage on text (a file, or stdin) and print the result. With neither
    /// --config nor --policy, every detector runs and findings are redacted. Exit 3 when the
    /// policy blocks something in the input.
    Redact {
        /// The policy to apply (default: `default`).
        #[arg(long, short = 'p')]
        policy: Option<String>,
        /// The config that declares the policy (default: the embedded default).
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// `text`: the input after the actions, streamed; `json`: {"text", "findings"}.
        #[arg(long, short = 'f', value_enum, default_value = "text")]
        format: Format,
        /// List the entity names the detectors know, and exit.
        #[arg(long)]
        entities: bool,
        /// The input file; `-` or none for stdin.
        file: Option<PathBuf>,
    },
    /// Attack a model or alias behind any OpenAI-compatible endpoint with the built-in probe
    /// library and report a pass rate per category. Exit 0 when the pass rate reaches
    /// --pass-threshold, 100 when it does not, 1 on an error.
    Redteam(Box<redteam::Args>),
    /// Add files and folders to a retrieval collection ([retrieval.collections.NAME]): txt, md,
    /// html, pdf and jsonl, extracted, passed through the collection's policy, chunked,
    /// embedded and stored; unchanged files are skipped, changed ones replaced.
    Ingest(Box<ingest::Args>),
    /// Write every owned artifact to a folder in open formats (JSON Lines per table, the config
    /// and prompt files verbatim), with manifest.json and SHA256SUMS: the exit drill.
    Export(exit::ExportArgs),
    /// Load an export into the empty store the config names (SQLite or PostgreSQL), after
    /// checking its checksums and format; then verify the imported audit chain.
    Import(exit::ImportArgs),
}

/// `seam keys create`'s flags (boxed: they would make every `KeysCommand` as large).
#[derive(clap::Args)]
struct CreateKey {
    /// A name for people (1–100 printable characters); the id is generated.
    #[arg(long)]
    name: String,
    /// Aliases it may use, as globs: `chat,gpt-*` (`*` for all).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// MCP tools, prompts and resources it may use, as globs over namespaced names:
    /// `crm__lookup_*,files__read` (none unless given).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// May use PROVIDER/MODEL addressing.
    #[arg(long)]
    direct: bool,
    /// May sign in to the web console (/console), read-only, as a viewer.
    #[arg(long)]
    console: bool,
    /// Document labels it may see in retrieval, as grants: `public,team:*` (none unless given).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// A request's subject (x-seam-subject, `user`) adds `subject:<id>` to its label grants.
    #[arg(long)]
    subject_grants: bool,
    /// Collections it may search on /v1/collections/NAME/search, as globs.
    #[arg(long, value_delimiter = ',')]
    collections: Vec<String>,
    /// Collections it may add documents to and delete them from, as globs.
    #[arg(long, value_delimiter = ',')]
    ingest: Vec<String>,
    /// A policy laid over its routes' policies: it can tighten them, never loosen them.
    #[arg(long)]
    policy: Option<String>,
    /// full, redacted or metadata: the audit class of its records.
    #[arg(long)]
    audit_class: Option<String>,
    /// Requests per minute, in any 60 s window.
    #[arg(long)]
    rpm: Option<u32>,
    /// Tokens per minute (each request reserves its prompt estimate plus max_tokens).
    #[arg(long)]
    tpm: Option<u64>,
    /// Requests in flight at once (a stream counts until it ends).
    #[arg(long)]
    max_concurrency: Option<u32>,
    /// Spend per --budget-period, in USD.
    #[arg(long)]
    budget_usd: Option<f64>,
    /// day or month (calendar, UTC).
    #[arg(long)]
    budget_period: Option<String>,
    /// The team it belongs to ([limits.team.NAME] applies to all its keys together).
    #[arg(long)]
    team: Option<String>,
    /// When it stops working (2026-12-31, 2026-12-31T12:00:00Z or Unix ms).
    #[arg(long)]
    expires: Option<String>,
    /// Serve its repeated identical requests from the exact cache for this many seconds.
    #[arg(long, value_name = "SECONDS")]
    cache_ttl: Option<u64>,
    /// key, team or org: who shares those cached answers (default: key).
    #[arg(long)]
    cache_scope: Option<String>,
    /// Where its requests may go, laid over each alias's placement (never wider):
    /// `trust=private`, `region=eu,ch`, `trust=private;region=eu`. A request's
    /// x-seam-placement header can narrow it further.
    #[arg(long, value_name = "PLACEMENT")]
    placement: Option<String>,
    /// Print one JSON object (with `id` and `key`) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; prints its secret once (with --json: one object with `id` and `key`).
    Create(Box<CreateKey>),
    /// Every key (never the secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    Show {
        id: String,
    },
    /// The key stops working within seconds on every server using this store.
    Revoke {
        id: String,
    },
    /// Reads a secret on stdin and prints the `sha256:…` a config's [keys.NAME] hash takes.
    Hash,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain, checkpoints and anchor: exit 0, or 3 naming the first bad record.
    Verify,
    /// One record as JSON, payload decrypted when kept and not erased.
    Show { id: String },
    /// Records as JSON lines (one object per record) or a Parquet file (one row per record).
    Export {
        /// `parquet` needs `-o FILE`.
        #[arg(long, value_enum, default_value_t = audit::ExportFormat::Jsonl)]
        format: audit::ExportFormat,
        /// From this time (2026-11-29, 2026-11-29T10:00:00Z or Unix ms).
        #[arg(long)]
        since: Option<String>,
        /// Until this time, exclusive.
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        key: Option<String>,
        /// Only records of this kind.
        #[arg(long, value_enum)]
        kind: Option<audit::Kind>,
        /// Write here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Forget a data subject: destroy its key (payloads become unreadable everywhere) and record
    /// the erasure in the chain.
    Erase {
        #[arg(long)]
        subject: String,
    },
    /// Apply the retention rules now: drop payloads and records past their days.
    Purge,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
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
        Command::Eval(args) => match eval::run(*args) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Config {
            command: ConfigCommand::Check { config },
        } => return check(&config),
        Command::Audit { config, command } => {
            let command = match command {
                AuditCommand::Verify => audit::Command::Verify,
                AuditCommand::Show { id } => audit::Command::Show { id },
                AuditCommand::Export {
                    format,
                    since,
                    until,
                    subject,
                    key,
                    kind,
                    output,
                } => audit::Command::Export {
                    format,
                    filter: audit::Filter {
                        since,
                        until,
                        subject,
                        key,
                        kind,
                    },
                    output,
                },
                AuditCommand::Erase { subject } => audit::Command::Erase { subject },
                AuditCommand::Purge => audit::Command::Purge,
            };
            return audit::run(config.as_deref(), command);
        }
        Command::Keys { config, command } => {
            let command = match command {
                KeysCommand::Create(k) => {
                    let k = *k;
                    keys::Command::Create {
                        key: Box::new(seam_store::keys::NewKey {
                            name: k.name,
                            models: k.models,
                            direct: k.direct,
                            policy: k.policy,
                            audit_class: k.audit_class,
                            rpm: k.rpm,
                            tpm: k.tpm,
                            max_concurrency: k.max_concurrency,
                            budget_usd: k.budget_usd,
                            budget_period: k.budget_period,
                            team: k.team,
                            expires: k.expires.map(seam_store::keys::TimeArg::Text),
                            cache_ttl_s: k.cache_ttl,
                            cache_scope: k.cache_scope,
                            placement: k.placement,
                            tools: k.tools,
                            console: k.console,
                            labels: k.labels,
                            subject_grants: k.subject_grants,
                            collections: k.collections,
                            ingest: k.ingest,
                        }),
                        json: k.json,
                    }
                }
                KeysCommand::List { json } => keys::Command::List { json },
                KeysCommand::Show { id } => keys::Command::Show { id },
                KeysCommand::Revoke { id } => keys::Command::Revoke { id },
                KeysCommand::Hash => keys::Command::Hash,
            };
            return keys::run(config.as_deref(), command);
        }
        Command::Redteam(args) => return redteam::run(*args),
        Command::Ingest(args) => return ingest::run(*args),
        Command::Export(args) => exit::export(&args),
        Command::Import(args) => exit::import(&args),
        Command::Models(args) => return models::run(args),
        Command::Prompts(args) => return prompts::run(args),
        Command::Rollout(args) => return rollout::run(args),
        Command::Report(args) => return report::run(args),
        Command::Redact { entities: true, .. } => return redact::entities(),
        Command::Redact {
            policy,
            config,
            format,
            file,
            ..
        } => {
            let args = redact::Args {
                policy: policy.as_deref(),
                config: config.as_deref(),
                json: format == Format::Json,
                input: file.as_deref(),
            };
            match redact::run(&args) {
                Ok(code) => return code,
                Err(e) => Err(e),
            }
        }
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
        // Building the gateway compiles policies (entity names) and output schemas too.
        Ok(cfg) => {
            let registry = std::sync::Arc::new(seam_gateway::Registry::new());
            let gateway = match seam_gateway::Gateway::new(&cfg, &registry) {
                Ok(g) => g,
                Err(e) => {
                    for line in e.lines() {
                        eprintln!("{}: {line}", path.display());
                    }
                    return ExitCode::from(2);
                }
            };
            // Online evaluators' assertions are parsed (and their judges checked) as serving does.
            let gateway = std::sync::Arc::new(gateway);
            if let Err(e) = seam_server::evaluate::Evaluators::new(&cfg, &gateway) {
                for line in e.lines() {
                    eprintln!("{}: {line}", path.display());
                }
                return ExitCode::from(2);
            }
            // Prompt files load as `seam serve` loads them, and each names a model it can serve.
            let prompts = match seam_prompts::Registry::load(&cfg.prompts_dir) {
                Ok(p) => p,
                Err(errors) => {
                    for e in errors {
                        eprintln!("{e}");
                    }
                    return ExitCode::from(2);
                }
            };
            let mut bad = false;
            if let Err(e) = seam_server::rollouts::check_prompts(&cfg, &prompts) {
                for line in e.lines() {
                    eprintln!("{}: {line}", path.display());
                }
                bad = true;
            }
            for p in prompts.iter() {
                if let Some(m) = &p.model
                    && let Err(e) = gateway.resolve(m)
                {
                    eprintln!(
                        "{}: prompt {}: model: {}",
                        path.display(),
                        p.name,
                        e.message
                    );
                    bad = true;
                }
            }
            if bad {
                return ExitCode::from(2);
            }
            println!(
                "{}: ok ({} providers, {} models, {} prompts)",
                path.display(),
                cfg.providers.len(),
                cfg.models.len(),
                prompts.len()
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

pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<Config> {
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let source = config.map(Path::to_path_buf);
    runtime.block_on(run(cfg, listen, source))
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

async fn run(cfg: Config, listen: SocketAddr, source: Option<PathBuf>) -> anyhow::Result<()> {
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

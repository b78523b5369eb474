//! `seam keys create|list|show|revoke|hash`: virtual API keys in the store the config names.
//! A running `seam serve` picks changes up within seconds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use seam_store::keys::{KeyStore, NewKey, TimeArg};
use serde_json::json;

use crate::config::load;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The config naming the store (default: SEAM_CONFIG, else the embedded default).
    #[arg(long, short = 'c', env = "SEAM_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `seam keys create`'s flags (boxed: they would make every `Command` as large).
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

#[derive(clap::Subcommand)]
enum Command {
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

impl From<CreateKey> for NewKey {
    fn from(k: CreateKey) -> Self {
        NewKey {
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
            expires: k.expires.map(TimeArg::Text),
            cache_ttl_s: k.cache_ttl,
            cache_scope: k.cache_scope,
            placement: k.placement,
            tools: k.tools,
            console: k.console,
            labels: k.labels,
            subject_grants: k.subject_grants,
            collections: k.collections,
            ingest: k.ingest,
        }
    }
}

fn open(config: Option<&Path>) -> anyhow::Result<(KeyStore, seam_config::Config)> {
    let cfg = load(config)?;
    let store = seam_server::audit::store_config(&cfg);
    if let seam_store::BackendConfig::Sqlite { path } = &store.backend
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let ks =
        KeyStore::open(&store).map_err(|e| anyhow::anyhow!("cannot open the key store: {e}"))?;
    Ok((ks, cfg))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Command::Hash = args.command {
        let mut secret = String::new();
        std::io::stdin().read_line(&mut secret)?;
        let secret = secret.trim();
        if secret.is_empty() {
            bail!("no key on stdin (pipe the secret in: the hash is what a config may hold)");
        }
        println!("{}", seam_store::keys::hash_secret(secret));
        return Ok(ExitCode::SUCCESS);
    }
    let (mut ks, cfg) = open(args.config.as_deref())?;
    let now = seam_server::audit::now_ms();
    match args.command {
        Command::Create(create) => {
            let json = create.json;
            let key = NewKey::from(*create);
            let scope = key.scope(
                |p| cfg.policies.contains_key(p),
                cfg.audit.master_key.is_some(),
                now,
            )?;
            let (r, secret) = ks
                .create(&key.name, &scope, now)
                .map_err(|e| anyhow::anyhow!("cannot create the key: {e}"))?;
            if json {
                let mut v = r.to_json(now);
                v["key"] = json!(secret);
                println!("{v}");
            } else {
                println!("{secret}");
                eprintln!(
                    "seam: created {} ({}); the key above is shown once — store it now",
                    r.id, r.name
                );
            }
        }
        Command::List { json } => {
            let all = ks.list().map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                for r in &all {
                    println!("{}", r.to_json(now));
                }
            } else {
                for r in &all {
                    println!(
                        "{}\t{}\t{}…\t{}\tmodels={}\ttools={}",
                        r.id,
                        r.name,
                        r.prefix,
                        r.state(now),
                        r.scope.models.join(","),
                        r.scope.tools.join(",")
                    );
                }
            }
        }
        Command::Show { id } => match ks.get(&id).map_err(|e| anyhow::anyhow!("{e}"))? {
            Some(r) => println!("{}", serde_json::to_string_pretty(&r.to_json(now))?),
            None => bail!("no key with id {id}"),
        },
        Command::Revoke { id } => {
            if !ks.revoke(&id, now).map_err(|e| anyhow::anyhow!("{e}"))? {
                bail!("no active key with id {id}");
            }
            println!("revoked {id}");
        }
        Command::Hash => {}
    }
    Ok(ExitCode::SUCCESS)
}

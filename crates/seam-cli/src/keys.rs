//! `seam keys create|list|show|revoke|hash`: virtual API keys in the store the config names.
//! A running `seam serve` picks changes up within seconds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use seam_store::RetentionClass;
use seam_store::keys::{BudgetPeriod, CacheScope, KeyRecord, KeyScope, KeyStore};
use serde_json::json;

use crate::{load, one_line};

#[derive(clap::Args)]
pub struct NewKey {
    #[arg(long)]
    pub name: String,
    /// Aliases it may use, as globs: `chat,gpt-*` (`*` for all).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// May use PROVIDER/MODEL addressing.
    #[arg(long)]
    pub direct: bool,
    /// A policy applied to its requests.
    #[arg(long)]
    pub policy: Option<String>,
    /// full, redacted or metadata: the audit class of its records.
    #[arg(long)]
    pub audit_class: Option<String>,
    /// Requests per minute.
    #[arg(long)]
    pub rpm: Option<u32>,
    /// Tokens per minute.
    #[arg(long)]
    pub tpm: Option<u64>,
    #[arg(long)]
    pub max_concurrency: Option<u32>,
    #[arg(long)]
    pub budget_usd: Option<f64>,
    /// day or month.
    #[arg(long)]
    pub budget_period: Option<String>,
    #[arg(long)]
    pub team: Option<String>,
    /// When it stops working (2026-12-31, 2026-12-31T12:00:00Z or Unix ms).
    #[arg(long)]
    pub expires: Option<String>,
    /// Serve its repeated identical requests from the exact cache for this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub cache_ttl: Option<u64>,
    /// key, team or org: who shares those cached answers (default: key).
    #[arg(long)]
    pub cache_scope: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub enum Command {
    Create(Box<NewKey>),
    List {
        json: bool,
    },
    Show {
        id: String,
    },
    Revoke {
        id: String,
    },
    /// Prints `sha256:…` of a secret read from stdin, for `[keys.NAME] hash`.
    Hash,
}

pub fn run(config: Option<&Path>, command: Command) -> ExitCode {
    match run_inner(config, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("seam: error: {}", one_line(&e));
            ExitCode::FAILURE
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

fn record_json(r: &KeyRecord) -> serde_json::Value {
    json!({
        "id": r.id, "name": r.name, "prefix": r.prefix,
        "created": seam_store::rfc3339(r.created_ms),
        "revoked": r.revoked_ms.map(seam_store::rfc3339),
        "scope": r.scope,
    })
}

fn run_inner(config: Option<&Path>, command: Command) -> anyhow::Result<ExitCode> {
    if let Command::Hash = command {
        let mut secret = String::new();
        std::io::stdin().read_line(&mut secret)?;
        let secret = secret.trim();
        if secret.is_empty() {
            bail!("no key on stdin (pipe the secret in: the hash is what a config may hold)");
        }
        println!("{}", seam_store::keys::hash_secret(secret));
        return Ok(ExitCode::SUCCESS);
    }
    let (mut ks, cfg) = open(config)?;
    let now = seam_server::audit::now_ms();
    match command {
        Command::Create(k) => {
            let scope = scope(&k, &cfg, now)?;
            let (r, secret) = ks
                .create(&k.name, &scope, now)
                .map_err(|e| anyhow::anyhow!("cannot create the key: {e}"))?;
            if k.json {
                let mut v = record_json(&r);
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
                    println!("{}", record_json(r));
                }
            } else {
                for r in &all {
                    let state = if r.revoked_ms.is_some() {
                        "revoked"
                    } else if !r.is_active(now) {
                        "expired"
                    } else {
                        "active"
                    };
                    println!(
                        "{}\t{}\t{}…\t{state}\tmodels={}",
                        r.id,
                        r.name,
                        r.prefix,
                        r.scope.models.join(",")
                    );
                }
            }
        }
        Command::Show { id } => match ks.get(&id).map_err(|e| anyhow::anyhow!("{e}"))? {
            Some(r) => println!("{}", serde_json::to_string_pretty(&record_json(&r))?),
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

/// Flags → scope, checked against the config (policies, the master key for payload classes).
fn scope(k: &NewKey, cfg: &seam_config::Config, now: i64) -> anyhow::Result<KeyScope> {
    if k.models.is_empty() && !k.direct {
        bail!(
            "the key could use no model: give --models (aliases or globs like \"gpt-*\") or --direct"
        );
    }
    if let Some(p) = &k.policy
        && !cfg.policies.contains_key(p)
    {
        bail!("no policy named `{p}` in the config");
    }
    let audit_class = match k.audit_class.as_deref() {
        None => None,
        Some(c) => {
            let Some(class) = RetentionClass::parse(c) else {
                bail!(
                    "unknown audit class `{c}`; expected one of {}",
                    RetentionClass::NAMES
                );
            };
            if class != RetentionClass::Metadata && cfg.audit.master_key.is_none() {
                bail!("audit class `{c}` keeps payloads, which need [audit] master_key");
            }
            Some(class)
        }
    };
    let budget_period = match k.budget_period.as_deref() {
        None => None,
        Some("day") => Some(BudgetPeriod::Day),
        Some("month") => Some(BudgetPeriod::Month),
        Some(other) => bail!("unknown budget period `{other}`; expected day or month"),
    };
    if k.budget_usd.is_some() != budget_period.is_some() {
        bail!("--budget-usd and --budget-period go together");
    }
    if k.budget_usd.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
        bail!("--budget-usd must be a positive amount");
    }
    let expires_ms = match &k.expires {
        None => None,
        Some(t) => {
            let ms = crate::audit::parse_time(t)?;
            if ms <= now {
                bail!("--expires {t} is in the past");
            }
            Some(ms)
        }
    };
    if k.cache_scope.is_some() && k.cache_ttl.is_none() {
        bail!("--cache-scope needs --cache-ttl");
    }
    if k.cache_ttl
        .is_some_and(|t| !(1..=seam_config::cache::MAX_TTL_S).contains(&t))
    {
        bail!(
            "--cache-ttl must be between 1 and {} seconds (30 days)",
            seam_config::cache::MAX_TTL_S
        );
    }
    let cache_scope = match k.cache_scope.as_deref() {
        None => None,
        Some("key") => Some(CacheScope::Key),
        Some("team") => Some(CacheScope::Team),
        Some("org") => Some(CacheScope::Org),
        Some(other) => bail!("unknown cache scope `{other}`; expected key, team or org"),
    };
    Ok(KeyScope {
        models: k.models.clone(),
        direct: k.direct,
        policy: k.policy.clone(),
        audit_class,
        rpm: k.rpm,
        tpm: k.tpm,
        max_concurrency: k.max_concurrency,
        budget_usd: k.budget_usd,
        budget_period,
        team: k.team.clone(),
        expires_ms,
        cache_ttl_s: k.cache_ttl,
        cache_scope,
    })
}

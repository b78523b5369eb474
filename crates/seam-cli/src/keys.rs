//! `seam keys create|list|show|revoke|hash`: virtual API keys in the store the config names.
//! A running `seam serve` picks changes up within seconds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use seam_store::keys::{KeyStore, NewKey};
use serde_json::json;

use crate::{load, one_line};

pub enum Command {
    Create {
        key: Box<NewKey>,
        json: bool,
    },
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
        Command::Create { key, json } => {
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

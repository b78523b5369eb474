//! `seam rollout list|status|start|pause|promote|abort`: the rollouts of a config, as the store
//! shared by its servers holds them. Commands change the shared state (running servers follow
//! within a second) and leave a `rollout_decision` record in the audit trail, as the admin API's
//! do.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use seam_server::rollouts::{Command, apply_command, decision_record, status};
use seam_store::{AuditLog, RolloutStore};
use serde_json::Value;

use crate::config::load;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The config naming the rollouts and the store (default: SEAM_CONFIG, else the embedded
    /// default).
    #[arg(long, short = 'c', env = "SEAM_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: RolloutCommand,
}

#[derive(clap::Subcommand)]
enum RolloutCommand {
    /// Every rollout: mode, subject, status, stage, samples, and what the evidence supports now.
    List,
    /// One rollout with each check's evidence.
    Status { name: String },
    /// A new run from the first stage (after a promotion, rollback or abort), or resume a
    /// paused one.
    Start { name: String },
    /// Hold at the current stage (a violation still rolls back).
    Pause { name: String },
    /// End now, promoted: the candidate serves everything.
    Promote { name: String },
    /// End now: the control serves everything.
    Abort { name: String },
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = load(args.config.as_deref())?;
    let store = seam_server::audit::store_config(&cfg);
    if let seam_store::BackendConfig::Sqlite { path } = &store.backend
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut c =
        RolloutStore::open(&store).map_err(|e| anyhow!("cannot open the rollout store: {e}"))?;
    let rollout = |name: &str| {
        cfg.rollouts
            .get(name)
            .ok_or_else(|| anyhow!("no rollout `{name}` in the config"))
    };
    let (name, cmd) = match args.command {
        RolloutCommand::List => {
            let all = cfg
                .rollouts
                .values()
                .map(|r| status(&mut c, r).map_err(|e| anyhow!(e)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("no rollouts in the config");
            } else {
                for s in &all {
                    println!("{}", summary(s));
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        RolloutCommand::Status { name } => {
            let s = status(&mut c, rollout(&name)?).map_err(|e| anyhow!(e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("{}", summary(&s));
                if let Some(r) = s["reason"].as_str() {
                    println!(
                        "  last change: {r} ({})",
                        s["updated"].as_str().unwrap_or("")
                    );
                }
                for e in s["evidence"].as_array().into_iter().flatten() {
                    println!("  {}", e.as_str().unwrap_or_default());
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        RolloutCommand::Start { name } => (name, Command::Start),
        RolloutCommand::Pause { name } => (name, Command::Pause),
        RolloutCommand::Promote { name } => (name, Command::Promote),
        RolloutCommand::Abort { name } => (name, Command::Abort),
    };
    rollout(&name)?;
    let row = apply_command(&mut c, &name, cmd, "seam rollout").map_err(|e| anyhow!(e))?;
    if cfg.audit.enabled {
        let mut log =
            AuditLog::open(&store).map_err(|e| anyhow!("cannot open the audit log: {e}"))?;
        log.append(&[decision_record(&name, &row, cmd.as_str(), Vec::new())])
            .map_err(|e| anyhow!("the command took effect, but its audit record failed: {e}"))?;
    }
    println!(
        "{name}: {} (run {}, stage {})",
        row.status, row.run, row.stage
    );
    Ok(ExitCode::SUCCESS)
}

/// `NAME  canary alias=support  running  stage 1 (5%)  candidate 210 / control 3990  hold: …`
fn summary(s: &Value) -> String {
    let subject = match (&s["subject"]["alias"], &s["subject"]["prompt"]) {
        (Value::String(a), _) => format!("alias={a}"),
        (_, Value::String(p)) => format!("prompt={p}"),
        _ => String::new(),
    };
    let mut line = format!(
        "{}  {}  {}  {}",
        s["name"].as_str().unwrap_or_default(),
        s["mode"].as_str().unwrap_or_default(),
        subject,
        s["status"].as_str().unwrap_or_default(),
    );
    if s["status"] == "not_started" {
        return line;
    }
    line.push_str(&format!(
        "  run {} stage {} ({}%)  candidate {} / control {}",
        s["run"],
        s["stage"],
        s["share_percent"],
        s["samples"]["candidate"],
        s["samples"]["control"],
    ));
    if let Some(d) = s["now"]["decision"].as_str() {
        line.push_str(&format!("  now: {d}"));
        if let Some(r) = s["now"]["reason"].as_str() {
            line.push_str(&format!(" ({r})"));
        }
    }
    line
}

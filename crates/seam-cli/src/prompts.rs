//! `seam prompts list|show|render`: the prompt files in the config's folder (`prompts/*.prompt`),
//! their versions (content hashes), and what one renders to with given variables.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use seam_prompts::{Prompt, Registry};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// The config whose folder holds `prompts/` (default: SEAM_CONFIG, else the current folder).
    #[arg(long, short = 'c', env = "SEAM_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The prompts folder itself, instead of the config's `prompts/`.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: PromptsCommand,
}

#[derive(clap::Subcommand)]
enum PromptsCommand {
    /// Every prompt: name, version, default alias, description.
    List,
    /// One prompt: its version, defaults, variables and template.
    Show { name: String },
    /// Render a prompt with variables and print the messages and parameters it sends, as JSON.
    Render {
        name: String,
        /// The variables, as a JSON object.
        #[arg(long, conflicts_with = "vars_file")]
        vars: Option<String>,
        /// A file holding the variables as a JSON object.
        #[arg(long)]
        vars_file: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("seam: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn folder(config: Option<&Path>, dir: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = dir {
        return dir;
    }
    config
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("prompts"), |p| p.join("prompts"))
}

fn run_inner(args: Args) -> anyhow::Result<()> {
    let dir = folder(args.config.as_deref(), args.dir);
    let registry = Registry::load(&dir).map_err(|errors| anyhow!(errors.join("; ")))?;
    let get = |name: &str| -> anyhow::Result<&Prompt> {
        registry
            .get(name)
            .with_context(|| format!("no prompt `{name}` in {}", dir.display()))
    };
    match args.command {
        PromptsCommand::List => {
            if registry.is_empty() {
                println!("no prompts in {}", dir.display());
            }
            for p in registry.iter() {
                println!(
                    "{}\t{}\t{}\t{}",
                    p.name,
                    p.version,
                    p.model.as_deref().unwrap_or("-"),
                    p.description.as_deref().unwrap_or("")
                );
            }
        }
        PromptsCommand::Show { name } => {
            let p = get(&name)?;
            println!("prompt: {}", p.name);
            println!("version: {}", p.version);
            if let Some(d) = &p.description {
                println!("description: {d}");
            }
            println!("model: {}", p.model.as_deref().unwrap_or("-"));
            if !p.params.is_empty() {
                println!("params: {}", Value::Object(p.params.clone()));
            }
            println!("variables: {}", p.variables().join(", "));
            if p.output_schema.is_some() {
                println!("output schema: yes");
            }
            if let Some(Value::Array(tests)) = &p.tests {
                println!("tests: {}", tests.len());
            }
            if let Some(system) = &p.system {
                println!("--- system\n{system}");
            }
            println!("--- template\n{}", p.template);
        }
        PromptsCommand::Render {
            name,
            vars,
            vars_file,
        } => {
            let p = get(&name)?;
            let text = match (vars, vars_file) {
                (Some(v), _) => v,
                (None, Some(f)) => {
                    std::fs::read_to_string(&f).with_context(|| format!("{}", f.display()))?
                }
                (None, None) => "{}".to_owned(),
            };
            let vars: Value = serde_json::from_str(&text).context("--vars is not JSON")?;
            let r = match p.render(&vars) {
                Ok(r) => r,
                Err(e) => bail!("prompt `{name}`: {e}"),
            };
            let mut messages = Vec::new();
            if let Some(system) = r.system {
                messages.push(json!({"role": "system", "content": system}));
            }
            messages.push(json!({"role": "user", "content": r.user}));
            let out = json!({
                "prompt": p.name,
                "version": p.version,
                "model": p.model,
                "params": p.params,
                "messages": messages,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}

//! `seam config check|default`, and [`load`]: how every subcommand reads its `--config`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use seam_config::{Config, ConfigError, Resolver};

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(clap::Subcommand)]
enum ConfigCommand {
    /// Validate a config: exit 0, or print each error with its TOML path and exit 2.
    Check {
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
    /// Print the embedded default config (what `seam serve` runs without --config).
    Default,
}

/// An invalid config is not an error here but the outcome `check` reports: one line per problem
/// on stderr and exit 2, so it never reaches the one-line error path.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Check { config } => Ok(check(&config)),
        ConfigCommand::Default => {
            print!("{}", seam_config::default_toml(&|k| std::env::var(k).ok()));
            Ok(ExitCode::SUCCESS)
        }
    }
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

/// The config at `path`, or the embedded default; every problem joined into one error.
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

//! `seam`: the one binary. Each subcommand's module owns its clap arguments and one entry point,
//! `run(Args) -> anyhow::Result<ExitCode>`: `Ok` carries the outcome (0, or a documented code such
//! as eval's 100 or audit verify's 3), and every `Err` becomes one line on stderr and exit 1, here.

mod audit;
mod config;
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
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The request path allocates many small, short-lived buffers; mimalloc serves them with less
// contention and fewer instructions than glibc's allocator (see BENCHMARKS.md). Its stable 2.x
// line (the `v2` feature): 3.x keeps freed pages for a second before returning them, about 4 MB
// more at peak under load for the same throughput.
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
    Serve(serve::Args),
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
    Config(config::Args),
    /// The audit trail: verify the chain, show or export records, erase a subject, apply retention.
    Audit(audit::Args),
    /// Virtual API keys: create (the secret is printed once; models, MCP tools, limits, a
    /// policy, a placement such as `trust=private;region=eu`), list, show, revoke; hash a secret
    /// for a config's [keys.NAME].
    Keys(keys::Args),
    /// Run a policy's input stage on text (a file, or stdin) and print the result. With neither
    /// --config nor --policy, every detector runs and findings are redacted. Exit 3 when the
    /// policy blocks something in the input.
    Redact(redact::Args),
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

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => serve::run(args),
        Command::Eval(args) => eval::run(*args),
        Command::Models(args) => models::run(args),
        Command::Prompts(args) => prompts::run(args),
        Command::Rollout(args) => rollout::run(args),
        Command::Report(args) => report::run(args),
        Command::Config(args) => config::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Keys(args) => keys::run(args),
        Command::Redact(args) => redact::run(args),
        Command::Redteam(args) => redteam::run(*args),
        Command::Ingest(args) => ingest::run(*args),
        Command::Export(args) => exit::export(args),
        Command::Import(args) => exit::import(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("seam: error: {}", one_line(&e));
        ExitCode::FAILURE
    })
}

/// `anyhow`'s chain on one line: "context: cause: root cause".
fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(ToString::to_string).collect();
    parts.join(": ").replace('\n', " ")
}

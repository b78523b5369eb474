//! `seam-bench`: the load benchmark for Seam.
//!
//! The subcommands share one binary so the runner can start its helpers as separate, pinned
//! processes:
//! - `mock`: a fast OpenAI-shaped upstream (canned chat completion and a canned 20-chunk SSE
//!   stream) that answers Anthropic Messages requests too and serves one MCP tool on `/mcp`, or
//!   with `--status 503` a failing one;
//! - `proxy`: a do-nothing reverse proxy, the reference floor for what any gateway adds here;
//! - `load`: an open-loop (fixed rate, coordinated omission counted) or closed-loop (fixed
//!   concurrency) load generator that prints one JSON line;
//! - `run`: the entry point; starts the mocks, the proxy and `seam`, runs every scenario against
//!   the mock directly, through the proxy and through `seam`, then the routing scenarios (plain,
//!   fallback and weighted aliases) and the policy scenarios (an alias without a policy against
//!   one that tokenizes personal data) and the cache scenario (a hit against the echo provider)
//!   and the surfaces scenario (chat completions, Responses and Messages requests in turn)
//!   through `seam`, then the MCP scenario (`tools/call` directly, through a seam of its own, and
//!   through it with a policy on results), then the audit scenario (a seam with
//!   audit off against an audited one), then the prompts scenario (a `prompt:` request against the
//!   messages it renders to, an alias with a shadow rollout against one without), then the full
//!   scenario (nginx, when installed, against seam routing only and seam's whole pipeline), and
//!   prints markdown tables of the differences;
//! - `audit-store`: fills an audit store with a million records and times `seam audit verify`
//!   and `seam audit erase` on it;
//! - `limits`: times limit checks (admit and settle over four scopes) in process and via Redis;
//! - `evals`: deterministic assertions per second, and a 1,000-case `seam eval` suite through seam;
//! - `prompts`: a prompt render, the server's prompt step and rollout assignment, in process;
//! - `report`: fills a store with a million request records and times `seam report cost` and
//!   `seam report whatif` on it;
//! - `retrieval`: hybrid, BM25 and vector search over 100,000 chunks, ingestion with the local
//!   embedder, and the semantic cache's lookup, on one thread.
//!
//! BENCHMARKS.md at the workspace root describes the method and holds the latest figures.

mod audit;
mod audit_store;
mod body;
mod cache;
mod console;
mod evals;
mod exit;
mod full;
mod limits;
mod load;
mod mcp;
mod mock;
mod names;
mod nginx;
mod policy;
mod procs;
mod prompts;
mod prompts_inproc;
mod proxy;
mod report;
mod report_bench;
mod retrieval;
mod routing;
mod run;
mod server;
mod stats;
mod surfaces;
mod timer;
mod traces;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "seam-bench",
    version,
    about = "Load benchmark for seam: mock upstream, load generator, runner"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the mock upstream (`POST /v1/chat/completions`, `POST /v1/messages`, `POST /mcp`).
    Mock(mock::MockArgs),
    /// Serve a do-nothing reverse proxy (the reference floor for added latency).
    Proxy(proxy::ProxyArgs),
    /// Generate load against one URL and print one JSON line with the results.
    Load(load::LoadArgs),
    /// Run every scenario directly, through a reference proxy and through seam; print markdown.
    Run(run::RunArgs),
    /// Fill an audit store and time `seam audit verify` and `seam audit erase` on it.
    AuditStore(audit_store::AuditStoreArgs),
    /// Fill a store with a year of records; time the console's overview on it and the rollups' cost.
    Console(console::ConsoleArgs),
    /// Time limit checks (admit + settle over four scopes), in process and through Redis.
    Limits(limits::LimitsArgs),
    /// Time deterministic assertions and a 1,000-case `seam eval` suite through the gateway.
    Evals(evals::EvalsArgs),
    /// Time a prompt render, the server's prompt step and rollout assignment, in process.
    Prompts(prompts_inproc::PromptsArgs),
    /// Time search over 100,000 chunks, ingestion with the local embedder and the semantic cache.
    Retrieval(retrieval::RetrievalArgs),
    /// Fill an audit store and time the exit drill: export it, import it (SQLite, PostgreSQL).
    Exit(exit::ExitArgs),
    /// Fill a store with a million requests; time `seam report cost` and `whatif` on it.
    Report(report_bench::ReportArgs),
}

fn main() -> ExitCode {
    match run_command(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` gives the whole context chain without the backtrace `Debug` would add.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_command(command: Command) -> anyhow::Result<()> {
    if let Command::AuditStore(args) = command {
        // Blocking work (SQLite, child processes) from start to end: no runtime needed.
        return audit_store::main(args);
    }
    if let Command::Exit(args) = command {
        // Blocking work on the stores and files: no runtime needed.
        return exit::main(args);
    }
    if let Command::Report(args) = command {
        // Blocking work (SQLite, child processes): no runtime needed.
        return report_bench::main(args);
    }
    if let Command::Console(args) = command {
        // Blocking work on one SQLite store: no runtime needed.
        return console::main(args);
    }
    if let Command::Evals(args) = command {
        // Child processes, and a runtime of its own for the assertion loop.
        return evals::main(args);
    }
    // Every process is pinned to one core by the runner, so one thread per process is the fair
    // and cheapest shape; the runner itself mostly waits on its children.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Mock(args) => runtime.block_on(mock::serve(args)),
        Command::Proxy(args) => runtime.block_on(proxy::serve(args)),
        Command::Load(args) => runtime.block_on(load::main(args)),
        Command::Run(args) => runtime.block_on(run::main(args)),
        Command::AuditStore(args) => audit_store::main(args),
        Command::Limits(args) => runtime.block_on(limits::main(args)),
        Command::Evals(args) => evals::main(args),
        Command::Console(args) => console::main(args),
        Command::Report(args) => report_bench::main(args),
        Command::Prompts(args) => runtime.block_on(prompts_inproc::main(args)),
        Command::Retrieval(args) => runtime.block_on(retrieval::main(args)),
        Command::Exit(args) => exit::main(args),
    }
}

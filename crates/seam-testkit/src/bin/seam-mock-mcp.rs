//! `seam-mock-mcp`: the testkit's mock MCP server as a process. `--stdio` speaks MCP on stdin and
//! stdout; otherwise it listens (`--listen ADDR`), prints one line, `listening on
//! http://ADDR/mcp`, once the socket is bound, and serves until killed.

use std::process::ExitCode;

use clap::Parser;
use seam_testkit::mcp::{McpOptions, MockMcp, serve_stdio};
use seam_testkit::process::{Listen, serve};

/// Mock MCP server (tools echo, add, customer, sleep, fail, big, crash, grow).
#[derive(Parser, Debug)]
#[command(name = "seam-mock-mcp", version)]
struct Args {
    /// Speak MCP on stdin/stdout instead of listening.
    #[arg(long)]
    stdio: bool,
    #[command(flatten)]
    listen: Listen,
    /// Tools per `tools/list` page.
    #[arg(long)]
    page_size: Option<usize>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let opts = McpOptions {
        page_size: args.page_size,
        protocol_version: None,
        refuse_get: false,
    };
    if args.stdio {
        return match serve_stdio(opts).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("seam-mock-mcp: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let started = MockMcp::start_on(args.listen.listen, opts).await;
    serve("seam-mock-mcp", args.listen.listen, started, MockMcp::url).await
}

//! `seam-mock-mcp`: the testkit's mock MCP server as a process. `--stdio` speaks MCP on stdin and
//! stdout; otherwise it listens (`--listen ADDR`), prints one line, `listening on
//! http://ADDR/mcp`, once the socket is bound, and serves until killed.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use seam_testkit::mcp::{McpOptions, MockMcp, serve_stdio};

/// Mock MCP server (tools echo, add, customer, sleep, fail, big, crash, grow).
#[derive(Parser, Debug)]
#[command(name = "seam-mock-mcp", version)]
struct Args {
    /// Speak MCP on stdin/stdout instead of listening.
    #[arg(long)]
    stdio: bool,
    /// Address to listen on; port 0 lets the OS pick one (read it from the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
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
    let mock = match MockMcp::start_on(args.listen, opts).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("seam-mock-mcp: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "listening on {}", mock.url()).and_then(|()| out.flush()) {
            eprintln!("seam-mock-mcp: cannot write to stdout: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("seam-mock-mcp: cannot wait for Ctrl-C: {e}");
        std::future::pending::<()>().await;
    }
    drop(mock);
    ExitCode::SUCCESS
}

//! `seam-mock`: the testkit's mock upstream as a process, for tests outside Rust (the Python
//! conformance suite). Prints exactly one line, `listening on http://ADDR`, once the socket is
//! bound, then serves until killed.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use seam_testkit::MockUpstream;

/// Mock OpenAI and Anthropic upstream with fault injection (select faults with `model`,
/// e.g. `fault-503`, `fault-reset`, `fault-cut-stream-2`).
#[derive(Parser, Debug)]
#[command(name = "seam-mock", version)]
struct Args {
    /// Address to listen on; port 0 lets the OS pick one (read it from the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mock = match MockUpstream::start_on(args.listen).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("seam-mock: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "listening on {}", mock.base_url()).and_then(|()| out.flush())
        {
            eprintln!("seam-mock: cannot write to stdout: {e}");
            return ExitCode::FAILURE;
        }
    }
    // SIGTERM ends the process by default; Ctrl-C ends it here, closing the listener first.
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("seam-mock: cannot wait for Ctrl-C: {e}");
        std::future::pending::<()>().await;
    }
    drop(mock);
    ExitCode::SUCCESS
}

//! What the testkit's server binaries (`seam-mock`, `seam-mock-mcp`, `seam-otlp`) share: the
//! `--listen` argument and the process protocol the conformance suite reads: exactly one line,
//! `listening on URL`, once the socket is bound, then serving until Ctrl-C (or killed).

use std::fmt::Display;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

/// `--listen ADDR`.
#[derive(clap::Args, Debug)]
pub struct Listen {
    /// Address to listen on; port 0 lets the OS pick one (read it from the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Serves `started` (the server `name` bound on `listen`, or why it could not be) as a process:
/// prints `listening on {url(server)}`, then holds the server until Ctrl-C. SIGTERM ends the
/// process by default; Ctrl-C ends it here, closing the listener first.
pub async fn serve<S, E: Display>(
    name: &str,
    listen: SocketAddr,
    started: Result<S, E>,
    url: impl FnOnce(&S) -> String,
) -> ExitCode {
    let server = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{name}: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "listening on {}", url(&server)).and_then(|()| out.flush()) {
            eprintln!("{name}: cannot write to stdout: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("{name}: cannot wait for Ctrl-C: {e}");
        std::future::pending::<()>().await;
    }
    drop(server);
    ExitCode::SUCCESS
}

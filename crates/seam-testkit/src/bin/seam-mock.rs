//! `seam-mock`: the testkit's mock upstream as a process, for tests outside Rust (the Python
//! conformance suite). Prints exactly one line, `listening on http://ADDR`, once the socket is
//! bound, then serves until killed.

use std::process::ExitCode;

use clap::Parser;
use seam_testkit::MockUpstream;
use seam_testkit::process::{Listen, serve};

/// Mock OpenAI and Anthropic upstream with fault injection (select faults with `model`,
/// e.g. `fault-503`, `fault-reset`, `fault-cut-stream-2`).
#[derive(Parser, Debug)]
#[command(name = "seam-mock", version)]
struct Args {
    #[command(flatten)]
    listen: Listen,
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = Args::parse().listen.listen;
    let started = MockUpstream::start_on(addr).await;
    serve("seam-mock", addr, started, MockUpstream::base_url).await
}

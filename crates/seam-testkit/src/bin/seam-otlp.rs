//! `seam-otlp`: a mock OpenTelemetry collector (OTLP/HTTP protobuf on `POST /v1/traces`) for the
//! conformance tests. Prints exactly one line, `listening on http://ADDR`, once the socket is
//! bound; `GET /spans` lists what it received, `POST /__otlp/mode` makes it fail or stall.

use std::process::ExitCode;

use clap::Parser;
use seam_testkit::otlp::OtlpReceiver;
use seam_testkit::process::{Listen, serve};

#[derive(Parser, Debug)]
#[command(name = "seam-otlp", version)]
struct Args {
    #[command(flatten)]
    listen: Listen,
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = Args::parse().listen.listen;
    let started = OtlpReceiver::start_on(addr).await;
    serve("seam-otlp", addr, started, OtlpReceiver::base_url).await
}

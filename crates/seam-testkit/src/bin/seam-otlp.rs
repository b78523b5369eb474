//! `seam-otlp`: a mock OpenTelemetry collector (OTLP/HTTP protobuf on `POST /v1/traces`) for the
//! conformance tests. Prints exactly one line, `listening on http://ADDR`, once the socket is
//! bound; `GET /spans` lists what it received, `POST /__otlp/mode` makes it fail or stall.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use seam_testkit::otlp::OtlpReceiver;

#[derive(Parser, Debug)]
#[command(name = "seam-otlp", version)]
struct Args {
    /// Address to listen on; port 0 lets the OS pick one (read it from the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let rx = match OtlpReceiver::start_on(args.listen).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("seam-otlp: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "listening on {}", rx.base_url()).and_then(|()| out.flush()) {
            eprintln!("seam-otlp: cannot write to stdout: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("seam-otlp: cannot wait for Ctrl-C: {e}");
        std::future::pending::<()>().await;
    }
    drop(rx);
    ExitCode::SUCCESS
}

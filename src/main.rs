//! `hcal`: the hybrid calendar service and its tools.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    init_tracing();
    // The mailbox actors need an actix System; it runs on a Tokio runtime, so everything else
    // (HTTP server, clients, simulators) runs on it too.
    actix::System::new().block_on(cli::run(args))
}

/// Logs to stderr; `RUST_LOG` filters (default `info`, quieter for the demo's HTTP chatter).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

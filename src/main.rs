//! `hcal`: the hybrid calendar service and its tools.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let demo = matches!(args.command, cli::Command::Demo(_));
    init_tracing(args.log_format, if demo { "warn" } else { "info" });
    // The mailbox actors need an actix System; it runs on a Tokio runtime, so everything else
    // (HTTP server, clients, simulators) runs on it too.
    match actix::System::new().block_on(cli::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One clear line (with its causes), never a backtrace: this is an answer to the
            // operator, not a crash.
            eprintln!("error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once (many errors already quote theirs).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

/// Logs to stderr; `RUST_LOG` filters (default `default`: `info`, or `warn` for the demo,
/// whose narration is on stdout). Colours only when stderr is a terminal.
fn init_tracing(format: cli::LogFormat, default: &str) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        cli::LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

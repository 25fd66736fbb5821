//! Command-line interface: one module per subcommand.

mod config;
mod demo;
mod detect;
mod devices;
mod explain;
mod keys;
mod replay;
mod serve;
mod sim;
mod tenant;
mod tokens;
mod users;

use clap::{Parser, Subcommand};

/// hcal: Microsoft 365 calendars joined to meeting platforms and room devices.
#[derive(Debug, Parser)]
#[command(name = "hcal", version, about, long_about = None)]
pub struct Cli {
    /// Log format on standard error: `text` (colours only on a terminal) or `json` (one object
    /// per line). The level is `RUST_LOG`'s (default `info`; `warn` for `hcal demo`).
    #[arg(long, global = true, value_enum, env = "HCAL_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service with a configuration file.
    Serve(serve::ServeArgs),
    /// Check a configuration file and the secrets it names before running the service.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Show what the detection engine finds in an invite (keyword, join address) and why.
    Detect(detect::DetectArgs),
    /// Tell the story of one invite from its mailbox's events (a running service's admin API):
    /// what was detected, written, booked, skipped and why.
    Explain(explain::ExplainArgs),
    /// Run the service and the bundled simulators in one process and play a scripted scenario.
    Demo(demo::DemoArgs),
    /// Rebuild projections from the domain-event log: without options the meeting lists and the
    /// subscription index from the start; `--from` (meeting lists from a time) and `--mailbox`
    /// (one mailbox's meeting list) leave the subscription index alone. Run it while the
    /// service is stopped.
    Replay(replay::ReplayArgs),
    /// Run one of the bundled simulators of the outside world (for tests, demos, development).
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Enable, disable and list mailboxes of a running service.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Register, list, inspect and remove room devices (OBTP) of a running service.
    #[command(subcommand)]
    Devices(devices::DevicesCommand),
    /// Issue, list and revoke the tokens with which users' apps read their meeting lists.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Rotate the data keys, or see how many there are and which key service wraps them.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Connect a Microsoft 365 tenant: the admin-consent link and the admin test of a mailbox.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Config(cmd) => config::run(cmd).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Detect(args) => detect::run(args),
        Command::Explain(args) => explain::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Sim(cmd) => sim::run(cmd).await,
        Command::Tenant(cmd) => tenant::run(cmd).await,
        Command::Keys(cmd) => keys::run(cmd).await,
        Command::Devices(cmd) => devices::run(cmd).await,
        Command::Tokens(cmd) => tokens::run(cmd).await,
        Command::Users(cmd) => users::run(cmd).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_line_is_well_formed() {
        // clap checks names, conflicts and defaults of every subcommand only when asked.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}

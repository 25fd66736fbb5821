//! Command-line interface: one module per subcommand.

mod sim;

use clap::{Parser, Subcommand};

/// hcal: Microsoft 365 calendars joined to meeting platforms and room devices.
#[derive(Debug, Parser)]
#[command(name = "hcal", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one of the bundled simulators of the outside world (for tests, demos, development).
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Sim(cmd) => sim::run(cmd).await,
    }
}

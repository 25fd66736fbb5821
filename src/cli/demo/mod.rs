//! `hcal demo`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
mod scenario;

use self::scenario::DemoOptions;

/// Options of `hcal demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Put all state in this directory (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// hcal's HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Play the scenario and exit: status 0 only when every step was observed.
    #[arg(long)]
    pub exit: bool,
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let ok = scenario::run(DemoOptions { data_dir: args.data_dir, listen: args.listen, exit: args.exit }).await?;
    if ok { Ok(()) } else { anyhow::bail!("the demo scenario did not complete") }
}

//! `hcal serve --config hcal.toml`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use hcal::config;
use hcal::service::{self, Secrets};

/// Options of `hcal serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (see docs/configuration.md).
    #[arg(long, default_value = "hcal.toml")]
    pub config: PathBuf,
    /// Overrides `service.data_dir`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Overrides `service.listen`.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
}

/// Runs until Ctrl-C.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = config::load(&args.config)?;
    if let Some(dir) = args.data_dir {
        config.service.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.service.listen = listen;
    }
    let secrets = Secrets::from_env(&config)?;
    let running = service::start(config, secrets).await?;
    println!("hcal listening on {}", running.url);
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    running.stop().await;
    Ok(())
}

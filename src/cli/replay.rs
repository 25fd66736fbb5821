//! `hcal replay`.

use std::path::PathBuf;

use clap::Args;
use hcal::config;
use hcal::replay::{self, ReplayOptions};
use hcal_actors::ids::{MailboxId, TenantId, UserObjectId};

/// Options of `hcal replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Configuration file of the installation (its data directory and event log).
    #[arg(long, default_value = "hcal.toml")]
    pub config: PathBuf,
    /// Replay only events at or after this instant (RFC 3339), keeping the rows before it.
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Re-drive one mailbox (`tenantId/userId`): drop its rows and refold its whole history.
    #[arg(long)]
    pub mailbox: Option<String>,
}

/// Rebuilds the meeting-list projection. Run it while the service is stopped.
pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let config = config::load(&args.config)?;
    let mailbox = match &args.mailbox {
        Some(m) => {
            let (tenant, user) = m.split_once('/').ok_or_else(|| anyhow::anyhow!("--mailbox takes tenantId/userId"))?;
            Some(MailboxId { tenant: TenantId::parse(tenant)?, user: UserObjectId::parse(user)? })
        }
        None => None,
    };
    let folded = replay::run(&config, &ReplayOptions { from: args.from, mailbox }).await?;
    println!("replayed {folded} events into the meeting-list projection");
    Ok(())
}

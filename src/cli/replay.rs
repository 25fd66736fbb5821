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
    /// Replay only events at or after this instant (RFC 3339) into the meeting lists, keeping
    /// the rows before it; the subscription index is left as it is.
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Re-drive one mailbox (`tenantId/userId`): drop its meeting-list rows and refold its whole
    /// history; the subscription index is left as it is.
    #[arg(long)]
    pub mailbox: Option<String>,
}

/// Rebuilds projections from the domain-event log. Run it while the service is stopped.
pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let config = config::load(&args.config)?;
    let mailbox = match &args.mailbox {
        Some(m) => {
            let (tenant, user) = m.split_once('/').ok_or_else(|| anyhow::anyhow!("--mailbox takes tenantId/userId"))?;
            Some(MailboxId { tenant: TenantId::parse(tenant)?, user: UserObjectId::parse(user)? })
        }
        None => None,
    };
    let replayed = replay::run(&config, &ReplayOptions { from: args.from, mailbox }).await?;
    println!("replayed {} events into {}", replayed.events, replayed.projections.join(" and "));
    Ok(())
}

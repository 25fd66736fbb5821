//! `hcal tenant …`: connecting a Microsoft 365 tenant.
//!
//! - `hcal tenant consent-url --config hcal.toml [--redirect-uri …] [--tenant …]` prints the
//!   admin-consent link. Its state is sealed with the key of the service's data directory, so
//!   run it where that directory is (or use `POST /admin/v1/tenant/consent-url`).
//! - `hcal tenant test --config hcal.toml --mailbox user@…` runs the admin test with the
//!   client secret from the environment and exits non-zero when a step fails.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Args, Subcommand};
use hcal::graph::GraphClient;
use hcal::tenant::consent::{self, LinkTenant};
use hcal::tenant::mailbox_check::{self, MailboxRef};
use hcal::tenant::{Onboarding, OnboardingSettings};
use hcal::{config, keys};
use hcal_actors::ids::TenantId;

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Print the admin-consent link for an administrator of the tenant.
    ConsentUrl(ConsentUrlArgs),
    /// Create, read, change and delete a test event in a mailbox, and report each step.
    Test(TestArgs),
}

/// Options of `hcal tenant consent-url`.
#[derive(Debug, Args)]
pub struct ConsentUrlArgs {
    /// Configuration file (see docs/configuration.md).
    #[arg(long, default_value = "hcal.toml")]
    pub config: PathBuf,
    /// Where Entra ID sends the administrator back; must be registered on the application.
    /// Default: `{service.public_url}/admin/consent/callback`.
    #[arg(long)]
    pub redirect_uri: Option<String>,
    /// The tenant to sign in to: a tenant id, or `organizations` for any work or school
    /// tenant. Default: the configured tenant.
    #[arg(long)]
    pub tenant: Option<String>,
}

/// Options of `hcal tenant test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Configuration file (see docs/configuration.md).
    #[arg(long, default_value = "hcal.toml")]
    pub config: PathBuf,
    /// The mailbox to test: user principal name or object id.
    #[arg(long)]
    pub mailbox: String,
    /// The tenant id; default the configured one.
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_tenant(s: &str) -> Result<TenantId, String> {
    TenantId::parse(s).map_err(|e| e.to_string())
}

/// Runs a tenant command.
pub async fn run(cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::ConsentUrl(args) => consent_url(args),
        TenantCommand::Test(args) => test(args).await,
    }
}

fn consent_url(args: ConsentUrlArgs) -> anyhow::Result<()> {
    let config = config::load(&args.config)?;
    let onboarding = Onboarding::from_config(&config)?;
    let ring = keys::open(&config, keys::token_from_env(&config)?)?.ring;
    let tenant = match args.tenant.as_deref() {
        Some(t) => LinkTenant::parse(t).map_err(anyhow::Error::msg)?,
        None => LinkTenant::Configured,
    };
    let link = consent::make_link(&onboarding, &ring, tenant, args.redirect_uri.as_deref(), Utc::now())
        .map_err(anyhow::Error::msg)?;
    println!("{}", link.url);
    eprintln!(
        "Open this link as a Privileged Role or Global Administrator of {}. It is valid until {} and returns to {} \
         (register that redirect URI on the application).",
        link.tenant.map_or_else(|| "the tenant".to_owned(), |t| format!("tenant {t}")),
        link.expires_at.to_rfc3339(),
        link.redirect_uri,
    );
    Ok(())
}

async fn test(args: TestArgs) -> anyhow::Result<()> {
    let config = config::load(&args.config)?;
    let settings = OnboardingSettings::from_config(&config)?;
    let mailbox = MailboxRef::parse(&args.mailbox).map_err(anyhow::Error::msg)?;
    let tenant = args.tenant.unwrap_or(config.tenant.id);
    anyhow::ensure!(settings.tenants.contains(&tenant), "tenant {tenant} is not configured for this installation");
    let mut graph_config = config.graph.clone();
    settings.cloud.apply(&mut graph_config);
    let marker = graph_config.marker_property_id.clone();
    let graph = GraphClient::from_env(graph_config).context("configuring the Graph client")?;
    let report = mailbox_check::run(&graph, tenant, &mailbox, &marker, Utc::now()).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    match &report.failure {
        None => Ok(()),
        Some(f) => anyhow::bail!("the admin test failed at step {} ({})", f.step.as_str(), f.reason.as_str()),
    }
}

//! `hcal sim …`: the bundled simulators as stand-alone servers.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hcal_sim::graph::{GraphSim, GraphSimConfig};

/// Simulators.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// The Microsoft Graph simulator (Entra ID tokens and consent, calendars, subscriptions).
    Graph(GraphArgs),
}

/// Options of `hcal sim graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8025")]
    pub listen: SocketAddr,
    /// Simulator configuration (TOML; see docs/graph-simulator.md). Defaults follow Graph.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start without the demo tenant (set everything up through /_sim).
    #[arg(long)]
    pub empty: bool,
    /// Redirect URI registered for the demo application's admin-consent flow.
    #[arg(long, default_value = "http://127.0.0.1:8080/admin/consent/callback")]
    pub redirect_uri: String,
}

/// Runs a simulator until Ctrl-C.
pub async fn run(cmd: SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Graph(args) => graph(args).await,
    }
}

async fn graph(args: GraphArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<GraphSimConfig>(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => GraphSimConfig::default(),
    };
    let sim = GraphSim::start_on(config, args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    println!("Microsoft Graph simulator");
    println!("  Graph API        {}/v1.0", sim.url());
    println!("  token endpoint   {}/{{tenant}}/oauth2/v2.0/token", sim.url());
    println!("  admin consent    {}/{{tenant}}/adminconsent", sim.url());
    println!("  control surface  {}/_sim/…", sim.url());
    if !args.empty {
        let demo = sim.seed_demo(&args.redirect_uri).map_err(anyhow::Error::msg)?;
        println!("Demo tenant {} ({})", demo.domain, demo.tenant_id);
        println!("  client id        {}", demo.client_id);
        println!("  client secret    {}", demo.client_secret);
        for (id, name, mail, kind) in &demo.users {
            println!("  {:<5} {id}  {name} <{mail}>", kind.as_str());
        }
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    sim.stop().await;
    Ok(())
}

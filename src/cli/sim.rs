//! `hcal sim …`: the bundled simulators as stand-alone servers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hcal_sim::device::{DeviceKind, DeviceSim, DeviceSimConfig, DeviceSpec};
use hcal_sim::graph::script::{DEMO_DOMAIN, DEMO_MAILBOXES};
use hcal_sim::graph::{DemoIds, GraphSim, GraphSimConfig, MailboxKind};
use hcal_sim::webex::{WebexSim, WebexSimConfig};
use serde::de::DeserializeOwned;

/// Simulators.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// The Microsoft Graph simulator (Entra ID tokens and consent, calendars, subscriptions).
    Graph(GraphArgs),
    /// The Webex simulator (bearer tokens, personal rooms, meetings, Webex's error bodies).
    Webex(WebexArgs),
    /// The Cisco room device simulator (`Bookings Put` through /putxml, the legacy
    /// /bookingsputxml document, Basic auth; what each device holds at /_sim/devices/{id}/bookings).
    Device(DeviceArgs),
}

/// Options of `hcal sim device`.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8027")]
    pub listen: SocketAddr,
    /// Simulator configuration (TOML, the fields of `DeviceSimConfig`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A device, as `ID` (RoomOS) or `ID=legacy` (TC / CE); repeatable. Default: one RoomOS
    /// device `room-1`.
    #[arg(long = "device", value_parser = parse_device)]
    pub devices: Vec<(String, DeviceKind)>,
    /// Username of every device's admin account.
    #[arg(long, default_value = "admin")]
    pub username: String,
    /// Password of every device's admin account (the one `hcal devices add` reads from
    /// `HCAL_DEVICE_PASSWORD`). Default: generated and printed.
    #[arg(long, env = "HCAL_DEVICE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

fn parse_device(s: &str) -> Result<(String, DeviceKind), String> {
    let (id, kind) = match s.split_once('=') {
        Some((id, "legacy")) => (id, DeviceKind::Legacy),
        Some((id, "roomos")) => (id, DeviceKind::RoomOs),
        Some(_) => return Err(format!("'{s}' is not ID, ID=roomos or ID=legacy")),
        None => (s, DeviceKind::RoomOs),
    };
    let path_safe = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !path_safe {
        return Err(format!("'{id}' must be letters, digits, '-' or '_'"));
    }
    Ok((id.to_owned(), kind))
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
    /// Tenant id (a GUID) of the demo tenant. Default: generated.
    #[arg(long, value_parser = parse_guid)]
    pub tenant_id: Option<String>,
    /// Application (client) id of the demo application. Default: generated.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Client secret of the demo application, the one hcal reads from
    /// `HCAL_GRAPH_CLIENT_SECRET`. Default: generated.
    #[arg(long, env = "HCAL_GRAPH_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
}

/// Options of `hcal sim webex`.
#[derive(Debug, Args)]
pub struct WebexArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8026")]
    pub listen: SocketAddr,
    /// Simulator configuration (TOML, the fields of `WebexSimConfig`). Defaults follow Webex.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Bearer token to accept (the one hcal reads from `HCAL_WEBEX_TOKEN`); repeatable.
    /// Default: one is generated and printed.
    #[arg(long = "token", env = "HCAL_WEBEX_TOKEN", hide_env_values = true)]
    pub tokens: Vec<String>,
    /// A person with a Webex account and personal room, as `EMAIL=DISPLAY NAME`; repeatable.
    #[arg(long = "person", value_parser = parse_person)]
    pub people: Vec<(String, String)>,
    /// Start without the demo tenant's people (alex, deniz and megan @contoso.example, the
    /// people of `hcal sim graph`'s demo tenant).
    #[arg(long)]
    pub empty: bool,
}

fn parse_guid(s: &str) -> Result<String, String> {
    uuid::Uuid::parse_str(s).map(|_| s.to_ascii_lowercase()).map_err(|_| format!("'{s}' is not a GUID"))
}

fn parse_person(s: &str) -> Result<(String, String), String> {
    let (email, name) = s.split_once('=').ok_or_else(|| format!("'{s}' is not EMAIL=DISPLAY NAME"))?;
    let (email, name) = (email.trim(), name.trim());
    if !email.contains('@') || name.is_empty() {
        return Err(format!("'{s}' is not EMAIL=DISPLAY NAME"));
    }
    Ok((email.to_owned(), name.to_owned()))
}

/// Runs a simulator until Ctrl-C.
pub async fn run(cmd: SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Graph(args) => graph(args).await,
        SimCommand::Webex(args) => webex(args).await,
        SimCommand::Device(args) => device(args).await,
    }
}

async fn device(args: DeviceArgs) -> anyhow::Result<()> {
    let config: DeviceSimConfig = read_config(args.config.as_deref())?;
    let sim =
        DeviceSim::start_on(config, args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let generated = args.password.is_none();
    let password = args.password.unwrap_or_else(|| format!("device-{}", uuid::Uuid::new_v4().simple()));
    let devices = if args.devices.is_empty() { vec![("room-1".to_owned(), DeviceKind::RoomOs)] } else { args.devices };
    println!("Cisco room device simulator");
    println!("  base URL         {}", sim.url());
    println!("  admin account    {} / {}", args.username, if generated { password.as_str() } else { "(given)" });
    println!("Devices (address for hcal devices add --address; bookings held at …/_sim/devices/{{id}}/bookings)");
    for (id, kind) in &devices {
        let spec = match kind {
            DeviceKind::Legacy => DeviceSpec::legacy(id, &args.username, &password),
            DeviceKind::RoomOs => DeviceSpec::roomos(id, &args.username, &password),
        };
        sim.add_device(spec);
        let kind = if *kind == DeviceKind::Legacy { "legacy" } else { "roomOs" };
        println!("  {id:<16} {kind:<7} {}", sim.url_of(id));
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    sim.stop().await;
    Ok(())
}

fn read_config<T: DeserializeOwned + Default>(path: Option<&Path>) -> anyhow::Result<T> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<T>(&text).with_context(|| format!("parsing {}", path.display()))
        }
        None => Ok(T::default()),
    }
}

async fn graph(args: GraphArgs) -> anyhow::Result<()> {
    let config: GraphSimConfig = read_config(args.config.as_deref())?;
    let sim = GraphSim::start_on(config, args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    println!("Microsoft Graph simulator");
    println!("  Graph API        {}/v1.0", sim.url());
    println!("  token endpoint   {}/{{tenant}}/oauth2/v2.0/token", sim.url());
    println!("  admin consent    {}/{{tenant}}/adminconsent", sim.url());
    println!("  control surface  {}/_sim/…", sim.url());
    if !args.empty {
        let ids = DemoIds { tenant_id: args.tenant_id, client_id: args.client_id, client_secret: args.client_secret };
        let demo = sim.seed_demo_with(&args.redirect_uri, &ids).map_err(anyhow::Error::msg)?;
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

async fn webex(args: WebexArgs) -> anyhow::Result<()> {
    let config: WebexSimConfig = read_config(args.config.as_deref())?;
    let sim = WebexSim::start_on(config, args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let mut tokens: Vec<String> = args.tokens.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    let generated = tokens.is_empty();
    if generated {
        tokens.push(format!("webex-{}", uuid::Uuid::new_v4().simple()));
    }
    for token in &tokens {
        sim.add_token(token);
    }
    let mut people: Vec<(String, String)> = Vec::new();
    if !args.empty {
        people.extend(
            DEMO_MAILBOXES
                .iter()
                .filter(|m| m.2 == MailboxKind::User)
                .map(|(name, local, ..)| (format!("{local}@{DEMO_DOMAIN}"), (*name).to_owned())),
        );
    }
    people.extend(args.people);
    println!("Webex simulator");
    println!("  base URL         {}", sim.url());
    println!("  Webex API        {}/v1", sim.url());
    println!("  control surface  {}/_sim/…", sim.url());
    if generated {
        println!("  bearer token     {}", tokens.join(", "));
    } else {
        println!("  bearer tokens    {} given (--token / HCAL_WEBEX_TOKEN)", tokens.len());
    }
    if !people.is_empty() {
        println!("People");
        for (email, name) in &people {
            let id = sim.add_person(email, name);
            println!("  {id}  {name} <{email}>");
        }
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    sim.stop().await;
    Ok(())
}

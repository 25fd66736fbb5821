//! `hcal devices …`: register, list, inspect and remove room devices through a running
//! service's admin API. Credentials are read from environment variables, never from the command
//! line (where every local user could read them), and never printed.

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

use super::tokens::call;
use super::users::Target;

/// `hcal devices` subcommands.
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Register a room device: hcal pushes the room mailbox's bookings to it.
    Add {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// The room mailbox's object id (enabled with `hcal users enable`).
        #[arg(long)]
        room: String,
        /// `roomOs` (RoomOS 10 and later), `legacy` (TC / CE) or `webexCloud` (registered to Webex).
        #[arg(long, default_value = "roomOs")]
        kind: String,
        /// The device's base URL (`https://10.1.2.3`); for `webexCloud` the Webex API's.
        #[arg(long)]
        address: String,
        /// Device admin account (`roomOs`, `legacy`).
        #[arg(long)]
        username: Option<String>,
        /// Environment variable holding its password.
        #[arg(long, default_value = "HCAL_DEVICE_PASSWORD")]
        password_env: String,
        /// The device's id in Webex (`webexCloud`).
        #[arg(long)]
        cloud_device_id: Option<String>,
        /// Environment variable holding the Webex token (`webexCloud`).
        #[arg(long, default_value = "HCAL_DEVICE_TOKEN")]
        webex_token_env: String,
        /// Register this existing device again with the settings given.
        #[arg(long)]
        device: Option<String>,
    },
    /// List every device with its room and last push.
    List {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One device's last push: outcome, time, bookings, failures, next retry.
    Status {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// The device's id.
        id: String,
    },
    /// Remove a device: nothing is pushed to it any more.
    Remove {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// The device's id.
        id: String,
    },
}

fn secret(var: &str) -> anyhow::Result<String> {
    std::env::var(var).with_context(|| format!("environment variable {var} is not set"))
}

/// Runs a `devices` subcommand.
pub async fn run(cmd: DevicesCommand) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    match cmd {
        DevicesCommand::Add {
            target,
            room,
            kind,
            address,
            username,
            password_env,
            cloud_device_id,
            webex_token_env,
            device,
        } => {
            let mut body = json!({"roomUserId": room, "kind": kind, "address": address});
            if kind == "webexCloud" {
                body["token"] = json!(secret(&webex_token_env)?);
                body["cloudDeviceId"] = json!(cloud_device_id.context("--cloud-device-id is needed for webexCloud")?);
            } else {
                body["username"] = json!(username.context("--username is needed for roomOs and legacy devices")?);
                body["password"] = json!(secret(&password_env)?);
            }
            if let Some(device) = device {
                body["deviceId"] = json!(device);
            }
            let answer = call(&target, http.post(format!("{}/admin/v1/devices", target.url)).json(&body)).await?;
            println!("{}", answer["id"].as_str().unwrap_or(""));
            eprintln!(
                "device {} registered to room {}; hcal pushes the room's bookings to it",
                answer["id"].as_str().unwrap_or(""),
                answer["roomUserId"].as_str().unwrap_or("")
            );
            Ok(())
        }
        DevicesCommand::List { target, json } => {
            let body = call(&target, http.get(format!("{}/admin/v1/devices", target.url))).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            println!("{:<38} {:<38} {:<11} {:<12} last delivered", "device", "room", "kind", "push");
            for d in body["value"].as_array().into_iter().flatten() {
                println!(
                    "{:<38} {:<38} {:<11} {:<12} {}",
                    d["id"].as_str().unwrap_or(""),
                    d["roomUserId"].as_str().unwrap_or(""),
                    d["kind"].as_str().unwrap_or(""),
                    d["push"]["outcome"].as_str().unwrap_or("-"),
                    d["push"]["deliveredAt"].as_str().unwrap_or("-"),
                );
            }
            Ok(())
        }
        DevicesCommand::Status { target, id } => {
            let d = call(&target, http.get(format!("{}/admin/v1/devices/{id}", target.url))).await?;
            print_status(&d);
            Ok(())
        }
        DevicesCommand::Remove { target, id } => {
            call(&target, http.delete(format!("{}/admin/v1/devices/{id}", target.url))).await?;
            println!("device {id} removed");
            Ok(())
        }
    }
}

fn print_status(d: &Value) {
    let push = &d["push"];
    let field = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    println!("device     {}", field(&d["id"]));
    println!("room       {}", field(&d["roomUserId"]));
    println!("kind       {}   address {}", field(&d["kind"]), field(&d["address"]));
    println!("push       {}", field(&push["outcome"]));
    println!("attempted  {}", field(&push["attemptedAt"]));
    println!("delivered  {}   bookings {}", field(&push["deliveredAt"]), field(&push["bookings"]));
    println!("failures   {}   retry at {}", field(&push["failures"]), field(&push["retryAt"]));
}

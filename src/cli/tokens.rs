//! `hcal tokens …`: issue, list and revoke users' access tokens through a running service's
//! admin API.

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

use super::users::Target;

/// `hcal tokens` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token that reads one user's meeting list (`--user`) or one device's bookings
    /// (`--device`), and print it (it is shown only once).
    Issue {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// The user's object id.
        #[arg(long, conflicts_with = "device", required_unless_present = "device")]
        user: Option<String>,
        /// The device's id (from `hcal devices add` or `list`).
        #[arg(long)]
        device: Option<String>,
    },
    /// List tokens (never the tokens themselves): id, user, issued, revoked.
    List {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id: it stops working at once.
    Revoke {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// The token's id (from `issue` or `list`).
        id: String,
    },
}

/// Runs a `tokens` subcommand.
pub async fn run(cmd: TokensCommand) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    match cmd {
        TokensCommand::Issue { target, user, device } => {
            let request = match (&user, &device) {
                (Some(user), _) => json!({"userId": user}),
                (None, device) => json!({"deviceId": device}),
            };
            let request = http.post(format!("{}/admin/v1/tokens", target.url)).json(&request);
            let body = call(&target, request).await?;
            let holder = match &device {
                Some(device) => format!("device {device}"),
                None => format!("user {}", body["userId"].as_str().unwrap_or("")),
            };
            eprintln!(
                "token {} for {holder} (keep it now: hcal shows it only once)",
                body["id"].as_str().unwrap_or(""),
            );
            println!("{}", body["token"].as_str().unwrap_or(""));
            Ok(())
        }
        TokensCommand::List { target, user, json } => {
            let mut request = http.get(format!("{}/admin/v1/tokens", target.url));
            if let Some(user) = &user {
                request = request.query(&[("userId", user)]);
            }
            let body = call(&target, request).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            println!("{:<38} {:<38} {:<32} revoked", "token id", "user", "issued");
            for t in body["value"].as_array().into_iter().flatten() {
                println!(
                    "{:<38} {:<38} {:<32} {}",
                    t["id"].as_str().unwrap_or(""),
                    t["userId"].as_str().unwrap_or(""),
                    t["issuedAt"].as_str().unwrap_or("-"),
                    t["revokedAt"].as_str().unwrap_or("-"),
                );
            }
            Ok(())
        }
        TokensCommand::Revoke { target, id } => {
            let body = call(&target, http.delete(format!("{}/admin/v1/tokens/{id}", target.url))).await?;
            println!("token {} revoked at {}", id, body["revokedAt"].as_str().unwrap_or("(pending)"));
            Ok(())
        }
    }
}

/// Sends an admin request; a failure names the server's error code and message.
pub(super) async fn call(target: &Target, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let token = std::env::var(&target.token_env)
        .with_context(|| format!("environment variable {} is not set", target.token_env))?;
    let response = request.bearer_auth(token).send().await.with_context(|| format!("reaching {}", target.url))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let error = &body["error"];
        anyhow::bail!(
            "{status}: {} ({})",
            error["message"].as_str().unwrap_or("no message"),
            error["code"].as_str().unwrap_or("no code")
        );
    }
    Ok(body)
}

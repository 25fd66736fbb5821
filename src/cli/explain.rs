//! `hcal explain --user U --event E`: the story of one invite from the mailbox's domain events,
//! through a running service's admin API (`GET /admin/v1/mailboxes/{user}/story`): what was
//! detected, written, booked, skipped and why, with the invite's subject opened for the
//! operator.

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;

use super::users::{Target, token};

/// Options of `hcal explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Where the service is.
    #[command(flatten)]
    pub target: Target,
    /// The mailbox, by user object id.
    #[arg(long)]
    pub user: String,
    /// The invite, by Graph event id (as the meeting list and the admin API show it).
    #[arg(long = "event")]
    pub event: String,
    /// Print the service's JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Prints the story.
pub async fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let token = token(&args.target)?;
    let url = format!("{}/admin/v1/mailboxes/{}/story", args.target.url.trim_end_matches('/'), args.user);
    let resp = reqwest::Client::new()
        .get(url)
        .query(&[("eventId", &args.event)])
        .bearer_auth(token)
        .send()
        .await
        .context("reaching the service")?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no explanation given");
        anyhow::bail!("the service answered {status}: {message}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    let steps = body["story"].as_array().cloned().unwrap_or_default();
    if steps.is_empty() {
        println!("no events about this invite in the mailbox (not seen yet, or not this mailbox's)");
    }
    for step in &steps {
        println!(
            "#{:<5} {}  {:<22} {}",
            step["seq"],
            step["at"].as_str().unwrap_or("?"),
            step["type"].as_str().unwrap_or("?"),
            summary(&step["data"])
        );
    }
    Ok(())
}

/// The telling fields of one event, on one line (pure).
pub fn summary(data: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(subject) = data["private"]["subject"].as_str() {
        parts.push(format!("subject {subject:?}"));
    }
    if let Some(keyword) = data["keyword"].as_object() {
        let name = keyword.get("name").and_then(Value::as_str).unwrap_or("?");
        match keyword.get("modifier").and_then(Value::as_str) {
            Some(modifier) => parts.push(format!("keyword @{name}:{modifier}")),
            None => parts.push(format!("keyword @{name}")),
        }
    }
    if let Some(join) = data["join"].as_object() {
        let field = |k: &str| join.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
        parts.push(format!("join {} {} ({})", field("provider"), field("kind"), field("origin")));
    }
    for key in ["platform", "mode", "reason"] {
        if let Some(value) = data[key].as_str() {
            parts.push(format!("{key} {value}"));
        }
    }
    if data["recovered"] == true {
        parts.push("recovered after a restart".to_owned());
    }
    if let Some(retryable) = data["retryable"].as_bool() {
        parts.push(if retryable { "will be retried" } else { "given up" }.to_owned());
    }
    if let Some(explain) = data["explain"].as_str().filter(|e| !e.is_empty()) {
        parts.push(format!("— {explain}"));
    }
    parts.join(", ")
}

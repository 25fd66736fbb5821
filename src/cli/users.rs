//! `hcal users …`: enable, disable and list mailboxes through a running service's admin API.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Where the service is.
#[derive(Debug, Args)]
pub struct Target {
    /// Base URL of the running hcal.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "HCAL_URL")]
    pub url: String,
    /// Environment variable holding the API token.
    #[arg(long, default_value = "HCAL_API_TOKEN")]
    pub token_env: String,
}

/// `hcal users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Enable mailboxes by user object id, given as arguments or in a CSV file.
    Enable {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// CSV file: a `userId` column (or the first column), one mailbox per row.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// User object ids.
        users: Vec<String>,
    },
    /// Disable mailboxes.
    Disable {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// Also erase them (crypto-shredding): their data keys are destroyed, at the KMS too,
        /// so nothing recorded of them opens again; their meeting lists, devices, tokens and
        /// presence are forgotten. Cannot be undone.
        #[arg(long)]
        erase: bool,
        /// User object ids.
        users: Vec<String>,
    },
    /// List every mailbox with its status (pending, active, disabled, error with a reason).
    Status {
        /// Where the service is.
        #[command(flatten)]
        target: Target,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// User ids from a CSV: the `userId` column when there is a header naming it, else the first.
pub fn users_from_csv(text: &str) -> Vec<String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(first) = lines.next() else { return Vec::new() };
    let cells = |l: &str| l.split(',').map(|c| c.trim().trim_matches('"').to_owned()).collect::<Vec<_>>();
    let header = cells(first);
    let (column, mut ids) =
        match header.iter().position(|h| h.eq_ignore_ascii_case("userId") || h.eq_ignore_ascii_case("id")) {
            Some(i) => (i, Vec::new()),
            None if uuid::Uuid::parse_str(&header[0]).is_ok() => (0, vec![header[0].clone()]),
            None => (0, Vec::new()),
        };
    ids.extend(lines.filter_map(|l| cells(l).get(column).cloned()).filter(|c| !c.is_empty()));
    ids
}

/// Runs a `users` subcommand.
pub async fn run(cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Enable { target, csv, mut users } => {
            if let Some(path) = csv {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                users.extend(users_from_csv(&text));
            }
            anyhow::ensure!(!users.is_empty(), "no users given");
            for_each(&target, &users, "enabling", |http, url, token, user| {
                http.post(format!("{url}/admin/v1/mailboxes")).bearer_auth(token).json(&json!({"userId": user}))
            })
            .await
        }
        UsersCommand::Disable { target, users, erase } => {
            anyhow::ensure!(!users.is_empty(), "no users given");
            let what = if erase { "erasing" } else { "disabling" };
            for_each(&target, &users, what, |http, url, token, user| {
                let request = http.delete(format!("{url}/admin/v1/mailboxes/{user}")).bearer_auth(token);
                if erase { request.query(&[("erase", "true")]) } else { request }
            })
            .await
        }
        UsersCommand::Status { target, json } => {
            let token = token(&target)?;
            let body: Value = reqwest::Client::new()
                .get(format!("{}/admin/v1/mailboxes", target.url))
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            println!("{:<38} {:<9} {:<20} subscription expires", "user", "status", "reason");
            for m in body["value"].as_array().into_iter().flatten() {
                println!(
                    "{:<38} {:<9} {:<20} {}",
                    m["userId"].as_str().unwrap_or(""),
                    m["status"].as_str().unwrap_or(""),
                    m["reason"].as_str().unwrap_or("-"),
                    m["subscriptionExpiresAt"].as_str().unwrap_or("-"),
                );
            }
            Ok(())
        }
    }
}

pub(crate) fn token(target: &Target) -> anyhow::Result<String> {
    std::env::var(&target.token_env).with_context(|| format!("environment variable {} is not set", target.token_env))
}

async fn for_each(
    target: &Target,
    users: &[String],
    verb: &str,
    request: impl Fn(&reqwest::Client, &str, &str, &str) -> reqwest::RequestBuilder,
) -> anyhow::Result<()> {
    let token = token(target)?;
    let http = reqwest::Client::new();
    let bar = indicatif::ProgressBar::new(users.len() as u64);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message(verb.to_owned());
    let mut failed = Vec::new();
    for user in users {
        let outcome = request(&http, &target.url, &token, user).send().await;
        match outcome {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                // The service's own explanation, when it gave one.
                let status = r.status();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                match body["error"]["message"].as_str() {
                    Some(message) => failed.push(format!("{user}: {status}: {message}")),
                    None => failed.push(format!("{user}: {status}")),
                }
            }
            Err(e) => failed.push(format!("{user}: {e}")),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{verb} {} of {} mailboxes requested", users.len() - failed.len(), users.len());
    for f in &failed {
        eprintln!("failed: {f}");
    }
    anyhow::ensure!(failed.is_empty(), "{} requests failed", failed.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::users_from_csv;

    #[test]
    fn csv_with_or_without_header() {
        let id = "00000000-0000-0000-0000-0000000000a1";
        assert_eq!(users_from_csv(&format!("mail,userId\nalex@x.example,{id}\n")), vec![id.to_owned()]);
        assert_eq!(users_from_csv(&format!("{id}\n{id}\n")), vec![id.to_owned(), id.to_owned()]);
        assert_eq!(users_from_csv("userId\n\n# comment\n"), Vec::<String>::new());
    }
}

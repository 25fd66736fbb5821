//! `hcal config check [FILE]`: everything `hcal serve` checks before it opens or connects
//! anything, reported at once, one problem per line: the file (syntax, unknown keys, types,
//! values, cross-field rules), every secret variable it names that is not set, and secrets that
//! cannot work (a webhook signing secret that is not `whsec_…`, an empty token).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hcal::config::{self, ConfigError};
use hcal::service::{Secrets, StartError};

/// `hcal config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file and the secrets it names, without starting anything; exits 1
    /// naming every problem.
    Check(CheckArgs),
}

/// Options of `hcal config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file (see docs/configuration.md).
    #[arg(default_value = "hcal.toml")]
    pub file: PathBuf,
}

/// Runs a `config` subcommand.
pub async fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check(args) => check(&args),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let file = args.file.display().to_string();
    let config = match config::load(&args.file) {
        Ok(config) => config,
        Err(e) => {
            for problem in problems(&e) {
                eprintln!("{file}: {problem}");
            }
            anyhow::bail!("{file} cannot be used (problems above)");
        }
    };
    let mut problems = Vec::new();
    match Secrets::from_env(&config) {
        Ok(secrets) => {
            for (sink, name) in config.presence.sinks.iter().zip(config.presence.sink_names()) {
                let secret = secrets.presence.get(&name).cloned().unwrap_or_default();
                if let Err(why) = hcal::presence::sinks::build(sink, secret) {
                    problems.push(format!("[[presence.sinks]] {name} ({}): {why}", sink.secret_env));
                }
            }
        }
        Err(StartError::MissingSecrets(missing)) => {
            problems.extend(missing.iter().map(|name| format!("environment variable {name} is not set")));
        }
        Err(e) => problems.push(e.to_string()),
    }
    if let Some(tls) = &config.service.tls
        && let Err(why) = hcal::http::tls::Certificates::open(tls)
    {
        problems.push(format!("[service.tls]: {why}"));
    }
    let mut warnings = Vec::new();
    let public_url = config.service.public_url();
    if config.service.public_url_is_insecure() {
        warnings.push(format!(
            "service.public_url is {public_url}: Microsoft Graph delivers notifications only to https URLs \
             (put hcal behind a TLS proxy and set public_url to its https address)"
        ));
    }
    for warning in &warnings {
        eprintln!("{file}: warning: {warning}");
    }
    if problems.is_empty() {
        println!("{file}: ok ({} warning{})", warnings.len(), if warnings.len() == 1 { "" } else { "s" });
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("{file}: {problem}");
        }
        anyhow::bail!("{file}: {} problem{} (above)", problems.len(), if problems.len() == 1 { "" } else { "s" })
    }
}

/// Each problem of a configuration error on its own.
fn problems(e: &ConfigError) -> Vec<String> {
    match e {
        ConfigError::File { source, .. } => problems(source),
        ConfigError::Invalid(all) => all.clone(),
        other => vec![other.to_string().replace('\n', " ")],
    }
}

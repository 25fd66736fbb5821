//! `hcal keys …`: the data keys of an installation (its key store and key service).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hcal::{config, keys};

/// Which installation.
#[derive(Debug, Args)]
pub struct KeysTarget {
    /// Configuration file of the installation (its `[keys]` and key file).
    #[arg(long, default_value = "hcal.toml")]
    pub config: PathBuf,
}

/// `hcal keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Replace every data key at its next use (new ciphertexts use new keys; old ones still
    /// open) and give the shared key-encryption keys a new version at the key service. Works
    /// while the service runs: its processes notice within two seconds.
    Rotate(KeysTarget),
    /// How many data keys the key store holds, how many are erased, and which key service wraps
    /// them.
    Status(KeysTarget),
}

/// Runs a `hcal keys` subcommand.
pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let (target, rotate) = match command {
        KeysCommand::Rotate(t) => (t, true),
        KeysCommand::Status(t) => (t, false),
    };
    let config = config::load(&target.config)?;
    // The key service's client blocks while it waits for answers: off the async threads.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let opened = keys::open(&config, keys::token_from_env(&config)?)?;
        let stored = &opened.stored;
        if rotate {
            let keks = stored.rotate()?;
            println!(
                "rotated: every scope takes a new data key at its next seal; {keks} shared key-encryption key(s) \
                 given a new version at the {} key service",
                stored.kms().kind()
            );
        }
        let (all, erased) = stored.store().counts()?;
        let generation = stored.store().generation()?;
        println!(
            "key service: {}; key store: {}; data keys: {all} ({erased} erased); rotation generation {generation}",
            stored.kms().kind(),
            keys::store_path(&config).display()
        );
        Ok(())
    })
    .await?
}

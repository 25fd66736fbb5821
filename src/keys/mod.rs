//! Keys: the local key file, the key store of data keys per scope, and the key services that
//! wrap them (the local key file or a Transit engine of OpenBao or Vault). See
//! `docs/keys.md` and ADR 017.

pub mod config;
pub mod kms;
mod local;
pub mod ring;
pub mod store;
pub mod transit;

use std::path::PathBuf;
use std::sync::Arc;

use hcal_actors::seal::KeyRing;

use self::config::KmsKind;
pub use self::local::{KeyError, load_or_create, load_or_create_at};
use self::ring::StoredKeys;

/// The keys of a running installation: the ring everything seals with, and the store behind it
/// for rotation and erasure.
#[derive(Clone, Debug)]
pub struct Keys {
    /// What seals and opens.
    pub ring: KeyRing,
    /// The data keys behind it.
    pub stored: Arc<StoredKeys>,
}

/// Where the key store of `config` lives: `[keys] store`, or `keys.db` beside the key file.
pub fn store_path(config: &crate::config::Config) -> PathBuf {
    config.keys.store.clone().unwrap_or_else(|| {
        let file = config.service.key_file();
        file.parent().map_or_else(|| PathBuf::from("keys.db"), |dir| dir.join("keys.db"))
    })
}

/// The key service's token from the variable `[keys.transit] token_env` names, when it needs one.
pub fn token_from_env(config: &crate::config::Config) -> Result<Option<String>, KeyError> {
    match config.keys.token_env() {
        None => Ok(None),
        Some(name) => match std::env::var(name).ok().filter(|v| !v.is_empty()) {
            Some(token) => Ok(Some(token)),
            None => Err(KeyError::Service(format!("environment variable {name} (the key service's token) is not set"))),
        },
    }
}

/// Opens the keys `config` describes. The local key file is created when absent (it wraps the
/// data keys with the local key service, and opens what older versions sealed directly).
pub fn open(config: &crate::config::Config, token: Option<String>) -> Result<Keys, KeyError> {
    let keys = &config.keys;
    let store = store::KeyStore::open(&store_path(config)).map_err(|e| KeyError::Service(e.to_string()))?;
    let (kms, legacy): (Arc<dyn kms::Kms>, _) = match keys.kms {
        KmsKind::Local => {
            let local = kms::LocalKms::new(local::load_or_create_key(&config.service.key_file())?);
            let master = local.master();
            (Arc::new(local), Some(master))
        }
        KmsKind::Transit => {
            let transit = keys
                .transit
                .as_ref()
                .ok_or_else(|| KeyError::Service("kms = \"transit\" needs [keys.transit]".into()))?;
            let token = token
                .ok_or_else(|| KeyError::Service(format!("environment variable {} is not set", transit.token_env)))?;
            // A key file left from local mode still opens what it sealed.
            let path = config.service.key_file();
            let legacy = path.exists().then(|| local::load_or_create_key(&path)).transpose()?.map(Arc::new);
            (transit::Transit::new(transit, token).map_err(KeyError::Service)?, legacy)
        }
    };
    let stored = Arc::new(StoredKeys::new(kms, store, legacy, keys.cache_for, keys.rotate_every));
    Ok(Keys { ring: KeyRing::from_source(stored.clone()), stored })
}

#[cfg(test)]
mod tests;

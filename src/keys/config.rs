//! `[keys]`: where data keys come from, how long they are cached, when they rotate.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::duration;

/// `[keys]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Which key service wraps the data keys: `"local"` (the local key file, the default) or
    /// `"transit"` (an OpenBao or Vault Transit engine, `[keys.transit]`).
    #[serde(default)]
    pub kms: KmsKind,
    /// The key store: the data keys, each wrapped by the key service, with its scope and age.
    /// Default `keys.db` beside the key file. Processes of one installation share it.
    #[serde(default)]
    pub store: Option<PathBuf>,
    /// How long an unwrapped data key stays in memory before the key service is asked again.
    /// Default `"15m"`.
    #[serde(default = "default_cache_for", with = "duration")]
    pub cache_for: Duration,
    /// Data keys older than this are replaced by new ones (older ciphertexts stay readable).
    /// Default `"90d"`; `hcal keys rotate` replaces them at once.
    #[serde(default = "default_rotate_every", with = "duration")]
    pub rotate_every: Duration,
    /// `[keys.transit]`, required with `kms = "transit"`.
    #[serde(default)]
    pub transit: Option<TransitConfig>,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            kms: KmsKind::default(),
            store: None,
            cache_for: default_cache_for(),
            rotate_every: default_rotate_every(),
            transit: None,
        }
    }
}

/// The key services hcal can use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KmsKind {
    /// The local key file wraps every data key.
    #[default]
    Local,
    /// A Transit secrets engine (OpenBao, Vault) holds the key-encryption keys.
    Transit,
}

/// `[keys.transit]`: an OpenBao or Vault Transit secrets engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitConfig {
    /// Base URL of the server, e.g. `https://bao.example.org:8200`.
    pub url: String,
    /// Where the Transit engine is mounted. Default `"transit"`.
    #[serde(default = "default_mount")]
    pub mount: String,
    /// Prefix of the key-encryption keys hcal creates (`{prefix}-svc`, `{prefix}-org-{tenant}`,
    /// `{prefix}-mbx-{tenant}-{user}`). Default `"hcal"`.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Environment variable holding the token (`X-Vault-Token`). Default `HCAL_KMS_TOKEN`.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Longest one request to the key service may take. Default `"2s"`.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

fn default_cache_for() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_rotate_every() -> Duration {
    Duration::from_secs(90 * 24 * 3600)
}

fn default_mount() -> String {
    "transit".into()
}

fn default_prefix() -> String {
    "hcal".into()
}

fn default_token_env() -> String {
    "HCAL_KMS_TOKEN".into()
}

fn default_timeout() -> Duration {
    Duration::from_secs(2)
}

impl KeysConfig {
    /// Problems with these settings, each with its path (`hcal config check`).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        match (&self.kms, &self.transit) {
            (KmsKind::Transit, None) => {
                problems.push(("keys.transit".into(), "kms = \"transit\" needs a [keys.transit] section".into()))
            }
            (KmsKind::Transit, Some(t)) => {
                if let Err(e) = url::Url::parse(&t.url) {
                    problems.push(("keys.transit.url".into(), format!("not a URL: {e}")));
                }
                let name_ok =
                    |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !name_ok(&t.key_prefix) {
                    problems.push(("keys.transit.key_prefix".into(), "letters, digits, '-' and '_' only".into()));
                }
                if !name_ok(&t.mount.replace('/', "")) {
                    problems.push((
                        "keys.transit.mount".into(),
                        "a mount path of letters, digits, '-', '_' and '/'".into(),
                    ));
                }
            }
            (KmsKind::Local, _) => {}
        }
        if self.cache_for.is_zero() {
            problems.push(("keys.cache_for".into(), "must be more than zero".into()));
        }
        if self.rotate_every < Duration::from_secs(3600) {
            problems.push(("keys.rotate_every".into(), "must be at least an hour".into()));
        }
        problems
    }

    /// The token variable, when the key service needs one.
    pub fn token_env(&self) -> Option<&str> {
        match (&self.kms, &self.transit) {
            (KmsKind::Transit, Some(t)) => Some(&t.token_env),
            _ => None,
        }
    }
}

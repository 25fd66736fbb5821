//! Configuration of the Microsoft Graph client: one typed struct, every field with its default
//! and the reason for it. The client secret is not in here: only the name of the environment
//! variable that holds it, so configuration files can be shared and logged.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Outlook allows an application at most four concurrent requests per mailbox; a fifth is
/// answered 429, so no configuration may go beyond it.
pub const MAX_CONCURRENT_HARD_CAP: usize = 4;

/// Configuration of [`GraphClient`](super::GraphClient).
///
/// Durations are written with their unit (see [`crate::config::duration`]), e.g.
/// `request_timeout = "30s"` or `retry_base = "500ms"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphConfig {
    /// Entra ID login endpoint, without tenant. Default `https://login.microsoftonline.com`,
    /// the worldwide cloud; US Government uses `https://login.microsoftonline.us`, China
    /// `https://login.chinacloudapi.cn`, tests the simulator. Tokens do not cross clouds, so it
    /// must belong to the same cloud as `graph_base`.
    #[serde(default = "defaults::login_base")]
    pub login_base: String,
    /// Graph API root including the version. Default `https://graph.microsoft.com/v1.0`: hcal
    /// only relies on v1.0 behaviour, never on beta.
    #[serde(default = "defaults::graph_base")]
    pub graph_base: String,
    /// Scope requested with client credentials. Default
    /// `https://graph.microsoft.com/.default` (all application permissions consented for the
    /// worldwide Graph); national clouds need their own Graph host here
    /// (e.g. `https://graph.microsoft.us/.default`).
    #[serde(default = "defaults::token_scope")]
    pub token_scope: String,
    /// Application (client) id of hcal's app registration. No default: every deployment
    /// registers its own application.
    pub client_id: String,
    /// Name of the environment variable holding the client secret. Default
    /// `HCAL_GRAPH_CLIENT_SECRET`: secrets come from the environment, never from files that
    /// are checked in or printed.
    #[serde(default = "defaults::client_secret_env")]
    pub client_secret_env: String,
    /// Most requests hcal keeps in flight per mailbox. Default 4, which is also the hard cap:
    /// Outlook answers the fifth concurrent request per (app, mailbox) with 429, so queueing
    /// locally is cheaper than being throttled. The limit counts per application, across
    /// processes: lower it only if several processes share one app registration and can
    /// reach the same mailbox at once.
    #[serde(default = "defaults::max_concurrent_per_mailbox")]
    pub max_concurrent_per_mailbox: usize,
    /// Time limit of one HTTP attempt, body included. Default 30 s: Graph answers most calls
    /// within a second, but creating a subscription waits for the validation handshake
    /// against hcal's own webhook, which Graph allows 10 s.
    #[serde(default = "defaults::request_timeout", with = "crate::config::duration")]
    pub request_timeout: Duration,
    /// Retries after the first attempt for throttling, 5xx, timeouts and connection errors.
    /// Default 5: with the default backoff the waits add up to at most about 15 s (longer when
    /// Graph's `Retry-After` asks for it); then the caller gets `Throttled` / `Transient` and
    /// schedules its own, later retry instead of holding the call open.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// Base of the exponential backoff (full jitter: the n-th retry waits a random time up to
    /// `retry_base * 2^n`). Default 0.5 s: short enough for a blip, long enough not to hammer.
    #[serde(default = "defaults::retry_base", with = "crate::config::duration")]
    pub retry_base: Duration,
    /// Longest single wait, also for `Retry-After`. Default 60 s. A `Retry-After` longer than
    /// this is not slept through: the call returns `Throttled` at once with Graph's value, so a
    /// task is never parked for minutes and the caller can schedule the work instead.
    #[serde(default = "defaults::retry_cap", with = "crate::config::duration")]
    pub retry_cap: Duration,
    /// Id of the single-value extended property in which hcal marks what it wrote into an
    /// event. Default `String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name hcal.joinInfo`: a
    /// fixed GUID owned by hcal, so every installation recognises its own marks; changing it
    /// makes hcal blind to marks written before.
    #[serde(default = "defaults::marker_property_id")]
    pub marker_property_id: String,
}

impl GraphConfig {
    /// A configuration with every default and the given client id.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            login_base: defaults::login_base(),
            graph_base: defaults::graph_base(),
            token_scope: defaults::token_scope(),
            client_id: client_id.into(),
            client_secret_env: defaults::client_secret_env(),
            max_concurrent_per_mailbox: defaults::max_concurrent_per_mailbox(),
            request_timeout: defaults::request_timeout(),
            max_retries: defaults::max_retries(),
            retry_base: defaults::retry_base(),
            retry_cap: defaults::retry_cap(),
            marker_property_id: defaults::marker_property_id(),
        }
    }

    /// Checks every field; the first problem found is reported.
    pub fn validate(&self) -> Result<(), GraphSetupError> {
        let invalid = |m: String| Err(GraphSetupError::Invalid(m));
        for (name, value) in [("login_base", &self.login_base), ("graph_base", &self.graph_base)] {
            match url::Url::parse(value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {}
                _ => return invalid(format!("{name} must be an http(s) URL without query, got '{value}'")),
            }
        }
        if self.client_id.trim().is_empty() {
            return invalid("client_id must not be empty".into());
        }
        if self.token_scope.trim().is_empty() {
            return invalid("token_scope must not be empty".into());
        }
        if self.client_secret_env.trim().is_empty() {
            return invalid("client_secret_env must name an environment variable".into());
        }
        if !(1..=MAX_CONCURRENT_HARD_CAP).contains(&self.max_concurrent_per_mailbox) {
            return invalid(format!(
                "max_concurrent_per_mailbox must be between 1 and {MAX_CONCURRENT_HARD_CAP} (Outlook's limit), got {}",
                self.max_concurrent_per_mailbox
            ));
        }
        if self.request_timeout.is_zero() {
            return invalid("request_timeout must be positive".into());
        }
        if self.retry_base.is_zero() || self.retry_base > self.retry_cap {
            return invalid("retry_base must be positive and at most retry_cap".into());
        }
        if !is_string_property_id(&self.marker_property_id) {
            return invalid(format!(
                "marker_property_id must look like 'String {{GUID}} Name some.name', got '{}'",
                self.marker_property_id
            ));
        }
        Ok(())
    }
}

/// Whether `id` has the shape Graph requires for a named string property:
/// `String {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx} Name name`.
fn is_string_property_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("String {") else { return false };
    let Some((guid, rest)) = rest.split_once('}') else { return false };
    let Some(name) = rest.strip_prefix(" Name ") else { return false };
    let groups: Vec<&str> = guid.split('-').collect();
    let shape_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
    // A quote would end the OData literal in `$filter=id eq '…'`; keep names plain.
    shape_ok && !name.trim().is_empty() && !name.contains(['\'', '"'])
}

/// The client could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphSetupError {
    /// A configuration value is out of range or malformed.
    #[error("invalid Graph configuration: {0}")]
    Invalid(String),
    /// The environment variable named by `client_secret_env` is unset or empty.
    #[error("environment variable {0} (the Graph client secret) is not set")]
    MissingSecret(String),
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

mod defaults {
    use std::time::Duration;

    pub fn login_base() -> String {
        "https://login.microsoftonline.com".into()
    }
    pub fn graph_base() -> String {
        "https://graph.microsoft.com/v1.0".into()
    }
    pub fn token_scope() -> String {
        "https://graph.microsoft.com/.default".into()
    }
    pub fn client_secret_env() -> String {
        "HCAL_GRAPH_CLIENT_SECRET".into()
    }
    pub fn max_concurrent_per_mailbox() -> usize {
        super::MAX_CONCURRENT_HARD_CAP
    }
    pub fn request_timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub fn max_retries() -> u32 {
        5
    }
    pub fn retry_base() -> Duration {
        Duration::from_millis(500)
    }
    pub fn retry_cap() -> Duration {
        Duration::from_secs(60)
    }
    pub fn marker_property_id() -> String {
        "String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name hcal.joinInfo".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_everything_but_the_client_id() {
        let cfg: GraphConfig = serde_json::from_str(r#"{"client_id": "app"}"#).unwrap();
        assert_eq!(cfg, GraphConfig::new("app"));
        assert_eq!(cfg.login_base, "https://login.microsoftonline.com");
        assert_eq!(cfg.graph_base, "https://graph.microsoft.com/v1.0");
        assert_eq!(cfg.client_secret_env, "HCAL_GRAPH_CLIENT_SECRET");
        assert_eq!(cfg.max_concurrent_per_mailbox, 4);
        assert_eq!(cfg.request_timeout, Duration::from_secs(30));
        assert_eq!(cfg.max_retries, 5);
        assert_eq!(cfg.retry_base, Duration::from_millis(500));
        assert_eq!(cfg.retry_cap, Duration::from_secs(60));
        cfg.validate().unwrap();
        assert!(serde_json::from_str::<GraphConfig>("{}").is_err(), "client_id is required");
    }

    #[test]
    fn unknown_fields_and_durations_with_their_unit() {
        assert!(serde_json::from_str::<GraphConfig>(r#"{"client_id": "a", "max_concurent": 2}"#).is_err());
        let cfg: GraphConfig = serde_json::from_str(r#"{"client_id": "a", "retry_base": "50ms"}"#).unwrap();
        assert_eq!(cfg.retry_base, Duration::from_millis(50));
        assert!(serde_json::from_str::<GraphConfig>(r#"{"client_id": "a", "retry_base": 0.05}"#).is_err());
    }

    #[test]
    fn validation_enforces_the_outlook_cap_and_shapes() {
        let ok = GraphConfig::new("app");
        let bad = |f: fn(&mut GraphConfig)| {
            let mut c = ok.clone();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.max_concurrent_per_mailbox = 5));
        assert!(bad(|c| c.max_concurrent_per_mailbox = 0));
        assert!(bad(|c| c.client_id = " ".into()));
        assert!(bad(|c| c.graph_base = "graph.microsoft.com".into()));
        assert!(bad(|c| c.retry_base = Duration::from_secs(61)));
        assert!(bad(|c| c.marker_property_id = "String hcal.joinInfo".into()));
        assert!(bad(|c| c.marker_property_id = "String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name it's".into()));
        assert!(bad(|c| c.marker_property_id = "Integer {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name x".into()));
    }
}

//! `hcal.toml`: one typed section per component, unknown fields refused, every field documented
//! with its default. Secrets never live here: sections name the environment variables that
//! hold them.

use std::net::SocketAddr;
use std::path::PathBuf;

use hcal_actors::ids::TenantId;
use hcal_actors::mailbox::actor::CrashPoint;
use hcal_actors::mailbox::decide::DecideConfig;
use serde::{Deserialize, Serialize};

use crate::graph::GraphConfig;
use crate::platform::webex::WebexConfig;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP, storage and identity of this installation.
    pub service: ServiceConfig,
    /// The Microsoft 365 tenant.
    pub tenant: TenantConfig,
    /// Microsoft Graph client.
    pub graph: GraphConfig,
    /// Webex client.
    pub webex: WebexConfig,
    /// Keyword rules.
    #[serde(default)]
    pub domain: DecideConfig,
    /// Which event log.
    #[serde(default)]
    pub log: LogConfig,
    /// Kafka, when `log.backend = "kafka"`.
    #[serde(default)]
    pub kafka: Option<crate::log::kafka::KafkaConfig>,
    /// Test-only switches.
    #[serde(default)]
    pub testing: TestingConfig,
}

/// `[service]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Address to listen on. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Base URL Graph reaches this service at (notifications go to `{public_url}/webhook/graph`).
    /// Default: `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Directory for the embedded store and the local key file. Required.
    pub data_dir: PathBuf,
    /// The local key file sealing sensitive fields. Default `{data_dir}/keys/local.key`.
    /// Processes of one installation in kafka mode must share it (the KMS integration replaces
    /// it with keys from a key service).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Partitions of each log (fixed when the store is created). Default 8.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Largest webhook body accepted, in bytes. Default 1 MiB (Graph batches are far smaller).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Environment variable holding the bearer token of the public and admin APIs.
    /// Default `HCAL_API_TOKEN`.
    #[serde(default = "default_api_token_env")]
    pub api_token_env: String,
    /// Subscription lifetime requested, in minutes. Default 10,000 (under Graph's 10,070 cap);
    /// renewed at about half of it.
    #[serde(default = "default_subscription_minutes")]
    pub subscription_minutes: i64,
    /// How often the scheduler looks for subscriptions to renew, in seconds. Default 60.
    #[serde(default = "default_tick_secs")]
    pub tick_secs: u64,
    /// How far ahead a resync reads, in days. Default 183 (about six months; the incumbent
    /// processes meetings more than five months out late).
    #[serde(default = "default_resync_ahead_days")]
    pub resync_ahead_days: i64,
    /// Subscription creations per 20 s per tenant. Default 400, under Graph's 500 per app and
    /// tenant so other writers of the same app keep some room.
    #[serde(default = "default_subscription_writes")]
    pub subscription_writes_per_20s: usize,
    /// First retry of a mailbox whose set-up failed for a passing reason (throttling, outage),
    /// in minutes. Default 60, like the incumbent.
    #[serde(default = "default_retry_first")]
    pub retry_first_minutes: i64,
    /// Later retries, in minutes. Default 1,440 (daily), like the incumbent.
    #[serde(default = "default_retry_later")]
    pub retry_later_minutes: i64,
    /// Records of a partition processed between two checkpoints, which snapshot every mailbox
    /// of the partition into the `mailbox-snapshots` log so that recovery (a restart, a
    /// partition taken over from another process) reads only the events after them. Default
    /// 1,000; 0 turns snapshots off (recovery then folds each partition from its start).
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u64,
    /// Days after its end a meeting is still kept in its mailbox's state (and snapshots); at
    /// each subscription renewal the mailbox forgets older ones with a `MeetingForgotten`
    /// event. Meeting lists keep them. Default 30; at least 8, since a resync reads a week back.
    #[serde(default = "default_forget_meetings_after_days")]
    pub forget_meetings_after_days: i64,
}

fn default_snapshot_every() -> u64 {
    1000
}
fn default_forget_meetings_after_days() -> i64 {
    30
}
/// Smallest `service.forget_meetings_after_days`: longer than a resync looks back.
pub const MIN_FORGET_MEETINGS_AFTER_DAYS: i64 = 8;

fn default_subscription_writes() -> usize {
    400
}
fn default_retry_first() -> i64 {
    60
}
fn default_retry_later() -> i64 {
    1440
}

fn default_tick_secs() -> u64 {
    60
}
fn default_resync_ahead_days() -> i64 {
    183
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_partitions() -> u32 {
    8
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_api_token_env() -> String {
    "HCAL_API_TOKEN".into()
}
fn default_subscription_minutes() -> i64 {
    10_000
}

impl ServiceConfig {
    /// The key file in use.
    pub fn key_file(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| self.data_dir.join("keys").join("local.key"))
    }

    /// The public base URL.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    /// How long after its end a mailbox keeps a meeting; refuses values a resync would undo.
    pub fn forget_after(&self) -> anyhow::Result<chrono::Duration> {
        let days = self.forget_meetings_after_days;
        anyhow::ensure!(
            days >= MIN_FORGET_MEETINGS_AFTER_DAYS,
            "service.forget_meetings_after_days is {days}; it must be at least {MIN_FORGET_MEETINGS_AFTER_DAYS} \
             (a resync reads a week back and would bring younger meetings back)"
        );
        Ok(chrono::Duration::days(days))
    }
}

/// `[tenant]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The organisation's Entra ID tenant id.
    pub id: TenantId,
    /// Other tenants served (a multi-tenant registration). Default none: consent from any
    /// other tenant is refused.
    #[serde(default)]
    pub additional_ids: Vec<TenantId>,
    /// The Microsoft cloud. Default worldwide; national clouds are refused unless their
    /// endpoints are configured explicitly (see `docs/setup-guide.md`).
    #[serde(default)]
    pub cloud: crate::tenant::cloud::CloudConfig,
    /// Minutes an admin-consent link stays valid. Default 30.
    #[serde(default = "default_consent_link_minutes")]
    pub consent_link_minutes: i64,
}

fn default_consent_link_minutes() -> i64 {
    30
}

/// Event-log backends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One process; logs in the local SQLite store under the data directory.
    #[default]
    Embedded,
    /// Logs are Kafka topics; several processes share the mailboxes by consumer group.
    Kafka,
}

/// `[log]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Backend. Default `embedded`.
    #[serde(default)]
    pub backend: Backend,
}

/// `[testing]`: switches that exist only so tests can prove recovery. Leave unset in production.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingConfig {
    /// Abort the process at this point (see `CrashPoint`).
    #[serde(default)]
    pub crash_at: Option<CrashPoint>,
    /// Do not process notifications (they are still accepted and logged). Default false.
    #[serde(default)]
    pub hold_processing: bool,
    /// Let `POST /admin/v1/testing/clock` move the service's clock and
    /// `POST /admin/v1/testing/tick` run a scheduler round. Default false.
    #[serde(default)]
    pub controllable_clock: bool,
}

/// Reads and parses a configuration file.
pub fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(extra: &str) -> ServiceConfig {
        let text = format!("data_dir = \"data\"\n{extra}");
        toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn meetings_are_kept_thirty_days_after_their_end_unless_configured_and_never_under_a_resync_window() {
        assert_eq!(service("").forget_after().ok(), Some(chrono::Duration::days(30)));
        assert_eq!(service("forget_meetings_after_days = 90").forget_after().ok(), Some(chrono::Duration::days(90)));
        let refused = service("forget_meetings_after_days = 3").forget_after().map_err(|e| e.to_string());
        assert!(refused.as_ref().is_err_and(|e| e.contains("at least 8")), "{refused:?}");
    }
}

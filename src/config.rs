//! `hcal.toml`: one typed section per component, unknown fields refused, every field documented
//! with its default. Secrets never live here: sections name the environment variables that
//! hold them.

use std::net::SocketAddr;
use std::path::PathBuf;

use hcal_actors::ids::TenantId;
use hcal_actors::log::LogError;
use hcal_actors::mailbox::decide::DecideConfig;
use serde::{Deserialize, Serialize};

use crate::graph::GraphConfig;
use crate::log::LogConfig;
use crate::platform::webex::WebexConfig;
use crate::runtime::crash::CrashPoint;

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
    /// Which event log, with its settings. Default embedded.
    #[serde(default)]
    pub log: LogConfig,
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
    /// Directory for the local store (`store/hcal.db`: the projections, and the logs in
    /// embedded mode) and the local key file. Required.
    pub data_dir: PathBuf,
    /// The local key file sealing sensitive fields. Default `{data_dir}/keys/local.key`.
    /// Processes of one installation in kafka mode must share it (the KMS integration replaces
    /// it with keys from a key service).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
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

impl Config {
    /// Checks what can be checked before anything is opened or connected, so that a bad value
    /// is reported when the file is loaded rather than at first use.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.log.validate().map_err(|e| match e {
            LogError::Invalid(why) | LogError::Unavailable(why) => anyhow::anyhow!("invalid [log] section: {why}"),
        })
    }
}

/// Settings that moved, as (where they were, what to write instead). A file that still has one
/// is refused with where it went, rather than serde's bare "unknown field".
const MOVED: &[(&str, Option<&str>, &str)] = &[
    (
        "kafka",
        None,
        "the [kafka] section is gone: write its settings into [log], under backend = \"kafka\" \
         (see docs/configuration.md)",
    ),
    (
        "service",
        Some("partitions"),
        "service.partitions moved to [log]: write partitions = … there (the embedded log's partition count; \
         in kafka mode it is the partition count of the topics hcal creates)",
    ),
];

/// The first setting of `text` that moved elsewhere, with where it went.
fn moved_setting(text: &str) -> Option<&'static str> {
    let table: toml::Table = text.parse().ok()?;
    MOVED.iter().find_map(|(section, key, message)| {
        let found = match (table.get(*section), key) {
            (Some(_), None) => true,
            (Some(toml::Value::Table(section)), Some(key)) => section.contains_key(*key),
            _ => false,
        };
        found.then_some(*message)
    })
}

/// Parses and validates the text of a configuration file.
pub fn parse(text: &str) -> anyhow::Result<Config> {
    let config: Config = match toml::from_str(text) {
        Ok(config) => config,
        Err(e) => match moved_setting(text) {
            Some(moved) => anyhow::bail!("{moved}"),
            None => return Err(e.into()),
        },
    };
    config.validate()?;
    Ok(config)
}

/// Reads, parses and validates a configuration file.
pub fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("loading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(extra: &str) -> ServiceConfig {
        let text = format!("data_dir = \"data\"\n{extra}");
        toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A complete file around the given `[log]` lines (and more sections).
    fn file(rest: &str) -> String {
        format!(
            "[service]\ndata_dir = \"data\"\n\n[tenant]\nid = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\n\n\
             [graph]\nclient_id = \"c\"\n\n[webex]\n\n{rest}"
        )
    }

    fn refusal(text: &str) -> String {
        match parse(text) {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn the_log_section_selects_the_backend_and_holds_its_settings() {
        assert_eq!(parse(&file("")).unwrap().log, LogConfig::default());
        let kafka = parse(&file("[log]\nbackend = \"kafka\"\nbootstrap_servers = \"k:9092\"\n")).unwrap();
        assert!(matches!(&kafka.log, LogConfig::Kafka(k) if k.bootstrap_servers == "k:9092"), "{:?}", kafka.log);
        let embedded = parse(&file("[log]\npartitions = 4\n")).unwrap();
        assert_eq!(embedded.log, LogConfig::Embedded(crate::log::EmbeddedConfig { partitions: 4 }));
    }

    #[test]
    fn impossible_and_retired_log_settings_are_refused_with_where_they_belong() {
        // Kafka without its broker, Kafka settings on the embedded log.
        assert!(refusal(&file("[log]\nbackend = \"kafka\"\n")).contains("bootstrap_servers"));
        let ignored = refusal(&file("[log]\nbootstrap_servers = \"k:9092\"\n"));
        assert!(ignored.contains("unknown field") && ignored.contains("bootstrap_servers"), "{ignored}");
        assert!(ignored.contains("need backend = \"kafka\""), "{ignored}");
        // The retired top-level section, alone or next to a kafka [log].
        for rest in [
            "[log]\nbackend = \"kafka\"\n\n[kafka]\nbootstrap_servers = \"k:9092\"\n",
            "[kafka]\nbootstrap_servers = \"k:9092\"\n",
        ] {
            let moved = refusal(&file(rest));
            assert!(moved.contains("[kafka] section is gone") && moved.contains("[log]"), "{moved}");
        }
        let partitions = file("").replace("data_dir = \"data\"", "data_dir = \"data\"\npartitions = 8");
        assert!(refusal(&partitions).contains("service.partitions moved to [log]"));
        // Other unknown fields keep serde's message.
        let other = refusal(&file("[log]\nbackend = \"embedded\"\n\n[extra]\n"));
        assert!(other.contains("unknown field") && other.contains("extra"), "{other}");
    }

    #[test]
    fn kafka_settings_are_validated_when_the_file_is_loaded() {
        let bad = refusal(&file("[log]\nbackend = \"kafka\"\nbootstrap_servers = \"k:9092\"\nrequest_timeout = 0\n"));
        assert!(bad.contains("log.request_timeout"), "{bad}");
        let reserved = file("[log]\nbackend = \"kafka\"\nbootstrap_servers = \"k:9092\"\nextra = { acks = \"1\" }\n");
        assert!(refusal(&reserved).contains("log.extra may not set \"acks\""));
        assert!(refusal(&file("[log]\npartitions = 0\n")).contains("log.partitions"));
        let path = std::env::temp_dir().join(format!("hcal-config-{}.toml", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, file("[log]\npartitions = 0\n")).unwrap();
        let loaded = load(&path).map_err(|e| format!("{e:#}"));
        std::fs::remove_file(&path).unwrap();
        assert!(loaded.as_ref().is_err_and(|e| e.contains("log.partitions")), "{loaded:?}");
    }

    #[test]
    fn meetings_are_kept_thirty_days_after_their_end_unless_configured_and_never_under_a_resync_window() {
        assert_eq!(service("").forget_after().ok(), Some(chrono::Duration::days(30)));
        assert_eq!(service("forget_meetings_after_days = 90").forget_after().ok(), Some(chrono::Duration::days(90)));
        let refused = service("forget_meetings_after_days = 3").forget_after().map_err(|e| e.to_string());
        assert!(refused.as_ref().is_err_and(|e| e.contains("at least 8")), "{refused:?}");
    }
}

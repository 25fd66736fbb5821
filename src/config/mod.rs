//! `hcal.toml`: one typed section per component, unknown fields refused, every field documented
//! with its default. Secrets never live here: sections name the environment variables that
//! hold them.

pub mod duration;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hcal_actors::ids::TenantId;
use hcal_actors::log::LogError;
#[cfg(test)]
use hcal_actors::mailbox::config::Mode;
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
    /// Webex client. Default: Webex's public API, token in `HCAL_WEBEX_TOKEN`.
    #[serde(default)]
    pub webex: WebexConfig,
    /// Meeting platforms besides Webex (`[[platforms]]`: a Jitsi server, a template bridge).
    #[serde(default)]
    pub platforms: Vec<crate::platform::PlatformEntry>,
    /// Keyword rules.
    #[serde(default)]
    pub domain: DecideConfig,
    /// Which event log, with its settings. Default embedded.
    #[serde(default)]
    pub log: LogConfig,
    /// Room devices: their lists and how they are pushed.
    #[serde(default)]
    pub devices: crate::devices::config::DevicesConfig,
    /// Out of office as presence: polling automatic replies and the sinks that hear of them.
    #[serde(default)]
    pub presence: crate::presence::config::PresenceConfig,
    /// Where data keys come from (`[keys]`): the local key file by default, or a KMS.
    #[serde(default)]
    pub keys: crate::keys::config::KeysConfig,
    /// Test-only switches.
    #[serde(default)]
    pub testing: TestingConfig,
}

/// `[service.tls]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first.
    pub cert_file: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
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
    /// Longest a client may take, from opening its connection, to send a request's head (the
    /// request line and headers); later it gets 408 and the connection is closed (actix-web's
    /// `client_request_timeout`). Default `"3s"`: Graph gives up on a delivery after 3 s, and
    /// every legitimate client sends its head at once, so a slower one only holds a connection.
    #[serde(default = "default_request_head_timeout", with = "duration")]
    pub request_head_timeout: Duration,
    /// Longest the webhook waits for a notification batch's body once its head has arrived;
    /// later it answers 408 (Graph delivers again) and the connection is closed. Default
    /// `"2s"`: well under Graph's 3 s budget, leaving the rest for the durable append, and far
    /// more than Graph's batches of a few kilobytes need. The webhook takes no token, so without
    /// this bound anybody could hold connections and memory by announcing a body and not
    /// sending it.
    #[serde(default = "default_webhook_body_timeout", with = "duration")]
    pub webhook_body_timeout: Duration,
    /// Notification batches the webhook reads, checks and stores at once; one more gets 503
    /// with `Retry-After` before any of its body is read, and Graph delivers it again. Default
    /// 64: appends queue on the store anyway, so more at once would only make every answer
    /// slower than Graph's budget; bodies in memory stay under this times `max_body_bytes`.
    #[serde(default = "default_webhook_max_in_flight")]
    pub webhook_max_in_flight: usize,
    /// Connections the HTTP server holds open at once, over every endpoint; beyond it new ones
    /// wait in the listen backlog until one closes. Default 1024: far more than Graph and the
    /// administrators open, and below the usual open-file limits. Keep it under the process's
    /// limit (`ulimit -n`) minus what the store and the Kafka client use.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `[service.tls]`: terminate TLS here (PEM certificate chain and private key files,
    /// reloaded when they change and on SIGHUP). Default none: plain HTTP, for a TLS proxy in
    /// front or a local trial.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Environment variable holding the bearer token of the public and admin APIs.
    /// Default `HCAL_API_TOKEN`.
    #[serde(default = "default_api_token_env")]
    pub api_token_env: String,
    /// Subscription lifetime requested. Default `"10000m"` (under the 10,070 minutes Graph
    /// accepts for Outlook resources); renewed at about half of it.
    #[serde(default = "default_subscription_lifetime", with = "duration")]
    pub subscription_lifetime: Duration,
    /// How often the scheduler looks for subscriptions to renew. Default `"60s"`.
    #[serde(default = "default_scheduler_tick", with = "duration")]
    pub scheduler_tick: Duration,
    /// How far ahead a resync reads (it reads a week back). Default `"183d"`, about six months:
    /// the incumbent processes meetings more than five months out late.
    #[serde(default = "default_resync_ahead", with = "duration")]
    pub resync_ahead: Duration,
    /// Subscription creations per 20 s per tenant. Default 400, under Graph's 500 per app and
    /// tenant so other writers of the same app keep some room.
    #[serde(default = "default_subscription_writes")]
    pub subscription_writes_per_20s: usize,
    /// First retry of a mailbox whose set-up failed for a passing reason (throttling, outage).
    /// Default `"60m"`, like the incumbent.
    #[serde(default = "default_retry_first", with = "duration")]
    pub retry_first: Duration,
    /// Later retries. Default `"1d"` (daily), like the incumbent.
    #[serde(default = "default_retry_later", with = "duration")]
    pub retry_later: Duration,
    /// Records of a partition processed between two checkpoints, which snapshot every mailbox
    /// of the partition into the `mailbox-snapshots` log so that recovery (a restart, a
    /// partition taken over from another process) reads only the events after them. Default
    /// 1,000; 0 turns snapshots off (recovery then folds each partition from its start).
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u64,
    /// How long after its end a meeting is still kept in its mailbox's state (and snapshots);
    /// at each subscription renewal the mailbox forgets older ones with a `MeetingForgotten`
    /// event. Meeting lists keep them for `meeting_retention`. Default `"30d"`; at least `"8d"`, since a resync reads a
    /// week back.
    #[serde(default = "default_forget_meetings_after", with = "duration")]
    pub forget_meetings_after: Duration,
    /// How long after its end (a series: its last occurrence's) a meeting stays in the meeting
    /// lists; older rows are removed at start and every hour (their events stay in the log,
    /// sealed). Default `"7d"`.
    #[serde(default = "default_meeting_retention", with = "duration")]
    pub meeting_retention: Duration,
    /// How long before a meeting starts its users' event streams get a `join` notification.
    /// Default `"5m"`; at most `"1h"`.
    #[serde(default = "default_join_notice", with = "duration")]
    pub join_notice: Duration,
    /// How often the orphan sweep lists the application's subscriptions in each tenant and
    /// deletes those that deliver to this installation's webhook but belong to no mailbox (a
    /// process killed between Graph creating a subscription and hcal recording it leaves one
    /// behind, delivering for up to a week). It also sweeps at start. Default `"1d"`.
    #[serde(default = "default_orphan_sweep_every", with = "duration")]
    pub orphan_sweep_every: Duration,
    /// How long a subscription must stay unknown, with the subscription index current past
    /// that time, before the sweep deletes it: a subscription created a moment ago is listed
    /// before its `SubscriptionCreated` is in the index (of this process, or of a process that
    /// follows the log a little behind in kafka mode). Default `"10m"`, far beyond the moment
    /// between Graph's answer and the record; at least `"1s"`.
    #[serde(default = "default_orphan_grace", with = "duration")]
    pub orphan_grace: Duration,
}

fn default_orphan_sweep_every() -> Duration {
    Duration::from_secs(DAY)
}
fn default_orphan_grace() -> Duration {
    Duration::from_secs(10 * 60)
}

fn default_snapshot_every() -> u64 {
    1000
}
fn default_meeting_retention() -> Duration {
    Duration::from_secs(7 * DAY)
}

fn default_forget_meetings_after() -> Duration {
    Duration::from_secs(30 * DAY)
}
fn default_join_notice() -> Duration {
    Duration::from_secs(5 * 60)
}
/// Shortest `service.forget_meetings_after`: longer than a resync looks back.
pub const MIN_FORGET_MEETINGS_AFTER: Duration = Duration::from_secs(8 * DAY);
/// Longest subscription lifetime Graph accepts for Outlook resources (observed live; the
/// documentation says 10,080 minutes and Graph refuses 10,071 with "can only be 10070 minutes").
pub const MAX_SUBSCRIPTION_LIFETIME: Duration = Duration::from_secs(10_070 * 60);
const DAY: u64 = 86_400;

fn default_subscription_writes() -> usize {
    400
}
fn default_retry_first() -> Duration {
    Duration::from_secs(3600)
}
fn default_retry_later() -> Duration {
    Duration::from_secs(DAY)
}
fn default_scheduler_tick() -> Duration {
    Duration::from_secs(60)
}
fn default_resync_ahead() -> Duration {
    Duration::from_secs(183 * DAY)
}

fn default_request_head_timeout() -> Duration {
    Duration::from_secs(3)
}
fn default_webhook_body_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_webhook_max_in_flight() -> usize {
    64
}
fn default_max_connections() -> usize {
    1024
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
fn default_subscription_lifetime() -> Duration {
    Duration::from_secs(10_000 * 60)
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

    /// Whether `public_url` is plain http to a host other than loopback: Graph will not deliver
    /// there and meeting lists would travel unencrypted (loopback is a local trial).
    pub fn public_url_is_insecure(&self) -> bool {
        if self.tls.is_some() && self.public_url.is_none() {
            return false;
        }
        let url = self.public_url();
        if url.starts_with("https://") {
            return false;
        }
        let host = url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        !(host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()))
    }

    /// The problems of the section, each naming its field.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.join_notice > Duration::from_secs(3600) {
            problems.push("service.join_notice must be at most 1h".to_owned());
        }
        if self.forget_meetings_after < MIN_FORGET_MEETINGS_AFTER {
            problems.push(format!(
                "service.forget_meetings_after is {}; it must be at least 8d (a resync reads a week back and would \
                 bring younger meetings back)",
                humantime::format_duration(self.forget_meetings_after)
            ));
        }
        if self.subscription_lifetime > MAX_SUBSCRIPTION_LIFETIME || self.subscription_lifetime < MIN_LIFETIME {
            problems.push(format!(
                "service.subscription_lifetime is {}; Graph accepts between 1m and 10070m for calendars",
                humantime::format_duration(self.subscription_lifetime)
            ));
        }
        if self.scheduler_tick.is_zero() {
            problems.push("service.scheduler_tick must be longer than 0s".into());
        }
        // Zero would switch actix-web's head timeout off and refuse every webhook body; the
        // ceiling keeps deadlines far from where adding them to the clock would overflow.
        for (field, timeout) in
            [("request_head_timeout", self.request_head_timeout), ("webhook_body_timeout", self.webhook_body_timeout)]
        {
            if timeout.is_zero() || timeout > MAX_HTTP_TIMEOUT {
                problems.push(format!(
                    "service.{field} is {}; it must be longer than 0s and at most 1h",
                    humantime::format_duration(timeout)
                ));
            }
        }
        if self.webhook_max_in_flight == 0 {
            problems.push("service.webhook_max_in_flight must be at least 1".into());
        }
        if self.max_connections == 0 {
            problems.push("service.max_connections must be at least 1".into());
        }
        for (field, value) in [("orphan_sweep_every", self.orphan_sweep_every), ("orphan_grace", self.orphan_grace)] {
            if value < Duration::from_secs(1) {
                problems.push(format!("service.{field} must be at least 1s"));
            }
        }
        if self.retry_first.is_zero() || self.retry_later.is_zero() {
            problems.push("service.retry_first and service.retry_later must be longer than 0s".into());
        }
        if let Some(url) = &self.public_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => problems.push(format!("service.public_url {url:?} is not an http(s) URL")),
            }
        }
        problems
    }
}

/// Longest `service.request_head_timeout` and `service.webhook_body_timeout`.
const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(3600);

/// Shortest subscription lifetime asked for.
const MIN_LIFETIME: Duration = Duration::from_secs(60);

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
    /// How long an admin-consent link stays valid. Default `"30m"`.
    #[serde(default = "default_consent_link_lifetime", with = "duration")]
    pub consent_link_lifetime: Duration,
}

fn default_consent_link_lifetime() -> Duration {
    Duration::from_secs(30 * 60)
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

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML for hcal's configuration (the message names the line and the field).
    #[error("{0}")]
    Parse(String),
    /// A setting of an earlier version, with where it went.
    #[error("{0}")]
    Moved(&'static str),
    /// Values that cannot work, every one of them.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// Any of the above, in a file.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<ConfigError>,
    },
}

impl Config {
    /// Checks what can be checked before anything is opened or connected, so that a bad value
    /// is reported when the file is loaded rather than at first use; every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = self.service.problems();
        if let Err(LogError::Invalid(why) | LogError::Unavailable(why)) = self.log.validate() {
            problems.push(format!("invalid [log] section: {why}"));
        }
        if let Err(e) = self.graph.validate() {
            problems.push(format!("invalid [graph] section: {e}"));
        } else if uuid::Uuid::parse_str(self.graph.client_id.trim()).is_err() {
            problems
                .push("graph.client_id must be the application (client) id of hcal's app registration, a GUID".into());
        }
        if let Err(e) = crate::tenant::cloud::reconcile(&self.tenant.cloud, &self.graph) {
            problems.push(format!("invalid [tenant.cloud] section: {e}"));
        }
        problems.extend(self.domain.problems());
        problems.extend(self.devices.problems());
        problems.extend(self.presence.problems());
        problems.extend(self.keys.problems().into_iter().map(|(path, why)| format!("{path}: {why}")));
        problems.extend(crate::platform::problems(&self.platforms));
        let catalogue = crate::platform::catalogue(&self.platforms);
        for (i, rule) in self.domain.keywords.iter().enumerate() {
            match catalogue.iter().find(|(id, _)| *id == rule.platform) {
                None => problems.push(format!(
                    "domain.keywords[{i}]: @{} books on platform {:?}, which hcal does not book on (it books on: {})",
                    rule.keyword,
                    rule.platform,
                    catalogue.iter().map(|(id, _)| *id).collect::<Vec<_>>().join(", ")
                )),
                Some((id, modes)) if !modes.contains(&rule.default_mode) => problems.push(format!(
                    "domain.keywords[{i}]: @{} has default_mode {}, which platform {id} does not serve (it serves: {})",
                    rule.keyword,
                    rule.default_mode,
                    modes.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
                )),
                Some(_) => {}
            }
        }
        if self.tenant.consent_link_lifetime.is_zero() {
            problems.push("tenant.consent_link_lifetime must be longer than 0s".into());
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError::Invalid(problems)) }
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
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let config: Config = match toml::from_str(text) {
        Ok(config) => config,
        Err(e) => match moved_setting(text) {
            Some(moved) => return Err(ConfigError::Moved(moved)),
            None => return Err(ConfigError::Parse(e.to_string())),
        },
    };
    config.validate()?;
    Ok(config)
}

/// Reads, parses and validates a configuration file.
pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse(&text).map_err(|e| ConfigError::File { path: path.to_path_buf(), source: Box::new(e) })
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
             [graph]\nclient_id = \"0b1e9c1c-3a5d-4f7e-8c2a-6d9f0e1b2c3d\"\n\n[webex]\n\n{rest}"
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
        let bad =
            refusal(&file("[log]\nbackend = \"kafka\"\nbootstrap_servers = \"k:9092\"\nrequest_timeout = \"0s\"\n"));
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
        assert_eq!(service("").forget_meetings_after, Duration::from_secs(30 * DAY));
        assert_eq!(service("forget_meetings_after = \"90d\"").forget_meetings_after, Duration::from_secs(90 * DAY));
        let refused =
            refusal(&file("").replace("data_dir = \"data\"", "data_dir = \"data\"\nforget_meetings_after = \"3d\""));
        assert!(refused.contains("at least 8d"), "{refused}");
    }

    #[test]
    fn every_bad_value_is_reported_at_once_naming_its_field() {
        let text = file("").replace(
            "data_dir = \"data\"",
            "data_dir = \"data\"\nforget_meetings_after = \"1d\"\nsubscription_lifetime = \"8d\"\nscheduler_tick = \"0s\"\npublic_url = \"hcal.example\"\norphan_sweep_every = \"0s\"\norphan_grace = \"500ms\"",
        );
        let refused = refusal(&text);
        for field in [
            "forget_meetings_after",
            "subscription_lifetime",
            "scheduler_tick",
            "public_url",
            "orphan_sweep_every",
            "orphan_grace",
        ] {
            assert!(refused.contains(&format!("service.{field}")), "{field} missing from: {refused}");
        }
    }

    #[test]
    fn the_http_limits_have_defaults_and_refuse_zero_and_absurd_timeouts() {
        let defaults = service("");
        assert_eq!(defaults.request_head_timeout, Duration::from_secs(3));
        assert_eq!(defaults.webhook_body_timeout, Duration::from_secs(2));
        assert_eq!(defaults.webhook_max_in_flight, 64);
        assert_eq!(defaults.max_connections, 1024);
        let set = service("webhook_body_timeout = \"1500ms\"\nwebhook_max_in_flight = 8\nmax_connections = 10");
        assert_eq!(set.webhook_body_timeout, Duration::from_millis(1500));
        assert_eq!((set.webhook_max_in_flight, set.max_connections), (8, 10));
        let zero = "data_dir = \"data\"\nrequest_head_timeout = \"0s\"\nwebhook_body_timeout = \"2h\"\n\
                    webhook_max_in_flight = 0\nmax_connections = 0";
        let refused = refusal(&file("").replace("data_dir = \"data\"", zero));
        for field in ["request_head_timeout", "webhook_body_timeout", "webhook_max_in_flight", "max_connections"] {
            assert!(refused.contains(&format!("service.{field}")), "{field} missing from: {refused}");
        }
    }

    #[test]
    fn orphans_are_swept_daily_after_ten_minutes_of_grace_unless_configured() {
        let defaults = service("");
        assert_eq!(
            (defaults.orphan_sweep_every, defaults.orphan_grace),
            (Duration::from_secs(DAY), Duration::from_secs(600))
        );
        let set = service("orphan_sweep_every = \"6h\"\norphan_grace = \"2m\"");
        assert_eq!(
            (set.orphan_sweep_every, set.orphan_grace),
            (Duration::from_secs(6 * 3600), Duration::from_secs(120))
        );
    }

    #[test]
    fn keywords_name_a_platform_hcal_books_on_a_known_mode_and_are_not_given_twice() {
        let defaults = parse(&file("")).unwrap();
        let keywords: Vec<_> = defaults
            .domain
            .keywords
            .iter()
            .map(|k| (k.keyword.as_str(), k.platform.as_str(), k.default_mode))
            .collect();
        assert_eq!(keywords, [("webex", "webex", Mode::MyRoom), ("meet", "webex", Mode::Space)]);
        let zoom = "[[domain.keywords]]\nkeyword = \"zoom\"\nplatform = \"zoom\"\ndefault_mode = \"myroom\"\n";
        assert!(refusal(&file(zoom)).contains("domain.keywords[0]: @zoom books on platform \"zoom\""));
        let bogus = "[[domain.keywords]]\nkeyword = \"webex\"\nplatform = \"webex\"\ndefault_mode = \"bogus\"\n";
        let refused = refusal(&file(bogus));
        assert!(refused.contains("bogus") && refused.contains("myroom"), "{refused}");
        let twice = "[[domain.keywords]]\nkeyword = \"webex\"\nplatform = \"webex\"\ndefault_mode = \"myroom\"\n\
                     [[domain.keywords]]\nkeyword = \"WebEx\"\nplatform = \"webex\"\ndefault_mode = \"space\"\n";
        assert!(refusal(&file(twice)).contains("domain.keywords[1]: @WebEx is already domain.keywords[0]"));
        let at = "[[domain.keywords]]\nkeyword = \"@webex\"\nplatform = \"webex\"\ndefault_mode = \"myroom\"\n";
        assert!(refusal(&file(at)).contains("is not a keyword"));
    }

    #[test]
    fn platforms_of_their_own_serve_the_keywords_that_name_them_in_the_modes_they_have() {
        let platforms = "[[platforms]]\nkind = \"jitsi\"\nid = \"jitsi\"\nbase_url = \"https://meet.example.org\"\n\
                         secret_env = \"HCAL_JITSI_SECRET\"\napp_id = \"hcal\"\n\
                         [[platforms]]\nkind = \"template\"\nid = \"bridge\"\nweb_link = \"https://video.example.com/{user}\"\n";
        let keywords = "[[domain.keywords]]\nkeyword = \"jitsi\"\nplatform = \"jitsi\"\ndefault_mode = \"onetime\"\n\
                        [[domain.keywords]]\nkeyword = \"vmr\"\nplatform = \"bridge\"\ndefault_mode = \"myroom\"\n";
        let config = parse(&file(&format!("{platforms}{keywords}"))).unwrap();
        assert_eq!(config.platforms.len(), 2);
        assert_eq!(config.platforms[0].secret_env(), Some("HCAL_JITSI_SECRET"));
        let wrong_mode = "[[domain.keywords]]\nkeyword = \"vmr\"\nplatform = \"bridge\"\ndefault_mode = \"onetime\"\n";
        let refused = refusal(&file(&format!("{platforms}{wrong_mode}")));
        assert!(
            refused.contains("domain.keywords[0]: @vmr has default_mode onetime, which platform bridge does not serve (it serves: myroom)"),
            "{refused}"
        );
        let bad_entry =
            "[[platforms]]\nkind = \"template\"\nid = \"bridge\"\nweb_link = \"https://video.example.com/lobby\"\n";
        assert!(refusal(&file(bad_entry)).contains("platforms[0] (bridge): neither web_link nor video_address"));
    }

    #[test]
    fn the_join_section_is_checked_when_the_file_is_loaded() {
        let join = "[domain.join]\ndefault_language = \"de-DE\"\n\n[domain.join.languages.\"pt-BR\"]\nfooter = \"Ajuda: ramal 1234\"\n";
        let config = parse(&file(join)).unwrap();
        assert_eq!(config.domain.join.default_language().map(|l| l.tag()), Some("de"));
        assert_eq!(config.domain.keywords, DecideConfig::default().keywords, "the keywords keep their default");
        let long = format!("[domain.join.languages.fr]\nheader = \"{}\"\n", "x".repeat(1025));
        let refused = refusal(&file(&format!("{long}[domain.join.languages.sv]\n")));
        assert!(refused.contains("domain.join.languages.\"fr\".header has 1025 characters, at most 1024"), "{refused}");
        assert!(refused.contains("domain.join.languages.\"sv\": hcal has no translation for \"sv\""), "{refused}");
    }

    #[test]
    fn durations_are_written_with_their_unit() {
        assert_eq!(service("subscription_lifetime = \"180m\"").subscription_lifetime, Duration::from_secs(180 * 60));
        let bare = toml::from_str::<ServiceConfig>("data_dir = \"d\"\nscheduler_tick = 60").unwrap_err().to_string();
        assert!(bare.contains("\"60s\""), "{bare}");
    }
}

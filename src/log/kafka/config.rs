//! The Kafka settings of `[log]` (with `backend = "kafka"`): how kafka mode reaches its
//! broker and lays out its topics, their defaults, and the checks made when the configuration is
//! loaded.

use std::collections::BTreeMap;
use std::time::Duration;

use hcal_actors::log::LogError;
use serde::{Deserialize, Serialize};

use super::topics::legal_topic_char;

/// Settings hcal itself sets for correctness; `extra` may not override them.
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "group.id",
    "transactional.id",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "partitioner",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "isolation.level",
    "enable.partition.eof",
    // The notifications consumer relies on eager rebalancing (every partition revoked, then
    // the new assignment fetched from its committed position): cooperative or incremental
    // assignment would keep partitions whose received records it drops at every rebalance.
    "partition.assignment.strategy",
    "group.protocol",
];

/// The Kafka settings of `[log]` with `backend = "kafka"`: how kafka mode reaches its broker and
/// lays out its topics.
///
/// Durations are written with their unit (see [`crate::config::duration`]), e.g.
/// `request_timeout = "30s"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list of brokers to bootstrap from. No default: every
    /// deployment names its own cluster, and guessing `localhost:9092` would hide a missing
    /// setting until the first append.
    pub bootstrap_servers: String,
    /// Prefix of every topic name: a logical log `notifications` is the topic
    /// `{topic_prefix}notifications`. Default `hcal.`, so several installations (or test runs)
    /// can share one cluster, and hcal's topics are easy to tell apart and grant ACLs on. Also
    /// prefixes the group ids of hcal's internal clients (`reader`, `transaction-probe`).
    #[serde(default = "defaults::topic_prefix")]
    pub topic_prefix: String,
    /// Partitions of the topics hcal creates. Default 8, the embedded log's default. It caps
    /// how many processes share the work (one partition has one owner), and it is fixed for a
    /// topic's life: a key's partition depends on it. Existing topics keep their own count.
    #[serde(default = "defaults::partitions")]
    pub partitions: u32,
    /// Replication factor of the topics hcal creates. Default 1, which suits a single-broker
    /// development cluster; production clusters should use 3 (with `min.insync.replicas=2` on
    /// the topic or broker), since `acks=all` only protects against as many losses as there
    /// are replicas.
    #[serde(default = "defaults::replication_factor")]
    pub replication_factor: u16,
    /// Create missing topics with the admin API when connecting. Default true, so the quick
    /// start needs no separate step; turn it off where topics are provisioned by an operator
    /// (hcal then fails to start if one is missing, rather than running half-wired).
    #[serde(default = "defaults::create_topics")]
    pub create_topics: bool,
    /// Transactional id of the producer. Default none. When set and the broker completes a
    /// probe transaction at connect, each append is one transaction (all of its records or none
    /// become visible to `read_committed` readers; appends of the process are serialised);
    /// when the broker cannot do transactions hcal logs a warning and uses the idempotent
    /// producer. Correctness never depends on it. Must be unique per process: a second
    /// producer with the same id fences the first.
    #[serde(default)]
    pub transactional_id: Option<String>,
    /// Time limit of one broker operation: metadata, a read, a committed-offset query, a commit
    /// waiting for its coordinator, and the delivery of an append (librdkafka's
    /// `message.timeout.ms` and `request.timeout.ms`). Default 30 s, librdkafka's own request
    /// timeout: long enough to ride out a leader election, short enough that a dead cluster
    /// surfaces as `Unavailable` instead of a hung task.
    #[serde(default = "defaults::request_timeout", with = "crate::config::duration")]
    pub request_timeout: Duration,
    /// Further librdkafka properties for every client, e.g. `security.protocol`,
    /// `ssl.ca.location`, `client.id`. Default empty. The settings hcal's correctness relies on
    /// (bootstrap, group, transactional id, idempotence, acks, partitioner, commit and isolation
    /// settings, and the group's assignment strategy and protocol, which must stay the classic
    /// eager ones) cannot be overridden here: a file that sets one of them is refused when it
    /// is loaded. hcal's other choices (`reconnect.backoff.max.ms=1000`, the producer's
    /// `linger.ms=0`) can. Do not put secrets here: configuration files are shared and printed.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// Join the notifications group as a static member (`group.instance.id` derived from the
    /// data directory and address), so a restarted process takes its partitions back at once
    /// instead of waiting for a rebalance. Default false: dynamic membership is what the
    /// failover test proves (on the mock cluster a dead static member's partitions were handed
    /// over but not resumed). Brokers that never expire dead members (tansu 0.6) need it for a
    /// restarted process to get its partitions back at all.
    #[serde(default = "defaults::static_membership")]
    pub static_membership: bool,
}

mod defaults {
    use std::time::Duration;

    pub fn static_membership() -> bool {
        false
    }
    pub fn topic_prefix() -> String {
        "hcal.".into()
    }
    pub fn partitions() -> u32 {
        8
    }
    pub fn replication_factor() -> u16 {
        1
    }
    pub fn create_topics() -> bool {
        true
    }
    pub fn request_timeout() -> Duration {
        Duration::from_secs(30)
    }
}

impl KafkaConfig {
    /// A configuration with every default and the given bootstrap servers.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            topic_prefix: defaults::topic_prefix(),
            partitions: defaults::partitions(),
            replication_factor: defaults::replication_factor(),
            create_topics: defaults::create_topics(),
            transactional_id: None,
            request_timeout: defaults::request_timeout(),
            extra: BTreeMap::new(),
            static_membership: defaults::static_membership(),
        }
    }

    /// Checks what can be checked without a broker: required and positive values, a legal topic
    /// prefix, no `extra` setting that hcal reserves. `Invalid` names the offending setting.
    pub fn validate(&self) -> Result<(), LogError> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(LogError::Invalid("log.bootstrap_servers is empty".into()));
        }
        if !self.topic_prefix.chars().all(legal_topic_char) {
            return Err(LogError::Invalid(format!("illegal log.topic_prefix {:?}", self.topic_prefix)));
        }
        if self.partitions == 0 || i32::try_from(self.partitions).is_err() {
            return Err(LogError::Invalid(format!("log.partitions {} out of range", self.partitions)));
        }
        if self.replication_factor == 0 {
            return Err(LogError::Invalid("log.replication_factor must be at least 1".into()));
        }
        if self.transactional_id.as_deref().is_some_and(str::is_empty) {
            return Err(LogError::Invalid("log.transactional_id is empty".into()));
        }
        if self.request_timeout.is_zero() {
            return Err(LogError::Invalid("log.request_timeout must be positive".into()));
        }
        if let Some(key) = self.extra.keys().find(|k| RESERVED.contains(&k.as_str())) {
            let why = match key.as_str() {
                "partition.assignment.strategy" | "group.protocol" => {
                    "hcal relies on the classic protocol's eager rebalancing with its default assignment"
                }
                _ => "hcal sets it itself",
            };
            return Err(LogError::Invalid(format!("log.extra may not set {key:?}: {why}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_fields() {
        let config: KafkaConfig = toml::from_str(r#"bootstrap_servers = "k1:9092,k2:9092""#).unwrap();
        assert_eq!(config, KafkaConfig::new("k1:9092,k2:9092"));
        assert_eq!(config.topic_prefix, "hcal.");
        assert_eq!(config.partitions, 8);
        assert_eq!(config.replication_factor, 1);
        assert!(config.create_topics);
        assert_eq!(config.transactional_id, None);
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert!(config.extra.is_empty());

        let config: KafkaConfig = toml::from_str(
            r#"
            bootstrap_servers = "k:9092"
            topic_prefix = "acme-"
            partitions = 12
            replication_factor = 3
            create_topics = false
            transactional_id = "hcal-1"
            request_timeout = "2500ms"
            extra = { "security.protocol" = "ssl", "client.id" = "hcal" }
            "#,
        )
        .unwrap();
        assert_eq!(config.request_timeout, Duration::from_millis(2500));
        assert_eq!(config.extra["security.protocol"], "ssl");
        assert!(toml::from_str::<KafkaConfig>("bootstrap_servers = \"k:9092\"\npartition = 3").is_err());
        assert!(toml::from_str::<KafkaConfig>("topic_prefix = \"x\"").is_err(), "bootstrap_servers is required");
    }

    #[test]
    fn cooperative_assignment_is_refused_with_the_reason() {
        for key in ["partition.assignment.strategy", "group.protocol"] {
            let config = KafkaConfig { extra: [(key.into(), "x".into())].into(), ..KafkaConfig::new("127.0.0.1:1") };
            match config.validate() {
                Err(LogError::Invalid(message)) => {
                    assert!(message.contains(key) && message.contains("eager rebalancing"), "{message}");
                }
                other => panic!("{key}: {other:?}"),
            }
        }
    }
}

//! The event log behind the port [`hcal_actors::log::EventLog`], and the local store of the
//! projections. Embedded mode keeps both in one SQLite database ([`sqlite`]); kafka mode keeps
//! the logs in Kafka topics ([`kafka`]) and the projections in the same local SQLite store, so
//! that a projection's rows and its positions commit together in either mode.
//!
//! [`LogConfig`] is the `[log]` section and [`open`] the one place that turns it into what a
//! process runs on ([`Storage`]).

pub mod kafka;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use hcal_actors::log::{EventLog, LogError};
use serde::{Deserialize, Deserializer, Serialize};

use self::kafka::{KafkaConfig, KafkaLog};
use self::sqlite::SqliteStore;

/// Directory of the local store inside the data directory.
pub const STORE_DIR: &str = "store";

/// `[log]`: which event log, with its settings in the same table. `backend = "embedded"` (the
/// default, also when `[log]` is left out) or `backend = "kafka"` with the Kafka settings
/// ([`KafkaConfig`]); each variant refuses the other's fields, so no file can describe a Kafka
/// installation without a broker, or Kafka settings that an embedded one would ignore.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum LogConfig {
    /// One process; the logs live in the local SQLite store under the data directory.
    Embedded(EmbeddedConfig),
    /// The logs are Kafka topics; several processes share the mailboxes by consumer group.
    Kafka(KafkaConfig),
}

impl Default for LogConfig {
    fn default() -> Self {
        Self::Embedded(EmbeddedConfig::default())
    }
}

/// The settings of `[log]` with `backend = "embedded"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// Partitions of each log, fixed when the store is created (a reopened store keeps its own
    /// count: moving keys to other partitions would break per-mailbox order). Default 8. It
    /// lives here rather than in `[service]` because only the embedded log has it: in kafka
    /// mode `[log] partitions` is the count of the topics hcal creates, and the local store
    /// only holds projections.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self { partitions: default_partitions() }
    }
}

fn default_partitions() -> u32 {
    8
}

impl<'de> Deserialize<'de> for LogConfig {
    /// Serde's internally tagged enums have no default tag, so the table is read whole, given
    /// `backend = "embedded"` when it names none, and handed to the derived, tagged form; the
    /// variants' own `deny_unknown_fields` then refuse what does not belong to them.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(tag = "backend", rename_all = "lowercase")]
        enum Tagged {
            Embedded(EmbeddedConfig),
            Kafka(KafkaConfig),
        }
        let mut table = toml::Table::deserialize(deserializer)?;
        let backend = table.entry("backend").or_insert_with(|| "embedded".into());
        // The likeliest mistake: Kafka settings without the line that selects Kafka.
        let kafka_without_backend = backend.as_str() == Some("embedded") && table.contains_key("bootstrap_servers");
        let tagged = Tagged::deserialize(toml::Value::Table(table)).map_err(|e| {
            let hint = if kafka_without_backend { " (Kafka settings need backend = \"kafka\")" } else { "" };
            serde::de::Error::custom(format!("{e}{hint}"))
        })?;
        Ok(match tagged {
            Tagged::Embedded(embedded) => Self::Embedded(embedded),
            Tagged::Kafka(kafka) => Self::Kafka(kafka),
        })
    }
}

impl LogConfig {
    /// Checks what can be checked without opening anything; `Invalid` names the setting.
    pub fn validate(&self) -> Result<(), LogError> {
        match self {
            Self::Embedded(embedded) if embedded.partitions == 0 => {
                Err(LogError::Invalid("log.partitions must be at least 1".into()))
            }
            Self::Embedded(_) => Ok(()),
            Self::Kafka(kafka) => kafka.validate(),
        }
    }
}

/// What a process runs on, as [`open`] returns it.
#[derive(Clone)]
pub struct Storage {
    /// The event log: the local store in embedded mode, Kafka in kafka mode.
    pub log: Arc<dyn EventLog>,
    /// The local SQLite store, which holds the projections in both modes.
    pub store: Arc<SqliteStore>,
    /// The Kafka client, in kafka mode (the notifications consumer and shutdown need it).
    pub kafka: Option<Arc<KafkaLog>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("store", &self.store).field("kafka", &self.kafka).finish_non_exhaustive()
    }
}

impl Storage {
    /// Flushes and closes the Kafka clients, if any (see [`KafkaLog::shutdown`]).
    pub async fn shutdown(&self) {
        if let Some(kafka) = &self.kafka {
            kafka.shutdown().await;
        }
    }
}

/// Opens the configured log and the local store in `{data_dir}/store` (created if missing).
/// In kafka mode this connects to the cluster, which fails with `Unavailable` if it cannot be
/// reached within `request_timeout`.
///
/// In kafka mode the local store is opened with the embedded default partition count; it only
/// matters should the data directory ever run in embedded mode.
pub async fn open(config: &LogConfig, data_dir: &Path) -> Result<Storage, LogError> {
    config.validate()?;
    let dir = data_dir.join(STORE_DIR);
    let partitions = match config {
        LogConfig::Embedded(embedded) => embedded.partitions,
        LogConfig::Kafka(_) => default_partitions(),
    };
    let store = Arc::new(SqliteStore::open(&dir, partitions)?);
    let kafka = match config {
        LogConfig::Embedded(_) => None,
        LogConfig::Kafka(kafka) => Some(Arc::new(KafkaLog::connect(kafka.clone()).await?)),
    };
    let log: Arc<dyn EventLog> = match &kafka {
        Some(kafka) => kafka.clone(),
        None => store.clone(),
    };
    Ok(Storage { log, store, kafka })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LogConfig, String> {
        toml::from_str::<LogConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn embedded_is_the_default_with_or_without_a_backend_line() {
        assert_eq!(parse("").unwrap(), LogConfig::default());
        assert_eq!(parse("backend = \"embedded\"").unwrap(), LogConfig::Embedded(EmbeddedConfig { partitions: 8 }));
        assert_eq!(parse("partitions = 16").unwrap(), LogConfig::Embedded(EmbeddedConfig { partitions: 16 }));
        let kafka =
            parse("backend = \"kafka\"\nbootstrap_servers = \"k:9092\"\npartitions = 12\nrequest_timeout = \"2s\"")
                .unwrap();
        let expected = KafkaConfig {
            partitions: 12,
            request_timeout: std::time::Duration::from_secs(2),
            ..KafkaConfig::new("k:9092")
        };
        assert_eq!(kafka, LogConfig::Kafka(expected));
    }

    #[test]
    fn each_variant_refuses_unknown_fields_and_the_others_settings() {
        for (text, field) in [
            ("backend = \"embedded\"\nbootstrap_servers = \"k:9092\"", "bootstrap_servers"),
            ("bootstrap_servers = \"k:9092\"", "bootstrap_servers"),
            ("partition = 3", "partition"),
            ("backend = \"kafka\"\nbootstrap_servers = \"k:9092\"\npartition = 3", "partition"),
            ("backend = \"kafka\"\nbootstrap_servers = \"k:9092\"\n[extra2]\nx = 1", "extra2"),
        ] {
            let refused = parse(text);
            assert!(refused.as_ref().is_err_and(|e| e.contains("unknown field") && e.contains(field)), "{refused:?}");
        }
        let missing = parse("backend = \"kafka\"\ntopic_prefix = \"x.\"");
        assert!(missing.as_ref().is_err_and(|e| e.contains("bootstrap_servers")), "{missing:?}");
        let unknown = parse("backend = \"kafak\"");
        assert!(unknown.as_ref().is_err_and(|e| e.contains("kafak") && e.contains("kafka")), "{unknown:?}");
    }

    #[test]
    fn a_configuration_round_trips_through_its_serialised_form() {
        for config in [LogConfig::default(), LogConfig::Kafka(KafkaConfig::new("k1:9092,k2:9092"))] {
            let text = toml::to_string(&config).unwrap();
            assert_eq!(parse(&text).unwrap(), config, "{text}");
        }
    }

    #[test]
    fn validation_names_the_setting() {
        let zero = LogConfig::Embedded(EmbeddedConfig { partitions: 0 });
        assert!(matches!(zero.validate(), Err(LogError::Invalid(m)) if m.contains("log.partitions")));
        let empty = LogConfig::Kafka(KafkaConfig::new(" "));
        assert!(matches!(empty.validate(), Err(LogError::Invalid(m)) if m.contains("log.bootstrap_servers")));
        assert!(LogConfig::default().validate().is_ok());
    }

    #[tokio::test]
    async fn embedded_storage_is_one_store_for_the_log_and_the_projections() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(&LogConfig::Embedded(EmbeddedConfig { partitions: 3 }), dir.path()).await.unwrap();
        assert!(storage.kafka.is_none());
        assert_eq!(storage.log.partitions(hcal_actors::log::NOTIFICATIONS), 3);
        assert_eq!(storage.store.db_path(), dir.path().join(STORE_DIR).join(sqlite::DB_FILE));
        let refused = open(&LogConfig::Embedded(EmbeddedConfig { partitions: 0 }), dir.path()).await;
        assert!(matches!(refused, Err(LogError::Invalid(_))));
    }
}

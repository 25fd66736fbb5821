//! The topic catalog: which Kafka topic a logical log is, creating missing topics with hcal's
//! settings, their partition counts (learned once and kept), and high watermarks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hcal_actors::log::{LogError, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, MEETING_LISTS, PRESENCE, ROOM_BOOKINGS};
use parking_lot::RwLock;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

use super::KafkaConfig;
use super::blocking;
use super::errors::{classify, kafka_error};

/// What the log knows about the cluster's topics, and the client it asks.
pub(super) struct Catalog {
    pub(super) config: KafkaConfig,
    /// Settings shared by every client: bootstrap servers and `extra`.
    pub(super) base: ClientConfig,
    /// Metadata and watermark queries; never assigned, never in a group.
    pub(super) meta: Arc<BaseConsumer>,
    /// Partition count per logical topic, learned from the broker.
    pub(super) partitions: RwLock<HashMap<String, u32>>,
}

impl Catalog {
    /// The Kafka topic of a logical log.
    pub(super) fn topic(&self, logical: &str) -> String {
        format!("{}{logical}", self.config.topic_prefix)
    }

    /// Partition count of `logical`, from the cache or the broker; creates the topic when it
    /// is missing and `create_topics` is on.
    pub(super) async fn ensure(&self, logical: &str) -> Result<u32, LogError> {
        check_topic(logical)?;
        if let Some(n) = self.partitions.read().get(logical) {
            return Ok(*n);
        }
        let topic = self.topic(logical);
        if topic.len() > 249 {
            return Err(LogError::Invalid(format!("kafka topic name {topic:?} is longer than 249 characters")));
        }
        let timeout = self.config.request_timeout;
        let mut count = self.metadata_partitions(&topic).await?;
        if count.is_none() && self.config.create_topics {
            self.create_topic(logical, &topic).await?;
            // Metadata lags behind creation on some brokers: ask until the topic shows up.
            let deadline = tokio::time::Instant::now() + timeout;
            while count.is_none() && tokio::time::Instant::now() < deadline {
                count = self.metadata_partitions(&topic).await?;
                if count.is_none() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let Some(count) = count else {
            return Err(LogError::Unavailable(if self.config.create_topics {
                format!("kafka topic {topic} was created but does not appear in the metadata")
            } else {
                format!("kafka topic {topic} does not exist and log.create_topics is off")
            }));
        };
        if count != self.config.partitions {
            tracing::info!(
                topic,
                partitions = count,
                configured = self.config.partitions,
                "using the topic's own partition count"
            );
        }
        // A concurrent caller may have raced us here; both read the same metadata.
        Ok(*self.partitions.write().entry(logical.to_owned()).or_insert(count))
    }

    /// The partition count of `topic`, or `None` when the broker does not know it.
    async fn metadata_partitions(&self, topic: &str) -> Result<Option<u32>, LogError> {
        let meta = Arc::clone(&self.meta);
        let timeout = self.config.request_timeout;
        let topic = topic.to_owned();
        blocking(move || {
            let metadata = meta.fetch_metadata(Some(&topic), timeout).map_err(|e| kafka_error("fetch metadata", e))?;
            let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else { return Ok(None) };
            match found.error().map(RDKafkaErrorCode::from) {
                None if !found.partitions().is_empty() => u32::try_from(found.partitions().len())
                    .map(Some)
                    .map_err(|_| LogError::Unavailable("absurd partition count".into())),
                // Known but without partitions yet, or still being created.
                None | Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::LeaderNotAvailable) => {
                    Ok(None)
                }
                Some(code) => Err(classify(code, format!("kafka metadata of {topic}: {code}"))),
            }
        })
        .await
    }

    async fn create_topic(&self, logical: &str, topic: &str) -> Result<(), LogError> {
        let config = &self.config;
        let admin: AdminClient<DefaultClientContext> =
            self.base.create().map_err(|e| kafka_error("create admin client", e))?;
        let partitions = i32::try_from(config.partitions).map_err(|_| LogError::Invalid("partitions".into()))?;
        let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(i32::from(config.replication_factor)));
        for (key, value) in topic_settings(logical) {
            new = new.set(key, value);
        }
        let options = AdminOptions::new()
            .request_timeout(Some(config.request_timeout))
            .operation_timeout(Some(config.request_timeout));
        let results = admin.create_topics([&new], &options).await.map_err(|e| kafka_error("create topic", e));
        // The admin client's drop joins its polling thread.
        let _ = tokio::task::spawn_blocking(move || drop(admin)).await;
        for result in results? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(classify(code, format!("creating kafka topic {name}: {code}"))),
            }
        }
        tracing::info!(topic, partitions, replication = config.replication_factor, "created kafka topic");
        Ok(())
    }

    pub(super) async fn high_watermark(&self, topic: &str, partition: i32, timeout: Duration) -> Result<i64, LogError> {
        let meta = Arc::clone(&self.meta);
        let topic = topic.to_owned();
        blocking(move || {
            let result =
                meta.fetch_watermarks(&topic, partition, timeout).map_err(|e| kafka_error("fetch watermarks", e));
            // The metadata consumer is never assigned, so a poll only serves queued events
            // (connection errors and the like), which would otherwise pile up.
            let _ = meta.poll(Duration::ZERO);
            result.map(|(_, high)| high)
        })
        .await
    }
}

/// Topic settings hcal creates its topics with. `mailbox-events` is the system of record (the
/// state of every mailbox and every projection is a fold of it): it is never deleted by age or
/// size. Snapshots are compacted: only a mailbox's latest one matters. Notifications keep the
/// broker's retention: they are worked off within seconds and re-sent by Graph's retries or a
/// resync otherwise.
pub(super) fn topic_settings(logical: &str) -> &'static [(&'static str, &'static str)] {
    match logical {
        MAILBOX_EVENTS => &[("retention.ms", "-1"), ("retention.bytes", "-1")],
        MAILBOX_SNAPSHOTS | MEETING_LISTS | ROOM_BOOKINGS | PRESENCE => &[("cleanup.policy", "compact")],
        _ => &[],
    }
}

pub(super) fn legal_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Logical topic names follow Kafka's rules, as in the embedded store, so a topic that works in
/// one mode works in the other.
fn check_topic(topic: &str) -> Result<(), LogError> {
    if topic.is_empty() || topic.len() > 249 || topic == "." || topic == ".." || !topic.chars().all(legal_topic_char) {
        return Err(LogError::Invalid(format!("illegal topic name {topic:?}")));
    }
    Ok(())
}

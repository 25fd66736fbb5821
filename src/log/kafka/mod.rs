//! The Kafka implementation of the event-log port ([`hcal_actors::log::EventLog`]): the logs of
//! kafka mode are Kafka topics, reached through rdkafka (librdkafka).
//!
//! Semantics, compared with the embedded store:
//! - **Partitions.** A key's partition is [`partition_for`] (murmur2, as Kafka's Java client
//!   computes it) of the topic's partition count, passed explicitly with every record. The
//!   producer's own partitioner is set to `murmur2_random` as well, so any other producer of the
//!   topic (another language, a tool) that lets its client choose puts a mailbox on the same
//!   partition. Partition counts are read from the broker once per topic and then cached: adding
//!   partitions to a live topic moves keys to other partitions, which breaks per-mailbox order,
//!   so hcal deliberately keeps the count it started with.
//! - **Append** is durable once acknowledged (`acks=all`, idempotent producer), but not atomic:
//!   see [`KafkaLog`]'s `append` for what a failed append may have written.
//! - **Read** sees committed records only (`isolation.level=read_committed`); offsets taken by
//!   transaction markers or aborted records are skipped, so offsets need not be consecutive.
//! - **Wait** is woken at once by appends through the same [`KafkaLog`] and otherwise polls the
//!   broker's high watermark (every 200 ms), checking with a one-record read that what lies
//!   beyond `from` is a record and not a transaction marker.
//! - **Positions** are Kafka consumer-group offsets, stored by the broker.
//! - **Transactions** are used only when `transactional_id` is set *and* a probe at connect
//!   completes one (an aborted transaction holding only a consumer offset, so nothing is
//!   written); brokers that grant transactional ids but refuse to end transactions (tansu 0.6)
//!   get the idempotent producer instead.
//! - **Outages**: every call fails with `Unavailable` (and `wait` times out) within about
//!   `request_timeout` when the cluster is unreachable; the clients reconnect by themselves.
//!
//! Besides the groups callers name in `committed`/`commit`, hcal's clients use the consumer
//! group ids `{topic_prefix}reader` and `{topic_prefix}transaction-probe` (neither joins nor
//! commits); clusters with ACLs must allow them.

mod config;
mod errors;
mod produce;
mod read;
#[cfg(test)]
mod tests;
mod topics;

pub use config::KafkaConfig;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::log::{
    EventLog, LogError, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, MEETING_LISTS, NOTIFICATIONS, PRESENCE, ROOM_BOOKINGS,
    Record, partition_for,
};
use parking_lot::{Mutex, RwLock};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::Producer;
use tokio::sync::watch;

use self::errors::kafka_error;
use self::produce::{Writer, producer, transactional_writer};
use self::topics::Catalog;

/// The Kafka implementation of [`EventLog`]. Clones share the clients.
///
/// Clients: one producer for appends; a small pool of read consumers, each assigned to one
/// partition at an explicit offset for the duration of a read (they carry the group id
/// `{topic_prefix}reader` because librdkafka requires one for `assign`, but never join the
/// group or commit), so consecutive reads reuse warm connections; one consumer per consumer
/// group for positions; and one idle consumer for metadata and watermarks. librdkafka calls
/// block, so they run on tokio's blocking pool.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    writer: Writer,
    /// Idle read consumers.
    readers: Mutex<Vec<BaseConsumer>>,
    /// One consumer per consumer group, for committed positions.
    groups: Mutex<HashMap<String, Arc<BaseConsumer>>>,
    /// Per (logical topic, partition) someone waits on: one past the highest offset appended
    /// through this log, so local appends wake local waiters without a broker round trip.
    heads: Mutex<HashMap<(String, u32), watch::Sender<u64>>>,
}

impl std::fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLog")
            .field("bootstrap_servers", &self.inner.catalog.config.bootstrap_servers)
            .field("topic_prefix", &self.inner.catalog.config.topic_prefix)
            .field("transactional", &self.is_transactional())
            .field("partitions", &*self.inner.catalog.partitions.read())
            .finish_non_exhaustive()
    }
}

impl KafkaLog {
    /// Connects to the cluster: validates `config`, builds the producer (transactional if
    /// `transactional_id` is set and the broker supports it), creates the `notifications`,
    /// `mailbox-events`, `mailbox-snapshots` and downstream `meeting-lists` and `room-bookings`
    /// topics if they are missing and `create_topics` is on (`mailbox-events` kept forever, the
    /// others but `notifications` compacted), and learns each
    /// topic's partition count. Fails with `Unavailable` if the cluster cannot be reached
    /// within `request_timeout`, `Invalid` for a configuration the broker or hcal rejects.
    pub async fn connect(config: KafkaConfig) -> Result<Self, LogError> {
        config.validate()?;
        let mut base = ClientConfig::new();
        base.set("bootstrap.servers", &config.bootstrap_servers)
            // librdkafka backs off up to 10 s between reconnects, and notices timed-out
            // deliveries only when it wakes up, so an append could fail many seconds after its
            // timeout. 1 s is the Java client's default; `extra` may change it.
            .set("reconnect.backoff.max.ms", "1000");
        for (key, value) in &config.extra {
            base.set(key, value);
        }
        let meta: BaseConsumer = consumer_config(&base).create().map_err(|e| kafka_error("create consumer", e))?;
        let catalog = Catalog { config, base, meta: Arc::new(meta), partitions: RwLock::default() };
        for topic in [NOTIFICATIONS, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, MEETING_LISTS, ROOM_BOOKINGS, PRESENCE] {
            catalog.ensure(topic).await?;
        }
        let writer = match &catalog.config.transactional_id {
            None => Writer::idempotent(producer(&catalog.base, &catalog.config, None)?),
            Some(id) => transactional_writer(&catalog, id).await?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                catalog,
                writer,
                readers: Mutex::default(),
                groups: Mutex::default(),
                heads: Mutex::default(),
            }),
        })
    }

    /// The settings it was connected with.
    pub fn config(&self) -> &KafkaConfig {
        &self.inner.catalog.config
    }

    /// The Kafka topic of a logical log: `topic_prefix` + `logical`.
    pub fn topic(&self, logical: &str) -> String {
        self.inner.catalog.topic(logical)
    }

    /// The settings every client of this cluster needs (bootstrap servers and `extra`), for
    /// the service's own clients such as its group consumer of `notifications`. Add the
    /// role's settings (`group.id`, `enable.auto.commit`, ...) on top.
    pub fn client_config(&self) -> ClientConfig {
        self.inner.catalog.base.clone()
    }

    /// Whether appends run in transactions (`transactional_id` set and supported).
    pub fn is_transactional(&self) -> bool {
        matches!(self.inner.writer, Writer::Transactional { .. })
    }

    /// Flushes the producer and closes the cached consumers, on the blocking pool. Call it
    /// before dropping the last clone: closing a group consumer talks to the broker, which
    /// should not happen on an async worker. The log stays usable (clients are recreated).
    pub async fn shutdown(&self) {
        let readers = std::mem::take(&mut *self.inner.readers.lock());
        let groups: Vec<_> = self.inner.groups.lock().drain().map(|(_, c)| c).collect();
        let producer = match &self.inner.writer {
            Writer::Idempotent(current) => Some(current.lock().1.clone()),
            Writer::Transactional { producer, .. } => producer.lock().await.clone(),
        };
        let timeout = self.inner.catalog.config.request_timeout;
        let closed = tokio::task::spawn_blocking(move || {
            if let Some(producer) = producer
                && let Err(e) = producer.flush(timeout)
            {
                tracing::warn!(error = %e, "kafka producer did not flush before shutdown");
            }
            drop(readers);
            drop(groups);
        })
        .await;
        if let Err(e) = closed {
            tracing::warn!(error = %e, "closing kafka clients failed");
        }
    }

    /// Checks `partition` against `logical`'s count; returns the Kafka topic and partition.
    async fn locate(&self, logical: &str, partition: u32) -> Result<(String, i32), LogError> {
        let count = self.inner.catalog.ensure(logical).await?;
        if partition >= count {
            return Err(LogError::Invalid(format!("partition {partition} of {logical} out of range (0..{count})")));
        }
        let partition = i32::try_from(partition).map_err(|_| LogError::Invalid("partition".into()))?;
        Ok((self.topic(logical), partition))
    }
}

#[async_trait]
impl EventLog for KafkaLog {
    /// The topic's partition count as read from the broker when it was first used (hcal's two
    /// topics at `connect`). A topic this log has not used yet reports the configured
    /// `partitions`, the count it would be created with.
    fn partitions(&self, topic: &str) -> u32 {
        self.inner.catalog.partitions.read().get(topic).copied().unwrap_or(self.inner.catalog.config.partitions)
    }

    /// Sends every payload to the key's partition, in order, and waits until the broker has
    /// acknowledged each (`acks=all`). Returns their offsets.
    ///
    /// Not all-or-none without transactions: if it fails, any subset of the records may have
    /// been written (in practice a prefix: the records are enqueued back to back and usually
    /// travel in one batch, which the broker appends atomically, but librdkafka does not
    /// promise it). It waits for records already handed to librdkafka before returning the
    /// error, so a retry's records land after them. Callers treat an append as at-least-once
    /// (retry with the same payloads, tolerate duplicates), as hcal's decide/replay does. If the
    /// caller stops waiting, the append still runs to its end.
    ///
    /// With a transactional producer the append is one transaction: on failure it is aborted,
    /// and `read_committed` readers (such as [`EventLog::read`]) never see its records; only
    /// when the commit itself fails with an unknown outcome (a timeout) may they have been
    /// committed, which is at-least-once again.
    async fn append(&self, topic: &str, key: &str, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        let count = self.inner.catalog.ensure(topic).await?;
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let partition = partition_for(key, count);
        let this = self.clone();
        let (topic, key) = (topic.to_owned(), key.to_owned());
        // A task of its own runs to the end even if the caller stops waiting: abandoned halfway,
        // an append would leave some records unsent or a transaction open.
        tokio::spawn(async move { this.append_to(&topic, &key, partition, payloads).await })
            .await
            .map_err(|e| LogError::Unavailable(format!("kafka append task failed: {e}")))?
    }

    /// Up to `max` committed records from offset `from`, ending at the partition's end as it
    /// was when the read started. Returns fewer than `max` (possibly none) when the partition
    /// has no more; a `from` before the earliest retained record starts at that record.
    async fn read(&self, topic: &str, partition: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
        self.read_records(topic, partition, from, max).await
    }

    /// Returns when the partition has a committed record at or after `from`, or when the
    /// timeout passes. Appends through this log wake it at once; records from other
    /// processes are found by asking the broker for the high watermark every 200 ms. Returns at
    /// once for an invalid topic or partition (the following `read` reports it); a broker that
    /// cannot be reached makes it wait out the timeout.
    async fn wait(&self, topic: &str, partition: u32, from: u64, timeout: Duration) {
        self.wait_for_record(topic, partition, from, timeout).await
    }

    /// The group's committed offset for the partition, read from the broker (0 when the group
    /// never committed there).
    async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        self.committed_offset(group, topic, partition).await
    }

    /// Sets the group's committed offset to exactly `next`, also backwards (replay tools rewind
    /// a group this way), synchronously. Meant for groups whose positions hcal manages itself
    /// through this port: a group that also has live subscribed members (a group consumer)
    /// belongs to them, and the broker refuses commits from outside the group's generation.
    async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError> {
        self.commit_offset(group, topic, partition, next).await
    }
}

/// A consumer that never commits by itself and only sees committed records.
fn consumer_config(base: &ClientConfig) -> ClientConfig {
    let mut config = base.clone();
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed");
    config
}

/// Runs a blocking librdkafka call on tokio's blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, LogError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, LogError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| LogError::Unavailable(format!("kafka task failed: {e}")))?
}

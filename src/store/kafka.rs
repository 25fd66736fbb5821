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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::log::{EventLog, LogError, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, NOTIFICATIONS, Record, partition_for};
use parking_lot::{Mutex, RwLock};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// How often `wait` asks the broker for a partition's high watermark. Appends made through the
/// same [`KafkaLog`] wake waiters at once; the poll only finds records that other processes
/// wrote, so it bounds the extra latency of the cross-process path.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// Idle read consumers kept for reuse. Each is a full librdkafka client (threads, connections),
/// so the pool is bounded; more concurrent reads than this still work, their consumers are
/// just closed afterwards.
const MAX_IDLE_READERS: usize = 16;

/// Pause before retrying to enqueue a record into librdkafka's full local queue.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);

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

/// `[kafka]`: how kafka mode reaches its broker and lays out its topics.
///
/// Durations are written as seconds (fractions allowed), e.g. `request_timeout = 30`.
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
    /// Partitions of the topics hcal creates. Default 8, the embedded store's default. It caps
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
    #[serde(default = "defaults::request_timeout", with = "secs")]
    pub request_timeout: Duration,
    /// Further librdkafka properties for every client, e.g. `security.protocol`,
    /// `ssl.ca.location`, `client.id`. Default empty. The settings hcal's correctness relies on
    /// (bootstrap, group, transactional id, idempotence, acks, partitioner, commit and isolation
    /// settings, and the group's assignment strategy and protocol, which must stay the classic
    /// eager ones) cannot be overridden here; connecting with one of them is refused. hcal's
    /// other choices (`reconnect.backoff.max.ms=1000`, the producer's `linger.ms=0`) can. Do not put secrets here:
    /// configuration files are shared and printed.
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

/// `Duration` as (fractional) seconds in configuration files.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
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

    fn validate(&self) -> Result<(), LogError> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(LogError::Invalid("kafka.bootstrap_servers is empty".into()));
        }
        if !self.topic_prefix.chars().all(legal_topic_char) {
            return Err(LogError::Invalid(format!("illegal kafka.topic_prefix {:?}", self.topic_prefix)));
        }
        if self.partitions == 0 || i32::try_from(self.partitions).is_err() {
            return Err(LogError::Invalid(format!("kafka.partitions {} out of range", self.partitions)));
        }
        if self.replication_factor == 0 {
            return Err(LogError::Invalid("kafka.replication_factor must be at least 1".into()));
        }
        if self.transactional_id.as_deref().is_some_and(str::is_empty) {
            return Err(LogError::Invalid("kafka.transactional_id is empty".into()));
        }
        if self.request_timeout.is_zero() {
            return Err(LogError::Invalid("kafka.request_timeout must be positive".into()));
        }
        if let Some(key) = self.extra.keys().find(|k| RESERVED.contains(&k.as_str())) {
            let why = match key.as_str() {
                "partition.assignment.strategy" | "group.protocol" => {
                    "hcal relies on the classic protocol's eager rebalancing with its default assignment"
                }
                _ => "hcal sets it itself",
            };
            return Err(LogError::Invalid(format!("kafka.extra may not set {key:?}: {why}")));
        }
        Ok(())
    }
}

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

/// What the log knows about the cluster's topics, and the client it asks.
struct Catalog {
    config: KafkaConfig,
    /// Settings shared by every client: bootstrap servers and `extra`.
    base: ClientConfig,
    /// Metadata and watermark queries; never assigned, never in a group.
    meta: Arc<BaseConsumer>,
    /// Partition count per logical topic, learned from the broker.
    partitions: RwLock<HashMap<String, u32>>,
}

impl Catalog {
    /// The Kafka topic of a logical log.
    fn topic(&self, logical: &str) -> String {
        format!("{}{logical}", self.config.topic_prefix)
    }

    /// Partition count of `logical`, from the cache or the broker; creates the topic when it
    /// is missing and `create_topics` is on.
    async fn ensure(&self, logical: &str) -> Result<u32, LogError> {
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
                format!("kafka topic {topic} does not exist and kafka.create_topics is off")
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

    async fn high_watermark(&self, topic: &str, partition: i32, timeout: Duration) -> Result<i64, LogError> {
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

enum Writer {
    /// The default: idempotent, so retries inside librdkafka neither duplicate nor reorder.
    /// The number counts replacements (see `append_idempotent`).
    Idempotent(Mutex<(u64, FutureProducer)>),
    /// One transaction per append. `None` after a fatal error: the next append builds a new
    /// producer with the same id, which fences the old one and cleans up its transaction.
    Transactional { id: String, producer: tokio::sync::Mutex<Option<FutureProducer>> },
}

impl Writer {
    fn idempotent(producer: FutureProducer) -> Self {
        Self::Idempotent(Mutex::new((0, producer)))
    }
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
    /// `mailbox-events` and `mailbox-snapshots` topics if they are missing (see
    /// [`topic_settings`] for their retention) and `create_topics` is on, and learns each
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
        for topic in [NOTIFICATIONS, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS] {
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

    /// Takes an idle read consumer from the pool, or makes one.
    fn take_reader(&self) -> Result<BaseConsumer, LogError> {
        if let Some(reader) = self.inner.readers.lock().pop() {
            return Ok(reader);
        }
        let mut config = consumer_config(&self.inner.catalog.base);
        config
            // librdkafka refuses `assign` without a group id, though readers never join the
            // group nor commit: the id only has to exist (and be allowed by ACLs).
            .set("group.id", format!("{}reader", self.inner.catalog.config.topic_prefix))
            .set("enable.partition.eof", "true")
            // Records before the earliest retained offset are gone; start at the first one
            // that exists. (A `from` past the end never gets here.)
            .set("auto.offset.reset", "earliest")
            // A read ends at the partition's end; a short broker-side wait makes the
            // end-of-partition signal arrive quickly when the last offsets are not records.
            .set("fetch.wait.max.ms", "100")
            // A reader is unassigned between reads; no need for librdkafka's 64 MiB prefetch.
            .set("queued.max.messages.kbytes", "4096");
        config.create().map_err(|e| kafka_error("create consumer", e))
    }

    fn put_reader(&self, reader: BaseConsumer) {
        let mut readers = self.inner.readers.lock();
        if readers.len() < MAX_IDLE_READERS {
            readers.push(reader);
        }
    }

    fn group_consumer(&self, group: &str) -> Result<Arc<BaseConsumer>, LogError> {
        if group.is_empty() {
            return Err(LogError::Invalid("empty consumer group name".into()));
        }
        let mut groups = self.inner.groups.lock();
        if let Some(consumer) = groups.get(group) {
            return Ok(Arc::clone(consumer));
        }
        let mut config = consumer_config(&self.inner.catalog.base);
        // This consumer never joins its group, so the session timeout means one thing only:
        // how long librdkafka keeps a commit waiting for an unreachable coordinator before it
        // fails it (45 s by default). Bound that by the request timeout.
        let session = self.inner.catalog.config.request_timeout.as_millis().clamp(1000, 3_600_000);
        config
            .set("group.id", group)
            .set("session.timeout.ms", session.to_string())
            .set("heartbeat.interval.ms", (session / 3).to_string());
        let consumer: Arc<BaseConsumer> =
            Arc::new(config.create().map_err(|e| kafka_error("create group consumer", e))?);
        groups.insert(group.to_owned(), Arc::clone(&consumer));
        Ok(consumer)
    }

    /// Whether the partition has a record at or after `from`: the check `wait` makes when the
    /// high watermark has passed `from`, because the offsets in between may be transaction
    /// markers or aborted records that no read returns.
    async fn has_record(&self, logical: &str, partition: u32, from: u64) -> Result<bool, LogError> {
        Ok(!self.read(logical, partition, from, 1).await?.is_empty())
    }

    fn head(&self, logical: &str, partition: u32) -> watch::Receiver<u64> {
        let mut heads = self.inner.heads.lock();
        heads.entry((logical.to_owned(), partition)).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    fn advance(&self, logical: &str, partition: u32, next: u64) {
        if let Some(tx) = self.inner.heads.lock().get(&(logical.to_owned(), partition)) {
            tx.send_if_modified(|known| {
                let raised = next > *known;
                if raised {
                    *known = next;
                }
                raised
            });
        }
    }

    async fn append_to(
        &self,
        topic: &str,
        key: &str,
        partition: u32,
        payloads: Vec<Vec<u8>>,
    ) -> Result<Vec<u64>, LogError> {
        let kafka_partition = i32::try_from(partition).map_err(|_| LogError::Invalid("partition".into()))?;
        let full = self.topic(topic);
        let offsets = match &self.inner.writer {
            Writer::Idempotent(current) => {
                self.append_idempotent(current, &full, key, kafka_partition, &payloads).await?
            }
            Writer::Transactional { id, producer } => {
                self.append_transactional(id, producer, &full, key, kafka_partition, &payloads).await?
            }
        };
        if let Some(last) = offsets.iter().max() {
            self.advance(topic, partition, last.saturating_add(1));
        }
        Ok(offsets)
    }

    async fn append_idempotent(
        &self,
        current: &Mutex<(u64, FutureProducer)>,
        topic: &str,
        key: &str,
        partition: i32,
        payloads: &[Vec<u8>],
    ) -> Result<Vec<u64>, LogError> {
        let (generation, producer) = current.lock().clone();
        let timeout = self.inner.catalog.config.request_timeout;
        let result = produce(&producer, topic, key, partition, payloads, timeout).await;
        if let Err(LogError::Unavailable(e)) = &result {
            // librdkafka keeps an idempotent producer's id and sequence numbers across delivery
            // failures and expects the broker to accept them again; some brokers never do after
            // a delivery timeout (tansu 0.6 fails every later produce). A fresh producer starts
            // a fresh id. Appends still in flight on the old one finish there; they run
            // concurrently with this one, so there is no order between them to keep.
            match producer_for(&self.inner.catalog, None) {
                Ok(fresh) => {
                    let retired = {
                        let mut current = current.lock();
                        if current.0 == generation {
                            tracing::warn!(error = %e, "kafka append failed; replacing the producer");
                            std::mem::replace(&mut *current, (generation + 1, fresh)).1
                        } else {
                            // Another failed append replaced it already.
                            fresh
                        }
                    };
                    retire(Some(retired)).await;
                }
                Err(create) => tracing::warn!(error = %create, "cannot replace the kafka producer"),
            }
        }
        result
    }

    async fn append_transactional(
        &self,
        id: &str,
        slot: &tokio::sync::Mutex<Option<FutureProducer>>,
        topic: &str,
        key: &str,
        partition: i32,
        payloads: &[Vec<u8>],
    ) -> Result<Vec<u64>, LogError> {
        let config = &self.inner.catalog.config;
        // One transaction at a time per producer: appends of this process are serialised.
        let mut slot = slot.lock().await;
        let producer = match slot.as_ref() {
            Some(producer) => producer.clone(),
            None => {
                let producer = producer_for(&self.inner.catalog, Some(id))?;
                init_transactions(&producer, config.request_timeout).await?;
                *slot = Some(producer.clone());
                producer
            }
        };
        if let Err(e) = producer.begin_transaction() {
            // Only a broken producer refuses to begin: replace it.
            retire(slot.take()).await;
            return Err(kafka_error("begin transaction", e));
        }
        let produced = produce(&producer, topic, key, partition, payloads, config.request_timeout).await;
        let timeout = config.request_timeout;
        let outcome = match produced {
            Ok(offsets) => {
                let p = producer.clone();
                match blocking(move || p.commit_transaction(timeout).map_err(|e| kafka_error("commit transaction", e)))
                    .await
                {
                    Ok(()) => return Ok(offsets),
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        // Abort so the records never become visible; if even that fails, the producer is in an
        // unknown state: drop it, and its successor's init fences and aborts what is left.
        let p = producer.clone();
        if let Err(abort) =
            blocking(move || p.abort_transaction(timeout).map_err(|e| kafka_error("abort transaction", e))).await
        {
            tracing::warn!(error = %abort, "kafka transaction could not be aborted; replacing the producer");
            retire(slot.take()).await;
        }
        Err(outcome)
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
        let (full, kafka_partition) = self.locate(topic, partition).await?;
        // Offsets above i64::MAX cannot exist, so such a `from` simply finds nothing.
        let Ok(start) = i64::try_from(from) else { return Ok(Vec::new()) };
        if max == 0 {
            return Ok(Vec::new());
        }
        let reader = self.take_reader()?;
        let timeout = self.inner.catalog.config.request_timeout;
        let this = self.clone();
        blocking(move || {
            let result = read_partition(&reader, &full, kafka_partition, start, max, timeout);
            // Detach the reader so it stops fetching; a reader that cannot be reset is dropped.
            match reader.unassign() {
                Ok(()) => this.put_reader(reader),
                Err(e) => tracing::warn!(error = %e, "dropping a kafka reader that cannot be unassigned"),
            }
            result.map(|records| {
                records.into_iter().map(|(offset, key, payload)| Record { partition, offset, key, payload }).collect()
            })
        })
        .await
    }

    /// Returns when the partition has a committed record at or after `from`, or when the
    /// timeout passes. Appends through this log wake it at once; records from other
    /// processes are found by asking the broker for the high watermark every 200 ms. Returns at
    /// once for an invalid topic or partition (the following `read` reports it); a broker that
    /// cannot be reached makes it wait out the timeout.
    async fn wait(&self, topic: &str, partition: u32, from: u64, timeout: Duration) {
        let now = tokio::time::Instant::now();
        // A timeout too large to add (`Duration::MAX`) means "wait a very long time".
        let deadline = now
            .checked_add(timeout)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
            .unwrap_or(now);
        let Ok((full, kafka_partition)) = self.locate(topic, partition).await else { return };
        let Ok(from_offset) = i64::try_from(from) else {
            tokio::time::sleep_until(deadline).await;
            return;
        };
        let mut local = self.head(topic, partition);
        // Offsets below this are known to hold no record at or after `from` (markers of
        // committed or aborted transactions, records of open ones).
        let mut seen = from_offset;
        loop {
            if *local.borrow_and_update() > from {
                return;
            }
            let ask = self
                .inner
                .catalog
                .config
                .request_timeout
                .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            match self.inner.catalog.high_watermark(&full, kafka_partition, ask).await {
                Ok(high) if high > seen => match self.has_record(topic, partition, from).await {
                    Ok(true) => return,
                    Ok(false) => seen = high,
                    Err(e) => tracing::debug!(topic, partition, error = %e, "kafka wait: probe failed"),
                },
                Ok(_) => {}
                Err(e) => tracing::debug!(topic, partition, error = %e, "kafka wait: watermark query failed"),
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return;
            }
            let slice_end = deadline.min(now + WAIT_POLL);
            if tokio::time::timeout_at(slice_end, local.wait_for(|next| *next > from)).await.is_ok() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                return;
            }
        }
    }

    /// The group's committed offset for the partition, read from the broker (0 when the group
    /// never committed there).
    async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        let (full, kafka_partition) = self.locate(topic, partition).await?;
        let consumer = self.group_consumer(group)?;
        let timeout = self.inner.catalog.config.request_timeout;
        blocking(move || {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(&full, kafka_partition);
            let result = consumer.committed_offsets(tpl, timeout).map_err(|e| kafka_error("fetch committed offset", e));
            let _ = consumer.poll(Duration::ZERO);
            let tpl = result?;
            let elem = tpl
                .find_partition(&full, kafka_partition)
                .ok_or_else(|| LogError::Unavailable("broker answered without the partition".into()))?;
            elem.error().map_err(|e| kafka_error("fetch committed offset", e))?;
            match elem.offset() {
                Offset::Offset(n) => {
                    u64::try_from(n).map_err(|_| LogError::Unavailable(format!("negative committed offset {n}")))
                }
                // librdkafka reports "no committed offset" as Invalid.
                _ => Ok(0),
            }
        })
        .await
    }

    /// Sets the group's committed offset to exactly `next`, also backwards (replay tools rewind
    /// a group this way), synchronously. Meant for groups whose positions hcal manages itself
    /// through this port: a group that also has live subscribed members (a group consumer)
    /// belongs to them, and the broker refuses commits from outside the group's generation.
    async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError> {
        let (full, kafka_partition) = self.locate(topic, partition).await?;
        let next = i64::try_from(next).map_err(|_| LogError::Invalid(format!("offset {next} is too large")))?;
        let consumer = self.group_consumer(group)?;
        blocking(move || {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&full, kafka_partition, Offset::Offset(next))
                .map_err(|e| kafka_error("commit offset", e))?;
            let result = consumer.commit(&tpl, CommitMode::Sync).map_err(|e| kafka_error("commit offset", e));
            let _ = consumer.poll(Duration::ZERO);
            result
        })
        .await
    }
}

/// Reads from an unassigned `reader`; it is left assigned, the caller unassigns it.
/// Returns (offset, key, payload) per record.
fn read_partition(
    reader: &BaseConsumer,
    topic: &str,
    partition: i32,
    from: i64,
    max: usize,
    timeout: Duration,
) -> Result<Vec<(u64, String, Vec<u8>)>, LogError> {
    let deadline = std::time::Instant::now() + timeout;
    let (_, high) =
        reader.fetch_watermarks(topic, partition, timeout).map_err(|e| kafka_error("fetch watermarks", e))?;
    let mut out = Vec::new();
    if from >= high {
        return Ok(out);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from)).map_err(|e| kafka_error("assign", e))?;
    reader.assign(&tpl).map_err(|e| kafka_error("assign", e))?;
    let mut last_error = None;
    let mut next = from;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            if out.is_empty() {
                let cause = last_error.map_or_else(|| "no answer from the broker".to_owned(), |e| format!("{e}"));
                return Err(LogError::Unavailable(format!("kafka read of {topic}/{partition} timed out: {cause}")));
            }
            // Some records arrived: return them, the caller reads on from there.
            return Ok(out);
        }
        match reader.poll(left) {
            None => {}
            Some(Ok(message)) => {
                // Filters what a previous assignment of this reader might have left queued.
                if message.topic() != topic || message.partition() != partition || message.offset() < next {
                    continue;
                }
                let offset = message.offset();
                next = offset.saturating_add(1);
                let key = message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default();
                let payload = message.payload().map(<[u8]>::to_vec).unwrap_or_default();
                out.push((offset.unsigned_abs(), key, payload));
                // Stop at the end as it was when the read started: a read returns, it does not
                // follow the partition.
                if out.len() >= max || next >= high {
                    return Ok(out);
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition => return Ok(out),
            Some(Err(e)) => {
                // Connection trouble is reported here while librdkafka retries underneath;
                // keep polling until the deadline and report it if nothing arrives.
                tracing::debug!(topic, partition, error = %e, "kafka read: consumer event");
                last_error = Some(e);
            }
        }
    }
}

/// Enqueues `payloads` in order and waits for every delivery. Returns the offsets, or the
/// first error after every record already enqueued has been delivered or failed.
async fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    partition: i32,
    payloads: &[Vec<u8>],
    timeout: Duration,
) -> Result<Vec<u64>, LogError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut deliveries = Vec::with_capacity(payloads.len());
    let mut failure = None;
    for payload in payloads {
        let mut record = FutureRecord::to(topic).key(key).payload(payload.as_slice()).partition(partition);
        let enqueued = loop {
            match producer.send_result(record) {
                Ok(delivery) => break Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if tokio::time::Instant::now() < deadline =>
                {
                    // librdkafka's local queue is full; it drains as deliveries complete.
                    record = back;
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err((e, _)) => break Err(kafka_error("enqueue record", e)),
            }
        };
        match enqueued {
            Ok(delivery) => deliveries.push(delivery),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let mut offsets = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match delivery.await {
            Ok(Ok(delivered)) => match u64::try_from(delivered.offset) {
                Ok(offset) => offsets.push(offset),
                Err(_) => {
                    failure.get_or_insert(LogError::Unavailable(format!("delivered at offset {}", delivered.offset)));
                }
            },
            Ok(Err((e, _))) => {
                failure.get_or_insert(kafka_error("deliver record", e));
            }
            Err(_) => {
                failure.get_or_insert(LogError::Unavailable("kafka producer dropped a delivery".into()));
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(offsets),
    }
}

/// A consumer that never commits by itself and only sees committed records.
/// Topic settings hcal creates its topics with. `mailbox-events` is the system of record (the
/// state of every mailbox and every projection is a fold of it): it is never deleted by age or
/// size. Snapshots are compacted: only a mailbox's latest one matters. Notifications keep the
/// broker's retention: they are worked off within seconds and re-sent by Graph's retries or a
/// resync otherwise.
fn topic_settings(logical: &str) -> &'static [(&'static str, &'static str)] {
    match logical {
        MAILBOX_EVENTS => &[("retention.ms", "-1"), ("retention.bytes", "-1")],
        MAILBOX_SNAPSHOTS => &[("cleanup.policy", "compact")],
        _ => &[],
    }
}

fn consumer_config(base: &ClientConfig) -> ClientConfig {
    let mut config = base.clone();
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed");
    config
}

fn producer(
    base: &ClientConfig,
    config: &KafkaConfig,
    transactional_id: Option<&str>,
) -> Result<FutureProducer, LogError> {
    let mut client = base.clone();
    client
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // hcal passes partitions explicitly; this is for records produced without one, so that
        // they agree with Kafka's Java client and with `partition_for`.
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", config.request_timeout.as_millis().clamp(1, i32::MAX as u128).to_string())
        .set("request.timeout.ms", config.request_timeout.as_millis().clamp(1, i32::MAX as u128).to_string());
    // Every append waits for its acknowledgement before hcal goes on, so waiting to fill a
    // batch (librdkafka's default 5 ms) only adds latency; concurrent appends still share
    // batches. `extra` may set it.
    if !config.extra.contains_key("linger.ms") && !config.extra.contains_key("queue.buffering.max.ms") {
        client.set("linger.ms", "0");
    }
    if let Some(id) = transactional_id {
        client.set("transactional.id", id);
    }
    client.create().map_err(|e| kafka_error("create producer", e))
}

/// Builds the transactional producer, or the idempotent one when the broker cannot do
/// transactions. Transient failures (no broker reachable) fail the connect instead, so a blip
/// at start-up does not silently turn transactions off.
async fn transactional_writer(catalog: &Catalog, id: &str) -> Result<Writer, LogError> {
    let (base, config) = (&catalog.base, &catalog.config);
    let candidate = producer(base, config, Some(id))?;
    let supported = match init_transactions(&candidate, config.request_timeout).await {
        Ok(()) => probe_transactions(&candidate, catalog).await,
        Err(e) => Err(e),
    };
    match supported {
        Ok(()) => Ok(Writer::Transactional { id: id.to_owned(), producer: tokio::sync::Mutex::new(Some(candidate)) }),
        Err(LogError::Unavailable(e)) => Err(LogError::Unavailable(e)),
        Err(LogError::Invalid(e)) => {
            tracing::warn!(error = %e, "the kafka broker does not support transactions; appends are idempotent only");
            retire(Some(candidate)).await;
            Ok(Writer::idempotent(producer(base, config, None)?))
        }
    }
}

/// Runs one transaction end to end without writing a record anywhere: it adds a consumer
/// offset (of a probe group) to a transaction and aborts it. Some Kafka-compatible brokers
/// accept `InitProducerId` but refuse `EndTxn`, which would otherwise only show when the first
/// append fails. An aborted offset commit leaves nothing behind that any reader sees.
async fn probe_transactions(producer: &FutureProducer, catalog: &Catalog) -> Result<(), LogError> {
    let producer = producer.clone();
    let mut probe = consumer_config(&catalog.base);
    probe.set("group.id", format!("{}transaction-probe", catalog.config.topic_prefix));
    let topic = catalog.topic(NOTIFICATIONS);
    let timeout = catalog.config.request_timeout;
    blocking(move || {
        let consumer: BaseConsumer = probe.create().map_err(|e| kafka_error("create consumer", e))?;
        let metadata = consumer
            .group_metadata()
            .ok_or_else(|| LogError::Unavailable("kafka: no consumer group metadata for the probe".into()))?;
        let mut offsets = TopicPartitionList::new();
        offsets.add_partition_offset(&topic, 0, Offset::Offset(0)).map_err(|e| kafka_error("probe", e))?;
        producer.begin_transaction().map_err(|e| transaction_error("probe: begin transaction", e))?;
        let sent = producer
            .send_offsets_to_transaction(&offsets, &metadata, timeout)
            .map_err(|e| transaction_error("probe: send offsets to transaction", e));
        let aborted = producer.abort_transaction(timeout).map_err(|e| transaction_error("probe: abort transaction", e));
        sent.and(aborted)
    })
    .await
}

/// `init_transactions`, with its failures split into transient (`Unavailable`) and "this
/// broker will not do transactions" (`Invalid`).
async fn init_transactions(producer: &FutureProducer, timeout: Duration) -> Result<(), LogError> {
    let producer = producer.clone();
    blocking(move || producer.init_transactions(timeout).map_err(|e| transaction_error("init transactions", e))).await
}

/// Failures of transaction calls split into transient (`Unavailable`) and "this broker will
/// not do transactions" (`Invalid`).
fn transaction_error(action: &str, e: KafkaError) -> LogError {
    let transient = match &e {
        // librdkafka flags a broker without `EndTxn` as retriable (the coordinator might move to
        // a broker that has it); for hcal it means "no transactions on this cluster".
        KafkaError::Transaction(err) if err.code() == RDKafkaErrorCode::UnsupportedFeature => false,
        KafkaError::Transaction(err) => err.is_retriable() || is_transient(err.code()),
        other => other.rdkafka_error_code().is_some_and(is_transient),
    };
    if transient {
        LogError::Unavailable(format!("kafka: {action}: {e}"))
    } else {
        LogError::Invalid(format!("kafka: {action}: {e}"))
    }
}

fn is_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::TimedOutQueue
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::CoordinatorNotAvailable
            | RDKafkaErrorCode::NotCoordinator
            | RDKafkaErrorCode::CoordinatorLoadInProgress
    )
}

fn producer_for(catalog: &Catalog, transactional_id: Option<&str>) -> Result<FutureProducer, LogError> {
    producer(&catalog.base, &catalog.config, transactional_id)
}

/// Drops a producer on the blocking pool: dropping purges its queue and joins its thread.
async fn retire(producer: Option<FutureProducer>) {
    if let Some(producer) = producer {
        let _ = tokio::task::spawn_blocking(move || drop(producer)).await;
    }
}

/// Runs a blocking librdkafka call on tokio's blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, LogError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, LogError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| LogError::Unavailable(format!("kafka task failed: {e}")))?
}

fn kafka_error(action: &str, e: KafkaError) -> LogError {
    let message = format!("kafka: {action}: {e}");
    match e.rdkafka_error_code() {
        Some(code) => classify(code, message),
        None => LogError::Unavailable(message),
    }
}

/// Errors that no retry can fix are `Invalid`; everything else (the broker being away, leader
/// elections, timeouts, authorisation that an operator may still grant) is `Unavailable`.
fn classify(code: RDKafkaErrorCode, message: String) -> LogError {
    match code {
        RDKafkaErrorCode::MessageSizeTooLarge
        | RDKafkaErrorCode::InvalidMessageSize
        | RDKafkaErrorCode::InvalidTopic
        | RDKafkaErrorCode::UnknownPartition
        | RDKafkaErrorCode::InvalidPartitions
        | RDKafkaErrorCode::InvalidReplicationFactor
        | RDKafkaErrorCode::InvalidRequest
        | RDKafkaErrorCode::InvalidConfig
        | RDKafkaErrorCode::PolicyViolation
        | RDKafkaErrorCode::InvalidGroupId
        | RDKafkaErrorCode::UnsupportedVersion => LogError::Invalid(message),
        _ => LogError::Unavailable(message),
    }
}

fn legal_topic_char(c: char) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::DefaultProducerContext;
    use std::time::Instant;

    /// Partitions of the test topics.
    const P: u32 = 4;

    fn test_config(bootstrap: &str) -> KafkaConfig {
        KafkaConfig { partitions: P, request_timeout: Duration::from_secs(10), ..KafkaConfig::new(bootstrap) }
    }

    type Mock = MockCluster<'static, DefaultProducerContext>;

    /// A one-broker mock cluster with hcal's topics (the mock has no admin API).
    fn mock() -> (Mock, KafkaConfig) {
        let cluster = MockCluster::new(1).unwrap();
        let mut config = test_config(&cluster.bootstrap_servers());
        config.create_topics = false;
        for topic in [NOTIFICATIONS, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS] {
            cluster.create_topic(&format!("{}{topic}", config.topic_prefix), P as i32, 1).unwrap();
        }
        (cluster, config)
    }

    async fn connect(config: &KafkaConfig) -> KafkaLog {
        KafkaLog::connect(config.clone()).await.unwrap()
    }

    /// One key per partition, in partition order of first appearance.
    fn keys_on_distinct_partitions(n: usize) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        (0..).map(|i| format!("tenant/user-{i}")).filter(|k| seen.insert(partition_for(k, P))).take(n).collect()
    }

    fn payloads(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn bodies(records: &[Record]) -> Vec<String> {
        records.iter().map(|r| String::from_utf8_lossy(&r.payload).into_owned()).collect()
    }

    // ---- Checks shared by the mock cluster and the tansu broker ----

    async fn check_append_and_read(log: &KafkaLog) {
        let keys = keys_on_distinct_partitions(2);
        let (key, other) = (&keys[0], &keys[1]);
        let p = partition_for(key, P);
        assert_eq!(log.partitions(NOTIFICATIONS), P);
        assert_eq!(log.partitions(MAILBOX_EVENTS), P);

        assert_eq!(log.append(NOTIFICATIONS, key, payloads(&["a", "b", "c"])).await.unwrap(), vec![0, 1, 2]);
        let records = log.read(NOTIFICATIONS, p, 0, 10).await.unwrap();
        assert_eq!(bodies(&records), ["a", "b", "c"]);
        assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(records.iter().all(|r| r.partition == p && r.key == *key));

        let middle = log.read(NOTIFICATIONS, p, 1, 1).await.unwrap();
        assert_eq!((middle.len(), middle[0].offset, bodies(&middle)[0].as_str()), (1, 1, "b"));
        assert!(log.read(NOTIFICATIONS, p, 3, 10).await.unwrap().is_empty());
        assert!(log.read(NOTIFICATIONS, p, 1000, 10).await.unwrap().is_empty());
        assert!(log.read(NOTIFICATIONS, p, u64::MAX, 10).await.unwrap().is_empty());
        assert!(log.read(NOTIFICATIONS, p, 0, 0).await.unwrap().is_empty());
        assert_eq!(log.append(NOTIFICATIONS, key, payloads(&["d"])).await.unwrap(), vec![3]);
        assert_eq!(log.append(NOTIFICATIONS, key, Vec::new()).await.unwrap(), Vec::<u64>::new());
        assert_eq!(bodies(&log.read(NOTIFICATIONS, p, 2, 10).await.unwrap()), ["c", "d"]);

        // The other partitions and the other topic are untouched.
        for q in (0..P).filter(|q| *q != p) {
            assert!(log.read(NOTIFICATIONS, q, 0, 10).await.unwrap().is_empty(), "partition {q}");
        }
        assert!(log.read(MAILBOX_EVENTS, p, 0, 10).await.unwrap().is_empty());

        // Paging through a longer partition, appended concurrently by several tasks: offsets
        // are consecutive and each append's records stay together and in order.
        let q = partition_for(other, P);
        let mut tasks = Vec::new();
        for t in 0..5 {
            let (log, other) = (log.clone(), other.clone());
            tasks.push(tokio::spawn(async move {
                let items: Vec<Vec<u8>> = (0..50).map(|i| format!("{t}:{i:02}").into_bytes()).collect();
                log.append(NOTIFICATIONS, &other, items).await.unwrap()
            }));
        }
        for task in tasks {
            let offsets = task.await.unwrap();
            assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{offsets:?}");
        }
        let mut all = Vec::new();
        let mut from = 0;
        loop {
            let page = log.read(NOTIFICATIONS, q, from, 100).await.unwrap();
            assert!(page.len() <= 100);
            let Some(last) = page.last() else { break };
            from = last.offset + 1;
            all.extend(page);
        }
        assert_eq!(all.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..250).collect::<Vec<_>>());
        for t in 0..5 {
            let mine: Vec<String> = bodies(&all).into_iter().filter(|b| b.starts_with(&format!("{t}:"))).collect();
            let expected: Vec<String> = (0..50).map(|i| format!("{t}:{i:02}")).collect();
            assert_eq!(mine, expected);
        }
    }

    async fn check_concurrent_reads(log: &KafkaLog) {
        let keys = keys_on_distinct_partitions(P as usize);
        for key in &keys {
            log.append(MAILBOX_EVENTS, key, vec![key.as_bytes().to_vec(); 3]).await.unwrap();
        }
        let mut tasks = Vec::new();
        for round in 0..3 {
            for key in &keys {
                let (log, key) = (log.clone(), key.clone());
                tasks.push(tokio::spawn(async move {
                    let records = log.read(MAILBOX_EVENTS, partition_for(&key, P), round, 10).await.unwrap();
                    assert_eq!(records.len() as u64, 3 - round);
                    assert!(records.iter().all(|r| r.key == key && r.payload == key.as_bytes()));
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(log.inner.readers.lock().len() <= MAX_IDLE_READERS);
    }

    /// Records produced by a plain client configured like hcal's producer, without an explicit
    /// partition, land where `partition_for` says: hcal agrees with Kafka's default partitioner.
    async fn check_partitioner_agrees(log: &KafkaLog) {
        let mut config = log.client_config();
        config.set("partitioner", "murmur2_random");
        let producer: FutureProducer = config.create().unwrap();
        let topic = log.topic(MAILBOX_EVENTS);
        for i in 0..40 {
            let key = format!("tenant-{i}/user-{}", i * 7919);
            let delivered = producer
                .send(FutureRecord::to(&topic).key(&key).payload("x"), Duration::from_secs(10))
                .await
                .map_err(|(e, _)| e)
                .unwrap();
            assert_eq!(delivered.partition as u32, partition_for(&key, P), "key {key}");
        }
        tokio::task::spawn_blocking(move || drop(producer)).await.unwrap();
    }

    async fn check_positions(log: &KafkaLog, config: &KafkaConfig) {
        assert_eq!(log.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 0);
        log.commit("meetings", NOTIFICATIONS, 1, 10).await.unwrap();
        assert_eq!(log.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 10);
        // Rewinding is allowed (replay tools).
        log.commit("meetings", NOTIFICATIONS, 1, 3).await.unwrap();
        assert_eq!(log.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 3);
        log.commit("meetings", MAILBOX_EVENTS, 1, 7).await.unwrap();
        log.commit("presence", NOTIFICATIONS, 1, 8).await.unwrap();
        log.commit("meetings", NOTIFICATIONS, 0, 0).await.unwrap();
        // Positions are per group, topic and partition.
        assert_eq!(log.committed("meetings", NOTIFICATIONS, 2).await.unwrap(), 0);
        assert_eq!(log.committed("meetings", NOTIFICATIONS, 0).await.unwrap(), 0);
        assert_eq!(log.committed("bookings", NOTIFICATIONS, 1).await.unwrap(), 0);

        // They live in the broker, not in this process.
        let other = connect(config).await;
        assert_eq!(other.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 3);
        assert_eq!(other.committed("meetings", MAILBOX_EVENTS, 1).await.unwrap(), 7);
        assert_eq!(other.committed("presence", NOTIFICATIONS, 1).await.unwrap(), 8);
        other.shutdown().await;
    }

    async fn check_wait(log: &KafkaLog, config: &KafkaConfig) {
        let keys = keys_on_distinct_partitions(3);
        let (a, b, c) = (&keys[0], &keys[1], &keys[2]);
        let (pa, pc) = (partition_for(a, P), partition_for(c, P));

        // Nothing there: the timeout passes.
        let started = Instant::now();
        log.wait(NOTIFICATIONS, pa, 0, Duration::from_millis(700)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(690), "returned early after {waited:?}");
        assert!(waited < Duration::from_secs(3), "overslept: {waited:?}");

        // An append through the same log wakes the waiter at once.
        let appender = log.clone();
        let key = a.clone();
        let append = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            appender.append(NOTIFICATIONS, &key, payloads(&["x"])).await.unwrap();
        });
        let started = Instant::now();
        log.wait(NOTIFICATIONS, pa, 0, Duration::from_secs(10)).await;
        let waited = started.elapsed();
        append.await.unwrap();
        assert!(waited < Duration::from_secs(2), "woke after {waited:?}");

        // A record already there: no waiting.
        let started = Instant::now();
        log.wait(NOTIFICATIONS, pa, 0, Duration::from_secs(10)).await;
        log.wait(NOTIFICATIONS, pa, 0, Duration::MAX).await;
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

        // Records on another partition or topic do not satisfy the wait.
        let appender = log.clone();
        let (b, a2) = (b.clone(), a.clone());
        let other = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            appender.append(NOTIFICATIONS, &b, payloads(&["y"])).await.unwrap();
            appender.append(MAILBOX_EVENTS, &a2, payloads(&["z"])).await.unwrap();
        });
        let started = Instant::now();
        log.wait(NOTIFICATIONS, pa, 1, Duration::from_millis(700)).await;
        let waited = started.elapsed();
        other.await.unwrap();
        assert!(waited >= Duration::from_millis(690), "returned early after {waited:?}");

        // A record appended by another process (another client) is found by polling the broker.
        let remote = connect(config).await;
        let key = c.clone();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            remote.append(NOTIFICATIONS, &key, payloads(&["r"])).await.unwrap();
            remote.shutdown().await;
        });
        let started = Instant::now();
        log.wait(NOTIFICATIONS, pc, 0, Duration::from_secs(10)).await;
        let waited = started.elapsed();
        writer.await.unwrap();
        assert!(waited < Duration::from_secs(3), "remote append seen after {waited:?}");
        assert_eq!(bodies(&log.read(NOTIFICATIONS, pc, 0, 10).await.unwrap()), ["r"]);

        // Invalid requests return at once; the read that follows reports them.
        let started = Instant::now();
        log.wait(NOTIFICATIONS, P, 0, Duration::from_secs(10)).await;
        log.wait("bad topic", 0, 0, Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    async fn check_invalid_requests(log: &KafkaLog) {
        fn invalid<T: std::fmt::Debug>(r: Result<T, LogError>) -> bool {
            matches!(r, Err(LogError::Invalid(_)))
        }
        assert!(invalid(log.append("", "k", vec![vec![1]]).await));
        assert!(invalid(log.append("no spaces", "k", vec![vec![1]]).await));
        assert!(invalid(log.append("..", "k", vec![vec![1]]).await));
        assert!(invalid(log.read(NOTIFICATIONS, P, 0, 1).await));
        assert!(invalid(log.committed("", NOTIFICATIONS, 0).await));
        assert!(invalid(log.committed("g", NOTIFICATIONS, P).await));
        assert!(invalid(log.commit("g", NOTIFICATIONS, 0, u64::MAX).await));
        assert_eq!(log.topic(NOTIFICATIONS), "hcal.notifications");
    }

    /// Request timeout of the outage tests.
    const OUTAGE_TIMEOUT: Duration = Duration::from_secs(3);

    async fn before_outage(log: &KafkaLog) {
        let key = "tenant/user";
        log.append(NOTIFICATIONS, key, payloads(&["a"])).await.unwrap();
        log.commit("meetings", NOTIFICATIONS, partition_for(key, P), 1).await.unwrap();
    }

    /// With the broker gone every call fails with `Unavailable` (and `wait` times out) within
    /// about the request timeout, instead of hanging.
    async fn check_outage(log: &KafkaLog) {
        let key = "tenant/user";
        let p = partition_for(key, P);
        let limit = OUTAGE_TIMEOUT * 2;
        let started = Instant::now();
        let appended = log.append(NOTIFICATIONS, key, payloads(&["lost?"])).await;
        assert!(matches!(appended, Err(LogError::Unavailable(_))), "{appended:?}");
        assert!(started.elapsed() < limit, "append failed after {:?}", started.elapsed());
        let started = Instant::now();
        let read = log.read(NOTIFICATIONS, p, 0, 10).await;
        assert!(matches!(read, Err(LogError::Unavailable(_))), "{read:?}");
        assert!(started.elapsed() < limit, "read failed after {:?}", started.elapsed());
        let started = Instant::now();
        let committed = log.committed("meetings", NOTIFICATIONS, p).await;
        assert!(matches!(committed, Err(LogError::Unavailable(_))), "{committed:?}");
        assert!(started.elapsed() < limit, "committed failed after {:?}", started.elapsed());
        let started = Instant::now();
        let commit = log.commit("meetings", NOTIFICATIONS, p, 2).await;
        assert!(matches!(commit, Err(LogError::Unavailable(_))), "{commit:?}");
        assert!(started.elapsed() < limit, "commit failed after {:?}", started.elapsed());
        let started = Instant::now();
        log.wait(NOTIFICATIONS, p, 1, Duration::from_secs(1)).await;
        assert!(started.elapsed() < Duration::from_secs(3), "wait returned after {:?}", started.elapsed());
    }

    /// The same log works again once the broker is back.
    async fn after_outage(log: &KafkaLog) {
        let key = "tenant/user";
        let p = partition_for(key, P);
        let offsets = log.append(NOTIFICATIONS, key, payloads(&["b"])).await.unwrap();
        let records = log.read(NOTIFICATIONS, p, 0, 10).await.unwrap();
        // The failed append may or may not have been written (at-least-once); "b" comes last.
        assert_eq!(records.last().map(|r| (r.offset, r.payload.clone())), Some((offsets[0], b"b".to_vec())));
        assert_eq!(records[0].payload, b"a");
        assert_eq!(log.committed("meetings", NOTIFICATIONS, p).await.unwrap(), 1);
    }

    // ---- librdkafka's mock cluster ----

    #[tokio::test]
    async fn mock_append_and_read_in_order() {
        let (_cluster, config) = mock();
        let log = connect(&config).await;
        assert!(!log.is_transactional());
        check_append_and_read(&log).await;
        check_concurrent_reads(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn mock_keys_land_on_the_murmur2_partition() {
        let (_cluster, config) = mock();
        let log = connect(&config).await;
        check_partitioner_agrees(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn mock_commit_and_committed_round_trip() {
        let (_cluster, config) = mock();
        let log = connect(&config).await;
        check_positions(&log, &config).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn mock_wait_wakes_and_times_out() {
        let (_cluster, config) = mock();
        let log = connect(&config).await;
        check_wait(&log, &config).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn mock_invalid_requests_are_rejected() {
        let (_cluster, config) = mock();
        let log = connect(&config).await;
        check_invalid_requests(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn mock_an_absent_broker_is_unavailable_within_the_timeout() {
        let (cluster, mut config) = mock();
        config.request_timeout = OUTAGE_TIMEOUT;
        let log = connect(&config).await;
        before_outage(&log).await;
        cluster.broker_down(1).unwrap();
        check_outage(&log).await;
        cluster.broker_up(1).unwrap();
        after_outage(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn mock_missing_topics_fail_the_connect_when_creation_is_off() {
        let cluster = MockCluster::new(1).unwrap();
        let mut config = test_config(&cluster.bootstrap_servers());
        config.create_topics = false;
        config.topic_prefix = "absent.".into();
        config.request_timeout = Duration::from_secs(3);
        let err = KafkaLog::connect(config).await.unwrap_err();
        assert!(matches!(&err, LogError::Unavailable(m) if m.contains("absent.notifications")), "{err}");
    }

    /// Smoke test of the transactional path only: the mock's transactions are known to be
    /// incomplete (shared/docs/kafka-in-ci.md), so this proves wiring, not atomicity.
    #[tokio::test]
    async fn mock_transactional_appends_are_readable_and_wait_skips_markers() {
        let (_cluster, mut config) = mock();
        config.transactional_id = Some("hcal-test".into());
        let log = connect(&config).await;
        assert!(log.is_transactional());
        // The connect-time probe left no record behind.
        for q in 0..P {
            assert!(log.read(NOTIFICATIONS, q, 0, 10).await.unwrap().is_empty());
        }
        let key = "tenant/user";
        let p = partition_for(key, P);
        let first = log.append(NOTIFICATIONS, key, payloads(&["a", "b"])).await.unwrap();
        let second = log.append(NOTIFICATIONS, key, payloads(&["c"])).await.unwrap();
        assert_eq!(first, [0, 1]);
        // A real broker puts the first transaction's commit marker at offset 2; the mock
        // writes no markers.
        assert!(second[0] >= 2, "{second:?}");
        let records = log.read(NOTIFICATIONS, p, 0, 10).await.unwrap();
        assert_eq!(bodies(&records), ["a", "b", "c"]);
        // After the last record at most a marker follows: `wait` must not take it for a record.
        let next = second[0] + 1;
        let started = Instant::now();
        log.wait(NOTIFICATIONS, p, next, Duration::from_millis(700)).await;
        assert!(started.elapsed() >= Duration::from_millis(690), "woke for a marker: {:?}", started.elapsed());
        assert!(log.read(NOTIFICATIONS, p, next, 10).await.unwrap().is_empty());
        log.shutdown().await;
    }

    // ---- Configuration ----

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
            request_timeout = 2.5
            extra = { "security.protocol" = "ssl", "client.id" = "hcal" }
            "#,
        )
        .unwrap();
        assert_eq!(config.request_timeout, Duration::from_millis(2500));
        assert_eq!(config.extra["security.protocol"], "ssl");
        assert!(toml::from_str::<KafkaConfig>("bootstrap_servers = \"k:9092\"\npartition = 3").is_err());
        assert!(toml::from_str::<KafkaConfig>("topic_prefix = \"x\"").is_err(), "bootstrap_servers is required");
    }

    #[tokio::test]
    async fn bad_configurations_are_refused_before_connecting() {
        let base = KafkaConfig::new("127.0.0.1:1");
        let cases = [
            KafkaConfig { partitions: 0, ..base.clone() },
            KafkaConfig { replication_factor: 0, ..base.clone() },
            KafkaConfig { topic_prefix: "no spaces".into(), ..base.clone() },
            KafkaConfig { bootstrap_servers: " ".into(), ..base.clone() },
            KafkaConfig { transactional_id: Some(String::new()), ..base.clone() },
            KafkaConfig { request_timeout: Duration::ZERO, ..base.clone() },
            KafkaConfig { extra: [("enable.idempotence".into(), "false".into())].into(), ..base.clone() },
            KafkaConfig { extra: [("partitioner".into(), "consistent_random".into())].into(), ..base.clone() },
            KafkaConfig {
                extra: [("partition.assignment.strategy".into(), "cooperative-sticky".into())].into(),
                ..base.clone()
            },
            KafkaConfig { extra: [("group.protocol".into(), "consumer".into())].into(), ..base.clone() },
        ];
        for config in cases {
            let shown = format!("{config:?}");
            assert!(matches!(KafkaLog::connect(config).await, Err(LogError::Invalid(_))), "{shown}");
        }
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

    #[tokio::test]
    async fn an_unreachable_cluster_is_unavailable() {
        // Nothing listens on port 1.
        let config = KafkaConfig { request_timeout: Duration::from_secs(2), ..KafkaConfig::new("127.0.0.1:1") };
        assert!(matches!(KafkaLog::connect(config).await, Err(LogError::Unavailable(_))));
    }

    // ---- A real broker: tansu ----

    use hcal_sim::tansu::Broker as Tansu;

    /// Starts a broker, or returns `None` (after saying so) when tansu is not installed.
    fn tansu(test: &str) -> Option<Tansu> {
        if !Tansu::available() {
            println!("{test}: skipped: tansu not on PATH (.ci/install-tansu.sh installs it)");
            return None;
        }
        Some(Tansu::start().unwrap_or_else(|e| panic!("{e}")))
    }

    fn tansu_config(broker: &Tansu) -> KafkaConfig {
        test_config(&broker.bootstrap())
    }

    #[tokio::test]
    async fn tansu_append_and_read_in_order() {
        let Some(broker) = tansu("tansu_append_and_read_in_order") else { return };
        let log = connect(&tansu_config(&broker)).await;
        check_append_and_read(&log).await;
        check_concurrent_reads(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn tansu_keys_land_on_the_murmur2_partition() {
        let Some(broker) = tansu("tansu_keys_land_on_the_murmur2_partition") else { return };
        let log = connect(&tansu_config(&broker)).await;
        check_partitioner_agrees(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn tansu_commit_and_committed_round_trip() {
        let Some(broker) = tansu("tansu_commit_and_committed_round_trip") else { return };
        let config = tansu_config(&broker);
        let log = connect(&config).await;
        check_positions(&log, &config).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn tansu_wait_wakes_and_times_out() {
        let Some(broker) = tansu("tansu_wait_wakes_and_times_out") else { return };
        let config = tansu_config(&broker);
        let log = connect(&config).await;
        check_wait(&log, &config).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn tansu_invalid_requests_are_rejected() {
        let Some(broker) = tansu("tansu_invalid_requests_are_rejected") else { return };
        let log = connect(&tansu_config(&broker)).await;
        check_invalid_requests(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn tansu_records_and_positions_survive_a_broker_restart() {
        let Some(mut broker) = tansu("tansu_records_and_positions_survive_a_broker_restart") else { return };
        let config = tansu_config(&broker);
        let key = "tenant/user";
        let p = partition_for(key, P);
        {
            let log = connect(&config).await;
            assert_eq!(log.append(NOTIFICATIONS, key, payloads(&["a", "b"])).await.unwrap(), [0, 1]);
            assert_eq!(log.append(MAILBOX_EVENTS, key, payloads(&["e1"])).await.unwrap(), [0]);
            log.commit("meetings", NOTIFICATIONS, p, 2).await.unwrap();
            log.shutdown().await;
        }
        broker.kill();
        broker.restart().unwrap();
        // A fresh client, as after a restart of hcal too; topics already exist.
        let log = connect(&config).await;
        assert_eq!(bodies(&log.read(NOTIFICATIONS, p, 0, 10).await.unwrap()), ["a", "b"]);
        assert_eq!(bodies(&log.read(MAILBOX_EVENTS, p, 0, 10).await.unwrap()), ["e1"]);
        assert_eq!(log.committed("meetings", NOTIFICATIONS, p).await.unwrap(), 2);
        assert_eq!(log.append(NOTIFICATIONS, key, payloads(&["c"])).await.unwrap(), [2]);
        assert_eq!(bodies(&log.read(NOTIFICATIONS, p, 0, 10).await.unwrap()), ["a", "b", "c"]);
        log.shutdown().await;
    }

    /// tansu grants producer ids for a transactional id but refuses to end transactions: the
    /// connect-time probe notices, and appends fall back to the idempotent producer.
    #[tokio::test]
    async fn tansu_without_transactions_a_transactional_id_falls_back() {
        let Some(broker) = tansu("tansu_without_transactions_a_transactional_id_falls_back") else { return };
        let mut config = tansu_config(&broker);
        config.transactional_id = Some("hcal-test".into());
        let log = connect(&config).await;
        assert!(!log.is_transactional());
        let key = "tenant/user";
        let p = partition_for(key, P);
        assert_eq!(log.append(NOTIFICATIONS, key, payloads(&["a", "b"])).await.unwrap(), [0, 1]);
        assert_eq!(log.append(NOTIFICATIONS, key, payloads(&["c"])).await.unwrap(), [2]);
        assert_eq!(bodies(&log.read(NOTIFICATIONS, p, 0, 10).await.unwrap()), ["a", "b", "c"]);
        // The probe wrote nothing anywhere.
        for topic in [NOTIFICATIONS, MAILBOX_EVENTS] {
            for q in (0..P).filter(|q| *q != p || topic == MAILBOX_EVENTS) {
                assert!(log.read(topic, q, 0, 10).await.unwrap().is_empty(), "{topic}/{q}");
            }
        }
        log.shutdown().await;
    }

    #[tokio::test]
    async fn tansu_an_absent_broker_is_unavailable_within_the_timeout() {
        let Some(mut broker) = tansu("tansu_an_absent_broker_is_unavailable_within_the_timeout") else {
            return;
        };
        let mut config = tansu_config(&broker);
        config.request_timeout = OUTAGE_TIMEOUT;
        let log = connect(&config).await;
        before_outage(&log).await;
        broker.kill();
        check_outage(&log).await;
        broker.restart().unwrap();
        after_outage(&log).await;
        log.shutdown().await;
    }

    #[tokio::test]
    async fn tansu_a_client_rides_out_a_broker_restart() {
        let Some(mut broker) = tansu("tansu_a_client_rides_out_a_broker_restart") else { return };
        let config = tansu_config(&broker);
        let log = connect(&config).await;
        let key = "tenant/user";
        let p = partition_for(key, P);
        log.append(NOTIFICATIONS, key, payloads(&["a"])).await.unwrap();
        broker.kill();
        broker.restart().unwrap();
        // The same clients reconnect by themselves.
        let offsets = log.append(NOTIFICATIONS, key, payloads(&["b"])).await.unwrap();
        assert_eq!(offsets, [1]);
        assert_eq!(bodies(&log.read(NOTIFICATIONS, p, 0, 10).await.unwrap()), ["a", "b"]);
        log.shutdown().await;
    }
}

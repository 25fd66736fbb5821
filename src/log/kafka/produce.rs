//! Producing: the idempotent producer (the default) and the transactional one (where the broker
//! completes a probe transaction), appends through either, and replacing a producer that failed.

use std::time::Duration;

use hcal_actors::log::{LogError, NOTIFICATIONS};
use parking_lot::Mutex;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::errors::{kafka_error, transaction_error};
use super::topics::Catalog;
use super::{KafkaConfig, KafkaLog, blocking, consumer_config};

/// Pause before retrying to enqueue a record into librdkafka's full local queue.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);

/// The producer behind appends, chosen at connect.
pub(super) enum Writer {
    /// The default: idempotent, so retries inside librdkafka neither duplicate nor reorder.
    /// The number counts replacements (see `append_idempotent`).
    Idempotent(Mutex<(u64, FutureProducer)>),
    /// One transaction per append. `None` after a fatal error: the next append builds a new
    /// producer with the same id, which fences the old one and cleans up its transaction.
    Transactional { id: String, producer: tokio::sync::Mutex<Option<FutureProducer>> },
}

impl Writer {
    pub(super) fn idempotent(producer: FutureProducer) -> Self {
        Self::Idempotent(Mutex::new((0, producer)))
    }
}

impl KafkaLog {
    /// Appends to `partition` of the logical `topic` with whichever producer is in use, and
    /// wakes this process's waiters on it.
    pub(super) async fn append_to(
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

pub(super) fn producer(
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
pub(super) async fn transactional_writer(catalog: &Catalog, id: &str) -> Result<Writer, LogError> {
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

fn producer_for(catalog: &Catalog, transactional_id: Option<&str>) -> Result<FutureProducer, LogError> {
    producer(&catalog.base, &catalog.config, transactional_id)
}

/// Drops a producer on the blocking pool: dropping purges its queue and joins its thread.
async fn retire(producer: Option<FutureProducer>) {
    if let Some(producer) = producer {
        let _ = tokio::task::spawn_blocking(move || drop(producer)).await;
    }
}

//! Reading: pooled readers assigned at explicit offsets (`read`), waiting for a record
//! (`wait`), and consumer-group positions (`committed`, `commit`).

use std::sync::Arc;
use std::time::Duration;

use hcal_actors::log::{LogError, Record};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::errors::kafka_error;
use super::{KafkaLog, blocking, consumer_config};

/// How often `wait` asks the broker for a partition's high watermark. Appends made through the
/// same [`KafkaLog`] wake waiters at once; the poll only finds records that other processes
/// wrote, so it bounds the extra latency of the cross-process path.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// Idle read consumers kept for reuse. Each is a full librdkafka client (threads, connections),
/// so the pool is bounded; more concurrent reads than this still work, their consumers are
/// just closed afterwards.
pub(super) const MAX_IDLE_READERS: usize = 16;

impl KafkaLog {
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
        Ok(!self.read_records(logical, partition, from, 1).await?.is_empty())
    }

    fn head(&self, logical: &str, partition: u32) -> watch::Receiver<u64> {
        let mut heads = self.inner.heads.lock();
        heads.entry((logical.to_owned(), partition)).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    pub(super) fn advance(&self, logical: &str, partition: u32, next: u64) {
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

    /// [`EventLog::read`](hcal_actors::log::EventLog::read) of this log.
    pub(super) async fn read_records(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<Record>, LogError> {
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

    /// [`EventLog::wait`](hcal_actors::log::EventLog::wait) of this log.
    pub(super) async fn wait_for_record(&self, topic: &str, partition: u32, from: u64, timeout: Duration) {
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

    /// [`EventLog::committed`](hcal_actors::log::EventLog::committed) of this log.
    pub(super) async fn committed_offset(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
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

    /// [`EventLog::commit`](hcal_actors::log::EventLog::commit) of this log.
    pub(super) async fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        next: u64,
    ) -> Result<(), LogError> {
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

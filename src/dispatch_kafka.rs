//! Kafka mode's consumer of the notifications topic. Consumer-group membership decides which
//! process owns which partitions, and so which mailboxes: records are processed one at a time
//! in partition order and each offset is committed (synchronously, by this group member) only
//! after the mailbox actor recorded what it decided. On every rebalance the cached actors are
//! dropped, so a partition that comes back reloads its mailboxes from the log, where another
//! process may have appended meanwhile. Because processing happens in the polling task, no
//! record is in flight when a partition is revoked. A record that must wait (Graph throttles
//! its mailbox) holds only its own partition: the partition is paused and rewound to it, and
//! the others go on.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcal_actors::log::NOTIFICATIONS;
use hcal_actors::mailbox::actor::MailboxRegistry;
use hcal_actors::notification::NotificationRecord;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::dispatch;
use crate::metrics::Metrics;
use crate::store::kafka::KafkaLog;

/// Notes rebalances for the polling task.
pub struct OwnershipContext {
    changed: Arc<AtomicBool>,
}

impl ClientContext for OwnershipContext {}

impl ConsumerContext for OwnershipContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                tracing::info!(partitions = partitions.count(), "notification partitions assigned");
            }
            Rebalance::Revoke(partitions) => {
                tracing::info!(partitions = partitions.count(), "notification partitions revoked");
            }
            Rebalance::Error(e) => tracing::error!(error = %e, "rebalance failed"),
        }
        self.changed.store(true, Ordering::SeqCst);
    }
}

/// The group consumer of the notifications topic.
pub struct GroupDispatcher {
    consumer: StreamConsumer<OwnershipContext>,
    changed: Arc<AtomicBool>,
    topic: String,
}

/// A partition whose record must be tried again later. Its consumption is paused and its
/// position rewound to the record, so the other partitions of the process go on meanwhile.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// The record to try again.
    offset: i64,
    /// When to resume the partition.
    until: Instant,
    /// Failed attempts at the record so far.
    failures: u32,
    /// Still paused (false once resumed, until the record comes back).
    paused: bool,
}

/// How long a seek may wait for the consumer.
const SEEK_TIMEOUT: Duration = Duration::from_secs(5);

impl GroupDispatcher {
    /// Joins `group` on the notifications topic.
    /// `instance` is this process's stable member id (static membership): a process restarted
    /// with the same id takes its partitions back at once instead of waiting for the broker to
    /// expire its previous incarnation.
    pub fn new(
        kafka: &KafkaLog,
        group: &str,
        instance: Option<&str>,
        session_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let changed = Arc::new(AtomicBool::new(true));
        let mut config = kafka.client_config();
        if let Some(instance) = instance {
            config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<OwnershipContext> = config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("session.timeout.ms", session_timeout.as_millis().max(6000).to_string())
            .set("heartbeat.interval.ms", (session_timeout.as_millis().max(6000) / 3).to_string())
            // Also the rebalance timeout: how long a rebalance waits for members that are gone
            // (some brokers wait this long rather than the session timeout). One attempt at a
            // record never takes this long: a record to retry holds only its partition.
            .set("max.poll.interval.ms", (session_timeout.as_millis().max(6000) * 3 / 2).to_string())
            .create_with_context(OwnershipContext { changed: changed.clone() })?;
        let topic = kafka.topic(NOTIFICATIONS);
        consumer.subscribe(&[&topic])?;
        Ok(Self { consumer, changed, topic })
    }

    fn one(&self, partition: i32) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        list.add_partition(&self.topic, partition);
        list
    }

    /// Pauses a partition and rewinds it to `offset`, so the record comes again on resume.
    fn hold(&self, partition: i32, offset: i64) {
        if let Err(e) = self.consumer.pause(&self.one(partition)) {
            tracing::warn!(partition, error = %e, "pausing a partition failed");
        }
        self.rewind(partition, offset);
    }

    fn rewind(&self, partition: i32, offset: i64) {
        if let Err(e) = self.consumer.seek(&self.topic, partition, Offset::Offset(offset), SEEK_TIMEOUT) {
            // Not assigned any more (a rebalance is under way): the next owner starts from the
            // committed position, which is this record.
            tracing::warn!(partition, error = %e, "rewinding a partition failed");
        }
    }

    fn resume(&self, partition: i32, offset: i64) {
        // Rewind again in case the first seek raced with a fetch.
        self.rewind(partition, offset);
        if let Err(e) = self.consumer.resume(&self.one(partition)) {
            tracing::warn!(partition, error = %e, "resuming a partition failed");
        }
    }

    /// After a rebalance: no partition stays paused, no record stays held.
    fn reset(&self, held: &mut HashMap<i32, Held>) {
        held.clear();
        if let Ok(assigned) = self.consumer.assignment()
            && let Err(e) = self.consumer.resume(&assigned)
        {
            tracing::warn!(error = %e, "resuming the assigned partitions failed");
        }
    }

    /// Consumes forever. Records of a partition are processed one at a time, in order; a
    /// record that must be retried holds its partition (paused and rewound to it) without
    /// holding the others, and the consumer keeps polling, so the process stays in the group.
    pub async fn run(self, registry: Arc<MailboxRegistry>, metrics: Arc<Metrics>) {
        let mut held: HashMap<i32, Held> = HashMap::new();
        loop {
            let now = Instant::now();
            for (partition, h) in held.iter_mut().filter(|(_, h)| h.paused && h.until <= now) {
                self.resume(*partition, h.offset);
                h.paused = false;
            }
            let wake = held.values().filter(|h| h.paused).map(|h| h.until).min();
            let received = match wake {
                // `recv` is cancellation safe: nothing is lost when the timer wins.
                Some(at) => tokio::select! {
                    m = self.consumer.recv() => Some(m),
                    () = tokio::time::sleep_until(at.into()) => None,
                },
                None => Some(self.consumer.recv().await),
            };
            let message = match received {
                None => continue,
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "receiving notifications failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if self.changed.swap(false, Ordering::SeqCst) {
                registry.evict_all().await;
                self.reset(&mut held);
            }
            let kafka_partition = message.partition();
            let failures = match held.get(&kafka_partition) {
                // Fetched before the partition was paused and rewound: it comes again.
                Some(h) if h.paused || message.offset() != h.offset => continue,
                Some(h) => h.failures,
                None => 0,
            };
            let partition = u32::try_from(kafka_partition).unwrap_or(0);
            match message.payload().map(serde_json::from_slice::<NotificationRecord>) {
                Some(Ok(record)) => match dispatch::attempt(&registry, &metrics, &record, partition, failures).await {
                    dispatch::Attempt::Done => {
                        held.remove(&kafka_partition);
                    }
                    dispatch::Attempt::RetryIn(wait) => {
                        self.hold(kafka_partition, message.offset());
                        let until = Instant::now() + wait;
                        let failures = failures.saturating_add(1);
                        held.insert(kafka_partition, Held { offset: message.offset(), until, failures, paused: true });
                        continue;
                    }
                },
                _ => {
                    tracing::error!(partition, offset = message.offset(), "unreadable notification record skipped");
                    metrics.inc("hcal_notifications_total", "outcome", "unreadable");
                    held.remove(&kafka_partition);
                }
            }
            while let Err(e) = self.consumer.commit_message(&message, CommitMode::Sync) {
                tracing::error!(error = %e, "committing the position failed; retrying");
                if self.changed.load(Ordering::SeqCst) {
                    // The partition moved on; its new owner resumes from the last commit.
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

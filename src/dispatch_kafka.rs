//! Kafka mode's consumer of the notifications topic. Consumer-group membership decides which
//! process owns which partitions, and so which mailboxes: records are processed one at a time
//! in partition order and each offset is committed (synchronously, by this group member) only
//! after the mailbox actor recorded what it decided. On every rebalance the cached actors are
//! dropped, so a partition that comes back reloads its mailboxes from the log, where another
//! process may have appended meanwhile. Because processing happens in the polling task, no
//! record is in flight when a partition is revoked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hcal_actors::log::NOTIFICATIONS;
use hcal_actors::mailbox::actor::MailboxRegistry;
use hcal_actors::notification::NotificationRecord;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::Message;

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
}

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
            // (some brokers wait this long rather than the session timeout). Processing one
            // record never takes this long: retries past it give the partition back.
            .set("max.poll.interval.ms", (session_timeout.as_millis().max(6000) * 3 / 2).to_string())
            .create_with_context(OwnershipContext { changed: changed.clone() })?;
        consumer.subscribe(&[&kafka.topic(NOTIFICATIONS)])?;
        Ok(Self { consumer, changed })
    }

    /// Consumes forever.
    pub async fn run(self, registry: Arc<MailboxRegistry>, metrics: Arc<Metrics>) {
        loop {
            let message = match self.consumer.recv().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "receiving notifications failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if self.changed.swap(false, Ordering::SeqCst) {
                registry.evict_all().await;
            }
            let partition = u32::try_from(message.partition()).unwrap_or(0);
            match message.payload().map(serde_json::from_slice::<NotificationRecord>) {
                Some(Ok(record)) => dispatch::process(&registry, &metrics, record, partition).await,
                _ => {
                    tracing::error!(partition, offset = message.offset(), "unreadable notification record skipped");
                    metrics.inc("hcal_notifications_total", "outcome", "unreadable");
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

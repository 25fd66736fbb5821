//! Feeds the notifications log to the mailbox actors: one consumer per partition, records in
//! order (so a mailbox's inputs stay in order), the position committed only after the actor
//! has durably recorded what it decided. A record that must be retried holds its partition.

use std::sync::Arc;
use std::time::Duration;

use hcal_actors::log::{EventLog, NOTIFICATIONS};
use hcal_actors::mailbox::actor::{Checkpoint, Lease, MailboxRegistry, ProcessError};
use hcal_actors::notification::NotificationRecord;

use crate::metrics::Metrics;

/// Consumer group of the mailbox actors.
pub const GROUP: &str = "mailbox-actors";

/// Longest wait between retries of one record.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Consumes one partition forever.
pub async fn run_partition(
    log: Arc<dyn EventLog>,
    registry: Arc<MailboxRegistry>,
    metrics: Arc<Metrics>,
    partition: u32,
) {
    let mut next = loop {
        match log.committed(GROUP, NOTIFICATIONS, partition).await {
            Ok(n) => break n,
            Err(e) => {
                tracing::error!(partition, error = %e, "reading the committed position failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        let records = match log.read(NOTIFICATIONS, partition, next, 100).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(partition, error = %e, "reading notifications failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if records.is_empty() {
            log.wait(NOTIFICATIONS, partition, next, Duration::from_secs(1)).await;
            continue;
        }
        for record in records {
            match serde_json::from_slice::<NotificationRecord>(&record.payload) {
                Ok(notification) => process(&registry, &metrics, notification, partition).await,
                Err(e) => {
                    // Written by this service, so this is a bug; skipping keeps the partition alive.
                    tracing::error!(partition, offset = record.offset, error = %e, "unreadable notification record skipped");
                    metrics.inc("hcal_notifications_total", "outcome", "unreadable");
                }
            }
            next = record.offset + 1;
            while let Err(e) = log.commit(GROUP, NOTIFICATIONS, partition, next).await {
                tracing::error!(partition, error = %e, "committing the position failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The outcome of one attempt at a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The actor recorded what it decided: commit the record.
    Done,
    /// Not now (throttling, an outage): try the same record again after this long.
    RetryIn(Duration),
    /// The mailbox's partition was given to another process meanwhile: leave the record
    /// uncommitted for its new owner.
    Abandoned,
}

/// Hands one record to its mailbox's actor once. `failures` is how many attempts at this
/// record failed before, for the backoff when the failure carries no hint.
pub async fn attempt(
    registry: &MailboxRegistry,
    metrics: &Metrics,
    notification: &NotificationRecord,
    partition: u32,
    failures: u32,
    lease: Lease,
) -> Attempt {
    match registry.handle(notification.clone(), lease.clone()).await {
        Ok(()) => {
            metrics.inc("hcal_notifications_total", "outcome", "processed");
            match registry.processed(partition, &lease).await {
                Checkpoint::NotDue => {}
                Checkpoint::Written { snapshots, too_large } => {
                    metrics.inc("hcal_checkpoints_total", "outcome", "written");
                    metrics.add("hcal_snapshots_total", "outcome", "written", snapshots as u64);
                    metrics.add("hcal_snapshots_total", "outcome", "too_large", too_large as u64);
                }
                Checkpoint::Failed => metrics.inc("hcal_checkpoints_total", "outcome", "failed"),
            }
            Attempt::Done
        }
        Err(ProcessError::Revoked) => {
            metrics.inc("hcal_notifications_total", "outcome", "abandoned");
            tracing::info!(partition, "partition revoked while processing; the record is left to its new owner");
            Attempt::Abandoned
        }
        Err(ProcessError::Retry { after_secs, reason }) => {
            metrics.inc("hcal_notifications_total", "outcome", "retried");
            // Graph's Retry-After, never taken as "at once"; a longer one than MAX_BACKOFF is
            // probed every MAX_BACKOFF instead (a mailbox budget often frees up earlier than
            // announced, and one request per 30 s costs it nothing).
            let hint = after_secs.and_then(|s| Duration::try_from_secs_f64(s).ok());
            let wait = hint.map_or_else(|| backoff(failures), |h| h.clamp(backoff(0), MAX_BACKOFF));
            tracing::warn!(partition, %reason, wait_ms = wait.as_millis() as u64, "notification will be retried");
            Attempt::RetryIn(wait)
        }
        Err(e) => {
            metrics.inc("hcal_notifications_total", "outcome", "failed");
            tracing::error!(partition, error = %e, "notification could not be processed; retrying");
            Attempt::RetryIn(backoff(failures))
        }
    }
}

/// 200 ms doubling per failure, at most [`MAX_BACKOFF`].
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_millis(200).saturating_mul(2u32.saturating_pow(failures.min(16))).min(MAX_BACKOFF)
}

/// Hands one record to its mailbox's actor, retrying (with backoff, holding the partition)
/// until the actor has recorded what it decided.
pub async fn process(registry: &MailboxRegistry, metrics: &Metrics, notification: NotificationRecord, partition: u32) {
    let mut failures = 0;
    while let Attempt::RetryIn(wait) =
        attempt(registry, metrics, &notification, partition, failures, registry.lease()).await
    {
        tokio::time::sleep(wait).await;
        failures = failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert_eq!(backoff(1), Duration::from_millis(400));
        assert_eq!(backoff(4), Duration::from_millis(3200));
        assert_eq!(backoff(100), MAX_BACKOFF);
    }
}

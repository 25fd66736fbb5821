//! Embedded mode's consumers of the notifications log: one per partition, reading from the
//! committed position, committing each record only after the actor recorded what it decided.
//! A record that must be retried holds its partition.

use std::sync::Arc;
use std::time::Duration;

use hcal_actors::log::{EventLog, NOTIFICATIONS};
use hcal_actors::notification::NotificationRecord;

use super::{Attempt, GROUP, attempt};
use crate::metrics::Metrics;
use crate::runtime::MailboxRegistry;

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

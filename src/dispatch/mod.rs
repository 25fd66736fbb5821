//! Feeds the notifications log to the mailbox actors: in embedded mode one consumer per
//! partition ([`embedded`]), in kafka mode the consumer group's member ([`kafka`]). Either way
//! records of a partition go one at a time, in order (so a mailbox's inputs stay in order), and
//! a record counts as done only after the actor has durably recorded what it decided. What one
//! attempt at a record leads to, and the backoff between attempts, is shared here.

pub mod embedded;
pub mod kafka;

use std::time::Duration;

use hcal_actors::mailbox::actor::{Lease, ProcessError};
use hcal_actors::notification::NotificationRecord;

use crate::metrics::Metrics;
use crate::runtime::{Checkpoint, MailboxRegistry};

/// Which partitions of the notifications log this process owns now: in embedded mode all of
/// them, in kafka mode those the consumer group assigned. Work that must be done once per
/// mailbox across processes (presence polls and timers) is done by its owner only.
#[derive(Debug, Default)]
pub struct Ownership {
    partitions: parking_lot::RwLock<std::collections::HashSet<u32>>,
}

impl Ownership {
    /// Replaces the owned partitions.
    pub fn set(&self, partitions: impl IntoIterator<Item = u32>) {
        *self.partitions.write() = partitions.into_iter().collect();
    }

    /// Whether `partition` is this process's.
    pub fn owns(&self, partition: u32) -> bool {
        self.partitions.read().contains(&partition)
    }
}

/// Consumer group of the mailbox actors.
pub const GROUP: &str = "mailbox-actors";

/// Longest wait between retries of one record.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

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

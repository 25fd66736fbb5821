//! The scheduler: asks each mailbox's owner to renew its subscription at about half its
//! lifetime (and to recreate a missing one), and every enabled mailbox once a day to prove its
//! subscription is alive. Requests go through the mailbox's input log, like every other input,
//! so the owning process handles them in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hcal_actors::ids::MailboxId;
use hcal_actors::notification::AdminCommand;
use parking_lot::Mutex;

use crate::clock::Clock;
use crate::inbox::Inbox;
use crate::projections::subscriptions::SubscriptionIndex;

/// Decides which mailboxes need their subscription renewed (or recreated) and asks their owners.
pub struct Scheduler {
    inbox: Inbox,
    index: Arc<SubscriptionIndex>,
    clock: Arc<Clock>,
    lifetime: chrono::Duration,
    /// When a renewal was last requested per mailbox, so a slow owner is not flooded.
    requested: Mutex<HashMap<MailboxId, DateTime<Utc>>>,
    /// When every enabled mailbox was last asked to prove its subscription is alive.
    last_sweep: Mutex<Option<DateTime<Utc>>>,
}

/// How often every enabled mailbox's subscription is checked, due or not: a subscription
/// deleted behind hcal's back (by an admin, or by Graph without a lifecycle notification) is
/// recreated within this time.
pub const SWEEP_EVERY: chrono::Duration = chrono::Duration::days(1);

/// Whether a subscription expiring at `expires` (or missing) should be renewed at `now`: at
/// about half its lifetime.
pub fn renewal_due(now: DateTime<Utc>, expires: Option<DateTime<Utc>>, lifetime: chrono::Duration) -> bool {
    match expires {
        None => true,
        Some(at) => at - now <= lifetime / 2,
    }
}

impl Scheduler {
    /// A scheduler for subscriptions of `lifetime`.
    pub fn new(inbox: Inbox, index: Arc<SubscriptionIndex>, clock: Arc<Clock>, lifetime: chrono::Duration) -> Self {
        Self { inbox, index, clock, lifetime, requested: Mutex::new(HashMap::new()), last_sweep: Mutex::new(None) }
    }

    /// One round: logs a `RenewSubscription` command for every enabled mailbox whose
    /// subscription is due or missing, or for every enabled mailbox when the daily sweep is due
    /// (renewing a live subscription is harmless; a vanished one is recreated). Returns how many
    /// were requested.
    pub async fn tick(&self) -> usize {
        let now = self.clock.now();
        let sweep = {
            let mut last = self.last_sweep.lock();
            let due = last.is_none_or(|at| now - at >= SWEEP_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        // A request not yet acted on is repeated only after this long.
        let patience = (self.lifetime / 20).max(chrono::Duration::minutes(1));
        let mut sent = 0;
        for (mailbox, entry) in self.index.mailboxes() {
            let due = renewal_due(now, entry.subscription.as_ref().map(|(_, at)| *at), self.lifetime);
            // A failed set-up waits for its retry time; one an admin must fix is not retried.
            let waiting = entry.subscription.is_none()
                && entry.error.as_ref().is_some_and(|(_, retry_at)| retry_at.is_none_or(|at| at > now));
            if !entry.enabled || waiting || !(due || sweep) {
                continue;
            }
            if !sweep && self.requested.lock().get(&mailbox).is_some_and(|at| now - *at < patience) {
                continue;
            }
            match self.inbox.command(mailbox, AdminCommand::RenewSubscription, now).await {
                Ok(_) => {
                    self.requested.lock().insert(mailbox, now);
                    sent += 1;
                }
                Err(e) => tracing::error!(mailbox = %mailbox, error = %e, "renewal request could not be logged"),
            }
        }
        sent
    }

    /// Ticks forever.
    pub async fn run(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            self.tick().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_at_half_life_or_when_missing() {
        let now = Utc::now();
        let life = chrono::Duration::minutes(100);
        assert!(renewal_due(now, None, life));
        assert!(!renewal_due(now, Some(now + chrono::Duration::minutes(60)), life));
        assert!(renewal_due(now, Some(now + chrono::Duration::minutes(50)), life));
        assert!(renewal_due(now, Some(now - chrono::Duration::minutes(1)), life));
    }
}

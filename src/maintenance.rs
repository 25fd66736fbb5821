//! Keeping subscriptions alive: the Graph adapter of the actors' `SubscriptionApi` port, and the
//! scheduler that asks each mailbox's owner to renew at about half the subscription's lifetime
//! (and to recreate a missing one). Renewal requests go through the mailbox's input log, like
//! every other input, so the owning process handles them in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId, SubscriptionId};
use hcal_actors::notification::AdminCommand;
use hcal_actors::ports::{GraphFailure, SubscriptionApi};
use parking_lot::Mutex;

use crate::graph::GraphClient;
use crate::inbox::Inbox;
use crate::projections::subscriptions::SubscriptionIndex;

/// `SubscriptionApi` over the Graph client, with this installation's webhook URLs.
pub struct GraphSubscriptions {
    /// The client.
    pub client: Arc<GraphClient>,
    /// `{public_url}/webhook/graph`.
    pub notification_url: String,
    /// `{public_url}/webhook/graph/lifecycle`.
    pub lifecycle_url: String,
    /// Paces subscription creations per tenant under Graph's write limit.
    pub pacer: WritePacer,
}

/// Keeps subscription creations of each tenant under `limit` per `window` (Graph allows 500
/// per 20 s per app and tenant): a creation over the limit waits for the window to slide
/// instead of being refused and retried.
#[derive(Debug)]
pub struct WritePacer {
    limit: usize,
    window: Duration,
    recent: tokio::sync::Mutex<HashMap<hcal_actors::ids::TenantId, std::collections::VecDeque<tokio::time::Instant>>>,
}

impl WritePacer {
    /// At most `limit` writes per `window` per tenant.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self { limit: limit.max(1), window, recent: tokio::sync::Mutex::new(HashMap::new()) }
    }

    /// Waits until the tenant may write once more, and counts the write.
    pub async fn acquire(&self, tenant: hcal_actors::ids::TenantId) {
        loop {
            let wait = {
                let mut recent = self.recent.lock().await;
                let now = tokio::time::Instant::now();
                let times = recent.entry(tenant).or_default();
                while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    times.pop_front();
                }
                if times.len() < self.limit {
                    times.push_back(now);
                    return;
                }
                times.front().map_or(Duration::ZERO, |t| self.window.saturating_sub(now.duration_since(*t)))
            };
            tokio::time::sleep(wait).await;
        }
    }
}

fn subscription_id(id: &str) -> Result<SubscriptionId, GraphFailure> {
    SubscriptionId::parse(id).map_err(|_| GraphFailure::Fatal { status: 0, code: "InvalidSubscriptionId".into() })
}

#[async_trait]
impl SubscriptionApi for GraphSubscriptions {
    async fn create(
        &self,
        mailbox: &MailboxId,
        client_state: &str,
        expiration: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), GraphFailure> {
        self.pacer.acquire(mailbox.tenant).await;
        let info = self
            .client
            .create_subscription(mailbox, &self.notification_url, Some(&self.lifecycle_url), client_state, expiration)
            .await?;
        Ok((info.id.to_string(), info.expiration))
    }

    async fn renew(
        &self,
        mailbox: &MailboxId,
        id: &str,
        expiration: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, GraphFailure> {
        let renewed = self.client.renew_subscription(&mailbox.tenant, &subscription_id(id)?, expiration).await?;
        Ok(renewed.map(|info| info.expiration))
    }

    async fn delete(&self, mailbox: &MailboxId, id: &str) -> Result<(), GraphFailure> {
        self.client.delete_subscription(&mailbox.tenant, &subscription_id(id)?).await
    }

    async fn mailbox_locale(&self, mailbox: &MailboxId) -> Result<Option<String>, GraphFailure> {
        let settings = self.client.mailbox_settings(mailbox).await?;
        Ok(Some(settings.locale).filter(|l| !l.is_empty()))
    }

    async fn reauthorize(&self, mailbox: &MailboxId, id: &str) -> Result<bool, GraphFailure> {
        self.client.reauthorize_subscription(&mailbox.tenant, &subscription_id(id)?).await
    }

    async fn changed_ids(
        &self,
        mailbox: &MailboxId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(GraphEventId, bool)>, GraphFailure> {
        self.client.changed_event_ids(mailbox, start, end).await
    }
}

/// The service's clock: real time plus an offset that tests may move forward (only when
/// `[testing] controllable_clock` is on; otherwise the offset stays 0).
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves time forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms.fetch_add(by.num_milliseconds().max(0), Ordering::SeqCst);
    }
}

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

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spreads_writes_over_the_window() {
        let pacer = WritePacer::new(3, Duration::from_secs(20));
        let tenant = hcal_actors::ids::TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            pacer.acquire(tenant).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        pacer.acquire(tenant).await;
        assert_eq!(start.elapsed(), Duration::from_secs(20));
    }

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

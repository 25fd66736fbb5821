//! The Graph adapter of the actors' `SubscriptionApi` port: subscriptions with this
//! installation's webhook URLs, paced per tenant under Graph's write limit, mailbox settings and
//! the delta of a window.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId, SubscriptionId};
use hcal_actors::ports::{GraphFailure, SettingsRead, SubscriptionApi};

use crate::graph::GraphClient;

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

    async fn mailbox_settings(&self, mailbox: &MailboxId) -> Result<SettingsRead, GraphFailure> {
        let settings = self.client.mailbox_settings(mailbox).await?;
        Ok(SettingsRead {
            locale: Some(settings.locale).filter(|l| !l.is_empty()),
            automatic_replies: settings.automatic_replies,
        })
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
}

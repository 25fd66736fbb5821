//! Which Graph subscription belongs to which mailbox, with its client state: the webhook checks
//! every notification against it. Built from `SubscriptionCreated` events at start-up and kept
//! current as subscriptions are created.

use std::collections::HashMap;

use hcal_actors::ids::MailboxId;
use hcal_actors::log::{EventLog, LogError, MAILBOX_EVENTS};
use hcal_actors::mailbox::envelope;
use hcal_actors::mailbox::events::MailboxEvent;
use hcal_actors::seal::KeyRing;
use parking_lot::RwLock;

/// A known subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSubscription {
    /// Its mailbox.
    pub mailbox: MailboxId,
    /// The secret Graph echoes.
    pub client_state: String,
}

/// Subscription id to mailbox and client state.
#[derive(Debug, Default)]
pub struct SubscriptionIndex {
    by_id: RwLock<HashMap<String, KnownSubscription>>,
}

impl SubscriptionIndex {
    /// Records a subscription; an older one of the same mailbox is forgotten.
    pub fn insert(&self, id: String, known: KnownSubscription) {
        let mut map = self.by_id.write();
        map.retain(|_, k| k.mailbox != known.mailbox);
        map.insert(id, known);
    }

    /// Looks a subscription up.
    pub fn get(&self, id: &str) -> Option<KnownSubscription> {
        self.by_id.read().get(id).cloned()
    }

    /// Number of known subscriptions.
    pub fn len(&self) -> usize {
        self.by_id.read().len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rebuilds from every `SubscriptionCreated` in the log.
    pub async fn rebuild(log: &dyn EventLog, ring: &KeyRing) -> Result<Self, LogError> {
        let index = Self::default();
        for partition in 0..log.partitions(MAILBOX_EVENTS) {
            let mut from = 0;
            loop {
                let records = log.read(MAILBOX_EVENTS, partition, from, 1000).await?;
                let Some(last) = records.last() else { break };
                from = last.offset + 1;
                for record in records {
                    let Ok(env) = envelope::decode(&record.payload, ring) else {
                        tracing::error!(partition, offset = record.offset, "unreadable event record skipped");
                        continue;
                    };
                    if let MailboxEvent::SubscriptionCreated { subscription_id, private, .. } = env.event {
                        index.insert(
                            subscription_id,
                            KnownSubscription { mailbox: env.mailbox, client_state: private.client_state },
                        );
                    }
                }
            }
        }
        Ok(index)
    }
}

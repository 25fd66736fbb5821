//! Which Graph subscription belongs to which mailbox, with its client state (the webhook checks
//! every notification against it), and which mailboxes are enabled with what subscription
//! expiry (the scheduler renews from it). Built from the mailbox events at start-up and kept
//! current by the projection follower, so every process learns what the others did.

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

/// What the scheduler needs to know of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxEntry {
    /// Enabled.
    pub enabled: bool,
    /// Current subscription and its expiry.
    pub subscription: Option<(String, chrono::DateTime<chrono::Utc>)>,
    /// Last set-up failure: reason and retry time.
    pub error: Option<(String, Option<chrono::DateTime<chrono::Utc>>)>,
}

impl MailboxEntry {
    /// `disabled`, `active`, `error` or `pending`, as an admin sees it.
    pub fn status(&self) -> &'static str {
        hcal_actors::mailbox::state::status_of(self.enabled, self.subscription.is_some(), self.error.is_some())
    }
}

/// Subscription id to mailbox and client state; mailbox to subscription expiry.
#[derive(Debug, Default)]
pub struct SubscriptionIndex {
    by_id: RwLock<HashMap<String, KnownSubscription>>,
    mailboxes: RwLock<std::collections::BTreeMap<MailboxId, MailboxEntry>>,
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

    /// Takes in one event of a mailbox.
    pub fn observe(&self, mailbox: MailboxId, event: &MailboxEvent) {
        match event {
            MailboxEvent::MailboxEnabled { .. } => {
                let mut mailboxes = self.mailboxes.write();
                let entry = mailboxes.entry(mailbox).or_default();
                entry.enabled = true;
                entry.error = None;
            }
            MailboxEvent::MailboxDisabled {} => {
                let mut mailboxes = self.mailboxes.write();
                let entry = mailboxes.entry(mailbox).or_default();
                entry.enabled = false;
                entry.subscription = None;
                entry.error = None;
            }
            MailboxEvent::MailboxSetupFailed { reason, retry_at, .. } => {
                self.mailboxes.write().entry(mailbox).or_default().error = Some((reason.clone(), *retry_at));
            }
            MailboxEvent::SubscriptionCreated { subscription_id, expires_at, private } => {
                self.insert(
                    subscription_id.clone(),
                    KnownSubscription { mailbox, client_state: private.client_state.clone() },
                );
                let mut mailboxes = self.mailboxes.write();
                let entry = mailboxes.entry(mailbox).or_default();
                entry.subscription = Some((subscription_id.clone(), *expires_at));
                entry.error = None;
            }
            MailboxEvent::SubscriptionRenewed { subscription_id, expires_at } => {
                self.mailboxes.write().entry(mailbox).or_default().subscription =
                    Some((subscription_id.clone(), *expires_at));
            }
            MailboxEvent::SubscriptionLost { subscription_id, .. } => {
                let mut mailboxes = self.mailboxes.write();
                let entry = mailboxes.entry(mailbox).or_default();
                if entry.subscription.as_ref().is_some_and(|(id, _)| id == subscription_id) {
                    entry.subscription = None;
                }
            }
            _ => {}
        }
    }

    /// Every known mailbox.
    pub fn mailboxes(&self) -> Vec<(MailboxId, MailboxEntry)> {
        self.mailboxes.read().iter().map(|(k, v)| (*k, v.clone())).collect()
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
                    index.observe(env.mailbox, &env.event);
                }
            }
        }
        Ok(index)
    }
}

//! The inbox: the only writer of the mailboxes' input log (`notifications`). Graph's change and
//! lifecycle notifications (the webhook), admin commands (the admin API), timers (the
//! scheduler) and resyncs (the mailbox actors) all enter a mailbox's one input order here, so
//! whichever process owns the mailbox handles them one at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId};
use hcal_actors::log::{EventLog, LogError, NOTIFICATIONS};
use hcal_actors::notification::{AdminCommand, NotificationRecord};
use uuid::Uuid;

/// Appends inputs to the `notifications` log; each call returns once its records are durable.
#[derive(Clone)]
pub struct Inbox {
    log: Arc<dyn EventLog>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inbox")
    }
}

impl Inbox {
    /// An inbox over the log.
    pub fn new(log: Arc<dyn EventLog>) -> Self {
        Self { log }
    }

    /// Appends records (of any mailboxes): one append per mailbox, in the order given. On an
    /// error some mailboxes' records may already be stored; appending them again is harmless
    /// (every input is idempotent for its mailbox).
    pub async fn append(&self, records: &[NotificationRecord]) -> Result<(), LogError> {
        let mut by_mailbox: BTreeMap<MailboxId, Vec<Vec<u8>>> = BTreeMap::new();
        for record in records {
            by_mailbox.entry(record.mailbox()).or_default().push(encode(record)?);
        }
        for (mailbox, payloads) in by_mailbox {
            self.log.append(NOTIFICATIONS, &mailbox.to_string(), payloads).await?;
        }
        Ok(())
    }

    /// Logs an admin command or timer for a mailbox; returns the record's id (the causation id
    /// of the events it leads to).
    pub async fn command(
        &self,
        mailbox: MailboxId,
        command: AdminCommand,
        now: DateTime<Utc>,
    ) -> Result<Uuid, LogError> {
        let record = NotificationRecord::command(mailbox, command, now);
        self.log.append(NOTIFICATIONS, &mailbox.to_string(), vec![encode(&record)?]).await?;
        Ok(record.id)
    }
}

fn encode(record: &NotificationRecord) -> Result<Vec<u8>, LogError> {
    serde_json::to_vec(record).map_err(|e| LogError::Invalid(format!("notification record: {e}")))
}

#[async_trait]
impl hcal_actors::ports::Inbox for Inbox {
    async fn redeliver(
        &self,
        mailbox: MailboxId,
        subscription_id: &str,
        changes: &[(GraphEventId, bool)],
        now: DateTime<Utc>,
    ) -> Result<(), LogError> {
        if changes.is_empty() {
            return Ok(());
        }
        let records: Vec<NotificationRecord> = changes
            .iter()
            .map(|(id, removed)| {
                NotificationRecord::redelivered(mailbox, subscription_id.to_owned(), id.clone(), *removed, now)
            })
            .collect();
        self.append(&records).await
    }
}

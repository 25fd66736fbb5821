//! The presence index: per mailbox, whether it is enabled, the automatic replies and language
//! it last recorded, and its presence (status, since, until), for `GET /v1/users/{id}/presence`,
//! the presence poller (which logs a read only when it differs from what is known here) and the
//! presence timers (a scheduled window's next edge).
//!
//! A projection of `mailbox-events` like the access index: one row per mailbox in the local
//! store, committed with the index's positions, and the whole index in memory. Nothing in it is
//! sensitive: statuses, instants and a language tag (the reply messages are never read).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{MailboxId, TenantId, UserObjectId};
use hcal_actors::log::LogError;
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::MailboxEvent;
use hcal_actors::presence::{AutoReplies, PresenceStatus};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::{Position, Projection};
use crate::log::sqlite::{ProjectionBatch, SqliteStore};

/// Name of the projection (its rows' namespace and the group of its positions).
pub const PRESENCE_INDEX: &str = "presence-index";

/// What the index knows of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresenceEntry {
    /// Enabled.
    pub enabled: bool,
    /// The language last recorded.
    #[serde(default)]
    pub locale: Option<String>,
    /// The automatic replies last recorded (`None`: never read).
    #[serde(default)]
    pub auto_replies: Option<AutoReplies>,
    /// The presence last recorded.
    #[serde(default)]
    pub status: PresenceStatus,
    /// Since when (the `PresenceChanged` that set it); `None` before the first.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Until when, when known.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

impl PresenceEntry {
    /// Whether the presence the recorded setting means at `now` differs from the recorded one:
    /// a window's edge has passed and the mailbox must be told (`applyPresence`).
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.auto_replies.is_some_and(|r| r.presence_at(now).status != self.status)
    }

    /// The next edge of the recorded window after `now`.
    pub fn next_boundary(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.auto_replies.and_then(|r| r.next_boundary(now))
    }
}

/// The mailbox a row key (`tenant/user`) names.
fn mailbox_of(key: &str) -> Option<MailboxId> {
    let (tenant, user) = key.split_once('/')?;
    Some(MailboxId { tenant: TenantId::parse(tenant).ok()?, user: UserObjectId::parse(user).ok()? })
}

/// Mailbox to entry. Readers see what the last committed batch left.
#[derive(Debug, Default)]
pub struct PresenceIndex {
    entries: RwLock<HashMap<MailboxId, PresenceEntry>>,
}

impl PresenceIndex {
    /// The index as its rows in `store` left it; the follower applies the events after its
    /// positions. A row that cannot be read drops the index and its positions (rebuilt from
    /// the log).
    pub async fn open(store: &SqliteStore) -> Result<Self, LogError> {
        let index = Self::default();
        let mut entries = HashMap::new();
        for (key, bytes) in store.projection_scan(PRESENCE_INDEX, "").await? {
            let parsed = mailbox_of(&key).ok_or_else(|| format!("row key {key:?} is not a mailbox")).and_then(|m| {
                serde_json::from_slice::<PresenceEntry>(&bytes).map(|e| (m, e)).map_err(|e| e.to_string())
            });
            match parsed {
                Ok((mailbox, entry)) => {
                    entries.insert(mailbox, entry);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the presence index cannot be read; rebuilding it from mailbox-events");
                    store.projection_reset(PRESENCE_INDEX).await?;
                    return Ok(index);
                }
            }
        }
        *index.entries.write() = entries;
        Ok(index)
    }

    /// One mailbox's entry.
    pub fn get(&self, mailbox: &MailboxId) -> Option<PresenceEntry> {
        self.entries.read().get(mailbox).cloned()
    }

    /// Every enabled mailbox with its entry.
    pub fn enabled(&self) -> Vec<(MailboxId, PresenceEntry)> {
        self.entries.read().iter().filter(|(_, e)| e.enabled).map(|(m, e)| (*m, e.clone())).collect()
    }

    /// Folds one event into `entry`; whether it changed.
    fn fold(entry: &mut PresenceEntry, event: &MailboxEvent) -> bool {
        let before = entry.clone();
        match event {
            MailboxEvent::MailboxEnabled { locale } => {
                entry.enabled = true;
                if locale.is_some() {
                    entry.locale.clone_from(locale);
                }
            }
            MailboxEvent::MailboxDisabled {} => entry.enabled = false,
            // Forgotten: no language, no automatic replies, nothing a sink could be told.
            MailboxEvent::MailboxErased {} => *entry = PresenceEntry::default(),
            MailboxEvent::LanguageDetected { locale } => entry.locale = Some(locale.clone()),
            MailboxEvent::OooChanged { status, start, end } => {
                entry.auto_replies = Some(AutoReplies::new(*status, *start, *end));
            }
            MailboxEvent::PresenceChanged { status, since, until } => {
                entry.status = *status;
                entry.since = Some(*since);
                entry.until = *until;
            }
            _ => return false,
        }
        *entry != before
    }
}

#[async_trait]
impl Projection for PresenceIndex {
    fn name(&self) -> &'static str {
        PRESENCE_INDEX
    }

    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
        let mut changed: BTreeMap<MailboxId, PresenceEntry> = BTreeMap::new();
        for env in events {
            let mut entry = match changed.get(&env.mailbox) {
                Some(e) => e.clone(),
                None => self.entries.read().get(&env.mailbox).cloned().unwrap_or_default(),
            };
            if Self::fold(&mut entry, &env.event) {
                changed.insert(env.mailbox, entry);
            }
        }
        let mut batch = ProjectionBatch { positions: position.into_positions(), ..Default::default() };
        for (mailbox, entry) in &changed {
            let bytes = serde_json::to_vec(entry).map_err(|e| LogError::Invalid(e.to_string()))?;
            batch.upserts.push((mailbox.to_string(), bytes));
        }
        store.projection_apply(PRESENCE_INDEX, batch).await?;
        self.entries.write().extend(changed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use hcal_actors::presence::AutoReplyStatus;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn an_entry_is_due_when_a_window_edge_passed_since_the_last_change() {
        let mut entry = PresenceEntry::default();
        let scheduled = MailboxEvent::OooChanged {
            status: AutoReplyStatus::Scheduled,
            start: Some(at("2026-12-02T09:00:00Z")),
            end: Some(at("2026-12-02T17:00:00Z")),
        };
        assert!(PresenceIndex::fold(&mut entry, &MailboxEvent::MailboxEnabled { locale: Some("en-US".into()) }));
        assert!(PresenceIndex::fold(&mut entry, &scheduled));
        assert!(!PresenceIndex::fold(&mut entry, &scheduled), "the same setting again changes nothing");
        assert!(!entry.due(at("2026-12-02T08:59:59Z")));
        assert_eq!(entry.next_boundary(at("2026-12-02T08:00:00Z")), Some(at("2026-12-02T09:00:00Z")));
        assert!(entry.due(at("2026-12-02T09:00:00Z")));
        PresenceIndex::fold(
            &mut entry,
            &MailboxEvent::PresenceChanged {
                status: PresenceStatus::OutOfOffice,
                since: at("2026-12-02T09:00:00Z"),
                until: Some(at("2026-12-02T17:00:00Z")),
            },
        );
        assert!(!entry.due(at("2026-12-02T16:00:00Z")));
        assert!(entry.due(at("2026-12-02T17:00:00Z")));
        PresenceIndex::fold(&mut entry, &MailboxEvent::MailboxDisabled {});
        assert!(!entry.due(at("2026-12-02T17:00:00Z")), "a disabled mailbox has no timers");
    }

    #[tokio::test]
    async fn rows_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), 1).unwrap();
        let mailbox = MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse("6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01").unwrap(),
        };
        let index = PresenceIndex::open(&store).await.unwrap();
        let envelope = |seq, event| Envelope {
            event_id: uuid::Uuid::new_v4(),
            mailbox,
            seq,
            occurred_at: Utc::now(),
            causation_id: "test".into(),
            event,
        };
        let events = [
            envelope(1, MailboxEvent::MailboxEnabled { locale: None }),
            envelope(2, MailboxEvent::OooChanged { status: AutoReplyStatus::AlwaysEnabled, start: None, end: None }),
            envelope(
                3,
                MailboxEvent::PresenceChanged {
                    status: PresenceStatus::OutOfOffice,
                    since: at("2026-12-02T09:00:00Z"),
                    until: None,
                },
            ),
        ];
        index.apply(&store, &events, Position { partition: 0, next: 3 }).await.unwrap();
        let reopened = PresenceIndex::open(&store).await.unwrap();
        let entry = reopened.get(&mailbox).unwrap();
        assert_eq!(entry, index.get(&mailbox).unwrap());
        assert_eq!(entry.status, PresenceStatus::OutOfOffice);
        assert_eq!(reopened.enabled().len(), 1);
    }
}

//! The meeting-list projection: a fold of domain events into one row per meeting, stored with
//! its sensitive part sealed, and its log position committed in the same transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::MailboxId;
use hcal_actors::log::LogError;
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::{JoinTarget, MailboxEvent};
use hcal_actors::seal::{self, KeyRing, Sealed};
use serde::{Deserialize, Serialize};

use super::{Position, Projection};
use crate::log::sqlite::{ProjectionBatch, SqliteStore};

/// Name of the projection (also its consumer group).
pub const MEETING_LIST: &str = "meeting-list";

/// The sensitive part of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RowPrivate {
    /// Subject.
    pub subject: String,
    /// Join address.
    pub join_address: Option<String>,
    /// Web link.
    pub web_link: Option<String>,
}

/// One meeting of a user's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingRow {
    /// Graph event id.
    pub event_id: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// All-day flag.
    pub is_all_day: bool,
    /// Join target (public part).
    pub join: Option<JoinTarget>,
    /// Sensitive part (sealed when stored).
    pub private: RowPrivate,
}

/// What an event does to a row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// Write this row.
    Upsert(MeetingRow),
    /// Remove the row.
    Delete,
    /// Leave the row as it is.
    Keep,
}

/// The fold: what `event` does to the current `row`.
pub fn fold(row: Option<&MeetingRow>, event: &MailboxEvent) -> RowChange {
    match event {
        MailboxEvent::MeetingScheduled(d) | MailboxEvent::MeetingUpdated(d) => RowChange::Upsert(MeetingRow {
            event_id: d.event_id.as_str().to_owned(),
            start: d.start,
            end: d.end,
            is_all_day: d.is_all_day,
            join: d.join.clone(),
            private: RowPrivate {
                subject: d.private.subject.clone(),
                join_address: d.private.join_address.clone(),
                web_link: d.private.web_link.clone(),
            },
        }),
        MailboxEvent::JoinInfoPatched { join, private, .. } => match row {
            Some(row) => {
                let mut row = row.clone();
                row.join = Some(join.clone());
                row.private.join_address.clone_from(&private.join_address);
                row.private.web_link.clone_from(&private.web_link);
                RowChange::Upsert(row)
            }
            None => RowChange::Keep,
        },
        MailboxEvent::MeetingCancelled { .. } => RowChange::Delete,
        _ => RowChange::Keep,
    }
}

/// The stored form of a row.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRow {
    event_id: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    is_all_day: bool,
    join: Option<JoinTarget>,
    sealed: Sealed,
}

/// Row key: `{tenant}/{user}/{eventId}`.
pub fn row_key(mailbox: &MailboxId, event_id: &str) -> String {
    format!("{mailbox}/{event_id}")
}

pub(crate) fn encode(ring: &KeyRing, key: &str, row: &MeetingRow) -> Result<Vec<u8>, LogError> {
    let sealed = seal::seal(ring, key.as_bytes(), &row.private).map_err(|e| LogError::Invalid(e.to_string()))?;
    let stored = StoredRow {
        event_id: row.event_id.clone(),
        start: row.start,
        end: row.end,
        is_all_day: row.is_all_day,
        join: row.join.clone(),
        sealed,
    };
    serde_json::to_vec(&stored).map_err(|e| LogError::Invalid(e.to_string()))
}

pub(crate) fn decode(ring: &KeyRing, key: &str, bytes: &[u8]) -> Result<MeetingRow, LogError> {
    let stored: StoredRow = serde_json::from_slice(bytes).map_err(|e| LogError::Invalid(e.to_string()))?;
    let private = seal::open(ring, key.as_bytes(), &stored.sealed).map_err(|e| LogError::Invalid(e.to_string()))?;
    Ok(MeetingRow {
        event_id: stored.event_id,
        start: stored.start,
        end: stored.end,
        is_all_day: stored.is_all_day,
        join: stored.join,
        private,
    })
}

/// Row changes gathered for one write: each key's row after the events so far (`None`:
/// deleted). Rows a fold may change must be loaded first.
pub type Rows = BTreeMap<String, Option<MeetingRow>>;

/// Folds one event into the row at `key`.
pub fn fold_into(rows: &mut Rows, key: String, event: &MailboxEvent) {
    match fold(rows.get(&key).and_then(Option::as_ref), event) {
        RowChange::Upsert(row) => {
            rows.insert(key, Some(row));
        }
        RowChange::Delete => {
            rows.insert(key, None);
        }
        RowChange::Keep => {}
    }
}

/// The store batch that writes `rows` (sealed) and deletes those set to `None`, with the
/// positions to record in the same transaction.
pub fn batch_of(ring: &KeyRing, rows: Rows, positions: Vec<(String, u32, u64)>) -> Result<ProjectionBatch, LogError> {
    let mut batch = ProjectionBatch { upserts: Vec::new(), deletes: Vec::new(), positions };
    for (key, row) in rows {
        match row {
            Some(row) => batch.upserts.push((key.clone(), encode(ring, &key, &row)?)),
            None => batch.deletes.push(key),
        }
    }
    Ok(batch)
}

/// The meeting-list projection as the follower drives it.
#[derive(Debug, Clone)]
pub struct MeetingList {
    ring: KeyRing,
}

impl MeetingList {
    /// The projection, sealing rows with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self { ring }
    }
}

#[async_trait]
impl Projection for MeetingList {
    fn name(&self) -> &'static str {
        MEETING_LIST
    }

    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
        let mut rows = Rows::new();
        for env in events {
            let Some(event_id) = env.event.event_id() else { continue };
            let key = row_key(&env.mailbox, event_id.as_str());
            if !rows.contains_key(&key) {
                let current = match store.projection_get(MEETING_LIST, &key).await? {
                    Some(bytes) => Some(decode(&self.ring, &key, &bytes)?),
                    None => None,
                };
                rows.insert(key.clone(), current);
            }
            fold_into(&mut rows, key, &env.event);
        }
        let batch = batch_of(&self.ring, rows, position.into_positions())?;
        store.projection_apply(MEETING_LIST, batch).await
    }
}

/// A user's meetings overlapping `[from, to)`, by start.
pub async fn meetings(
    store: &SqliteStore,
    ring: &KeyRing,
    mailbox: &MailboxId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<MeetingRow>, LogError> {
    let prefix = format!("{mailbox}/");
    let mut rows = Vec::new();
    for (key, bytes) in store.projection_scan(MEETING_LIST, &prefix).await? {
        let row = decode(ring, &key, &bytes)?;
        if row.start < to && row.end > from {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.event_id.cmp(&b.event_id)));
    Ok(rows)
}

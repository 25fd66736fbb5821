//! Topics for downstream consumers, in kafka mode: other systems follow the meeting lists and
//! the rooms' bookings as they follow `mailbox-events`, without asking hcal's API.
//!
//! - `meeting-lists` (compacted, key `tenant/user/eventId`): each meeting of each list as it is
//!   now, written with every change the meeting-list projection commits; a cancelled meeting's
//!   record says so and carries nothing sealed.
//! - `room-bookings` (compacted, key: the room mailbox): each room's bookings exactly as its
//!   devices are given them, written with every list the pusher builds.
//!
//! Both are states, not histories: a record is written before the projection commits (a crash
//! writes it again) and in kafka mode every process writes its own, so a consumer may read the
//! same state twice; it keeps the latest per key, as compaction does. Subjects, organisers and
//! join addresses are sealed as in `mailbox-events` (schemas in `schemas/`), bound to the
//! record's key.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hcal_actors::ids::MailboxId;
use hcal_actors::log::{EventLog, LogError, MEETING_LISTS, ROOM_BOOKINGS};
use hcal_actors::seal::{self, KeyRing};
use serde_json::{Value, json};

use super::live::{Change, ChangeKind};

/// Writes the downstream topics.
pub struct Downstream {
    log: Arc<dyn EventLog>,
    ring: KeyRing,
}

impl std::fmt::Debug for Downstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Downstream")
    }
}

fn invalid(e: impl std::fmt::Display) -> LogError {
    LogError::Invalid(e.to_string())
}

impl Downstream {
    /// Writing to `log` (Kafka), sealing with `ring`.
    pub fn new(log: Arc<dyn EventLog>, ring: KeyRing) -> Self {
        Self { log, ring }
    }

    /// The record of one change of a list.
    pub fn meeting_record(&self, change: &Change) -> Result<(String, Vec<u8>), LogError> {
        let key = format!("{}/{}", change.mailbox, change.event_id);
        let mut record = json!({
            "tenantId": change.mailbox.tenant,
            "userId": change.mailbox.user,
            "eventId": change.event_id,
            "seq": change.seq,
            "change": change.kind.name(),
        });
        if let (Some(row), false) = (&change.row, change.kind == ChangeKind::Cancelled) {
            let private = json!({
                "subject": row.private.subject,
                "organizer": {"name": row.private.organizer, "address": row.private.organizer_address},
                "joinAddress": row.private.join_address,
                "webLink": row.private.web_link,
            });
            let sealed =
                seal::seal(&self.ring, format!("{MEETING_LISTS}/{key}").as_bytes(), &private).map_err(invalid)?;
            let public = json!({
                "start": row.start,
                "end": row.end,
                "isAllDay": row.is_all_day,
                "timeZone": row.time_zone,
                "isPrivate": row.is_private,
                "isOrganizer": row.is_organizer,
                "responseStatus": row.response,
                "join": row.join.as_ref().map(|j| json!({"provider": j.provider, "kind": j.kind, "origin": j.origin})),
                "occurrences": row.occurrences.len(),
                "sealed": sealed,
            });
            if let (Value::Object(record), Value::Object(public)) = (&mut record, public) {
                record.extend(public);
            }
        }
        Ok((key, serde_json::to_vec(&record).map_err(invalid)?))
    }

    /// Writes the records of `changes` (each meeting's latest state).
    pub async fn meetings(&self, changes: &[Change]) -> Result<(), LogError> {
        for change in changes {
            let (key, payload) = self.meeting_record(change)?;
            self.log.append(MEETING_LISTS, &key, vec![payload]).await?;
        }
        Ok(())
    }

    /// The record of a room's bookings (`bookings`: the `{"Bookings": [...]}` its devices get).
    pub fn room_record(
        &self,
        room: &MailboxId,
        window: (DateTime<Utc>, DateTime<Utc>),
        count: usize,
        bookings: &Value,
        at: DateTime<Utc>,
    ) -> Result<(String, Vec<u8>), LogError> {
        let key = room.to_string();
        let sealed = seal::seal(&self.ring, format!("{ROOM_BOOKINGS}/{key}").as_bytes(), bookings).map_err(invalid)?;
        let record = json!({
            "tenantId": room.tenant,
            "userId": room.user,
            "builtAt": at,
            "from": window.0,
            "to": window.1,
            "count": count,
            "sealed": sealed,
        });
        Ok((key, serde_json::to_vec(&record).map_err(invalid)?))
    }

    /// Writes a room's bookings.
    pub async fn room(
        &self,
        room: &MailboxId,
        window: (DateTime<Utc>, DateTime<Utc>),
        count: usize,
        bookings: &Value,
        at: DateTime<Utc>,
    ) -> Result<(), LogError> {
        let (key, payload) = self.room_record(room, window, count, bookings, at)?;
        self.log.append(ROOM_BOOKINGS, &key, vec![payload]).await.map(|_| ())
    }
}

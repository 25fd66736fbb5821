//! The meeting-list projection: a fold of domain events into one row per meeting, stored with
//! its sensitive part sealed, and its log position committed in the same transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::MailboxId;
use hcal_actors::log::LogError;
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::{JoinTarget, MailboxEvent};
use hcal_actors::ports::Occurrence;
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
    /// The organiser's display name (room devices show it in place of a private subject).
    #[serde(default)]
    pub organizer: Option<String>,
    /// The organiser's address.
    #[serde(default)]
    pub organizer_address: Option<String>,
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
    /// For a series: its occurrences as last read (empty: not read yet, or not a series).
    pub occurrences: Vec<Occurrence>,
    /// For a row listed as an occurrence of a series: the series.
    pub series_master_id: Option<String>,
    /// Marked private or confidential.
    #[serde(default)]
    pub is_private: bool,
    /// The list's owner organises it.
    #[serde(default)]
    pub is_organizer: bool,
    /// The owner's response.
    #[serde(default)]
    pub response: Option<String>,
    /// The organiser's time zone.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// What an event does to a row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// Write this row.
    Upsert(Box<MeetingRow>),
    /// Remove the row.
    Delete,
    /// Leave the row as it is.
    Keep,
}

/// The fold: what `event` does to the current `row`.
pub fn fold(row: Option<&MeetingRow>, event: &MailboxEvent) -> RowChange {
    match event {
        MailboxEvent::MeetingScheduled(d) | MailboxEvent::MeetingUpdated(d) => {
            RowChange::Upsert(Box::new(MeetingRow {
                event_id: d.event_id.as_str().to_owned(),
                start: d.start,
                end: d.end,
                is_all_day: d.is_all_day,
                join: d.join.clone(),
                private: RowPrivate {
                    subject: d.private.subject.clone(),
                    join_address: d.private.join_address.clone(),
                    web_link: d.private.web_link.clone(),
                    organizer: d.private.organizer.as_ref().map(|o| o.name.clone()).filter(|n| !n.is_empty()),
                    organizer_address: d
                        .private
                        .organizer
                        .as_ref()
                        .map(|o| o.address.clone())
                        .filter(|a| !a.is_empty()),
                },
                // Read again after every change of a series; until then, the last read.
                occurrences: row.map(|r| r.occurrences.clone()).unwrap_or_default(),
                series_master_id: None,
                is_private: d.is_private,
                is_organizer: d.is_organizer,
                response: d.response.clone(),
                time_zone: d.time_zone.clone(),
            }))
        }
        MailboxEvent::SeriesExpanded { occurrences, .. } => match row {
            Some(row) => RowChange::Upsert(Box::new(MeetingRow { occurrences: occurrences.clone(), ..row.clone() })),
            None => RowChange::Keep,
        },
        MailboxEvent::JoinInfoPatched { join, private, .. } => match row {
            Some(row) => {
                let mut row = row.clone();
                row.join = Some(join.clone());
                row.private.join_address.clone_from(&private.join_address);
                row.private.web_link.clone_from(&private.web_link);
                RowChange::Upsert(Box::new(row))
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    occurrences: Vec<Occurrence>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    is_private: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    is_organizer: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
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
        occurrences: row.occurrences.clone(),
        is_private: row.is_private,
        is_organizer: row.is_organizer,
        response: row.response.clone(),
        time_zone: row.time_zone.clone(),
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
        occurrences: stored.occurrences,
        series_master_id: None,
        is_private: stored.is_private,
        is_organizer: stored.is_organizer,
        response: stored.response,
        time_zone: stored.time_zone,
    })
}

/// Row changes gathered for one write: each key's row after the events so far (`None`:
/// deleted). Rows a fold may change must be loaded first.
pub type Rows = BTreeMap<String, Option<MeetingRow>>;

/// Folds one event into the row at `key`.
pub fn fold_into(rows: &mut Rows, key: String, event: &MailboxEvent) {
    match fold(rows.get(&key).and_then(Option::as_ref), event) {
        RowChange::Upsert(row) => {
            rows.insert(key, Some(*row));
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

/// What became of a keyword invite, as `hcal_join_details_total{outcome}` counts it: the
/// label of an event about join details, or `None` for the others. A fixed vocabulary (a
/// reason of an event written by another version is counted as `failed_other`).
pub fn join_outcome(event: &MailboxEvent) -> Option<&'static str> {
    use hcal_actors::join::NoticeReason as N;
    use hcal_actors::mailbox::events::SkipReason as S;
    Some(match event {
        MailboxEvent::JoinInfoPatched { recovered: false, .. } => "written",
        MailboxEvent::JoinInfoPatched { recovered: true, .. } => "recovered",
        MailboxEvent::MeetingBooked { .. } => "booked",
        MailboxEvent::JoinInfoRemoved { .. } => "removed",
        MailboxEvent::BookingDeleted { deleted: true, .. } => "booking_deleted",
        MailboxEvent::BookingDeleted { deleted: false, .. } => "booking_delete_refused",
        MailboxEvent::MeetingSkipped { reason, .. } => match reason {
            S::NotOrganizer => "skipped_not_organizer",
            S::AlreadyHasJoinDetails => "skipped_already_has_join_details",
            S::UnsupportedKeyword => "skipped_unsupported_keyword",
            S::PlatformRefused => "skipped_platform_refused",
            S::UnknownModifier => "skipped_unknown_modifier",
            S::MeetingOver => "skipped_meeting_over",
        },
        MailboxEvent::JoinInfoPatchFailed { reason, .. } => match reason.as_str() {
            "not_in_scope" => "failed_not_in_scope",
            "fatal" => "failed_fatal",
            "no_organizer" => "failed_no_organizer",
            "series_not_bookable" => "failed_series_not_bookable",
            _ => "failed_other",
        },
        MailboxEvent::OrganizerNotified { reason, .. } => match reason {
            N::UnknownModifier => "notified_unknown_modifier",
            N::PlatformRefused => "notified_platform_refused",
            N::SeriesNotBookable => "notified_series_not_bookable",
        },
        _ => return None,
    })
}

/// The meeting-list projection as the follower drives it.
#[derive(Debug, Clone)]
pub struct MeetingList {
    ring: KeyRing,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    changed: Option<crate::devices::pusher::RoomsChanged>,
    live: Option<std::sync::Arc<super::live::LiveLists>>,
    downstream: Option<std::sync::Arc<super::downstream::Downstream>>,
    retention: Option<chrono::Duration>,
}

impl MeetingList {
    /// The projection, sealing rows with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self { ring, metrics: None, changed: None, live: None, downstream: None, retention: None }
    }

    /// Removing meetings (series: every occurrence) that ended more than `retention` ago.
    pub fn with_retention(mut self, retention: chrono::Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Counting the join-detail outcomes it reads into `metrics` (each event once per process:
    /// the positions are committed with the rows).
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Reporting the mailboxes whose lists changed to `changed` (the device pusher: a room
    /// mailbox's list is what its devices show).
    pub fn with_changes(mut self, changed: crate::devices::pusher::RoomsChanged) -> Self {
        self.changed = Some(changed);
        self
    }

    /// Handing each committed change to the open event streams through `live`.
    pub fn with_live(mut self, live: std::sync::Arc<super::live::LiveLists>) -> Self {
        self.live = Some(live);
        self
    }

    /// Writing each committed change to the `meeting-lists` topic too (kafka mode), before the
    /// batch is committed: a failure leaves the batch to be applied again.
    pub fn with_downstream(mut self, downstream: std::sync::Arc<super::downstream::Downstream>) -> Self {
        self.downstream = Some(downstream);
        self
    }
}

#[async_trait]
impl Projection for MeetingList {
    fn name(&self) -> &'static str {
        MEETING_LIST
    }

    async fn tidy(&self, store: &SqliteStore) -> Result<usize, LogError> {
        let Some(retention) = self.retention else { return Ok(0) };
        let rows = store.projection_scan(MEETING_LIST, "").await?;
        let old = ended_before(&rows, Utc::now() - retention);
        let removed = old.len();
        if removed > 0 {
            store.projection_apply(MEETING_LIST, ProjectionBatch { deletes: old, ..Default::default() }).await?;
        }
        Ok(removed)
    }

    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
        let mut rows = Rows::new();
        let mut changes = Vec::new();
        for env in events {
            if let MailboxEvent::MailboxErased {} = env.event {
                // Every meeting of an erased mailbox leaves its list (told as cancelled).
                let prefix = row_key(&env.mailbox, "");
                let mut keys: Vec<String> =
                    store.projection_scan(MEETING_LIST, &prefix).await?.into_iter().map(|(k, _)| k).collect();
                keys.extend(rows.keys().filter(|k| k.starts_with(&prefix)).cloned());
                keys.sort();
                keys.dedup();
                for key in keys {
                    let had = match rows.get(&key) {
                        Some(row) => row.is_some(),
                        None => true,
                    };
                    if had {
                        changes.push(super::live::Change {
                            mailbox: env.mailbox,
                            seq: env.seq,
                            kind: super::live::ChangeKind::Cancelled,
                            event_id: key[prefix.len()..].to_owned(),
                            row: None,
                        });
                    }
                    rows.insert(key, None);
                }
                continue;
            }
            let Some(event_id) = env.event.event_id() else { continue };
            let key = row_key(&env.mailbox, event_id.as_str());
            if !rows.contains_key(&key) {
                let current = match store.projection_get(MEETING_LIST, &key).await? {
                    Some(bytes) => Some(decode(&self.ring, &key, &bytes)?),
                    None => None,
                };
                rows.insert(key.clone(), current);
            }
            let wanted = self.live.is_some() || self.downstream.is_some();
            let before = if wanted { rows.get(&key).cloned().flatten() } else { None };
            fold_into(&mut rows, key.clone(), &env.event);
            if wanted {
                let after = rows.get(&key).cloned().flatten();
                let kind = match (&before, &after) {
                    (None, Some(_)) => Some(super::live::ChangeKind::Created),
                    (Some(b), Some(a)) if b != a => Some(super::live::ChangeKind::Updated),
                    (Some(_), None) => Some(super::live::ChangeKind::Cancelled),
                    _ => None,
                };
                if let Some(kind) = kind {
                    changes.push(super::live::Change {
                        mailbox: env.mailbox,
                        seq: env.seq,
                        kind,
                        event_id: event_id.as_str().to_owned(),
                        row: after,
                    });
                }
            }
        }
        let batch = batch_of(&self.ring, rows, position.into_positions())?;
        if let Some(downstream) = &self.downstream {
            downstream.meetings(&changes).await?;
        }
        store.projection_apply(MEETING_LIST, batch).await?;
        if let Some(metrics) = &self.metrics {
            for outcome in events.iter().filter_map(|env| join_outcome(&env.event)) {
                metrics.inc("hcal_join_details_total", "outcome", outcome);
            }
        }
        if let Some(changed) = &self.changed {
            changed.mark(events.iter().filter(|env| env.event.event_id().is_some()).map(|env| env.mailbox));
        }
        if let Some(live) = &self.live {
            live.publish(changes);
        }
        Ok(())
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
        rows.push(decode(ring, &key, &bytes)?);
    }
    Ok(in_window(rows, from, to))
}

/// The rows users see in `[from, to)`, by start: a series as one row per occurrence (with its
/// own id and times, the series' subject and join target), except the occurrences that are
/// meetings of their own (an exception hcal was told of), which are listed once, as themselves.
pub fn in_window(rows: Vec<MeetingRow>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<MeetingRow> {
    let own: std::collections::HashSet<String> = rows.iter().map(|r| r.event_id.clone()).collect();
    let mut listed = Vec::new();
    for row in rows {
        if row.occurrences.is_empty() {
            listed.push(row);
            continue;
        }
        for occurrence in &row.occurrences {
            if own.contains(occurrence.id.as_str()) {
                continue;
            }
            listed.push(MeetingRow {
                event_id: occurrence.id.as_str().to_owned(),
                start: occurrence.start,
                end: occurrence.end,
                occurrences: Vec::new(),
                series_master_id: Some(row.event_id.clone()),
                ..row.clone()
            });
        }
    }
    listed.retain(|r| r.start < to && r.end > from);
    listed.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.event_id.cmp(&b.event_id)));
    listed
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use hcal_actors::ids::GraphEventId;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn row(id: &str, start: DateTime<Utc>, subject: &str) -> MeetingRow {
        MeetingRow {
            event_id: id.into(),
            start,
            end: start + chrono::Duration::hours(1),
            is_all_day: false,
            join: None,
            private: RowPrivate { subject: subject.into(), ..RowPrivate::default() },
            occurrences: Vec::new(),
            series_master_id: None,
            is_private: false,
            is_organizer: false,
            response: None,
            time_zone: None,
        }
    }

    fn occurrence(id: &str, start: DateTime<Utc>) -> Occurrence {
        Occurrence { id: GraphEventId::new(id), start, end: start + chrono::Duration::hours(1) }
    }

    #[test]
    fn retention_removes_meetings_whose_last_occurrence_ended_before_the_cutoff() {
        let ring = KeyRing::new(hcal_actors::seal::DataKey::generate("k").unwrap());
        let mut series = row("series", at(1, 9), "Weekly");
        series.occurrences = vec![occurrence("s1", at(1, 9)), occurrence("s2", at(20, 9))];
        let rows: Vec<(String, Vec<u8>)> = [row("old", at(1, 9), "Old"), row("new", at(15, 9), "New"), series]
            .into_iter()
            .map(|r| (r.event_id.clone(), encode(&ring, &r.event_id, &r).unwrap()))
            .collect();
        assert_eq!(ended_before(&rows, at(10, 0)), vec!["old".to_owned()], "the series goes on until the 20th");
        assert_eq!(ended_before(&rows, at(25, 0)).len(), 3);
        assert!(ended_before(&rows, at(1, 0)).is_empty());
    }

    #[test]
    fn a_series_is_listed_once_per_occurrence_and_an_exception_of_its_own_once() {
        let mut series = row("series", at(1, 9), "Weekly");
        series.occurrences = vec![
            occurrence("occ-1", at(1, 9)),
            // Moved by the organiser: an exception hcal was told of, with its own row.
            occurrence("occ-2", at(9, 11)),
            occurrence("occ-3", at(15, 9)),
            // Outside the window.
            occurrence("occ-5", at(29, 9)),
        ];
        let exception = row("occ-2", at(9, 11), "Weekly (moved)");
        let single = row("single", at(3, 10), "One-off");
        let listed = in_window(vec![series, exception, single], at(1, 0), at(22, 0));
        let seen: Vec<(&str, DateTime<Utc>, &str, Option<&str>)> = listed
            .iter()
            .map(|r| (r.event_id.as_str(), r.start, r.private.subject.as_str(), r.series_master_id.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("occ-1", at(1, 9), "Weekly", Some("series")),
                ("single", at(3, 10), "One-off", None),
                ("occ-2", at(9, 11), "Weekly (moved)", None),
                ("occ-3", at(15, 9), "Weekly", Some("series")),
            ]
        );
    }

    #[test]
    fn a_series_not_read_yet_is_listed_as_itself_and_as_its_occurrences_once_read() {
        let series = row("series", at(1, 9), "Weekly");
        assert_eq!(in_window(vec![series.clone()], at(1, 0), at(2, 0)).len(), 1);
        let expanded = MailboxEvent::SeriesExpanded {
            event_id: GraphEventId::new("series"),
            from: at(1, 0),
            to: at(30, 0),
            occurrences: vec![occurrence("occ-1", at(1, 9))],
        };
        let RowChange::Upsert(with) = fold(Some(&series), &expanded) else { panic!() };
        assert_eq!(with.occurrences.len(), 1);
        assert_eq!(fold(None, &expanded), RowChange::Keep);
    }

    #[test]
    fn join_outcomes_are_a_fixed_vocabulary() {
        let id = GraphEventId::new("e");
        let skipped = MailboxEvent::MeetingSkipped {
            event_id: id.clone(),
            reason: hcal_actors::mailbox::events::SkipReason::UnknownModifier,
            explain: String::new(),
        };
        assert_eq!(join_outcome(&skipped), Some("skipped_unknown_modifier"));
        let typed = MailboxEvent::JoinInfoPatchFailed {
            event_id: id.clone(),
            reason: "whatever was typed".into(),
            retryable: false,
        };
        assert_eq!(join_outcome(&typed), Some("failed_other"), "never a label from an event's text");
        assert_eq!(join_outcome(&MailboxEvent::MeetingCancelled { event_id: id }), None);
    }
}

/// Keys of the rows whose meeting (every occurrence of a series) ended before `cutoff`; reads
/// only the clear fields.
pub fn ended_before(rows: &[(String, Vec<u8>)], cutoff: DateTime<Utc>) -> Vec<String> {
    rows.iter()
        .filter_map(|(key, bytes)| {
            let stored: StoredRow = serde_json::from_slice(bytes).ok()?;
            let last = stored.occurrences.iter().map(|o| o.end).max().map_or(stored.end, |o| o.max(stored.end));
            (last < cutoff).then(|| key.clone())
        })
        .collect()
}

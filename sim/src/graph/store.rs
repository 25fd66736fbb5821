//! The simulator's state and the queries every handler shares: who a path names, what a
//! calendar holds in a window, and how attendees' copies follow the organiser's event.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::error::GraphError;
use super::model::{App, Change, ChangeType, EventKind, EventRecord, Subscription, Tenant, User};
use super::recurrence;
use super::wire;

/// An issued access token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Tenant the token is for.
    pub tenant_id: String,
    /// Application it was issued to.
    pub app_id: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// State kept between the pages of a delta round or behind a delta link.
#[derive(Debug, Clone)]
pub struct DeltaState {
    /// Mailbox.
    pub user_id: String,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
    /// What the client has seen: id to changeKey.
    pub seen: BTreeMap<String, String>,
    /// Items still to hand out in this round (for skip tokens), as rendered JSON.
    pub pending: Vec<Value>,
    /// When the token was issued.
    pub issued: DateTime<Utc>,
}

/// Everything the simulator knows.
#[derive(Debug, Default)]
pub struct Store {
    /// Tenants by id.
    pub tenants: HashMap<String, Tenant>,
    /// Applications by client id.
    pub apps: HashMap<String, App>,
    /// Access tokens.
    pub tokens: HashMap<String, TokenInfo>,
    /// Users by object id.
    pub users: HashMap<String, User>,
    /// Events by id.
    pub events: HashMap<String, EventRecord>,
    /// Subscriptions by id.
    pub subscriptions: HashMap<String, Subscription>,
    /// Delta rounds by skip or delta token.
    pub delta: HashMap<String, DeltaState>,
    /// Who the admin signing in to the consent page is: (tenant, approves).
    pub consent_admin: Option<(String, bool)>,
}

const OCCURRENCE_PREFIX: &str = "AAMkAOc";

/// The id of an occurrence of a series: opaque to clients, decodable here.
pub fn occurrence_id(master_id: &str, date: NaiveDate) -> String {
    format!("{OCCURRENCE_PREFIX}{}", URL_SAFE_NO_PAD.encode(format!("{master_id}|{date}")))
}

/// Decodes an occurrence id into (master id, date).
pub fn parse_occurrence_id(id: &str) -> Option<(String, NaiveDate)> {
    let raw = URL_SAFE_NO_PAD.decode(id.strip_prefix(OCCURRENCE_PREFIX)?).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (master, date) = text.rsplit_once('|')?;
    Some((master.to_owned(), date.parse().ok()?))
}

impl Store {
    /// Finds a user of a tenant by object id or address (case-insensitive).
    pub fn find_user(&self, tenant_id: &str, key: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.tenant_id == tenant_id && (u.id.eq_ignore_ascii_case(key) || u.mail.eq_ignore_ascii_case(key)))
    }

    /// Finds a user anywhere by address.
    pub fn user_by_mail(&self, tenant_id: &str, mail: &str) -> Option<&User> {
        self.users.values().find(|u| u.tenant_id == tenant_id && u.mail.eq_ignore_ascii_case(mail))
    }

    /// Resolves an event id of `owner`: a stored event, or an occurrence of a stored series
    /// (which resolves to its exception when one exists).
    pub fn resolve(&self, owner: &str, id: &str) -> Result<EventRecord, GraphError> {
        if let Some(ev) = self.events.get(id) {
            if ev.owner == owner {
                return Ok(ev.clone());
            }
            return Err(GraphError::item_not_found());
        }
        let (master_id, date) = parse_occurrence_id(id).ok_or_else(GraphError::item_not_found)?;
        let master = self
            .events
            .get(&master_id)
            .filter(|m| m.owner == owner && m.kind == EventKind::SeriesMaster)
            .ok_or_else(GraphError::item_not_found)?;
        if let Some(exception_id) = master.exceptions.get(&date) {
            return self.events.get(exception_id).cloned().ok_or_else(GraphError::item_not_found);
        }
        if master.cancelled_dates.contains(&date) || !self.is_occurrence_date(master, date) {
            return Err(GraphError::item_not_found());
        }
        self.occurrence(master, date)
    }

    fn is_occurrence_date(&self, master: &EventRecord, date: NaiveDate) -> bool {
        master
            .recurrence
            .as_ref()
            .is_some_and(|r| recurrence::occurrence_dates(r, date, date, 1).first() == Some(&date))
    }

    /// Builds the occurrence of `master` on `date` (a local date in the master's start zone).
    pub fn occurrence(&self, master: &EventRecord, date: NaiveDate) -> Result<EventRecord, GraphError> {
        let local_start = wire::from_utc(master.start, &master.start_tz)?;
        let start = wire::to_utc(date.and_time(local_start.time()), &master.start_tz)?;
        let mut occ = master.clone();
        occ.id = occurrence_id(&master.id, date);
        occ.kind = EventKind::Occurrence;
        occ.series_master_id = Some(master.id.clone());
        occ.recurrence = None;
        occ.ical_uid = format!("{}{}", master.ical_uid, date.format("%Y%m%d"));
        occ.end = start + (master.end - master.start);
        occ.start = start;
        occ.original_date = Some(date);
        occ.original_start = Some(start);
        occ.exceptions.clear();
        occ.cancelled_dates.clear();
        Ok(occ)
    }

    /// Every instance (single events, occurrences, exceptions; never masters) of `owner`'s
    /// calendar overlapping `[start, end)`, ordered by start then id.
    pub fn instances_in(&self, owner: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<EventRecord> {
        let mut out: Vec<EventRecord> = Vec::new();
        for ev in self.events.values().filter(|e| e.owner == owner) {
            match ev.kind {
                EventKind::SingleInstance | EventKind::Exception => {
                    if ev.start < end && ev.end > start {
                        out.push(ev.clone());
                    }
                }
                EventKind::SeriesMaster => out.extend(self.occurrences_in(ev, start, end)),
                EventKind::Occurrence => {}
            }
        }
        sort_instances(&mut out);
        out
    }

    /// Occurrences (not exceptions) of a master overlapping `[start, end)`.
    pub fn occurrences_in(&self, master: &EventRecord, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<EventRecord> {
        let Some(rec) = &master.recurrence else { return Vec::new() };
        let duration = master.end - master.start;
        // Local dates are at most a day away from UTC dates; widen and filter precisely below.
        let from = (start - duration - Duration::days(1)).date_naive();
        let to = (end + Duration::days(1)).date_naive();
        recurrence::occurrence_dates(rec, from, to, 5_000)
            .into_iter()
            .filter(|d| !master.cancelled_dates.contains(d) && !master.exceptions.contains_key(d))
            .filter_map(|d| self.occurrence(master, d).ok())
            .filter(|o| o.start < end && o.end > start)
            .collect()
    }

    /// Exceptions of a master overlapping `[start, end)`.
    pub fn exceptions_in(&self, master: &EventRecord, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<EventRecord> {
        master
            .exceptions
            .values()
            .filter_map(|id| self.events.get(id))
            .filter(|e| e.start < end && e.end > start)
            .cloned()
            .collect()
    }

    /// Keeps attendees' copies of an organiser's event in step with it, as Exchange does when
    /// it delivers invitations and updates to mailboxes of the same organisation. Rooms accept
    /// automatically; a room's copy of a cancelled meeting is removed, a person's is marked
    /// cancelled.
    pub fn sync_attendee_copies(
        &mut self,
        organizer_event_id: &str,
        now: DateTime<Utc>,
        new_id: &mut dyn FnMut() -> (String, String),
    ) -> Vec<Change> {
        let Some(org) = self.events.get(organizer_event_id).cloned() else { return Vec::new() };
        if !org.is_organizer || org.kind == EventKind::Exception {
            return Vec::new();
        }
        let Some(organizer_user) = self.users.get(&org.owner).cloned() else { return Vec::new() };
        let mut invited: Vec<String> = org
            .attendees
            .iter()
            .filter_map(|a| a.pointer("/emailAddress/address").and_then(Value::as_str))
            .filter_map(|addr| self.user_by_mail(&organizer_user.tenant_id, addr))
            .filter(|u| u.id != org.owner)
            .map(|u| u.id.clone())
            .collect();
        invited.sort();
        invited.dedup();
        let mut changes = Vec::new();
        let existing: Vec<(String, String)> = self
            .events
            .values()
            .filter(|e| e.organizer_event.as_deref() == Some(organizer_event_id))
            .map(|e| (e.owner.clone(), e.id.clone()))
            .collect();
        for (owner, id) in &existing {
            if !invited.contains(owner) || org.is_cancelled {
                changes.extend(self.cancel_copy(id, now, new_id));
            }
        }
        if org.is_cancelled {
            return changes;
        }
        for owner in invited {
            let is_room = self.users.get(&owner).is_some_and(|u| u.kind == super::model::MailboxKind::Room);
            let current = existing.iter().find(|(o, _)| *o == owner).map(|(_, id)| id.clone());
            let (change_key, fresh_id) = new_id();
            let mut copy = org.clone();
            copy.owner = owner.clone();
            copy.is_organizer = false;
            copy.organizer_event = Some(org.id.clone());
            copy.extended.clear();
            copy.change_key = change_key;
            copy.last_modified = now;
            copy.response_status = if is_room {
                json!({"response": "accepted", "time": wire::format_instant(now)})
            } else {
                json!({"response": "notResponded", "time": "0001-01-01T00:00:00Z"})
            };
            let change_type = match current {
                Some(id) => {
                    copy.id = id;
                    if let Some(old) = self.events.get(&copy.id) {
                        copy.created = old.created;
                        copy.response_status = old.response_status.clone();
                        copy.extended = old.extended.clone();
                    }
                    ChangeType::Updated
                }
                None => {
                    copy.id = fresh_id;
                    copy.created = now;
                    ChangeType::Created
                }
            };
            let etag = etag(&copy.change_key);
            changes.push(Change { user_id: owner, event_id: copy.id.clone(), change_type, etag: Some(etag) });
            self.events.insert(copy.id.clone(), copy);
        }
        changes
    }

    fn cancel_copy(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        new_id: &mut dyn FnMut() -> (String, String),
    ) -> Vec<Change> {
        let Some(copy) = self.events.get(id).cloned() else { return Vec::new() };
        let is_room = self.users.get(&copy.owner).is_some_and(|u| u.kind == super::model::MailboxKind::Room);
        if is_room {
            self.events.remove(id);
            return vec![Change {
                user_id: copy.owner,
                event_id: copy.id,
                change_type: ChangeType::Deleted,
                etag: None,
            }];
        }
        if copy.is_cancelled {
            return Vec::new();
        }
        let (change_key, _) = new_id();
        let mut cancelled = copy;
        cancelled.is_cancelled = true;
        if !cancelled.subject.starts_with("Canceled: ") {
            cancelled.subject = format!("Canceled: {}", cancelled.subject);
        }
        cancelled.change_key = change_key;
        cancelled.last_modified = now;
        let change = Change {
            user_id: cancelled.owner.clone(),
            event_id: cancelled.id.clone(),
            change_type: ChangeType::Updated,
            etag: Some(etag(&cancelled.change_key)),
        };
        self.events.insert(cancelled.id.clone(), cancelled);
        vec![change]
    }
}

/// `W/"{changeKey}"`.
pub fn etag(change_key: &str) -> String {
    format!("W/\"{change_key}\"")
}

/// Orders instances by start, then id, so paging is stable.
pub fn sort_instances(items: &mut [EventRecord]) {
    items.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrence_ids_round_trip() {
        let date = NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
        let id = occurrence_id("AAMkAbc-_=", date);
        assert_eq!(parse_occurrence_id(&id), Some(("AAMkAbc-_=".to_owned(), date)));
        assert_eq!(parse_occurrence_id("AAMkOther"), None);
    }
}

//! Mailbox snapshots and recovery. A snapshot is a mailbox's state at its sequence number,
//! sealed whole (the state holds subjects and attendees), with `eventsNext`: the offset of the
//! `mailbox-events` partition from which the events it does not contain may follow.
//!
//! The owner of a partition writes a checkpoint now and then: a snapshot of every mailbox of
//! the partition, all with the same `eventsNext` (the partition's end at that moment; no event
//! of the partition is being appended meanwhile, because its records are processed one at a
//! time). A mailbox whose state is too large for a log record gets a *left-out* record instead
//! (no state): recovery folds that mailbox's whole history. A checkpoint is complete once every
//! one of its records is acknowledged; each record carries `completeBefore`, the position of
//! the last checkpoint its writer knew to be complete (0: none). Every mailbox with events
//! before that position has a record at or after it, so it is a safe place to start folding.
//!
//! Recovery reads the latest record of each mailbox and folds the events from the smaller of
//! the smallest `eventsNext` and the largest `completeBefore` on, skipping events a snapshot
//! already contains (by sequence number). That is correct after compaction removed superseded
//! snapshots (a newer snapshot only makes the fold skip more) and after a checkpoint cut short
//! by a crash or a refused append: a mailbox the checkpoint missed either has an older record
//! or had no events before the last complete checkpoint. Should a mailbox's events still not
//! continue its snapshot (a snapshot written by a process that had already lost the partition,
//! say), the fold sets it aside ([`Fold::incomplete`]) and recovery reads its whole history.
//!
//! A sequence number names one event of its mailbox. The same envelope twice (an append
//! retried) is one event and folds once; two *different* events at one sequence number mean
//! that two processes wrote the mailbox's history, and which of them is right cannot be told
//! from the log. The fold then stops with [`FoldError::Conflict`] rather than keep one and drop
//! the other without a word: recovery of the partition fails, loudly and again on every retry,
//! until someone looks.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::envelope::{CodecError, Envelope};
use super::state::MailboxState;
use crate::ids::{MailboxId, TenantId, UserObjectId};
use crate::seal::{self, KeyRing, KeyScope, SealError, Sealed};

/// Version of the stored form.
const VERSION: u32 = 1;

/// Largest snapshot a checkpoint writes, under Kafka's default record limit (1,000,000 bytes
/// with the batch overhead). A larger one is left out: recovery then reads that mailbox's
/// history instead, and the rest of the checkpoint goes on.
pub const MAX_SNAPSHOT_BYTES: usize = 900_000;

/// A mailbox's state (or the note that it was left out) and where in its partition the events
/// after it start.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Which mailbox.
    pub mailbox: MailboxId,
    /// Sequence number of the mailbox's last event when it was taken.
    pub seq: u64,
    /// Its state at `seq`; `None` when it was left out (too large for a log record).
    pub state: Option<MailboxState>,
    /// Offset in the mailbox's `mailbox-events` partition before which every event of the
    /// mailbox is contained in `state`.
    pub events_next: u64,
    /// Offset of the last checkpoint of the partition its writer knew to be complete (0: none).
    pub complete_before: u64,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

impl Snapshot {
    /// A snapshot of `state`.
    pub fn of(
        mailbox: MailboxId,
        state: MailboxState,
        events_next: u64,
        complete_before: u64,
        taken_at: DateTime<Utc>,
    ) -> Self {
        Self { mailbox, seq: state.seq, state: Some(state), events_next, complete_before, taken_at }
    }

    /// The record of a mailbox at `seq` whose state was left out (too large for a record).
    pub fn left_out(
        mailbox: MailboxId,
        seq: u64,
        events_next: u64,
        complete_before: u64,
        taken_at: DateTime<Utc>,
    ) -> Self {
        Self { mailbox, seq, state: None, events_next, complete_before, taken_at }
    }
}

/// The wire form (JSON) of the `mailbox-snapshots` topic; `schemas/mailbox-snapshot.v1.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    tenant_id: TenantId,
    user_id: UserObjectId,
    seq: u64,
    events_next: u64,
    complete_before: u64,
    version: u32,
    taken_at: DateTime<Utc>,
    key_id: String,
    /// The state, or for a left-out record nothing (JSON `null`), sealed either way so that
    /// the clear fields cannot be forged or altered without the key.
    sealed: Sealed,
    /// Why the state is not here (`too_large`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    left_out: Option<String>,
}

/// Additional data binding a sealed part to every clear field recovery relies on.
fn aad(mailbox: &MailboxId, seq: u64, events_next: u64, complete_before: u64, left_out: bool) -> Vec<u8> {
    let kind = if left_out { "left-out" } else { "state" };
    format!("snapshot|{mailbox}|{seq}|{events_next}|{complete_before}|{kind}").into_bytes()
}

/// Serialises a snapshot, sealing the state with the ring's current key.
pub fn encode(snapshot: &Snapshot, ring: &KeyRing) -> Result<Vec<u8>, CodecError> {
    let seq = snapshot.seq;
    let aad = aad(&snapshot.mailbox, seq, snapshot.events_next, snapshot.complete_before, snapshot.state.is_none());
    let scope = KeyScope::Mailbox(snapshot.mailbox);
    let sealed = match &snapshot.state {
        Some(state) => {
            if state.seq != seq {
                return Err(CodecError::Malformed("snapshot sequence number does not match its state".into()));
            }
            seal::seal_for(ring, &scope, &aad, state)?
        }
        None => seal::seal_for(ring, &scope, &aad, &())?,
    };
    let stored = Stored {
        tenant_id: snapshot.mailbox.tenant,
        user_id: snapshot.mailbox.user,
        seq,
        events_next: snapshot.events_next,
        complete_before: snapshot.complete_before,
        version: VERSION,
        taken_at: snapshot.taken_at,
        key_id: sealed.kid.clone(),
        left_out: snapshot.state.is_none().then(|| "too_large".to_owned()),
        sealed,
    };
    serde_json::to_vec(&stored).map_err(|e| CodecError::Malformed(e.to_string()))
}

/// Reads a snapshot, opening its state.
pub fn decode(bytes: &[u8], ring: &KeyRing) -> Result<Snapshot, CodecError> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
    if stored.version != VERSION {
        return Err(CodecError::Malformed(format!("snapshot version {} is not {VERSION}", stored.version)));
    }
    let mailbox = MailboxId { tenant: stored.tenant_id, user: stored.user_id };
    let left_out = stored.left_out.is_some();
    let aad = aad(&mailbox, stored.seq, stored.events_next, stored.complete_before, left_out);
    let opened = if left_out {
        seal::open::<()>(ring, &aad, &stored.sealed).map(|()| None)
    } else {
        seal::open::<MailboxState>(ring, &aad, &stored.sealed).map(Some)
    };
    let state = match opened {
        Ok(Some(state)) if state.seq != stored.seq => {
            return Err(CodecError::Malformed("snapshot sequence number does not match its state".into()));
        }
        Ok(state) => state,
        // Its mailbox was erased: all that is left is an erased mailbox at this sequence number.
        Err(SealError::Erased(_)) => Some(MailboxState { seq: stored.seq, erased: true, ..MailboxState::default() }),
        Err(e) => return Err(e.into()),
    };
    Ok(Snapshot {
        mailbox,
        seq: stored.seq,
        state,
        events_next: stored.events_next,
        complete_before: stored.complete_before,
        taken_at: stored.taken_at,
    })
}

/// The clear fields of a stored snapshot, without opening its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peeked {
    /// Which mailbox.
    pub mailbox: MailboxId,
    /// Sequence number.
    pub seq: u64,
    /// `eventsNext`.
    pub events_next: u64,
    /// `completeBefore`.
    pub complete_before: u64,
}

/// Reads the clear fields of a stored snapshot.
pub fn peek(bytes: &[u8]) -> Result<Peeked, CodecError> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
    Ok(Peeked {
        mailbox: MailboxId { tenant: stored.tenant_id, user: stored.user_id },
        seq: stored.seq,
        events_next: stored.events_next,
        complete_before: stored.complete_before,
    })
}

/// A mailbox as recovery rebuilt it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// Its state.
    pub state: MailboxState,
    /// Offset after its last event in its `mailbox-events` partition (0: none seen).
    pub events_next: u64,
}

/// Why a fold stopped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FoldError {
    /// An event is missing before `seq`.
    #[error("mailbox history has a gap at seq {0}")]
    Gap(u64),
    /// Two different events (different event ids) carry the same sequence number of one
    /// mailbox: two processes wrote its history. Names only the mailbox and the number.
    #[error("mailbox {mailbox} has two different events at seq {seq}: two processes wrote its history")]
    Conflict {
        /// Which mailbox.
        mailbox: MailboxId,
        /// The sequence number both events carry.
        seq: u64,
    },
}

/// The pure part of recovery: the latest snapshots of a partition's mailboxes, then its events.
#[derive(Debug, Default)]
pub struct Fold {
    mailboxes: HashMap<MailboxId, Recovered>,
    /// Mailboxes whose latest record left their state out, with its sequence number.
    left_out: HashMap<MailboxId, u64>,
    /// The smallest `eventsNext` of the records taken in.
    lowest: Option<u64>,
    /// The largest position known complete.
    complete: Option<u64>,
    /// Mailboxes whose events here do not continue what the fold knew of them.
    incomplete: HashSet<MailboxId>,
    /// Per mailbox, the event id of every sequence number read so far (applied or already in
    /// a snapshot), to tell a duplicate from a conflicting event: about 25 bytes per event
    /// read, for the life of the fold.
    seen: HashMap<MailboxId, HashMap<u64, Uuid>>,
}

impl Fold {
    /// An empty fold.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a snapshot into account (call for every snapshot, in any order; the one with the
    /// highest sequence number of a mailbox wins). Its `completeBefore` is not used: call
    /// [`Fold::known_complete`] for the records whose positions should bound the start.
    pub fn snapshot(&mut self, snapshot: Snapshot) {
        self.lowest = Some(self.lowest.map_or(snapshot.events_next, |l| l.min(snapshot.events_next)));
        let known = self
            .mailboxes
            .get(&snapshot.mailbox)
            .map(|r| r.state.seq)
            .or_else(|| self.left_out.get(&snapshot.mailbox).copied());
        if known.is_some_and(|seq| seq >= snapshot.seq) {
            return;
        }
        match snapshot.state {
            Some(state) => {
                self.left_out.remove(&snapshot.mailbox);
                self.mailboxes.insert(snapshot.mailbox, Recovered { state, events_next: snapshot.events_next });
            }
            None => {
                self.mailboxes.remove(&snapshot.mailbox);
                self.left_out.insert(snapshot.mailbox, snapshot.seq);
            }
        }
    }

    /// Makes the fold start at `offset` or earlier: every mailbox with events before `offset`
    /// has a record at or after it (a checkpoint there was complete).
    pub fn known_complete(&mut self, offset: u64) {
        self.complete = Some(self.complete.map_or(offset, |c| c.max(offset)));
    }

    /// The offset of the events partition to fold from: the smaller of the smallest
    /// `eventsNext` taken in and the position known complete (0 with neither).
    pub fn start(&self) -> u64 {
        match (self.lowest, self.complete) {
            (Some(l), Some(c)) => l.min(c),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => 0,
        }
    }

    /// Applies one event read at `offset`: skipped when a snapshot (or an earlier duplicate)
    /// already contains it. In a fold that started from records, an event that does not
    /// continue its mailbox sets the mailbox aside (see [`Fold::incomplete`]); folding from
    /// the very start, that is a gap. An event whose sequence number this fold already read
    /// with another event id is a [`FoldError::Conflict`]; the identical event again (the same
    /// event id) is a duplicate and changes nothing. A conflict wholly inside a snapshot (both
    /// events before the fold's start) is not seen: the snapshot keeps no event ids.
    pub fn event(&mut self, env: &Envelope, offset: u64) -> Result<(), FoldError> {
        if self.incomplete.contains(&env.mailbox) || self.left_out.contains_key(&env.mailbox) {
            // Their whole history is folded anew (by another fold), which sees every event.
            return Ok(());
        }
        // Before anything else, so that an event a snapshot already contains is checked too.
        match self.seen.entry(env.mailbox).or_default().entry(env.seq) {
            Entry::Occupied(first) if *first.get() != env.event_id => {
                return Err(FoldError::Conflict { mailbox: env.mailbox, seq: env.seq });
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(slot) => {
                slot.insert(env.event_id);
            }
        }
        let from_records = self.lowest.is_some() || self.complete.is_some();
        let entry = self.mailboxes.entry(env.mailbox).or_default();
        if env.seq <= entry.state.seq {
            return Ok(());
        }
        if env.seq != entry.state.seq + 1 {
            if from_records {
                self.mailboxes.remove(&env.mailbox);
                self.seen.remove(&env.mailbox);
                self.incomplete.insert(env.mailbox);
                return Ok(());
            }
            return Err(FoldError::Gap(entry.state.seq + 1));
        }
        entry.state.apply(&env.event);
        entry.events_next = entry.events_next.max(offset + 1);
        Ok(())
    }

    /// Mailboxes this fold could not rebuild: left out of their latest checkpoint, or with
    /// events that do not continue what it knew of them. Fold their whole history.
    pub fn incomplete(&self) -> HashSet<MailboxId> {
        self.incomplete.iter().chain(self.left_out.keys()).copied().collect()
    }

    /// The position known complete (0: none), for the next checkpoint's `completeBefore`.
    pub fn complete(&self) -> u64 {
        self.complete.unwrap_or(0)
    }

    /// The recovered mailboxes (without the [`Fold::incomplete`] ones).
    pub fn finish(self) -> HashMap<MailboxId, Recovered> {
        self.mailboxes
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::mailbox::events::MailboxEvent;
    use crate::seal::DataKey;

    fn mailbox(n: u8) -> MailboxId {
        MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse(&format!("00000000-0000-0000-0000-0000000000{n:02x}")).unwrap(),
        }
    }

    fn env(mailbox: MailboxId, seq: u64, event: MailboxEvent) -> Envelope {
        Envelope { event_id: Uuid::new_v4(), mailbox, seq, occurred_at: Utc::now(), causation_id: "t".into(), event }
    }

    fn enabled(locale: &str) -> MailboxEvent {
        MailboxEvent::MailboxEnabled { locale: Some(locale.into()) }
    }

    fn state_after(events: &[MailboxEvent]) -> MailboxState {
        let mut state = MailboxState::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    #[test]
    fn snapshots_are_sealed_and_bound_to_their_position() {
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let mut state = state_after(&[enabled("tr-TR")]);
        state.setup_error = Some(("SENTINEL-REASON".into(), None));
        let snap = Snapshot::of(mailbox(1), state, 42, 17, Utc::now());
        let bytes = encode(&snap, &ring).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("SENTINEL") && !text.contains("tr-TR"), "{text}");
        assert!(text.contains("\"eventsNext\":42") && text.contains("\"keyId\":\"k1\""), "{text}");
        assert!(text.contains("\"completeBefore\":17") && !text.contains("leftOut"), "{text}");
        assert_eq!(decode(&bytes, &ring).unwrap(), snap);
        // A snapshot's sealed state cannot be moved to another position or mailbox.
        let moved = text.replace("\"eventsNext\":42", "\"eventsNext\":7");
        assert!(matches!(decode(moved.as_bytes(), &ring), Err(CodecError::Seal(_))));
        // Nor can the position known complete be altered, or the record be made a left-out one.
        let altered = text.replace("\"completeBefore\":17", "\"completeBefore\":40");
        assert!(matches!(decode(altered.as_bytes(), &ring), Err(CodecError::Seal(_))));
        let forged = text.replacen('{', "{\"leftOut\":\"too_large\",", 1);
        assert!(matches!(decode(forged.as_bytes(), &ring), Err(CodecError::Seal(_))));
        let other = KeyRing::new(DataKey::generate("k2").unwrap());
        assert!(decode(&bytes, &other).is_err());
    }

    #[test]
    fn recovery_from_a_snapshot_skips_what_it_contains_and_folds_the_rest() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        // a: snapshot at seq 1 taken when the partition ended at offset 3.
        fold.snapshot(Snapshot::of(a, state_after(&[enabled("en-US")]), 3, 0, Utc::now()));
        assert_eq!(fold.start(), 3);
        // Events from offset 3: a's seq 1 (which the snapshot contains), then its seq 2; b's
        // first event, and the same envelope again (an append retried).
        fold.event(&env(a, 1, enabled("en-US")), 3).unwrap();
        let b1 = env(b, 1, enabled("de-DE"));
        fold.event(&b1, 4).unwrap();
        fold.event(&env(a, 2, MailboxEvent::MailboxDisabled {}), 5).unwrap();
        fold.event(&b1, 6).unwrap();
        let out = fold.finish();
        assert!(!out[&a].state.enabled && out[&a].state.seq == 2 && out[&a].events_next == 6);
        assert_eq!(out[&b].state, state_after(&[enabled("de-DE")]));
        assert_eq!(out[&b].events_next, 5);
    }

    #[test]
    fn the_newest_snapshot_of_a_mailbox_wins_and_the_oldest_position_is_the_start() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        let two = state_after(&[enabled("en-US"), MailboxEvent::MailboxDisabled {}]);
        fold.snapshot(Snapshot::of(a, two.clone(), 9, 0, Utc::now()));
        fold.snapshot(Snapshot::of(a, state_after(&[enabled("en-US")]), 4, 0, Utc::now()));
        fold.snapshot(Snapshot::of(b, state_after(&[enabled("de-DE")]), 6, 0, Utc::now()));
        assert_eq!(fold.start(), 4);
        assert_eq!(fold.finish()[&a].state, two);
    }

    #[test]
    fn a_mailbox_without_a_snapshot_that_began_before_the_start_is_set_aside() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        fold.snapshot(Snapshot::of(a, state_after(&[enabled("en-US")]), 10, 0, Utc::now()));
        // b's events 1..=3 lie before offset 10; the checkpoint at 10 missed b.
        fold.event(&env(b, 4, MailboxEvent::MailboxDisabled {}), 11).unwrap();
        fold.event(&env(b, 5, enabled("de-DE")), 12).unwrap();
        fold.event(&env(a, 2, MailboxEvent::MailboxDisabled {}), 13).unwrap();
        assert_eq!(fold.incomplete().iter().collect::<Vec<_>>(), vec![&b]);
        let out = fold.finish();
        assert_eq!(out.keys().collect::<Vec<_>>(), vec![&a]);
        // Folded from offset 0 there is nothing before the start: a gap stays a gap.
        let mut whole = Fold::new();
        assert_eq!(whole.event(&env(b, 4, MailboxEvent::MailboxDisabled {}), 11), Err(FoldError::Gap(1)));
    }

    #[test]
    fn a_left_out_record_has_no_state_and_sends_its_mailbox_to_the_whole_history() {
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let (a, b) = (mailbox(1), mailbox(2));
        let left_out = Snapshot::left_out(b, 4, 10, 6, Utc::now());
        let bytes = encode(&left_out, &ring).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"leftOut\":\"too_large\"") && text.contains("\"keyId\":\"k1\""), "{text}");
        assert_eq!(decode(&bytes, &ring).unwrap(), left_out);
        // Without the key, a left-out record cannot be forged.
        assert!(decode(&bytes, &KeyRing::new(DataKey::generate("k1").unwrap())).is_err());
        assert_eq!(peek(&bytes).unwrap(), Peeked { mailbox: b, seq: 4, events_next: 10, complete_before: 6 });

        let mut fold = Fold::new();
        // An older snapshot of b loses to the newer left-out record, whatever the order.
        fold.snapshot(left_out.clone());
        fold.snapshot(Snapshot::of(b, state_after(&[enabled("de-DE")]), 3, 0, Utc::now()));
        fold.snapshot(Snapshot::of(a, state_after(&[enabled("en-US")]), 10, 6, Utc::now()));
        fold.known_complete(6);
        assert_eq!(fold.start(), 3);
        fold.event(&env(b, 5, MailboxEvent::MailboxDisabled {}), 11).unwrap();
        assert_eq!(fold.incomplete().into_iter().collect::<Vec<_>>(), vec![b]);
        assert_eq!(fold.finish().keys().collect::<Vec<_>>(), vec![&a]);
        // A newer full snapshot wins over the left-out record.
        let mut fold = Fold::new();
        fold.snapshot(left_out);
        fold.snapshot(Snapshot::of(
            b,
            state_after(&(0..5).map(|_| enabled("de-DE")).collect::<Vec<_>>()),
            12,
            10,
            Utc::now(),
        ));
        assert!(fold.incomplete().is_empty());
    }

    #[test]
    fn the_start_is_no_later_than_the_position_known_complete() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        fold.snapshot(Snapshot::of(a, state_after(&[enabled("en-US")]), 12, 8, Utc::now()));
        assert_eq!(fold.start(), 12, "one mailbox's own snapshot: from its position");
        fold.known_complete(8);
        fold.known_complete(5);
        assert_eq!(fold.start(), 8, "a mailbox without a record had no events before 8");
        // b has no record; its first event after 8 is its first event.
        fold.event(&env(b, 1, enabled("de-DE")), 9).unwrap();
        assert!(fold.incomplete().is_empty());
        assert_eq!(fold.complete(), 8);
        // Nothing known complete: from the start of the partition.
        let mut fresh = Fold::new();
        fresh.snapshot(Snapshot::of(a, state_after(&[enabled("en-US")]), 12, 0, Utc::now()));
        fresh.known_complete(0);
        assert_eq!(fresh.start(), 0);
    }

    #[test]
    fn events_that_do_not_continue_a_snapshot_set_the_mailbox_aside() {
        let a = mailbox(1);
        let mut fold = Fold::new();
        // A snapshot at seq 1 whose writer had lost the partition: the event at seq 2 lies
        // before its position, so the fold sees seq 3 next.
        fold.snapshot(Snapshot::of(a, state_after(&[enabled("en-US")]), 10, 0, Utc::now()));
        fold.event(&env(a, 3, MailboxEvent::MailboxDisabled {}), 11).unwrap();
        assert_eq!(fold.incomplete().into_iter().collect::<Vec<_>>(), vec![a]);
        assert!(fold.finish().is_empty());
    }

    #[test]
    fn two_different_events_at_one_seq_are_a_conflict_and_one_event_twice_is_a_duplicate() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        let first = env(a, 1, enabled("en-US"));
        fold.event(&first, 0).unwrap();
        // The identical envelope again (an append retried): accepted, folded once.
        fold.event(&first, 1).unwrap();
        fold.event(&env(a, 2, MailboxEvent::MailboxDisabled {}), 2).unwrap();
        fold.event(&env(b, 1, enabled("de-DE")), 3).unwrap();
        fold.event(&first, 4).unwrap();
        // Another event at seq 2 of a (a second writer): the fold stops, naming the mailbox
        // and the sequence number and nothing of the events.
        let err = fold.event(&env(a, 2, enabled("SENTINEL-LOCALE")), 5).unwrap_err();
        assert_eq!(err, FoldError::Conflict { mailbox: a, seq: 2 });
        let text = err.to_string();
        assert!(text.contains(&a.to_string()) && text.contains("seq 2"), "{text}");
        assert!(!text.contains("SENTINEL") && !text.contains("en-US"), "{text}");
        // The same sequence number in another mailbox is no conflict.
        let mut other = Fold::new();
        other.event(&env(a, 1, enabled("en-US")), 0).unwrap();
        other.event(&env(b, 1, enabled("en-US")), 1).unwrap();
        assert_eq!(other.finish().len(), 2);
    }

    #[test]
    fn a_conflict_among_events_a_snapshot_contains_stops_the_fold_too() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        // a's snapshot contains its seq 1 and 2 (up to offset 10); b's starts the fold at 5.
        let two = state_after(&[enabled("en-US"), MailboxEvent::MailboxDisabled {}]);
        fold.snapshot(Snapshot::of(a, two, 10, 0, Utc::now()));
        fold.snapshot(Snapshot::of(b, state_after(&[enabled("de-DE")]), 5, 0, Utc::now()));
        assert_eq!(fold.start(), 5);
        let a2 = env(a, 2, MailboxEvent::MailboxDisabled {});
        fold.event(&a2, 6).unwrap();
        fold.event(&a2, 7).unwrap();
        assert_eq!(fold.event(&env(a, 2, enabled("fr-FR")), 8), Err(FoldError::Conflict { mailbox: a, seq: 2 }));
    }

    #[test]
    fn a_missing_event_is_a_gap() {
        let mut fold = Fold::new();
        fold.event(&env(mailbox(1), 1, enabled("en-US")), 0).unwrap();
        assert_eq!(fold.event(&env(mailbox(1), 3, MailboxEvent::MailboxDisabled {}), 1), Err(FoldError::Gap(2)));
    }
}

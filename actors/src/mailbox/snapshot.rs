//! Mailbox snapshots and recovery. A snapshot is a mailbox's state at its sequence number,
//! sealed whole (the state holds subjects and attendees), with `eventsNext`: the offset of the
//! `mailbox-events` partition from which the events it does not contain may follow.
//!
//! The owner of a partition writes a checkpoint now and then: a snapshot of every mailbox of
//! the partition, all with the same `eventsNext` (the partition's end at that moment; no event
//! of the partition is being appended meanwhile, because its records are processed one at a
//! time). Recovery reads the latest snapshot of each mailbox and folds the events from the
//! smallest `eventsNext` among them on, skipping events a snapshot already contains (by
//! sequence number). That is correct after compaction removed superseded snapshots (a snapshot
//! newer than the start only makes the fold skip more) and after a checkpoint cut short (by a
//! crash, or a snapshot the log refused): a mailbox left without any snapshot whose history
//! began before the start shows up as a first event after sequence number 1; the fold sets it
//! aside ([`Fold::incomplete`]) and recovery reads that mailbox's whole history instead.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::envelope::{CodecError, Envelope};
use super::state::MailboxState;
use crate::ids::{MailboxId, TenantId, UserObjectId};
use crate::seal::{self, KeyRing, Sealed};

/// Version of the stored form.
const VERSION: u32 = 1;

/// A mailbox's state and where in its partition the events after it start.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Which mailbox.
    pub mailbox: MailboxId,
    /// Its state (including `seq`).
    pub state: MailboxState,
    /// Offset in the mailbox's `mailbox-events` partition before which every event of the
    /// mailbox is contained in `state`.
    pub events_next: u64,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// The wire form (JSON) of the `mailbox-snapshots` topic; `schemas/mailbox-snapshot.v1.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    tenant_id: TenantId,
    user_id: UserObjectId,
    seq: u64,
    events_next: u64,
    version: u32,
    taken_at: DateTime<Utc>,
    key_id: String,
    sealed: Sealed,
}

fn aad(mailbox: &MailboxId, seq: u64, events_next: u64) -> Vec<u8> {
    format!("snapshot|{mailbox}|{seq}|{events_next}").into_bytes()
}

/// Serialises a snapshot, sealing the state with the ring's current key.
pub fn encode(snapshot: &Snapshot, ring: &KeyRing) -> Result<Vec<u8>, CodecError> {
    let seq = snapshot.state.seq;
    let sealed = seal::seal(ring, &aad(&snapshot.mailbox, seq, snapshot.events_next), &snapshot.state)?;
    let stored = Stored {
        tenant_id: snapshot.mailbox.tenant,
        user_id: snapshot.mailbox.user,
        seq,
        events_next: snapshot.events_next,
        version: VERSION,
        taken_at: snapshot.taken_at,
        key_id: sealed.kid.clone(),
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
    let state: MailboxState = seal::open(ring, &aad(&mailbox, stored.seq, stored.events_next), &stored.sealed)?;
    if state.seq != stored.seq {
        return Err(CodecError::Malformed("snapshot sequence number does not match its state".into()));
    }
    Ok(Snapshot { mailbox, state, events_next: stored.events_next, taken_at: stored.taken_at })
}

/// The clear fields of a stored snapshot (mailbox, sequence number, `eventsNext`), without
/// opening its state.
pub fn peek(bytes: &[u8]) -> Result<(MailboxId, u64, u64), CodecError> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
    Ok((MailboxId { tenant: stored.tenant_id, user: stored.user_id }, stored.seq, stored.events_next))
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
}

/// The pure part of recovery: the latest snapshots of a partition's mailboxes, then its events.
#[derive(Debug, Default)]
pub struct Fold {
    mailboxes: HashMap<MailboxId, Recovered>,
    start: Option<u64>,
    /// Mailboxes without a snapshot whose history began before `start`.
    incomplete: HashSet<MailboxId>,
}

impl Fold {
    /// An empty fold.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a snapshot into account (call for every snapshot, in any order; the one with the
    /// highest sequence number of a mailbox wins).
    pub fn snapshot(&mut self, snapshot: Snapshot) {
        self.lower_start(snapshot.events_next);
        let recovered = Recovered { state: snapshot.state, events_next: snapshot.events_next };
        match self.mailboxes.entry(snapshot.mailbox) {
            Entry::Vacant(v) => {
                v.insert(recovered);
            }
            Entry::Occupied(mut o) if recovered.state.seq > o.get().state.seq => {
                o.insert(recovered);
            }
            Entry::Occupied(_) => {}
        }
    }

    /// Makes the fold start at `offset` or earlier: for a recovery of one mailbox that has no
    /// snapshot, the smallest position among the other mailboxes' snapshots.
    pub fn lower_start(&mut self, offset: u64) {
        self.start = Some(self.start.map_or(offset, |s| s.min(offset)));
    }

    /// The offset of the events partition to fold from: the smallest `eventsNext` of the
    /// snapshots seen (0 without any).
    pub fn start(&self) -> u64 {
        self.start.unwrap_or(0)
    }

    /// Applies one event read at `offset`: skipped when a snapshot (or an earlier duplicate)
    /// already contains it.
    /// A mailbox that has no snapshot and whose first event here is not its first one began
    /// before the fold's start: it is set aside (see [`Fold::incomplete`]), not a gap.
    pub fn event(&mut self, env: &Envelope, offset: u64) -> Result<(), FoldError> {
        if self.incomplete.contains(&env.mailbox) {
            return Ok(());
        }
        let began_before_start = self.start() > 0;
        let entry = self.mailboxes.entry(env.mailbox).or_default();
        if env.seq <= entry.state.seq {
            return Ok(());
        }
        if env.seq != entry.state.seq + 1 {
            if entry.state.seq == 0 && began_before_start {
                self.mailboxes.remove(&env.mailbox);
                self.incomplete.insert(env.mailbox);
                return Ok(());
            }
            return Err(FoldError::Gap(entry.state.seq + 1));
        }
        entry.state.apply(&env.event);
        entry.events_next = entry.events_next.max(offset + 1);
        Ok(())
    }

    /// Mailboxes this fold could not rebuild because their history began before its start
    /// and they have no snapshot (a checkpoint that missed them): fold their whole history.
    pub fn incomplete(&self) -> &HashSet<MailboxId> {
        &self.incomplete
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
        let ring = KeyRing::new(DataKey::generate("k1"));
        let mut state = state_after(&[enabled("tr-TR")]);
        state.setup_error = Some(("SENTINEL-REASON".into(), None));
        let snap = Snapshot { mailbox: mailbox(1), state, events_next: 42, taken_at: Utc::now() };
        let bytes = encode(&snap, &ring).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("SENTINEL") && !text.contains("tr-TR"), "{text}");
        assert!(text.contains("\"eventsNext\":42") && text.contains("\"keyId\":\"k1\""), "{text}");
        assert_eq!(decode(&bytes, &ring).unwrap(), snap);
        // A snapshot's sealed state cannot be moved to another position or mailbox.
        let moved = text.replace("\"eventsNext\":42", "\"eventsNext\":7");
        assert!(matches!(decode(moved.as_bytes(), &ring), Err(CodecError::Seal(_))));
        let other = KeyRing::new(DataKey::generate("k2"));
        assert!(decode(&bytes, &other).is_err());
    }

    #[test]
    fn recovery_from_a_snapshot_skips_what_it_contains_and_folds_the_rest() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        // a: snapshot at seq 1 taken when the partition ended at offset 3.
        fold.snapshot(Snapshot {
            mailbox: a,
            state: state_after(&[enabled("en-US")]),
            events_next: 3,
            taken_at: Utc::now(),
        });
        assert_eq!(fold.start(), 3);
        // Events from offset 3: a duplicate of a's seq 1, then its seq 2; b's first events.
        fold.event(&env(a, 1, enabled("en-US")), 3).unwrap();
        fold.event(&env(b, 1, enabled("de-DE")), 4).unwrap();
        fold.event(&env(a, 2, MailboxEvent::MailboxDisabled {}), 5).unwrap();
        fold.event(&env(b, 1, enabled("de-DE")), 6).unwrap();
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
        fold.snapshot(Snapshot { mailbox: a, state: two.clone(), events_next: 9, taken_at: Utc::now() });
        fold.snapshot(Snapshot {
            mailbox: a,
            state: state_after(&[enabled("en-US")]),
            events_next: 4,
            taken_at: Utc::now(),
        });
        fold.snapshot(Snapshot {
            mailbox: b,
            state: state_after(&[enabled("de-DE")]),
            events_next: 6,
            taken_at: Utc::now(),
        });
        assert_eq!(fold.start(), 4);
        assert_eq!(fold.finish()[&a].state, two);
    }

    #[test]
    fn a_mailbox_without_a_snapshot_that_began_before_the_start_is_set_aside() {
        let (a, b) = (mailbox(1), mailbox(2));
        let mut fold = Fold::new();
        fold.snapshot(Snapshot {
            mailbox: a,
            state: state_after(&[enabled("en-US")]),
            events_next: 10,
            taken_at: Utc::now(),
        });
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
    fn a_missing_event_is_a_gap() {
        let mut fold = Fold::new();
        fold.event(&env(mailbox(1), 1, enabled("en-US")), 0).unwrap();
        assert_eq!(fold.event(&env(mailbox(1), 3, MailboxEvent::MailboxDisabled {}), 1), Err(FoldError::Gap(2)));
    }
}

//! Mailbox recovery from snapshots over a real store (the embedded SQLite log on disk): the
//! state recovered from the latest snapshots plus the events after them equals the fold of
//! every event, also after a checkpoint cut short (even the first one, leaving a mailbox with
//! no snapshot at all) and with a duplicated event; recovery reads only the tail of the events
//! partition; and two different events at one sequence number fail the recovery.

// Test helpers: a failed set-up call must fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use hcal::log::sqlite::SqliteStore;
use hcal::runtime::recovery::recover_partition;
use hcal_actors::ids::{MailboxId, TenantId, UserObjectId};
use hcal_actors::log::{EventLog, LogError, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, Record, partition_for};
use hcal_actors::mailbox::actor::ProcessError;
use hcal_actors::mailbox::envelope::{self, Envelope};
use hcal_actors::mailbox::events::MailboxEvent;
use hcal_actors::mailbox::snapshot::{self, Fold, Recovered, Snapshot};
use hcal_actors::seal::{DataKey, KeyRing};

const PARTITIONS: u32 = 2;

/// The store, counting the event records recovery reads.
struct Counting {
    store: SqliteStore,
    events_read: AtomicUsize,
}

#[async_trait]
impl EventLog for Counting {
    fn partitions(&self, topic: &str) -> u32 {
        self.store.partitions(topic)
    }
    async fn append(&self, topic: &str, key: &str, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        self.store.append(topic, key, payloads).await
    }
    async fn read(&self, topic: &str, partition: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
        let records = self.store.read(topic, partition, from, max).await?;
        if topic == MAILBOX_EVENTS {
            self.events_read.fetch_add(records.len(), Ordering::SeqCst);
        }
        Ok(records)
    }
    async fn wait(&self, topic: &str, partition: u32, from: u64, timeout: Duration) {
        self.store.wait(topic, partition, from, timeout).await
    }
    async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        self.store.committed(group, topic, partition).await
    }
    async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError> {
        self.store.commit(group, topic, partition, next).await
    }
}

struct World {
    log: Arc<Counting>,
    ring: KeyRing,
    seq: HashMap<MailboxId, u64>,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), PARTITIONS).unwrap();
        Self {
            log: Arc::new(Counting { store, events_read: AtomicUsize::new(0) }),
            ring: KeyRing::new(DataKey::generate("k1").unwrap()),
            seq: HashMap::new(),
            _dir: dir,
        }
    }

    /// Appends the mailbox's next event; returns its envelope.
    async fn event(&mut self, mailbox: MailboxId, event: MailboxEvent) -> Envelope {
        let seq = self.seq.entry(mailbox).or_default();
        *seq += 1;
        let env = Envelope {
            event_id: uuid::Uuid::new_v4(),
            mailbox,
            seq: *seq,
            occurred_at: Utc::now(),
            causation_id: "test".into(),
            event,
        };
        self.append(&env).await;
        env
    }

    async fn append(&self, env: &Envelope) {
        let payload = envelope::encode(env, &self.ring).unwrap();
        self.log.append(MAILBOX_EVENTS, &env.mailbox.to_string(), vec![payload]).await.unwrap();
    }

    /// A checkpoint of `mailboxes` (their states as a full fold says) at the partition's end,
    /// which it returns; `left_out` get a record without their state.
    async fn checkpoint(&self, partition: u32, mailboxes: &[MailboxId], left_out: &[MailboxId], complete: u64) -> u64 {
        let now = reference(&self.log.store, &self.ring, partition).await;
        let end = now.values().map(|r| r.events_next).max().unwrap_or(0);
        for m in mailboxes {
            let state = now[m].state.clone();
            let snap = if left_out.contains(m) {
                Snapshot::left_out(*m, state.seq, end, complete, Utc::now())
            } else {
                Snapshot::of(*m, state, end, complete, Utc::now())
            };
            let payload = snapshot::encode(&snap, &self.ring).unwrap();
            self.log.append(MAILBOX_SNAPSHOTS, &m.to_string(), vec![payload]).await.unwrap();
        }
        end
    }
}

/// Every event of the partition folded from its start, without snapshots.
async fn reference(store: &SqliteStore, ring: &KeyRing, partition: u32) -> HashMap<MailboxId, Recovered> {
    let mut fold = Fold::new();
    for record in store.read(MAILBOX_EVENTS, partition, 0, 100_000).await.unwrap() {
        fold.event(&envelope::decode(&record.payload, ring).unwrap(), record.offset).unwrap();
    }
    fold.finish()
}

fn mailboxes_on(partition: u32, n: usize) -> Vec<MailboxId> {
    let tenant = TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
    (1u32..)
        .map(|i| MailboxId { tenant, user: UserObjectId::parse(&format!("00000000-0000-0000-0000-{i:012x}")).unwrap() })
        .filter(|m| partition_for(&m.to_string(), PARTITIONS) == partition)
        .take(n)
        .collect()
}

fn enabled(locale: &str) -> MailboxEvent {
    MailboxEvent::MailboxEnabled { locale: Some(locale.into()) }
}

fn renewed(n: u32) -> MailboxEvent {
    MailboxEvent::SubscriptionRenewed { subscription_id: format!("sub-{n}"), expires_at: Utc::now() }
}

#[tokio::test]
async fn recovery_from_snapshots_equals_the_full_fold_and_reads_only_the_tail() {
    let mut w = World::new();
    let p = 0;
    let ms = mailboxes_on(p, 4);
    for (i, m) in ms.iter().enumerate() {
        w.event(*m, enabled(["en-US", "tr-TR", "de-DE", "fr-FR"][i])).await;
    }
    for round in 0..50 {
        for m in &ms[..3] {
            w.event(*m, renewed(round)).await;
        }
    }
    // A complete checkpoint, then a cut-short one (only the first mailbox got its snapshot);
    // its writer knew the first was complete.
    let first = w.checkpoint(p, &ms, &[], 0).await;
    for m in &ms {
        w.event(*m, renewed(100)).await;
    }
    w.checkpoint(p, &ms[..1], &[], first).await;
    // After it: more events, a duplicated record (an append retried), a mailbox never
    // snapshotted before and one disabled.
    let last = w.event(ms[1], renewed(200)).await;
    w.append(&last).await;
    let newcomer = mailboxes_on(p, 5)[4];
    w.event(newcomer, enabled("it-IT")).await;
    w.event(ms[2], MailboxEvent::MailboxDisabled {}).await;

    let expected = reference(&w.log.store, &w.ring, p).await;
    let total = w.log.store.read(MAILBOX_EVENTS, p, 0, 100_000).await.unwrap().len();
    w.log.events_read.store(0, Ordering::SeqCst);
    let recovered = recover_partition(w.log.as_ref(), &w.ring, p, None).await.unwrap();
    let read = w.log.events_read.load(Ordering::SeqCst);
    assert_eq!(recovered.len(), 5);
    for (m, r) in &expected {
        assert_eq!(recovered[m].state, r.state, "{m}");
        // A snapshot's position is the partition's end when it was taken: at or after the
        // mailbox's own last event.
        assert!(recovered[m].events_next >= r.events_next, "{m}");
    }
    assert!(read * 10 < total, "recovery read {read} of {total} event records");

    // One mailbox alone, with and without a snapshot of its own.
    for m in [ms[1], newcomer] {
        let one = recover_partition(w.log.as_ref(), &w.ring, p, Some(m)).await.unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[&m].state, expected[&m].state);
    }
}

#[tokio::test]
async fn an_unreadable_snapshot_falls_back_to_the_full_fold() {
    let mut w = World::new();
    let p = 1;
    let ms = mailboxes_on(p, 2);
    for m in &ms {
        w.event(*m, enabled("en-US")).await;
        w.event(*m, renewed(1)).await;
    }
    w.checkpoint(p, &ms, &[], 0).await;
    w.event(ms[0], renewed(2)).await;
    let expected = reference(&w.log.store, &w.ring, p).await;
    // A snapshot sealed with a key this installation no longer has (and wrong, so using it
    // would show): recovery cannot open it and folds the whole partition instead.
    let mut stale = expected[&ms[1]].state.clone();
    stale.enabled = false;
    stale.seq = 9;
    let foreign = Snapshot::of(ms[1], stale, 1000, 0, Utc::now());
    let payload = snapshot::encode(&foreign, &KeyRing::new(DataKey::generate("retired").unwrap())).unwrap();
    w.log.append(MAILBOX_SNAPSHOTS, &ms[1].to_string(), vec![payload]).await.unwrap();
    let recovered = recover_partition(w.log.as_ref(), &w.ring, p, None).await.unwrap();
    for (m, r) in &expected {
        assert_eq!(recovered[m].state, r.state);
    }
}

#[tokio::test]
async fn a_mailbox_missing_from_the_only_checkpoint_is_recovered_from_its_whole_history() {
    // The first checkpoint of a partition was cut short (a crash, or the mailbox's snapshot
    // was refused): one mailbox with events before it has no snapshot at all.
    let mut w = World::new();
    let p = 0;
    let ms = mailboxes_on(p, 3);
    for m in &ms {
        w.event(*m, enabled("en-US")).await;
        w.event(*m, renewed(1)).await;
    }
    w.checkpoint(p, &ms[..2], &[], 0).await;
    w.event(ms[2], renewed(2)).await;
    w.event(ms[0], renewed(2)).await;
    let expected = reference(&w.log.store, &w.ring, p).await;

    let recovered = recover_partition(w.log.as_ref(), &w.ring, p, None).await.unwrap();
    assert_eq!(recovered.len(), 3);
    for (m, r) in &expected {
        assert_eq!(recovered[m].state, r.state, "{m}");
        assert!(recovered[m].events_next >= r.events_next, "{m}");
    }
    assert_eq!(recovered[&ms[2]].events_next, expected[&ms[2]].events_next);
    let one = recover_partition(w.log.as_ref(), &w.ring, p, Some(ms[2])).await.unwrap();
    assert_eq!(one[&ms[2]].state, expected[&ms[2]].state);
}

#[tokio::test]
async fn mailboxes_a_later_checkpoint_missed_or_left_out_come_back_whole_even_when_idle_since() {
    let mut w = World::new();
    let p = 1;
    let ms = mailboxes_on(p, 4);
    for m in &ms[..2] {
        w.event(*m, enabled("en-US")).await;
    }
    let first = w.checkpoint(p, &ms[..2], &[], 0).await;
    // After the first (complete) checkpoint: two newcomers, and more for the first two.
    for m in &ms[2..] {
        w.event(*m, enabled("tr-TR")).await;
        w.event(*m, renewed(1)).await;
    }
    for m in &ms[..2] {
        w.event(*m, renewed(2)).await;
    }
    // The second checkpoint is cut short before ms[3]'s record, and leaves ms[1] out (too
    // large). Neither has an event after it: their state must still come back.
    w.checkpoint(p, &ms[..3], &ms[1..2], first).await;
    w.event(ms[0], renewed(3)).await;
    w.event(ms[2], renewed(3)).await;
    let expected = reference(&w.log.store, &w.ring, p).await;

    let recovered = recover_partition(w.log.as_ref(), &w.ring, p, None).await.unwrap();
    assert_eq!(recovered.len(), 4);
    for (m, r) in &expected {
        assert_eq!(recovered[m].state, r.state, "{m}");
    }
    // One mailbox alone: without a record (ms[3]) and left out (ms[1]).
    for m in [ms[3], ms[1]] {
        let one = recover_partition(w.log.as_ref(), &w.ring, p, Some(m)).await.unwrap();
        assert_eq!(one[&m].state, expected[&m].state, "{m}");
    }
}

#[tokio::test]
async fn two_different_events_at_one_sequence_number_fail_the_recovery() {
    // With a checkpoint before the conflict (recovery folds the tail) and without any
    // (recovery folds the whole partition).
    for checkpointed in [true, false] {
        let mut w = World::new();
        let p = 0;
        let ms = mailboxes_on(p, 2);
        for m in &ms {
            w.event(*m, enabled("en-US")).await;
            w.event(*m, renewed(1)).await;
        }
        if checkpointed {
            w.checkpoint(p, &ms, &[], 0).await;
        }
        let kept = w.event(ms[0], renewed(2)).await;
        // The identical envelope again (an append retried) is a duplicate: recovery goes on.
        w.append(&kept).await;
        w.event(ms[1], renewed(2)).await;
        assert_eq!(recover_partition(w.log.as_ref(), &w.ring, p, None).await.unwrap().len(), 2);
        // A second writer's own event at the same sequence number: recovery refuses to pick
        // one, naming the mailbox and the sequence number.
        let rival =
            Envelope { event_id: uuid::Uuid::new_v4(), event: MailboxEvent::MailboxDisabled {}, ..kept.clone() };
        w.append(&rival).await;
        let err = recover_partition(w.log.as_ref(), &w.ring, p, None).await.unwrap_err();
        assert!(matches!(err, ProcessError::Conflict { mailbox, seq: 3 } if mailbox == ms[0]), "{err}");
        assert!(err.to_string().contains(&format!("mailbox {} has two different events at seq 3", ms[0])), "{err}");
        // The mailbox alone fails the same way; the other one of the partition still loads.
        let alone = recover_partition(w.log.as_ref(), &w.ring, p, Some(ms[0])).await.unwrap_err();
        assert!(matches!(alone, ProcessError::Conflict { seq: 3, .. }), "{alone}");
        assert_eq!(recover_partition(w.log.as_ref(), &w.ring, p, Some(ms[1])).await.unwrap().len(), 1);
    }
}

//! Partition recovery: the mailboxes of one `mailbox-events` partition rebuilt from their latest
//! snapshots and the events after them (see `hcal_actors::mailbox::snapshot` for why that is
//! correct after compaction and after checkpoints cut short). Runs when a process takes over a
//! partition: at start, after a rebalance, or when an actor stopped.

use std::collections::{HashMap, HashSet};

use hcal_actors::ids::MailboxId;
use hcal_actors::log::{EventLog, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, NOTIFICATIONS, partition_for};
use hcal_actors::mailbox::actor::{Mailbox, ProcessError};
use hcal_actors::mailbox::envelope;
use hcal_actors::mailbox::snapshot::{self, Fold, FoldError, Recovered};
use hcal_actors::seal::KeyRing;

/// Rebuilds one mailbox from its latest snapshot and the events after it, reading only what its
/// partition holds for it.
pub async fn load_mailbox(log: &dyn EventLog, ring: &KeyRing, id: MailboxId) -> Result<Mailbox, ProcessError> {
    let partition = partition_for(&id.to_string(), log.partitions(MAILBOX_EVENTS));
    let mut recovered = recover_partition(log, ring, partition, Some(id)).await?;
    let Recovered { state, events_next } = recovered.remove(&id).unwrap_or_default();
    Ok(Mailbox::new(id, state, events_next))
}

/// Whether snapshots can describe the mailboxes of an events partition: the snapshot topic
/// must be partitioned like `mailbox-events` (and `notifications`, whose partitions decide
/// ownership), so a mailbox's snapshots, events and inputs share one partition number.
pub fn snapshots_usable(log: &dyn EventLog) -> bool {
    let events = log.partitions(MAILBOX_EVENTS);
    log.partitions(MAILBOX_SNAPSHOTS) == events && log.partitions(NOTIFICATIONS) == events
}

/// A partition as recovery rebuilt it.
#[derive(Debug, Default)]
pub struct PartitionRecovery {
    /// Its mailboxes.
    pub mailboxes: HashMap<MailboxId, Recovered>,
    /// A position of the events partition known to be covered by a complete checkpoint (0:
    /// none): the next checkpoint's `completeBefore`.
    pub complete: u64,
}

/// Rebuilds the mailboxes of one `mailbox-events` partition (or only `only`) from their latest
/// snapshots and the events after them (see [`super::snapshot`]).
pub async fn recover_partition(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    only: Option<MailboxId>,
) -> Result<HashMap<MailboxId, Recovered>, ProcessError> {
    Ok(recover(log, ring, partition, only).await?.mailboxes)
}

/// [`recover_partition`], with the position known complete. A snapshot that cannot be read (a
/// retired key, a newer version) makes recovery ignore every snapshot and fold the whole
/// partition instead; mailboxes the snapshots cannot account for have their whole history
/// folded. Two different events at one sequence number of a mailbox fail the recovery with
/// [`ProcessError::Conflict`] (logged here with the partition and offset): the dispatcher
/// then retries the partition's record with backoff, logging each failure, and processes
/// nothing of the partition meanwhile.
pub async fn recover(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    only: Option<MailboxId>,
) -> Result<PartitionRecovery, ProcessError> {
    let only_key = only.map(|m| m.to_string());
    let mut fold = Fold::new();
    if snapshots_usable(log) {
        match read_snapshots(log, ring, partition, only.as_ref()).await {
            Ok(f) => fold = f,
            Err(ProcessError::Codec(e)) => {
                tracing::warn!(partition, error = %e, "a snapshot cannot be read; recovering from the events alone");
            }
            Err(e) => return Err(e),
        }
    }
    let start = fold.start();
    fold_events(log, ring, partition, start, |key| only_key.as_ref().is_none_or(|k| k == key), &mut fold).await?;
    // Mailboxes left out of their last checkpoint (too large), or whose events do not
    // continue their snapshot: their whole history is read (rare, and only theirs).
    let incomplete: HashSet<String> = fold.incomplete().iter().map(ToString::to_string).collect();
    let complete = fold.complete();
    let mut mailboxes = fold.finish();
    if !incomplete.is_empty() {
        tracing::info!(
            partition,
            mailboxes = incomplete.len(),
            "folding the whole history of mailboxes without a usable snapshot"
        );
        let mut whole = Fold::new();
        fold_events(log, ring, partition, 0, |key| incomplete.contains(key), &mut whole).await?;
        mailboxes.extend(whole.finish());
    }
    Ok(PartitionRecovery { mailboxes, complete })
}

/// Folds the events of `partition` from offset `from` on whose key `keep` accepts.
async fn fold_events(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    mut from: u64,
    keep: impl Fn(&str) -> bool,
    fold: &mut Fold,
) -> Result<(), ProcessError> {
    loop {
        let records = log.read(MAILBOX_EVENTS, partition, from, 1000).await?;
        let Some(last) = records.last() else { return Ok(()) };
        from = last.offset + 1;
        for record in records.iter().filter(|r| keep(&r.key)) {
            let env = envelope::decode(&record.payload, ring)?;
            if let Err(e) = fold.event(&env, record.offset) {
                if let FoldError::Conflict { .. } = e {
                    // Stop and shout: keeping either event would silently lose the other.
                    tracing::error!(
                        partition,
                        offset = record.offset,
                        error = %e,
                        "recovery refused: the partition's history has two writers"
                    );
                }
                return Err(e.into());
            }
        }
    }
}

/// The latest snapshot of every mailbox of a partition (or of `only`, opening no other), and
/// the positions their writers knew complete.
async fn read_snapshots(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    only: Option<&MailboxId>,
) -> Result<Fold, ProcessError> {
    // Per mailbox: sequence number and the stored record, of the newest one.
    let mut latest: HashMap<MailboxId, (u64, Vec<u8>)> = HashMap::new();
    let mut complete = 0;
    let mut from = 0;
    loop {
        let records = log.read(MAILBOX_SNAPSHOTS, partition, from, 1000).await?;
        let Some(last) = records.last() else { break };
        from = last.offset + 1;
        for record in records {
            let peeked = snapshot::peek(&record.payload)?;
            complete = complete.max(peeked.complete_before);
            // At an equal sequence number the later record wins (same state, later position).
            if latest.get(&peeked.mailbox).is_none_or(|(known, _)| peeked.seq >= *known) {
                latest.insert(peeked.mailbox, (peeked.seq, record.payload));
            }
        }
    }
    let mut fold = Fold::new();
    let any = !latest.is_empty();
    match only {
        None => {
            for (_, payload) in latest.into_values() {
                fold.snapshot(snapshot::decode(&payload, ring)?);
            }
            if any {
                fold.known_complete(complete);
            }
        }
        Some(m) => match latest.remove(m) {
            // Its own record says where its events after it start.
            Some((_, payload)) => fold.snapshot(snapshot::decode(&payload, ring)?),
            // Without a record of its own, it had no events before the last complete checkpoint.
            None if any => fold.known_complete(complete),
            None => {}
        },
    }
    Ok(fold)
}

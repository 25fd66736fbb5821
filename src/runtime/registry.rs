//! The registry of mailbox actors: which mailboxes this process runs, under which epoch of
//! partition ownership, recovered how. It hands out [`Lease`]s (lapsed all at once when
//! ownership changes), recovers a partition once when its first mailbox is needed, and writes
//! checkpoints between records. Runtime machinery of the service, beside the dispatchers that
//! drive it; the rules of a mailbox are in `hcal_actors::mailbox::decide`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::prelude::*;
use hcal_actors::ids::MailboxId;
use hcal_actors::log::{MAILBOX_EVENTS, partition_for};
use hcal_actors::mailbox::actor::{
    Deps, GetSnapshot, GetState, HandleNotification, Lease, Mailbox, MailboxActor, ProcessError, Stop,
};
use hcal_actors::mailbox::snapshot::Recovered;
use hcal_actors::mailbox::state::MailboxState;
use hcal_actors::notification::NotificationRecord;

use super::checkpoint::{self, Checkpoint, Written};
use super::recovery::{load_mailbox, recover, snapshots_usable};

/// What the registry knows of the partitions this process works on.
#[derive(Default)]
struct Owned {
    /// Started actors.
    actors: HashMap<MailboxId, Addr<MailboxActor>>,
    /// Recovered partitions: the mailboxes whose actors have not started yet.
    recovered: HashMap<u32, HashMap<MailboxId, Recovered>>,
    /// Records processed per partition since its last checkpoint.
    since_checkpoint: HashMap<u32, u64>,
    /// Per partition, a position known covered by a complete checkpoint.
    complete: HashMap<u32, u64>,
    /// The registry's epoch these contents belong to.
    epoch: u64,
    /// Actors of an earlier epoch, possibly still finishing a record (recording nothing).
    stopping: Vec<Addr<MailboxActor>>,
    /// Per partition, the turn to recover it (one task at a time).
    gates: HashMap<u32, Arc<tokio::sync::Mutex<()>>>,
}

/// How long a state read waits for a busy live actor before reading the log instead.
const STATE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long recovery waits for an actor of an earlier epoch to finish its record: longer than
/// the producer's default message timeout (30 s), so an append it had begun has landed or
/// failed by then.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(45);

/// Finds or starts the actor of each mailbox. The first mailbox of a partition recovers the
/// whole partition at once (its latest snapshots and the events after them), so taking over a
/// partition reads it once, not once per mailbox. Actors are spread over a fixed set of
/// arbiters (threads) by mailbox.
pub struct MailboxRegistry {
    deps: Arc<Deps>,
    arbiters: Vec<ArbiterHandle>,
    owned: tokio::sync::Mutex<Owned>,
    /// Moves on every ownership change, lapsing the leases of the actors started before.
    epoch: Arc<AtomicU64>,
    /// Records between checkpoints; 0 when snapshots are off or cannot be used with this log.
    snapshot_every: u64,
    /// The notification partitions this process owns, as the dispatcher learns them.
    pub ownership: Arc<crate::dispatch::Ownership>,
}

impl MailboxRegistry {
    /// A registry placing actors on `arbiters` (at least one).
    /// `snapshot_every`: records of a partition between two checkpoints (0: none).
    pub fn new(deps: Arc<Deps>, arbiters: Vec<ArbiterHandle>, snapshot_every: u64) -> Self {
        // The log's partition counts are known once it is connected; they do not change.
        let snapshot_every = if snapshots_usable(deps.log.as_ref()) { snapshot_every } else { 0 };
        Self {
            deps,
            arbiters,
            owned: tokio::sync::Mutex::new(Owned::default()),
            epoch: Arc::default(),
            snapshot_every,
            ownership: Arc::default(),
        }
    }

    /// A lease valid until the next ownership change. Take it when a record is handed out.
    pub fn lease(&self) -> Lease {
        Lease::new(self.epoch.load(Ordering::SeqCst), self.epoch.clone())
    }

    /// Lapses every lease at once, without waiting for anything: call it the moment an
    /// ownership change is known (from a rebalance callback).
    pub fn lapse_leases(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Drops what `owned` knows when it belongs to an earlier epoch: its actors are asked to
    /// stop (after the record they may be on) and every mailbox is recovered afresh on use.
    fn refresh(&self, owned: &mut Owned) {
        let epoch = self.epoch.load(Ordering::SeqCst);
        if owned.epoch == epoch {
            return;
        }
        let mut stopping = std::mem::take(&mut owned.stopping);
        stopping.extend(owned.actors.drain().map(|(_, addr)| addr));
        *owned = Owned { epoch, stopping, ..Owned::default() };
    }

    /// Waits until the actors of earlier epochs have finished the record they were on, so no
    /// append of theirs can land after a recovery reads the log (at most [`STOP_WAIT`] in
    /// all); whether the deadline passed. The caller removes them from the list afterwards,
    /// so a wait cut short (its task abandoned) leaves them to the next recovery.
    async fn await_stopped(stopping: &[Addr<MailboxActor>]) -> bool {
        // They finish side by side; one deadline for all.
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        let mut waited_out = false;
        for addr in stopping {
            if tokio::time::timeout_at(deadline, addr.send(Stop)).await.is_err() {
                tracing::warn!("an actor of an earlier epoch did not stop in time; recovering anyway");
                waited_out = true;
            }
        }
        waited_out
    }

    /// Rebuilds one mailbox from the log (its actor stopped, or another process owns it).
    async fn load(&self, id: MailboxId) -> Result<Mailbox, ProcessError> {
        load_mailbox(self.deps.log.as_ref(), &self.deps.ring, id).await
    }

    fn partition_of(&self, id: &MailboxId) -> u32 {
        partition_for(&id.to_string(), self.deps.log.partitions(MAILBOX_EVENTS))
    }

    /// The actor of a mailbox, started (and its state recovered) on first use.
    /// A partition is recovered by one task at a time and outside the registry's lock, so
    /// other partitions' records go on meanwhile; a recovery that an ownership change
    /// overtook is dropped and done again.
    pub async fn get(&self, id: MailboxId) -> Result<Addr<MailboxActor>, ProcessError> {
        let partition = self.partition_of(&id);
        loop {
            let mut owned = self.owned.lock().await;
            self.refresh(&mut owned);
            let mailbox = match owned.actors.get(&id) {
                Some(addr) if addr.connected() => return Ok(addr.clone()),
                // Its actor stopped: its events since recovery are in the log only.
                Some(_) => self.load(id).await?,
                None => match owned.recovered.get_mut(&partition) {
                    Some(recovered) => {
                        let found = recovered.remove(&id).unwrap_or_default();
                        Mailbox::new(id, found.state, found.events_next)
                    }
                    None => {
                        let (epoch, gate) = (owned.epoch, owned.gates.entry(partition).or_default().clone());
                        drop(owned);
                        self.recover_once(partition, epoch, &gate).await?;
                        continue;
                    }
                },
            };
            return self.start(&mut owned, mailbox);
        }
    }

    /// Starts a mailbox's actor and lists it.
    fn start(&self, owned: &mut Owned, mailbox: Mailbox) -> Result<Addr<MailboxActor>, ProcessError> {
        let (id, deps) = (mailbox.id, self.deps.clone());
        let index = partition_for(&id.to_string(), self.arbiters.len() as u32) as usize;
        let arbiter = self.arbiters.get(index).ok_or(ProcessError::Unavailable)?;
        let addr = MailboxActor::start_in_arbiter(arbiter, move |_| MailboxActor::new(mailbox, deps));
        owned.actors.insert(id, addr.clone());
        Ok(addr)
    }

    /// Recovers `partition` for `epoch` unless another task did (`gate` lets one at a time):
    /// first waits for the actors of earlier epochs to finish their record, then reads the
    /// log, then records the result if the epoch is still the same.
    async fn recover_once(
        &self,
        partition: u32,
        epoch: u64,
        gate: &tokio::sync::Mutex<()>,
    ) -> Result<(), ProcessError> {
        let _turn = gate.lock().await;
        let stopping = {
            let mut owned = self.owned.lock().await;
            self.refresh(&mut owned);
            if owned.epoch != epoch || owned.recovered.contains_key(&partition) {
                return Ok(());
            }
            owned.stopping.clone()
        };
        let waited_out = Self::await_stopped(&stopping).await;
        let recovery = recover(self.deps.log.as_ref(), &self.deps.ring, partition, None).await?;
        let mut owned = self.owned.lock().await;
        self.refresh(&mut owned);
        owned.stopping.retain(|addr| addr.connected() && !(waited_out && stopping.contains(addr)));
        if owned.epoch == epoch && !owned.recovered.contains_key(&partition) {
            tracing::info!(partition, mailboxes = recovery.mailboxes.len(), "partition recovered");
            owned.recovered.insert(partition, recovery.mailboxes);
            owned.complete.insert(partition, recovery.complete);
        }
        Ok(())
    }

    /// Sends a notification to its mailbox's actor and waits for the outcome. `lease` is the
    /// one taken when the record was handed out ([`Self::lease`]).
    pub async fn handle(&self, record: NotificationRecord, lease: Lease) -> Result<(), ProcessError> {
        if !lease.held() {
            return Err(ProcessError::Revoked);
        }
        let addr = self.get(record.mailbox()).await?;
        addr.send(HandleNotification(record, lease)).await.map_err(|_| ProcessError::Unavailable)?
    }

    /// The state of a mailbox: its live actor's, when this process runs one (and it answers
    /// within [`STATE_WAIT`]), else as its snapshot and events say, read from the log without
    /// starting an actor (another process may own the mailbox). Reading the log scans the
    /// snapshots of the mailbox's partition, so the live actor is much cheaper.
    pub async fn state(&self, id: MailboxId) -> Result<MailboxState, ProcessError> {
        let live = async {
            let addr = {
                let owned = self.owned.lock().await;
                let current = owned.epoch == self.epoch.load(Ordering::SeqCst);
                owned.actors.get(&id).filter(|addr| current && addr.connected()).cloned()
            }?;
            addr.send(GetState).await.ok().flatten()
        };
        if let Ok(Some(state)) = tokio::time::timeout(STATE_WAIT, live).await {
            return Ok(state);
        }
        Ok(self.load(id).await?.state)
    }

    /// Counts a processed record of `partition` and writes a checkpoint of the partition when
    /// `snapshot_every` records have passed since the last one. Call it from the task that
    /// processes the partition, between records: a checkpoint must not overlap processing.
    /// A failed checkpoint is only logged; the next one is attempted a full interval later.
    /// No checkpoint is written under a lapsed `lease`: the partition may be another's now.
    pub async fn processed(&self, partition: u32, lease: &Lease) -> Checkpoint {
        let every = self.snapshot_every;
        if every == 0 {
            return Checkpoint::NotDue;
        }
        let mut owned = self.owned.lock().await;
        // Only with what this epoch recovered and processed.
        if !lease.held() || owned.epoch != lease.epoch() {
            return Checkpoint::NotDue;
        }
        let count = owned.since_checkpoint.entry(partition).or_default();
        *count += 1;
        if *count < every {
            return Checkpoint::NotDue;
        }
        *count = 0;
        // An actor that stopped (it failed) cannot report its state: read it from the log, so
        // the checkpoint still covers every mailbox.
        let dead: Vec<MailboxId> = owned
            .actors
            .iter()
            .filter(|(id, addr)| !addr.connected() && self.partition_of(id) == partition)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            match self.load(id).await {
                Ok(m) => {
                    owned.actors.remove(&id);
                    let reloaded = Recovered { state: m.state, events_next: m.events_next };
                    owned.recovered.entry(partition).or_default().insert(id, reloaded);
                }
                Err(e) => {
                    tracing::warn!(partition, error = %e, "checkpoint failed: a stopped mailbox could not be read");
                    return Checkpoint::Failed;
                }
            }
        }
        let gathered = self.gather(&owned, partition).await;
        let (epoch, complete_before) = (owned.epoch, owned.complete.get(&partition).copied().unwrap_or(0));
        // The appends go out without the lock: other partitions' records go on meanwhile (no
        // record of this partition does: this is called between them).
        drop(owned);
        let (log, ring, taken_at) = (&self.deps.log, &self.deps.ring, self.deps.clock.now());
        let written = async { checkpoint::write(log, ring, taken_at, gathered?, complete_before).await }.await;
        match written {
            Ok(Written { snapshots, too_large, end }) => {
                tracing::info!(partition, snapshots, too_large, "checkpoint written");
                let mut owned = self.owned.lock().await;
                if owned.epoch == epoch {
                    // Every mailbox with events before `end` now has a record at `end`.
                    owned.complete.insert(partition, end);
                }
                Checkpoint::Written { snapshots, too_large }
            }
            Err(e) => {
                tracing::warn!(partition, error = %e, "checkpoint failed");
                Checkpoint::Failed
            }
        }
    }

    /// Every known mailbox of a partition: state and position.
    async fn gather(&self, owned: &Owned, partition: u32) -> Result<Vec<(MailboxId, MailboxState, u64)>, ProcessError> {
        let mut mailboxes: Vec<(MailboxId, MailboxState, u64)> = Vec::new();
        for (id, addr) in owned.actors.iter().filter(|(id, _)| self.partition_of(id) == partition) {
            let (state, next) = addr.send(GetSnapshot).await.ok().flatten().ok_or(ProcessError::Unavailable)?;
            mailboxes.push((*id, state, next));
        }
        for (id, r) in owned.recovered.get(&partition).into_iter().flatten() {
            mailboxes.push((*id, r.state.clone(), r.events_next));
        }
        Ok(mailboxes)
    }

    /// Forgets every started actor and recovered partition, so each mailbox is recovered from
    /// the log on next use, once the actors of before have finished their record. Called when
    /// partition ownership changes: another process may have appended meanwhile. Waits for
    /// nothing (every lease lapses now; the rest happens on the next use).
    pub fn evict_all(&self) {
        self.lapse_leases();
    }
}

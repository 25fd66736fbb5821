//! Kafka mode's consumer of the notifications topic. Consumer-group membership decides which
//! process owns which partitions, and so which mailboxes. Records of a partition are processed
//! one at a time, in offset order, up to [`LANES`] partitions at once; the position after a
//! record is stored only after the mailbox actor recorded what it decided, and librdkafka
//! commits stored positions in the background (`enable.auto.commit`, every second) and when
//! partitions are revoked. A position can only be stored while the partition is this member's.
//!
//! The consumer is polled all the time and received records wait in a per-partition backlog:
//! a record that must wait (Graph throttles its mailbox) holds only its own partition, a slow
//! record never keeps the process from serving the group, and a partition whose backlog is
//! long or waiting is paused. On every rebalance the actors' leases lapse at once, from the
//! rebalance callback itself (an actor in the middle of a record records nothing more), the
//! backlog is dropped before another record is started, and every partition starts afresh
//! from its committed position, reloading its mailboxes from the log, where another process
//! may have appended meanwhile.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcal_actors::log::NOTIFICATIONS;
use hcal_actors::notification::NotificationRecord;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, Id, JoinError, JoinSet};

use crate::dispatch::{self, Attempt};
use crate::log::kafka::KafkaLog;
use crate::metrics::Metrics;
use crate::runtime::MailboxRegistry;

/// Acts on rebalances as they happen (inside the consumer's poll): lapses the actors' leases
/// the moment partitions are taken away, and wakes the polling task to drop its backlog.
pub struct OwnershipContext {
    changed: Arc<AtomicBool>,
    wake: Arc<Notify>,
    registry: Arc<MailboxRegistry>,
    metrics: Arc<Metrics>,
    /// The notifications topic, for the lag in the statistics.
    topic: String,
}

impl OwnershipContext {
    fn note_change(&self) {
        self.changed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

impl ClientContext for OwnershipContext {
    /// librdkafka's statistics (every [`STATISTICS_INTERVAL_MS`]): the lag of this member's
    /// partitions, in records not yet done.
    fn stats(&self, statistics: Statistics) {
        if let Some(lag) = statistics.topics.get(&self.topic).and_then(lag) {
            self.metrics.set("hcal_notifications_lag", lag);
        }
    }
}

/// How often librdkafka reports its statistics (the lag gauge's refresh).
const STATISTICS_INTERVAL_MS: &str = "5000";

/// Records behind the high watermark over the partitions this member consumes: from the
/// position stored after the last record done, or the committed one before any is done.
/// `None` while librdkafka does not know it for every one of them (it reports -1).
fn lag(topic: &rdkafka::statistics::Topic) -> Option<i64> {
    topic
        .partitions
        .values()
        .filter(|p| p.partition >= 0 && p.desired)
        .map(|p| if p.consumer_lag_stored >= 0 { p.consumer_lag_stored } else { p.consumer_lag })
        .map(|lag| (lag >= 0).then_some(lag))
        .sum()
}

impl ConsumerContext for OwnershipContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Revoked (or, on an error, unassigned): from here on no actor records anything more,
        // whether or not the polling task has noticed yet.
        if !matches!(rebalance, Rebalance::Assign(_)) {
            self.registry.lapse_leases();
            self.note_change();
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                tracing::info!(partitions = partitions.count(), "notification partitions assigned");
                self.metrics.inc("hcal_rebalances_total", "", "");
            }
            Rebalance::Revoke(partitions) => {
                tracing::info!(partitions = partitions.count(), "notification partitions revoked");
            }
            Rebalance::Error(e) => tracing::error!(error = %e, "rebalance failed"),
        }
        if let Ok(owned) = consumer.assignment() {
            self.metrics.set("hcal_partitions_owned", owned.count() as i64);
            let partitions =
                owned.elements().iter().filter_map(|e| u32::try_from(e.partition()).ok()).collect::<Vec<_>>();
            self.registry.ownership.set(partitions);
        }
        self.note_change();
    }
}

/// Records received and not yet done, per partition, in offset order. Pure bookkeeping: what
/// to process next, what is a duplicate, when to wake up, which partitions to pause.
#[derive(Debug, Default)]
struct Backlog<T> {
    lanes: HashMap<i32, Lane<T>>,
    /// The partition served last, for round-robin between partitions.
    last: Option<i32>,
}

#[derive(Debug)]
struct Lane<T> {
    /// Offset after the last record accepted.
    next: i64,
    pending: VecDeque<(i64, T)>,
    /// The front record waits until then.
    not_before: Option<Instant>,
    /// Failed attempts at the front record.
    failures: u32,
}

/// Records a partition may hold in its backlog before it is paused.
const MAX_PENDING: usize = 64;

impl<T> Backlog<T> {
    /// Takes a received record; false for one already taken (a partition refetched after a
    /// pause may deliver records again).
    fn accept(&mut self, partition: i32, offset: i64, item: T) -> bool {
        let lane = self.lanes.entry(partition).or_insert(Lane {
            next: 0,
            pending: VecDeque::new(),
            not_before: None,
            failures: 0,
        });
        if offset < lane.next {
            return false;
        }
        lane.next = offset + 1;
        lane.pending.push_back((offset, item));
        true
    }

    /// The next partition whose front record is due, taking partitions in turn; `busy`
    /// partitions (a record of theirs is in flight) are passed over.
    fn next_due(&mut self, now: Instant, busy: impl Fn(i32) -> bool) -> Option<i32> {
        let mut due: Vec<i32> = self
            .lanes
            .iter()
            .filter(|(p, l)| !busy(**p) && !l.pending.is_empty() && l.not_before.is_none_or(|t| t <= now))
            .map(|(p, _)| *p)
            .collect();
        due.sort_unstable();
        let pick = match self.last {
            Some(last) => due.iter().find(|p| **p > last).or(due.first()).copied(),
            None => due.first().copied(),
        };
        if pick.is_some() {
            self.last = pick;
        }
        pick
    }

    /// The front record of a partition and the failed attempts at it.
    fn front(&self, partition: i32) -> Option<(i64, &T, u32)> {
        let lane = self.lanes.get(&partition)?;
        lane.pending.front().map(|(o, t)| (*o, t, lane.failures))
    }

    /// The record at `offset` is done: popped if it is the front record (true), else ignored
    /// (false), so a late or repeated outcome never drops a record that was not processed.
    fn done(&mut self, partition: i32, offset: i64) -> bool {
        let Some(lane) = self.lanes.get_mut(&partition) else { return false };
        if lane.pending.front().is_none_or(|(o, _)| *o != offset) {
            return false;
        }
        lane.pending.pop_front();
        lane.not_before = None;
        lane.failures = 0;
        true
    }

    /// The record at `offset`, if it is the front record, must be tried again at `until`.
    fn retry(&mut self, partition: i32, offset: i64, until: Instant) {
        if let Some(lane) = self.lanes.get_mut(&partition)
            && lane.pending.front().is_some_and(|(o, _)| *o == offset)
        {
            lane.not_before = Some(until);
            lane.failures = lane.failures.saturating_add(1);
        }
    }

    /// When the next waiting record is due.
    fn wake(&self) -> Option<Instant> {
        self.lanes.values().filter(|l| !l.pending.is_empty()).filter_map(|l| l.not_before).min()
    }

    /// Partitions that should not fetch now: waiting, or with a long backlog.
    fn to_pause(&self, now: Instant) -> HashSet<i32> {
        self.lanes
            .iter()
            .filter(|(_, l)| l.pending.len() >= MAX_PENDING || l.not_before.is_some_and(|t| t > now))
            .map(|(p, _)| *p)
            .collect()
    }

    fn clear(&mut self) {
        self.lanes.clear();
        self.last = None;
    }
}

/// The group consumer of the notifications topic.
pub struct GroupDispatcher {
    consumer: StreamConsumer<OwnershipContext>,
    /// Set by the rebalance callbacks, taken by the polling task.
    changed: Arc<AtomicBool>,
    /// Wakes the polling task after a rebalance callback.
    wake: Arc<Notify>,
    registry: Arc<MailboxRegistry>,
    metrics: Arc<Metrics>,
    topic: String,
}

/// A received record: its payload (`None`: empty).
type Payload = Option<Vec<u8>>;

/// Partitions worked on at once (one record of each at a time).
const LANES: usize = 8;

/// How long an attempt may go on after a rebalance before it is abandoned. Actors stop
/// recording at once (their leases lapse); this bounds the Graph calls still under way.
const REVOKE_DEADLINE: Duration = Duration::from_secs(10);

/// A record being worked on.
struct Flight {
    partition: i32,
    offset: i64,
    /// The generation (rebalances seen) it started in.
    generation: u64,
    /// Failed attempts at the record before this one.
    failures: u32,
    handle: AbortHandle,
}

/// The polling task's bookkeeping.
#[derive(Default)]
struct Work {
    backlog: Backlog<Payload>,
    /// Partitions paused, as far as pausing and resuming succeeded.
    paused: HashSet<i32>,
    /// Per partition, the position last stored in this generation.
    stored: HashMap<i32, i64>,
    in_flight: JoinSet<Attempt>,
    /// Records in flight by task, until their task ends or is abandoned.
    flights: HashMap<Id, Flight>,
    /// The task working on each partition, with its generation: only that task frees it.
    busy: HashMap<i32, (u64, Id)>,
    /// Rebalances seen.
    generation: u64,
    /// When the records still in flight from an earlier generation are abandoned.
    abandon_at: Option<Instant>,
}

impl Work {
    /// Forgets the record of task `id` (ended or abandoned) and frees its partition if the
    /// partition is still held by that task.
    fn release(&mut self, id: Id) -> Option<Flight> {
        let flight = self.flights.remove(&id)?;
        if self.busy.get(&flight.partition) == Some(&(flight.generation, id)) {
            self.busy.remove(&flight.partition);
        }
        Some(flight)
    }

    fn outlived_generation(&self) -> bool {
        self.flights.values().any(|f| f.generation < self.generation)
    }
}

/// Whether storing `next` for `partition` moves its position forward from what this
/// generation stored.
fn advances(stored: &HashMap<i32, i64>, partition: i32, next: i64) -> bool {
    stored.get(&partition).is_none_or(|s| next > *s)
}

impl GroupDispatcher {
    /// Joins `group` on the notifications topic, feeding the actors of `registry`.
    /// `instance` is this process's stable member id (static membership): a process restarted
    /// with the same id takes its partitions back at once instead of waiting for the broker to
    /// expire its previous incarnation.
    pub fn new(
        kafka: &KafkaLog,
        group: &str,
        instance: Option<&str>,
        session_timeout: Duration,
        registry: Arc<MailboxRegistry>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let changed = Arc::new(AtomicBool::new(true));
        let wake = Arc::new(Notify::new());
        let mut config = kafka.client_config();
        if let Some(instance) = instance {
            config.set("group.instance.id", instance);
        }
        let topic = kafka.topic(NOTIFICATIONS);
        let context = OwnershipContext {
            changed: changed.clone(),
            wake: wake.clone(),
            registry: registry.clone(),
            metrics: metrics.clone(),
            topic: topic.clone(),
        };
        let consumer: StreamConsumer<OwnershipContext> = config
            .set("group.id", group)
            // Positions are stored by hand once a record is done and committed by librdkafka
            // in the background and on revocation, never blocking the polling task.
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
            .set("isolation.level", "read_committed")
            .set("session.timeout.ms", session_timeout.as_millis().max(6000).to_string())
            .set("heartbeat.interval.ms", (session_timeout.as_millis().max(6000) / 3).to_string())
            // Also the rebalance timeout: how long a rebalance waits for members that are gone
            // (some brokers wait this long rather than the session timeout). The consumer is
            // polled all the time, also while a record is processed.
            .set("max.poll.interval.ms", (session_timeout.as_millis().max(6000) * 3 / 2).to_string())
            .create_with_context(context)?;
        consumer.subscribe(&[&topic])?;
        Ok(Self { consumer, changed, wake, registry, metrics, topic })
    }

    fn list(&self, partitions: &[i32]) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for p in partitions {
            list.add_partition(&self.topic, *p);
        }
        list
    }

    /// Pauses and resumes partitions so that exactly `wanted` are paused; `paused` records
    /// what succeeded, so a failure is tried again next time.
    fn sync_pauses(&self, paused: &mut HashSet<i32>, wanted: HashSet<i32>) {
        let pause: Vec<i32> = wanted.difference(paused).copied().collect();
        let resume: Vec<i32> = paused.difference(&wanted).copied().collect();
        if !pause.is_empty() {
            let list = self.list(&pause);
            match self.consumer.pause(&list) {
                Ok(()) => paused.extend(self.succeeded(&list)),
                Err(e) => tracing::warn!(error = %e, "pausing partitions failed"),
            }
        }
        if !resume.is_empty() {
            let list = self.list(&resume);
            match self.consumer.resume(&list) {
                Ok(()) => {
                    for p in self.succeeded(&list) {
                        paused.remove(&p);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "resuming partitions failed"),
            }
        }
    }

    /// The partitions of `list` without an error of their own (librdkafka reports them per
    /// partition).
    fn succeeded(&self, list: &TopicPartitionList) -> Vec<i32> {
        list.elements()
            .iter()
            .filter_map(|e| match e.error() {
                Ok(()) => Some(e.partition()),
                Err(error) => {
                    tracing::warn!(partition = e.partition(), %error, "pausing or resuming a partition failed");
                    None
                }
            })
            .collect()
    }

    /// After a rebalance: every lease lapses, nothing is pending, stored or paused; the
    /// partitions start afresh from their committed positions. A new generation begins, and
    /// records still in flight from earlier ones get [`REVOKE_DEADLINE`].
    fn rebalanced(&self, work: &mut Work) {
        self.registry.evict_all();
        work.backlog.clear();
        work.paused.clear();
        work.stored.clear();
        if let Ok(assigned) = self.consumer.assignment()
            && let Err(e) = self.consumer.resume(&assigned)
        {
            tracing::warn!(error = %e, "resuming the assigned partitions failed");
        }
        work.generation += 1;
        if work.outlived_generation() {
            work.abandon_at.get_or_insert(Instant::now() + REVOKE_DEADLINE);
        }
    }

    fn take(backlog: &mut Backlog<Payload>, received: Result<BorrowedMessage<'_>, rdkafka::error::KafkaError>) {
        match received {
            Ok(m) => {
                backlog.accept(m.partition(), m.offset(), m.payload().map(<[u8]>::to_vec));
            }
            Err(e) => tracing::error!(error = %e, "receiving notifications failed"),
        }
    }

    /// Stores the position after `offset` for librdkafka to commit, never moving it back
    /// within a generation. Refused for a partition that is not (any more) this member's:
    /// brokers accept commits by generation, not ownership, so a commit for a partition that
    /// went to another member could move its position back.
    fn store(&self, stored: &mut HashMap<i32, i64>, partition: i32, offset: i64) {
        let next = offset + 1;
        if !advances(stored, partition, next) {
            return;
        }
        let mut list = TopicPartitionList::new();
        if let Err(e) = list.add_partition_offset(&self.topic, partition, Offset::Offset(next)) {
            tracing::error!(partition, offset, error = %e, "position not stored");
            return;
        }
        match self.consumer.store_offsets(&list) {
            Ok(()) => {
                stored.insert(partition, next);
            }
            Err(e) => tracing::info!(partition, offset, error = %e, "position not stored: the partition is not ours"),
        }
    }

    /// Starts the due records of free partitions, up to [`LANES`] at once.
    fn start_due(&self, work: &mut Work, now: Instant) {
        while work.busy.len() < LANES {
            let busy = &work.busy;
            let Some(kafka_partition) = work.backlog.next_due(now, |p| busy.contains_key(&p)) else { break };
            let Some((offset, payload, failures)) = work.backlog.front(kafka_partition) else { break };
            let partition = u32::try_from(kafka_partition).unwrap_or(0);
            let record = payload.as_deref().map(serde_json::from_slice::<NotificationRecord>);
            let (registry, metrics) = (self.registry.clone(), self.metrics.clone());
            // Taken now: a rebalance from here on lapses it.
            let lease = registry.lease();
            let handle = work.in_flight.spawn(async move {
                match record {
                    Some(Ok(record)) => {
                        dispatch::attempt(&registry, &metrics, &record, partition, failures, lease).await
                    }
                    _ => {
                        tracing::error!(partition, offset, "unreadable notification record skipped");
                        metrics.inc("hcal_notifications_total", "outcome", "unreadable");
                        Attempt::Done
                    }
                }
            });
            let id = handle.id();
            work.busy.insert(kafka_partition, (work.generation, id));
            let flight = Flight { partition: kafka_partition, offset, generation: work.generation, failures, handle };
            work.flights.insert(id, flight);
        }
    }

    /// A record's task ended.
    fn ended(&self, work: &mut Work, joined: Result<(Id, Attempt), JoinError>) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Ok(outcome)),
            Err(e) => (e.id(), Err(e)),
        };
        // None: abandoned at the revocation deadline, its partition freed then.
        let Some(flight) = work.release(id) else { return };
        let (partition, offset) = (flight.partition, flight.offset);
        // Of the current generation, with no rebalance under way: its backlog is this one.
        let current = flight.generation == work.generation && !self.changed.load(Ordering::SeqCst);
        match outcome {
            // The actor recorded its events: the position after the record may be committed.
            Ok(Attempt::Done) if current => {
                if work.backlog.done(partition, offset) {
                    self.store(&mut work.stored, partition, offset);
                }
            }
            Ok(Attempt::RetryIn(wait)) if current => work.backlog.retry(partition, offset, Instant::now() + wait),
            // After a rebalance every partition starts afresh from its committed position: this
            // record included, if the partition came back. Nothing of an earlier generation is
            // stored, so a position never moves back past what a later owner committed.
            Ok(_) => {}
            Err(e) => {
                tracing::error!(partition, offset, error = %e, "notification record attempt failed unexpectedly; retrying");
                self.metrics.inc("hcal_notifications_total", "outcome", "failed");
                if current {
                    work.backlog.retry(partition, offset, Instant::now() + dispatch::backoff(flight.failures));
                }
            }
        }
        if !work.outlived_generation() {
            work.abandon_at = None;
        }
    }

    /// The revocation deadline passed: records started before the last rebalance are
    /// abandoned and their partitions are free again.
    fn abandon(&self, work: &mut Work) {
        let old: Vec<Id> =
            work.flights.iter().filter(|(_, f)| f.generation < work.generation).map(|(id, _)| *id).collect();
        tracing::warn!(records = old.len(), "records outlived the revocation deadline; abandoned");
        self.metrics.add("hcal_notifications_total", "outcome", "abandoned", old.len() as u64);
        for id in old {
            if let Some(flight) = work.release(id) {
                flight.handle.abort();
            }
        }
        work.abandon_at = None;
    }

    /// Consumes forever. Up to [`LANES`] partitions are worked on at once, one record of each
    /// at a time; the consumer is polled all the time, so a long record never drops the
    /// process from the group. On a rebalance every actor's lease lapses at once (an actor in
    /// the middle of a record records nothing more), no record of the old backlog is started
    /// any more, records in flight get [`REVOKE_DEADLINE`] to end and are abandoned after it,
    /// and a partition is not worked on again until its previous record has ended.
    pub async fn run(self) {
        let mut work = Work::default();
        loop {
            // Before any record is started: the rebalance callbacks run inside `recv`.
            if self.changed.swap(false, Ordering::SeqCst) {
                self.rebalanced(&mut work);
            }
            let now = Instant::now();
            self.sync_pauses(&mut work.paused, work.backlog.to_pause(now));
            self.start_due(&mut work, now);
            let wake = work.backlog.wake();
            tokio::select! {
                Some(joined) = work.in_flight.join_next_with_id(), if !work.in_flight.is_empty() => {
                    self.ended(&mut work, joined);
                }
                // `recv` is cancellation safe: nothing is lost when another branch wins.
                received = self.consumer.recv() => {
                    // A rebalance is noticed inside `recv`, before the new assignment's records.
                    if self.changed.swap(false, Ordering::SeqCst) {
                        self.rebalanced(&mut work);
                    }
                    Self::take(&mut work.backlog, received);
                }
                // A rebalance callback ran; the top of the loop deals with it.
                () = self.wake.notified() => {}
                () = sleep_until(wake), if wake.is_some() => {}
                () = sleep_until(work.abandon_at), if work.abandon_at.is_some() => self.abandon(&mut work),
            }
        }
    }
}

/// Sleeps until `at` (never returns for `None`).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_counts_assigned_partitions_from_the_stored_position_or_else_the_committed_one() {
        let partition = |partition, desired, stored, committed| rdkafka::statistics::Partition {
            partition,
            desired,
            consumer_lag_stored: stored,
            consumer_lag: committed,
            ..Default::default()
        };
        let topic = rdkafka::statistics::Topic {
            partitions: [
                partition(0, true, 3, 5),
                partition(1, true, -1, 7),
                partition(2, false, 100, 100),
                partition(-1, true, 50, 50),
            ]
            .into_iter()
            .map(|p| (p.partition, p))
            .collect(),
            ..Default::default()
        };
        assert_eq!(lag(&topic), Some(10));
        let mut unknown = topic.clone();
        unknown.partitions.insert(3, partition(3, true, -1, -1));
        assert_eq!(lag(&unknown), None, "not known for every partition");
    }

    #[test]
    fn records_are_taken_once_in_offset_order_per_partition() {
        let mut b: Backlog<&str> = Backlog::default();
        assert!(b.accept(0, 5, "a"));
        assert!(b.accept(0, 6, "b"));
        assert!(!b.accept(0, 5, "a again"), "a refetched record is a duplicate");
        assert!(b.accept(0, 9, "c"), "gaps (transaction markers, compaction) are fine");
        let now = Instant::now();
        assert_eq!(b.next_due(now, |_| false), Some(0));
        assert_eq!(b.front(0), Some((5, &"a", 0)));
        assert!(b.done(0, 5));
        assert_eq!(b.front(0), Some((6, &"b", 0)));
    }

    #[test]
    fn a_waiting_partition_holds_only_itself_and_partitions_take_turns() {
        let mut b: Backlog<u8> = Backlog::default();
        for p in 0..3 {
            b.accept(p, 0, 0);
            b.accept(p, 1, 1);
        }
        let now = Instant::now();
        let later = now + Duration::from_secs(30);
        assert_eq!(b.next_due(now, |_| false), Some(0));
        b.retry(0, 0, later);
        assert_eq!(b.front(0), Some((0, &0, 1)));
        // A partition with a record in flight is passed over.
        assert_eq!(b.next_due(now, |p| p == 1), Some(2));
        b.last = Some(0);
        // The others go on, in turn.
        assert_eq!(b.next_due(now, |_| false), Some(1));
        assert!(b.done(1, 0));
        assert_eq!(b.next_due(now, |_| false), Some(2));
        assert!(b.done(2, 0));
        assert_eq!(b.next_due(now, |_| false), Some(1));
        assert_eq!(b.wake(), Some(later));
        assert_eq!(b.to_pause(now), HashSet::from([0]));
        // Once due, the waiting record is served again, with its failure count.
        let mut served = Vec::new();
        while let Some(p) = b.next_due(later, |_| false) {
            let (offset, _, failures) = b.front(p).unwrap();
            served.push((p, offset, failures));
            assert!(b.done(p, offset));
        }
        assert_eq!(served.len(), 4, "{served:?}");
        assert!(served.contains(&(0, 0, 1)), "{served:?}");
        assert!(served.contains(&(0, 1, 0)), "failures reset for the next record: {served:?}");
        assert!(b.to_pause(later).is_empty());
    }

    #[test]
    fn a_long_backlog_pauses_its_partition() {
        let mut b: Backlog<()> = Backlog::default();
        for o in 0..MAX_PENDING as i64 {
            b.accept(3, o, ());
        }
        assert_eq!(b.to_pause(Instant::now()), HashSet::from([3]));
        assert!(b.done(3, 0));
        assert!(b.to_pause(Instant::now()).is_empty());
        b.clear();
        assert_eq!(b.next_due(Instant::now(), |_| false), None);
    }

    #[test]
    fn only_the_front_record_is_done_and_only_once() {
        let mut b: Backlog<&str> = Backlog::default();
        for (o, r) in [(3, "a"), (4, "b"), (5, "c")] {
            b.accept(1, o, r);
        }
        assert!(!b.done(1, 4), "not the front record");
        assert!(!b.done(2, 3), "no such partition");
        assert_eq!(b.front(1), Some((3, &"a", 0)));
        assert!(b.done(1, 3));
        assert!(!b.done(1, 3), "a second outcome of the same record pops nothing");
        assert_eq!(b.front(1), Some((4, &"b", 0)), "the next record is still there");
        // A retry of a record that is no longer the front one changes nothing either.
        let later = Instant::now() + Duration::from_secs(5);
        b.retry(1, 3, later);
        assert_eq!(b.front(1), Some((4, &"b", 0)));
        assert_eq!(b.wake(), None);
        b.retry(1, 4, later);
        assert_eq!(b.front(1), Some((4, &"b", 1)));
        assert_eq!(b.wake(), Some(later));
    }

    #[test]
    fn a_stored_position_only_moves_forward() {
        let mut stored = HashMap::new();
        assert!(advances(&stored, 0, 5));
        stored.insert(0, 5);
        assert!(!advances(&stored, 0, 5));
        assert!(!advances(&stored, 0, 4));
        assert!(advances(&stored, 0, 6));
        assert!(advances(&stored, 1, 1), "partitions are independent");
    }
}

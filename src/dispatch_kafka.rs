//! Kafka mode's consumer of the notifications topic. Consumer-group membership decides which
//! process owns which partitions, and so which mailboxes. Records of a partition are processed
//! one at a time, in offset order, up to [`LANES`] partitions at once; each offset is committed
//! (synchronously, by this group member, while the partition is still its own) only after the
//! mailbox actor recorded what it decided.
//!
//! The consumer is polled all the time and received records wait in a per-partition backlog:
//! a record that must wait (Graph throttles its mailbox) holds only its own partition, a slow
//! record never keeps the process from serving the group, and a partition whose backlog is
//! long or waiting is paused. On every rebalance the actors' leases lapse at once (an actor in
//! the middle of a record records nothing more), the backlog is dropped and every partition
//! starts afresh from its committed position, reloading its mailboxes from the log, where
//! another process may have appended meanwhile.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcal_actors::log::NOTIFICATIONS;
use hcal_actors::mailbox::actor::MailboxRegistry;
use hcal_actors::notification::NotificationRecord;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::dispatch::{self, Attempt};
use crate::metrics::Metrics;
use crate::store::kafka::KafkaLog;

/// Notes rebalances for the polling task and in the metrics.
pub struct OwnershipContext {
    changed: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl ClientContext for OwnershipContext {}

impl ConsumerContext for OwnershipContext {
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
        }
        self.changed.store(true, Ordering::SeqCst);
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
    fn next_due(&mut self, now: Instant, busy: &HashSet<i32>) -> Option<i32> {
        let mut due: Vec<i32> = self
            .lanes
            .iter()
            .filter(|(p, l)| !busy.contains(p) && !l.pending.is_empty() && l.not_before.is_none_or(|t| t <= now))
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

    /// The front record is done.
    fn done(&mut self, partition: i32) {
        if let Some(lane) = self.lanes.get_mut(&partition) {
            lane.pending.pop_front();
            lane.not_before = None;
            lane.failures = 0;
        }
    }

    /// The front record must be tried again at `until`.
    fn retry(&mut self, partition: i32, until: Instant) {
        if let Some(lane) = self.lanes.get_mut(&partition) {
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
    changed: Arc<AtomicBool>,
    topic: String,
}

/// A received record: its payload (`None`: empty).
type Payload = Option<Vec<u8>>;

/// Partitions worked on at once (one record of each at a time).
const LANES: usize = 8;

/// How long an attempt may go on after a rebalance before it is abandoned. Actors stop
/// recording at once (their leases lapse); this bounds the Graph calls still under way.
const REVOKE_DEADLINE: Duration = Duration::from_secs(10);

impl GroupDispatcher {
    /// Joins `group` on the notifications topic.
    /// `instance` is this process's stable member id (static membership): a process restarted
    /// with the same id takes its partitions back at once instead of waiting for the broker to
    /// expire its previous incarnation.
    pub fn new(
        kafka: &KafkaLog,
        group: &str,
        instance: Option<&str>,
        session_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let changed = Arc::new(AtomicBool::new(true));
        let mut config = kafka.client_config();
        if let Some(instance) = instance {
            config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<OwnershipContext> = config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("session.timeout.ms", session_timeout.as_millis().max(6000).to_string())
            .set("heartbeat.interval.ms", (session_timeout.as_millis().max(6000) / 3).to_string())
            // Also the rebalance timeout: how long a rebalance waits for members that are gone
            // (some brokers wait this long rather than the session timeout). The consumer is
            // polled all the time, also while a record is processed.
            .set("max.poll.interval.ms", (session_timeout.as_millis().max(6000) * 3 / 2).to_string())
            .create_with_context(OwnershipContext { changed: changed.clone(), metrics })?;
        let topic = kafka.topic(NOTIFICATIONS);
        consumer.subscribe(&[&topic])?;
        Ok(Self { consumer, changed, topic })
    }

    fn list(&self, partitions: impl IntoIterator<Item = i32>) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for p in partitions {
            list.add_partition(&self.topic, p);
        }
        list
    }

    /// Pauses and resumes partitions so that exactly `wanted` are paused.
    fn sync_pauses(&self, paused: &mut HashSet<i32>, wanted: HashSet<i32>) {
        let pause: Vec<i32> = wanted.difference(paused).copied().collect();
        let resume: Vec<i32> = paused.difference(&wanted).copied().collect();
        if !pause.is_empty()
            && let Err(e) = self.consumer.pause(&self.list(pause))
        {
            tracing::warn!(error = %e, "pausing partitions failed");
        }
        if !resume.is_empty()
            && let Err(e) = self.consumer.resume(&self.list(resume))
        {
            tracing::warn!(error = %e, "resuming partitions failed");
        }
        *paused = wanted;
    }

    /// After a rebalance: every lease lapses, nothing is pending, nothing is paused; the
    /// partitions start afresh from their committed positions.
    async fn reset(&self, registry: &MailboxRegistry, backlog: &mut Backlog<Payload>, paused: &mut HashSet<i32>) {
        registry.evict_all().await;
        backlog.clear();
        paused.clear();
        if let Ok(assigned) = self.consumer.assignment()
            && let Err(e) = self.consumer.resume(&assigned)
        {
            tracing::warn!(error = %e, "resuming the assigned partitions failed");
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

    fn owns(&self, partition: i32) -> bool {
        self.consumer.assignment().is_ok_and(|a| a.find_partition(&self.topic, partition).is_some())
    }

    /// Commits the position after `offset`, while the partition is this member's: brokers
    /// accept commits by generation, not ownership, so a commit for a partition that went to
    /// another member could move its position back.
    async fn commit(&self, partition: i32, offset: i64) {
        let mut list = TopicPartitionList::new();
        if list.add_partition_offset(&self.topic, partition, Offset::Offset(offset + 1)).is_err() {
            return;
        }
        while self.owns(partition) {
            match self.consumer.commit(&list, CommitMode::Sync) {
                Ok(()) => return,
                Err(e) if self.changed.load(Ordering::SeqCst) => {
                    tracing::info!(partition, error = %e, "position not committed: a rebalance is under way");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "committing the position failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Consumes forever. Up to [`LANES`] partitions are worked on at once, one record of each
    /// at a time; the consumer is polled all the time, so a long record never drops the
    /// process from the group. On a rebalance every actor's lease lapses at once (an actor in
    /// the middle of a record records nothing more), records in flight get [`REVOKE_DEADLINE`]
    /// to end and are abandoned after it, and a partition is not worked on again until its
    /// previous record has ended.
    pub async fn run(self, registry: Arc<MailboxRegistry>, metrics: Arc<Metrics>) {
        let mut backlog: Backlog<Payload> = Backlog::default();
        let mut paused: HashSet<i32> = HashSet::new();
        // Records in flight: partition, offset, outcome, and the generation they started in.
        let mut in_flight: tokio::task::JoinSet<(i32, i64, Attempt, u64)> = tokio::task::JoinSet::new();
        let mut busy: HashSet<i32> = HashSet::new();
        // To abandon the records of an earlier generation: partition, generation, handle.
        let mut handles: Vec<(i32, u64, tokio::task::AbortHandle)> = Vec::new();
        let mut generation: u64 = 0;
        let mut abandon_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            self.sync_pauses(&mut paused, backlog.to_pause(now));
            while busy.len() < LANES
                && let Some(kafka_partition) = backlog.next_due(now, &busy)
            {
                let Some((offset, payload, failures)) = backlog.front(kafka_partition) else { break };
                let partition = u32::try_from(kafka_partition).unwrap_or(0);
                let record = payload.as_deref().map(serde_json::from_slice::<NotificationRecord>);
                let (registry, metrics) = (registry.clone(), metrics.clone());
                // Taken now: a rebalance from here on lapses it.
                let lease = registry.lease();
                busy.insert(kafka_partition);
                let handle = in_flight.spawn(async move {
                    let outcome = match record {
                        Some(Ok(record)) => {
                            dispatch::attempt(&registry, &metrics, &record, partition, failures, lease).await
                        }
                        _ => {
                            tracing::error!(partition, offset, "unreadable notification record skipped");
                            metrics.inc("hcal_notifications_total", "outcome", "unreadable");
                            Attempt::Done
                        }
                    };
                    (kafka_partition, offset, outcome, generation)
                });
                handles.push((kafka_partition, generation, handle));
            }
            let wake = backlog.wake();
            tokio::select! {
                Some(ended) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let Ok((kafka_partition, offset, outcome, started)) = ended else {
                        // Aborted after the revocation deadline; its partition was freed then.
                        continue;
                    };
                    busy.remove(&kafka_partition);
                    handles.retain(|(p, g, _)| !(*p == kafka_partition && *g == started));
                    let current = started == generation;
                    match outcome {
                        Attempt::Done => {
                            if current {
                                backlog.done(kafka_partition);
                            }
                            // Durable, so committing is right while the partition is ours.
                            self.commit(kafka_partition, offset).await;
                        }
                        Attempt::RetryIn(wait) if current => backlog.retry(kafka_partition, Instant::now() + wait),
                        // After a rebalance every partition starts afresh from its committed
                        // position: this record included, if the partition came back.
                        Attempt::RetryIn(_) | Attempt::Abandoned => {}
                    }
                    if handles.iter().all(|(_, g, _)| *g == generation) {
                        abandon_at = None;
                    }
                }
                // `recv` is cancellation safe: nothing is lost when another branch wins.
                received = self.consumer.recv() => {
                    // A rebalance is noticed inside `recv`, before the new assignment's records.
                    if self.changed.swap(false, Ordering::SeqCst) {
                        self.reset(&registry, &mut backlog, &mut paused).await;
                        generation += 1;
                        if !handles.is_empty() {
                            abandon_at.get_or_insert(Instant::now() + REVOKE_DEADLINE);
                        }
                    }
                    Self::take(&mut backlog, received);
                }
                () = sleep_until(wake), if wake.is_some() => {}
                () = sleep_until(abandon_at), if abandon_at.is_some() => {
                    // Only records started before the rebalance; their partitions are free again.
                    let (old, current): (Vec<_>, Vec<_>) = handles.drain(..).partition(|(_, g, _)| *g < generation);
                    tracing::warn!(records = old.len(), "records outlived the revocation deadline; abandoned");
                    metrics.add("hcal_notifications_total", "outcome", "abandoned", old.len() as u64);
                    for (partition, _, handle) in old {
                        handle.abort();
                        busy.remove(&partition);
                    }
                    handles = current;
                    abandon_at = None;
                }
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
    fn records_are_taken_once_in_offset_order_per_partition() {
        let mut b: Backlog<&str> = Backlog::default();
        assert!(b.accept(0, 5, "a"));
        assert!(b.accept(0, 6, "b"));
        assert!(!b.accept(0, 5, "a again"), "a refetched record is a duplicate");
        assert!(b.accept(0, 9, "c"), "gaps (transaction markers, compaction) are fine");
        let now = Instant::now();
        assert_eq!(b.next_due(now, &HashSet::new()), Some(0));
        assert_eq!(b.front(0), Some((5, &"a", 0)));
        b.done(0);
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
        assert_eq!(b.next_due(now, &HashSet::new()), Some(0));
        b.retry(0, later);
        assert_eq!(b.front(0), Some((0, &0, 1)));
        // A partition with a record in flight is passed over.
        assert_eq!(b.next_due(now, &HashSet::from([1])), Some(2));
        b.last = Some(0);
        // The others go on, in turn.
        assert_eq!(b.next_due(now, &HashSet::new()), Some(1));
        b.done(1);
        assert_eq!(b.next_due(now, &HashSet::new()), Some(2));
        b.done(2);
        assert_eq!(b.next_due(now, &HashSet::new()), Some(1));
        assert_eq!(b.wake(), Some(later));
        assert_eq!(b.to_pause(now), HashSet::from([0]));
        // Once due, the waiting record is served again, with its failure count.
        let mut served = Vec::new();
        while let Some(p) = b.next_due(later, &HashSet::new()) {
            let (offset, _, failures) = b.front(p).unwrap();
            served.push((p, offset, failures));
            b.done(p);
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
        b.done(3);
        assert!(b.to_pause(Instant::now()).is_empty());
        b.clear();
        assert_eq!(b.next_due(Instant::now(), &HashSet::new()), None);
    }
}

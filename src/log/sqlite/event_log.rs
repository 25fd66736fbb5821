//! The embedded event log: appends, reads, waits and consumer positions of [`SqliteStore`]
//! (the [`EventLog`] port), on the `records`, `partition_heads` and `positions` tables.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::log::{EventLog, LogError, Record, is_compacted, partition_for};
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::watch;

use super::{Inner, SqliteStore, check_name, check_topic, read_head, read_position, set_position, storage, to_i64};

/// While `wait` sleeps it re-reads the partition's head this often. Appends through this store
/// wake waiters at once; the poll only catches records written by another connection to the
/// same file, which the in-process signal cannot see.
const FALLBACK_POLL: Duration = Duration::from_millis(500);

/// What an append is answered: each record's (partition, offset), or why it failed.
type Appended = Result<Vec<(u32, u64)>, LogError>;

/// One caller's append, waiting for a group commit.
struct Pending {
    topic: String,
    items: Vec<(String, Vec<u8>)>,
    reply: tokio::sync::oneshot::Sender<Appended>,
}

/// Appends waiting for the committer ([`Inner::commit_groups`]).
#[derive(Default)]
pub(super) struct Group {
    queue: Vec<Pending>,
    /// A committer is draining the queue: new appends join its next group.
    running: bool,
}

/// Most appends one transaction takes; the rest wait for the next.
const MAX_GROUP: usize = 512;

impl SqliteStore {
    /// Appends several records, possibly under different keys, in one transaction: all are
    /// stored or none. Each goes to its key's partition; records sharing a partition get
    /// consecutive offsets in the order given. Returns (partition, offset) per item, in order,
    /// once they are durable.
    ///
    /// **Group commit.** Appends that arrive while a transaction is being written (webhook
    /// batches, actor events, inbox commands, from many tasks) wait for the next one and go in
    /// together: one transaction and one fsync for all of them, each caller answered when that
    /// transaction committed. Each append keeps its own all-or-nothing (a savepoint each): one
    /// that fails is rolled back alone and answered with its error.
    pub async fn append_many(&self, topic: &str, items: Vec<(String, Vec<u8>)>) -> Result<Vec<(u32, u64)>, LogError> {
        check_topic(topic)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let start = {
            let mut group = self.inner.group.lock();
            group.queue.push(Pending { topic: topic.to_owned(), items, reply });
            !std::mem::replace(&mut group.running, true)
        };
        if start {
            let inner = std::sync::Arc::clone(&self.inner);
            tokio::task::spawn_blocking(move || inner.commit_groups());
        }
        answer.await.map_err(|_| LogError::Unavailable("the store's committer stopped".into()))?
    }

    /// Transactions that committed appends so far (one per group commit).
    pub fn append_commits(&self) -> u64 {
        self.inner.append_commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A receiver of `topic`/`partition`'s next offset, creating the channel from the
    /// database on first use.
    async fn subscribe(&self, topic: &str, partition: u32) -> Result<watch::Receiver<u64>, LogError> {
        if let Some(tx) = self.inner.heads.lock().get(topic).and_then(|p| p.get(&partition)) {
            return Ok(tx.subscribe());
        }
        let topic = topic.to_owned();
        self.run(move |inner, conn| {
            // Read and insert under the connection lock: no commit can slip in between.
            let next = read_head(conn, &topic, partition)?;
            let mut heads = inner.heads.lock();
            let tx = heads.entry(topic).or_default().entry(partition).or_insert_with(|| watch::channel(next).0);
            Ok(tx.subscribe())
        })
        .await
    }

    /// Re-reads a partition's head from the database, for records another connection wrote.
    async fn refresh(&self, topic: &str, partition: u32) -> Result<(), LogError> {
        let topic = topic.to_owned();
        self.run(move |inner, conn| {
            let next = read_head(conn, &topic, partition)?;
            inner.advance(&topic, partition, next);
            Ok(())
        })
        .await
    }
}

impl Inner {
    /// Drains the queue of appends, a group per transaction, until it is empty. Runs on the
    /// blocking pool; at most one runs at a time (`Group::running`).
    fn commit_groups(&self) {
        loop {
            let batch: Vec<Pending> = {
                let mut group = self.group.lock();
                if group.queue.is_empty() {
                    group.running = false;
                    return;
                }
                let take = group.queue.len().min(MAX_GROUP);
                group.queue.drain(..take).collect()
            };
            let mut conn = self.conn.lock();
            self.commit_group(&mut conn, batch);
        }
    }

    /// Writes `batch` in one transaction and answers each caller.
    fn commit_group(&self, conn: &mut Connection, batch: Vec<Pending>) {
        let mut answers: Vec<(Pending, Appended)> = Vec::with_capacity(batch.len());
        let mut next: HashMap<(String, u32), i64> = HashMap::new();
        let committed = (|| -> Result<(), LogError> {
            // IMMEDIATE takes the write lock up front, so the heads read below cannot go stale.
            let mut tx =
                conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| storage("begin", e))?;
            for pending in batch {
                let before = next.clone();
                let result = (|| {
                    let sp = tx.savepoint().map_err(|e| storage("savepoint", e))?;
                    let out = self.insert(&sp, &pending.topic, &pending.items, &mut next)?;
                    sp.commit().map_err(|e| storage("release savepoint", e))?;
                    Ok(out)
                })();
                if result.is_err() {
                    // Rolled back (the savepoint dropped): its offsets are free again.
                    next = before;
                }
                answers.push((pending, result));
            }
            {
                let mut head = tx
                    .prepare_cached(
                        "INSERT INTO partition_heads (topic, partition_no, next_offset) VALUES (?1, ?2, ?3)
                         ON CONFLICT (topic, partition_no) DO UPDATE SET next_offset = excluded.next_offset",
                    )
                    .map_err(|e| storage("prepare head", e))?;
                for ((topic, partition), after) in &next {
                    head.execute(params![topic, partition, after]).map_err(|e| storage("advance head", e))?;
                }
            }
            tx.commit().map_err(|e| storage("commit", e))
        })();
        match committed {
            Ok(()) => {
                self.append_commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Only now, after the commit and still under the connection lock, wake waiters.
                for ((topic, partition), after) in next {
                    self.advance(&topic, partition, after as u64);
                }
                for (pending, result) in answers {
                    let _ = pending.reply.send(result);
                }
            }
            Err(e) => {
                // Nothing of the group is durable: every caller hears so.
                for (pending, result) in answers {
                    let _ = pending.reply.send(result.and(Err(e.clone())));
                }
            }
        }
    }

    /// Inserts one append's records; `next` holds the next offset of each partition touched
    /// in this transaction so far.
    fn insert(
        &self,
        tx: &Connection,
        topic: &str,
        items: &[(String, Vec<u8>)],
        next: &mut HashMap<(String, u32), i64>,
    ) -> Result<Vec<(u32, u64)>, LogError> {
        let mut out = Vec::with_capacity(items.len());
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO records (topic, partition_no, record_offset, record_key, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(|e| storage("prepare append", e))?;
        // A compacted topic keeps only the latest record of a key (like Kafka's
        // `cleanup.policy=compact`, but at once); offsets stay as they were handed out.
        let mut superseded = tx
            .prepare_cached("DELETE FROM records WHERE topic = ?1 AND partition_no = ?2 AND record_key = ?3")
            .map_err(|e| storage("prepare compaction", e))?;
        for (key, payload) in items {
            let partition = partition_for(key, self.partitions);
            if is_compacted(topic) {
                superseded.execute(params![topic, partition, key]).map_err(|e| storage("compact", e))?;
            }
            let slot = (topic.to_owned(), partition);
            let offset = match next.get(&slot) {
                Some(offset) => *offset,
                None => to_i64("offset", read_head(tx, topic, partition)?)?,
            };
            insert.execute(params![topic, partition, offset, key, payload]).map_err(|e| storage("append", e))?;
            let after = offset.checked_add(1).ok_or_else(|| LogError::Invalid("partition is full".into()))?;
            next.insert(slot, after);
            out.push((partition, offset as u64));
        }
        Ok(out)
    }

    /// Raises the known next offset of a partition (if someone waits on it) and wakes waiters.
    fn advance(&self, topic: &str, partition: u32, next: u64) {
        if let Some(tx) = self.heads.lock().get(topic).and_then(|p| p.get(&partition)) {
            tx.send_if_modified(|known| {
                let raised = next > *known;
                if raised {
                    *known = next;
                }
                raised
            });
        }
    }
}

#[async_trait]
impl EventLog for SqliteStore {
    /// The store-wide partition count recorded at creation, for every topic.
    fn partitions(&self, _topic: &str) -> u32 {
        self.inner.partitions
    }

    async fn append(&self, topic: &str, key: &str, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        let items = payloads.into_iter().map(|payload| (key.to_owned(), payload)).collect();
        Ok(self.append_many(topic, items).await?.into_iter().map(|(_, offset)| offset).collect())
    }

    async fn read(&self, topic: &str, partition: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
        check_topic(topic)?;
        self.check_partition(partition)?;
        // Offsets above i64::MAX cannot exist, so such a `from` simply finds nothing.
        let Ok(from) = i64::try_from(from) else { return Ok(Vec::new()) };
        if max == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let topic = topic.to_owned();
        self.run(move |_, conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT record_offset, record_key, payload FROM records
                     WHERE topic = ?1 AND partition_no = ?2 AND record_offset >= ?3
                     ORDER BY record_offset LIMIT ?4",
                )
                .map_err(|e| storage("prepare read", e))?;
            let rows = stmt
                .query_map(params![topic, partition, from, limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, Vec<u8>>(2)?))
                })
                .map_err(|e| storage("read", e))?;
            rows.map(|row| {
                let (offset, key, payload) = row.map_err(|e| storage("read", e))?;
                let offset = u64::try_from(offset)
                    .map_err(|_| LogError::Unavailable(format!("corrupt store: negative offset {offset}")))?;
                Ok(Record { partition, offset, key, payload })
            })
            .collect()
        })
        .await
    }

    /// Returns at once for an invalid topic or partition (the following `read` reports it), and
    /// after at most the fallback poll interval if the store cannot be read.
    async fn wait(&self, topic: &str, partition: u32, from: u64, timeout: Duration) {
        if check_topic(topic).is_err() || self.check_partition(partition).is_err() {
            return;
        }
        let now = tokio::time::Instant::now();
        // A timeout too large to add (`Duration::MAX`) means "wait a very long time".
        let deadline = now
            .checked_add(timeout)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
            .unwrap_or(now);
        let Ok(mut rx) = self.subscribe(topic, partition).await else {
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + FALLBACK_POLL)).await;
            return;
        };
        loop {
            let slice_end = deadline.min(tokio::time::Instant::now() + FALLBACK_POLL);
            // `wait_for` looks at the current value first, so an append between `subscribe` and
            // here is not missed. An error means the sender is gone, which cannot happen while
            // `self` lives; returning is the safe answer either way.
            if tokio::time::timeout_at(slice_end, rx.wait_for(|next| *next > from)).await.is_ok() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                return;
            }
            if self.refresh(topic, partition).await.is_err() {
                // The store is failing: let the caller's next read surface the error.
                return;
            }
        }
    }

    async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        check_name("consumer group", group)?;
        check_topic(topic)?;
        self.check_partition(partition)?;
        let (group, topic) = (group.to_owned(), topic.to_owned());
        self.run(move |_, conn| read_position(conn, &group, &topic, partition)).await
    }

    /// Sets the position to exactly `next`, also backwards: replay tools rewind a group by
    /// committing an earlier offset. Consumers only ever commit forwards, so nothing is lost.
    async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError> {
        check_name("consumer group", group)?;
        check_topic(topic)?;
        self.check_partition(partition)?;
        let next = to_i64("offset", next)?;
        let (group, topic) = (group.to_owned(), topic.to_owned());
        self.run(move |_, conn| set_position(conn, &group, &topic, partition, next)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use hcal_actors::log::{MAILBOX_EVENTS, NOTIFICATIONS};
    use std::time::Instant;

    #[tokio::test]
    async fn append_gives_gapless_offsets_and_read_returns_them_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let key = "tenant/user";
        let p = partition_for(key, P);
        assert_eq!(store.append(NOTIFICATIONS, key, vec![b"a".to_vec(), b"b".to_vec()]).await.unwrap(), vec![0, 1]);
        assert_eq!(store.append(NOTIFICATIONS, key, vec![b"c".to_vec()]).await.unwrap(), vec![2]);
        assert_eq!(store.append(NOTIFICATIONS, key, vec![]).await.unwrap(), Vec::<u64>::new());
        assert_eq!(store.append(NOTIFICATIONS, key, vec![b"d".to_vec(), b"e".to_vec()]).await.unwrap(), vec![3, 4]);

        let all = store.read(NOTIFICATIONS, p, 0, 100).await.unwrap();
        let offsets: Vec<u64> = all.iter().map(|r| r.offset).collect();
        let payloads: Vec<&[u8]> = all.iter().map(|r| r.payload.as_slice()).collect();
        assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
        assert_eq!(payloads, vec![b"a" as &[u8], b"b", b"c", b"d", b"e"]);
        assert!(all.iter().all(|r| r.key == key && r.partition == p));

        let window = store.read(NOTIFICATIONS, p, 1, 2).await.unwrap();
        assert_eq!(window.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![1, 2]);
        assert!(store.read(NOTIFICATIONS, p, 5, 10).await.unwrap().is_empty());
        assert!(store.read(NOTIFICATIONS, p, 0, 0).await.unwrap().is_empty());
        assert!(store.read(NOTIFICATIONS, p, u64::MAX, 10).await.unwrap().is_empty());
        // Topics are independent.
        assert!(store.read(MAILBOX_EVENTS, p, 0, 10).await.unwrap().is_empty());
        assert_eq!(store.append(MAILBOX_EVENTS, key, vec![b"x".to_vec()]).await.unwrap(), vec![0]);
    }

    #[tokio::test]
    async fn keys_land_on_their_partition_for_partition() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let keys: Vec<String> = (0..40).map(|i| format!("tenant/user-{i}")).collect();
        for key in &keys {
            store.append(NOTIFICATIONS, key, vec![key.as_bytes().to_vec()]).await.unwrap();
        }
        let mut seen = 0;
        for p in 0..P {
            let records = store.read(NOTIFICATIONS, p, 0, 100).await.unwrap();
            for (i, r) in records.iter().enumerate() {
                assert_eq!(partition_for(&r.key, P), p, "{} on partition {p}", r.key);
                assert_eq!(r.offset, i as u64, "gapless per partition");
                assert_eq!(r.payload, r.key.as_bytes());
            }
            seen += records.len();
        }
        assert_eq!(seen, keys.len());
        let used: std::collections::HashSet<u32> = keys.iter().map(|k| partition_for(k, P)).collect();
        assert!(used.len() > 1, "the test keys should spread over partitions");
    }

    #[tokio::test]
    async fn a_compacted_topic_keeps_only_the_latest_record_of_each_key() {
        use hcal_actors::log::MAILBOX_SNAPSHOTS;
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let (a, b) = keys_on_two_partitions();
        // Two keys on one partition, found by search.
        let c = (0..).map(|i| format!("t/c{i}")).find(|k| partition_for(k, P) == partition_for(&a, P)).unwrap();
        store.append(MAILBOX_SNAPSHOTS, &a, vec![b"a1".to_vec()]).await.unwrap();
        store.append(MAILBOX_SNAPSHOTS, &c, vec![b"c1".to_vec()]).await.unwrap();
        assert_eq!(
            store.append(MAILBOX_SNAPSHOTS, &a, vec![b"a2".to_vec(), b"a3".to_vec()]).await.unwrap(),
            vec![2, 3]
        );
        store.append(MAILBOX_SNAPSHOTS, &b, vec![b"b1".to_vec()]).await.unwrap();
        let p = partition_for(&a, P);
        let left: Vec<(u64, Vec<u8>)> =
            store.read(MAILBOX_SNAPSHOTS, p, 0, 10).await.unwrap().into_iter().map(|r| (r.offset, r.payload)).collect();
        assert_eq!(left, vec![(1, b"c1".to_vec()), (3, b"a3".to_vec())]);
        // Offsets are never handed out twice, and other topics keep every record.
        assert_eq!(store.append(MAILBOX_SNAPSHOTS, &c, vec![b"c2".to_vec()]).await.unwrap(), vec![4]);
        store.append(MAILBOX_EVENTS, &a, vec![b"e1".to_vec()]).await.unwrap();
        store.append(MAILBOX_EVENTS, &a, vec![b"e2".to_vec()]).await.unwrap();
        assert_eq!(store.read(MAILBOX_EVENTS, p, 0, 10).await.unwrap().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_to_one_key_stay_gapless() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store.append(NOTIFICATIONS, "t/u", vec![vec![i], vec![i]]).await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let records = store.read(NOTIFICATIONS, partition_for("t/u", P), 0, 100).await.unwrap();
        assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..40).collect::<Vec<u64>>());
        // Each append's two payloads are adjacent: appends do not interleave.
        for pair in records.chunks(2) {
            assert_eq!(pair[0].payload, pair[1].payload);
        }
    }

    #[tokio::test]
    async fn append_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let key = "tenant/user";
        let p = partition_for(key, P);
        store.append(NOTIFICATIONS, key, vec![b"first".to_vec()]).await.unwrap();
        inject_failure(&store, "records", "payload");
        let failed = store.append(NOTIFICATIONS, key, vec![b"a".to_vec(), b"b".to_vec(), vec![0xde, 0xad]]).await;
        assert!(matches!(failed, Err(LogError::Unavailable(_))), "{failed:?}");
        assert_eq!(store.read(NOTIFICATIONS, p, 0, 10).await.unwrap().len(), 1);
        // The failed append used no offsets.
        assert_eq!(store.append(NOTIFICATIONS, key, vec![b"second".to_vec()]).await.unwrap(), vec![1]);
    }

    #[tokio::test]
    async fn append_many_is_atomic_across_keys_and_orders_per_partition() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let (a, b) = keys_on_two_partitions();
        let (pa, pb) = (partition_for(&a, P), partition_for(&b, P));
        let got = store
            .append_many(
                NOTIFICATIONS,
                vec![(a.clone(), b"a0".to_vec()), (b.clone(), b"b0".to_vec()), (a.clone(), b"a1".to_vec())],
            )
            .await
            .unwrap();
        assert_eq!(got, vec![(pa, 0), (pb, 0), (pa, 1)]);
        assert!(store.append_many(NOTIFICATIONS, vec![]).await.unwrap().is_empty());

        inject_failure(&store, "records", "payload");
        let failed =
            store.append_many(NOTIFICATIONS, vec![(a.clone(), b"a2".to_vec()), (b.clone(), vec![0xde, 0xad])]).await;
        assert!(failed.is_err());
        assert_eq!(store.read(NOTIFICATIONS, pa, 0, 10).await.unwrap().len(), 2, "a's record rolled back");
        assert_eq!(store.read(NOTIFICATIONS, pb, 0, 10).await.unwrap().len(), 1);
        let next = store.append_many(NOTIFICATIONS, vec![(a, b"a2".to_vec()), (b, b"b1".to_vec())]).await.unwrap();
        assert_eq!(next, vec![(pa, 2), (pb, 1)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_share_commits_and_each_keeps_its_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        inject_failure(&store, "records", "payload");
        let before = store.append_commits();
        let calls = (0..200u32).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("tenant/user-{}", i % 7);
                // Every tenth append carries a poisoned record and must fail alone.
                let poisoned = if i % 10 == 0 { vec![0xde, 0xad] } else { b"ok".to_vec() };
                let out = store
                    .append_many(NOTIFICATIONS, vec![(key.clone(), format!("{i}").into_bytes()), (key, poisoned)])
                    .await;
                (i, out)
            })
        });
        let results = futures::future::join_all(calls).await;
        let commits = store.append_commits() - before;
        let mut stored: HashMap<u32, Vec<u64>> = HashMap::new();
        for result in results {
            let (i, out) = result.unwrap();
            if i % 10 == 0 {
                assert!(out.is_err(), "append {i} should have failed");
            } else {
                let out = out.unwrap();
                assert_eq!(out.len(), 2);
                assert_eq!(out[0].1 + 1, out[1].1, "an append's records are consecutive in its partition");
                stored.entry(out[0].0).or_default().extend(out.iter().map(|(_, o)| *o));
            }
        }
        // Offsets are gapless per partition: failed appends used none.
        for (partition, mut offsets) in stored {
            offsets.sort_unstable();
            assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>(), "partition {partition}");
            let records = store.read(NOTIFICATIONS, partition, 0, 1000).await.unwrap();
            assert_eq!(records.len(), offsets.len());
        }
        assert!(commits < 200, "200 concurrent appends took {commits} transactions");
        println!("200 concurrent appends in {commits} transactions");
    }

    #[tokio::test]
    async fn wait_wakes_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let key = "tenant/user";
        let p = partition_for(key, P);
        let appender = store.clone();
        let started = Instant::now();
        let append = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            appender.append(NOTIFICATIONS, key, vec![b"x".to_vec()]).await.unwrap();
        });
        store.wait(NOTIFICATIONS, p, 0, Duration::from_secs(10)).await;
        let waited = started.elapsed();
        append.await.unwrap();
        assert!(waited < Duration::from_secs(2), "woke after {waited:?}");
        assert_eq!(store.read(NOTIFICATIONS, p, 0, 10).await.unwrap().len(), 1);

        // A record already there: no waiting at all.
        let started = Instant::now();
        store.wait(NOTIFICATIONS, p, 0, Duration::from_secs(10)).await;
        store.wait(NOTIFICATIONS, p, 0, Duration::MAX).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn wait_times_out_without_a_matching_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let (a, b) = keys_on_two_partitions();
        let (pa, pb) = (partition_for(&a, P), partition_for(&b, P));
        store.append(NOTIFICATIONS, &a, vec![b"x".to_vec()]).await.unwrap();
        let appender = store.clone();
        let other = tokio::spawn(async move {
            // Records on another partition, and on the same partition of another topic, do not
            // satisfy the wait.
            tokio::time::sleep(Duration::from_millis(50)).await;
            appender.append(NOTIFICATIONS, &b, vec![b"y".to_vec()]).await.unwrap();
            appender.append(MAILBOX_EVENTS, &a, vec![b"z".to_vec()]).await.unwrap();
        });
        let started = Instant::now();
        store.wait(NOTIFICATIONS, pa, 1, Duration::from_millis(700)).await;
        let waited = started.elapsed();
        other.await.unwrap();
        assert!(waited >= Duration::from_millis(690), "returned early after {waited:?}");
        assert!(waited < Duration::from_secs(3), "overslept: {waited:?}");
        assert_ne!(pa, pb);
        // Invalid requests return at once; the read that follows reports them.
        let started = Instant::now();
        store.wait(NOTIFICATIONS, P, 0, Duration::from_secs(10)).await;
        store.wait("bad topic", 0, 0, Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn wait_sees_records_written_by_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let other = open(&dir);
        let key = "tenant/user";
        let p = partition_for(key, P);
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            other.append(NOTIFICATIONS, key, vec![b"x".to_vec()]).await.unwrap();
        });
        let started = Instant::now();
        store.wait(NOTIFICATIONS, p, 0, Duration::from_secs(10)).await;
        writer.await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "fallback poll too slow: {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn commit_sets_positions_exactly_and_they_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(&dir);
            assert_eq!(store.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 0);
            store.commit("meetings", NOTIFICATIONS, 1, 10).await.unwrap();
            assert_eq!(store.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 10);
            // Rewinding is allowed (replay tools).
            store.commit("meetings", NOTIFICATIONS, 1, 3).await.unwrap();
            assert_eq!(store.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 3);
            store.commit("meetings", MAILBOX_EVENTS, 1, 7).await.unwrap();
            store.commit("presence", NOTIFICATIONS, 1, 8).await.unwrap();
            // Positions are per group, topic and partition.
            assert_eq!(store.committed("meetings", NOTIFICATIONS, 2).await.unwrap(), 0);
        }
        let store = open(&dir);
        assert_eq!(store.committed("meetings", NOTIFICATIONS, 1).await.unwrap(), 3);
        assert_eq!(store.committed("meetings", MAILBOX_EVENTS, 1).await.unwrap(), 7);
        assert_eq!(store.committed("presence", NOTIFICATIONS, 1).await.unwrap(), 8);
    }

    #[tokio::test]
    async fn invalid_log_requests_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(SqliteStore::open(dir.path(), 0), Err(LogError::Invalid(_))));
        let store = open(&dir);
        fn invalid<T>(r: Result<T, LogError>) -> bool {
            matches!(r, Err(LogError::Invalid(_)))
        }
        assert!(invalid(store.append("", "k", vec![vec![1]]).await));
        assert!(invalid(store.append("no spaces", "k", vec![vec![1]]).await));
        assert!(invalid(store.append("..", "k", vec![vec![1]]).await));
        assert!(invalid(store.read(NOTIFICATIONS, P, 0, 1).await));
        assert!(invalid(store.committed("", NOTIFICATIONS, 0).await));
        assert!(invalid(store.committed("g", NOTIFICATIONS, P).await));
        assert!(invalid(store.commit("g", NOTIFICATIONS, 0, u64::MAX).await));
    }
}

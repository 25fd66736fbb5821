//! The embedded event log and projection store: one SQLite database (`hcal.db`) in the data
//! directory holds every topic, the consumer positions and the projections' rows, so that a
//! projection's row changes and its consumer positions commit in one transaction.
//!
//! Durability: the database runs in WAL mode with `synchronous=FULL`, so every committed
//! transaction is fsynced to the write-ahead log before the call returns. An acknowledged
//! append therefore survives a killed process and a power loss (on storage that honours fsync).
//!
//! Concurrency: SQLite calls block, so each call runs on tokio's blocking pool and takes the one
//! connection behind a mutex. One writer at a time is what SQLite allows anyway, and holding the
//! connection for the whole call makes offset assignment and wake-ups of waiters race-free.
//!
//! Topics come into being on first append (like Kafka's auto-creation) and all have the
//! partition count the store was created with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::log::{EventLog, LogError, Record, is_compacted, partition_for};
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::watch;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "hcal.db";

/// How long a statement waits for a lock held by another connection (a backup tool, an
/// `sqlite3` shell) before it fails with `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// While `wait` sleeps it re-reads the partition's head this often. Appends through this store
/// wake waiters at once; the poll only catches records written by another connection to the
/// same file, which the in-process signal cannot see.
const FALLBACK_POLL: Duration = Duration::from_millis(500);

/// Schema migrations; the database's `user_version` is the number applied. Each step runs in
/// the same transaction as the version bump, so a crash leaves either the old or the new schema.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema. STRICT makes SQLite reject values of the wrong type instead of
    // storing them silently.
    "CREATE TABLE meta (
         name  TEXT PRIMARY KEY NOT NULL,
         value ANY NOT NULL
     ) STRICT, WITHOUT ROWID;
     CREATE TABLE records (
         topic         TEXT NOT NULL,
         partition_no  INTEGER NOT NULL,
         record_offset INTEGER NOT NULL,
         record_key    TEXT NOT NULL,
         payload       BLOB NOT NULL,
         PRIMARY KEY (topic, partition_no, record_offset)
     ) STRICT;
     -- The next offset is stored rather than derived from MAX(record_offset) so that a future
     -- retention job that deletes old records can never cause an offset to be handed out twice.
     CREATE TABLE partition_heads (
         topic        TEXT NOT NULL,
         partition_no INTEGER NOT NULL,
         next_offset  INTEGER NOT NULL,
         PRIMARY KEY (topic, partition_no)
     ) STRICT, WITHOUT ROWID;
     CREATE TABLE positions (
         consumer_group TEXT NOT NULL,
         topic          TEXT NOT NULL,
         partition_no   INTEGER NOT NULL,
         next_offset    INTEGER NOT NULL,
         PRIMARY KEY (consumer_group, topic, partition_no)
     ) STRICT, WITHOUT ROWID;
     CREATE TABLE projection_rows (
         projection TEXT NOT NULL,
         row_key    TEXT NOT NULL,
         row_value  BLOB NOT NULL,
         PRIMARY KEY (projection, row_key)
     ) STRICT;",
];

/// Changes to one projection, applied in a single transaction together with the consumer
/// positions they bring the projection up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionBatch {
    /// Rows to insert or replace, as (key, value). When a key repeats, the last value wins.
    pub upserts: Vec<(String, Vec<u8>)>,
    /// Keys of rows to delete; deleting a missing row is not an error. A key may not also
    /// appear in `upserts` (the batch would be ambiguous): such a batch is `Invalid`.
    pub deletes: Vec<String>,
    /// Consumer positions as (topic, partition, next offset), stored under the projection's
    /// name as consumer group, exactly as [`EventLog::commit`] would store them.
    pub positions: Vec<(String, u32, u64)>,
}

/// The embedded implementation of the event-log port plus the projection store, on one SQLite
/// database. Clones share the same connection and wake-up signals.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

/// Per topic, per partition: a channel carrying the partition's next offset, for `wait`.
type Heads = HashMap<String, HashMap<u32, watch::Sender<u64>>>;

struct Inner {
    /// The only connection. Everything that reads or writes takes it, which also orders the
    /// updates of `heads` after the commits they describe.
    conn: Mutex<Connection>,
    /// Partitions per topic, as recorded when the database was created.
    partitions: u32,
    /// Next offset of each partition that someone has waited on. An entry is created from the
    /// database while holding `conn` and updated after every commit while still holding `conn`,
    /// so it is never behind what has been committed through this store.
    heads: Mutex<Heads>,
    /// Path of the database file, for diagnostics.
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.inner.path)
            .field("partitions", &self.inner.partitions)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens the store in `dir` (created if missing), creating `dir/hcal.db` on first use with
    /// `partitions` partitions per topic. The partition count is fixed at creation: reopening
    /// with another count keeps the stored one (see [`EventLog::partitions`]), because moving
    /// keys to other partitions would break per-key order.
    ///
    /// Blocks on file I/O; call it at start-up or from a blocking task.
    pub fn open(dir: &Path, partitions: u32) -> Result<Self, LogError> {
        if partitions == 0 {
            return Err(LogError::Invalid("a store needs at least one partition".into()));
        }
        // Directories this call creates, deepest first: their names must be made durable too.
        let created: Vec<PathBuf> =
            dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).map(Path::to_path_buf).collect();
        std::fs::create_dir_all(dir)
            .map_err(|e| LogError::Unavailable(format!("cannot create data directory {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let created_db = !path.exists();
        let mut conn = Connection::open(&path).map_err(|e| storage("open", e))?;
        configure(&conn)?;
        let partitions = migrate(&mut conn, partitions)?;
        if created_db {
            // SQLite fsyncs the directory when it creates the WAL, not when it creates the main
            // file: make the new file's directory entry (and a new directory's own) durable too.
            sync_dir(dir)?;
            for made in &created {
                let parent = made.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                sync_dir(parent)?;
            }
        }
        Ok(Self { inner: Arc::new(Inner { conn: Mutex::new(conn), partitions, heads: Mutex::default(), path }) })
    }

    /// Path of the database file.
    pub fn db_path(&self) -> &Path {
        &self.inner.path
    }

    /// Appends several records, possibly under different keys, in one transaction: all are
    /// stored or none. Each goes to its key's partition; records sharing a partition get
    /// consecutive offsets in the order given. Returns (partition, offset) per item, in order.
    pub async fn append_many(&self, topic: &str, items: Vec<(String, Vec<u8>)>) -> Result<Vec<(u32, u64)>, LogError> {
        check_topic(topic)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let topic = topic.to_owned();
        self.run(move |inner, conn| inner.append_tx(conn, &topic, items)).await
    }

    /// Applies `batch` to `projection` in one transaction: row upserts, row deletes and the
    /// consumer positions (stored with the projection's name as consumer group, readable through
    /// [`EventLog::committed`]). After a crash the rows and the positions agree, so a projection
    /// resumes exactly after the last event it applied.
    pub async fn projection_apply(&self, projection: &str, batch: ProjectionBatch) -> Result<(), LogError> {
        check_name("projection", projection)?;
        for (topic, partition, _) in &batch.positions {
            check_topic(topic)?;
            self.check_partition(*partition)?;
        }
        if !batch.deletes.is_empty() {
            let deleted: std::collections::HashSet<&str> = batch.deletes.iter().map(String::as_str).collect();
            if let Some((key, _)) = batch.upserts.iter().find(|(key, _)| deleted.contains(key.as_str())) {
                return Err(LogError::Invalid(format!("projection batch both upserts and deletes key {key:?}")));
            }
        }
        let positions = batch
            .positions
            .into_iter()
            .map(|(topic, partition, next)| Ok((topic, partition, to_i64("offset", next)?)))
            .collect::<Result<Vec<_>, LogError>>()?;
        let projection = projection.to_owned();
        let (upserts, deletes) = (batch.upserts, batch.deletes);
        self.run(move |_, conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| storage("begin", e))?;
            {
                let mut upsert = tx
                    .prepare_cached(
                        "INSERT INTO projection_rows (projection, row_key, row_value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (projection, row_key) DO UPDATE SET row_value = excluded.row_value",
                    )
                    .map_err(|e| storage("prepare upsert", e))?;
                for (key, value) in &upserts {
                    upsert.execute(params![projection, key, value]).map_err(|e| storage("upsert row", e))?;
                }
                let mut delete = tx
                    .prepare_cached("DELETE FROM projection_rows WHERE projection = ?1 AND row_key = ?2")
                    .map_err(|e| storage("prepare delete", e))?;
                for key in &deletes {
                    delete.execute(params![projection, key]).map_err(|e| storage("delete row", e))?;
                }
                for (topic, partition, next) in &positions {
                    set_position(&tx, &projection, topic, *partition, *next)?;
                }
            }
            tx.commit().map_err(|e| storage("commit", e))
        })
        .await
    }

    /// The value of `projection`'s row `key`, if there is one.
    pub async fn projection_get(&self, projection: &str, key: &str) -> Result<Option<Vec<u8>>, LogError> {
        check_name("projection", projection)?;
        let (projection, key) = (projection.to_owned(), key.to_owned());
        self.run(move |_, conn| {
            conn.prepare_cached("SELECT row_value FROM projection_rows WHERE projection = ?1 AND row_key = ?2")
                .and_then(|mut stmt| stmt.query_row(params![projection, key], |row| row.get(0)).optional())
                .map_err(|e| storage("read row", e))
        })
        .await
    }

    /// All rows of `projection` whose key starts with `key_prefix` (all rows for ""), ordered
    /// by key (byte order of the UTF-8 key).
    pub async fn projection_scan(
        &self,
        projection: &str,
        key_prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, LogError> {
        check_name("projection", projection)?;
        let (projection, prefix) = (projection.to_owned(), key_prefix.to_owned());
        self.run(move |_, conn| {
            // SQLite compares TEXT bytewise, so the keys with the prefix are the contiguous run
            // that starts at the prefix itself: seek there on the primary key and stop at the
            // first key that no longer matches. No LIKE/GLOB escaping needed.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT row_key, row_value FROM projection_rows
                     WHERE projection = ?1 AND row_key >= ?2 ORDER BY row_key",
                )
                .map_err(|e| storage("prepare scan", e))?;
            let mut rows = stmt.query(params![projection, prefix]).map_err(|e| storage("scan", e))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(|e| storage("scan", e))? {
                let key: String = row.get(0).map_err(|e| storage("scan", e))?;
                if !key.starts_with(&prefix) {
                    break;
                }
                out.push((key, row.get(1).map_err(|e| storage("scan", e))?));
            }
            Ok(out)
        })
        .await
    }

    /// Deletes all of `projection`'s rows and consumer positions in one transaction, so that it
    /// is rebuilt from offset 0 of every partition.
    pub async fn projection_reset(&self, projection: &str) -> Result<(), LogError> {
        check_name("projection", projection)?;
        let projection = projection.to_owned();
        self.run(move |_, conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| storage("begin", e))?;
            tx.execute("DELETE FROM projection_rows WHERE projection = ?1", [&projection])
                .map_err(|e| storage("delete rows", e))?;
            tx.execute("DELETE FROM positions WHERE consumer_group = ?1", [&projection])
                .map_err(|e| storage("delete positions", e))?;
            tx.commit().map_err(|e| storage("commit", e))
        })
        .await
    }

    /// Runs `f` with the connection on tokio's blocking pool, so SQLite never blocks the async
    /// executor. If the caller stops waiting, `f` still runs to the end: a dropped append may
    /// have been committed, as with any at-least-once log.
    async fn run<T, F>(&self, f: F) -> Result<T, LogError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut Connection) -> Result<T, LogError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock();
            f(&inner, &mut conn)
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("store task failed: {e}")))?
    }

    fn check_partition(&self, partition: u32) -> Result<(), LogError> {
        if partition < self.inner.partitions {
            Ok(())
        } else {
            Err(LogError::Invalid(format!("partition {partition} out of range (0..{})", self.inner.partitions)))
        }
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
    /// Appends `items` in one transaction; called with the connection locked.
    fn append_tx(
        &self,
        conn: &mut Connection,
        topic: &str,
        items: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<(u32, u64)>, LogError> {
        // IMMEDIATE takes the write lock up front, so the heads read below cannot go stale.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| storage("begin", e))?;
        let mut next: HashMap<u32, i64> = HashMap::new();
        let mut out = Vec::with_capacity(items.len());
        {
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
            for (key, payload) in &items {
                let partition = partition_for(key, self.partitions);
                if is_compacted(topic) {
                    superseded.execute(params![topic, partition, key]).map_err(|e| storage("compact", e))?;
                }
                let offset = match next.get(&partition) {
                    Some(offset) => *offset,
                    None => to_i64("offset", read_head(&tx, topic, partition)?)?,
                };
                insert.execute(params![topic, partition, offset, key, payload]).map_err(|e| storage("append", e))?;
                let after = offset.checked_add(1).ok_or_else(|| LogError::Invalid("partition is full".into()))?;
                next.insert(partition, after);
                out.push((partition, offset as u64));
            }
            let mut head = tx
                .prepare_cached(
                    "INSERT INTO partition_heads (topic, partition_no, next_offset) VALUES (?1, ?2, ?3)
                     ON CONFLICT (topic, partition_no) DO UPDATE SET next_offset = excluded.next_offset",
                )
                .map_err(|e| storage("prepare head", e))?;
            for (partition, after) in &next {
                head.execute(params![topic, partition, after]).map_err(|e| storage("advance head", e))?;
            }
        }
        tx.commit().map_err(|e| storage("commit", e))?;
        // Only now, after the commit and still under the connection lock, wake the waiters.
        for (partition, after) in next {
            self.advance(topic, partition, after as u64);
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
impl EventLog for EmbeddedStore {
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
        self.run(move |_, conn| {
            let next: Option<i64> = conn
                .prepare_cached(
                    "SELECT next_offset FROM positions WHERE consumer_group = ?1 AND topic = ?2 AND partition_no = ?3",
                )
                .and_then(|mut stmt| stmt.query_row(params![group, topic, partition], |row| row.get(0)).optional())
                .map_err(|e| storage("read position", e))?;
            let next = next.unwrap_or(0);
            u64::try_from(next).map_err(|_| LogError::Unavailable(format!("corrupt store: negative position {next}")))
        })
        .await
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

/// Connection settings; `synchronous` and `busy_timeout` are per connection, so they are set
/// on every open, not stored in the file.
fn configure(conn: &Connection) -> Result<(), LogError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| storage("set busy timeout", e))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| storage("enable WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Without WAL our durability and reader/writer concurrency assumptions do not hold.
        return Err(LogError::Unavailable(format!(
            "the file system does not support SQLite WAL (journal mode {mode})"
        )));
    }
    // FULL: fsync the WAL on every commit, so an acknowledged append survives power loss
    // (NORMAL, the usual WAL companion, may lose the last commits on power loss).
    conn.pragma_update(None, "synchronous", "FULL").map_err(|e| storage("set synchronous", e))?;
    // On macOS plain fsync does not flush the drive's cache; these are no-ops elsewhere.
    conn.pragma_update(None, "fullfsync", true).map_err(|e| storage("set fullfsync", e))?;
    conn.pragma_update(None, "checkpoint_fullfsync", true).map_err(|e| storage("set checkpoint_fullfsync", e))?;
    Ok(())
}

/// Brings the schema up to date and returns the stored partition count (recording `requested`
/// when the database is new). All in one transaction, so concurrent first opens are safe.
fn migrate(conn: &mut Connection, requested: u32) -> Result<u32, LogError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| storage("begin", e))?;
    let version: i64 =
        tx.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(|e| storage("schema", e))?;
    let latest = MIGRATIONS.len() as i64;
    if version > latest {
        return Err(LogError::Invalid(format!(
            "the store has schema version {version}, newer than this hcal supports ({latest}); upgrade hcal"
        )));
    }
    let applied =
        usize::try_from(version).map_err(|_| LogError::Unavailable(format!("bad schema version {version}")))?;
    for step in &MIGRATIONS[applied..] {
        tx.execute_batch(step).map_err(|e| storage("migrate schema", e))?;
    }
    if version < latest {
        tx.pragma_update(None, "user_version", latest).map_err(|e| storage("set schema version", e))?;
    }
    let stored: Option<i64> = tx
        .query_row("SELECT value FROM meta WHERE name = 'partitions'", [], |row| row.get(0))
        .optional()
        .map_err(|e| storage("read partition count", e))?;
    let partitions = match stored {
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| LogError::Unavailable(format!("corrupt store: partition count {n}")))?,
        None => {
            tx.execute("INSERT INTO meta (name, value) VALUES ('partitions', ?1)", [requested])
                .map_err(|e| storage("record partition count", e))?;
            requested
        }
    };
    tx.commit().map_err(|e| storage("commit schema", e))?;
    Ok(partitions)
}

/// Next offset of a partition (0 when it has no records).
fn read_head(conn: &Connection, topic: &str, partition: u32) -> Result<u64, LogError> {
    let next: Option<i64> = conn
        .prepare_cached("SELECT next_offset FROM partition_heads WHERE topic = ?1 AND partition_no = ?2")
        .and_then(|mut stmt| stmt.query_row(params![topic, partition], |row| row.get(0)).optional())
        .map_err(|e| storage("read head", e))?;
    let next = next.unwrap_or(0);
    u64::try_from(next).map_err(|_| LogError::Unavailable(format!("corrupt store: negative head {next}")))
}

fn set_position(conn: &Connection, group: &str, topic: &str, partition: u32, next: i64) -> Result<(), LogError> {
    conn.prepare_cached(
        "INSERT INTO positions (consumer_group, topic, partition_no, next_offset) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (consumer_group, topic, partition_no) DO UPDATE SET next_offset = excluded.next_offset",
    )
    .and_then(|mut stmt| stmt.execute(params![group, topic, partition, next]))
    .map(|_| ())
    .map_err(|e| storage("write position", e))
}

/// Topic names follow Kafka's rules, so a topic that works here works in kafka mode too.
fn check_topic(topic: &str) -> Result<(), LogError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || topic.len() > 249 || topic == "." || topic == ".." || !topic.chars().all(legal) {
        return Err(LogError::Invalid(format!("illegal topic name {topic:?}")));
    }
    Ok(())
}

fn check_name(what: &str, name: &str) -> Result<(), LogError> {
    if name.is_empty() {
        return Err(LogError::Invalid(format!("empty {what} name")));
    }
    Ok(())
}

/// SQLite integers are signed 64-bit; larger offsets are requests no log could satisfy.
fn to_i64(what: &str, value: u64) -> Result<i64, LogError> {
    i64::try_from(value).map_err(|_| LogError::Invalid(format!("{what} {value} is too large")))
}

/// Every SQLite failure (I/O, busy, full disk, corruption) is reported as `Unavailable`: the
/// requests are validated before they reach SQL, so what fails there is the storage.
fn storage(action: &str, e: rusqlite::Error) -> LogError {
    LogError::Unavailable(format!("embedded store: {action}: {e}"))
}

/// Makes directory entries durable (a new file's name lives in its directory).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), LogError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::Unavailable(format!("cannot sync directory {}: {e}", dir.display())))
}

/// Windows cannot open a directory as a file; NTFS journals its metadata.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), LogError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcal_actors::log::{MAILBOX_EVENTS, NOTIFICATIONS};
    use std::time::Instant;

    const P: u32 = 4;

    fn open(dir: &tempfile::TempDir) -> EmbeddedStore {
        EmbeddedStore::open(dir.path(), P).unwrap()
    }

    /// Keys that land on two different partitions.
    fn keys_on_two_partitions() -> (String, String) {
        let a = "tenant-a/user-0".to_owned();
        let pa = partition_for(&a, P);
        let b = (1..).map(|i| format!("tenant-a/user-{i}")).find(|k| partition_for(k, P) != pa).unwrap();
        (a, b)
    }

    /// Makes SQLite abort any insert of the payload/value `x'dead'` into `table`.
    fn inject_failure(store: &EmbeddedStore, table: &str, column: &str) {
        store
            .inner
            .conn
            .lock()
            .execute_batch(&format!(
                "CREATE TEMP TRIGGER fail_{table} BEFORE INSERT ON main.{table}
                 WHEN NEW.{column} = x'dead' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            ))
            .unwrap();
    }

    #[tokio::test]
    async fn durability_pragmas_are_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let conn = store.inner.conn.lock();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous=FULL");
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(store.db_path(), dir.path().join(DB_FILE));
    }

    #[tokio::test]
    async fn open_creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("b");
        let store = EmbeddedStore::open(&nested, P).unwrap();
        assert!(nested.join(DB_FILE).exists());
        assert_eq!(store.partitions(NOTIFICATIONS), P);
    }

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
    async fn records_survive_reopen_and_partition_count_is_fixed_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        let key = "tenant/user";
        {
            let store = open(&dir);
            store.append(NOTIFICATIONS, key, vec![b"a".to_vec(), b"b".to_vec()]).await.unwrap();
        }
        // Reopened with another count: the stored one stays, so the key keeps its partition.
        let store = EmbeddedStore::open(dir.path(), P * 4).unwrap();
        assert_eq!(store.partitions(NOTIFICATIONS), P);
        assert_eq!(store.partitions("some-new-topic"), P);
        let p = partition_for(key, P);
        let records = store.read(NOTIFICATIONS, p, 0, 10).await.unwrap();
        assert_eq!(records.iter().map(|r| r.payload.clone()).collect::<Vec<_>>(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(store.append(NOTIFICATIONS, key, vec![b"c".to_vec()]).await.unwrap(), vec![2]);
        assert!(matches!(store.read(NOTIFICATIONS, P, 0, 10).await, Err(LogError::Invalid(_))));
    }

    #[tokio::test]
    async fn invalid_requests_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(EmbeddedStore::open(dir.path(), 0), Err(LogError::Invalid(_))));
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
        assert!(invalid(store.projection_get("", "k").await));
        let bad_position = ProjectionBatch { positions: vec![(NOTIFICATIONS.into(), P, 1)], ..Default::default() };
        assert!(invalid(store.projection_apply("proj", bad_position).await));
        let ambiguous =
            ProjectionBatch { upserts: vec![("k".into(), vec![1])], deletes: vec!["k".into()], ..Default::default() };
        assert!(invalid(store.projection_apply("proj", ambiguous).await));
        assert_eq!(store.projection_get("proj", "k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(&dir));
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(EmbeddedStore::open(dir.path(), P), Err(LogError::Invalid(_))));
    }

    #[tokio::test]
    async fn projection_apply_updates_rows_and_positions_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let batch = ProjectionBatch {
            upserts: vec![("u/1".into(), b"one".to_vec()), ("u/2".into(), b"two".to_vec())],
            deletes: vec!["missing".into()],
            positions: vec![(MAILBOX_EVENTS.into(), 0, 5), (MAILBOX_EVENTS.into(), 3, 2)],
        };
        store.projection_apply("meetings", batch).await.unwrap();
        assert_eq!(store.projection_get("meetings", "u/1").await.unwrap(), Some(b"one".to_vec()));
        assert_eq!(store.committed("meetings", MAILBOX_EVENTS, 0).await.unwrap(), 5);
        assert_eq!(store.committed("meetings", MAILBOX_EVENTS, 3).await.unwrap(), 2);

        let batch = ProjectionBatch {
            upserts: vec![("u/1".into(), b"uno".to_vec()), ("u/1".into(), b"eins".to_vec())],
            deletes: vec!["u/2".into()],
            positions: vec![(MAILBOX_EVENTS.into(), 0, 6)],
        };
        store.projection_apply("meetings", batch).await.unwrap();
        assert_eq!(store.projection_get("meetings", "u/1").await.unwrap(), Some(b"eins".to_vec()), "last wins");
        assert_eq!(store.projection_get("meetings", "u/2").await.unwrap(), None);
        assert_eq!(store.committed("meetings", MAILBOX_EVENTS, 0).await.unwrap(), 6);
        // Projections are separate namespaces.
        assert_eq!(store.projection_get("presence", "u/1").await.unwrap(), None);

        // A failure anywhere in the batch leaves rows and positions as they were.
        inject_failure(&store, "projection_rows", "row_value");
        let failing = ProjectionBatch {
            upserts: vec![("u/3".into(), b"three".to_vec()), ("u/4".into(), vec![0xde, 0xad])],
            deletes: vec!["u/1".into()],
            positions: vec![(MAILBOX_EVENTS.into(), 0, 9)],
        };
        assert!(store.projection_apply("meetings", failing).await.is_err());
        assert_eq!(store.projection_get("meetings", "u/3").await.unwrap(), None);
        assert_eq!(store.projection_get("meetings", "u/1").await.unwrap(), Some(b"eins".to_vec()));
        assert_eq!(store.committed("meetings", MAILBOX_EVENTS, 0).await.unwrap(), 6);
    }

    #[tokio::test]
    async fn projection_scan_orders_by_key_and_filters_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let keys = ["b/2", "a/1", "a/", "a0", "a/\u{10FFFF}", "a/é", "a", "a/10", "", "c"];
        let batch = ProjectionBatch {
            upserts: keys.iter().map(|k| (k.to_string(), k.as_bytes().to_vec())).collect(),
            ..Default::default()
        };
        store.projection_apply("p", batch).await.unwrap();
        store
            .projection_apply("q", ProjectionBatch { upserts: vec![("a/1".into(), vec![])], ..Default::default() })
            .await
            .unwrap();

        let scan = |prefix: &'static str| {
            let store = store.clone();
            async move { store.projection_scan("p", prefix).await.unwrap().into_iter().map(|(k, _)| k).collect::<Vec<_>>() }
        };
        assert_eq!(scan("a/").await, vec!["a/", "a/1", "a/10", "a/é", "a/\u{10FFFF}"]);
        assert_eq!(scan("a/1").await, vec!["a/1", "a/10"]);
        assert_eq!(scan("a").await, vec!["a", "a/", "a/1", "a/10", "a/é", "a/\u{10FFFF}", "a0"]);
        let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        sorted.sort();
        assert_eq!(scan("").await, sorted);
        assert!(scan("zz").await.is_empty());
        let rows = store.projection_scan("p", "b/").await.unwrap();
        assert_eq!(rows, vec![("b/2".to_owned(), b"b/2".to_vec())]);
    }

    #[tokio::test]
    async fn projection_reset_drops_rows_and_positions_of_that_projection_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        for name in ["meetings", "presence"] {
            let batch = ProjectionBatch {
                upserts: vec![("k1".into(), vec![1]), ("k2".into(), vec![2])],
                positions: vec![(MAILBOX_EVENTS.into(), 1, 4)],
                ..Default::default()
            };
            store.projection_apply(name, batch).await.unwrap();
        }
        store.projection_reset("meetings").await.unwrap();
        assert!(store.projection_scan("meetings", "").await.unwrap().is_empty());
        assert_eq!(store.committed("meetings", MAILBOX_EVENTS, 1).await.unwrap(), 0);
        assert_eq!(store.projection_scan("presence", "").await.unwrap().len(), 2);
        assert_eq!(store.committed("presence", MAILBOX_EVENTS, 1).await.unwrap(), 4);
        // Resetting an empty projection is fine.
        store.projection_reset("meetings").await.unwrap();
    }

    /// Environment variable that turns [`crash_child`] into the real child process.
    const CRASH_DIR_ENV: &str = "HCAL_EMBEDDED_STORE_CRASH_DIR";

    /// Child half of `acknowledged_writes_survive_sigkill`: does nothing in a normal run. When
    /// started by the parent it writes, reports what was acknowledged, and waits to be killed.
    #[tokio::test]
    async fn crash_child() {
        let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else { return };
        let store = EmbeddedStore::open(Path::new(&dir), P).unwrap();
        let offsets = store.append(NOTIFICATIONS, "tenant/user", vec![b"a".to_vec(), b"b".to_vec()]).await.unwrap();
        let batch = ProjectionBatch {
            upserts: vec![("k".into(), b"v".to_vec())],
            positions: vec![(NOTIFICATIONS.into(), 0, 2)],
            ..Default::default()
        };
        store.projection_apply("proj", batch).await.unwrap();
        println!("ACKED {}", offsets.len());
        use std::io::Write as _;
        std::io::stdout().flush().unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    }

    #[tokio::test]
    async fn acknowledged_writes_survive_sigkill() {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().unwrap();
        // Test names leave out the crate name that `module_path!` starts with.
        let module = module_path!().split_once("::").map_or("", |(_, rest)| rest);
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([&format!("{module}::crash_child"), "--exact", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR_ENV, dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness may have printed the test's name on the same line.
                if let Some(at) = line.find("ACKED") {
                    let _ = tx.send(line[at..].to_owned());
                    return;
                }
            }
        });
        let acked = rx.recv_timeout(Duration::from_secs(60));
        // `kill` is SIGKILL on Unix: no destructors, no checkpoint, no clean close.
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(acked.unwrap(), "ACKED 2");

        let store = open(&dir);
        let records = store.read(NOTIFICATIONS, partition_for("tenant/user", P), 0, 10).await.unwrap();
        assert_eq!(records.iter().map(|r| r.payload.clone()).collect::<Vec<_>>(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(store.projection_get("proj", "k").await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(store.committed("proj", NOTIFICATIONS, 0).await.unwrap(), 2);
        assert_eq!(store.append(NOTIFICATIONS, "tenant/user", vec![b"c".to_vec()]).await.unwrap(), vec![2]);
    }
}

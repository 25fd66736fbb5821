//! The local SQLite store: one database (`hcal.db`) in the data directory. In embedded mode it
//! is the event log (every topic and the consumer positions, [`event_log`]); in both modes it
//! holds the projections' rows ([`projections`]), so that a projection's row changes and its
//! positions commit in one transaction.
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

mod event_log;
mod projections;

pub use projections::ProjectionBatch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hcal_actors::log::LogError;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::watch;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "hcal.db";

/// How long a statement waits for a lock held by another connection (a backup tool, an
/// `sqlite3` shell) before it fails with `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The local SQLite store: the embedded implementation of the event-log port and the projection
/// store of both modes, on one database. Clones share the same connection and wake-up signals.
#[derive(Clone)]
pub struct SqliteStore {
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
    /// Appends waiting for the next group commit, and whether a committer is at work.
    group: Mutex<event_log::Group>,
    /// Transactions that committed appends (one per group), for tests and benchmarks.
    append_commits: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("partitions", &self.inner.partitions)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the store in `dir` (created if missing), creating `dir/hcal.db` on first use with
    /// `partitions` partitions per topic. The partition count is fixed at creation: reopening
    /// with another count keeps the stored one (see
    /// [`EventLog::partitions`](hcal_actors::log::EventLog::partitions)), because moving
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
        crate::private::create_dir_all(dir)
            .map_err(|e| LogError::Unavailable(format!("cannot create data directory {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let created_db = !path.exists();
        // The database is this user's alone; SQLite gives its WAL and shared-memory files the
        // database's mode. Files of older versions are tightened.
        let private = |e: std::io::Error| LogError::Unavailable(format!("cannot restrict {}: {e}", dir.display()));
        crate::private::create_file(&path).map_err(private)?;
        crate::private::restrict(dir).map_err(private)?;
        for file in [path.clone(), dir.join(format!("{DB_FILE}-wal")), dir.join(format!("{DB_FILE}-shm"))] {
            crate::private::restrict(&file).map_err(private)?;
        }
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
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                partitions,
                heads: Mutex::default(),
                path,
                group: Mutex::default(),
                append_commits: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// Path of the database file.
    pub fn db_path(&self) -> &Path {
        &self.inner.path
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

/// A consumer group's next offset in a partition (0 when it never committed there).
fn read_position(conn: &Connection, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
    let next: Option<i64> = conn
        .prepare_cached(
            "SELECT next_offset FROM positions WHERE consumer_group = ?1 AND topic = ?2 AND partition_no = ?3",
        )
        .and_then(|mut stmt| stmt.query_row(params![group, topic, partition], |row| row.get(0)).optional())
        .map_err(|e| storage("read position", e))?;
    let next = next.unwrap_or(0);
    u64::try_from(next).map_err(|_| LogError::Unavailable(format!("corrupt store: negative position {next}")))
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
    LogError::Unavailable(format!("local store: {action}: {e}"))
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
pub(super) mod testing {
    //! What the tests of the store's parts share.

    use super::*;
    use hcal_actors::log::partition_for;

    /// Partitions of the test stores.
    pub const P: u32 = 4;

    pub fn open(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(dir.path(), P).unwrap()
    }

    /// Keys that land on two different partitions.
    pub fn keys_on_two_partitions() -> (String, String) {
        let a = "tenant-a/user-0".to_owned();
        let pa = partition_for(&a, P);
        let b = (1..).map(|i| format!("tenant-a/user-{i}")).find(|k| partition_for(k, P) != pa).unwrap();
        (a, b)
    }

    /// Makes SQLite abort any insert of the payload/value `x'dead'` into `table`.
    pub fn inject_failure(store: &SqliteStore, table: &str, column: &str) {
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
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use hcal_actors::log::{EventLog, NOTIFICATIONS, partition_for};
    use std::time::Duration;

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
        let store = SqliteStore::open(&nested, P).unwrap();
        assert!(nested.join(DB_FILE).exists());
        assert_eq!(store.partitions(NOTIFICATIONS), P);
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
        let store = SqliteStore::open(dir.path(), P * 4).unwrap();
        assert_eq!(store.partitions(NOTIFICATIONS), P);
        assert_eq!(store.partitions("some-new-topic"), P);
        let p = partition_for(key, P);
        let records = store.read(NOTIFICATIONS, p, 0, 10).await.unwrap();
        assert_eq!(records.iter().map(|r| r.payload.clone()).collect::<Vec<_>>(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(store.append(NOTIFICATIONS, key, vec![b"c".to_vec()]).await.unwrap(), vec![2]);
        assert!(matches!(store.read(NOTIFICATIONS, P, 0, 10).await, Err(LogError::Invalid(_))));
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(&dir));
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(SqliteStore::open(dir.path(), P), Err(LogError::Invalid(_))));
    }

    /// Environment variable that turns [`crash_child`] into the real child process.
    const CRASH_DIR_ENV: &str = "HCAL_EMBEDDED_STORE_CRASH_DIR";

    /// Child half of `acknowledged_writes_survive_sigkill`: does nothing in a normal run. When
    /// started by the parent it writes, reports what was acknowledged, and waits to be killed.
    #[tokio::test]
    async fn crash_child() {
        let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else { return };
        let store = SqliteStore::open(Path::new(&dir), P).unwrap();
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

//! The key store: every data key of the installation in its wrapped form, with the scope it
//! belongs to, the key-encryption key that wrapped it and when it was made. An erased key keeps
//! its row (so a ciphertext naming it is told "destroyed", not "unknown") but loses its wrapped
//! bytes; SQLite's `secure_delete` overwrites them in the file.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension as _, params};

/// A stored data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Its id, the one ciphertexts name.
    pub kid: String,
    /// The scope it seals (`KeyScope`'s display form).
    pub scope: String,
    /// The key-encryption key that wrapped it.
    pub kek: String,
    /// Its wrapped bytes; `None` once erased.
    pub wrapped: Option<String>,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// The rotation generation it was made in (`hcal keys rotate` starts a new one).
    pub generation: i64,
}

/// Key store failures (file and database errors; never key material).
#[derive(Debug, thiserror::Error)]
#[error("key store {path}: {what}")]
pub struct StoreError {
    path: PathBuf,
    what: String,
}

/// The key store's database.
pub struct KeyStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("path", &self.path).finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS data_keys (
    kid TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    kek TEXT NOT NULL,
    wrapped TEXT,
    created_at INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    erased_at INTEGER
);
CREATE INDEX IF NOT EXISTS data_keys_by_scope ON data_keys (scope, created_at);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

impl KeyStore {
    /// Opens (creating, mode 0600) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let fail = |what: String| StoreError { path: path.to_path_buf(), what };
        if let Some(dir) = path.parent() {
            crate::private::create_dir_all(dir).map_err(|e| fail(format!("creating its directory: {e}")))?;
        }
        crate::private::create_file(path).map_err(|e| fail(format!("creating: {e}")))?;
        let conn = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| fail(e.to_string()))?;
        let _: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| fail(e.to_string()))?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(|e| fail(e.to_string()))?;
        conn.pragma_update(None, "secure_delete", true).map_err(|e| fail(e.to_string()))?;
        conn.execute_batch(SCHEMA).map_err(|e| fail(e.to_string()))?;
        for extra in ["-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(extra);
            crate::private::restrict(Path::new(&file)).map_err(|e| fail(e.to_string()))?;
        }
        crate::private::restrict(path).map_err(|e| fail(e.to_string()))?;
        Ok(Self { path: path.to_path_buf(), conn: Mutex::new(conn) })
    }

    fn fail(&self, e: rusqlite::Error) -> StoreError {
        StoreError { path: self.path.clone(), what: e.to_string() }
    }

    /// The key with this id.
    pub fn get(&self, kid: &str) -> Result<Option<StoredKey>, StoreError> {
        let conn = self.conn.lock();
        conn.query_row(
            "SELECT kid, scope, kek, wrapped, created_at, generation FROM data_keys WHERE kid = ?1",
            params![kid],
            row_to_key,
        )
        .optional()
        .map_err(|e| self.fail(e))
    }

    /// The newest key of `scope` that is not erased.
    pub fn newest(&self, scope: &str) -> Result<Option<StoredKey>, StoreError> {
        let conn = self.conn.lock();
        conn.query_row(
            "SELECT kid, scope, kek, wrapped, created_at, generation FROM data_keys
             WHERE scope = ?1 AND wrapped IS NOT NULL ORDER BY created_at DESC, rowid DESC LIMIT 1",
            params![scope],
            row_to_key,
        )
        .optional()
        .map_err(|e| self.fail(e))
    }

    /// Records a new key.
    pub fn insert(&self, key: &StoredKey) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        conn.execute(
            "INSERT INTO data_keys (kid, scope, kek, wrapped, created_at, generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![key.kid, key.scope, key.kek, key.wrapped, key.created_at, key.generation],
        )
        .map(|_| ())
        .map_err(|e| self.fail(e))
    }

    /// Erases every key of `scope` (their wrapped bytes overwritten); returns the ids erased
    /// now and the key-encryption keys they were wrapped by.
    pub fn erase(&self, scope: &str, now: i64) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.fail(e))?;
        let (kids, keks) = {
            let mut stmt = tx
                .prepare("SELECT kid, kek FROM data_keys WHERE scope = ?1 AND wrapped IS NOT NULL")
                .map_err(|e| self.fail(e))?;
            let rows = stmt
                .query_map(params![scope], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(|e| self.fail(e))?;
            let mut kids = Vec::new();
            let mut keks = std::collections::BTreeSet::new();
            for row in rows {
                let (kid, kek) = row.map_err(|e| self.fail(e))?;
                kids.push(kid);
                keks.insert(kek);
            }
            (kids, keks.into_iter().collect())
        };
        tx.execute(
            "UPDATE data_keys SET wrapped = NULL, erased_at = ?2 WHERE scope = ?1 AND wrapped IS NOT NULL",
            params![scope, now],
        )
        .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))?;
        // The overwritten pages also leave the write-ahead log.
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        Ok((kids, keks))
    }

    /// Whether every key of `scope` is erased (and it had some).
    pub fn is_erased(&self, scope: &str) -> Result<bool, StoreError> {
        let conn = self.conn.lock();
        let (all, erased): (i64, i64) = conn
            .query_row("SELECT COUNT(*), COUNT(erased_at) FROM data_keys WHERE scope = ?1", params![scope], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| self.fail(e))?;
        Ok(all > 0 && all == erased)
    }

    /// The current rotation generation: keys of an older one are no longer current.
    pub fn generation(&self) -> Result<i64, StoreError> {
        let conn = self.conn.lock();
        conn.query_row("SELECT value FROM settings WHERE name = 'generation'", [], |r| r.get(0))
            .optional()
            .map(|v| v.unwrap_or(0))
            .map_err(|e| self.fail(e))
    }

    /// Starts a new rotation generation; returns it.
    pub fn next_generation(&self) -> Result<i64, StoreError> {
        let conn = self.conn.lock();
        conn.query_row(
            "INSERT INTO settings (name, value) VALUES ('generation', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            [],
            |r| r.get(0),
        )
        .map_err(|e| self.fail(e))
    }

    /// Every key-encryption key in use for scopes other than mailboxes (rotation).
    pub fn shared_keks(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare("SELECT DISTINCT kek FROM data_keys WHERE wrapped IS NOT NULL AND scope NOT LIKE 'mbx/%'")
            .map_err(|e| self.fail(e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.fail(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.fail(e))
    }

    /// How many keys there are, and how many of them are erased.
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        let conn = self.conn.lock();
        conn.query_row("SELECT COUNT(*), COUNT(erased_at) FROM data_keys", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.fail(e))
    }
}

fn row_to_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredKey> {
    Ok(StoredKey {
        kid: r.get(0)?,
        scope: r.get(1)?,
        kek: r.get(2)?,
        wrapped: r.get(3)?,
        created_at: r.get(4)?,
        generation: r.get(5)?,
    })
}

//! The projection store: rows of each projection with the positions of the events they
//! fold, written in one transaction. It lives in the local database in both modes; in kafka mode
//! the positions are those of the Kafka topics a projection follows, which is why they are not
//! checked against this store's own partition count.

use hcal_actors::log::LogError;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, check_name, check_topic, read_position, set_position, storage, to_i64};

/// Changes to one projection, applied in a single transaction together with the consumer
/// positions they bring the projection up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionBatch {
    /// Rows to insert or replace, as (key, value). When a key repeats, the last value wins.
    pub upserts: Vec<(String, Vec<u8>)>,
    /// Keys of rows to delete; deleting a missing row is not an error. A key may not also
    /// appear in `upserts` (the batch would be ambiguous): such a batch is `Invalid`.
    pub deletes: Vec<String>,
    /// Positions as (topic, partition, next offset) of the log the projection follows, stored
    /// under the projection's name as consumer group (see [`SqliteStore::projection_position`]).
    /// In embedded mode that log is this store, and they are the positions
    /// [`EventLog::committed`](hcal_actors::log::EventLog::committed) reports for the group.
    pub positions: Vec<(String, u32, u64)>,
}

impl SqliteStore {
    /// Applies `batch` to `projection` in one transaction: row upserts, row deletes and the
    /// positions. After a crash the rows and the positions agree, so a projection resumes
    /// exactly after the last event it applied. A batch of positions only moves the projection
    /// (forwards or back, as replay does) without touching its rows.
    pub async fn projection_apply(&self, projection: &str, batch: ProjectionBatch) -> Result<(), LogError> {
        check_name("projection", projection)?;
        for (topic, _, _) in &batch.positions {
            check_topic(topic)?;
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

    /// The next offset `projection` will fold in `topic`'s `partition` (0 when it has folded
    /// nothing there). Any partition number is accepted: in kafka mode the topic is Kafka's, and
    /// its partition count need not be this store's.
    pub async fn projection_position(&self, projection: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        check_name("projection", projection)?;
        check_topic(topic)?;
        let (projection, topic) = (projection.to_owned(), topic.to_owned());
        self.run(move |_, conn| read_position(conn, &projection, &topic, partition)).await
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use hcal_actors::log::{EventLog, MAILBOX_EVENTS};

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

    #[tokio::test]
    async fn positions_are_those_of_the_followed_log_and_bad_batches_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        fn invalid<T>(r: Result<T, LogError>) -> bool {
            matches!(r, Err(LogError::Invalid(_)))
        }
        // A Kafka topic may have more partitions than this store.
        let beyond = ProjectionBatch { positions: vec![(MAILBOX_EVENTS.into(), P + 3, 9)], ..Default::default() };
        store.projection_apply("proj", beyond).await.unwrap();
        assert_eq!(store.projection_position("proj", MAILBOX_EVENTS, P + 3).await.unwrap(), 9);
        assert_eq!(store.projection_position("proj", MAILBOX_EVENTS, 0).await.unwrap(), 0);
        assert_eq!(store.projection_position("other", MAILBOX_EVENTS, P + 3).await.unwrap(), 0);

        assert!(invalid(store.projection_get("", "k").await));
        assert!(invalid(store.projection_position("", MAILBOX_EVENTS, 0).await));
        assert!(invalid(store.projection_position("proj", "bad topic", 0).await));
        let too_far = ProjectionBatch { positions: vec![(MAILBOX_EVENTS.into(), 0, u64::MAX)], ..Default::default() };
        assert!(invalid(store.projection_apply("proj", too_far).await));
        let bad_topic = ProjectionBatch { positions: vec![("no spaces".into(), 0, 1)], ..Default::default() };
        assert!(invalid(store.projection_apply("proj", bad_topic).await));
        let ambiguous =
            ProjectionBatch { upserts: vec![("k".into(), vec![1])], deletes: vec!["k".into()], ..Default::default() };
        assert!(invalid(store.projection_apply("proj", ambiguous).await));
        assert_eq!(store.projection_get("proj", "k").await.unwrap(), None);
    }
}

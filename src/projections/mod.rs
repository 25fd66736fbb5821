//! Projections: folds of the `mailbox-events` log into rows of the local SQLite store, each
//! with its own positions. Every process follows every partition of `mailbox-events` (in kafka
//! mode too), so each learns what the others did.
//!
//! - [`meetings`]: each user's meeting list, for `GET /v1/users/{user}/meetings`.
//! - [`subscriptions`]: which Graph subscription is whose and with what client state (the
//!   webhook checks every notification against it) and each mailbox's subscription status (the
//!   scheduler and the admin list), kept in memory with its rows as the snapshot it starts from.
//!
//! The follower ([`catch_up`], [`run`]) reads each partition once for all the projections it
//! drives, from the earliest of their positions, and hands every projection the events past its
//! own. A projection commits its row changes and its new position in one transaction
//! ([`SqliteStore::projection_apply`]), so after a crash it resumes exactly after the last
//! event it applied; positions differ between projections after one of them was rebuilt.

pub mod access;
pub mod devices;
pub mod downstream;
pub mod live;
pub mod meetings;
pub mod presence;
pub mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::log::{EventLog, LogError, MAILBOX_EVENTS};
use hcal_actors::mailbox::envelope::{self, Envelope};
use hcal_actors::seal::KeyRing;

use crate::log::sqlite::SqliteStore;

/// Events read from a partition at a time.
const PAGE: usize = 500;

/// How long the follower rests when it found nothing new: the projections lag the log by at
/// most about this much.
const IDLE: Duration = Duration::from_millis(50);

/// How long it rests after a failure before it tries again.
const RETRY: Duration = Duration::from_secs(1);

/// Where a projection stands after a page: the next offset to fold in a partition of
/// `mailbox-events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The partition.
    pub partition: u32,
    /// The offset after the page's last record.
    pub next: u64,
}

impl Position {
    /// The position as [`crate::log::sqlite::ProjectionBatch::positions`] takes it.
    pub fn into_positions(self) -> Vec<(String, u32, u64)> {
        vec![(MAILBOX_EVENTS.to_owned(), self.partition, self.next)]
    }
}

/// A fold of mailbox events into rows of the local store, with its own positions.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Its name: the namespace of its rows and the group its positions are stored under.
    fn name(&self) -> &'static str;

    /// Folds `events`, the next events of one partition in offset order, and commits the row
    /// changes together with `position` in one [`SqliteStore::projection_apply`]; only then
    /// updates what it keeps in memory. After a failure rows and position are as they were and
    /// the follower hands it the same events again, so the fold may see an event twice only if
    /// it was never committed.
    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError>;

    /// Called after a pass of the follower that read every partition to its end: the projection
    /// now holds every event appended before `as_of` (when the pass began). Projections whose
    /// readers must know how current they are keep it; the default ignores it.
    fn caught_up(&self, as_of: tokio::time::Instant) {
        let _ = as_of;
    }

    /// Housekeeping the follower runs between passes, at start and then every [`TIDY_EVERY`]
    /// (in the follower's task, so it never races the projection's own writes): a retention
    /// window, say. Returns how many rows it removed. The default does nothing.
    async fn tidy(&self, store: &SqliteStore) -> Result<usize, LogError> {
        let _ = store;
        Ok(0)
    }
}

/// How often the follower runs [`Projection::tidy`].
pub const TIDY_EVERY: Duration = Duration::from_secs(3600);

/// Applies the events of `log` after each projection's position in every partition; returns
/// how many events were read and applied (0: every projection was up to date). Events that do
/// not decode stop the follower there with `Invalid`: moving past them would lose what they
/// say, and a fixed key ring makes them readable again.
pub async fn catch_up(
    log: &dyn EventLog,
    store: &SqliteStore,
    ring: &KeyRing,
    projections: &[&dyn Projection],
) -> Result<usize, LogError> {
    let mut applied = 0;
    for partition in 0..log.partitions(MAILBOX_EVENTS) {
        loop {
            let mut positions = Vec::with_capacity(projections.len());
            for projection in projections {
                positions.push(store.projection_position(projection.name(), MAILBOX_EVENTS, partition).await?);
            }
            let Some(from) = positions.iter().min().copied() else { return Ok(0) };
            let records = log.read(MAILBOX_EVENTS, partition, from, PAGE).await?;
            let Some(last) = records.last().map(|r| r.offset) else { break };
            let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
            let events = records
                .iter()
                .map(|r| envelope::decode(&r.payload, ring))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| LogError::Invalid(format!("mailbox-events partition {partition}: {e}")))?;
            let position = Position { partition, next: last + 1 };
            for (projection, at) in projections.iter().zip(&positions) {
                if *at > last {
                    continue;
                }
                // Kafka offsets need not be consecutive (transaction markers), so look the
                // projection's position up rather than count.
                let start = offsets.partition_point(|offset| offset < at);
                projection.apply(store, &events[start..], position).await.map_err(|e| within(projection.name(), e))?;
            }
            applied += events.len();
        }
    }
    Ok(applied)
}

/// `e` with the projection it happened in.
fn within(projection: &str, e: LogError) -> LogError {
    match e {
        LogError::Invalid(why) => LogError::Invalid(format!("{projection}: {why}")),
        LogError::Unavailable(why) => LogError::Unavailable(format!("{projection}: {why}")),
    }
}

/// Follows the log forever, driving `projections` (in this order within each page).
pub async fn run(
    log: Arc<dyn EventLog>,
    store: Arc<SqliteStore>,
    ring: KeyRing,
    projections: Vec<Arc<dyn Projection>>,
) {
    let projections: Vec<&dyn Projection> = projections.iter().map(AsRef::as_ref).collect();
    let mut tidied: Option<tokio::time::Instant> = None;
    loop {
        if tidied.is_none_or(|at| at.elapsed() >= TIDY_EVERY) {
            tidied = Some(tokio::time::Instant::now());
            for projection in &projections {
                match projection.tidy(&store).await {
                    Ok(0) => {}
                    Ok(removed) => {
                        tracing::info!(projection = projection.name(), removed, "rows past retention removed")
                    }
                    Err(e) => tracing::warn!(projection = projection.name(), error = %e, "tidying failed; next time"),
                }
            }
        }
        // Every partition is read until a read finds nothing, so a pass that succeeds has
        // applied everything appended before it began.
        let began = tokio::time::Instant::now();
        let result = catch_up(log.as_ref(), &store, &ring, &projections).await;
        if result.is_ok() {
            for projection in &projections {
                projection.caught_up(began);
            }
        }
        match result {
            Ok(0) => tokio::time::sleep(IDLE).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "a projection failed; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use hcal_actors::ids::{MailboxId, TenantId, UserObjectId};
    use hcal_actors::mailbox::events::MailboxEvent;
    use hcal_actors::seal::DataKey;
    use parking_lot::Mutex;

    use super::*;
    use crate::log::sqlite::ProjectionBatch;

    /// Records the sequence numbers it is handed, and commits positions only.
    struct Recording {
        name: &'static str,
        seen: Mutex<Vec<u64>>,
    }

    #[async_trait]
    impl Projection for Recording {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
            let batch = ProjectionBatch { positions: position.into_positions(), ..Default::default() };
            store.projection_apply(self.name, batch).await?;
            self.seen.lock().extend(events.iter().map(|e| e.seq));
            Ok(())
        }
    }

    #[tokio::test]
    async fn one_read_serves_projections_that_stand_at_different_positions() {
        let dir = tempfile::tempdir().unwrap();
        // One partition, so sequence numbers are offsets + 1.
        let store = SqliteStore::open(dir.path(), 1).unwrap();
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let mailbox = MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse("6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01").unwrap(),
        };
        // More than a page, so the second page is read for the behind projection only.
        let total = PAGE as u64 + 100;
        let payloads = (1..=total)
            .map(|seq| {
                let env = Envelope {
                    event_id: uuid::Uuid::new_v4(),
                    mailbox,
                    seq,
                    occurred_at: Utc::now(),
                    causation_id: "test".into(),
                    event: MailboxEvent::MailboxEnabled { locale: None },
                };
                envelope::encode(&env, &ring).unwrap()
            })
            .collect();
        store.append(MAILBOX_EVENTS, &mailbox.to_string(), payloads).await.unwrap();
        let ahead = Recording { name: "ahead", seen: Mutex::default() };
        let behind = Recording { name: "behind", seen: Mutex::default() };
        let at = ProjectionBatch { positions: vec![(MAILBOX_EVENTS.into(), 0, total - 10)], ..Default::default() };
        store.projection_apply("ahead", at).await.unwrap();

        let applied = catch_up(&store, &store, &ring, &[&ahead, &behind]).await.unwrap();
        assert_eq!(applied as u64, total);
        assert_eq!(*behind.seen.lock(), (1..=total).collect::<Vec<_>>());
        assert_eq!(*ahead.seen.lock(), (total - 9..=total).collect::<Vec<_>>(), "only the events past its position");
        for name in ["ahead", "behind"] {
            assert_eq!(store.projection_position(name, MAILBOX_EVENTS, 0).await.unwrap(), total);
        }
        assert_eq!(catch_up(&store, &store, &ring, &[&ahead, &behind]).await.unwrap(), 0, "nothing left");
    }
}

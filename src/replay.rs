//! `hcal replay`: rebuilding projections from the domain-event log (run it while the service is
//! stopped: it locks the data directory, so it refuses while a service runs on it). Without options both projections are rebuilt from the start of the log: the meeting
//! lists and the subscription index (the webhook's and the scheduler's view, which a restart
//! otherwise loads from its rows). `--from` refolds the meeting lists from a point in time and
//! `--mailbox` one mailbox's meeting list; both leave the subscription index alone, since its
//! rows fold a mailbox's whole history and are not split by time. Idempotent: the folds only
//! set rows, so replaying what was already applied changes nothing.

use std::io::IsTerminal as _;

use chrono::{DateTime, Utc};
use hcal_actors::ids::MailboxId;
use hcal_actors::log::{EventLog, LogError, MAILBOX_EVENTS};
use hcal_actors::mailbox::envelope;
use hcal_actors::seal::KeyRing;

use crate::config::Config;
use crate::datadir::DataDirLock;
use crate::log::sqlite::{ProjectionBatch, SqliteStore};
use crate::projections::access::{ACCESS_INDEX, AccessIndex};
use crate::projections::devices::{DEVICE_INDEX, DeviceIndex};
use crate::projections::meetings::{self as projection, MEETING_LIST, MeetingList};
use crate::projections::subscriptions::{SUBSCRIPTION_INDEX, SubscriptionIndex};
use crate::projections::{self, Projection};

/// What to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Only events that occurred at or after this instant (rows are kept, not dropped).
    pub from: Option<DateTime<Utc>>,
    /// Only this mailbox: its rows are dropped and refolded from its whole history.
    pub mailbox: Option<MailboxId>,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Events folded.
    pub events: usize,
    /// The projections rebuilt.
    pub projections: Vec<&'static str>,
}

fn bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A service (or another replay) runs on the data directory, or it cannot be locked.
    #[error(transparent)]
    DataDir(#[from] crate::datadir::LockError),
    /// The key file could not be read.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    /// The log or the local store failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A stored event could not be read.
    #[error(transparent)]
    Codec(#[from] hcal_actors::mailbox::envelope::CodecError),
}

/// Replays as `options` say, holding the data directory's lock throughout.
pub async fn run(config: &Config, options: &ReplayOptions) -> Result<Replayed, ReplayError> {
    let lock = DataDirLock::acquire(&config.service.data_dir)?;
    let ring = crate::keys::open(config, crate::keys::token_from_env(config)?)?.ring;
    let storage = crate::log::open(&config.log, &config.service.data_dir).await?;
    let (log, store) = (storage.log.as_ref(), storage.store.as_ref());
    let result = match (options.mailbox, options.from) {
        (Some(mailbox), _) => {
            redrive(log, store, &ring, mailbox).await.map(|events| Replayed { events, projections: vec![MEETING_LIST] })
        }
        (None, Some(at)) => rewind(log, store, &ring, at).await,
        (None, None) => rebuild(log, store, &ring).await,
    };
    storage.shutdown().await;
    drop(lock);
    result
}

/// Every projection from the start.
async fn rebuild(log: &dyn EventLog, store: &SqliteStore, ring: &KeyRing) -> Result<Replayed, ReplayError> {
    store.projection_reset(SUBSCRIPTION_INDEX).await?;
    store.projection_reset(ACCESS_INDEX).await?;
    store.projection_reset(DEVICE_INDEX).await?;
    store.projection_reset(MEETING_LIST).await?;
    let index = SubscriptionIndex::new(ring.clone());
    let access = AccessIndex::new(ring.clone());
    let devices = DeviceIndex::new(ring.clone());
    let meetings = MeetingList::new(ring.clone());
    let events = follow(log, store, ring, &[&index, &access, &devices, &meetings]).await?;
    Ok(Replayed { events, projections: vec![MEETING_LIST, SUBSCRIPTION_INDEX, ACCESS_INDEX, DEVICE_INDEX] })
}

/// The meeting lists from each partition's first event at or after `at`.
async fn rewind(
    log: &dyn EventLog,
    store: &SqliteStore,
    ring: &KeyRing,
    at: DateTime<Utc>,
) -> Result<Replayed, ReplayError> {
    let mut positions = Vec::new();
    for partition in 0..log.partitions(MAILBOX_EVENTS) {
        let mut offset = 0;
        let start = loop {
            let records = log.read(MAILBOX_EVENTS, partition, offset, 1000).await?;
            let Some(last) = records.last().map(|r| r.offset) else { break offset };
            let hit = records.iter().find(|r| envelope::decode(&r.payload, ring).is_ok_and(|e| e.occurred_at >= at));
            if let Some(r) = hit {
                break r.offset;
            }
            offset = last + 1;
        };
        positions.push((MAILBOX_EVENTS.to_owned(), partition, start));
    }
    // Positions only: the rows stay, and the refold sets them again.
    store.projection_apply(MEETING_LIST, ProjectionBatch { positions, ..Default::default() }).await?;
    let events = follow(log, store, ring, &[&MeetingList::new(ring.clone())]).await?;
    Ok(Replayed { events, projections: vec![MEETING_LIST] })
}

/// Drives `projections` to the end of the log, with a progress bar.
async fn follow(
    log: &dyn EventLog,
    store: &SqliteStore,
    ring: &KeyRing,
    projections: &[&dyn Projection],
) -> Result<usize, ReplayError> {
    let mut total = 0u64;
    for partition in 0..log.partitions(MAILBOX_EVENTS) {
        let mut offset = u64::MAX;
        for projection in projections {
            let at = store.projection_position(projection.name(), MAILBOX_EVENTS, partition).await?;
            offset = offset.min(at);
        }
        loop {
            let records = log.read(MAILBOX_EVENTS, partition, offset, 1000).await?;
            let Some(last) = records.last().map(|r| r.offset) else { break };
            total += records.len() as u64;
            offset = last + 1;
        }
    }
    let progress = bar(total);
    let mut folded = 0;
    loop {
        let n = projections::catch_up(log, store, ring, projections).await?;
        if n == 0 {
            break;
        }
        folded += n;
        progress.set_position(folded as u64);
    }
    progress.finish_and_clear();
    Ok(folded)
}

/// One mailbox's meeting list from its whole history, up to where the projection stands.
async fn redrive(
    log: &dyn EventLog,
    store: &SqliteStore,
    ring: &KeyRing,
    mailbox: MailboxId,
) -> Result<usize, ReplayError> {
    let key = mailbox.to_string();
    let partition = hcal_actors::log::partition_for(&key, log.partitions(MAILBOX_EVENTS));
    // Up to what the projection has applied, so the re-drive never runs ahead of it.
    let until = store.projection_position(MEETING_LIST, MAILBOX_EVENTS, partition).await?;
    let prefix = format!("{key}/");
    let existing = store.projection_scan(MEETING_LIST, &prefix).await?;
    let mut rows: projection::Rows = existing.into_iter().map(|(k, _)| (k, None)).collect();
    let progress = bar(until);
    let mut folded = 0;
    let mut offset = 0;
    while offset < until {
        let records = log.read(MAILBOX_EVENTS, partition, offset, 1000).await?;
        let Some(last) = records.last().map(|r| r.offset) else { break };
        for record in records.iter().filter(|r| r.offset < until && r.key == key) {
            let env = envelope::decode(&record.payload, ring)?;
            let Some(event_id) = env.event.event_id() else { continue };
            projection::fold_into(&mut rows, projection::row_key(&mailbox, event_id.as_str()), &env.event);
            folded += 1;
        }
        offset = last + 1;
        progress.set_position(offset.min(until));
    }
    progress.finish_and_clear();
    let batch = projection::batch_of(ring, rows, Vec::new())?;
    store.projection_apply(MEETING_LIST, batch).await?;
    Ok(folded)
}

//! `hcal replay`: rebuilding the meeting-list projection from the domain-event log, all of it,
//! from a point in time, or for one mailbox. Idempotent: the fold only sets rows, so replaying
//! what was already applied changes nothing.

use std::io::IsTerminal as _;

use chrono::{DateTime, Utc};
use hcal_actors::ids::MailboxId;
use hcal_actors::log::{EventLog, MAILBOX_EVENTS};
use hcal_actors::mailbox::envelope;

use crate::config::Config;
use crate::log::sqlite::SqliteStore;
use crate::projection::{self, MEETING_LIST};
use crate::subscriptions::SubscriptionIndex;

/// What to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Only events that occurred at or after this instant (rows are kept, not dropped).
    pub from: Option<DateTime<Utc>>,
    /// Only this mailbox: its rows are dropped and refolded from its whole history.
    pub mailbox: Option<MailboxId>,
}

fn bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// Replays; returns how many events were folded.
pub async fn run(config: &Config, options: &ReplayOptions) -> anyhow::Result<usize> {
    let ring = crate::keys::load_or_create_at(&config.service.key_file())?;
    let storage = crate::log::open(&config.log, &config.service.data_dir)
        .await
        .map_err(|e| anyhow::anyhow!("opening the event log: {e}"))?;
    let (log, store) = (storage.log.as_ref(), storage.store.as_ref());
    let result = match options.mailbox {
        Some(mailbox) => redrive(log, store, &ring, mailbox).await,
        None => rebuild(log, store, &ring, options.from).await,
    };
    storage.shutdown().await;
    result
}

async fn rebuild(
    log: &dyn EventLog,
    store: &SqliteStore,
    ring: &hcal_actors::seal::KeyRing,
    from: Option<DateTime<Utc>>,
) -> anyhow::Result<usize> {
    let err = |e: hcal_actors::log::LogError| anyhow::anyhow!("{e}");
    match from {
        None => store.projection_reset(MEETING_LIST).await.map_err(err)?,
        Some(at) => {
            // Rewind each partition to its first event at or after `at`.
            for partition in 0..log.partitions(MAILBOX_EVENTS) {
                let mut offset = 0;
                let start = loop {
                    let records = log.read(MAILBOX_EVENTS, partition, offset, 1000).await.map_err(err)?;
                    let Some(last) = records.last().map(|r| r.offset) else { break offset };
                    let hit =
                        records.iter().find(|r| envelope::decode(&r.payload, ring).is_ok_and(|e| e.occurred_at >= at));
                    if let Some(r) = hit {
                        break r.offset;
                    }
                    offset = last + 1;
                };
                store.commit(MEETING_LIST, MAILBOX_EVENTS, partition, start).await.map_err(err)?;
            }
        }
    }
    let mut total = 0u64;
    for partition in 0..log.partitions(MAILBOX_EVENTS) {
        let from = store.committed(MEETING_LIST, MAILBOX_EVENTS, partition).await.map_err(err)?;
        let mut offset = from;
        loop {
            let records = log.read(MAILBOX_EVENTS, partition, offset, 1000).await.map_err(err)?;
            let Some(last) = records.last().map(|r| r.offset) else { break };
            total += records.len() as u64;
            offset = last + 1;
        }
    }
    let progress = bar(total);
    let index = SubscriptionIndex::default();
    let mut folded = 0;
    loop {
        let n = projection::catch_up(log, store, ring, &index).await.map_err(err)?;
        if n == 0 {
            break;
        }
        folded += n;
        progress.set_position(folded as u64);
    }
    progress.finish_and_clear();
    Ok(folded)
}

async fn redrive(
    log: &dyn EventLog,
    store: &SqliteStore,
    ring: &hcal_actors::seal::KeyRing,
    mailbox: MailboxId,
) -> anyhow::Result<usize> {
    let err = |e: hcal_actors::log::LogError| anyhow::anyhow!("{e}");
    let key = mailbox.to_string();
    let partition = hcal_actors::log::partition_for(&key, log.partitions(MAILBOX_EVENTS));
    // Up to what the projection has applied, so the re-drive never runs ahead of it.
    let until = store.committed(MEETING_LIST, MAILBOX_EVENTS, partition).await.map_err(err)?;
    let prefix = format!("{key}/");
    let existing = store.projection_scan(MEETING_LIST, &prefix).await.map_err(err)?;
    let mut rows: projection::Rows = existing.into_iter().map(|(k, _)| (k, None)).collect();
    let progress = bar(until);
    let mut folded = 0;
    let mut offset = 0;
    while offset < until {
        let records = log.read(MAILBOX_EVENTS, partition, offset, 1000).await.map_err(err)?;
        let Some(last) = records.last().map(|r| r.offset) else { break };
        for record in records.iter().filter(|r| r.offset < until && r.key == key) {
            let env = envelope::decode(&record.payload, ring).map_err(|e| anyhow::anyhow!("{e}"))?;
            let Some(event_id) = env.event.event_id() else { continue };
            projection::fold_into(&mut rows, projection::row_key(&mailbox, event_id.as_str()), &env.event);
            folded += 1;
        }
        offset = last + 1;
        progress.set_position(offset.min(until));
    }
    progress.finish_and_clear();
    let batch = projection::batch_of(ring, rows, Vec::new()).map_err(err)?;
    store.projection_apply(MEETING_LIST, batch).await.map_err(err)?;
    Ok(folded)
}

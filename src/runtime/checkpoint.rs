//! Checkpoints: a snapshot of every mailbox of a partition, written now and then by the
//! partition's owner between two records, so that recovery reads only the events after them.
//! A mailbox too large for a log record gets a left-out record instead.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hcal_actors::ids::MailboxId;
use hcal_actors::log::{EventLog, LogError, MAILBOX_SNAPSHOTS};
use hcal_actors::mailbox::actor::ProcessError;
use hcal_actors::mailbox::snapshot::{self, MAX_SNAPSHOT_BYTES, Snapshot};
use hcal_actors::mailbox::state::MailboxState;
use hcal_actors::seal::KeyRing;

/// Snapshot appends a checkpoint keeps in flight.
const CHECKPOINT_APPENDS_IN_FLIGHT: usize = 64;

/// What [`super::MailboxRegistry::processed`] did about checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// None was due.
    NotDue,
    /// Written: `snapshots` appended, `too_large` left out (see [`MAX_SNAPSHOT_BYTES`]).
    Written {
        /// Snapshots appended.
        snapshots: usize,
        /// Snapshots left out for their size.
        too_large: usize,
    },
    /// It failed (logged); the next one is a full interval later.
    Failed,
}

/// What a checkpoint wrote.
pub(super) struct Written {
    pub(super) snapshots: usize,
    pub(super) too_large: usize,
    /// The partition's end it was taken at.
    pub(super) end: u64,
}

/// Snapshots the gathered mailboxes of a partition (state and position each) at the
/// partition's current end, which it returns; a mailbox too large for a log record gets a
/// left-out record instead.
pub(super) async fn write(
    log: &Arc<dyn EventLog>,
    ring: &KeyRing,
    taken_at: DateTime<Utc>,
    mailboxes: Vec<(MailboxId, MailboxState, u64)>,
    complete_before: u64,
) -> Result<Written, ProcessError> {
    // Every event of the partition belongs to one of these mailboxes, so the largest
    // position among them is the partition's end.
    let end = mailboxes.iter().map(|m| m.2).max().unwrap_or(0);
    let mailboxes: Vec<_> = mailboxes.into_iter().filter(|m| m.1.seq > 0).collect();
    let (mut snapshots, mut too_large) = (0, 0);
    // Many appends in flight at once (a broker pipelines them); each mailbox once.
    let mut appends = tokio::task::JoinSet::new();
    let joined = |r: Result<Result<Vec<u64>, LogError>, tokio::task::JoinError>| match r {
        Ok(appended) => appended.map(|_| ()).map_err(ProcessError::from),
        Err(_) => Err(ProcessError::Unavailable),
    };
    for (mailbox, state, _) in mailboxes {
        let seq = state.seq;
        let mut payload = snapshot::encode(&Snapshot::of(mailbox, state, end, complete_before, taken_at), ring)?;
        if payload.len() > MAX_SNAPSHOT_BYTES {
            tracing::warn!(%mailbox, bytes = payload.len(), "snapshot too large for the log; left out of the checkpoint");
            too_large += 1;
            let left_out = Snapshot::left_out(mailbox, seq, end, complete_before, taken_at);
            payload = snapshot::encode(&left_out, ring)?;
        } else {
            snapshots += 1;
        }
        let log = log.clone();
        appends.spawn(async move { log.append(MAILBOX_SNAPSHOTS, &mailbox.to_string(), vec![payload]).await });
        if appends.len() >= CHECKPOINT_APPENDS_IN_FLIGHT
            && let Some(r) = appends.join_next().await
        {
            joined(r)?;
        }
    }
    while let Some(r) = appends.join_next().await {
        joined(r)?;
    }
    Ok(Written { snapshots, too_large, end })
}

//! Delivering presence changes to a sink: in order, each at least once, surviving restarts and
//! a sink that is down.
//!
//! Each sink follows `mailbox-events` with positions of its own ([`SinkDelivery`] is a
//! [`Projection`] under the name `presence-sink/{name}`), run by its own loop ([`run`]) so that
//! a sink that is down holds up nothing but itself. Every `PresenceChanged` is offered to the
//! sink in the log's order; the position moves past a page only once the sink took each of its
//! changes (or refused one for good, [`SinkFailure::Skip`]), so after a crash or an outage the
//! sink hears every change it missed, in order. A change offered again after a crash carries
//! the same id (the domain event's), which receivers use to drop repeats.
//!
//! In kafka mode every process follows every partition, so every process delivers: a sink
//! hears each change once per process, with the same id.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::ids::MailboxId;
use hcal_actors::log::{EventLog, LogError};
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::MailboxEvent;
use hcal_actors::seal::KeyRing;
use parking_lot::Mutex;
use uuid::Uuid;

use super::sink::{PresenceSink, PresenceUpdate, SinkFailure};
use crate::log::sqlite::{ProjectionBatch, SqliteStore};
use crate::metrics::Metrics;
use crate::projections::{self, Position, Projection};

/// Finds a user's e-mail address, for sinks that look users up by it.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The address, `None` when the user has none; `Err` when it cannot be learnt now.
    async fn address(&self, mailbox: &MailboxId) -> Result<Option<String>, String>;
}

/// A directory that knows nobody (sinks that need no address).
pub struct NoDirectory;

#[async_trait]
impl Directory for NoDirectory {
    async fn address(&self, _: &MailboxId) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// One sink's delivery: a projection whose only effect is the sink's.
pub struct SinkDelivery {
    name: &'static str,
    sink_name: String,
    sink: Arc<dyn PresenceSink>,
    users: std::collections::BTreeMap<String, String>,
    directory: Arc<dyn Directory>,
    metrics: Arc<Metrics>,
    /// Changes the sink took since the position last moved: offered again (after a later
    /// change of the same page failed) they are not sent twice.
    taken: Mutex<HashSet<Uuid>>,
    /// The wait the sink asked for with its last failure.
    asked: Mutex<Option<Duration>>,
}

impl SinkDelivery {
    /// Delivery to `sink`, named `name` in configuration; `users` maps Graph object ids to
    /// the sink's user ids (this sink kind's column of `[presence.users]`).
    pub fn new(
        name: &str,
        sink: Arc<dyn PresenceSink>,
        users: std::collections::BTreeMap<String, String>,
        directory: Arc<dyn Directory>,
        metrics: Arc<Metrics>,
    ) -> Self {
        // A projection's name is static: sinks live as long as the process.
        let projection: &'static str = String::leak(format!("presence-sink/{name}"));
        Self {
            name: projection,
            sink_name: name.to_owned(),
            sink,
            users,
            directory,
            metrics,
            taken: Mutex::default(),
            asked: Mutex::default(),
        }
    }

    async fn offer(&self, env: &Envelope, update: PresenceUpdate) -> Result<(), LogError> {
        let mut update = update;
        if update.sink_user.is_none() && self.sink.needs_address() {
            update.address = self
                .directory
                .address(&env.mailbox)
                .await
                .map_err(|why| LogError::Unavailable(format!("the user's address: {why}")))?;
        }
        match self.sink.deliver(&update).await {
            Ok(()) => {
                self.metrics.inc("hcal_presence_deliveries_total", "outcome", "delivered");
                tracing::info!(sink = %self.sink_name, mailbox = %env.mailbox, status = update.status.as_str(), "presence delivered");
                Ok(())
            }
            Err(SinkFailure::Skip { reason }) => {
                self.metrics.inc("hcal_presence_deliveries_total", "outcome", "skipped");
                tracing::warn!(sink = %self.sink_name, mailbox = %env.mailbox, %reason, "the sink refused a presence change; skipped");
                Ok(())
            }
            Err(SinkFailure::Retry { reason, after }) => {
                self.metrics.inc("hcal_presence_deliveries_total", "outcome", "retried");
                *self.asked.lock() = after;
                Err(LogError::Unavailable(format!("sink {}: {reason}", self.sink_name)))
            }
        }
    }
}

#[async_trait]
impl Projection for SinkDelivery {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
        for env in events {
            let MailboxEvent::PresenceChanged { status, since, until } = &env.event else { continue };
            if self.taken.lock().contains(&env.event_id) {
                continue;
            }
            let update = PresenceUpdate {
                id: env.event_id.to_string(),
                tenant: env.mailbox.tenant,
                user: env.mailbox.user,
                status: *status,
                since: *since,
                until: *until,
                sink_user: self.users.get(&env.mailbox.user.to_string()).cloned(),
                address: None,
            };
            self.offer(env, update).await?;
            self.taken.lock().insert(env.event_id);
        }
        let batch = ProjectionBatch { positions: position.into_positions(), ..Default::default() };
        store.projection_apply(self.name, batch).await?;
        self.taken.lock().clear();
        Ok(())
    }
}

/// First wait after a failed delivery.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
const RETRY_MAX: Duration = Duration::from_secs(60);
/// Rest when there is nothing new.
const IDLE: Duration = Duration::from_millis(100);

/// Delivers to one sink forever.
pub async fn run(log: Arc<dyn EventLog>, store: Arc<SqliteStore>, ring: KeyRing, delivery: Arc<SinkDelivery>) {
    let mut wait = RETRY_FIRST;
    let mut failing = false;
    loop {
        match projections::catch_up(log.as_ref(), &store, &ring, &[delivery.as_ref() as &dyn Projection]).await {
            Ok(applied) => {
                if failing {
                    tracing::info!(sink = %delivery.sink_name, "the presence sink takes changes again");
                }
                failing = false;
                wait = RETRY_FIRST;
                if applied == 0 {
                    tokio::time::sleep(IDLE).await;
                }
            }
            Err(e) => {
                if failing {
                    tracing::debug!(sink = %delivery.sink_name, error = %e, "presence delivery still failing");
                } else {
                    tracing::warn!(sink = %delivery.sink_name, error = %e, "presence delivery failed; retrying with backoff");
                }
                failing = true;
                let asked = delivery.asked.lock().take();
                tokio::time::sleep(asked.map_or(wait, |a| a.clamp(RETRY_FIRST, RETRY_MAX * 5))).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
}

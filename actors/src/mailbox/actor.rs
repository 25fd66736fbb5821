//! The mailbox actor: loads a mailbox's state from its events, and for each input fetches what
//! `decide` needs, persists the decided events, applies them, and performs the effects (writing
//! join details), feeding their outcome back as inputs. One actor per mailbox, one message at a
//! time (`AtomicResponse`), so a mailbox never races itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decide::{DecideConfig, DecideError, decide};
use super::envelope::{self, CodecError, Envelope};
use super::events::MailboxEvent;
use super::input::{MailboxEventFact, MailboxInput, Observation, PatchResult};
use super::snapshot::{self, Fold, FoldError, Recovered, Snapshot};
use super::state::{Decoration, MailboxState};
use crate::ids::{GraphEventId, MailboxId};
use crate::join::{Marker, insert_block, render_block};
use crate::log::{EventLog, LogError, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, NOTIFICATIONS, partition_for};
use crate::notification::{AdminCommand, ChangeType, LifecycleEvent, NotificationKind, NotificationRecord};
use crate::ports::{GraphApi, GraphEvent, GraphFailure, MeetingPlatform, PlatformFailure, SubscriptionApi};
use crate::seal::KeyRing;

/// Where a test build may deliberately crash, to prove recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// Right after join details were written to Graph, before the event recording it is appended.
    AfterJoinPatch,
}

/// What the actor needs from the outside.
pub struct Deps {
    /// Microsoft Graph.
    pub graph: Arc<dyn GraphApi>,
    /// The meeting platform.
    pub platform: Arc<dyn MeetingPlatform>,
    /// The event log.
    pub log: Arc<dyn EventLog>,
    /// The mailboxes' input log (a resync feeds events back through it).
    pub inbox: Arc<dyn crate::ports::Inbox>,
    /// Keys for sealing.
    pub ring: KeyRing,
    /// Organisation rules.
    pub config: DecideConfig,
    /// The clock.
    pub now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    /// Deliberate crash point (tests only).
    pub crash_at: Option<CrashPoint>,
    /// Graph subscriptions.
    pub subscriptions: Arc<dyn SubscriptionApi>,
    /// How subscriptions are maintained.
    pub maintenance: Maintenance,
    /// Records of a partition processed between two checkpoints (snapshots of every mailbox
    /// of the partition); 0 turns snapshots off.
    pub snapshot_every: u64,
}

/// How the actor maintains its mailbox's subscription.
#[derive(Debug, Clone, Copy)]
pub struct Maintenance {
    /// Lifetime asked for when creating or renewing.
    pub lifetime: chrono::Duration,
    /// A resync covers from `now - resync_back`…
    pub resync_back: chrono::Duration,
    /// …to `now + resync_ahead`.
    pub resync_ahead: chrono::Duration,
    /// First retry after a set-up failure that may pass (throttling, outage).
    pub retry_first: chrono::Duration,
    /// Later retries.
    pub retry_later: chrono::Duration,
    /// Meetings that ended longer ago than this are forgotten at the next renewal.
    pub forget_after: chrono::Duration,
}

impl Default for Maintenance {
    fn default() -> Self {
        Self {
            lifetime: chrono::Duration::minutes(10_000),
            resync_back: chrono::Duration::days(7),
            resync_ahead: chrono::Duration::days(183),
            retry_first: chrono::Duration::minutes(60),
            retry_later: chrono::Duration::days(1),
            forget_after: chrono::Duration::days(30),
        }
    }
}

/// Why processing an input did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Try the same input again later (throttling, transient failures).
    #[error("retry later: {reason}")]
    Retry {
        /// Suggested wait in seconds.
        after_secs: Option<f64>,
        /// Failure class (never sensitive).
        reason: String,
    },
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A stored event could not be read.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The mailbox's history is inconsistent (a gap in sequence numbers).
    #[error("mailbox history has a gap at seq {0}")]
    Gap(u64),
    /// The actor is gone.
    #[error("mailbox actor unavailable")]
    Unavailable,
    /// This process no longer owns the mailbox (its partition was given to another process):
    /// the work was abandoned before anything more was recorded; the new owner redoes it.
    #[error("the mailbox's partition was revoked")]
    Revoked,
}

/// The right to record events for a mailbox, valid while the registry's epoch has not moved
/// (the registry moves it when partition ownership changes). An actor whose lease lapsed
/// records nothing more, so a process that lost a partition stops writing to its mailboxes as
/// soon as it learns of the loss, even in the middle of a record.
#[derive(Debug, Clone)]
pub struct Lease {
    epoch: u64,
    current: Arc<AtomicU64>,
}

impl Lease {
    /// Whether the lease is still valid.
    pub fn held(&self) -> bool {
        self.current.load(Ordering::SeqCst) == self.epoch
    }
}

fn retry(failure: &GraphFailure) -> ProcessError {
    let after_secs = match failure {
        GraphFailure::Throttled { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    };
    ProcessError::Retry { after_secs, reason: failure.to_string() }
}

/// A loaded mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// Which mailbox.
    pub id: MailboxId,
    /// Its state.
    pub state: MailboxState,
    /// Offset after its last event in its `mailbox-events` partition (0: none seen).
    pub events_next: u64,
    /// Whose events it may record; `None` for a mailbox loaded only to be read.
    pub lease: Option<Lease>,
}

enum Step {
    Done,
    Conflict,
}

impl Mailbox {
    /// Rebuilds a mailbox from its latest snapshot and the events after it.
    pub async fn load(deps: &Deps, id: MailboxId) -> Result<Self, ProcessError> {
        let partition = partition_for(&id.to_string(), deps.log.partitions(MAILBOX_EVENTS));
        let mut recovered = recover_partition(deps.log.as_ref(), &deps.ring, partition, Some(id)).await?;
        let Recovered { state, events_next } = recovered.remove(&id).unwrap_or_default();
        Ok(Self { id, state, events_next, lease: None })
    }

    /// Decides, persists and applies; returns the persisted envelopes.
    async fn step(&mut self, deps: &Deps, input: MailboxInput, causation: &str) -> Result<Vec<Envelope>, ProcessError> {
        let events = match decide(&self.state, &input, &deps.config) {
            Ok(events) => events,
            Err(DecideError::NotEnabled) => {
                tracing::warn!(mailbox = %self.id, "input for a mailbox that is not enabled; ignored");
                return Ok(Vec::new());
            }
            Err(DecideError::UnknownMeeting) => return Ok(Vec::new()),
        };
        self.persist(deps, events, causation).await
    }

    async fn persist(
        &mut self,
        deps: &Deps,
        events: Vec<MailboxEvent>,
        causation: &str,
    ) -> Result<Vec<Envelope>, ProcessError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.check_lease()?;
        let now = (deps.now)();
        let envelopes: Vec<Envelope> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Envelope {
                event_id: Uuid::new_v4(),
                mailbox: self.id,
                seq: self.state.seq + 1 + i as u64,
                occurred_at: now,
                causation_id: causation.to_owned(),
                event,
            })
            .collect();
        let payloads = envelopes.iter().map(|e| envelope::encode(e, &deps.ring)).collect::<Result<Vec<_>, _>>()?;
        let offsets = deps.log.append(MAILBOX_EVENTS, &self.id.to_string(), payloads).await?;
        if let Some(last) = offsets.iter().max() {
            self.events_next = self.events_next.max(last + 1);
        }
        for env in &envelopes {
            self.state.apply(&env.event);
            tracing::info!(mailbox = %self.id, seq = env.seq, event = env.event.type_name(), "event recorded");
        }
        Ok(envelopes)
    }

    /// Enables the mailbox.
    pub async fn enable(&mut self, deps: &Deps, locale: Option<String>, causation: &str) -> Result<(), ProcessError> {
        self.step(deps, MailboxInput::EnableMailbox { locale }, causation).await.map(|_| ())
    }

    /// Fails with `Revoked` once the mailbox's lease lapsed.
    fn check_lease(&self) -> Result<(), ProcessError> {
        match &self.lease {
            Some(lease) if !lease.held() => Err(ProcessError::Revoked),
            _ => Ok(()),
        }
    }

    /// Handles one notification: fetch, decide, persist, write join details when due.
    pub async fn handle(&mut self, deps: &Deps, record: &NotificationRecord) -> Result<(), ProcessError> {
        self.check_lease()?;
        let causation = record.id.to_string();
        let (change_type, event_id) = match &record.kind {
            NotificationKind::Change { change_type, event_id } => (change_type, event_id),
            NotificationKind::Lifecycle { lifecycle_event } => {
                return self.lifecycle(deps, &record.subscription_id, *lifecycle_event, &causation).await;
            }
            NotificationKind::Command(AdminCommand::RenewSubscription) => return self.renew(deps, &causation).await,
            NotificationKind::Command(AdminCommand::EnableMailbox { locale }) => {
                return self.enable_checked(deps, locale.clone(), &causation).await;
            }
            NotificationKind::Command(AdminCommand::DisableMailbox) => return self.disable(deps, &causation).await,
            NotificationKind::Command(AdminCommand::RecordSubscription { subscription_id, expires_at, sealed }) => {
                let client_state: String = crate::seal::open(&deps.ring, record.id.as_bytes(), sealed)
                    .map_err(|e| ProcessError::Codec(CodecError::Seal(e)))?;
                let input = MailboxInput::RecordSubscription {
                    subscription_id: subscription_id.clone(),
                    expires_at: *expires_at,
                    client_state,
                };
                return self.step(deps, input, &causation).await.map(|_| ());
            }
        };
        if *change_type == ChangeType::Deleted {
            self.step(deps, MailboxInput::HandleObservation(Observation::Gone(event_id.clone())), &causation).await?;
            return Ok(());
        }
        // A conflict means someone edited the invite between our read and our write: read again.
        for _ in 0..3 {
            if let Step::Done = self.observe_and_decorate(deps, event_id, &causation).await? {
                return Ok(());
            }
        }
        Err(ProcessError::Retry {
            after_secs: None,
            reason: "the invite kept changing while join details were written".into(),
        })
    }

    /// Acts on a lifecycle notification of the current subscription (older ones are stale).
    async fn lifecycle(
        &mut self,
        deps: &Deps,
        subscription_id: &str,
        event: LifecycleEvent,
        causation: &str,
    ) -> Result<(), ProcessError> {
        let Some((current, _)) = self.state.subscription.clone() else { return Ok(()) };
        if current != subscription_id || !self.state.enabled {
            return Ok(());
        }
        match event {
            LifecycleEvent::Missed => self.resync(deps, causation).await,
            LifecycleEvent::SubscriptionRemoved => {
                self.lost(deps, &current, "removed", causation).await?;
                self.recreate(deps, causation).await
            }
            LifecycleEvent::ReauthorizationRequired => {
                self.check_lease()?;
                let reauthorized = deps.subscriptions.reauthorize(&self.id, &current).await.map_err(|f| retry(&f))?;
                if reauthorized {
                    self.renew(deps, causation).await
                } else {
                    self.lost(deps, &current, "reauthorization_failed", causation).await?;
                    self.recreate(deps, causation).await
                }
            }
        }
    }

    /// Enables the mailbox after reading its language, which also shows whether hcal can reach
    /// it; a mailbox it cannot reach is enabled in an error state with the reason.
    async fn enable_checked(&mut self, deps: &Deps, hint: Option<String>, causation: &str) -> Result<(), ProcessError> {
        match deps.subscriptions.mailbox_locale(&self.id).await {
            Ok(locale) => self.enable(deps, locale.or(hint), causation).await,
            Err(failure) => {
                self.enable(deps, hint, causation).await?;
                self.setup_failed(deps, &failure, causation).await
            }
        }
    }

    /// Records a set-up failure: a state for what an admin must fix, a retry time otherwise.
    async fn setup_failed(&mut self, deps: &Deps, failure: &GraphFailure, causation: &str) -> Result<(), ProcessError> {
        let (reason, code, retry) = match failure {
            GraphFailure::NotInScope { code } => {
                let reason = match code.as_str() {
                    "MailboxNotEnabledForRESTAPI" => "mailbox_not_enabled",
                    "ErrorAccessDenied" | "ErrorInvalidUser" => "not_in_scope",
                    _ => "consent_missing",
                };
                (reason, code.clone(), false)
            }
            GraphFailure::Throttled { .. } => ("throttled", "TooManyRequests".to_owned(), true),
            GraphFailure::Transient(_) | GraphFailure::Conflict => ("unavailable", String::new(), true),
            GraphFailure::Fatal { code, .. } => ("unavailable", code.clone(), true),
        };
        let wait =
            if self.state.setup_failures == 0 { deps.maintenance.retry_first } else { deps.maintenance.retry_later };
        let retry_at = retry.then(|| (deps.now)() + wait);
        tracing::warn!(mailbox = %self.id, reason, code = %code, "mailbox set-up failed");
        let fact = MailboxEventFact::SetupFailed { reason: reason.to_owned(), code, retry_at };
        self.step(deps, MailboxInput::RecordMaintenance(fact), causation).await.map(|_| ())
    }

    /// Deletes the subscription and disables the mailbox.
    async fn disable(&mut self, deps: &Deps, causation: &str) -> Result<(), ProcessError> {
        if !self.state.enabled {
            return Ok(());
        }
        if let Some((id, _)) = self.state.subscription.clone() {
            self.check_lease()?;
            match deps.subscriptions.delete(&self.id, &id).await {
                Ok(()) => {}
                Err(f) if f.is_retryable() => return Err(retry(&f)),
                Err(f) => {
                    tracing::warn!(mailbox = %self.id, error = %f, "subscription could not be deleted; it will expire")
                }
            }
        }
        self.step(deps, MailboxInput::RecordMaintenance(MailboxEventFact::Disabled), causation).await.map(|_| ())
    }

    async fn lost(&mut self, deps: &Deps, id: &str, reason: &str, causation: &str) -> Result<(), ProcessError> {
        let fact = MailboxEventFact::Lost { subscription_id: id.to_owned(), reason: reason.to_owned() };
        self.step(deps, MailboxInput::RecordMaintenance(fact), causation).await.map(|_| ())
    }

    /// Renews the subscription, or recreates it (then resyncs) when Graph no longer has it.
    /// Meetings that ended long ago are forgotten first, so the state stays bounded.
    pub async fn renew(&mut self, deps: &Deps, causation: &str) -> Result<(), ProcessError> {
        if !self.state.enabled {
            return Ok(());
        }
        let now = (deps.now)();
        let forget = MailboxInput::ForgetMeetings { ended_before: now - deps.maintenance.forget_after };
        self.step(deps, forget, causation).await?;
        // After a failed set-up, wait for its retry time; a state an admin must fix waits for
        // the admin (enabling again clears it).
        if self.state.subscription.is_none()
            && let Some((_, retry_at)) = &self.state.setup_error
            && retry_at.is_none_or(|at| at > now)
        {
            return Ok(());
        }
        let expiration = now + deps.maintenance.lifetime;
        let Some((id, _)) = self.state.subscription.clone() else {
            return self.recreate(deps, causation).await;
        };
        self.check_lease()?;
        match deps.subscriptions.renew(&self.id, &id, expiration).await {
            Ok(Some(expires_at)) => {
                let fact = MailboxEventFact::Renewed { subscription_id: id, expires_at };
                self.step(deps, MailboxInput::RecordMaintenance(fact), causation).await.map(|_| ())
            }
            Ok(None) => {
                self.lost(deps, &id, "expired", causation).await?;
                self.recreate(deps, causation).await
            }
            Err(f) => {
                // The subscription still lives; the scheduler asks again before it lapses.
                tracing::warn!(mailbox = %self.id, error = %f, "subscription could not be renewed this time");
                Ok(())
            }
        }
    }

    /// Creates a new subscription, records it, and resyncs what may have been missed.
    async fn recreate(&mut self, deps: &Deps, causation: &str) -> Result<(), ProcessError> {
        let client_state = new_client_state();
        let expiration = (deps.now)() + deps.maintenance.lifetime;
        self.check_lease()?;
        let (subscription_id, expires_at) = match deps.subscriptions.create(&self.id, &client_state, expiration).await {
            Ok(created) => created,
            Err(f) => return self.setup_failed(deps, &f, causation).await,
        };
        let input = MailboxInput::RecordSubscription { subscription_id, expires_at, client_state };
        self.step(deps, input, causation).await?;
        self.resync(deps, causation).await
    }

    /// Feeds every event of the window back through the mailbox's own input log, as change
    /// notifications: processed like any other, so nothing is decorated twice.
    async fn resync(&mut self, deps: &Deps, causation: &str) -> Result<(), ProcessError> {
        let now = (deps.now)();
        let (from, to) = (now - deps.maintenance.resync_back, now + deps.maintenance.resync_ahead);
        let ids = deps.subscriptions.changed_ids(&self.id, from, to).await.map_err(|f| retry(&f))?;
        let subscription_id = self.state.subscription.as_ref().map(|(id, _)| id.clone()).unwrap_or_default();
        let removed = ids.iter().filter(|(_, gone)| *gone).count() as u32;
        let changed = ids.len() as u32 - removed;
        if !ids.is_empty() {
            self.check_lease()?;
            deps.inbox.redeliver(self.id, &subscription_id, &ids, now).await?;
        }
        let fact = MailboxEventFact::Resynced { from, to, changed, removed };
        self.step(deps, MailboxInput::RecordMaintenance(fact), causation).await.map(|_| ())
    }

    async fn observe_and_decorate(
        &mut self,
        deps: &Deps,
        event_id: &GraphEventId,
        causation: &str,
    ) -> Result<Step, ProcessError> {
        let fetched = match deps.graph.get_event(&self.id, event_id).await {
            Ok(fetched) => fetched,
            Err(failure) if failure.is_retryable() => return Err(retry(&failure)),
            Err(failure) => {
                tracing::warn!(mailbox = %self.id, error = %failure, "event could not be read; notification skipped");
                return Ok(Step::Done);
            }
        };
        let Some(event) = fetched else {
            self.step(deps, MailboxInput::HandleObservation(Observation::Gone(event_id.clone())), causation).await?;
            return Ok(Step::Done);
        };
        self.step(deps, MailboxInput::HandleObservation(Observation::Present(Box::new(event.clone()))), causation)
            .await?;
        let pending = self.state.meetings.get(event_id).is_some_and(|m| m.decoration == Decoration::Pending);
        if !pending {
            return Ok(Step::Done);
        }
        self.decorate(deps, &event, causation).await
    }

    async fn decorate(&mut self, deps: &Deps, event: &GraphEvent, causation: &str) -> Result<Step, ProcessError> {
        let keyword = self.state.meetings.get(&event.id).and_then(|m| m.details.keyword.clone());
        let rule = keyword.as_ref().and_then(|k| deps.config.rule(&k.name));
        let (Some(keyword), Some(rule)) = (keyword, rule) else { return Ok(Step::Done) };
        let mode = keyword.modifier.clone().unwrap_or_else(|| rule.default_mode.clone());
        let record = |result| MailboxInput::RecordPatch { event_id: event.id.clone(), result };
        if mode != "myroom" {
            let failed = PatchResult::Failed { reason: format!("mode {mode} is not supported yet"), retryable: false };
            self.step(deps, record(failed), causation).await?;
            return Ok(Step::Done);
        }
        let Some(organizer) = event.organizer.as_ref().map(|o| o.address.clone()) else {
            let failed = PatchResult::Failed { reason: "the invite has no organizer".into(), retryable: false };
            self.step(deps, record(failed), causation).await?;
            return Ok(Step::Done);
        };
        let room = match deps.platform.personal_room(&organizer).await {
            Ok(room) => room,
            Err(PlatformFailure::Refused(reason)) => {
                tracing::warn!(mailbox = %self.id, %reason, "meeting platform refused the organiser");
                self.step(deps, record(PatchResult::PlatformRefused), causation).await?;
                return Ok(Step::Done);
            }
            Err(PlatformFailure::Transient(reason)) => return Err(ProcessError::Retry { after_secs: None, reason }),
        };
        let locale = self.state.locale.clone().unwrap_or_else(|| "en-US".to_owned());
        let body = insert_block(&event.body_html, &render_block(&room, &locale));
        let marker = Marker::new(&room, &mode).encode();
        // The last moment to notice that the mailbox went to another process before writing.
        self.check_lease()?;
        match deps.graph.patch_join_info(&self.id, &event.id, &event.change_key, &body, &marker).await {
            Ok(patched) => {
                if deps.crash_at == Some(CrashPoint::AfterJoinPatch) {
                    tracing::error!("crash point after_join_patch reached; aborting as configured");
                    std::process::abort();
                }
                let written = PatchResult::Written { room, mode, change_key: patched.change_key };
                self.step(deps, record(written), causation).await?;
                Ok(Step::Done)
            }
            Err(GraphFailure::Conflict) => Ok(Step::Conflict),
            Err(failure) if failure.is_retryable() => Err(retry(&failure)),
            Err(failure) => {
                let reason = match &failure {
                    GraphFailure::NotInScope { .. } => "not_in_scope",
                    _ => "fatal",
                };
                let failed = PatchResult::Failed { reason: reason.into(), retryable: false };
                self.step(deps, record(failed), causation).await?;
                Ok(Step::Done)
            }
        }
    }
}

/// Whether snapshots can describe the mailboxes of an events partition: the snapshot topic
/// must be partitioned like `mailbox-events` (and `notifications`, whose partitions decide
/// ownership), so a mailbox's snapshots, events and inputs share one partition number.
fn snapshots_usable(log: &dyn EventLog) -> bool {
    let events = log.partitions(MAILBOX_EVENTS);
    log.partitions(MAILBOX_SNAPSHOTS) == events && log.partitions(NOTIFICATIONS) == events
}

/// A partition as recovery rebuilt it.
#[derive(Debug, Default)]
pub struct PartitionRecovery {
    /// Its mailboxes.
    pub mailboxes: HashMap<MailboxId, Recovered>,
    /// A position of the events partition known to be covered by a complete checkpoint (0:
    /// none): the next checkpoint's `completeBefore`.
    pub complete: u64,
}

/// Rebuilds the mailboxes of one `mailbox-events` partition (or only `only`) from their latest
/// snapshots and the events after them (see [`super::snapshot`]).
pub async fn recover_partition(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    only: Option<MailboxId>,
) -> Result<HashMap<MailboxId, Recovered>, ProcessError> {
    Ok(recover(log, ring, partition, only).await?.mailboxes)
}

/// [`recover_partition`], with the position known complete. A snapshot that cannot be read (a
/// retired key, a newer version) makes recovery ignore every snapshot and fold the whole
/// partition instead; mailboxes the snapshots cannot account for have their whole history
/// folded.
pub async fn recover(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    only: Option<MailboxId>,
) -> Result<PartitionRecovery, ProcessError> {
    let only_key = only.map(|m| m.to_string());
    let mut fold = Fold::new();
    if snapshots_usable(log) {
        match read_snapshots(log, ring, partition, only.as_ref()).await {
            Ok(f) => fold = f,
            Err(ProcessError::Codec(e)) => {
                tracing::warn!(partition, error = %e, "a snapshot cannot be read; recovering from the events alone");
            }
            Err(e) => return Err(e),
        }
    }
    let start = fold.start();
    fold_events(log, ring, partition, start, |key| only_key.as_ref().is_none_or(|k| k == key), &mut fold).await?;
    // Mailboxes left out of their last checkpoint (too large), or whose events do not
    // continue their snapshot: their whole history is read (rare, and only theirs).
    let incomplete: HashSet<String> = fold.incomplete().iter().map(ToString::to_string).collect();
    let complete = fold.complete();
    let mut mailboxes = fold.finish();
    if !incomplete.is_empty() {
        tracing::info!(
            partition,
            mailboxes = incomplete.len(),
            "folding the whole history of mailboxes without a usable snapshot"
        );
        let mut whole = Fold::new();
        fold_events(log, ring, partition, 0, |key| incomplete.contains(key), &mut whole).await?;
        mailboxes.extend(whole.finish());
    }
    Ok(PartitionRecovery { mailboxes, complete })
}

/// Folds the events of `partition` from offset `from` on whose key `keep` accepts.
async fn fold_events(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    mut from: u64,
    keep: impl Fn(&str) -> bool,
    fold: &mut Fold,
) -> Result<(), ProcessError> {
    loop {
        let records = log.read(MAILBOX_EVENTS, partition, from, 1000).await?;
        let Some(last) = records.last() else { return Ok(()) };
        from = last.offset + 1;
        for record in records.iter().filter(|r| keep(&r.key)) {
            let env = envelope::decode(&record.payload, ring)?;
            fold.event(&env, record.offset).map_err(|FoldError::Gap(seq)| ProcessError::Gap(seq))?;
        }
    }
}

/// The latest snapshot of every mailbox of a partition (or of `only`, opening no other), and
/// the positions their writers knew complete.
async fn read_snapshots(
    log: &dyn EventLog,
    ring: &KeyRing,
    partition: u32,
    only: Option<&MailboxId>,
) -> Result<Fold, ProcessError> {
    // Per mailbox: sequence number and the stored record, of the newest one.
    let mut latest: HashMap<MailboxId, (u64, Vec<u8>)> = HashMap::new();
    let mut complete = 0;
    let mut from = 0;
    loop {
        let records = log.read(MAILBOX_SNAPSHOTS, partition, from, 1000).await?;
        let Some(last) = records.last() else { break };
        from = last.offset + 1;
        for record in records {
            let peeked = snapshot::peek(&record.payload)?;
            complete = complete.max(peeked.complete_before);
            // At an equal sequence number the later record wins (same state, later position).
            if latest.get(&peeked.mailbox).is_none_or(|(known, _)| peeked.seq >= *known) {
                latest.insert(peeked.mailbox, (peeked.seq, record.payload));
            }
        }
    }
    let mut fold = Fold::new();
    let any = !latest.is_empty();
    match only {
        None => {
            for (_, payload) in latest.into_values() {
                fold.snapshot(snapshot::decode(&payload, ring)?);
            }
            if any {
                fold.known_complete(complete);
            }
        }
        Some(m) => match latest.remove(m) {
            // Its own record says where its events after it start.
            Some((_, payload)) => fold.snapshot(snapshot::decode(&payload, ring)?),
            // Without a record of its own, it had no events before the last complete checkpoint.
            None if any => fold.known_complete(complete),
            None => {}
        },
    }
    Ok(fold)
}

/// A fresh random client state (32 bytes, URL-safe base64).
pub fn new_client_state() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The actix actor around a [`Mailbox`].
pub struct MailboxActor {
    mailbox: Option<Mailbox>,
    deps: Arc<Deps>,
}

impl Actor for MailboxActor {
    type Context = Context<Self>;
}

/// Handle a notification under a lease: taken when the record was handed out, so a record
/// handed out before an ownership change records nothing, whichever actor runs it.
#[derive(Message)]
#[rtype(result = "Result<(), ProcessError>")]
pub struct HandleNotification(pub NotificationRecord, pub Lease);

/// Read the state (for admin views and tests).
#[derive(Message)]
#[rtype(result = "Option<MailboxState>")]
pub struct GetState;

impl Handler<HandleNotification> for MailboxActor {
    type Result = AtomicResponse<Self, Result<(), ProcessError>>;

    fn handle(&mut self, msg: HandleNotification, _: &mut Context<Self>) -> Self::Result {
        let mut mailbox = self.mailbox.take();
        let deps = self.deps.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let result = match mailbox.as_mut() {
                    Some(m) => {
                        m.lease = Some(msg.1);
                        m.handle(&deps, &msg.0).await
                    }
                    None => Err(ProcessError::Unavailable),
                };
                (mailbox, result)
            }
            .into_actor(self)
            .map(|(mailbox, result), act, _| {
                act.mailbox = mailbox;
                result
            }),
        ))
    }
}

/// Stop the actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for MailboxActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<GetState> for MailboxActor {
    type Result = Option<MailboxState>;

    fn handle(&mut self, _: GetState, _: &mut Context<Self>) -> Self::Result {
        self.mailbox.as_ref().map(|m| m.state.clone())
    }
}

/// A mailbox's state and position, for a checkpoint.
#[derive(Message)]
#[rtype(result = "Option<(MailboxState, u64)>")]
pub struct GetSnapshot;

impl Handler<GetSnapshot> for MailboxActor {
    type Result = Option<(MailboxState, u64)>;

    fn handle(&mut self, _: GetSnapshot, _: &mut Context<Self>) -> Self::Result {
        self.mailbox.as_ref().map(|m| (m.state.clone(), m.events_next))
    }
}

/// Snapshot appends a checkpoint keeps in flight.
const CHECKPOINT_APPENDS_IN_FLIGHT: usize = 64;

/// Largest snapshot a checkpoint writes, under Kafka's default record limit (1,000,000 bytes
/// with the batch overhead). A larger one is left out: recovery then reads that mailbox's
/// history instead (see [`super::snapshot`]), and the rest of the checkpoint goes on.
pub const MAX_SNAPSHOT_BYTES: usize = 900_000;

/// What [`MailboxRegistry::processed`] did about checkpoints.
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
struct Written {
    snapshots: usize,
    too_large: usize,
    /// The partition's end it was taken at.
    end: u64,
}

/// What the registry knows of the partitions this process works on.
#[derive(Default)]
struct Owned {
    /// Started actors.
    actors: HashMap<MailboxId, Addr<MailboxActor>>,
    /// Recovered partitions: the mailboxes whose actors have not started yet.
    recovered: HashMap<u32, HashMap<MailboxId, Recovered>>,
    /// Records processed per partition since its last checkpoint.
    since_checkpoint: HashMap<u32, u64>,
    /// Per partition, a position known covered by a complete checkpoint.
    complete: HashMap<u32, u64>,
    /// The registry's epoch these contents belong to.
    epoch: u64,
    /// Actors of an earlier epoch, possibly still finishing a record (recording nothing).
    stopping: Vec<Addr<MailboxActor>>,
    /// Per partition, the turn to recover it (one task at a time).
    gates: HashMap<u32, Arc<tokio::sync::Mutex<()>>>,
}

/// How long a state read waits for a busy live actor before reading the log instead.
const STATE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long recovery waits for an actor of an earlier epoch to finish its record: longer than
/// the producer's default message timeout (30 s), so an append it had begun has landed or
/// failed by then.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(45);

/// Finds or starts the actor of each mailbox. The first mailbox of a partition recovers the
/// whole partition at once (its latest snapshots and the events after them), so taking over a
/// partition reads it once, not once per mailbox. Actors are spread over a fixed set of
/// arbiters (threads) by mailbox.
pub struct MailboxRegistry {
    deps: Arc<Deps>,
    arbiters: Vec<ArbiterHandle>,
    owned: tokio::sync::Mutex<Owned>,
    /// Moves on every ownership change, lapsing the leases of the actors started before.
    epoch: Arc<AtomicU64>,
    /// Records between checkpoints; 0 when snapshots are off or cannot be used with this log.
    snapshot_every: u64,
}

impl MailboxRegistry {
    /// A registry placing actors on `arbiters` (at least one).
    pub fn new(deps: Arc<Deps>, arbiters: Vec<ArbiterHandle>) -> Self {
        // The log's partition counts are known once it is connected; they do not change.
        let snapshot_every = if snapshots_usable(deps.log.as_ref()) { deps.snapshot_every } else { 0 };
        Self { deps, arbiters, owned: tokio::sync::Mutex::new(Owned::default()), epoch: Arc::default(), snapshot_every }
    }

    /// A lease valid until the next ownership change. Take it when a record is handed out.
    pub fn lease(&self) -> Lease {
        Lease { epoch: self.epoch.load(Ordering::SeqCst), current: self.epoch.clone() }
    }

    /// Lapses every lease at once, without waiting for anything: call it the moment an
    /// ownership change is known (from a rebalance callback).
    pub fn lapse_leases(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Drops what `owned` knows when it belongs to an earlier epoch: its actors are asked to
    /// stop (after the record they may be on) and every mailbox is recovered afresh on use.
    fn refresh(&self, owned: &mut Owned) {
        let epoch = self.epoch.load(Ordering::SeqCst);
        if owned.epoch == epoch {
            return;
        }
        let mut stopping = std::mem::take(&mut owned.stopping);
        stopping.extend(owned.actors.drain().map(|(_, addr)| addr));
        *owned = Owned { epoch, stopping, ..Owned::default() };
    }

    /// Waits until the actors of earlier epochs have finished the record they were on, so no
    /// append of theirs can land after a recovery reads the log (at most [`STOP_WAIT`] in
    /// all); whether the deadline passed. The caller removes them from the list afterwards,
    /// so a wait cut short (its task abandoned) leaves them to the next recovery.
    async fn await_stopped(stopping: &[Addr<MailboxActor>]) -> bool {
        // They finish side by side; one deadline for all.
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        let mut waited_out = false;
        for addr in stopping {
            if tokio::time::timeout_at(deadline, addr.send(Stop)).await.is_err() {
                tracing::warn!("an actor of an earlier epoch did not stop in time; recovering anyway");
                waited_out = true;
            }
        }
        waited_out
    }

    fn partition_of(&self, id: &MailboxId) -> u32 {
        partition_for(&id.to_string(), self.deps.log.partitions(MAILBOX_EVENTS))
    }

    /// The actor of a mailbox, started (and its state recovered) on first use.
    /// A partition is recovered by one task at a time and outside the registry's lock, so
    /// other partitions' records go on meanwhile; a recovery that an ownership change
    /// overtook is dropped and done again.
    pub async fn get(&self, id: MailboxId) -> Result<Addr<MailboxActor>, ProcessError> {
        let partition = self.partition_of(&id);
        loop {
            let mut owned = self.owned.lock().await;
            self.refresh(&mut owned);
            let mailbox = match owned.actors.get(&id) {
                Some(addr) if addr.connected() => return Ok(addr.clone()),
                // Its actor stopped: its events since recovery are in the log only.
                Some(_) => Mailbox::load(&self.deps, id).await?,
                None => match owned.recovered.get_mut(&partition) {
                    Some(recovered) => {
                        let found = recovered.remove(&id).unwrap_or_default();
                        Mailbox { id, state: found.state, events_next: found.events_next, lease: None }
                    }
                    None => {
                        let (epoch, gate) = (owned.epoch, owned.gates.entry(partition).or_default().clone());
                        drop(owned);
                        self.recover_once(partition, epoch, &gate).await?;
                        continue;
                    }
                },
            };
            return self.start(&mut owned, mailbox);
        }
    }

    /// Starts a mailbox's actor and lists it.
    fn start(&self, owned: &mut Owned, mailbox: Mailbox) -> Result<Addr<MailboxActor>, ProcessError> {
        let (id, deps) = (mailbox.id, self.deps.clone());
        let index = partition_for(&id.to_string(), self.arbiters.len() as u32) as usize;
        let arbiter = self.arbiters.get(index).ok_or(ProcessError::Unavailable)?;
        let addr = MailboxActor::start_in_arbiter(arbiter, move |_| MailboxActor { mailbox: Some(mailbox), deps });
        owned.actors.insert(id, addr.clone());
        Ok(addr)
    }

    /// Recovers `partition` for `epoch` unless another task did (`gate` lets one at a time):
    /// first waits for the actors of earlier epochs to finish their record, then reads the
    /// log, then records the result if the epoch is still the same.
    async fn recover_once(
        &self,
        partition: u32,
        epoch: u64,
        gate: &tokio::sync::Mutex<()>,
    ) -> Result<(), ProcessError> {
        let _turn = gate.lock().await;
        let stopping = {
            let mut owned = self.owned.lock().await;
            self.refresh(&mut owned);
            if owned.epoch != epoch || owned.recovered.contains_key(&partition) {
                return Ok(());
            }
            owned.stopping.clone()
        };
        let waited_out = Self::await_stopped(&stopping).await;
        let recovery = recover(self.deps.log.as_ref(), &self.deps.ring, partition, None).await?;
        let mut owned = self.owned.lock().await;
        self.refresh(&mut owned);
        owned.stopping.retain(|addr| addr.connected() && !(waited_out && stopping.contains(addr)));
        if owned.epoch == epoch && !owned.recovered.contains_key(&partition) {
            tracing::info!(partition, mailboxes = recovery.mailboxes.len(), "partition recovered");
            owned.recovered.insert(partition, recovery.mailboxes);
            owned.complete.insert(partition, recovery.complete);
        }
        Ok(())
    }

    /// Sends a notification to its mailbox's actor and waits for the outcome. `lease` is the
    /// one taken when the record was handed out ([`Self::lease`]).
    pub async fn handle(&self, record: NotificationRecord, lease: Lease) -> Result<(), ProcessError> {
        if !lease.held() {
            return Err(ProcessError::Revoked);
        }
        let addr = self.get(record.mailbox()).await?;
        addr.send(HandleNotification(record, lease)).await.map_err(|_| ProcessError::Unavailable)?
    }

    /// The state of a mailbox: its live actor's, when this process runs one (and it answers
    /// within [`STATE_WAIT`]), else as its snapshot and events say, read from the log without
    /// starting an actor (another process may own the mailbox). Reading the log scans the
    /// snapshots of the mailbox's partition, so the live actor is much cheaper.
    pub async fn state(&self, id: MailboxId) -> Result<MailboxState, ProcessError> {
        let live = async {
            let addr = {
                let owned = self.owned.lock().await;
                let current = owned.epoch == self.epoch.load(Ordering::SeqCst);
                owned.actors.get(&id).filter(|addr| current && addr.connected()).cloned()
            }?;
            addr.send(GetState).await.ok().flatten()
        };
        if let Ok(Some(state)) = tokio::time::timeout(STATE_WAIT, live).await {
            return Ok(state);
        }
        Ok(Mailbox::load(&self.deps, id).await?.state)
    }

    /// Counts a processed record of `partition` and writes a checkpoint of the partition when
    /// `snapshot_every` records have passed since the last one. Call it from the task that
    /// processes the partition, between records: a checkpoint must not overlap processing.
    /// A failed checkpoint is only logged; the next one is attempted a full interval later.
    /// No checkpoint is written under a lapsed `lease`: the partition may be another's now.
    pub async fn processed(&self, partition: u32, lease: &Lease) -> Checkpoint {
        let every = self.snapshot_every;
        if every == 0 {
            return Checkpoint::NotDue;
        }
        let mut owned = self.owned.lock().await;
        // Only with what this epoch recovered and processed.
        if !lease.held() || owned.epoch != lease.epoch {
            return Checkpoint::NotDue;
        }
        let count = owned.since_checkpoint.entry(partition).or_default();
        *count += 1;
        if *count < every {
            return Checkpoint::NotDue;
        }
        *count = 0;
        // An actor that stopped (it failed) cannot report its state: read it from the log, so
        // the checkpoint still covers every mailbox.
        let dead: Vec<MailboxId> = owned
            .actors
            .iter()
            .filter(|(id, addr)| !addr.connected() && self.partition_of(id) == partition)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            match Mailbox::load(&self.deps, id).await {
                Ok(m) => {
                    owned.actors.remove(&id);
                    let reloaded = Recovered { state: m.state, events_next: m.events_next };
                    owned.recovered.entry(partition).or_default().insert(id, reloaded);
                }
                Err(e) => {
                    tracing::warn!(partition, error = %e, "checkpoint failed: a stopped mailbox could not be read");
                    return Checkpoint::Failed;
                }
            }
        }
        let gathered = self.gather(&owned, partition).await;
        let (epoch, complete_before) = (owned.epoch, owned.complete.get(&partition).copied().unwrap_or(0));
        // The appends go out without the lock: other partitions' records go on meanwhile (no
        // record of this partition does: this is called between them).
        drop(owned);
        let written = async { self.write_checkpoint(gathered?, complete_before).await }.await;
        match written {
            Ok(Written { snapshots, too_large, end }) => {
                tracing::info!(partition, snapshots, too_large, "checkpoint written");
                let mut owned = self.owned.lock().await;
                if owned.epoch == epoch {
                    // Every mailbox with events before `end` now has a record at `end`.
                    owned.complete.insert(partition, end);
                }
                Checkpoint::Written { snapshots, too_large }
            }
            Err(e) => {
                tracing::warn!(partition, error = %e, "checkpoint failed");
                Checkpoint::Failed
            }
        }
    }

    /// Every known mailbox of a partition: state and position.
    async fn gather(&self, owned: &Owned, partition: u32) -> Result<Vec<(MailboxId, MailboxState, u64)>, ProcessError> {
        let mut mailboxes: Vec<(MailboxId, MailboxState, u64)> = Vec::new();
        for (id, addr) in owned.actors.iter().filter(|(id, _)| self.partition_of(id) == partition) {
            let (state, next) = addr.send(GetSnapshot).await.ok().flatten().ok_or(ProcessError::Unavailable)?;
            mailboxes.push((*id, state, next));
        }
        for (id, r) in owned.recovered.get(&partition).into_iter().flatten() {
            mailboxes.push((*id, r.state.clone(), r.events_next));
        }
        Ok(mailboxes)
    }

    /// Snapshots the gathered mailboxes of a partition at the partition's current end, which it
    /// returns; a mailbox too large for a log record gets a left-out record instead.
    async fn write_checkpoint(
        &self,
        mailboxes: Vec<(MailboxId, MailboxState, u64)>,
        complete_before: u64,
    ) -> Result<Written, ProcessError> {
        // Every event of the partition belongs to one of these mailboxes, so the largest
        // position among them is the partition's end.
        let end = mailboxes.iter().map(|m| m.2).max().unwrap_or(0);
        let taken_at = (self.deps.now)();
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
            let mut payload =
                snapshot::encode(&Snapshot::of(mailbox, state, end, complete_before, taken_at), &self.deps.ring)?;
            if payload.len() > MAX_SNAPSHOT_BYTES {
                tracing::warn!(%mailbox, bytes = payload.len(), "snapshot too large for the log; left out of the checkpoint");
                too_large += 1;
                let left_out = Snapshot::left_out(mailbox, seq, end, complete_before, taken_at);
                payload = snapshot::encode(&left_out, &self.deps.ring)?;
            } else {
                snapshots += 1;
            }
            let log = self.deps.log.clone();
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

    /// Forgets every started actor and recovered partition, so each mailbox is recovered from
    /// the log on next use, once the actors of before have finished their record. Called when
    /// partition ownership changes: another process may have appended meanwhile. Waits for
    /// nothing (every lease lapses now; the rest happens on the next use).
    pub fn evict_all(&self) {
        self.lapse_leases();
    }
}

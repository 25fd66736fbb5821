//! The interpreter around the mailbox aggregate, and the actix actor that runs it: for each
//! input it asks `decide`, persists the decided events, applies them, performs the effects
//! through the ports and feeds each outcome back as the next input. It decides nothing itself.
//! One actor per mailbox, one record at a time (`AtomicResponse`), so a mailbox never races
//! itself. Which process owns which mailbox, and recovering their state, is the service's
//! runtime; here a [`Lease`] says whether this actor may still record.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

use super::config::MailboxConfig;
use super::decide::{DecideError, decide};
use super::effect::Effect;
use super::envelope::{self, CodecError, Envelope};
use super::events::MailboxEvent;
use super::input::{MailboxInput, SetupStep, SubscriptionCall};
use super::snapshot::FoldError;
use super::state::MailboxState;
use crate::ids::MailboxId;
use crate::log::{EventLog, LogError, MAILBOX_EVENTS};
use crate::notification::{AdminCommand, NotificationKind, NotificationRecord};
use crate::ports::{Clock, GraphApi, GraphFailure, Inbox, MeetingPlatform, SubscriptionApi};
use crate::seal::KeyRing;

/// What the interpreter needs from the outside.
pub struct Deps {
    /// Microsoft Graph: events.
    pub graph: Arc<dyn GraphApi>,
    /// Microsoft Graph: subscriptions, mailbox settings, delta.
    pub subscriptions: Arc<dyn SubscriptionApi>,
    /// The meeting platform.
    pub platform: Arc<dyn MeetingPlatform>,
    /// The event log (`mailbox-events`).
    pub log: Arc<dyn EventLog>,
    /// The mailboxes' input log (a resync feeds events back through it).
    pub inbox: Arc<dyn Inbox>,
    /// Keys for sealing.
    pub ring: KeyRing,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// What `decide` is configured with.
    pub config: MailboxConfig,
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
    /// Two different events carry one sequence number of a mailbox: two processes wrote its
    /// history. Recovery refuses to pick one, so the partition stays unrecovered (and its
    /// records unprocessed) until the history is looked at; every retry says so again.
    #[error("mailbox {mailbox} has two different events at seq {seq}: two processes wrote its history")]
    Conflict {
        /// Which mailbox.
        mailbox: MailboxId,
        /// The sequence number both events carry.
        seq: u64,
    },
    /// The actor is gone.
    #[error("mailbox actor unavailable")]
    Unavailable,
    /// This process no longer owns the mailbox (its partition was given to another process):
    /// the work was abandoned before anything more was recorded; the new owner redoes it.
    #[error("the mailbox's partition was revoked")]
    Revoked,
    /// One record led to more decisions than any rule chains (a bug, not a state of the world).
    #[error("more than {0} decisions for one record")]
    Runaway(usize),
}

impl From<FoldError> for ProcessError {
    fn from(e: FoldError) -> Self {
        match e {
            FoldError::Gap(seq) => Self::Gap(seq),
            FoldError::Conflict { mailbox, seq } => Self::Conflict { mailbox, seq },
        }
    }
}

/// The right to record events for a mailbox, valid while its epoch is current (the service
/// moves the epoch when partition ownership changes). An actor whose lease lapsed records
/// nothing more and performs no effect, so a process that lost a partition stops acting for
/// its mailboxes as soon as it learns of the loss, even in the middle of a record.
#[derive(Debug, Clone)]
pub struct Lease {
    epoch: u64,
    current: Arc<AtomicU64>,
}

impl Lease {
    /// A lease for `epoch`, valid while `current` holds it.
    pub fn new(epoch: u64, current: Arc<AtomicU64>) -> Self {
        Self { epoch, current }
    }

    /// The epoch it was taken in.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether the lease is still valid.
    pub fn held(&self) -> bool {
        self.current.load(Ordering::SeqCst) == self.epoch
    }
}

/// Most decisions one record may lead to; the longest chain of rules is about a dozen.
const MAX_DECISIONS: usize = 64;

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

impl Mailbox {
    /// A mailbox with a recovered state.
    pub fn new(id: MailboxId, state: MailboxState, events_next: u64) -> Self {
        Self { id, state, events_next, lease: None }
    }

    /// Handles one record of the input log: first finishes what the state says is unfinished
    /// ([`MailboxInput::Resume`]), then the record's own input.
    pub async fn handle(&mut self, deps: &Deps, record: &NotificationRecord) -> Result<(), ProcessError> {
        use tracing::Instrument as _;
        // Everything logged while this record is handled names the mailbox and the record (opaque
        // ids only).
        let span = tracing::info_span!("mailbox_input", mailbox = %self.id, record = %record.id);
        async {
            self.check_lease()?;
            let causation = record.id.to_string();
            self.run(deps, MailboxInput::Resume, &causation).await?;
            let input = input_of(record, &deps.ring)?;
            self.run(deps, input, &causation).await
        }
        .instrument(span)
        .await
    }

    /// Decides `first`, then every outcome it leads to, until nothing is left to do.
    pub async fn run(&mut self, deps: &Deps, first: MailboxInput, causation: &str) -> Result<(), ProcessError> {
        let mut queue = VecDeque::from([first]);
        let mut decisions = 0;
        while let Some(input) = queue.pop_front() {
            decisions += 1;
            if decisions > MAX_DECISIONS {
                tracing::error!(mailbox = %self.id, input = input.name(), "a record led to too many decisions");
                return Err(ProcessError::Runaway(MAX_DECISIONS));
            }
            let decision = match decide(&self.state, &input, &deps.config, deps.clock.now()) {
                Ok(decision) => decision,
                Err(DecideError::NotEnabled) => {
                    tracing::warn!(mailbox = %self.id, input = input.name(), "input for a mailbox that is not enabled; ignored");
                    continue;
                }
                Err(DecideError::UnknownMeeting) => {
                    tracing::warn!(mailbox = %self.id, input = input.name(), "outcome for an unknown meeting; ignored");
                    continue;
                }
            };
            self.persist(deps, decision.events, causation).await?;
            for effect in decision.effects {
                // The last moment to notice that the mailbox went to another process.
                self.check_lease()?;
                queue.push_back(self.perform(deps, effect).await?);
            }
        }
        Ok(())
    }

    /// Appends the events (one append, all or none), then applies them.
    async fn persist(&mut self, deps: &Deps, events: Vec<MailboxEvent>, causation: &str) -> Result<(), ProcessError> {
        if events.is_empty() {
            return Ok(());
        }
        self.check_lease()?;
        let now = deps.clock.now();
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
        Ok(())
    }

    /// Fails with `Revoked` once the mailbox's lease lapsed.
    fn check_lease(&self) -> Result<(), ProcessError> {
        match &self.lease {
            Some(lease) if !lease.held() => Err(ProcessError::Revoked),
            _ => Ok(()),
        }
    }

    /// Performs one effect; its outcome, failures included, is the next input.
    async fn perform(&self, deps: &Deps, effect: Effect) -> Result<MailboxInput, ProcessError> {
        let id = &self.id;
        let failed = |what: &str, failure: &GraphFailure| {
            tracing::warn!(mailbox = %id, error = %failure, "{what} failed");
        };
        Ok(match effect {
            Effect::DestroyKeys => match deps.ring.erase(&crate::seal::KeyScope::Mailbox(*id)) {
                Ok(()) => {
                    tracing::info!(mailbox = %id, "mailbox erased: its data keys are destroyed");
                    MailboxInput::KeysDestroyed
                }
                // The erasure is recorded; the record is tried again until the keys are gone.
                Err(e) => {
                    tracing::warn!(mailbox = %id, error = %e, "destroying the mailbox's keys failed; retrying");
                    return Err(ProcessError::Retry { after_secs: None, reason: "key service unavailable".into() });
                }
            },
            Effect::ReadMailboxSettings { locale_hint } => match deps.subscriptions.mailbox_settings(id).await {
                Ok(read) => MailboxInput::MailboxSettingsRead {
                    locale: read.locale,
                    locale_hint,
                    automatic_replies: read.automatic_replies,
                },
                Err(failure) => {
                    failed("reading the mailbox settings", &failure);
                    MailboxInput::SetupFailed { step: SetupStep::ReadSettings { locale_hint }, failure }
                }
            },
            Effect::CreateSubscription { expiration } => {
                let client_state = new_client_state().map_err(|e| ProcessError::Codec(CodecError::Seal(e)))?;
                match deps.subscriptions.create(id, &client_state, expiration).await {
                    Ok((subscription_id, expires_at)) => {
                        MailboxInput::SubscriptionCreated { subscription_id, expires_at, client_state }
                    }
                    Err(failure) => {
                        failed("creating the subscription", &failure);
                        MailboxInput::SetupFailed { step: SetupStep::CreateSubscription, failure }
                    }
                }
            }
            Effect::RenewSubscription { subscription_id, expiration } => {
                match deps.subscriptions.renew(id, &subscription_id, expiration).await {
                    Ok(Some(expires_at)) => MailboxInput::SubscriptionRenewed { subscription_id, expires_at },
                    Ok(None) => MailboxInput::SubscriptionNotFound { subscription_id, call: SubscriptionCall::Renew },
                    Err(failure) => {
                        failed("renewing the subscription", &failure);
                        MailboxInput::SubscriptionCallFailed { subscription_id, call: SubscriptionCall::Renew, failure }
                    }
                }
            }
            Effect::ReauthorizeSubscription { subscription_id } => {
                let call = SubscriptionCall::Reauthorize;
                match deps.subscriptions.reauthorize(id, &subscription_id).await {
                    Ok(true) => MailboxInput::SubscriptionReauthorized { subscription_id },
                    Ok(false) => MailboxInput::SubscriptionNotFound { subscription_id, call },
                    Err(failure) => {
                        failed("reauthorizing the subscription", &failure);
                        MailboxInput::SubscriptionCallFailed { subscription_id, call, failure }
                    }
                }
            }
            Effect::DeleteSubscription { subscription_id } => {
                match deps.subscriptions.delete(id, &subscription_id).await {
                    Ok(()) => MailboxInput::SubscriptionDeleted { subscription_id },
                    Err(failure) => {
                        failed("deleting the subscription", &failure);
                        MailboxInput::SubscriptionCallFailed {
                            subscription_id,
                            call: SubscriptionCall::Delete,
                            failure,
                        }
                    }
                }
            }
            Effect::ReadWindow { from, to } => match deps.subscriptions.changed_ids(id, from, to).await {
                Ok(changes) => MailboxInput::WindowRead { from, to, changes },
                Err(failure) => {
                    failed("reading the window", &failure);
                    MailboxInput::ResyncFailed { failure }
                }
            },
            Effect::Redeliver { from, to, changes } => {
                let subscription = self.state.subscription.as_ref().map_or("", |(s, _)| s.as_str());
                deps.inbox.redeliver(*id, subscription, &changes, deps.clock.now()).await?;
                let removed = changes.iter().filter(|(_, gone)| *gone).count() as u32;
                MailboxInput::WindowResynced { from, to, changed: changes.len() as u32 - removed, removed }
            }
            Effect::ReadOccurrences { event_id, from, to } => {
                match deps.graph.occurrences(id, &event_id, from, to).await {
                    Ok(occurrences) => MailboxInput::OccurrencesRead { event_id, from, to, occurrences },
                    Err(failure) => {
                        failed("reading the occurrences of a series", &failure);
                        MailboxInput::OccurrencesFailed { event_id, failure }
                    }
                }
            }
            Effect::FetchEvent { event_id, conflicts } => match deps.graph.get_event(id, &event_id).await {
                Ok(event) => MailboxInput::EventFetched { event_id, event: event.map(Box::new), conflicts },
                Err(failure) => {
                    failed("reading the event", &failure);
                    MailboxInput::FetchFailed { event_id, failure }
                }
            },
            Effect::FindPersonalRoom { event, platform, organizer, mode, conflicts } => {
                match deps.platform.personal_room(&platform, &organizer).await {
                    Ok(room) => MailboxInput::RoomFound { event, room, mode, conflicts },
                    Err(failure) => {
                        tracing::warn!(mailbox = %id, error = %failure, "the meeting platform did not give a room");
                        MailboxInput::PlatformFailed { event_id: event.id.clone(), event: Some(event), failure }
                    }
                }
            }
            Effect::BookMeeting { event, request, mode, conflicts } => match deps.platform.book(&request).await {
                Ok(booking) => MailboxInput::Booked { event, booking, mode, conflicts },
                Err(failure) => {
                    tracing::warn!(mailbox = %id, error = %failure, "the meeting platform did not book");
                    MailboxInput::PlatformFailed { event_id: event.id.clone(), event: Some(event), failure }
                }
            },
            Effect::RescheduleMeeting { event_id, booking_id, request } => {
                match deps.platform.reschedule(&booking_id, &request).await {
                    Ok(()) => MailboxInput::BookingRescheduled {
                        event_id,
                        booking_id,
                        start: request.start,
                        end: request.end,
                    },
                    Err(failure) => {
                        tracing::warn!(mailbox = %id, error = %failure, "the meeting platform did not move the meeting");
                        MailboxInput::PlatformFailed { event_id, event: None, failure }
                    }
                }
            }
            Effect::CancelBooking { event_id, platform, booking_id, organizer } => {
                match deps.platform.cancel(&platform, &booking_id, &organizer).await {
                    Ok(()) => MailboxInput::BookingCancelled { event_id, booking_id },
                    Err(failure) => {
                        tracing::warn!(mailbox = %id, error = %failure, "the meeting platform did not delete the meeting");
                        MailboxInput::CancelFailed { event_id, booking_id, failure }
                    }
                }
            }
            Effect::WriteNotice { event_id, expected_change_key, body_html, reason } => {
                match deps.graph.patch_join_info(id, &event_id, &expected_change_key, &body_html, "").await {
                    Ok(patched) => MailboxInput::NoticeWritten { event_id, reason, change_key: patched.change_key },
                    Err(GraphFailure::Conflict) => MailboxInput::PatchConflicted { event_id, conflicts: 0 },
                    Err(failure) => {
                        failed("writing a notice", &failure);
                        MailboxInput::PatchFailed { event_id, failure }
                    }
                }
            }
            Effect::RemoveJoinInfo { event_id, expected_change_key, body_html, conflicts } => {
                match deps.graph.patch_join_info(id, &event_id, &expected_change_key, &body_html, "").await {
                    Ok(patched) => MailboxInput::JoinInfoCleared { event_id, change_key: patched.change_key },
                    Err(GraphFailure::Conflict) => MailboxInput::PatchConflicted { event_id, conflicts },
                    Err(failure) => {
                        failed("removing join details", &failure);
                        MailboxInput::PatchFailed { event_id, failure }
                    }
                }
            }
            Effect::WriteJoinInfo { event_id, expected_change_key, body_html, marker, room, mode, conflicts } => {
                match deps.graph.patch_join_info(id, &event_id, &expected_change_key, &body_html, &marker).await {
                    Ok(patched) => {
                        MailboxInput::JoinInfoWritten { event_id, room, mode, change_key: patched.change_key }
                    }
                    Err(GraphFailure::Conflict) => MailboxInput::PatchConflicted { event_id, conflicts },
                    Err(failure) => {
                        failed("writing join details", &failure);
                        MailboxInput::PatchFailed { event_id, failure }
                    }
                }
            }
            Effect::RetryLater { after_secs, reason } => return Err(ProcessError::Retry { after_secs, reason }),
        })
    }
}

/// The input a record of the input log stands for.
fn input_of(record: &NotificationRecord, ring: &KeyRing) -> Result<MailboxInput, ProcessError> {
    Ok(match &record.kind {
        NotificationKind::Change { change_type, event_id } => {
            MailboxInput::HandleChange { change_type: *change_type, event_id: event_id.clone() }
        }
        NotificationKind::Lifecycle { lifecycle_event } => {
            MailboxInput::HandleLifecycle { subscription_id: record.subscription_id.clone(), event: *lifecycle_event }
        }
        NotificationKind::Command(AdminCommand::EnableMailbox { locale }) => {
            MailboxInput::EnableMailbox { locale: locale.clone() }
        }
        NotificationKind::Command(AdminCommand::DisableMailbox) => MailboxInput::DisableMailbox,
        NotificationKind::Command(AdminCommand::EraseMailbox) => MailboxInput::EraseMailbox,
        NotificationKind::Command(AdminCommand::RenewSubscription) => MailboxInput::RenewSubscription,
        NotificationKind::Command(AdminCommand::IssueToken { token_id, holder, sealed }) => {
            let digest: String = crate::seal::open(ring, record.id.as_bytes(), sealed)
                .map_err(|e| ProcessError::Codec(CodecError::Seal(e)))?;
            MailboxInput::IssueToken { token_id: *token_id, holder: *holder, digest }
        }
        NotificationKind::Command(AdminCommand::RevokeToken { token_id }) => {
            MailboxInput::RevokeToken { token_id: *token_id }
        }
        NotificationKind::Command(AdminCommand::RegisterDevice { device_id, kind, sealed }) => {
            let private: crate::mailbox::events::DevicePrivate = crate::seal::open(ring, record.id.as_bytes(), sealed)
                .map_err(|e| ProcessError::Codec(CodecError::Seal(e)))?;
            MailboxInput::RegisterDevice { device_id: *device_id, kind: kind.clone(), private: Box::new(private) }
        }
        NotificationKind::Command(AdminCommand::RemoveDevice { device_id }) => {
            MailboxInput::RemoveDevice { device_id: *device_id }
        }
        NotificationKind::Command(AdminCommand::RecordSettings { locale, automatic_replies }) => {
            MailboxInput::SettingsPolled { locale: locale.clone(), automatic_replies: *automatic_replies }
        }
        NotificationKind::Command(AdminCommand::ApplyPresence) => MailboxInput::PresenceDue,
        NotificationKind::Command(AdminCommand::RecordSubscription { subscription_id, expires_at, sealed }) => {
            let client_state: String = crate::seal::open(ring, record.id.as_bytes(), sealed)
                .map_err(|e| ProcessError::Codec(CodecError::Seal(e)))?;
            MailboxInput::RecordSubscription {
                subscription_id: subscription_id.clone(),
                expires_at: *expires_at,
                client_state,
            }
        }
    })
}

/// A fresh random client state (32 bytes, URL-safe base64): the secret Graph echoes in every
/// notification of the subscription.
pub fn new_client_state() -> Result<String, crate::seal::SealError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| crate::seal::SealError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(feature = "actix")]
pub use self::actix_actor::*;

/// The actix actor around a [`Mailbox`].
#[cfg(feature = "actix")]
mod actix_actor {
    use std::sync::Arc;

    use actix::prelude::*;

    use super::{Deps, Lease, Mailbox, ProcessError};
    use crate::mailbox::state::MailboxState;
    use crate::notification::NotificationRecord;

    /// Runs one mailbox's records one at a time.
    pub struct MailboxActor {
        mailbox: Option<Mailbox>,
        deps: Arc<Deps>,
    }

    impl MailboxActor {
        /// An actor for a recovered mailbox.
        pub fn new(mailbox: Mailbox, deps: Arc<Deps>) -> Self {
            Self { mailbox: Some(mailbox), deps }
        }
    }

    impl Actor for MailboxActor {
        type Context = Context<Self>;
    }

    /// Handle a notification under a lease: taken when the record was handed out, so a record
    /// handed out before an ownership change records nothing, whichever actor runs it.
    #[derive(Message)]
    #[rtype(result = "Result<(), ProcessError>")]
    pub struct HandleNotification(pub NotificationRecord, pub Lease);

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
                .map(|(mailbox, result), act, ctx| {
                    act.mailbox = mailbox;
                    // A failed append may still have landed (a broker that timed out after
                    // writing): this actor's state may be behind the log. It stops, so the
                    // mailbox is read again from the log before its next record, and a retry
                    // never writes a second, different event at a sequence number.
                    if matches!(result, Err(ProcessError::Log(_))) {
                        ctx.stop();
                    }
                    result
                }),
            ))
        }
    }

    /// Read the state (for admin views and tests).
    #[derive(Message)]
    #[rtype(result = "Option<MailboxState>")]
    pub struct GetState;

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

    /// Stop the actor (after the record it may be on).
    #[derive(Message)]
    #[rtype(result = "()")]
    pub struct Stop;

    impl Handler<Stop> for MailboxActor {
        type Result = ();

        fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
            ctx.stop();
        }
    }
}

//! Test harness of the mailbox: given past events, when an input, then these events and
//! effects (or this error); and a world of in-process doubles to drive the interpreter in,
//! crash and restart.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::FutureExt as _;

use super::actor::{Deps, Mailbox, ProcessError};
use super::config::{DecideConfig, MailboxConfig};
use super::decide::{DecideError, decide};
use super::effect::{Decision, Effect};
use super::envelope::{self, Envelope};
use super::events::{MailboxEvent, SubscriptionPrivate};
use super::input::MailboxInput;
use super::snapshot::Fold;
use super::state::MailboxState;
use crate::doubles::{FakeGraph, FakePlatform, FakeSubscriptions, ManualClock, MemoryLog, RecordingInbox};
use crate::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};
use crate::log::MAILBOX_EVENTS;
use crate::notification::{AdminCommand, ChangeType, LifecycleEvent, NotificationKind, NotificationRecord};
use crate::ports::{EmailAddress, EventType, GraphEvent, MeetingRoom};
use crate::seal::{DataKey, KeyRing};

/// The time every test starts at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

/// The mailbox of the tests.
pub fn mailbox() -> MailboxId {
    MailboxId {
        tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
        user: UserObjectId::parse("00000000-0000-0000-0000-0000000000a1").unwrap(),
    }
}

/// The default configuration.
pub fn config() -> MailboxConfig {
    MailboxConfig::default()
}

/// An enabled mailbox without a subscription.
pub fn enabled() -> Vec<MailboxEvent> {
    vec![MailboxEvent::MailboxEnabled { locale: Some("en-US".into()) }]
}

/// `SubscriptionCreated` of `id`, expiring a lifetime from [`now`].
pub fn subscribed(id: &str) -> MailboxEvent {
    MailboxEvent::SubscriptionCreated {
        subscription_id: id.into(),
        expires_at: now() + config().maintenance.lifetime,
        private: SubscriptionPrivate { client_state: "client-state".into() },
    }
}

/// `ResyncCompleted` of the window at [`now`].
pub fn resynced() -> MailboxEvent {
    let (from, to) = window();
    MailboxEvent::ResyncCompleted { from, to, changed: 0, removed: 0 }
}

/// The resync window at [`now`].
pub fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    let m = config().maintenance;
    (now() - m.resync_back, now() + m.resync_ahead)
}

/// An enabled mailbox with subscription `sub-1`, its first resync done.
pub fn active() -> Vec<MailboxEvent> {
    [enabled(), vec![subscribed("sub-1"), resynced()]].concat()
}

/// An invite Alice organises tomorrow.
pub fn invite(location: &str, body: &str, change_key: &str) -> GraphEvent {
    GraphEvent {
        id: GraphEventId::new("AAMkE1"),
        change_key: change_key.into(),
        subject: "Quarterly review".into(),
        body_html: body.into(),
        location: location.into(),
        start: now() + Duration::days(1),
        end: now() + Duration::days(1) + Duration::hours(1),
        is_all_day: false,
        is_cancelled: false,
        is_organizer: true,
        event_type: EventType::SingleInstance,
        series_master_id: None,
        organizer: Some(EmailAddress { name: "Alice".into(), address: "alice@contoso.example".into() }),
        attendees: vec![],
        online_meeting_url: None,
        sensitivity: "normal".into(),
        response: "organizer".into(),
        time_zone: Some("W. Europe Standard Time".into()),
        marker: None,
    }
}

/// Alice's personal room.
pub fn room() -> MeetingRoom {
    MeetingRoom {
        platform: "webex".into(),
        web_link: "https://acme.webex.com/meet/alice".into(),
        sip_address: Some("alice@acme.webex.com".into()),
        meeting_number: None,
        dial_in: Vec::new(),
    }
}

/// `EventFetched` of an event, no conflicts yet.
pub fn fetched(event: GraphEvent) -> MailboxInput {
    MailboxInput::EventFetched { event_id: event.id.clone(), event: Some(Box::new(event)), conflicts: 0 }
}

/// Past events of a mailbox, the configuration and the time of the next input.
#[derive(Debug, Clone)]
pub struct Given {
    state: MailboxState,
    config: MailboxConfig,
    now: DateTime<Utc>,
}

/// A mailbox that went through `events`.
pub fn given(events: impl IntoIterator<Item = MailboxEvent>) -> Given {
    let mut state = MailboxState::default();
    for event in events {
        state.apply(&event);
    }
    Given { state, config: config(), now: now() }
}

impl Given {
    /// The input arrives at `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// With these keywords and rules.
    pub fn with_domain(mut self, domain: DecideConfig) -> Self {
        self.config.domain = domain;
        self
    }

    /// The state so far.
    pub fn state(&self) -> &MailboxState {
        &self.state
    }

    /// Decides `input`.
    pub fn when(&self, input: MailboxInput) -> Then {
        Then { result: decide(&self.state, &input, &self.config, self.now), given: self.clone() }
    }
}

/// What `decide` answered.
#[derive(Debug)]
pub struct Then {
    result: Result<Decision, DecideError>,
    given: Given,
}

impl Then {
    /// The decision (fails the test on an error).
    #[track_caller]
    pub fn decision(&self) -> &Decision {
        match &self.result {
            Ok(d) => d,
            Err(e) => panic!("expected a decision, got the error {e:?}"),
        }
    }

    /// The events decided.
    #[track_caller]
    pub fn events(&self) -> &[MailboxEvent] {
        &self.decision().events
    }

    /// The effects decided.
    #[track_caller]
    pub fn effects(&self) -> &[Effect] {
        &self.decision().effects
    }

    /// Exactly these events.
    #[track_caller]
    pub fn then_expect_events(&self, expected: impl IntoIterator<Item = MailboxEvent>) -> &Self {
        let expected: Vec<_> = expected.into_iter().collect();
        assert_eq!(self.events(), expected.as_slice(), "events: received (left) and expected (right)");
        self
    }

    /// Exactly these effects.
    #[track_caller]
    pub fn then_expect_effects(&self, expected: impl IntoIterator<Item = Effect>) -> &Self {
        let expected: Vec<_> = expected.into_iter().collect();
        assert_eq!(self.effects(), expected.as_slice(), "effects: received (left) and expected (right)");
        self
    }

    /// No event and no effect.
    #[track_caller]
    pub fn then_expect_nothing(&self) -> &Self {
        self.then_expect_events([]).then_expect_effects([])
    }

    /// This error.
    #[track_caller]
    pub fn then_expect_error(&self, expected: DecideError) {
        assert_eq!(self.result.as_ref().err(), Some(&expected), "result: {:?}", self.result);
    }

    /// The mailbox after the decided events, to decide the next input on.
    #[track_caller]
    pub fn next(&self) -> Given {
        let mut next = self.given.clone();
        for event in self.events() {
            next.state.apply(event);
        }
        next
    }
}

/// The outside world of one mailbox, made of doubles, and the mailbox as a process would hold
/// it. A record that halts (a double was told to) is a crash: the process is gone with whatever
/// it held in memory, and [`World::restart`] rebuilds the mailbox from the log, as recovery does.
pub struct World {
    /// Graph's events.
    pub graph: Arc<FakeGraph>,
    /// Graph's subscriptions, settings and delta.
    pub subscriptions: Arc<FakeSubscriptions>,
    /// The meeting platform.
    pub platform: Arc<FakePlatform>,
    /// The event log.
    pub log: Arc<MemoryLog>,
    /// The input log's resync records.
    pub inbox: Arc<RecordingInbox>,
    /// The clock.
    pub clock: Arc<ManualClock>,
    /// The interpreter's dependencies.
    pub deps: Deps,
    /// The mailbox as the running process holds it.
    pub mailbox: Mailbox,
    /// Records not yet handled (the input log beyond its committed position).
    pub pending: VecDeque<NotificationRecord>,
}

impl World {
    /// A world where Alice's mailbox exists (not yet enabled), speaks English, and has a
    /// personal room.
    pub fn new() -> Self {
        let (graph, subscriptions, platform) =
            (Arc::<FakeGraph>::default(), Arc::<FakeSubscriptions>::default(), Arc::<FakePlatform>::default());
        let (log, inbox) = (Arc::new(MemoryLog::new(4)), Arc::<RecordingInbox>::default());
        let clock = Arc::new(ManualClock::new(now()));
        subscriptions.set_locale(mailbox(), "en-US");
        platform.add_room("alice@contoso.example", room());
        let deps = Deps {
            graph: graph.clone(),
            subscriptions: subscriptions.clone(),
            platform: platform.clone(),
            log: log.clone(),
            inbox: inbox.clone(),
            ring: KeyRing::new(DataKey::generate("test").unwrap()),
            clock: clock.clone(),
            config: config(),
        };
        let mailbox = Mailbox::new(mailbox(), MailboxState::default(), 0);
        Self { graph, subscriptions, platform, log, inbox, clock, deps, mailbox, pending: VecDeque::new() }
    }

    /// A record of the input log.
    pub fn record(subscription_id: &str, kind: NotificationKind) -> NotificationRecord {
        NotificationRecord::new(mailbox(), subscription_id.to_owned(), kind, now())
    }

    /// An admin command.
    pub fn command(command: AdminCommand) -> NotificationRecord {
        NotificationRecord::command(mailbox(), command, now())
    }

    /// A change notification of the current subscription.
    pub fn change(&self, change_type: ChangeType, event_id: &GraphEventId) -> NotificationRecord {
        Self::record(
            self.subscription().as_deref().unwrap_or(""),
            NotificationKind::Change { change_type, event_id: event_id.clone() },
        )
    }

    /// A lifecycle notification of `subscription_id`.
    pub fn lifecycle(subscription_id: &str, event: LifecycleEvent) -> NotificationRecord {
        Self::record(subscription_id, NotificationKind::Lifecycle { lifecycle_event: event })
    }

    /// The mailbox's current subscription.
    pub fn subscription(&self) -> Option<String> {
        self.mailbox.state.subscription.as_ref().map(|(id, _)| id.clone())
    }

    /// Handles one record; `None` when it halted (the process crashed in the middle).
    pub fn handle(&mut self, record: &NotificationRecord) -> Option<Result<(), ProcessError>> {
        let outcome = self.mailbox.handle(&self.deps, record).now_or_never();
        self.take_redelivered();
        outcome
    }

    /// Moves what resyncs fed back to the input log into the pending records.
    fn take_redelivered(&mut self) {
        for r in self.inbox.take() {
            let change_type = if r.removed { ChangeType::Deleted } else { ChangeType::Updated };
            let kind = NotificationKind::Change { change_type, event_id: r.event_id };
            self.pending.push_back(Self::record(&r.subscription_id, kind));
        }
    }

    /// Handles every pending record, in order, each until it is done.
    #[track_caller]
    pub fn drain(&mut self) {
        while let Some(record) = self.pending.pop_front() {
            match self.handle(&record) {
                Some(Ok(())) => {}
                other => panic!("a pending record did not complete: {other:?}"),
            }
        }
    }

    /// The process starts again: the mailbox is what its events say.
    pub fn restart(&mut self) {
        let mut fold = Fold::new();
        for record in self.log.records(MAILBOX_EVENTS) {
            let env = envelope::decode(&record.payload, &self.deps.ring).unwrap();
            fold.event(&env, record.offset).unwrap();
        }
        let recovered = fold.finish().remove(&mailbox()).unwrap_or_default();
        self.mailbox = Mailbox::new(mailbox(), recovered.state, recovered.events_next);
    }

    /// Every event recorded, in order.
    pub fn events(&self) -> Vec<MailboxEvent> {
        let mut envelopes: Vec<Envelope> = self
            .log
            .records(MAILBOX_EVENTS)
            .iter()
            .map(|r| envelope::decode(&r.payload, &self.deps.ring).unwrap())
            .collect();
        envelopes.sort_by_key(|e| e.seq);
        envelopes.into_iter().map(|e| e.event).collect()
    }

    /// The type names of every event recorded, in order.
    pub fn event_types(&self) -> Vec<&'static str> {
        self.events().iter().map(MailboxEvent::type_name).collect()
    }

    /// Enables the mailbox and handles what that leads to; it ends active and resynced.
    #[track_caller]
    pub fn enable(&mut self) {
        let record = Self::command(AdminCommand::EnableMailbox { locale: None });
        assert!(matches!(self.handle(&record), Some(Ok(()))));
        self.drain();
        assert!(self.subscription().is_some(), "enabled: {:?}", self.event_types());
    }

    /// Puts an invite into Graph (no notification: there may be no subscription to send one).
    pub fn put(&self, id: &str, location: &str) -> GraphEventId {
        let event = GraphEvent { id: GraphEventId::new(id), ..invite(location, "<p>Agenda</p>", &format!("{id}-ck1")) };
        let event_id = event.id.clone();
        self.graph.put(mailbox(), event);
        event_id
    }

    /// How many join blocks hcal wrote into an invite.
    pub fn writes(&self, id: &GraphEventId) -> usize {
        self.graph.patches().iter().filter(|p| &p.event_id == id).count()
    }
}

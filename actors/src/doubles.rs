//! In-process doubles of every port, for tests of the interpreter and of whatever drives it: an
//! in-memory event log, Graph (events with `If-Match`, subscriptions, settings, delta), a
//! meeting platform, an inbox and a clock you move by hand. Failures are scripted per call.
//!
//! A double can also *halt* right after doing a piece of work: the call never returns, so a
//! test that drives the interpreter without waiting (`FutureExt::now_or_never`) and drops it
//! there sees exactly what a process killed at that moment leaves behind.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{GraphEventId, MailboxId};
use crate::log::{EventLog, LogError, Record, partition_for};
use crate::ports::{
    Booking, BookingRequest, Clock, GraphApi, GraphEvent, GraphFailure, Inbox, MeetingPlatform, MeetingRoom,
    Occurrence, PatchedEvent, PlatformFailure, SubscriptionApi,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A one-shot halt: armed with a name, it fires (once) on the first call that names it.
#[derive(Debug, Default)]
struct Halt(Mutex<Option<String>>);

impl Halt {
    fn arm(&self, at: &str) {
        *lock(&self.0) = Some(at.to_owned());
    }

    /// Whether the halt fires at `at` (it is then disarmed).
    fn fires(&self, at: &str) -> bool {
        let mut armed = lock(&self.0);
        if armed.as_deref() == Some(at) {
            *armed = None;
            true
        } else {
            false
        }
    }

    /// Never returns when the halt fires at `at`.
    async fn at(&self, at: &str) {
        if self.fires(at) {
            std::future::pending::<()>().await;
        }
    }
}

/// A clock that only moves when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Moves it forward.
    pub fn advance(&self, by: chrono::Duration) {
        *lock(&self.0) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// An event log in memory, with the partition of a key as Kafka would choose it.
#[derive(Debug)]
pub struct MemoryLog {
    partitions: u32,
    topics: Mutex<HashMap<String, Vec<Vec<Record>>>>,
    positions: Mutex<HashMap<(String, String, u32), u64>>,
    /// Appends to refuse from now on (`Unavailable`), to show what a failed write leaves.
    refuse: AtomicU64,
    halt: Halt,
}

impl MemoryLog {
    /// A log whose topics have `partitions` partitions.
    pub fn new(partitions: u32) -> Self {
        Self {
            partitions: partitions.max(1),
            topics: Mutex::default(),
            positions: Mutex::default(),
            refuse: AtomicU64::new(0),
            halt: Halt::default(),
        }
    }

    /// Halts right after the first append that holds a domain event of this type.
    pub fn halt_after_event(&self, type_name: &str) {
        self.halt.arm(type_name);
    }

    /// Refuses the next `n` appends.
    pub fn refuse_appends(&self, n: u64) {
        self.refuse.store(n, Ordering::SeqCst);
    }

    /// Every record of a topic, partition by partition.
    pub fn records(&self, topic: &str) -> Vec<Record> {
        lock(&self.topics).get(topic).map(|ps| ps.iter().flatten().cloned().collect()).unwrap_or_default()
    }
}

#[async_trait]
impl EventLog for MemoryLog {
    fn partitions(&self, _topic: &str) -> u32 {
        self.partitions
    }

    async fn append(&self, topic: &str, key: &str, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        if self.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(LogError::Unavailable("refused by the test".into()));
        }
        let partition = partition_for(key, self.partitions);
        let types: Vec<String> = payloads
            .iter()
            .filter_map(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            .filter_map(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .collect();
        let offsets = {
            let mut topics = lock(&self.topics);
            let records = &mut topics
                .entry(topic.to_owned())
                .or_insert_with(|| vec![Vec::new(); self.partitions as usize])[partition as usize];
            payloads
                .into_iter()
                .map(|payload| {
                    let offset = records.len() as u64;
                    records.push(Record { partition, offset, key: key.to_owned(), payload });
                    offset
                })
                .collect()
        };
        for t in &types {
            self.halt.at(t).await;
        }
        Ok(offsets)
    }

    async fn read(&self, topic: &str, partition: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
        if partition >= self.partitions {
            return Err(LogError::Invalid(format!("no partition {partition}")));
        }
        let topics = lock(&self.topics);
        let Some(records) = topics.get(topic).and_then(|ps| ps.get(partition as usize)) else { return Ok(Vec::new()) };
        Ok(records.iter().skip(from as usize).take(max).cloned().collect())
    }

    async fn wait(&self, _topic: &str, _partition: u32, _from: u64, _timeout: std::time::Duration) {}

    async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        Ok(lock(&self.positions).get(&(group.to_owned(), topic.to_owned(), partition)).copied().unwrap_or(0))
    }

    async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError> {
        lock(&self.positions).insert((group.to_owned(), topic.to_owned(), partition), next);
        Ok(())
    }
}

/// A write of join details Graph accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Mailbox.
    pub mailbox: MailboxId,
    /// Event.
    pub event_id: GraphEventId,
    /// The body written.
    pub body_html: String,
    /// The marker written.
    pub marker: String,
}

/// Graph's events: reads, and writes that honour `If-Match` and change the change key.
#[derive(Debug, Default)]
pub struct FakeGraph {
    events: Mutex<HashMap<(MailboxId, GraphEventId), GraphEvent>>,
    get_failures: Mutex<VecDeque<GraphFailure>>,
    patch_failures: Mutex<VecDeque<GraphFailure>>,
    patches: Mutex<Vec<Patch>>,
    changes: AtomicU64,
    occurrences: Mutex<HashMap<(MailboxId, GraphEventId), Vec<Occurrence>>>,
}

impl FakeGraph {
    /// What `…/instances` lists for a series.
    pub fn set_occurrences(&self, mailbox: MailboxId, series: &GraphEventId, occurrences: Vec<Occurrence>) {
        lock(&self.occurrences).insert((mailbox, series.clone()), occurrences);
    }

    /// Puts (or replaces) an event, as its organiser saving it would.
    pub fn put(&self, mailbox: MailboxId, event: GraphEvent) {
        lock(&self.events).insert((mailbox, event.id.clone()), event);
    }

    /// The event as Graph has it now.
    pub fn event(&self, mailbox: MailboxId, id: &GraphEventId) -> Option<GraphEvent> {
        lock(&self.events).get(&(mailbox, id.clone())).cloned()
    }

    /// Deletes an event.
    pub fn delete(&self, mailbox: MailboxId, id: &GraphEventId) {
        lock(&self.events).remove(&(mailbox, id.clone()));
    }

    /// The next reads fail like this, in order.
    pub fn fail_gets(&self, failures: impl IntoIterator<Item = GraphFailure>) {
        lock(&self.get_failures).extend(failures);
    }

    /// The next writes fail like this, in order (`Conflict` included: no write happens).
    pub fn fail_patches(&self, failures: impl IntoIterator<Item = GraphFailure>) {
        lock(&self.patch_failures).extend(failures);
    }

    /// Every write accepted so far.
    pub fn patches(&self) -> Vec<Patch> {
        lock(&self.patches).clone()
    }
}

#[async_trait]
impl GraphApi for FakeGraph {
    async fn occurrences(
        &self,
        mailbox: &MailboxId,
        series_id: &GraphEventId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, GraphFailure> {
        if let Some(failure) = lock(&self.get_failures).pop_front() {
            return Err(failure);
        }
        let all = lock(&self.occurrences).get(&(*mailbox, series_id.clone())).cloned().unwrap_or_default();
        Ok(all.into_iter().filter(|o| o.start < to && o.end > from).collect())
    }

    async fn get_event(&self, mailbox: &MailboxId, id: &GraphEventId) -> Result<Option<GraphEvent>, GraphFailure> {
        if let Some(failure) = lock(&self.get_failures).pop_front() {
            return Err(failure);
        }
        Ok(self.event(*mailbox, id))
    }

    async fn patch_join_info(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        expected_change_key: &str,
        body_html: &str,
        marker: &str,
    ) -> Result<PatchedEvent, GraphFailure> {
        if let Some(failure) = lock(&self.patch_failures).pop_front() {
            return Err(failure);
        }
        let mut events = lock(&self.events);
        let event = events
            .get_mut(&(*mailbox, id.clone()))
            .ok_or(GraphFailure::Fatal { status: 404, code: "ErrorItemNotFound".into() })?;
        if event.change_key != expected_change_key {
            return Err(GraphFailure::Conflict);
        }
        event.body_html = body_html.to_owned();
        event.marker = Some(marker.to_owned());
        event.change_key = format!("hcal-ck-{}", self.changes.fetch_add(1, Ordering::SeqCst) + 1);
        lock(&self.patches).push(Patch {
            mailbox: *mailbox,
            event_id: id.clone(),
            body_html: body_html.to_owned(),
            marker: marker.to_owned(),
        });
        Ok(PatchedEvent { change_key: event.change_key.clone() })
    }
}

/// A meeting the fake platform has booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeBooking {
    /// The platform's id.
    pub id: String,
    /// The request it was booked (or last moved) with.
    pub request: BookingRequest,
    /// Times it was moved.
    pub moves: u32,
}

/// A meeting platform with a personal room per organiser address and bookings kept by
/// idempotency key (a second booking under one key finds the first).
#[derive(Debug, Default)]
pub struct FakePlatform {
    rooms: Mutex<HashMap<String, MeetingRoom>>,
    failures: Mutex<VecDeque<PlatformFailure>>,
    lookups: AtomicU64,
    bookings: Mutex<Vec<FakeBooking>>,
    deleted: Mutex<Vec<FakeBooking>>,
    booked: AtomicU64,
    halt: Halt,
}

impl FakePlatform {
    /// Gives `organizer` a personal room.
    pub fn add_room(&self, organizer: &str, room: MeetingRoom) {
        lock(&self.rooms).insert(organizer.to_owned(), room);
    }

    /// The next calls (look-ups, bookings, moves, deletions) fail like this, in order.
    pub fn fail(&self, failures: impl IntoIterator<Item = PlatformFailure>) {
        lock(&self.failures).extend(failures);
    }

    /// Look-ups so far.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::SeqCst)
    }

    /// The meetings booked and not deleted.
    pub fn bookings(&self) -> Vec<FakeBooking> {
        lock(&self.bookings).clone()
    }

    /// The meetings deleted.
    pub fn deleted(&self) -> Vec<FakeBooking> {
        lock(&self.deleted).clone()
    }

    /// Halts right after the next booking (`"book"`), move (`"reschedule"`) or deletion
    /// (`"cancel"`) is done.
    pub fn halt_after(&self, call: &str) {
        self.halt.arm(call);
    }

    fn failure(&self) -> Option<PlatformFailure> {
        lock(&self.failures).pop_front()
    }

    fn room_for(request: &BookingRequest, id: &str) -> MeetingRoom {
        MeetingRoom {
            platform: request.platform.clone(),
            web_link: format!("https://{}.example/j/{id}", request.platform),
            sip_address: Some(format!("{id}@{}.example", request.platform)),
            meeting_number: Some(id.to_owned()),
            dial_in: Vec::new(),
        }
    }
}

#[async_trait]
impl MeetingPlatform for FakePlatform {
    async fn personal_room(&self, _platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if let Some(failure) = self.failure() {
            return Err(failure);
        }
        lock(&self.rooms)
            .get(organizer_address)
            .cloned()
            .ok_or_else(|| PlatformFailure::Refused("no personal room".into()))
    }

    async fn book(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        if let Some(failure) = self.failure() {
            return Err(failure);
        }
        let booking = {
            let mut bookings = lock(&self.bookings);
            match bookings.iter().find(|b| b.request.key == request.key) {
                Some(b) => b.clone(),
                None => {
                    let id = format!("{:011}", self.booked.fetch_add(1, Ordering::SeqCst) + 1);
                    let b = FakeBooking { id, request: request.clone(), moves: 0 };
                    bookings.push(b.clone());
                    b
                }
            }
        };
        self.halt.at("book").await;
        Ok(Booking { room: Self::room_for(&booking.request, &booking.id), id: booking.id })
    }

    async fn reschedule(&self, booking_id: &str, request: &BookingRequest) -> Result<(), PlatformFailure> {
        if let Some(failure) = self.failure() {
            return Err(failure);
        }
        {
            let mut bookings = lock(&self.bookings);
            let b = bookings
                .iter_mut()
                .find(|b| b.id == booking_id)
                .ok_or_else(|| PlatformFailure::Refused("no such meeting".into()))?;
            b.request = request.clone();
            b.moves += 1;
        }
        self.halt.at("reschedule").await;
        Ok(())
    }

    async fn cancel(&self, _platform: &str, booking_id: &str, _organizer: &str) -> Result<(), PlatformFailure> {
        if let Some(failure) = self.failure() {
            return Err(failure);
        }
        {
            let mut bookings = lock(&self.bookings);
            if let Some(at) = bookings.iter().position(|b| b.id == booking_id) {
                lock(&self.deleted).push(bookings.remove(at));
            }
        }
        self.halt.at("cancel").await;
        Ok(())
    }
}

/// A subscription Graph holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSubscription {
    /// Mailbox.
    pub mailbox: MailboxId,
    /// Client state it was created with.
    pub client_state: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// Graph's subscriptions, mailbox settings and delta of a window.
#[derive(Debug, Default)]
pub struct FakeSubscriptions {
    subscriptions: Mutex<HashMap<String, FakeSubscription>>,
    locales: Mutex<HashMap<MailboxId, String>>,
    replies: Mutex<HashMap<MailboxId, crate::presence::AutoReplies>>,
    window: Mutex<HashMap<MailboxId, Vec<(GraphEventId, bool)>>>,
    failures: Mutex<HashMap<&'static str, VecDeque<GraphFailure>>>,
    calls: Mutex<Vec<&'static str>>,
    created: AtomicU64,
    halt: Halt,
}

impl FakeSubscriptions {
    /// The mailbox's `language.locale`.
    pub fn set_locale(&self, mailbox: MailboxId, locale: &str) {
        lock(&self.locales).insert(mailbox, locale.to_owned());
    }

    /// The mailbox's automatic replies.
    pub fn set_auto_replies(&self, mailbox: MailboxId, replies: crate::presence::AutoReplies) {
        lock(&self.replies).insert(mailbox, replies);
    }

    /// What a delta round of the mailbox's window returns.
    pub fn set_window(&self, mailbox: MailboxId, changes: Vec<(GraphEventId, bool)>) {
        lock(&self.window).insert(mailbox, changes);
    }

    /// The next calls of `call` (`create`, `renew`, `delete`, `settings`, `reauthorize`,
    /// `delta`) fail like this, in order.
    pub fn fail(&self, call: &'static str, failures: impl IntoIterator<Item = GraphFailure>) {
        lock(&self.failures).entry(call).or_default().extend(failures);
    }

    /// Halts right after the next call of `call` did its work (before its answer arrives).
    pub fn halt_after(&self, call: &str) {
        self.halt.arm(call);
    }

    /// Removes a subscription behind its owner's back.
    pub fn remove(&self, id: &str) -> bool {
        lock(&self.subscriptions).remove(id).is_some()
    }

    /// Live subscriptions by id.
    pub fn subscriptions(&self) -> HashMap<String, FakeSubscription> {
        lock(&self.subscriptions).clone()
    }

    /// The calls made so far, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    fn call(&self, name: &'static str) -> Result<(), GraphFailure> {
        lock(&self.calls).push(name);
        match lock(&self.failures).get_mut(name).and_then(VecDeque::pop_front) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl SubscriptionApi for FakeSubscriptions {
    async fn create(
        &self,
        mailbox: &MailboxId,
        client_state: &str,
        expiration: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), GraphFailure> {
        self.call("create")?;
        let id = format!("sub-{}", self.created.fetch_add(1, Ordering::SeqCst) + 1);
        let sub = FakeSubscription { mailbox: *mailbox, client_state: client_state.to_owned(), expires_at: expiration };
        lock(&self.subscriptions).insert(id.clone(), sub);
        self.halt.at("create").await;
        Ok((id, expiration))
    }

    async fn renew(
        &self,
        _mailbox: &MailboxId,
        id: &str,
        expiration: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, GraphFailure> {
        self.call("renew")?;
        Ok(lock(&self.subscriptions).get_mut(id).map(|s| {
            s.expires_at = expiration;
            expiration
        }))
    }

    async fn delete(&self, _mailbox: &MailboxId, id: &str) -> Result<(), GraphFailure> {
        self.call("delete")?;
        lock(&self.subscriptions).remove(id);
        Ok(())
    }

    async fn mailbox_settings(&self, mailbox: &MailboxId) -> Result<crate::ports::SettingsRead, GraphFailure> {
        self.call("settings")?;
        Ok(crate::ports::SettingsRead {
            locale: lock(&self.locales).get(mailbox).cloned(),
            automatic_replies: Some(
                lock(&self.replies).get(mailbox).copied().unwrap_or(crate::presence::AutoReplies::DISABLED),
            ),
        })
    }

    async fn reauthorize(&self, _mailbox: &MailboxId, id: &str) -> Result<bool, GraphFailure> {
        self.call("reauthorize")?;
        Ok(lock(&self.subscriptions).contains_key(id))
    }

    async fn changed_ids(
        &self,
        mailbox: &MailboxId,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
    ) -> Result<Vec<(GraphEventId, bool)>, GraphFailure> {
        self.call("delta")?;
        Ok(lock(&self.window).get(mailbox).cloned().unwrap_or_default())
    }
}

/// A change notification a resync fed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redelivered {
    /// Mailbox.
    pub mailbox: MailboxId,
    /// The subscription named in the record.
    pub subscription_id: String,
    /// Event.
    pub event_id: GraphEventId,
    /// Reported removed.
    pub removed: bool,
}

/// An inbox that keeps what was fed back, for the test to hand to the mailbox in turn.
#[derive(Debug, Default)]
pub struct RecordingInbox {
    redelivered: Mutex<Vec<Redelivered>>,
    refuse: AtomicU64,
    halt: Halt,
}

impl RecordingInbox {
    /// Takes what was fed back so far.
    pub fn take(&self) -> Vec<Redelivered> {
        std::mem::take(&mut *lock(&self.redelivered))
    }

    /// Refuses the next `n` appends.
    pub fn refuse_appends(&self, n: u64) {
        self.refuse.store(n, Ordering::SeqCst);
    }

    /// Halts right after the next redelivery was stored.
    pub fn halt_after_redelivery(&self) {
        self.halt.arm("redeliver");
    }
}

#[async_trait]
impl Inbox for RecordingInbox {
    async fn redeliver(
        &self,
        mailbox: MailboxId,
        subscription_id: &str,
        changes: &[(GraphEventId, bool)],
        _now: DateTime<Utc>,
    ) -> Result<(), LogError> {
        if self.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(LogError::Unavailable("refused by the test".into()));
        }
        lock(&self.redelivered).extend(changes.iter().map(|(event_id, removed)| Redelivered {
            mailbox,
            subscription_id: subscription_id.to_owned(),
            event_id: event_id.clone(),
            removed: *removed,
        }));
        self.halt.at("redeliver").await;
        Ok(())
    }
}

//! Ports: what the domain needs from the outside world, as traits. The service implements them
//! over HTTP (Graph, the meeting platform); tests swap in in-process doubles.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{GraphEventId, MailboxId};

/// `type` of a Graph event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventType {
    /// A one-off event.
    SingleInstance,
    /// An unchanged occurrence of a series.
    Occurrence,
    /// A changed occurrence of a series.
    Exception,
    /// The series itself.
    SeriesMaster,
}

/// A name and address (sensitive: sealed before it is stored anywhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// Display name.
    pub name: String,
    /// SMTP address.
    pub address: String,
}

/// What hcal reads of a Graph event. Sensitive fields (subject, body, organizer, attendees)
/// stay in memory only; the domain seals them before anything is persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphEvent {
    /// Event id.
    pub id: GraphEventId,
    /// Change key (changes on every change, hcal's own PATCH included).
    pub change_key: String,
    /// Subject.
    pub subject: String,
    /// Body as HTML (hcal always asks for HTML).
    pub body_html: String,
    /// `location.displayName`.
    pub location: String,
    /// Start instant.
    pub start: DateTime<Utc>,
    /// End instant.
    pub end: DateTime<Utc>,
    /// All-day event.
    pub is_all_day: bool,
    /// Cancelled by the organiser.
    pub is_cancelled: bool,
    /// The mailbox owner organises it.
    pub is_organizer: bool,
    /// Kind of event.
    pub event_type: EventType,
    /// For occurrences and exceptions: the series master.
    pub series_master_id: Option<GraphEventId>,
    /// Organiser.
    pub organizer: Option<EmailAddress>,
    /// Attendees.
    pub attendees: Vec<EmailAddress>,
    /// `onlineMeeting.joinUrl` (Teams and friends), the most reliable join address.
    pub online_meeting_url: Option<String>,
    /// `sensitivity` (normal, personal, private, confidential).
    pub sensitivity: String,
    /// `responseStatus.response` of the mailbox's owner: `none`, `organizer`,
    /// `tentativelyAccepted`, `accepted`, `declined` or `notResponded`.
    pub response: String,
    /// `originalStartTimeZone`: the time zone the organiser scheduled it in (a Windows or IANA
    /// name, as Graph gives it), when known.
    pub time_zone: Option<String>,
    /// hcal's marker extended property, when present: what hcal wrote into this event.
    pub marker: Option<String>,
}

/// How a Graph call failed, classified so retry policy is data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphFailure {
    /// 429 / 503: retry after the given seconds.
    #[error("throttled by Graph; retry after {retry_after_secs} s")]
    Throttled {
        /// Seconds to wait (Graph may send fractions).
        retry_after_secs: f64,
    },
    /// Network error, timeout or 5xx: retry with backoff.
    #[error("transient Graph failure: {0}")]
    Transient(String),
    /// The mailbox is outside the application access policy, unlicensed, or the app lacks a
    /// permission: a state to report, not to retry.
    #[error("mailbox not in scope: {code}")]
    NotInScope {
        /// Graph's error code.
        code: String,
    },
    /// `If-Match` failed: the item changed since it was read.
    #[error("the item changed since it was read")]
    Conflict,
    /// Anything else: do not retry.
    #[error("Graph answered {status} {code}")]
    Fatal {
        /// HTTP status.
        status: u16,
        /// Graph's error code.
        code: String,
    },
}

impl GraphFailure {
    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Transient(_))
    }
}

/// The result of writing join details into an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchedEvent {
    /// The change key after hcal's write; the echo notification carries it.
    pub change_key: String,
}

/// One occurrence of a series as Graph lists it (`…/events/{id}/instances`): an unchanged
/// occurrence or an exception, with its own id and times. Cancelled ones are not listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// The occurrence's event id.
    pub id: GraphEventId,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

/// Microsoft Graph, as the mailbox actor uses it.
#[async_trait]
pub trait GraphApi: Send + Sync {
    /// Reads an event with hcal's marker expanded; `Ok(None)` when it no longer exists.
    async fn get_event(&self, mailbox: &MailboxId, id: &GraphEventId) -> Result<Option<GraphEvent>, GraphFailure>;

    /// Replaces the body and sets the marker in one PATCH, only if the event still has
    /// `expected_change_key` (`If-Match`); otherwise `Err(Conflict)`.
    async fn patch_join_info(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        expected_change_key: &str,
        body_html: &str,
        marker: &str,
    ) -> Result<PatchedEvent, GraphFailure>;

    /// The occurrences of a series overlapping `[from, to)`, cancelled ones left out, by start.
    async fn occurrences(
        &self,
        mailbox: &MailboxId,
        series_id: &GraphEventId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, GraphFailure>;
}

/// A meeting on the meeting platform that attendees can join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRoom {
    /// Platform id, e.g. `webex`.
    pub platform: String,
    /// Web join link.
    pub web_link: String,
    /// Video (SIP) address, for room devices.
    pub sip_address: Option<String>,
    /// Meeting number or access code, for dialling in.
    pub meeting_number: Option<String>,
    /// Numbers to dial in by phone, when the platform has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dial_in: Vec<DialIn>,
}

/// A number to dial in by phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialIn {
    /// What the platform calls it (`United States Toll`); may be empty.
    pub label: String,
    /// The number, as the platform writes it (`+1-202-555-0100`).
    pub number: String,
}

/// How a meeting-platform call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlatformFailure {
    /// Worth retrying later (throttling, 5xx, network).
    #[error("meeting platform unavailable: {0}")]
    Transient(String),
    /// The organiser has no account or no personal room; do not retry.
    #[error("meeting platform refused: {0}")]
    Refused(String),
}

/// What kind of meeting a booking makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingKind {
    /// A meeting of its own for this invite (Webex: a scheduled meeting; Jitsi: a fresh room).
    OneTime,
    /// A meeting that belongs to a space (a chat room) whose members are the attendees.
    Space,
}

/// A meeting to book for one invite. The title and attendees are sensitive: they go to the
/// platform and nowhere else (not into logs or failure messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRequest {
    /// Platform id of the configuration.
    pub platform: String,
    /// What to book.
    pub kind: BookingKind,
    /// The idempotency key: the same invite always gives the same key, so a booking repeated
    /// after a crash finds the first one instead of booking twice (Webex: an integration tag).
    /// At most 64 characters of `[0-9a-z-]`.
    pub key: String,
    /// The organiser's address (the host).
    pub organizer: String,
    /// The invite's subject.
    pub title: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Everyone invited besides the organiser.
    pub attendees: Vec<EmailAddress>,
}

/// A booked meeting: the platform's id for it (to move and delete it) and how to join it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// The platform's id of the meeting; opaque.
    pub id: String,
    /// How attendees join.
    pub room: MeetingRoom,
}

/// A meeting platform: personal rooms looked up, meetings booked, moved and deleted. One value
/// serves every configured platform, told apart by the platform id; a platform it does not
/// serve, or a kind of booking the platform has not, is `Refused`.
#[async_trait]
pub trait MeetingPlatform: Send + Sync {
    /// The organiser's personal room on `platform` (a platform id of the configuration; one
    /// the implementation does not serve is `Refused`).
    async fn personal_room(&self, platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure>;

    /// Books a meeting for an invite, or finds the one booked earlier under the same
    /// `request.key`: never two for one key.
    async fn book(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure>;

    /// Moves a booked meeting to the request's times (and title). A meeting the platform no
    /// longer has is `Refused`.
    async fn reschedule(&self, booking_id: &str, request: &BookingRequest) -> Result<(), PlatformFailure>;

    /// Deletes a booked meeting; one already gone counts as deleted.
    async fn cancel(&self, platform: &str, booking_id: &str, organizer_address: &str) -> Result<(), PlatformFailure>;
}

/// Graph subscriptions of a mailbox, as the actor maintains them (the notification URLs are the
/// implementation's business).
#[async_trait]
pub trait SubscriptionApi: Send + Sync {
    /// Creates a subscription to the mailbox's events; returns its id and expiry.
    async fn create(
        &self,
        mailbox: &MailboxId,
        client_state: &str,
        expiration: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), GraphFailure>;

    /// Extends a subscription; `Ok(None)` when Graph no longer has it.
    async fn renew(
        &self,
        mailbox: &MailboxId,
        id: &str,
        expiration: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, GraphFailure>;

    /// Deletes a subscription (already gone counts as deleted).
    async fn delete(&self, mailbox: &MailboxId, id: &str) -> Result<(), GraphFailure>;

    /// The mailbox's language (`mailboxSettings.language.locale`) and automatic replies; the
    /// read also proves the mailbox is reachable (licensed, inside the access policy,
    /// consented).
    async fn mailbox_settings(&self, mailbox: &MailboxId) -> Result<SettingsRead, GraphFailure>;

    /// Reauthorizes a subscription; `Ok(false)` when Graph no longer has it.
    async fn reauthorize(&self, mailbox: &MailboxId, id: &str) -> Result<bool, GraphFailure>;

    /// Ids of every event in the window with whether each was removed (a full delta round).
    async fn changed_ids(
        &self,
        mailbox: &MailboxId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(GraphEventId, bool)>, GraphFailure>;
}

/// The mailboxes' input log (the `notifications` topic), as the actor writes to it: a resync
/// feeds the events of its window back as change notifications, processed in order with every
/// other input of the mailbox.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Appends one change notification per event (`true`: Graph reported it removed) for
    /// `mailbox`, durably and in order, before returning.
    async fn redeliver(
        &self,
        mailbox: MailboxId,
        subscription_id: &str,
        changes: &[(GraphEventId, bool)],
        now: DateTime<Utc>,
    ) -> Result<(), crate::log::LogError>;
}

/// The time, as the service sees it (tests and simulated days move it).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// What a read of the mailbox settings tells the mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SettingsRead {
    /// `language.locale`, when set.
    pub locale: Option<String>,
    /// `automaticRepliesSetting` as hcal keeps it, when the answer had a readable one.
    pub automatic_replies: Option<crate::presence::AutoReplies>,
}

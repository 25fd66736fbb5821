//! Effects: what `decide` asks the outside world to do. Each carries what the interpreter needs
//! to do it and nothing it must decide; its outcome comes back as an input (see
//! [`super::input::MailboxInput`]).

use chrono::{DateTime, Utc};

use super::events::MailboxEvent;
use crate::ids::GraphEventId;
use crate::join::NoticeReason;
use crate::ports::{BookingRequest, GraphEvent, MeetingRoom};

/// Something the outside world must do for a mailbox.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Destroy the mailbox's data keys (crypto-shredding). Outcome: `KeysDestroyed`; a key
    /// service that is away makes the record be tried again.
    DestroyKeys,
    /// Read the mailbox settings (`GET /users/{id}/mailboxSettings`). Outcome:
    /// `MailboxSettingsRead` or `SetupFailed { step: ReadSettings }`.
    ReadMailboxSettings {
        /// Language given with the enable command, handed back with the outcome.
        locale_hint: Option<String>,
    },
    /// Create a change-notification subscription with a fresh random client state. Outcome:
    /// `SubscriptionCreated` or `SetupFailed { step: CreateSubscription }`.
    CreateSubscription {
        /// Expiry to ask for.
        expiration: DateTime<Utc>,
    },
    /// Extend a subscription. Outcome: `SubscriptionRenewed`, `SubscriptionNotFound` or
    /// `SubscriptionCallFailed`.
    RenewSubscription {
        /// Graph subscription id.
        subscription_id: String,
        /// Expiry to ask for.
        expiration: DateTime<Utc>,
    },
    /// Reauthorize a subscription. Outcome: `SubscriptionReauthorized`,
    /// `SubscriptionNotFound` or `SubscriptionCallFailed`.
    ReauthorizeSubscription {
        /// Graph subscription id.
        subscription_id: String,
    },
    /// Delete a subscription. Outcome: `SubscriptionDeleted` or `SubscriptionCallFailed`.
    DeleteSubscription {
        /// Graph subscription id.
        subscription_id: String,
    },
    /// Read every event of a window (a full delta round). Outcome: `WindowRead` or
    /// `ResyncFailed`.
    ReadWindow {
        /// Window start.
        from: DateTime<Utc>,
        /// Window end.
        to: DateTime<Utc>,
    },
    /// Append these change notifications to the mailbox's input log (`true`: as deleted),
    /// where they are handled in order with every other input. Outcome: `WindowResynced`.
    Redeliver {
        /// Window start, handed back.
        from: DateTime<Utc>,
        /// Window end, handed back.
        to: DateTime<Utc>,
        /// Event ids, and whether each is to be fed back as deleted.
        changes: Vec<(GraphEventId, bool)>,
    },
    /// Read the occurrences of a series in a window. Outcome: `OccurrencesRead` or
    /// `OccurrencesFailed`.
    ReadOccurrences {
        /// The series master.
        event_id: GraphEventId,
        /// Window start.
        from: DateTime<Utc>,
        /// Window end.
        to: DateTime<Utc>,
    },
    /// Read an event with hcal's marker. Outcome: `EventFetched` or `FetchFailed`.
    FetchEvent {
        /// The event.
        event_id: GraphEventId,
        /// Write conflicts met so far, handed back with the outcome.
        conflicts: u32,
    },
    /// Look up the organiser's personal room on the meeting platform. Outcome: `RoomFound` or
    /// `PlatformFailed`.
    FindPersonalRoom {
        /// The event being decorated, handed back with the outcome.
        event: Box<GraphEvent>,
        /// The platform the keyword books on.
        platform: String,
        /// The organiser's address (stays in memory).
        organizer: String,
        /// Keyword action, handed back.
        mode: String,
        /// Write conflicts met so far, handed back.
        conflicts: u32,
    },
    /// Book a meeting on the platform for the invite, or find the one booked under the
    /// request's key. Outcome: `Booked` or `PlatformFailed`.
    BookMeeting {
        /// The event being decorated, handed back with the outcome.
        event: Box<GraphEvent>,
        /// What to book (the key makes a repeated booking find the first).
        request: BookingRequest,
        /// Keyword action, handed back.
        mode: String,
        /// Write conflicts met so far, handed back.
        conflicts: u32,
    },
    /// Move a booked meeting to the invite's times. Outcome: `BookingRescheduled` or
    /// `PlatformFailed`.
    RescheduleMeeting {
        /// The invite.
        event_id: GraphEventId,
        /// The platform's id of the meeting.
        booking_id: String,
        /// The invite's title and new times.
        request: BookingRequest,
    },
    /// Delete a booked meeting on its platform. Outcome: `BookingCancelled` or `CancelFailed`.
    CancelBooking {
        /// The invite it was booked for.
        event_id: GraphEventId,
        /// Platform id.
        platform: String,
        /// The platform's id of the meeting.
        booking_id: String,
        /// The organiser (the host).
        organizer: String,
    },
    /// Write the body without hcal's block and clear the marker, only if the invite still has
    /// `expected_change_key`. Outcome: `JoinInfoCleared`, `PatchConflicted` or `PatchFailed`.
    RemoveJoinInfo {
        /// The event.
        event_id: GraphEventId,
        /// `If-Match`.
        expected_change_key: String,
        /// The whole new body.
        body_html: String,
        /// Write conflicts met so far, handed back.
        conflicts: u32,
    },
    /// Write a notice to the organiser into the invite (no marker), only if it still has
    /// `expected_change_key`. Outcome: `NoticeWritten`, `PatchConflicted` or `PatchFailed`.
    WriteNotice {
        /// The event.
        event_id: GraphEventId,
        /// `If-Match`.
        expected_change_key: String,
        /// The whole new body.
        body_html: String,
        /// Why, handed back.
        reason: NoticeReason,
    },
    /// Write the body and the marker into the invite, only if it still has
    /// `expected_change_key`. Outcome: `JoinInfoWritten`, `PatchConflicted` or `PatchFailed`.
    WriteJoinInfo {
        /// The event.
        event_id: GraphEventId,
        /// `If-Match`.
        expected_change_key: String,
        /// The whole new body.
        body_html: String,
        /// The marker property's value.
        marker: String,
        /// The room written, handed back.
        room: MeetingRoom,
        /// Keyword action, handed back.
        mode: String,
        /// Write conflicts met so far, handed back.
        conflicts: u32,
    },
    /// Stop here and hand the input record back to be tried again later (throttling, an
    /// outage). What was recorded so far stays; the retried record finds it in the state.
    RetryLater {
        /// How long to wait, when Graph said (`Retry-After`).
        after_secs: Option<f64>,
        /// Why, for logs (never sensitive).
        reason: String,
    },
}

impl Effect {
    /// A short name for logs and spans (never sensitive).
    pub fn name(&self) -> &'static str {
        match self {
            Self::DestroyKeys => "DestroyKeys",
            Self::ReadMailboxSettings { .. } => "ReadMailboxSettings",
            Self::CreateSubscription { .. } => "CreateSubscription",
            Self::RenewSubscription { .. } => "RenewSubscription",
            Self::ReauthorizeSubscription { .. } => "ReauthorizeSubscription",
            Self::DeleteSubscription { .. } => "DeleteSubscription",
            Self::ReadWindow { .. } => "ReadWindow",
            Self::Redeliver { .. } => "Redeliver",
            Self::FetchEvent { .. } => "FetchEvent",
            Self::ReadOccurrences { .. } => "ReadOccurrences",
            Self::FindPersonalRoom { .. } => "FindPersonalRoom",
            Self::BookMeeting { .. } => "BookMeeting",
            Self::RescheduleMeeting { .. } => "RescheduleMeeting",
            Self::CancelBooking { .. } => "CancelBooking",
            Self::RemoveJoinInfo { .. } => "RemoveJoinInfo",
            Self::WriteJoinInfo { .. } => "WriteJoinInfo",
            Self::WriteNotice { .. } => "WriteNotice",
            Self::RetryLater { .. } => "RetryLater",
        }
    }
}

/// What `decide` decided: the events that happened (persisted and applied first, in order) and
/// the effects to perform after them (in order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// Facts to record.
    pub events: Vec<MailboxEvent>,
    /// Work for the outside world.
    pub effects: Vec<Effect>,
}

impl Decision {
    /// Nothing to record or do.
    pub fn nothing() -> Self {
        Self::default()
    }

    /// Only events.
    pub fn events(events: Vec<MailboxEvent>) -> Self {
        Self { events, effects: Vec::new() }
    }

    /// One event.
    pub fn event(event: MailboxEvent) -> Self {
        Self::events(vec![event])
    }

    /// One effect.
    pub fn effect(effect: Effect) -> Self {
        Self { events: Vec::new(), effects: vec![effect] }
    }

    /// These events, then this effect.
    pub fn then(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    /// Whether there is nothing to record or do.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.effects.is_empty()
    }
}

//! Domain events of a mailbox: facts in the past tense, each with a type name and version.
//! Sensitive data lives only in the `private` parts, which the codec seals before anything is
//! written (see [`super::envelope`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::detect::{AddressKind, Keyword};
use crate::ids::{DeviceId, GraphEventId, TokenId};
use crate::join::NoticeReason;
pub use crate::notification::TokenHolder;
use crate::ports::{EmailAddress, EventType, MeetingRoom, Occurrence};
use crate::presence::{AutoReplyStatus, PresenceStatus};

/// Sensitive details of a meeting: sealed in every stored or sent form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MeetingPrivate {
    /// Subject.
    pub subject: String,
    /// Organiser.
    pub organizer: Option<EmailAddress>,
    /// Attendees.
    pub attendees: Vec<EmailAddress>,
    /// Join address (URL or SIP URI), when the meeting has one.
    pub join_address: Option<String>,
    /// Web link of the meeting hcal wrote, when it differs from `join_address`.
    pub web_link: Option<String>,
}

/// Where a meeting's join target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinOrigin {
    /// Found in the invite (online meeting, Location or body).
    Detected,
    /// Written by hcal for a keyword.
    Hcal,
}

/// The public part of a join target (the address itself is private).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTarget {
    /// Platform id.
    pub provider: String,
    /// Kind of address.
    pub kind: AddressKind,
    /// Origin.
    pub origin: JoinOrigin,
}

/// A meeting as hcal last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingDetails {
    /// Graph event id.
    pub event_id: GraphEventId,
    /// Graph change key seen.
    pub change_key: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// All-day flag.
    pub is_all_day: bool,
    /// Graph event type.
    pub event_type: EventType,
    /// The mailbox owner organises it.
    pub is_organizer: bool,
    /// Marked private or confidential (Graph's `sensitivity`): room devices show it without
    /// its subject.
    #[serde(default)]
    pub is_private: bool,
    /// The owner's response (`organizer`, `accepted`, `tentativelyAccepted`, `declined`,
    /// `notResponded`, `none`); absent in events written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The time zone the organiser scheduled it in, as Graph names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Keyword found in Location, if any.
    pub keyword: Option<Keyword>,
    /// Join target, if any.
    pub join: Option<JoinTarget>,
    /// Sensitive details.
    pub private: MeetingPrivate,
}

/// Why hcal did not write join details for a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The keyword is in an attendee's copy; only the organiser's copy is decorated.
    NotOrganizer,
    /// The invite already carries join details of that platform.
    AlreadyHasJoinDetails,
    /// The keyword is not configured for a platform hcal can book.
    UnsupportedKeyword,
    /// The meeting platform refused (no account, no personal room).
    PlatformRefused,
    /// The keyword carries a modifier hcal does not know (`@webex:onetim`); nothing is booked
    /// on a guess.
    UnknownModifier,
    /// The meeting is already over when hcal first sees its keyword.
    MeetingOver,
}

/// Sensitive details of a booking: how to join it (sealed like every join address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingPrivate {
    /// The booked meeting's join details.
    pub room: MeetingRoom,
}

/// Sensitive details of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPrivate {
    /// The secret Graph echoes in every notification.
    pub client_state: String,
}

/// Every domain event of a mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum MailboxEvent {
    /// The mailbox was enabled.
    MailboxEnabled {
        /// Mailbox language, when known.
        locale: Option<String>,
    },
    /// The mailbox was disabled; its subscription is deleted.
    MailboxDisabled {},
    /// The mailbox was erased: its data keys are destroyed, so nothing recorded of it before
    /// opens again, and every projection forgets it. Reading an event whose key was destroyed
    /// yields this event too (with the unreadable event's id and sequence number).
    MailboxErased {},
    /// Setting the mailbox up (reading it, subscribing) failed.
    MailboxSetupFailed {
        /// `not_in_scope`, `mailbox_not_enabled`, `consent_missing`, `throttled`, `unavailable`.
        reason: String,
        /// Graph's error code.
        code: String,
        /// When it will be tried again; none for states an admin must fix.
        #[serde(rename = "retryAt")]
        retry_at: Option<DateTime<Utc>>,
    },
    /// A change-notification subscription was created for the mailbox.
    SubscriptionCreated {
        /// Graph subscription id.
        #[serde(rename = "subscriptionId")]
        subscription_id: String,
        /// Expiry.
        #[serde(rename = "expiresAt")]
        expires_at: DateTime<Utc>,
        /// Client state (sealed).
        private: SubscriptionPrivate,
    },
    /// The subscription was extended.
    SubscriptionRenewed {
        /// Graph subscription id.
        #[serde(rename = "subscriptionId")]
        subscription_id: String,
        /// New expiry.
        #[serde(rename = "expiresAt")]
        expires_at: DateTime<Utc>,
    },
    /// The subscription is gone (expired, removed by Graph); a new one follows.
    SubscriptionLost {
        /// Graph subscription id.
        #[serde(rename = "subscriptionId")]
        subscription_id: String,
        /// `expired`, `removed` or `reauthorization_failed`.
        reason: String,
    },
    /// A resync of the window is owed (Graph reported missed notifications); the
    /// `ResyncCompleted` that follows settles it, and a restart in between finishes it.
    ResyncRequested {
        /// Why: `missed`.
        reason: String,
    },
    /// Every event in the window was fed to the mailbox again (after missed notifications or a
    /// new subscription).
    ResyncCompleted {
        /// Window start.
        from: DateTime<Utc>,
        /// Window end.
        to: DateTime<Utc>,
        /// Events re-read.
        changed: u32,
        /// Events reported removed.
        removed: u32,
    },
    /// A meeting appeared.
    MeetingScheduled(MeetingDetails),
    /// A meeting changed in a way its users see (time, subject, attendees, join target).
    MeetingUpdated(MeetingDetails),
    /// A meeting was cancelled or deleted.
    MeetingCancelled {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
    },
    /// hcal wrote join details into the invite.
    JoinInfoPatched {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// Platform.
        platform: String,
        /// Keyword action.
        mode: String,
        /// Template version written.
        template: u32,
        /// Change key after hcal's write (its echo notification carries it).
        #[serde(rename = "changeKey")]
        change_key: String,
        /// Whether this was recovered from the marker after a crash rather than written now.
        recovered: bool,
        /// The join target now in the invite.
        join: JoinTarget,
        /// Join address and web link written (sealed).
        private: MeetingPrivate,
    },
    /// Writing join details failed.
    JoinInfoPatchFailed {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// Failure class: `not_in_scope`, `fatal`, `no_organizer`, `series_not_bookable` (a
        /// one-time or space meeting asked for a whole series). Events of earlier versions may
        /// carry other text (`unsupported_mode` before one-time and space meetings were booked).
        reason: String,
        /// Whether a later attempt may succeed.
        retryable: bool,
    },
    /// A keyword was present but hcal wrote nothing, and why.
    MeetingSkipped {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// Reason.
        reason: SkipReason,
        /// Why, in words: the reason and what detection found. Quotes no address, subject or
        /// body text (it is stored unsealed). Empty in events written before it existed.
        #[serde(default)]
        explain: String,
    },
    /// hcal booked a meeting on the platform for a keyword invite (`onetime`, `space`), before
    /// writing its join details: a crash between the two writes the same meeting after the
    /// restart, and a booking repeated because the record was lost finds this one by its key.
    MeetingBooked {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// Platform.
        platform: String,
        /// Keyword action.
        mode: String,
        /// The platform's id of the meeting.
        #[serde(rename = "bookingId")]
        booking_id: String,
        /// Start booked.
        start: DateTime<Utc>,
        /// End booked.
        end: DateTime<Utc>,
        /// The join details (sealed).
        private: BookingPrivate,
    },
    /// The booked meeting was moved to the invite's new times.
    BookingMoved {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// The platform's id of the meeting.
        #[serde(rename = "bookingId")]
        booking_id: String,
        /// New start.
        start: DateTime<Utc>,
        /// New end.
        end: DateTime<Utc>,
    },
    /// A booked meeting whose invite was cancelled or lost its keyword is gone from the platform
    /// (`deleted`), or the platform refused to delete it (`deleted: false`, not tried again).
    BookingDeleted {
        /// Graph event id of the invite it was booked for.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// The platform's id of the meeting.
        #[serde(rename = "bookingId")]
        booking_id: String,
        /// Whether the platform deleted it (or had already).
        deleted: bool,
    },
    /// The occurrences of a series in a window, as Graph listed them (each with its own id and
    /// times; exceptions included, cancelled ones not): meeting lists show one row per
    /// occurrence. Recorded when the series changes and at every subscription renewal (the
    /// window moves on).
    SeriesExpanded {
        /// The series master.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// Window start.
        from: DateTime<Utc>,
        /// Window end.
        to: DateTime<Utc>,
        /// The occurrences, by start.
        occurrences: Vec<Occurrence>,
    },
    /// hcal wrote a notice into the organiser's invite in place of join details, saying what the
    /// organiser can do (the reason is one of a fixed set; nothing typed is quoted).
    OrganizerNotified {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// `unknown_modifier`, `platform_refused` or `series_not_bookable`.
        reason: NoticeReason,
        /// Change key after the write.
        #[serde(rename = "changeKey")]
        change_key: String,
    },
    /// The organiser removed the keyword: hcal took its block (and marker) out of the invite.
    JoinInfoRemoved {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// Change key after the write.
        #[serde(rename = "changeKey")]
        change_key: String,
    },
    /// The mailbox no longer keeps a meeting that ended long ago (forgotten at a subscription
    /// renewal, [`super::input::MailboxInput::RenewSubscription`]): its state, and so its
    /// snapshots, stay bounded. Not a cancellation: meeting lists keep showing it.
    MeetingForgotten {
        /// Graph event id.
        #[serde(rename = "eventId")]
        event_id: GraphEventId,
        /// When the meeting ended.
        #[serde(rename = "endedAt")]
        ended_at: DateTime<Utc>,
    },
    /// An access token was granted; what it may read follows from its holder.
    TokenIssued {
        /// The token's id.
        #[serde(rename = "tokenId")]
        token_id: TokenId,
        /// Who holds it.
        holder: TokenHolder,
        /// The digest of its secret (sealed).
        private: TokenPrivate,
    },
    /// An access token was revoked: it opens nothing any more.
    TokenRevoked {
        /// The token's id.
        #[serde(rename = "tokenId")]
        token_id: TokenId,
    },
    /// A room device was registered to this (room) mailbox, or its settings changed: hcal
    /// pushes the room's bookings to it.
    DeviceRegistered {
        /// The device's id.
        #[serde(rename = "deviceId")]
        device_id: DeviceId,
        /// How it is reached: `roomOs`, `legacy` or `webexCloud`.
        kind: String,
        /// Address and credentials (sealed).
        private: DevicePrivate,
    },
    /// A room device was removed: nothing is pushed to it any more.
    DeviceRemoved {
        /// The device's id.
        #[serde(rename = "deviceId")]
        device_id: DeviceId,
    },
    /// The mailbox's automatic replies changed, as a read of its settings found them: the
    /// status and the scheduled window, never the reply messages.
    #[serde(rename = "OOOChanged")]
    OooChanged {
        /// `disabled`, `alwaysEnabled` or `scheduled`.
        status: AutoReplyStatus,
        /// The window's start, for `scheduled`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<DateTime<Utc>>,
        /// The window's end, for `scheduled`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<DateTime<Utc>>,
    },
    /// A read of the mailbox settings found a language other than the one hcal knew.
    LanguageDetected {
        /// `language.locale`, e.g. `tr-TR`.
        locale: String,
    },
    /// The user's presence changed: out of office (automatic replies on, or their window
    /// began) or available again (off, or the window ended). What presence sinks deliver.
    PresenceChanged {
        /// `outOfOffice` or `available`.
        status: PresenceStatus,
        /// Since when: the window's start or end, or when the change was noticed.
        since: DateTime<Utc>,
        /// When out of office is known to end (a scheduled window's end).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
    },
}

/// Sealed part of a registered device: where it is and how hcal signs in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePrivate {
    /// The device's base URL (for a cloud device, the Webex API's).
    pub address: String,
    /// How hcal signs in.
    pub credentials: DeviceSecret,
}

impl std::fmt::Debug for DevicePrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicePrivate").finish_non_exhaustive()
    }
}

/// A device's credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DeviceSecret {
    /// A device admin account (HTTP Basic).
    #[serde(rename_all = "camelCase")]
    Basic {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// A Webex token with the device's Webex id (cloud xAPI).
    #[serde(rename_all = "camelCase")]
    Bearer {
        /// Token.
        token: String,
        /// The device's id in Webex.
        cloud_device_id: String,
    },
}

/// Sealed part of a granted token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenPrivate {
    /// `sha256:` and the hex SHA-256 of the token's secret. The secret is random (256 bits), so
    /// a plain digest suffices: there is nothing to guess that a slow hash would protect.
    pub digest: String,
}

impl MailboxEvent {
    /// The event's type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::MailboxEnabled { .. } => "MailboxEnabled",
            Self::MailboxDisabled { .. } => "MailboxDisabled",
            Self::MailboxErased { .. } => "MailboxErased",
            Self::MailboxSetupFailed { .. } => "MailboxSetupFailed",
            Self::SubscriptionCreated { .. } => "SubscriptionCreated",
            Self::SubscriptionRenewed { .. } => "SubscriptionRenewed",
            Self::SubscriptionLost { .. } => "SubscriptionLost",
            Self::ResyncRequested { .. } => "ResyncRequested",
            Self::ResyncCompleted { .. } => "ResyncCompleted",
            Self::MeetingScheduled(_) => "MeetingScheduled",
            Self::MeetingUpdated(_) => "MeetingUpdated",
            Self::MeetingCancelled { .. } => "MeetingCancelled",
            Self::JoinInfoPatched { .. } => "JoinInfoPatched",
            Self::JoinInfoPatchFailed { .. } => "JoinInfoPatchFailed",
            Self::MeetingSkipped { .. } => "MeetingSkipped",
            Self::MeetingForgotten { .. } => "MeetingForgotten",
            Self::MeetingBooked { .. } => "MeetingBooked",
            Self::BookingMoved { .. } => "BookingMoved",
            Self::BookingDeleted { .. } => "BookingDeleted",
            Self::JoinInfoRemoved { .. } => "JoinInfoRemoved",
            Self::OrganizerNotified { .. } => "OrganizerNotified",
            Self::SeriesExpanded { .. } => "SeriesExpanded",
            Self::TokenIssued { .. } => "TokenIssued",
            Self::TokenRevoked { .. } => "TokenRevoked",
            Self::DeviceRegistered { .. } => "DeviceRegistered",
            Self::DeviceRemoved { .. } => "DeviceRemoved",
            Self::OooChanged { .. } => "OOOChanged",
            Self::LanguageDetected { .. } => "LanguageDetected",
            Self::PresenceChanged { .. } => "PresenceChanged",
        }
    }

    /// Schema version of the event's current shape.
    pub fn version(&self) -> u32 {
        1
    }

    /// The Graph event it concerns, if any.
    pub fn event_id(&self) -> Option<&GraphEventId> {
        match self {
            Self::MailboxEnabled { .. }
            | Self::MailboxDisabled { .. }
            | Self::MailboxErased { .. }
            | Self::MailboxSetupFailed { .. }
            | Self::SubscriptionCreated { .. }
            | Self::SubscriptionRenewed { .. }
            | Self::SubscriptionLost { .. }
            | Self::ResyncRequested { .. }
            | Self::ResyncCompleted { .. }
            | Self::TokenIssued { .. }
            | Self::TokenRevoked { .. }
            | Self::DeviceRegistered { .. }
            | Self::DeviceRemoved { .. }
            | Self::OooChanged { .. }
            | Self::LanguageDetected { .. }
            | Self::PresenceChanged { .. } => None,
            Self::MeetingScheduled(d) | Self::MeetingUpdated(d) => Some(&d.event_id),
            Self::MeetingCancelled { event_id }
            | Self::JoinInfoPatched { event_id, .. }
            | Self::JoinInfoPatchFailed { event_id, .. }
            | Self::MeetingSkipped { event_id, .. }
            | Self::MeetingForgotten { event_id, .. }
            | Self::MeetingBooked { event_id, .. }
            | Self::BookingMoved { event_id, .. }
            | Self::BookingDeleted { event_id, .. }
            | Self::JoinInfoRemoved { event_id, .. }
            | Self::OrganizerNotified { event_id, .. }
            | Self::SeriesExpanded { event_id, .. } => Some(event_id),
        }
    }
}

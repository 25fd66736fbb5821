//! Inputs of the mailbox aggregate. Imperative inputs come from the mailbox's input log
//! (notifications, admin commands, timers); the others are the outcomes of effects, fed back by
//! the interpreter, each carrying what the effect returned (and the context the effect carried
//! for the next decision). Every failure comes back classified, so `decide` chooses what it
//! leads to.

use chrono::{DateTime, Utc};

use crate::ids::{DeviceId, GraphEventId, TokenId};
use crate::join::NoticeReason;
use crate::mailbox::events::DevicePrivate;
use crate::notification::{ChangeType, LifecycleEvent, TokenHolder};
use crate::ports::{Booking, GraphEvent, GraphFailure, MeetingRoom, Occurrence, PlatformFailure};
use crate::presence::AutoReplies;

/// Which subscription call an outcome answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionCall {
    /// `PATCH /subscriptions/{id}`.
    Renew,
    /// `POST /subscriptions/{id}/reauthorize`.
    Reauthorize,
    /// `DELETE /subscriptions/{id}`.
    Delete,
}

/// The step of setting a mailbox up that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupStep {
    /// Reading the mailbox settings when the mailbox is enabled (the language; it also proves
    /// the mailbox is reachable). Carries the language the command gave, if any.
    ReadSettings {
        /// Language given with the enable command.
        locale_hint: Option<String>,
    },
    /// Creating the change-notification subscription.
    CreateSubscription,
}

/// An input to a mailbox.
#[derive(Debug, Clone, PartialEq)]
pub enum MailboxInput {
    /// Enable the mailbox (admin command): read its settings, then subscribe and resync.
    EnableMailbox {
        /// Language given with the command, used when the mailbox settings name none.
        locale: Option<String>,
    },
    /// Disable the mailbox (admin command): delete its subscription, stop following it.
    DisableMailbox,
    /// Erase the mailbox (admin command): disable it, record `MailboxErased`, destroy its keys.
    EraseMailbox,
    /// The mailbox's data keys were destroyed (outcome of `DestroyKeys`).
    KeysDestroyed,
    /// Renew the subscription, or recreate it when it is gone (timer: about half its lifetime,
    /// and the daily sweep). Meetings over for long are forgotten on the way.
    RenewSubscription,
    /// Record a subscription created elsewhere (an admin command of earlier versions).
    RecordSubscription {
        /// Graph subscription id.
        subscription_id: String,
        /// Expiry.
        expires_at: DateTime<Utc>,
        /// Client state.
        client_state: String,
    },
    /// Grant an access token (admin command).
    IssueToken {
        /// The token's id.
        token_id: TokenId,
        /// Who holds it.
        holder: TokenHolder,
        /// Digest of its secret.
        digest: String,
    },
    /// Revoke an access token (admin command).
    RevokeToken {
        /// The token's id.
        token_id: TokenId,
    },
    /// Register a device of this room (admin command).
    RegisterDevice {
        /// The device's id.
        device_id: DeviceId,
        /// How it is reached.
        kind: String,
        /// Address and credentials.
        private: Box<DevicePrivate>,
    },
    /// Remove a device of this room (admin command).
    RemoveDevice {
        /// The device's id.
        device_id: DeviceId,
    },
    /// A change notification (or one a resync fed back).
    HandleChange {
        /// What Graph says happened.
        change_type: ChangeType,
        /// The event.
        event_id: GraphEventId,
    },
    /// A lifecycle notification of a subscription.
    HandleLifecycle {
        /// The subscription it is about.
        subscription_id: String,
        /// What Graph reported.
        event: LifecycleEvent,
    },
    /// The mailbox settings as the presence poller read them (admin command
    /// `recordSettings`): the language and the automatic replies.
    SettingsPolled {
        /// `language.locale`, when set.
        locale: Option<String>,
        /// The automatic replies.
        automatic_replies: AutoReplies,
    },
    /// A scheduled automatic-replies window may have begun or ended (timer `applyPresence`):
    /// record the presence the setting means now.
    PresenceDue,
    /// Finish what the state says is unfinished (a subscription to recreate, a resync owed).
    /// The interpreter gives it before every record, so work cut short by a crash, a lost
    /// partition or a retry is completed by whichever process handles the mailbox next.
    Resume,

    /// Outcome of reading the mailbox settings.
    MailboxSettingsRead {
        /// `language.locale`, when set.
        locale: Option<String>,
        /// Language given with the enable command.
        locale_hint: Option<String>,
        /// The automatic replies, when the answer had them.
        automatic_replies: Option<AutoReplies>,
    },
    /// A set-up step failed.
    SetupFailed {
        /// Which step.
        step: SetupStep,
        /// How.
        failure: GraphFailure,
    },
    /// A subscription was created.
    SubscriptionCreated {
        /// Graph subscription id.
        subscription_id: String,
        /// Expiry Graph granted.
        expires_at: DateTime<Utc>,
        /// The client state it was created with.
        client_state: String,
    },
    /// A subscription was renewed.
    SubscriptionRenewed {
        /// Graph subscription id.
        subscription_id: String,
        /// New expiry.
        expires_at: DateTime<Utc>,
    },
    /// A subscription was reauthorized.
    SubscriptionReauthorized {
        /// Graph subscription id.
        subscription_id: String,
    },
    /// A subscription was deleted (or was already gone).
    SubscriptionDeleted {
        /// Graph subscription id.
        subscription_id: String,
    },
    /// Graph no longer has the subscription (answered a renewal or reauthorization with 404).
    SubscriptionNotFound {
        /// Graph subscription id.
        subscription_id: String,
        /// The call that found out.
        call: SubscriptionCall,
    },
    /// A subscription call failed.
    SubscriptionCallFailed {
        /// Graph subscription id.
        subscription_id: String,
        /// Which call.
        call: SubscriptionCall,
        /// How.
        failure: GraphFailure,
    },
    /// The events of the window, as a full delta round gave them (`true`: reported removed).
    WindowRead {
        /// Window start.
        from: DateTime<Utc>,
        /// Window end.
        to: DateTime<Utc>,
        /// Event ids, and whether each was reported removed.
        changes: Vec<(GraphEventId, bool)>,
    },
    /// Every event of the window was fed back to the input log.
    WindowResynced {
        /// Window start.
        from: DateTime<Utc>,
        /// Window end.
        to: DateTime<Utc>,
        /// Events fed back as updated.
        changed: u32,
        /// Events fed back as deleted.
        removed: u32,
    },
    /// Reading the window failed.
    ResyncFailed {
        /// How.
        failure: GraphFailure,
    },
    /// An event as Graph returned it; `None` when it no longer exists.
    EventFetched {
        /// The event asked for.
        event_id: GraphEventId,
        /// What Graph returned.
        event: Option<Box<GraphEvent>>,
        /// Write conflicts met so far for this change.
        conflicts: u32,
    },
    /// Reading an event failed.
    FetchFailed {
        /// The event asked for.
        event_id: GraphEventId,
        /// How.
        failure: GraphFailure,
    },
    /// The organiser's personal room.
    RoomFound {
        /// The event being decorated, as it was read.
        event: Box<GraphEvent>,
        /// The room.
        room: MeetingRoom,
        /// Keyword action.
        mode: String,
        /// Write conflicts met so far for this change.
        conflicts: u32,
    },
    /// A meeting was booked (or the one booked earlier under the key found).
    Booked {
        /// The event being decorated, as it was read.
        event: Box<GraphEvent>,
        /// The booking.
        booking: Booking,
        /// Keyword action.
        mode: String,
        /// Write conflicts met so far for this change.
        conflicts: u32,
    },
    /// A booked meeting was moved.
    BookingRescheduled {
        /// The invite.
        event_id: GraphEventId,
        /// The platform's id of the meeting.
        booking_id: String,
        /// Start now booked.
        start: DateTime<Utc>,
        /// End now booked.
        end: DateTime<Utc>,
    },
    /// A booked meeting was deleted (or was already gone).
    BookingCancelled {
        /// The invite it was booked for.
        event_id: GraphEventId,
        /// The platform's id of the meeting.
        booking_id: String,
    },
    /// Deleting a booked meeting failed.
    CancelFailed {
        /// The invite it was booked for.
        event_id: GraphEventId,
        /// The platform's id of the meeting.
        booking_id: String,
        /// How.
        failure: PlatformFailure,
    },
    /// hcal's block was taken out of the invite.
    JoinInfoCleared {
        /// The event.
        event_id: GraphEventId,
        /// Change key after the write.
        change_key: String,
    },
    /// The meeting platform failed or refused (a look-up, a booking or a move).
    PlatformFailed {
        /// The event being decorated.
        event_id: GraphEventId,
        /// The event as it was read, for a look-up or a booking (a notice to the organiser is
        /// written into it); `None` for a move.
        event: Option<Box<GraphEvent>>,
        /// How.
        failure: PlatformFailure,
    },
    /// The occurrences of a series in a window.
    OccurrencesRead {
        /// The series master.
        event_id: GraphEventId,
        /// Window start.
        from: DateTime<Utc>,
        /// Window end.
        to: DateTime<Utc>,
        /// What Graph listed.
        occurrences: Vec<Occurrence>,
    },
    /// Reading the occurrences failed.
    OccurrencesFailed {
        /// The series master.
        event_id: GraphEventId,
        /// How.
        failure: GraphFailure,
    },
    /// A notice to the organiser was written into the invite.
    NoticeWritten {
        /// The event.
        event_id: GraphEventId,
        /// Why.
        reason: NoticeReason,
        /// Change key after the write.
        change_key: String,
    },
    /// Join details were written into the invite.
    JoinInfoWritten {
        /// The event.
        event_id: GraphEventId,
        /// The room written.
        room: MeetingRoom,
        /// Keyword action.
        mode: String,
        /// Change key after the write (its echo notification carries it).
        change_key: String,
    },
    /// The invite changed between hcal's read and its write (`If-Match` failed).
    PatchConflicted {
        /// The event.
        event_id: GraphEventId,
        /// Write conflicts met so far for this change, this one not counted.
        conflicts: u32,
    },
    /// Writing join details failed for another reason.
    PatchFailed {
        /// The event.
        event_id: GraphEventId,
        /// How.
        failure: GraphFailure,
    },
}

impl MailboxInput {
    /// A short name for logs and spans (never sensitive).
    pub fn name(&self) -> &'static str {
        match self {
            Self::EnableMailbox { .. } => "EnableMailbox",
            Self::DisableMailbox => "DisableMailbox",
            Self::EraseMailbox => "EraseMailbox",
            Self::KeysDestroyed => "KeysDestroyed",
            Self::RenewSubscription => "RenewSubscription",
            Self::RecordSubscription { .. } => "RecordSubscription",
            Self::IssueToken { .. } => "IssueToken",
            Self::RevokeToken { .. } => "RevokeToken",
            Self::RegisterDevice { .. } => "RegisterDevice",
            Self::RemoveDevice { .. } => "RemoveDevice",
            Self::HandleChange { .. } => "HandleChange",
            Self::HandleLifecycle { .. } => "HandleLifecycle",
            Self::Resume => "Resume",
            Self::MailboxSettingsRead { .. } => "MailboxSettingsRead",
            Self::SettingsPolled { .. } => "SettingsPolled",
            Self::PresenceDue => "PresenceDue",
            Self::SetupFailed { .. } => "SetupFailed",
            Self::SubscriptionCreated { .. } => "SubscriptionCreated",
            Self::SubscriptionRenewed { .. } => "SubscriptionRenewed",
            Self::SubscriptionReauthorized { .. } => "SubscriptionReauthorized",
            Self::SubscriptionDeleted { .. } => "SubscriptionDeleted",
            Self::SubscriptionNotFound { .. } => "SubscriptionNotFound",
            Self::SubscriptionCallFailed { .. } => "SubscriptionCallFailed",
            Self::WindowRead { .. } => "WindowRead",
            Self::WindowResynced { .. } => "WindowResynced",
            Self::ResyncFailed { .. } => "ResyncFailed",
            Self::EventFetched { .. } => "EventFetched",
            Self::FetchFailed { .. } => "FetchFailed",
            Self::RoomFound { .. } => "RoomFound",
            Self::PlatformFailed { .. } => "PlatformFailed",
            Self::Booked { .. } => "Booked",
            Self::BookingRescheduled { .. } => "BookingRescheduled",
            Self::BookingCancelled { .. } => "BookingCancelled",
            Self::CancelFailed { .. } => "CancelFailed",
            Self::JoinInfoCleared { .. } => "JoinInfoCleared",
            Self::NoticeWritten { .. } => "NoticeWritten",
            Self::OccurrencesRead { .. } => "OccurrencesRead",
            Self::OccurrencesFailed { .. } => "OccurrencesFailed",
            Self::JoinInfoWritten { .. } => "JoinInfoWritten",
            Self::PatchConflicted { .. } => "PatchConflicted",
            Self::PatchFailed { .. } => "PatchFailed",
        }
    }
}

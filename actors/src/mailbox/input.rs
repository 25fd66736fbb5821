//! Inputs of the mailbox aggregate: imperative, carrying everything `decide` needs (what the
//! actor fetched, what an effect returned, the time).

use crate::ids::GraphEventId;
use crate::ports::{GraphEvent, MeetingRoom};

/// What the actor learned about an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The event as Graph returned it.
    Present(Box<GraphEvent>),
    /// The event is gone (deleted, or 404).
    Gone(GraphEventId),
}

/// How writing join details ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchResult {
    /// Written.
    Written {
        /// The room written.
        room: MeetingRoom,
        /// Keyword action.
        mode: String,
        /// Change key after the write.
        change_key: String,
    },
    /// The meeting platform refused (no account or room).
    PlatformRefused,
    /// Graph refused or failed.
    Failed {
        /// Failure class.
        reason: String,
        /// Whether a later attempt may succeed.
        retryable: bool,
    },
}

/// Facts the actor learnt while maintaining the subscription; `decide` records them as events.
#[derive(Debug, Clone, PartialEq)]
pub enum MailboxEventFact {
    /// Extended to `expires_at`.
    Renewed {
        /// Subscription id.
        subscription_id: String,
        /// New expiry.
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// Gone.
    Lost {
        /// Subscription id.
        subscription_id: String,
        /// Why.
        reason: String,
    },
    /// Setting up failed.
    SetupFailed {
        /// Reason class.
        reason: String,
        /// Graph's code.
        code: String,
        /// Next attempt, if any.
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The mailbox was disabled (its subscription deleted).
    Disabled,
    /// A resync fed `changed` + `removed` events back.
    Resynced {
        /// Window start.
        from: chrono::DateTime<chrono::Utc>,
        /// Window end.
        to: chrono::DateTime<chrono::Utc>,
        /// Re-read events.
        changed: u32,
        /// Removed events.
        removed: u32,
    },
}

/// An input to a mailbox.
#[derive(Debug, Clone, PartialEq)]
pub enum MailboxInput {
    /// Enable the mailbox.
    EnableMailbox {
        /// Mailbox language, when known.
        locale: Option<String>,
    },
    /// Record the subscription created for the mailbox.
    RecordSubscription {
        /// Graph subscription id.
        subscription_id: String,
        /// Expiry.
        expires_at: chrono::DateTime<chrono::Utc>,
        /// Client state.
        client_state: String,
    },
    /// Record what maintaining the subscription led to.
    RecordMaintenance(MailboxEventFact),
    /// Take in what Graph says about an event.
    HandleObservation(Observation),
    /// Stop keeping meetings that ended before `ended_before` (series masters excepted: their
    /// recurrence may go on). A later change to such a meeting is seen as a new one; the
    /// marker in the invite keeps it from being decorated twice.
    ForgetMeetings {
        /// Meetings that ended before this are forgotten.
        ended_before: chrono::DateTime<chrono::Utc>,
    },
    /// Record the outcome of writing join details.
    RecordPatch {
        /// Event.
        event_id: GraphEventId,
        /// Outcome.
        result: PatchResult,
    },
}

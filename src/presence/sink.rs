//! The port through which hcal tells a collaboration tool that a user is out of office or back:
//! [`PresenceSink`], one implementation per kind of tool (`webhook`, `matrix`, `mattermost`,
//! `slack`, in [`super::sinks`]).
//!
//! A sink is handed one [`PresenceUpdate`] at a time, in the order the user's mailbox decided
//! them, and answers whether the tool took it. Failures are classified so the delivery loop's
//! policy is data: [`SinkFailure::Retry`] (the tool is down, slow, throttling or answered 5xx:
//! the same update is offered again after a backoff, and nothing later for any user of this
//! sink goes out before it) and [`SinkFailure::Skip`] (the tool will never take this update,
//! e.g. it does not know the user: reported and counted, and delivery moves on).
//!
//! The user's e-mail address ([`PresenceUpdate::address`]) is sensitive: it may be used to find
//! the user in the tool, never logged, never part of an error message.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{TenantId, UserObjectId};

pub use hcal_actors::presence::PresenceStatus;

/// One change of a user's presence, as a sink receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceUpdate {
    /// A stable id of the change (the domain event's id): the same change offered again
    /// carries the same id, so receivers can drop repeats (`webhook-id` of the webhook sink).
    pub id: String,
    /// The user's organisation.
    pub tenant: TenantId,
    /// The user, by Graph object id.
    pub user: UserObjectId,
    /// The new status.
    pub status: PresenceStatus,
    /// Since when it holds (the scheduled start or end, or when hcal noticed the change).
    pub since: DateTime<Utc>,
    /// When out of office is known to end (a scheduled window's end); `None` otherwise.
    pub until: Option<DateTime<Utc>>,
    /// Who the user is in the tool, from the configured user map; `None` when unmapped (the
    /// sink may then find the user by [`Self::address`]).
    pub sink_user: Option<String>,
    /// The user's e-mail address when hcal knows it. Sensitive: never logged.
    pub address: Option<String>,
}

/// Why a sink did not take an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkFailure {
    /// Try again later (connection failure, timeout, 5xx, 429). `after`: how long the tool asked
    /// to wait (`Retry-After`), if it said.
    #[error("sink unavailable: {reason}")]
    Retry {
        /// What happened, without sensitive values (status codes, error codes).
        reason: String,
        /// The wait the tool asked for.
        after: Option<std::time::Duration>,
    },
    /// The tool will never take this update (unknown user, refused credentials are *not* this:
    /// they are `Retry`, an operator may fix them). Delivery moves past it.
    #[error("sink refused the update: {reason}")]
    Skip {
        /// What happened, without sensitive values.
        reason: String,
    },
}

/// A collaboration tool that shows presence.
#[async_trait]
pub trait PresenceSink: Send + Sync {
    /// Tells the tool about `update`.
    async fn deliver(&self, update: &PresenceUpdate) -> Result<(), SinkFailure>;

    /// Whether the sink finds unmapped users by e-mail address (then the delivery looks the
    /// address up before offering the update). Default true.
    fn needs_address(&self) -> bool {
        true
    }
}

//! hcal's Microsoft Graph client.
//!
//! [`GraphClient`] implements the domain's [`GraphApi`](hcal_actors::ports::GraphApi) port over
//! HTTP and adds the subscription and mailbox-settings calls the service needs. It owns
//! everything Graph expects of a well-behaved application:
//!
//! - **Tokens** (`token.rs`): client credentials per tenant, cached, refreshed ahead of
//!   expiry by one caller while the others wait; a token Graph rejects is dropped and the call
//!   repeated once.
//! - **Limits** (`limiter.rs`): at most four requests in flight per mailbox, and after a 429
//!   every caller of that mailbox waits out the `Retry-After`. Other mailboxes are unaffected.
//! - **Retries** (`retry.rs`): `Retry-After` (fractions allowed) for 429/503, exponential
//!   backoff with full jitter for other 5xx, timeouts and connection errors, then
//!   `Throttled` / `Transient`. Requests that are not idempotent are only repeated when they
//!   certainly had no effect.
//! - **Classification** (`error.rs`): by status and `error.code`, never by message.
//! - **Wire format** (`wire.rs`): tolerant reading of events, subscriptions and settings.
//! - **Listing** (`list_subscriptions`): every subscription the application created in a
//!   tenant, page after page, for the orphan sweep (`crate::orphans`).
//! - **Subscriptions port** (`subscriptions.rs`): the actors' `SubscriptionApi` with this
//!   installation's webhook URLs, creations paced per tenant.
//! - **Detailed calls** (`client/detailed.rs`): a token check, user resolution and events as
//!   JSON with errors that keep status, code, `request-id` and the access-policy marker, for
//!   the tenant admin test.
//!
//! Logs carry operation names, tenant and mailbox GUIDs, statuses, error codes and retry
//! counts; never subjects, bodies, addresses, tokens, secrets, client states or URLs with ids.

mod client;
mod config;
mod error;
mod limiter;
mod retry;
pub mod rich;
pub mod subscriptions;
mod token;
mod wire;
pub mod zones;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use hcal_actors::ids::{SubscriptionId, UserObjectId};

pub use self::client::detailed::{GraphCallError, GraphRefusal};
pub use self::client::{GraphClient, MAX_BATCH};
pub use self::config::{GraphConfig, GraphSetupError, MAX_CONCURRENT_HARD_CAP};

/// A change-notification subscription as Graph confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    /// Subscription id (a GUID).
    pub id: SubscriptionId,
    /// When Graph will drop it unless renewed (Graph may shorten what was asked for).
    pub expiration: DateTime<Utc>,
}

/// One entry of `GET /subscriptions`: a subscription this application created in the tenant.
/// Graph never lists the `clientState`, so the entry has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSubscription {
    /// Subscription id.
    pub id: SubscriptionId,
    /// Where Graph delivers its notifications, as the creator wrote it.
    pub notification_url: String,
    /// The mailbox of a `/users/{id}/events` resource, when the resource names one by object
    /// id (the only part of the resource that is logged).
    pub user: Option<UserObjectId>,
    /// When Graph will drop it unless renewed; `None` when the entry has no readable expiry.
    pub expiration: Option<DateTime<Utc>>,
}

/// The parts of a mailbox's settings hcal uses. Graph sends no change notifications for
/// settings, so they are polled.
#[derive(Debug, Clone, PartialEq)]
pub struct MailboxSettings {
    /// `language.locale`, e.g. `en-US`; empty when Graph sends none.
    pub locale: String,
    /// `timeZone` as Graph names it (Windows or IANA name); empty when absent.
    pub time_zone: String,
    /// `automaticRepliesSetting`'s status and window (in UTC), when Graph sent a readable one.
    /// The reply messages are never read.
    pub automatic_replies: Option<hcal_actors::presence::AutoReplies>,
}

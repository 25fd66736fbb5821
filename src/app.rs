//! What every HTTP handler and background task of a running service shares.

use std::sync::Arc;

use hcal_actors::ids::TenantId;
use hcal_actors::log::EventLog;
use hcal_actors::seal::KeyRing;

use crate::clock::Clock;
use crate::config::Config;
use crate::graph::GraphClient;
use crate::http::webhook::WebhookLimits;
use crate::inbox::Inbox;
use crate::log::sqlite::SqliteStore;
use crate::metrics::Metrics;
use crate::projections::access::AccessIndex;
use crate::projections::subscriptions::SubscriptionIndex;
use crate::runtime::MailboxRegistry;
use crate::scheduler::Scheduler;

/// Shared state of a running service.
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// The organisation's tenant.
    pub tenant: TenantId,
    /// The local store: the projections, and the logs too in embedded mode.
    pub store: Arc<SqliteStore>,
    /// The event log: the local store in embedded mode, Kafka in kafka mode.
    pub log: Arc<dyn EventLog>,
    /// The mailboxes' input log.
    pub inbox: Inbox,
    /// Sealing keys.
    pub ring: KeyRing,
    /// The data keys behind the ring (rotation, erasure).
    pub keys: crate::keys::Keys,
    /// Known subscriptions.
    pub subscriptions: Arc<SubscriptionIndex>,
    /// Granted access tokens.
    pub access: Arc<AccessIndex>,
    /// Presence per mailbox.
    pub presence: Arc<crate::projections::presence::PresenceIndex>,
    /// Registered room devices.
    pub devices: Arc<crate::projections::devices::DeviceIndex>,
    /// The meeting lists' changes, for the event streams.
    pub live: Arc<crate::projections::live::LiveLists>,
    /// Pushes rooms' bookings to their devices.
    pub pusher: Arc<crate::devices::pusher::Pusher>,
    /// Mailbox actors.
    pub registry: Arc<MailboxRegistry>,
    /// Graph client (subscriptions, mailbox settings).
    pub graph: Arc<GraphClient>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The admin API's bearer token.
    pub api_token: String,
    /// The clock.
    pub clock: Arc<Clock>,
    /// Subscription renewals.
    pub scheduler: Arc<Scheduler>,
    /// The webhook's bounds on the batches it reads at once and on how long each may take.
    pub webhook: WebhookLimits,
}

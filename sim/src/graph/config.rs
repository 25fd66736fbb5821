//! Every knob of the Graph simulator, with its default and why it has that default.
//!
//! Defaults follow the documented (or, where documentation and live behaviour disagree, the
//! observed) behaviour of Microsoft Graph v1.0, so a client that passes against the defaults
//! has been held to what a real tenant does. Tests switch faults on through [`FaultConfig`]
//! at run time (see [`crate::graph::GraphSim::set_faults`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Configuration of one simulator instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphSimConfig {
    /// Seed of the simulator's random choices (fault draws, batch response order).
    /// Default 42: runs are reproducible unless a test asks otherwise.
    pub seed: u64,
    /// Lifetime of access tokens in seconds (`expires_in`). Default 3599, as Entra ID answers.
    pub token_lifetime_secs: u64,
    /// Longest subscription lifetime accepted, in minutes. Default 10,070: the observed live
    /// maximum for Outlook resources (documentation says 10,080; older docs 4,230).
    pub max_subscription_minutes: i64,
    /// Most Outlook subscriptions per mailbox (across apps). Default 1,000.
    pub max_subscriptions_per_mailbox: usize,
    /// How long the validation handshake waits for the receiver. Default 10 s.
    #[serde(with = "secs_f64")]
    pub validation_timeout: Duration,
    /// Whether the validation answer must carry `Content-Type: text/plain`. Default true.
    pub validation_requires_text_plain: bool,
    /// Refuse `http://` notification URLs unless the host is a loopback address.
    /// Default true: Graph only delivers to HTTPS, the simulator lets local tests use HTTP.
    pub require_https_except_loopback: bool,
    /// How long a notification receiver has to answer before the delivery counts as failed.
    /// Default 3 s.
    #[serde(with = "secs_f64")]
    pub delivery_timeout: Duration,
    /// First retry delay after a failed delivery; doubled on every further failure.
    /// Default 1 s (Graph's real schedule is slower; tests shorten it).
    #[serde(with = "secs_f64")]
    pub retry_initial: Duration,
    /// Largest retry delay. Default 60 s.
    #[serde(with = "secs_f64")]
    pub retry_max: Duration,
    /// How long failed deliveries are retried before they are dropped. Default 4 h.
    #[serde(with = "secs_f64")]
    pub retry_window: Duration,
    /// Send a `missed` lifecycle notification when a notification is dropped after its
    /// retry window. Default true (Graph does this).
    pub missed_on_drop: bool,
    /// How long the notifier waits to gather more changes into one POST. Default 20 ms.
    #[serde(with = "secs_f64")]
    pub batch_delay: Duration,
    /// Most notifications in one POST. Default 20.
    pub max_batch: usize,
    /// Casing of `resource` and `@odata.id` in notifications. Default `Pascal`
    /// (`Users/{id}/Events/{id}`), the casing most often seen live.
    pub resource_casing: ResourceCasing,
    /// Return `$batch` responses in a shuffled order (Graph promises no order). Default true.
    pub shuffle_batch_responses: bool,
    /// Serialise `userPurpose` as `{"value":"user"}` instead of `"user"`. Default false.
    pub user_purpose_as_object: bool,
    /// Default page size of collections when no `$top` / `odata.maxpagesize` is given.
    /// Default 10, as Graph uses for events.
    pub default_page_size: usize,
    /// Lifetime of delta tokens in seconds before they answer 410. Default 7 days.
    pub delta_token_lifetime_secs: i64,
    /// Subscriptions per page of `GET /subscriptions`, which takes no `$top` (it refuses OData
    /// query options). Default 100; Microsoft documents paging with `@odata.nextLink` but no
    /// page size, so clients must follow the links whatever the size.
    pub subscription_page_size: usize,
    /// Toll number of the tenant's Teams audio conferencing. Default none: Teams meetings get
    /// only a `joinUrl`, as in tenants without audio conferencing; when set, `onlineMeeting`
    /// also has `conferenceId` and `tollNumber` and the join block a dial-in line.
    pub teams_toll_number: Option<String>,
    /// Outlook throttling per (application, mailbox).
    pub throttle: ThrottleConfig,
    /// Faults active from the start (tests usually change them at run time).
    pub faults: FaultConfig,
    /// Worker threads of the HTTP server. Default 2.
    pub workers: usize,
}

impl Default for GraphSimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            token_lifetime_secs: 3599,
            max_subscription_minutes: 10_070,
            max_subscriptions_per_mailbox: 1_000,
            validation_timeout: Duration::from_secs(10),
            validation_requires_text_plain: true,
            require_https_except_loopback: true,
            delivery_timeout: Duration::from_secs(3),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            retry_window: Duration::from_secs(4 * 3600),
            missed_on_drop: true,
            batch_delay: Duration::from_millis(20),
            max_batch: 20,
            resource_casing: ResourceCasing::Pascal,
            shuffle_batch_responses: true,
            user_purpose_as_object: false,
            default_page_size: 10,
            delta_token_lifetime_secs: 7 * 24 * 3600,
            subscription_page_size: 100,
            teams_toll_number: None,
            throttle: ThrottleConfig::default(),
            faults: FaultConfig::default(),
            workers: 2,
        }
    }
}

/// Casing of resource paths in change notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceCasing {
    /// `Users/{id}/Events/{id}`.
    Pascal,
    /// `users/{id}/events/{id}`.
    Lower,
    /// Alternates between the two, notification by notification.
    Mixed,
}

/// Outlook resource limits per (application, mailbox).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Whether throttling is enforced at all. Default true.
    pub enabled: bool,
    /// Most concurrent requests per (app, mailbox). Default 4.
    pub max_concurrent: usize,
    /// Requests allowed per window per (app, mailbox). Default 10,000.
    pub budget: u64,
    /// Length of the budget window in seconds (simulated clock). Default 600.
    pub window_secs: i64,
    /// `Retry-After` sent with a 429 (and an injected 503), in seconds. Default 2: Graph sends
    /// whole seconds. A fractional value (e.g. 0.05, to keep tests fast) is sent as given, and
    /// then the rest of a spent budget window is sent with millisecond precision too; a whole
    /// value makes every `Retry-After` a whole number of seconds (rounded up).
    pub retry_after_secs: f64,
    /// Subscription creations allowed per 20 s per (app, tenant). Default 500.
    pub subscription_writes_per_20s: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_concurrent: 4,
            budget: 10_000,
            window_secs: 600,
            retry_after_secs: 2.0,
            subscription_writes_per_20s: 500,
        }
    }
}

/// Faults a test can switch on. All rates are probabilities in `0.0..=1.0`, drawn per request
/// from the seeded generator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Share of Graph requests answered 429 `TooManyRequests` with `Retry-After`.
    pub rate_429: f64,
    /// Share of Graph requests answered 503 `ServiceUnavailable` with `Retry-After`.
    pub rate_503: f64,
    /// Share of Graph requests that hang for `hang` and then answer 504.
    pub rate_timeout: f64,
    /// How long a "timed out" request hangs. Default 0 means 30 s.
    #[serde(with = "secs_f64")]
    pub hang: Duration,
    /// Extra latency added to every Graph request (holding its concurrency slot).
    #[serde(with = "secs_f64")]
    pub latency: Duration,
    /// Delay added before each notification delivery.
    #[serde(with = "secs_f64")]
    pub notification_delay: Duration,
    /// Drop change notifications silently instead of delivering them (counted in stats).
    pub drop_notifications: bool,
    /// The next this-many reads of an event first change its changeKey, as another writer
    /// (a room's booking assistant, a phone) would; each such change is notified.
    pub change_key_bumps_on_read: u32,
}

/// `Duration` as fractional seconds in configuration files.
mod secs_f64 {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

//! The shared heart of one simulator instance: configuration, clock, state, throttling
//! counters, statistics, randomness and the queue of outgoing notifications.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use super::clock::SimClock;
use super::config::{FaultConfig, GraphSimConfig};
use super::model::Change;
use super::notify::Outbound;
use super::store::Store;

/// A Graph request, independent of the HTTP server, so `$batch` and scripts use the same path.
#[derive(Debug, Clone)]
pub struct Req {
    /// Method, upper case.
    pub method: String,
    /// Path below `/v1.0`, starting with `/`.
    pub path: String,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// Parsed JSON body, if any.
    pub body: Option<Value>,
}

impl Req {
    /// A request without headers or body.
    pub fn new(method: &str, path: &str) -> Self {
        let (path, query) = split_query(path);
        Self { method: method.to_ascii_uppercase(), path, query, headers: Vec::new(), body: None }
    }

    /// Adds a JSON body.
    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// First value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All values of a header.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A query parameter; OData names match case-insensitively, with or without `$`.
    pub fn query(&self, name: &str) -> Option<&str> {
        let bare = name.trim_start_matches('$');
        self.query.iter().find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(bare)).map(|(_, v)| v.as_str())
    }
}

/// Splits `path?query` and decodes the query.
pub fn split_query(target: &str) -> (String, Vec<(String, String)>) {
    match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()),
        None => (target.to_owned(), Vec::new()),
    }
}

/// A Graph response.
#[derive(Debug, Clone, PartialEq)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
}

impl Resp {
    /// A JSON response.
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: Some(body) }
    }

    /// An empty response (204 and friends).
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: None }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A bearer token as presented (or none).
    Bearer(Option<String>),
    /// The test script acting as the mailbox owner in Outlook: no token, no throttling, no
    /// policy; everything else (validation, change keys, notifications) as for the API.
    Script,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An application with a token for a tenant.
    App {
        /// Client id.
        app_id: String,
        /// Tenant id.
        tenant_id: String,
    },
    /// The script.
    Script,
}

/// What the simulator counted; tests assert on it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Graph API requests seen (inner `$batch` requests included).
    pub requests: u64,
    /// Requests answered 429 by throttling (not by injected faults).
    pub throttled: u64,
    /// Requests answered with an injected fault.
    pub faults_injected: u64,
    /// Highest number of concurrent requests seen per mailbox (user id), rejected ones included.
    pub max_concurrency: BTreeMap<String, usize>,
    /// Validation requests sent.
    pub validations: u64,
    /// Notifications delivered (counted per item).
    pub notifications_delivered: u64,
    /// Delivery attempts that failed (status, timeout or connection error).
    pub delivery_failures: u64,
    /// Notifications dropped (fault switch or retry window exceeded).
    pub notifications_dropped: u64,
    /// Lifecycle notifications delivered.
    pub lifecycle_delivered: u64,
    /// Subscriptions removed because they expired.
    pub subscriptions_expired: u64,
    /// `GET /users/{id}/mailboxSettings` requests by an application (inner `$batch` requests
    /// included), by user id.
    pub settings_reads: BTreeMap<String, u64>,
}

/// Throttling counters per (app, mailbox) and per (app, tenant).
#[derive(Debug, Default)]
pub struct ThrottleState {
    /// In-flight requests.
    pub inflight: HashMap<(String, String), usize>,
    /// Budget windows: start and count.
    pub windows: HashMap<(String, String), (DateTime<Utc>, u64)>,
    /// Subscription writes per (app, tenant): recent instants.
    pub sub_writes: HashMap<(String, String), Vec<DateTime<Utc>>>,
}

/// One simulator's shared state.
pub struct Core {
    /// Static configuration.
    pub config: GraphSimConfig,
    /// Faults, switchable at run time.
    pub faults: RwLock<FaultConfig>,
    /// Clock.
    pub clock: SimClock,
    /// Data.
    pub store: Mutex<Store>,
    /// Throttling counters.
    pub throttle: Mutex<ThrottleState>,
    /// Statistics.
    pub stats: Mutex<Stats>,
    /// Outgoing notifications.
    pub outbound: mpsc::UnboundedSender<Outbound>,
    /// HTTP client for validation and deliveries.
    pub http: reqwest::Client,
    /// Change-notification POSTs delivered so far (URL and body), newest last, so tests can
    /// have Graph deliver them again as its at-least-once delivery may.
    pub delivered: Mutex<std::collections::VecDeque<(String, Value)>>,
    rng: Mutex<StdRng>,
    base_url: OnceLock<String>,
}

/// How many delivered POSTs are kept for redelivery.
pub const REDELIVERY_MEMORY: usize = 10_000;

impl Core {
    /// A new core; the receiver end of the outbound queue goes to the notifier.
    pub fn new(config: GraphSimConfig, outbound: mpsc::UnboundedSender<Outbound>) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Self {
            faults: RwLock::new(config.faults.clone()),
            config,
            clock: SimClock::default(),
            store: Mutex::new(Store::default()),
            throttle: Mutex::new(ThrottleState::default()),
            stats: Mutex::new(Stats::default()),
            outbound,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default(),
            delivered: Mutex::new(std::collections::VecDeque::new()),
            rng: Mutex::new(rng),
            base_url: OnceLock::new(),
        }
    }

    /// Simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Sets the base URL once the server is bound.
    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    /// `http://127.0.0.1:PORT` of this simulator.
    pub fn base_url(&self) -> &str {
        self.base_url.get().map_or("http://127.0.0.1", String::as_str)
    }

    /// A new GUID.
    pub fn guid(&self) -> String {
        let bytes: [u8; 16] = self.rng.lock().random();
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    /// A new opaque Graph item id (URL-safe base64 with padding, as Graph's are).
    pub fn item_id(&self) -> String {
        let bytes: [u8; 40] = self.rng.lock().random();
        format!("AAMkA{}", URL_SAFE.encode(bytes))
    }

    /// A new change key.
    pub fn change_key(&self) -> String {
        let bytes: [u8; 27] = self.rng.lock().random();
        STANDARD.encode(bytes)
    }

    /// A random token string.
    pub fn token(&self, len: usize) -> String {
        let rng = &mut *self.rng.lock();
        (0..len)
            .map(|_| {
                char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..62)])
            })
            .collect()
    }

    /// A random string of `len` decimal digits (meeting and conference ids).
    pub fn digits(&self, len: usize) -> String {
        let rng = &mut *self.rng.lock();
        (0..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().random_bool(p.min(1.0))
    }

    /// Shuffles in place with the seeded generator.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        items.shuffle(&mut *self.rng.lock());
    }

    /// Current faults.
    pub fn faults(&self) -> FaultConfig {
        self.faults.read().clone()
    }

    /// Queues change notifications for every live subscription that covers each change.
    pub fn emit(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let now = self.now();
        let store = self.store.lock();
        for change in changes {
            for sub in store.subscriptions.values() {
                if sub.user_id == change.user_id
                    && sub.expiration > now
                    && sub.change_types.contains(&change.change_type)
                {
                    let _ = self.outbound.send(Outbound::Change { subscription: sub.clone(), change: change.clone() });
                }
            }
        }
    }
}

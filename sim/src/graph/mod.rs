//! A Microsoft Graph simulator that follows Graph's wire behaviour: Entra ID client-credential
//! tokens and admin consent, users and mailbox settings, events with recurrence, calendar
//! views and delta, extended properties, change-notification subscriptions with the validation
//! handshake and real HTTP deliveries, `$batch`, Outlook throttling, access policies, and
//! switchable faults.
//!
//! Start one in-process with [`GraphSim::start`]; it listens on a 127.0.0.1 port. The knobs are
//! in [`config`]; `docs/graph-simulator.md` describes them and the control surface.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hcal_sim::graph::{GraphSim, GraphSimConfig, UserSpec};
//! let sim = GraphSim::start(GraphSimConfig::default()).await?;
//! let tenant = sim.add_tenant("contoso.example");
//! let (client_id, secret) = sim.add_app(None, None, vec![]);
//! sim.consent(&client_id, &tenant).map_err(std::io::Error::other)?;
//! let alice = sim.add_user(&UserSpec::new(&tenant, "Alice", "alice@contoso.example")).map_err(std::io::Error::other)?;
//! println!("Graph at {}/v1.0, token endpoint {}/{tenant}/oauth2/v2.0/token", sim.url(), sim.url());
//! # let _ = (secret, alice); Ok(()) }
//! ```

pub mod clock;
pub mod config;
pub mod core;
pub mod error;
pub mod handlers;
pub mod http;
pub mod model;
pub mod notify;
pub mod odata;
pub mod recurrence;
pub mod render;
pub mod rich;
pub mod router;
pub mod script;
pub mod store;
pub mod teams;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use serde_json::Value;
use tokio::sync::mpsc;

pub use self::config::{FaultConfig, GraphSimConfig, ResourceCasing, ThrottleConfig};
pub use self::core::{Resp, Stats};
pub use self::model::{MailboxKind, Permission};
pub use self::notify::LifecycleEvent;
pub use self::script::{DemoIds, DemoTenant, UserSpec};

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`GraphSim::stop`] to stop it.
pub struct GraphSim {
    core: Arc<core::Core>,
    url: String,
    server: actix_web::dev::ServerHandle,
}

impl GraphSim {
    /// Starts a simulator on a free 127.0.0.1 port.
    pub async fn start(config: GraphSimConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a simulator on `addr`.
    pub async fn start_on(config: GraphSimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let workers = config.workers.max(1);
        let core = Arc::new(core::Core::new(config, tx));
        let data = web::Data::new(core.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(http::routes))
            .workers(workers)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(addr)?;
        let bound = server.addrs().first().copied().ok_or_else(|| std::io::Error::other("no address bound"))?;
        let server = server.run();
        let handle = server.handle();
        let url = format!("http://{bound}");
        core.set_base_url(url.clone());
        tokio::spawn(server);
        tokio::spawn(notify::run(core.clone(), rx));
        Ok(Self { core, url, server: handle })
    }

    /// Base URL (`http://127.0.0.1:PORT`): Graph is under `/v1.0`, the login endpoints at the root.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `{url}/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.url)
    }

    /// Stops the HTTP server.
    pub async fn stop(self) {
        self.server.stop(false).await;
    }

    /// The shared core, for advanced tests.
    pub fn core(&self) -> &Arc<core::Core> {
        &self.core
    }

    /// Adds a tenant; returns its id.
    pub fn add_tenant(&self, domain: &str) -> String {
        script::add_tenant(&self.core, None, domain)
    }

    /// Registers an application; returns (client id, secret).
    pub fn add_app(
        &self,
        client_id: Option<&str>,
        secret: Option<&str>,
        redirect_uris: Vec<String>,
    ) -> (String, String) {
        script::add_app(&self.core, client_id, secret, redirect_uris)
    }

    /// Grants an application every permission hcal needs in a tenant.
    pub fn consent(&self, client_id: &str, tenant_id: &str) -> Result<(), String> {
        script::consent(&self.core, client_id, tenant_id, &Permission::ALL)
    }

    /// Grants an application only some permissions in a tenant.
    pub fn consent_with(&self, client_id: &str, tenant_id: &str, permissions: &[Permission]) -> Result<(), String> {
        script::consent(&self.core, client_id, tenant_id, permissions)
    }

    /// Chooses who signs in to the admin-consent page, and whether they approve.
    pub fn set_consent_admin(&self, tenant_id: &str, approves: bool) {
        self.core.store.lock().consent_admin = Some((tenant_id.to_owned(), approves));
    }

    /// Adds a mailbox; returns its object id.
    pub fn add_user(&self, spec: &UserSpec) -> Result<String, String> {
        script::add_user(&self.core, spec)
    }

    /// Puts a mailbox inside or outside the application access policy.
    pub fn set_in_policy(&self, user_id: &str, in_policy: bool) {
        if let Some(u) = self.core.store.lock().users.get_mut(user_id) {
            u.in_policy = in_policy;
        }
    }

    /// Licenses or unlicenses a mailbox.
    pub fn set_licensed(&self, user_id: &str, licensed: bool) {
        if let Some(u) = self.core.store.lock().users.get_mut(user_id) {
            u.licensed = licensed;
        }
    }

    /// Acts as the mailbox owner (Outlook) on a Graph path, e.g.
    /// `sim.act("POST", "/users/{id}/events", Some(body))`.
    pub async fn act(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        script::act(&self.core, method, path, body).await
    }

    /// The user creates an event in Outlook; returns the event as Graph renders it.
    pub async fn create_event(&self, user_id: &str, event: Value) -> Result<Value, Resp> {
        let resp = self.act("POST", &format!("/users/{user_id}/events"), Some(event)).await;
        ok_body(resp)
    }

    /// The user edits an event.
    pub async fn update_event(&self, user_id: &str, event_id: &str, patch: Value) -> Result<Value, Resp> {
        let resp = self.act("PATCH", &format!("/users/{user_id}/events/{}", encode(event_id)), Some(patch)).await;
        ok_body(resp)
    }

    /// The user deletes (organiser: cancels) an event.
    pub async fn delete_event(&self, user_id: &str, event_id: &str) -> Result<(), Resp> {
        let resp = self.act("DELETE", &format!("/users/{user_id}/events/{}", encode(event_id)), None).await;
        if resp.status == 204 { Ok(()) } else { Err(resp) }
    }

    /// Reads an event as the user sees it, with the given extended properties expanded.
    pub async fn get_event(&self, user_id: &str, event_id: &str, extended: &[&str]) -> Result<Value, Resp> {
        let mut path = format!("/users/{user_id}/events/{}", encode(event_id));
        if !extended.is_empty() {
            let filter: Vec<String> = extended.iter().map(|id| format!("id eq '{id}'")).collect();
            let expand = format!("singleValueExtendedProperties($filter={})", filter.join(" or "));
            path.push_str(&format!("?$expand={}", encode(&expand)));
        }
        ok_body(self.act("GET", &path, None).await)
    }

    /// The user changes automatic replies (`status`: disabled, alwaysEnabled or scheduled).
    pub async fn set_automatic_replies(&self, user_id: &str, setting: Value) -> Result<Value, Resp> {
        let body = serde_json::json!({"automaticRepliesSetting": setting});
        ok_body(self.act("PATCH", &format!("/users/{user_id}/mailboxSettings"), Some(body)).await)
    }

    /// Sends a lifecycle notification (and removes the subscription for `subscriptionRemoved`).
    pub fn trigger_lifecycle(&self, subscription_id: &str, event: LifecycleEvent) -> Result<(), String> {
        script::trigger_lifecycle(&self.core, subscription_id, event)
    }

    /// Removes a subscription and holds back its `subscriptionRemoved` notification until
    /// [`script::RemovedSubscription::announce`], as Graph's late lifecycle notifications do.
    pub fn remove_subscription_quietly(&self, subscription_id: &str) -> Result<script::RemovedSubscription, String> {
        script::remove_quietly(&self.core, subscription_id)
    }

    /// Removes a subscription behind its owner's back (as an expiry or an admin would).
    pub fn remove_subscription(&self, subscription_id: &str) -> bool {
        self.core.store.lock().subscriptions.remove(subscription_id).is_some()
    }

    /// Live subscriptions: `[{id, userId, expirationDateTime, notificationUrl}]`.
    pub fn subscriptions(&self) -> Vec<Value> {
        router::sweep_expired(&self.core);
        script::subscription_summary(&self.core)
    }

    /// The `clientState` of every live subscription that has one, so a test can check that
    /// the secret is never stored or printed in clear.
    pub fn subscription_client_states(&self) -> Vec<String> {
        self.core.store.lock().subscriptions.values().filter_map(|s| s.client_state.clone()).collect()
    }

    /// Creates the demo tenant (see [`script::seed_demo`]).
    pub fn seed_demo(&self, redirect_uri: &str) -> Result<script::DemoTenant, String> {
        script::seed_demo(&self.core, redirect_uri)
    }

    /// Creates the demo tenant with the given identifiers where they are set (see
    /// [`script::seed_demo_with`]).
    pub fn seed_demo_with(&self, redirect_uri: &str, ids: &script::DemoIds) -> Result<script::DemoTenant, String> {
        script::seed_demo_with(&self.core, redirect_uri, ids)
    }

    /// Delivers every change-notification POST delivered so far once more, in order, as
    /// Graph's at-least-once delivery may; returns how many were answered 2xx.
    pub async fn redeliver(&self) -> usize {
        notify::redeliver(&self.core).await
    }

    /// Forgets every delta and skip token, so the next delta call answers 410.
    pub fn expire_delta_tokens(&self) {
        self.core.store.lock().delta.clear();
    }

    /// Spends the request budget of `app_id` on mailbox `user_id` for the current window, as
    /// another busy client of the same app would: its next requests get 429
    /// `ApplicationThrottled` ("MailboxRequestLimit") with the rest of the window as
    /// `Retry-After`, until the window ends (`throttle.window_secs`, simulated clock) or
    /// [`GraphSim::restore_budget`].
    pub fn exhaust_budget(&self, app_id: &str, user_id: &str) {
        let now = self.core.now();
        let budget = self.core.config.throttle.budget;
        self.core.throttle.lock().windows.insert((app_id.to_owned(), user_id.to_owned()), (now, budget));
    }

    /// Gives `app_id` a fresh request budget on mailbox `user_id`.
    pub fn restore_budget(&self, app_id: &str, user_id: &str) {
        self.core.throttle.lock().windows.remove(&(app_id.to_owned(), user_id.to_owned()));
    }

    /// Replaces the active faults.
    pub fn set_faults(&self, faults: FaultConfig) {
        *self.core.faults.write() = faults;
    }

    /// The active faults.
    pub fn faults(&self) -> FaultConfig {
        self.core.faults()
    }

    /// What the simulator counted so far.
    pub fn stats(&self) -> Stats {
        self.core.stats.lock().clone()
    }

    /// Moves the simulated clock forward; expired subscriptions disappear.
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.core.clock.advance(by);
        router::sweep_expired(&self.core);
    }

    /// Simulated now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.core.now()
    }
}

fn ok_body(resp: Resp) -> Result<Value, Resp> {
    if (200..300).contains(&resp.status) { Ok(resp.body.clone().unwrap_or(Value::Null)) } else { Err(resp) }
}

/// Percent-encodes a path segment or query value.
pub fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

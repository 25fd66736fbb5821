//! A Webex REST simulator that follows the wire behaviour hcal relies on: bearer tokens with
//! Webex's 401 body, personal meeting rooms (`GET /v1/meetingPreferences/personalMeetingRoom`,
//! `hostPin` and all), scheduling, reading and deleting meetings (`/v1/meetings`), Webex's
//! error shape `{"message", "errors": [{"description"}], "trackingId"}`, a `trackingid` header
//! on every response, and switchable faults (429 with `Retry-After`, 5xx, latency).
//!
//! Start one in-process with [`WebexSim::start`]; it listens on a 127.0.0.1 port. The knobs are
//! in [`config`]. Processes that cannot call the methods use the control surface:
//!
//! | method and path | body | effect |
//! | --- | --- | --- |
//! | `POST /_sim/tokens` | `{"token"}` | accept a bearer token (an admin / service-app token) |
//! | `POST /_sim/people` | `{"email", "displayName"}` | add a person; 201 `{"id", "personalRoom"}` |
//! | `GET /_sim/people/{email}/personalRoom` | | the room's [`PersonalRoomSpec`], or 404 |
//! | `PUT /_sim/people/{email}/personalRoom` | a [`PersonalRoomSpec`] | replace the room |
//! | `DELETE /_sim/people/{email}/personalRoom` | | the person has no room from now on |
//! | `GET` / `PUT /_sim/faults` | a [`WebexFaults`] | read or replace the faults |
//! | `GET /_sim/stats` | | the [`WebexStats`] |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hcal_sim::webex::{WebexSim, WebexSimConfig};
//! let sim = WebexSim::start(WebexSimConfig::default()).await?;
//! sim.add_token("admin-token");
//! sim.add_person("alice@contoso.example", "Alice Adams");
//! println!("Webex at {}/v1", sim.url());
//! # Ok(()) }
//! ```

pub mod config;
pub mod core;
pub mod error;
pub mod handlers;
pub mod http;
pub mod model;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, middleware, web};

pub use self::config::{CallInNumber, WebexFaults, WebexSimConfig};
pub use self::core::WebexStats;
pub use self::model::PersonalRoomSpec;

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`WebexSim::stop`] to stop it.
pub struct WebexSim {
    core: Arc<core::Core>,
    url: String,
    server: actix_web::dev::ServerHandle,
}

impl WebexSim {
    /// Starts a simulator on a free 127.0.0.1 port.
    pub async fn start(config: WebexSimConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a simulator on `addr`.
    pub async fn start_on(config: WebexSimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let workers = config.workers.max(1);
        let core = Arc::new(core::Core::new(config));
        let data = web::Data::new(core.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).wrap(middleware::from_fn(http::stamp)).configure(http::routes)
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(addr)?;
        let bound = server.addrs().first().copied().ok_or_else(|| std::io::Error::other("no address bound"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { core, url: format!("http://{bound}"), server: handle })
    }

    /// Base URL (`http://127.0.0.1:PORT`), what a client uses instead of
    /// `https://webexapis.com`; the API is under `/v1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the HTTP server.
    pub async fn stop(self) {
        self.server.stop(false).await;
    }

    /// The shared core, for advanced tests.
    pub fn core(&self) -> &Arc<core::Core> {
        &self.core
    }

    /// Accepts `token` as a bearer token. Every token belongs to the site's admin (or a service
    /// app with admin scopes), so it may act for any person with `userEmail` / `hostEmail`.
    pub fn add_token(&self, token: &str) {
        self.core.store.lock().tokens.insert(token.to_owned());
    }

    /// Stops accepting `token` (as when it expires or is revoked); true if it was accepted.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.core.store.lock().tokens.remove(token)
    }

    /// Adds a person and returns their Webex person id. Unless
    /// [`WebexSimConfig::auto_personal_rooms`] is off, the person gets a personal room at
    /// `https://{site}.webex.com/meet/{localpart}` with SIP address
    /// `{localpart}@{site}.webex.com`, a ten-digit access code, a four-digit host PIN and the
    /// configured call-in numbers. Adding an address again renames the person and keeps the id.
    pub fn add_person(&self, email: &str, display_name: &str) -> String {
        self.core.add_person(email, display_name)
    }

    /// Replaces a person's personal room; false if there is no such person.
    pub fn set_personal_room(&self, email: &str, spec: PersonalRoomSpec) -> bool {
        self.core.set_personal_room(email, Some(spec))
    }

    /// Takes a person's personal room away (the API then answers 404 for them); false if there
    /// is no such person.
    pub fn remove_personal_room(&self, email: &str) -> bool {
        self.core.set_personal_room(email, None)
    }

    /// A person's personal room, `hostPin` included, so tests can check it never leaks.
    pub fn personal_room(&self, email: &str) -> Option<PersonalRoomSpec> {
        self.core.store.lock().person(email).and_then(|p| p.personal_room.as_ref()).map(|r| r.spec.clone())
    }

    /// How many meetings are scheduled (created and not deleted).
    pub fn meeting_count(&self) -> usize {
        self.core.store.lock().meetings.len()
    }

    /// Replaces the active faults.
    pub fn set_faults(&self, faults: WebexFaults) {
        *self.core.faults.write() = faults;
    }

    /// The active faults (the `next_*` counters as far as they have counted down).
    pub fn faults(&self) -> WebexFaults {
        self.core.faults()
    }

    /// What the simulator counted so far.
    pub fn stats(&self) -> WebexStats {
        self.core.stats.lock().clone()
    }

    /// Forgets the counts (not the data), so a test can measure one phase.
    pub fn reset_stats(&self) {
        *self.core.stats.lock() = WebexStats::default();
    }
}

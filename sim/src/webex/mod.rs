//! A Webex REST simulator that follows the wire behaviour hcal relies on: bearer tokens with
//! Webex's 401 body, personal meeting rooms (`GET /v1/meetingPreferences/personalMeetingRoom`,
//! `hostPin` and all), one-time meetings (`/v1/meetings`: schedule, list with Webex's window
//! defaults and `integrationTag`, read, replace, delete), spaces (`/v1/rooms`, their
//! `meetingInfo`, `/v1/memberships`) and messages (`/v1/messages`, the 1:1 spaces they create
//! and `/v1/messages/direct`), the cloud xAPI's `Bookings.Put` on cloud-registered devices
//! (`POST /v1/xapi/command/Bookings.Put`, scope `spark:xapi_commands`), Webex's error shape `{"message", "errors": [{"description"}],
//! "trackingId"}`, a `trackingid` header on every response, `Link` headers on long lists, and
//! switchable faults (429 with `Retry-After`, 5xx, latency) on every endpoint.
//!
//! Every token belongs to the site admin (or a service app with admin scopes): meetings are
//! scheduled, read, changed and deleted for a user by naming them with `hostEmail`, and spaces
//! and messages are the admin's own. Scopes are modelled where hcal depends on them: a token
//! added with [`WebexSim::add_token_with_scopes`] carries only those, and the xAPI answers 403
//! without `spark:xapi_commands`. Time comes from a simulated clock (real time plus an
//! offset [`WebexSim::advance_clock`] moves), so "start in the past" is judged against it.
//! The wire facts and the choices made where Webex's documentation is silent are in
//! `docs/webex-simulator.md`.
//!
//! Start one in-process with [`WebexSim::start`]; it listens on a 127.0.0.1 port. The knobs are
//! in [`config`]. Processes that cannot call the methods use the control surface:
//!
//! | method and path | body | effect |
//! | --- | --- | --- |
//! | `POST /_sim/tokens` | `{"token", "scopes"?}` | accept a bearer token (an admin / service-app token with every scope, or only `scopes`) |
//! | `POST /_sim/people` | `{"email", "displayName"}` | add a person; 201 `{"id", "personalRoom"}` |
//! | `GET /_sim/people/{email}/personalRoom` | | the room's [`PersonalRoomSpec`], or 404 |
//! | `PUT /_sim/people/{email}/personalRoom` | a [`PersonalRoomSpec`] | replace the room |
//! | `DELETE /_sim/people/{email}/personalRoom` | | the person has no room from now on |
//! | `GET` / `PUT /_sim/faults` | a [`WebexFaults`] | read or replace the faults |
//! | `GET /_sim/stats` | | the [`WebexStats`] (requests, statuses, creates, updates, deletes) |
//! | `POST /_sim/clock/advance` | `{"seconds"}` | move simulated time forward; 200 `{"now"}` |
//! | `GET /_sim/meetings` | | `{"items"}`: every meeting, whoever hosts it, with `invitees` |
//! | `GET /_sim/rooms` | | `{"items"}`: every space with `members` (addresses) and `meetingInfo` |
//! | `POST /_sim/devices` | `{"deviceId"}` | register a cloud device for the xAPI |
//! | `GET /_sim/devices/{id}/bookings` | | `{"Bookings"}`: the device's list as `Bookings.Put` left it |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hcal_sim::webex::{WebexSim, WebexSimConfig};
//! let sim = WebexSim::start(WebexSimConfig::default()).await?;
//! sim.add_token("admin-token");
//! sim.add_person("alex@contoso.example", "Alex Wilber");
//! println!("Webex at {}/v1", sim.url());
//! # Ok(()) }
//! ```

pub mod config;
pub mod core;
pub mod error;
pub mod handlers;
pub mod http;
pub mod model;
pub mod space;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, middleware, web};
use chrono::{DateTime, Utc};

pub use self::config::{CallInNumber, WebexFaults, WebexSimConfig};
pub use self::core::WebexStats;
pub use self::model::{Invitee, Meeting, MeetingOptions, PersonalRoomSpec};
pub use self::space::{Membership, Message, Room, RoomKind, SpaceMeeting};

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
        let mut store = self.core.store.lock();
        store.token_scopes.remove(token);
        store.tokens.insert(token.to_owned());
    }

    /// Accepts `token` as a bearer token that carries only `scopes` (e.g. an integration's
    /// token with `spark:xapi_commands` and nothing else); endpoints that model scopes answer
    /// 403 when theirs is missing.
    pub fn add_token_with_scopes(&self, token: &str, scopes: &[&str]) {
        let mut store = self.core.store.lock();
        store.token_scopes.insert(token.to_owned(), scopes.iter().map(|s| (*s).to_owned()).collect());
        store.tokens.insert(token.to_owned());
    }

    /// Registers a cloud RoomOS device with id `device_id` (without bookings), which the cloud
    /// xAPI's `Bookings.Put` may then reach.
    pub fn add_device(&self, device_id: &str) {
        self.core.store.lock().devices.entry(device_id.to_owned()).or_default();
    }

    /// A cloud device's list as the last `Bookings.Put` left it; `None` for an unknown device.
    pub fn device_bookings(&self, device_id: &str) -> Option<Vec<serde_json::Value>> {
        self.core.store.lock().devices.get(device_id).map(|d| d.bookings.clone())
    }

    /// How many `Bookings.Put` commands a cloud device carried out.
    pub fn device_puts(&self, device_id: &str) -> Option<u64> {
        self.core.store.lock().devices.get(device_id).map(|d| d.puts)
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

    /// Every scheduled meeting, whoever hosts it, earliest start first: what "the platform
    /// shows" after a client created, moved or deleted meetings.
    pub fn meetings(&self) -> Vec<Meeting> {
        let mut all: Vec<Meeting> = self.core.store.lock().meetings.values().cloned().collect();
        all.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        all
    }

    /// The scheduled meeting with `id`, if it exists (not after it was deleted).
    pub fn meeting(&self, id: &str) -> Option<Meeting> {
        self.core.store.lock().meetings.get(id).cloned()
    }

    /// The scheduled meetings carrying integration tag `tag`, earliest start first.
    pub fn meetings_tagged(&self, tag: &str) -> Vec<Meeting> {
        self.meetings().into_iter().filter(|m| m.integration_tags.iter().any(|t| t == tag)).collect()
    }

    /// The meetings deleted through the API, oldest deletion first, as they were then.
    pub fn deleted_meetings(&self) -> Vec<Meeting> {
        self.core.store.lock().deleted_meetings.clone()
    }

    /// Every space, direct ones included, oldest first.
    pub fn rooms(&self) -> Vec<Room> {
        let mut all: Vec<Room> = self.core.store.lock().rooms.values().cloned().collect();
        all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        all
    }

    /// The space with `id`, if it exists.
    pub fn room(&self, id: &str) -> Option<Room> {
        self.core.store.lock().rooms.get(id).cloned()
    }

    /// The members of space `id`, in the order they joined (the creator first); `None` when
    /// there is no such space.
    pub fn room_members(&self, id: &str) -> Option<Vec<Membership>> {
        let store = self.core.store.lock();
        store.rooms.contains_key(id).then(|| store.members_of(id).cloned().collect())
    }

    /// The token identity's 1:1 space with the person `email`, if a message created one.
    pub fn direct_room(&self, email: &str) -> Option<Room> {
        let store = self.core.store.lock();
        let person = store.person(email)?;
        store.direct_room(&self.core.admin_id, &person.id).cloned()
    }

    /// The messages of space `room_id`, oldest first.
    pub fn messages(&self, room_id: &str) -> Vec<Message> {
        self.core.store.lock().messages.iter().filter(|m| m.room_id == room_id).cloned().collect()
    }

    /// The e-mail address of the identity behind every token (the site admin), who hosts
    /// meetings scheduled without `hostEmail` and owns every space and message.
    pub fn admin_email(&self) -> &str {
        &self.core.config.admin_email
    }

    /// The simulated "now" that meeting times are judged against.
    pub fn now(&self) -> DateTime<Utc> {
        self.core.now()
    }

    /// Moves the simulated clock forward, e.g. past a meeting's end to see it `expired`.
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.core.clock.advance(by);
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

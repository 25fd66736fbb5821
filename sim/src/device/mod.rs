//! A simulator of Cisco room video devices, the receivers of "One Button To Push": each
//! device stores a list of bookings that a calendar service replaces whole, and shows a Join
//! button for the ones with a number to dial.
//!
//! One simulator serves any number of devices on one 127.0.0.1 port, each under its own path
//! prefix: device `room-1` is at `{url}/devices/room-1` ([`DeviceSim::url_of`]), which is the
//! address a client is given for it. Per device:
//!
//! | method and path | body | answer |
//! | --- | --- | --- |
//! | `POST /devices/{id}/putxml` | `<Command><Bookings><Put><body>{json}</body></Put></Bookings></Command>` | 200 `<Command><BookingsPutResult status="OK"/></Command>`; a refused list: 200 `status="Error"` with a `<Reason>`; a legacy device: 200 `<Result status="Error"><Reason>Unknown command</Reason>`; not well-formed XML: 400 |
//! | `POST /devices/{id}/bookingsputxml` | `<Bookings status="OK"><Booking>…</Booking></Bookings>` | 200 with an empty body; a document it cannot read: 400 with a `<Reason>` |
//! | `GET /_sim/devices/{id}/bookings` | | `{"Bookings": [...]}`, the stored list exactly as `Bookings Put` takes it |
//!
//! Both pushes need the device's admin account as HTTP Basic credentials (401 with
//! `WWW-Authenticate: Basic realm=…` otherwise) and replace the whole list, or leave it
//! untouched when refused. What the simulator checks of the JSON is in [`model`]; the answers
//! and which of them are documented device behaviour are in [`error`].
//!
//! Tests switch a device offline ([`DeviceSim::set_offline`]: every connection to it is reset,
//! a transport-level failure, see [`front`]) or slow ([`DeviceSim::set_delay`]), and read what it
//! received ([`DeviceSim::puts`], [`DeviceSim::bookings`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hcal_sim::device::{DeviceSim, DeviceSimConfig, DeviceSpec};
//! let sim = DeviceSim::start(DeviceSimConfig::default()).await?;
//! sim.add_device(DeviceSpec::roomos("room-1", "admin", "device-password"));
//! println!("push to {}/putxml", sim.url_of("room-1"));
//! # Ok(()) }
//! ```

pub mod config;
pub mod core;
pub mod error;
pub mod front;
pub mod handlers;
pub mod http;
pub mod model;
pub mod xml;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::KeepAlive;
use actix_web::{App, HttpServer, web};
use serde_json::Value;

pub use self::config::{DeviceKind, DeviceSimConfig, DeviceSpec};
pub use self::core::PutCounts;

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`DeviceSim::stop`] to stop it.
pub struct DeviceSim {
    core: Arc<core::Core>,
    url: String,
    server: actix_web::dev::ServerHandle,
    front: tokio::task::JoinHandle<()>,
}

impl DeviceSim {
    /// Starts a simulator on a free 127.0.0.1 port.
    pub async fn start(config: DeviceSimConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a simulator listening on `addr`.
    pub async fn start_on(config: DeviceSimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let workers = config.workers.max(1);
        let max_body = config.max_body;
        let core = Arc::new(core::Core::new(config));
        let data = web::Data::new(core.clone());
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).configure(|c| http::routes(c, max_body)))
                .workers(workers)
                // One answer per connection, so the front judges every request (see `front`).
                .keep_alive(KeepAlive::Disabled)
                .disable_signals()
                .shutdown_timeout(1)
                .bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let backend = server.addrs().first().copied().ok_or_else(|| std::io::Error::other("no address bound"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let front = tokio::spawn(front::serve(listener, backend, core.clone()));
        Ok(Self { core, url: format!("http://{bound}"), server: handle, front })
    }

    /// Base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address of device `id`: `{url}/devices/{id}`, what a client puts `/putxml` after.
    pub fn url_of(&self, id: &str) -> String {
        format!("{}/devices/{id}", self.url)
    }

    /// Stops listening and stops the HTTP server.
    pub async fn stop(self) {
        self.front.abort();
        self.server.stop(false).await;
    }

    /// The shared core, for advanced tests.
    pub fn core(&self) -> &Arc<core::Core> {
        &self.core
    }

    /// Adds a device (online, answering at once, without bookings), or replaces the one with
    /// that id.
    pub fn add_device(&self, spec: DeviceSpec) {
        self.core.devices.lock().insert(spec.id.clone(), core::Device::new(spec));
    }

    /// Switches device `id` offline (every connection to it is reset) or back online; false if
    /// there is no such device.
    pub fn set_offline(&self, id: &str, offline: bool) -> bool {
        self.core.with(id, |d| d.offline = offline).is_some()
    }

    /// Makes device `id` wait `delay` before it answers anything; false if there is no such
    /// device.
    pub fn set_delay(&self, id: &str, delay: Duration) -> bool {
        self.core.with(id, |d| d.delay = delay).is_some()
    }

    /// What device `id` counted of the pushes it received.
    pub fn puts(&self, id: &str) -> Option<PutCounts> {
        self.core.with(id, |d| d.puts)
    }

    /// Device `id`'s stored list, each booking in the shape `Bookings Put` takes it.
    pub fn bookings(&self, id: &str) -> Option<Vec<Value>> {
        self.core.with(id, |d| d.bookings.clone())
    }
}

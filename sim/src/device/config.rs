//! Every knob of the device simulator and the description of one simulated device.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Configuration of one simulator instance (one listener serving any number of devices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceSimConfig {
    /// The realm of the `WWW-Authenticate: Basic` challenge a refused request gets. Default
    /// `RoomOS`; real devices vary it by software release, so clients must not depend on it.
    pub realm: String,
    /// Worker threads of the HTTP server. Default 2.
    pub workers: usize,
    /// Largest request body accepted, in bytes. Default 1 MiB: a day of bookings for a busy
    /// room is a few tens of kilobytes.
    pub max_body: usize,
}

impl Default for DeviceSimConfig {
    fn default() -> Self {
        Self { realm: "RoomOS".to_owned(), workers: 2, max_body: 1024 * 1024 }
    }
}

/// Which software a simulated device runs, which decides the booking commands it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceKind {
    /// RoomOS 10 or later: takes `xCommand Bookings Put` through `/putxml` (and still the
    /// TMS-era `/bookingsputxml` document).
    #[serde(rename = "roomos")]
    RoomOs,
    /// TC / CE software from before `Bookings Put`: takes only `/bookingsputxml`; a
    /// `Bookings Put` through `/putxml` is answered as an unknown command.
    #[serde(rename = "legacy")]
    Legacy,
}

/// One simulated device: its id (the path prefix `/devices/{id}`), its admin account and its
/// software.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// Path-safe id, e.g. `room-1`.
    pub id: String,
    /// Username of the device's admin account (HTTP Basic).
    pub username: String,
    /// Its password.
    pub password: String,
    /// The device's software.
    pub kind: DeviceKind,
}

impl DeviceSpec {
    /// A RoomOS device.
    pub fn roomos(id: &str, username: &str, password: &str) -> Self {
        Self {
            id: id.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            kind: DeviceKind::RoomOs,
        }
    }

    /// A legacy TC / CE device.
    pub fn legacy(id: &str, username: &str, password: &str) -> Self {
        Self { kind: DeviceKind::Legacy, ..Self::roomos(id, username, password) }
    }
}

impl fmt::Debug for DeviceSpec {
    // Written out so a test log never shows the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSpec")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("kind", &self.kind)
            .finish()
    }
}

//! `GET /_sim/devices/{id}/bookings`: a device's list as `{"Bookings": [...]}`, exactly the
//! body `Bookings Put` takes, for the demo and for people looking at what a room shows.

use serde_json::{Value, json};

use crate::device::core::Core;

/// The list of device `id`, or `None` when there is no such device.
pub fn bookings(core: &Core, id: &str) -> Option<Value> {
    core.with(id, |d| json!({ "Bookings": d.bookings }))
}

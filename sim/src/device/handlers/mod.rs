//! One file per device endpoint. Handlers are plain functions over the core: the HTTP layer
//! ([`super::http`]) has already found the device, waited out its delay and checked its
//! credentials.

pub mod bookings_put_xml;
pub mod control;
pub mod putxml;

use serde_json::Value;

use super::core::Core;
use super::error::DeviceError;

/// Replaces device `id`'s whole list (what both booking commands do) and counts the push.
fn replace(core: &Core, id: &str, bookings: Vec<Value>) -> Result<(), DeviceError> {
    core.with(id, |d| {
        d.bookings = bookings;
        d.puts.accepted += 1;
    })
    .ok_or(DeviceError::UnknownDevice)
}

/// The body as text; devices take UTF-8 only.
fn utf8(body: &[u8]) -> Result<&str, DeviceError> {
    std::str::from_utf8(body).map_err(|_| DeviceError::MalformedXml("the body is not UTF-8".to_owned()))
}

//! `POST /bookingsputxml`: the whole list as the TMS-era `<Bookings>` document, which TC / CE
//! devices take (and RoomOS ones still do). The list is stored normalised to the shape
//! `Bookings Put` takes, so both read back alike.

use super::{replace, utf8};
use crate::device::core::Core;
use crate::device::error::DeviceError;
use crate::device::model::legacy_document;
use crate::device::xml::Element;

/// Replaces device `id`'s list with the document in `body`.
pub fn handle(core: &Core, id: &str, body: &[u8]) -> Result<(), DeviceError> {
    let root = Element::parse(utf8(body)?).map_err(DeviceError::MalformedXml)?;
    let bookings = legacy_document(&root).map_err(DeviceError::InvalidDocument)?;
    replace(core, id, bookings)
}

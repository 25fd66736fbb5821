//! `POST /putxml`: an xAPI command as XML. The simulator knows one command,
//! `<Command><Bookings><Put><body>{json}</body></Put></Bookings></Command>`, which replaces
//! the device's list with the bookings in the JSON; RoomOS devices know it, legacy ones answer
//! it as an unknown command.

use super::{replace, utf8};
use crate::device::config::DeviceKind;
use crate::device::core::Core;
use crate::device::error::{DeviceError, ok_result};
use crate::device::model::bookings_put;
use crate::device::xml::Element;

/// Result element of `Bookings Put`.
pub const RESULT: &str = "BookingsPutResult";

/// Runs the command in `body` on device `id`; `Ok` carries the success answer.
pub fn handle(core: &Core, id: &str, kind: DeviceKind, body: &[u8]) -> Result<String, DeviceError> {
    let root = Element::parse(utf8(body)?).map_err(DeviceError::MalformedXml)?;
    if root.name != "Command" {
        return Err(DeviceError::MalformedXml("the root element must be Command".to_owned()));
    }
    let Some(put) = root.at(&["Bookings", "Put"]) else { return Err(DeviceError::UnknownCommand) };
    if kind == DeviceKind::Legacy {
        return Err(DeviceError::UnknownCommand);
    }
    let refuse = |reason: String| DeviceError::Command { result: RESULT, reason };
    let text = put.child("body").map(|b| b.text.as_str()).ok_or_else(|| refuse("body is required".to_owned()))?;
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| refuse(format!("Invalid JSON: {e}")))?;
    let bookings = bookings_put(&json).map_err(refuse)?;
    replace(core, id, bookings)?;
    Ok(ok_result(RESULT))
}

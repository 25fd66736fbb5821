//! `GET /v1/meetingPreferences/personalMeetingRoom?userEmail=…`.

use super::Reply;
use crate::webex::core::Core;
use crate::webex::error::WebexError;

/// Stats key of this endpoint.
pub const ENDPOINT: &str = "GET /v1/meetingPreferences/personalMeetingRoom";

/// A user's personal room options, `hostPin` included (Webex returns it to admins; keeping it
/// out of invitations is the client's job, and tests check that it does).
pub fn get(core: &Core, query: &[(String, String)]) -> Result<Reply, WebexError> {
    // Every simulated token belongs to an admin or a service app, which has no room of its own,
    // so the user must be named. Webex names query parameters case-sensitively.
    let email = query.iter().find(|(k, _)| k == "userEmail").map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let Some(email) = email else {
        return Err(WebexError::bad_request("userEmail is required with an admin or service-app token."));
    };
    let store = core.store.lock();
    let room = store.person(email).and_then(|p| p.personal_room.as_ref()).ok_or_else(WebexError::not_found)?;
    Ok(Reply::Json(room.render(&core.config.dial_in_ip_address)))
}

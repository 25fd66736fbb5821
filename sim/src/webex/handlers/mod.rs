//! One file per Webex endpoint. Handlers are plain functions over the core: the HTTP layer
//! ([`super::http`]) has already counted, delayed, authenticated and fault-injected the request.

pub mod meetings;
pub mod personal_room;

use serde_json::Value;

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200 with a JSON body.
    Json(Value),
    /// 204 without a body.
    NoContent,
}

//! Error bodies exactly as the Webex REST API shapes them:
//! `{"message": "...", "errors": [{"description": "..."}], "trackingId": "..."}`.

use serde_json::{Value, json};

/// The message Webex sends with every 401.
pub const UNAUTHORIZED: &str = "The request requires a valid access token set in the Authorization request header.";

/// A Webex API error: status plus the message that goes into the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebexError {
    /// HTTP status.
    pub status: u16,
    /// `message` and `errors[0].description`.
    pub message: String,
    /// `Retry-After` in whole seconds, for 429.
    pub retry_after: Option<u64>,
}

impl WebexError {
    /// A new error.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after: None }
    }

    /// 400 for an invalid request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 401 for a missing, malformed or unknown token.
    pub fn unauthorized() -> Self {
        Self::new(401, UNAUTHORIZED)
    }

    /// 403 for a token without the scope an endpoint needs.
    pub fn forbidden() -> Self {
        Self::new(403, "The request is understood, but it has been refused or access is not allowed.")
    }

    /// 404 for an unknown resource.
    pub fn not_found() -> Self {
        Self::new(404, "The requested resource could not be found.")
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "The requested method is not supported for this resource.")
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(429, "Too many requests have been sent in a given amount of time. Please retry later.")
        }
    }

    /// An injected server error.
    pub fn server_error(status: u16) -> Self {
        let message = match status {
            502 => "Bad gateway.",
            503 => "Service is temporarily unavailable. Please retry later.",
            504 => "Gateway timeout.",
            _ => "Internal server error.",
        };
        Self::new(status, message)
    }

    /// The JSON body, carrying the response's tracking id.
    pub fn body(&self, tracking_id: &str) -> Value {
        json!({
            "message": self.message,
            "errors": [{"description": self.message}],
            "trackingId": tracking_id,
        })
    }
}

//! Error bodies exactly as Graph and Entra ID shape them.

use serde_json::{Value, json};

/// A Graph error: status plus the `{"error":{"code","message","innerError"}}` envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    /// HTTP status.
    pub status: u16,
    /// `error.code`, the field clients branch on.
    pub code: String,
    /// `error.message`, for humans.
    pub message: String,
    /// `Retry-After` in seconds, for 429 and 503.
    pub retry_after: Option<f64>,
}

impl GraphError {
    /// A new error with the given status, code and message.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_owned(), message: message.into(), retry_after: None }
    }

    /// 400 `ErrorInvalidRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "ErrorInvalidRequest", message)
    }

    /// 400 `InvalidRequest`, the code the subscription service uses.
    pub fn invalid_subscription(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", message)
    }

    /// 404 `ErrorItemNotFound`.
    pub fn item_not_found() -> Self {
        Self::new(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    }

    /// 404 `ResourceNotFound` (subscriptions, unknown segments).
    pub fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFound", message)
    }

    /// 401 `InvalidAuthenticationToken`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, "InvalidAuthenticationToken", message)
    }

    /// 403 `ErrorAccessDenied` for a mailbox outside the application access policy.
    pub fn raop() -> Self {
        Self::new(
            403,
            "ErrorAccessDenied",
            "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
        )
    }

    /// 403 `ErrorAccessDenied` for a missing permission.
    pub fn access_denied() -> Self {
        Self::new(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    }

    /// 404 `MailboxNotEnabledForRESTAPI`.
    pub fn mailbox_not_enabled() -> Self {
        Self::new(
            404,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        )
    }

    /// 429 with `Retry-After`.
    pub fn throttled(code: &str, message: &str, retry_after: f64) -> Self {
        Self { retry_after: Some(retry_after), ..Self::new(429, code, message) }
    }

    /// 405 for a method a resource does not support.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "ErrorInvalidRequest", "The OData request is not supported.")
    }

    /// The JSON body, with `innerError` carrying the request ids and date.
    pub fn body(&self, request_id: &str, client_request_id: &str, date: &str) -> Value {
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id,
            }
        }})
    }
}

/// An Entra ID (login endpoint) error: `{"error","error_description","error_codes",…}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AadError {
    /// HTTP status (400 or 401).
    pub status: u16,
    /// OAuth error, e.g. `invalid_client`.
    pub error: &'static str,
    /// The AADSTS number.
    pub aadsts: u32,
    /// Description after the `AADSTSnnnn: ` prefix.
    pub description: String,
}

impl AadError {
    /// The JSON body Entra ID sends; the description ends with the trace id, correlation id
    /// and timestamp on lines of their own (`\r\n`), as Entra ID writes them.
    pub fn body(&self, trace_id: &str, correlation_id: &str, timestamp: &str) -> Value {
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.aadsts, self.description
            ),
            "error_codes": [self.aadsts],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        })
    }
}

//! The one error of the HTTP edge and the one JSON shape every failing answer has:
//!
//! ```json
//! {"error": {"code": "malformed_body", "message": "the body is not valid JSON (line 1, column 9)"}}
//! ```
//!
//! `code` is a fixed snake_case vocabulary ([`ErrorKind::code`]), `message` a sentence for
//! people. Neither ever quotes what the request carried (subjects, addresses, tokens, field
//! names): a message is fixed text, or built only from values hcal parsed and checked itself
//! (a tenant GUID, a count, a line number). The cause is kept as the error's source for the
//! log and never reaches the body; sources are built so they carry no request content either.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

/// What went wrong, as a client sees it: the status and the `error.code` of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 401: the bearer token is missing or wrong (or no token is configured).
    Unauthorized,
    /// 403: the credential is valid but does not open this (another user's list, the admin
    /// token on the user API).
    Forbidden,
    /// 404: no endpoint at this path.
    NotFound,
    /// 404: a user hcal does not know (never enabled).
    UnknownUser,
    /// 404: a token hcal never issued.
    UnknownToken,
    /// 404: a device hcal does not know.
    UnknownDevice,
    /// 400: a device's kind, address or credentials that cannot work.
    InvalidDevice,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 413: the body is larger than `max_body_bytes`.
    PayloadTooLarge,
    /// 415: a JSON body without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 400: the body is not JSON, or not of the shape the endpoint expects.
    MalformedBody,
    /// 400: the query string does not fit the endpoint.
    InvalidQuery,
    /// 400: a path segment does not fit the endpoint.
    InvalidPath,
    /// 400: a user id (path or body) is not a GUID.
    InvalidUserId,
    /// 400: `GET /admin/v1/logs/{topic}` names no log hcal has.
    UnknownLog,
    /// 400: a meeting list's window is reversed, too long or outside the representable years.
    InvalidWindow,
    /// 400: a value is well-formed but not acceptable (e.g. the testing clock moved backwards).
    InvalidRequest,
    /// 400: the testing endpoints are off in this installation.
    TestingDisabled,
    /// 400: the mailbox to check is neither a user principal name nor an object id.
    InvalidMailbox,
    /// 400: a tenant that is neither a GUID nor `organizations`.
    InvalidTenant,
    /// 400: a tenant this installation does not serve.
    TenantNotConfigured,
    /// 400: a consent link's redirect URI that is not an absolute http(s) URL.
    InvalidRedirectUri,
    /// 400: the consent callback's state is missing, forged, expired or replayed.
    InvalidConsentState,
    /// 400: the consent callback is authentic but records no tenant (declined, wrong tenant…).
    ConsentRefused,
    /// 400: a webhook validation token that is empty, too long or has control characters.
    InvalidValidationToken,
    /// 408: the webhook's body did not arrive within `service.webhook_body_timeout`.
    RequestTimeout,
    /// 500: hcal failed in a way retrying does not fix.
    Internal,
    /// 503: the store or a mailbox's owner failed; try again.
    Unavailable,
}

impl ErrorKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [Self; 28] = [
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::UnknownUser,
        Self::UnknownToken,
        Self::UnknownDevice,
        Self::InvalidDevice,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::MalformedBody,
        Self::InvalidQuery,
        Self::InvalidPath,
        Self::InvalidUserId,
        Self::UnknownLog,
        Self::InvalidWindow,
        Self::InvalidRequest,
        Self::TestingDisabled,
        Self::InvalidMailbox,
        Self::InvalidTenant,
        Self::TenantNotConfigured,
        Self::InvalidRedirectUri,
        Self::InvalidConsentState,
        Self::ConsentRefused,
        Self::InvalidValidationToken,
        Self::RequestTimeout,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The answer's status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound | Self::UnknownUser | Self::UnknownToken | Self::UnknownDevice => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MalformedBody
            | Self::InvalidQuery
            | Self::InvalidPath
            | Self::InvalidUserId
            | Self::UnknownLog
            | Self::InvalidWindow
            | Self::InvalidRequest
            | Self::TestingDisabled
            | Self::InvalidMailbox
            | Self::InvalidTenant
            | Self::TenantNotConfigured
            | Self::InvalidRedirectUri
            | Self::InvalidConsentState
            | Self::ConsentRefused
            | Self::InvalidValidationToken
            | Self::InvalidDevice => StatusCode::BAD_REQUEST,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The answer's `error.code`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::UnknownUser => "unknown_user",
            Self::UnknownToken => "unknown_token",
            Self::UnknownDevice => "unknown_device",
            Self::InvalidDevice => "invalid_device",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MalformedBody => "malformed_body",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidPath => "invalid_path",
            Self::InvalidUserId => "invalid_user_id",
            Self::UnknownLog => "unknown_log",
            Self::InvalidWindow => "invalid_window",
            Self::InvalidRequest => "invalid_request",
            Self::TestingDisabled => "testing_disabled",
            Self::InvalidMailbox => "invalid_mailbox",
            Self::InvalidTenant => "invalid_tenant",
            Self::TenantNotConfigured => "tenant_not_configured",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidConsentState => "invalid_consent_state",
            Self::ConsentRefused => "consent_refused",
            Self::InvalidValidationToken => "invalid_validation_token",
            Self::RequestTimeout => "request_timeout",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A cause kept for the log.
type Source = Box<dyn StdError + Send + Sync + 'static>;

/// A failure at the HTTP edge: a kind (status and code), a message for people, optionally a
/// source (the cause, for the log) and a `Retry-After`.
pub struct ApiError {
    kind: ErrorKind,
    message: Cow<'static, str>,
    source: Option<Source>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error of `kind`. `message` must not quote request content.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind, message: message.into(), source: None, retry_after: None }
    }

    /// Keeps `source` as the cause, for the log. It must not carry request content.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Answers with `Retry-After: {seconds}` (whole seconds, as the header is written), for a
    /// 503 the client should retry after a known time.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized, "a valid bearer token is required")
    }

    /// 503 with `source` as the cause: the store or a mailbox's owner failed.
    pub fn unavailable(source: impl Into<Source>) -> Self {
        Self::new(ErrorKind::Unavailable, "hcal is temporarily unable to answer; try again").with_source(source)
    }

    /// 500 with `source` as the cause.
    pub fn internal(source: impl Into<Source>) -> Self {
        Self::new(ErrorKind::Internal, "hcal failed to answer this request").with_source(source)
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message (`error.message`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The body of the answer.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.kind.code().to_owned(), message: self.message.to_string() } }
    }

    /// The source and its causes, `: `-separated.
    fn cause(&self) -> Option<String> {
        let mut next: Option<&(dyn StdError + 'static)> = self.source.as_deref().map(|s| s as _);
        let mut parts = Vec::new();
        while let Some(e) = next {
            parts.push(e.to_string());
            next = e.source();
        }
        (!parts.is_empty()).then(|| parts.join(": "))
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.kind.code())
            .field("message", &self.message)
            .field("cause", &self.cause())
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let cause = self.cause();
        // Server failures are the operator's to fix; client errors are the client's, and at
        // info level a flood of bad requests would drown the log.
        if status.is_server_error() {
            tracing::error!(
                code = self.kind.code(),
                status = status.as_u16(),
                cause = cause.as_deref(),
                "request failed"
            );
        } else {
            tracing::debug!(
                code = self.kind.code(),
                status = status.as_u16(),
                cause = cause.as_deref(),
                "request refused"
            );
        }
        let mut response = HttpResponse::build(status);
        if self.kind == ErrorKind::Unauthorized {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        response.json(self.body())
    }
}

/// The body of every failing answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// `error` of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// [`ErrorKind::code`].
    pub code: String,
    /// For people; never quotes the request.
    pub message: String,
}

/// Where a JSON body went wrong, without any of its content (serde's own messages quote
/// values and field names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("JSON {category} error at line {line}, column {column}")]
pub struct JsonProblem {
    /// `syntax`, `data`, `eof` or `io`.
    pub category: &'static str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl From<&serde_json::Error> for JsonProblem {
    fn from(e: &serde_json::Error) -> Self {
        let category = match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        };
        Self { category, line: e.line(), column: e.column() }
    }
}

impl JsonProblem {
    /// The message for a client: what kind of problem and where.
    pub fn message(&self) -> String {
        let what = match self.category {
            "data" => "the body does not have the fields and types this endpoint expects",
            "eof" => "the body ends before its JSON does",
            _ => "the body is not valid JSON",
        };
        format!("{what} (line {}, column {})", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_snake_case(s: &str) -> bool {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !s.starts_with('_')
    }

    #[test]
    fn every_kind_has_a_distinct_snake_case_code_and_an_error_status() {
        let mut codes = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(is_snake_case(kind.code()), "{kind:?}");
            assert!(codes.insert(kind.code()), "{kind:?} shares its code");
            assert!(kind.status().is_client_error() || kind.status().is_server_error(), "{kind:?}");
        }
    }

    #[test]
    fn the_body_has_the_one_shape_and_the_source_stays_out() {
        let e = ApiError::unavailable(std::io::Error::other("disk full at /var/lib/secret")).with_retry_after(2);
        let body = serde_json::to_value(e.body()).unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert_eq!(body["error"].as_object().unwrap().len(), 2, "code and message only: {body}");
        assert!(!body.to_string().contains("disk full"), "{body}");
        assert_eq!(e.cause().as_deref(), Some("disk full at /var/lib/secret"));
        let response = e.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("2"));
        assert!(ApiError::unauthorized().error_response().headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn json_problems_quote_nothing_of_the_input() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            user_id: String,
        }
        for input in [r#"{"SENTINEL": 1}"#, r#"{"user_id": 7, "x": "SENTINEL"}"#, "SENTINEL", r#"{"user_id": "#] {
            let e = serde_json::from_str::<Body>(input).unwrap_err();
            let problem = JsonProblem::from(&e);
            for text in [problem.message(), problem.to_string()] {
                assert!(!text.contains("SENTINEL") && !text.contains("user_id"), "{text}");
            }
        }
    }
}

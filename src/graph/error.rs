//! Classification of Graph and Entra ID error answers. Decisions branch on the status and
//! `error.code` only: messages are for humans, change without notice and may quote data.

use hcal_actors::ports::GraphFailure;
use serde::Deserialize;
use serde_json::Value;

use super::retry::RetryKind;

/// Code used when an error answer carries no parsable code (a proxy's HTML page, an empty body).
pub(crate) const NO_CODE: &str = "UnknownError";

/// What an HTTP status (and Graph code) means for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// 2xx.
    Success,
    /// 401 `InvalidAuthenticationToken`: the cached token is no longer accepted (expired early,
    /// revoked, clock skew); fetch a new one and try once more.
    Reauthenticate,
    /// Worth another attempt.
    Retry(RetryKind),
    /// Final answer; the operation decides (e.g. 404 on a read is "gone"), else [`refusal`].
    Refused,
}

/// Graph's answer `status` with error `code` (empty for successes).
pub(crate) fn disposition(status: u16, code: &str) -> Disposition {
    match status {
        200..=299 => Disposition::Success,
        401 if code.eq_ignore_ascii_case("InvalidAuthenticationToken") => Disposition::Reauthenticate,
        429 | 503 => Disposition::Retry(RetryKind::Throttled),
        // 408: the server gave up waiting for us; 500/502/504 and friends: the service had a
        // problem. 501 and 505 say the request can never work.
        408 | 500 | 502 | 504 | 506..=599 => Disposition::Retry(RetryKind::Transient),
        _ => Disposition::Refused,
    }
}

/// The failure for a final (refused) Graph answer.
///
/// - 412 (any code) and 409 `ErrorIrresolvableConflict` → `Conflict`: the `If-Match` change
///   key is stale. Exchange reports change-key races with either status.
/// - `ErrorAccessDenied` (403: missing permission or outside the application access policy),
///   `MailboxNotEnabledForRESTAPI` (unlicensed, inactive or on-premises mailbox) and
///   `ErrorInvalidUser` (the user object no longer exists) → `NotInScope`: states of the
///   mailbox or tenant that an administrator changes, not something a retry fixes.
/// - Everything else → `Fatal { status, code }`.
pub(crate) fn refusal(status: u16, code: &str) -> GraphFailure {
    const NOT_IN_SCOPE: [&str; 3] = ["ErrorAccessDenied", "MailboxNotEnabledForRESTAPI", "ErrorInvalidUser"];
    if status == 412 || (status == 409 && code.eq_ignore_ascii_case("ErrorIrresolvableConflict")) {
        GraphFailure::Conflict
    } else if NOT_IN_SCOPE.iter().any(|c| c.eq_ignore_ascii_case(code)) {
        GraphFailure::NotInScope { code: code.to_owned() }
    } else {
        GraphFailure::Fatal { status, code: code.to_owned() }
    }
}

/// `error.code` of a Graph error envelope `{"error":{"code":…,"message":…}}`.
pub(crate) fn graph_error_code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.get("code")?.as_str().map(str::to_owned))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| NO_CODE.to_owned())
}

/// An Entra ID token endpoint error: `{"error":"invalid_client","error_codes":[7000215],…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct AadError {
    /// OAuth error (`invalid_client`, `unauthorized_client`, …).
    #[serde(default)]
    pub error: String,
    /// AADSTS numbers (`7000215` for a wrong secret, …).
    #[serde(default)]
    pub error_codes: Vec<u64>,
}

impl AadError {
    /// Parses a token endpoint error body; unknown shapes give an empty error.
    pub(crate) fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// The failure for a 4xx answer of the token endpoint. None of these is retryable.
    ///
    /// - `unauthorized_client` (AADSTS700016: the app is not installed in the tenant, or its
    ///   consent was withdrawn), AADSTS90002 (tenant not found, e.g. deleted) and
    ///   `invalid_grant` AADSTS7000112 (the app is disabled in the tenant) → `NotInScope`:
    ///   one tenant's state, the other tenants keep working.
    /// - Everything else, notably `invalid_client` (wrong or expired secret) and
    ///   `invalid_scope` (scope of another cloud) → `Fatal`: hcal itself is misconfigured and
    ///   every tenant fails alike until an operator acts.
    ///
    /// The code is the OAuth `error` value; the AADSTS numbers go to the log.
    pub(crate) fn failure(&self, status: u16) -> GraphFailure {
        let code = if self.error.is_empty() { NO_CODE.to_owned() } else { self.error.clone() };
        let tenant_state = self.error == "unauthorized_client"
            || self.error_codes.contains(&90002)
            || (self.error == "invalid_grant" && self.error_codes.contains(&7_000_112));
        if tenant_state { GraphFailure::NotInScope { code } } else { GraphFailure::Fatal { status, code } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_dispositions() {
        assert_eq!(disposition(200, ""), Disposition::Success);
        assert_eq!(disposition(204, ""), Disposition::Success);
        assert_eq!(disposition(401, "InvalidAuthenticationToken"), Disposition::Reauthenticate);
        assert_eq!(disposition(401, "Unauthorized"), Disposition::Refused);
        assert_eq!(disposition(429, "ApplicationThrottled"), Disposition::Retry(RetryKind::Throttled));
        assert_eq!(disposition(503, "serviceNotAvailable"), Disposition::Retry(RetryKind::Throttled));
        assert_eq!(disposition(504, "UnknownError"), Disposition::Retry(RetryKind::Transient));
        assert_eq!(disposition(500, NO_CODE), Disposition::Retry(RetryKind::Transient));
        assert_eq!(disposition(501, "NotImplemented"), Disposition::Refused);
        assert_eq!(disposition(404, "ErrorItemNotFound"), Disposition::Refused);
    }

    #[test]
    fn refusals_branch_on_code_not_message() {
        assert_eq!(refusal(412, "ErrorIrresolvableConflict"), GraphFailure::Conflict);
        assert_eq!(refusal(412, "PreconditionFailed"), GraphFailure::Conflict);
        assert_eq!(refusal(409, "ErrorIrresolvableConflict"), GraphFailure::Conflict);
        assert_eq!(refusal(403, "ErrorAccessDenied"), GraphFailure::NotInScope { code: "ErrorAccessDenied".into() });
        assert_eq!(
            refusal(404, "MailboxNotEnabledForRESTAPI"),
            GraphFailure::NotInScope { code: "MailboxNotEnabledForRESTAPI".into() }
        );
        assert_eq!(refusal(404, "ErrorInvalidUser"), GraphFailure::NotInScope { code: "ErrorInvalidUser".into() });
        assert_eq!(
            refusal(400, "RequestBodyRead"),
            GraphFailure::Fatal { status: 400, code: "RequestBodyRead".into() }
        );
        assert_eq!(
            refusal(409, "ErrorFolderExists"),
            GraphFailure::Fatal { status: 409, code: "ErrorFolderExists".into() }
        );
    }

    #[test]
    fn error_codes_are_read_tolerantly() {
        let body = br#"{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store.","innerError":{"date":"2025-02-13T10:17:06"}}}"#;
        assert_eq!(graph_error_code(body), "ErrorItemNotFound");
        assert_eq!(graph_error_code(b"<html>Bad gateway</html>"), NO_CODE);
        assert_eq!(graph_error_code(br#"{"error":"x"}"#), NO_CODE);
        assert_eq!(graph_error_code(b""), NO_CODE);
    }

    #[test]
    fn token_errors_separate_tenant_state_from_misconfiguration() {
        let wrong_secret = AadError::parse(
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"timestamp":"x","trace_id":"y","correlation_id":"z"}"#,
        );
        assert_eq!(wrong_secret.error_codes, vec![7_000_215]);
        assert_eq!(wrong_secret.failure(401), GraphFailure::Fatal { status: 401, code: "invalid_client".into() });
        let no_consent = AadError::parse(br#"{"error":"unauthorized_client","error_codes":[700016]}"#);
        assert_eq!(no_consent.failure(400), GraphFailure::NotInScope { code: "unauthorized_client".into() });
        let no_tenant = AadError::parse(br#"{"error":"invalid_request","error_codes":[90002]}"#);
        assert_eq!(no_tenant.failure(400), GraphFailure::NotInScope { code: "invalid_request".into() });
        let scope = AadError::parse(br#"{"error":"invalid_scope","error_codes":[1002012]}"#);
        assert_eq!(scope.failure(400), GraphFailure::Fatal { status: 400, code: "invalid_scope".into() });
        assert_eq!(AadError::parse(b"oops").failure(400), GraphFailure::Fatal { status: 400, code: NO_CODE.into() });
    }
}

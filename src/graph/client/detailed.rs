//! Generic calls for callers that show Graph's answer to a person rather than act on a
//! classification (the tenant admin test): an explicit token check, resolving a user, and
//! events as raw JSON. Their errors, [`GraphCallError`], keep the HTTP status, the error code,
//! Graph's `request-id` and whether a 403 names the application access policy. Tokens, mailbox
//! limits and retries are the client's usual ones.
//!
//! The JSON these calls return holds whatever Graph sent (subjects, bodies, addresses): callers
//! must not log it.

use std::sync::Arc;

use hcal_actors::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};
use hcal_actors::ports::GraphFailure;
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::Value;

use super::super::retry::AttemptError;
use super::super::wire::encode_component;
use super::{Call, GraphClient, Replay, Reply};

/// Exchange's marker in the message of a 403 caused by an application access policy
/// (`Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy
/// settings.`). The code, `ErrorAccessDenied`, is the same as for a missing permission, so this
/// marker is the only way to tell an administrator which of the two to fix.
const ACCESS_POLICY_MARKER: &str = "[RAOP]";

/// A call Graph or Entra ID answered with an error, in enough detail to show an administrator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphCallError {
    /// Entra ID's token endpoint refused to issue a token (`invalid_client`: wrong or expired
    /// secret; `unauthorized_client`: no consent in the tenant; `invalid_scope`: another
    /// cloud's scope). `status` is absent when the client's token cache kept only the code.
    #[error("the token endpoint refused to issue a token: {code}")]
    Token {
        /// HTTP status of the token endpoint's answer, when known.
        status: Option<u16>,
        /// The OAuth `error` value.
        code: String,
    },
    /// Graph refused the request.
    #[error("Graph answered {} {}", .0.status, .0.code)]
    Refused(GraphRefusal),
    /// Still throttled when the retry budget ran out.
    #[error("throttled by Graph; retry after {retry_after_secs} s")]
    Throttled {
        /// Seconds Graph asked to wait.
        retry_after_secs: f64,
    },
    /// Network failures, timeouts or 5xx until the retry budget ran out.
    #[error("transient failure: {0}")]
    Transient(String),
    /// A success whose body does not have the expected shape.
    #[error("Graph answered {status} with a body hcal cannot use")]
    InvalidAnswer {
        /// HTTP status.
        status: u16,
    },
    /// Anything else the client reported (a request that could not even be built).
    #[error("{0}")]
    Other(GraphFailure),
}

/// A final error answer of Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphRefusal {
    /// HTTP status.
    pub status: u16,
    /// `error.code`, e.g. `ErrorAccessDenied`, `MailboxNotEnabledForRESTAPI`.
    pub code: String,
    /// Whether the message carries Exchange's `[RAOP]` marker: the mailbox is outside the
    /// application access policy (rather than a permission missing).
    pub access_policy: bool,
    /// Graph's `request-id` header, which Microsoft support asks for.
    pub request_id: Option<String>,
}

/// What the last answer of a call said beyond its status and code. Holds no message text, so
/// nothing Graph quoted (addresses, names) is kept.
#[derive(Debug, Default)]
pub(in crate::graph) struct Diagnostics {
    request_id: Option<String>,
    access_policy: bool,
}

/// Shared between a call and its caller; the call outlives the caller's borrow.
pub(in crate::graph) type DiagnosticsSink = Arc<Mutex<Diagnostics>>;

/// Notes what the caller of a detailed call needs from one answer.
pub(in crate::graph) fn record(sink: &DiagnosticsSink, status: u16, request_id: &str, body: &[u8]) {
    let access_policy = status == 403 && names_access_policy(body);
    let mut d = sink.lock();
    d.request_id = Some(request_id.to_owned()).filter(|r| !r.is_empty());
    d.access_policy = access_policy;
}

/// Whether an error envelope's message carries the access-policy marker.
fn names_access_policy(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.get("message")?.as_str().map(|m| m.contains(ACCESS_POLICY_MARKER)))
        .unwrap_or(false)
}

/// A failure `execute` returned instead of a reply. Graph's own error answers come back as
/// replies; what arrives here is the retry budget running out, or the token endpoint's final
/// refusal (`Fatal` with its status, or `NotInScope` when it is one tenant's state), or a
/// request that could not be built (status 0).
fn from_failure(failure: GraphFailure) -> GraphCallError {
    match failure {
        GraphFailure::Throttled { retry_after_secs } => GraphCallError::Throttled { retry_after_secs },
        GraphFailure::Transient(reason) => GraphCallError::Transient(reason),
        GraphFailure::NotInScope { code } => GraphCallError::Token { status: None, code },
        GraphFailure::Fatal { status, code } if status != 0 => GraphCallError::Token { status: Some(status), code },
        other => GraphCallError::Other(other),
    }
}

fn json_body(status: u16, body: &[u8]) -> Result<Value, GraphCallError> {
    serde_json::from_slice(body).map_err(|_| GraphCallError::InvalidAnswer { status })
}

impl GraphClient {
    /// Obtains an access token for `tenant` (from the cache while it is fresh), so a caller can
    /// tell credential and consent problems apart from problems with a mailbox.
    pub async fn check_token(&self, tenant: &TenantId) -> Result<(), GraphCallError> {
        match self.inner.tokens.get(*tenant).await {
            Ok(_) => Ok(()),
            Err(AttemptError::Final(failure)) => Err(from_failure(failure)),
            Err(AttemptError::Retry(failed)) => Err(from_failure(failed.into_failure(1, &self.inner.backoff))),
        }
    }

    /// The object id of the user `user` names: a user principal name (or an object id).
    /// Needs `User.Read.All`. A directory call, not a mailbox call: it takes no mailbox slot.
    pub async fn resolve_user(&self, tenant: &TenantId, user: &str) -> Result<UserObjectId, GraphCallError> {
        let url = format!("{}/users/{}?$select=id", self.inner.graph_base, encode_component(user));
        let (status, body) = self.detailed(Call::new("resolve_user", Method::GET, url, *tenant)).await?;
        let value = json_body(status, &body)?;
        value
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| UserObjectId::parse(id).ok())
            .ok_or(GraphCallError::InvalidAnswer { status })
    }

    /// `POST /users/{id}/calendar/events`: creates `event` in the mailbox's default calendar
    /// and returns it as Graph rendered it. Not repeated after a failure that may have created
    /// the event (a lost answer would leave a duplicate behind).
    pub async fn create_event(&self, mailbox: &MailboxId, event: &Value) -> Result<Value, GraphCallError> {
        let url = format!("{}/users/{}/calendar/events", self.inner.graph_base, mailbox.user);
        let call = Call {
            replay: Replay::OnlyUnprocessed,
            ..Call::on_mailbox("create_event", Method::POST, url, mailbox).json(event.clone())
        };
        let (status, body) = self.detailed(call).await?;
        json_body(status, &body)
    }

    /// `GET /users/{id}/events/{id}`, with `$select` when `select` names properties (ask only
    /// for what is needed: events carry sensitive data).
    pub async fn get_event_json(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        select: &[&str],
    ) -> Result<Value, GraphCallError> {
        let mut url = self.event_url(mailbox, id);
        if !select.is_empty() {
            url.push_str("?$select=");
            url.push_str(&encode_component(&select.join(",")));
        }
        let (status, body) = self.detailed(Call::on_mailbox("get_event_json", Method::GET, url, mailbox)).await?;
        json_body(status, &body)
    }

    /// `PATCH /users/{id}/events/{id}` with `patch`; returns the event Graph answers with. A
    /// patch that sets values is idempotent, so it is repeated after transient failures.
    pub async fn patch_event_json(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        patch: &Value,
    ) -> Result<Value, GraphCallError> {
        let call = Call::on_mailbox("patch_event_json", Method::PATCH, self.event_url(mailbox, id), mailbox)
            .json(patch.clone());
        let (status, body) = self.detailed(call).await?;
        json_body(status, &body)
    }

    /// `DELETE /users/{id}/events/{id}`. An event that is already gone (`404 ErrorItemNotFound`,
    /// e.g. when a repeat follows a lost answer) counts as deleted.
    pub async fn delete_event(&self, mailbox: &MailboxId, id: &GraphEventId) -> Result<(), GraphCallError> {
        let call = Call::on_mailbox("delete_event", Method::DELETE, self.event_url(mailbox, id), mailbox);
        match self.detailed(call).await {
            Ok(_) => Ok(()),
            Err(GraphCallError::Refused(r)) if r.status == 404 && r.code.eq_ignore_ascii_case("ErrorItemNotFound") => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `call` and keeps the details of a refusal.
    async fn detailed(&self, call: Call) -> Result<(u16, Vec<u8>), GraphCallError> {
        let sink = DiagnosticsSink::default();
        let call = Call { diagnostics: Some(sink.clone()), ..call };
        match self.execute(call).await {
            Ok(Reply::Ok { status, body }) => Ok((status, body)),
            Ok(Reply::Refused { status, code }) => {
                let d = sink.lock();
                Err(GraphCallError::Refused(GraphRefusal {
                    status,
                    code,
                    access_policy: status == 403 && d.access_policy,
                    request_id: d.request_id.clone(),
                }))
            }
            Err(failure) => Err(from_failure(failure)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_policy_marker_is_found_in_the_message_only() {
        let raop = br#"{"error":{"code":"ErrorAccessDenied","message":"Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."}}"#;
        let denied =
            br#"{"error":{"code":"ErrorAccessDenied","message":"Access is denied. Check credentials and try again."}}"#;
        assert!(names_access_policy(raop));
        assert!(!names_access_policy(denied));
        assert!(!names_access_policy(br#"{"error":{"code":"[RAOP]"}}"#));
        assert!(!names_access_policy(b"<html>[RAOP]</html>"));
        let sink = DiagnosticsSink::default();
        record(&sink, 403, "req-1", raop);
        assert!(sink.lock().access_policy);
        assert_eq!(sink.lock().request_id.as_deref(), Some("req-1"));
        record(&sink, 404, "", raop);
        assert!(!sink.lock().access_policy, "only a 403 is an access-policy refusal");
        assert_eq!(sink.lock().request_id, None);
    }

    #[test]
    fn failures_outside_a_reply_come_from_the_token_endpoint_or_the_budget() {
        assert_eq!(
            from_failure(GraphFailure::Fatal { status: 401, code: "invalid_client".into() }),
            GraphCallError::Token { status: Some(401), code: "invalid_client".into() }
        );
        assert_eq!(
            from_failure(GraphFailure::NotInScope { code: "unauthorized_client".into() }),
            GraphCallError::Token { status: None, code: "unauthorized_client".into() }
        );
        assert_eq!(
            from_failure(GraphFailure::Throttled { retry_after_secs: 1.5 }),
            GraphCallError::Throttled { retry_after_secs: 1.5 }
        );
        assert!(matches!(
            from_failure(GraphFailure::Fatal { status: 0, code: "InvalidRequest".into() }),
            GraphCallError::Other(_)
        ));
    }
}

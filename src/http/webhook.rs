//! The Graph webhook: the validation handshake, and notification batches that are checked item
//! by item (known subscription, matching tenant and mailbox, clientState compared in constant
//! time) and answered 202 only after the accepted items are durably in the notifications log
//! (ADR 002).
//!
//! Graph presents no bearer token; the clientState of each item is its credential. The body is
//! read in the handler rather than by an argument's extractor, so that an oversized one gets
//! 413 in the one error shape and the validation handshake needs no body at all.

use actix_web::error::PayloadError;
use actix_web::{FromRequest as _, HttpRequest, HttpResponse, web};
use chrono::Utc;
use hcal_actors::ids::{GraphEventId, UserObjectId};
use hcal_actors::notification::{ChangeType, LifecycleEvent, NotificationKind, NotificationRecord};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::error::{ApiError, ErrorKind, JsonProblem};
use super::too_large;
use crate::app::AppState;

/// Longest validation token echoed back; Graph's are about 150 characters.
const MAX_VALIDATION_TOKEN: usize = 2048;

/// A notification batch as Graph posts it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Batch {
    value: Vec<Item>,
}

/// One change or lifecycle notification; every field is checked by [`check`], so none is
/// required by the parser.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    subscription_id: Option<String>,
    client_state: Option<String>,
    tenant_id: Option<String>,
    change_type: Option<String>,
    resource: Option<String>,
    resource_data: Option<ResourceData>,
    lifecycle_event: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResourceData {
    id: Option<String>,
}

/// Why an item was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Malformed,
    UnknownSubscription,
    ClientState,
    TenantMismatch,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownSubscription => "unknown_subscription",
            Self::ClientState => "bad_client_state",
            Self::TenantMismatch => "tenant_mismatch",
        }
    }
}

/// `POST /webhook/graph` (change notifications) and `POST /webhook/graph/lifecycle`.
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = validation_token(&req) {
        return validation(&state, token);
    }
    let body = read_body(&req, payload).await?;
    let batch: Batch = serde_json::from_slice(&body).map_err(|e| {
        state.metrics.inc("hcal_webhook_batches_total", "outcome", "malformed");
        ApiError::new(ErrorKind::MalformedBody, "the body is not a Graph notification batch")
            .with_source(JsonProblem::from(&e))
    })?;
    let mut accepted = Vec::new();
    let mut refused = 0usize;
    for item in &batch.value {
        match check(&state, item) {
            Ok(record) => {
                state.metrics.inc("hcal_webhook_items_total", "outcome", "accepted");
                accepted.push(record);
            }
            Err(reason) => {
                refused += 1;
                state.metrics.inc("hcal_webhook_items_total", "outcome", reason.label());
            }
        }
    }
    if accepted.is_empty() {
        state.metrics.inc("hcal_webhook_batches_total", "outcome", "refused");
        return Err(ApiError::new(ErrorKind::NotificationsRefused, "no notification in the batch was accepted")
            .with_refused(refused));
    }
    if let Err(e) = state.inbox.append(&accepted).await {
        // Graph retries a 5xx; what was appended before is processed once more, harmlessly.
        state.metrics.inc("hcal_webhook_batches_total", "outcome", "store_failed");
        return Err(ApiError::new(ErrorKind::Unavailable, "notifications could not be stored; deliver them again")
            .with_source(e));
    }
    state.metrics.inc("hcal_webhook_batches_total", "outcome", "accepted");
    Ok(HttpResponse::Accepted().finish())
}

/// The body, decompressed as its `Content-Encoding` says and limited by the `PayloadConfig`
/// that [`super::routes`] registers (the limit applies after decompression).
async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    web::Bytes::from_request(req, &mut payload.into_inner()).await.map_err(|e| match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => too_large(),
        // Its messages describe the transfer (cut short, bad compression), never the content.
        _ => ApiError::new(ErrorKind::MalformedBody, "the body could not be read").with_source(e.to_string()),
    })
}

fn validation_token(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "validationToken")
        .map(|(_, v)| v.into_owned())
}

/// Answers the handshake with the decoded token as `text/plain`, and nothing else: the one
/// answer of the webhook that is not JSON, since Graph requires exactly this.
fn validation(state: &AppState, token: String) -> Result<HttpResponse, ApiError> {
    if token.is_empty() || token.len() > MAX_VALIDATION_TOKEN || token.chars().any(char::is_control) {
        state.metrics.inc("hcal_webhook_validations_total", "outcome", "refused");
        return Err(ApiError::new(
            ErrorKind::InvalidValidationToken,
            "the validation token must be 1 to 2048 characters without control characters",
        ));
    }
    state.metrics.inc("hcal_webhook_validations_total", "outcome", "answered");
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(token))
}

fn check(state: &AppState, item: &Item) -> Result<NotificationRecord, Refusal> {
    let subscription_id = item.subscription_id.as_deref().ok_or(Refusal::Malformed)?;
    let known = state.subscriptions.get(subscription_id).ok_or(Refusal::UnknownSubscription)?;
    let presented = item.client_state.as_deref().unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(known.client_state.as_bytes())) {
        return Err(Refusal::ClientState);
    }
    let tenant_ok = item.tenant_id.as_deref().is_none_or(|t| t.eq_ignore_ascii_case(&known.mailbox.tenant.to_string()));
    if !tenant_ok {
        return Err(Refusal::TenantMismatch);
    }
    let kind = match (&item.lifecycle_event, &item.change_type) {
        (Some(event), _) => {
            NotificationKind::Lifecycle { lifecycle_event: lifecycle(event).ok_or(Refusal::Malformed)? }
        }
        (None, Some(change)) => {
            let change_type = match change.to_ascii_lowercase().as_str() {
                "created" => ChangeType::Created,
                "updated" => ChangeType::Updated,
                "deleted" => ChangeType::Deleted,
                _ => return Err(Refusal::Malformed),
            };
            let (resource_user, resource_event) = parse_resource(item.resource.as_deref().unwrap_or(""));
            if let Some(user) = resource_user
                && user != known.mailbox.user
            {
                return Err(Refusal::TenantMismatch);
            }
            let event_id =
                item.resource_data.as_ref().and_then(|d| d.id.clone()).or(resource_event).ok_or(Refusal::Malformed)?;
            NotificationKind::Change { change_type, event_id: GraphEventId::new(event_id) }
        }
        (None, None) => return Err(Refusal::Malformed),
    };
    Ok(NotificationRecord::new(known.mailbox, subscription_id.to_owned(), kind, Utc::now()))
}

fn lifecycle(s: &str) -> Option<LifecycleEvent> {
    match s.to_ascii_lowercase().as_str() {
        "reauthorizationrequired" => Some(LifecycleEvent::ReauthorizationRequired),
        "subscriptionremoved" => Some(LifecycleEvent::SubscriptionRemoved),
        "missed" => Some(LifecycleEvent::Missed),
        _ => None,
    }
}

/// `Users/{uid}/Events/{eid}` in any casing, with or without a leading slash.
fn parse_resource(resource: &str) -> (Option<UserObjectId>, Option<String>) {
    let parts: Vec<&str> = resource.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [u, user, e, id] if u.eq_ignore_ascii_case("users") && e.eq_ignore_ascii_case("events") => {
            (UserObjectId::parse(user).ok(), Some((*id).to_owned()))
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_in_any_casing() {
        let (u, e) = parse_resource("Users/00000000-0000-0000-0000-0000000000a1/Events/AAMk=");
        assert_eq!(u, UserObjectId::parse("00000000-0000-0000-0000-0000000000a1").ok());
        assert_eq!(e.as_deref(), Some("AAMk="));
        let (u, _) = parse_resource("/users/00000000-0000-0000-0000-0000000000A1/events/x");
        assert!(u.is_some());
        assert_eq!(parse_resource("me/events"), (None, None));
    }
}

//! The Graph webhook: the validation handshake, and notification batches that are checked item
//! by item (known subscription, matching tenant and mailbox, clientState compared in constant
//! time). Accepted items are durably in the notifications log before the answer; every other
//! item is counted by reason and discarded (ADR 002).
//!
//! Every batch that is a notification batch gets 202 with an empty body, whatever became of its
//! items: Graph redelivers anything else for hours, and an answer that differed would tell a
//! forger whether its items passed. A body that is not a batch at all gets 400, one that is too
//! large 413, one that does not arrive in time 408, and a store failure 503 so Graph delivers
//! again.
//!
//! Graph presents no bearer token, so this is the one endpoint anybody can make hcal read a
//! body for. The handler reads the body itself, rather than through an argument's extractor, so
//! that it can bound the read: at most [`WebhookLimits`]'s number of batches at once (more get
//! 503 with `Retry-After` before any of their body is read) and each within a deadline. The
//! validation handshake needs no body at all.
//!
//! What a batch means is decided by [`parse`], a pure function of the body, the subscription
//! index and the time; the handler around it only reads, counts and stores.

use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::{FromRequest as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use hcal_actors::ids::{GraphEventId, UserObjectId};
use hcal_actors::notification::{ChangeType, LifecycleEvent, NotificationKind, NotificationRecord};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use super::error::{ApiError, ErrorKind, JsonProblem};
use super::too_large;
use crate::app::AppState;
use crate::config::ServiceConfig;
use crate::projections::subscriptions::KnownSubscription;

/// Longest validation token echoed back; Graph's are about 150 characters.
const MAX_VALIDATION_TOKEN: usize = 2048;

/// How the webhook bounds the batches it reads, from `[service]`.
#[derive(Debug)]
pub struct WebhookLimits {
    in_flight: Semaphore,
    body_timeout: Duration,
    retry_after: u64,
    /// How long after a batch arrived the webhook waits for the subscription index to catch
    /// up before it discards items of subscriptions it does not know: 2 s, inside the 3 s
    /// Graph gives a webhook (measured from arrival, so a slow body only shortens it).
    catch_up_wait: Duration,
}

impl WebhookLimits {
    /// The limits `service.webhook_max_in_flight` and `service.webhook_body_timeout` set.
    pub fn new(service: &ServiceConfig) -> Self {
        let body_timeout = service.webhook_body_timeout;
        // A slot is free again at the latest one body timeout (and a store append) later; the
        // header takes whole seconds.
        let retry_after = body_timeout.as_secs().saturating_add(u64::from(body_timeout.subsec_nanos() > 0)).max(1);
        // Semaphore::new panics above its maximum; no installation needs that many anyway.
        let slots = service.webhook_max_in_flight.min(Semaphore::MAX_PERMITS);
        Self { in_flight: Semaphore::new(slots), body_timeout, retry_after, catch_up_wait: Duration::from_secs(2) }
    }
}

/// What became of one item of a batch; the label of `hcal_webhook_items_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Stored in the notifications log.
    Accepted,
    /// Not a notification hcal can read (no subscription id, no event id, wrong types, …).
    Malformed,
    /// A subscription hcal does not know (forged, or long gone).
    UnknownSubscription,
    /// The clientState does not match the subscription's.
    BadClientState,
    /// The tenant or the mailbox does not match the subscription's.
    TenantMismatch,
    /// Authentic, but a `lifecycleEvent` this version does not know: Graph may add some.
    UnknownLifecycleEvent,
    /// Authentic, but a `changeType` this version does not know (Graph's enumerations evolve).
    UnknownChangeType,
}

impl Outcome {
    /// Every outcome, for tests and documentation.
    pub const ALL: [Self; 7] = [
        Self::Accepted,
        Self::Malformed,
        Self::UnknownSubscription,
        Self::BadClientState,
        Self::TenantMismatch,
        Self::UnknownLifecycleEvent,
        Self::UnknownChangeType,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Malformed => "malformed",
            Self::UnknownSubscription => "unknown_subscription",
            Self::BadClientState => "bad_client_state",
            Self::TenantMismatch => "tenant_mismatch",
            Self::UnknownLifecycleEvent => "unknown_lifecycle_event",
            Self::UnknownChangeType => "unknown_change_type",
        }
    }
}

/// A batch read by [`parse`]: one outcome per item, in order, and the records of the accepted
/// ones.
#[derive(Debug, Default)]
pub struct Parsed {
    /// What became of each item of `value`.
    pub outcomes: Vec<Outcome>,
    /// The accepted items, to be stored.
    pub records: Vec<NotificationRecord>,
}

/// A body that is not a notification batch; answered 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotABatch {
    /// Not JSON.
    #[error(transparent)]
    Json(#[from] JsonProblem),
    /// JSON, but not an object with a `value` array.
    #[error("the JSON is not an object with a value array")]
    Shape,
}

impl NotABatch {
    fn message(&self) -> String {
        match self {
            Self::Json(problem) => problem.message(),
            Self::Shape => "the body is not a Graph notification batch (an object with a `value` array)".into(),
        }
    }
}

/// One change or lifecycle notification; every field is checked by [`check`], so none is
/// required by the parser, and fields Graph adds are ignored.
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

/// Reads a notification batch: `{"value": [item, …]}`, each item checked on its own against
/// the subscriptions `lookup` knows, the accepted ones as records received at `now`.
///
/// Only the envelope decides whether the body is a batch: an item that does not parse is that
/// item's [`Outcome::Malformed`], not the batch's, so that one odd item does not cost the
/// others their delivery.
pub fn parse(
    body: &[u8],
    lookup: impl Fn(&str) -> Option<KnownSubscription>,
    now: DateTime<Utc>,
) -> Result<Parsed, NotABatch> {
    // An object first: serde would read a struct from an array as well.
    let envelope: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| NotABatch::Json(JsonProblem::from(&e)))?;
    let Some(serde_json::Value::Array(items)) = envelope.get("value") else {
        return Err(NotABatch::Shape);
    };
    let mut parsed = Parsed::default();
    for item in items {
        // Objects only, for the same reason as the envelope.
        let read = item.as_object().and_then(|_| Item::deserialize(item).ok());
        match read.as_ref().map_or(Err(Outcome::Malformed), |item| check(item, &lookup, now)) {
            Ok(record) => {
                parsed.outcomes.push(Outcome::Accepted);
                parsed.records.push(record);
            }
            Err(outcome) => parsed.outcomes.push(outcome),
        }
    }
    Ok(parsed)
}

/// `POST /webhook/graph` (change notifications) and `POST /webhook/graph/lifecycle`.
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use tracing::Instrument as _;
    // Every line logged while a request is handled carries an id of the request.
    let span = tracing::info_span!("webhook", request = %uuid::Uuid::new_v4());
    receive_in_span(state, req, payload).instrument(span).await
}

async fn receive_in_span(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = validation_token(&req) {
        return validation(&state, token);
    }
    let arrived = tokio::time::Instant::now();
    let batches = |outcome| state.metrics.inc("hcal_webhook_batches_total", "outcome", outcome);
    let limits = &state.webhook;
    // Held until the answer, so that the bodies in memory and the appends waiting for the
    // store are bounded together. Over the cap nothing of the body is read.
    let Ok(_slot) = limits.in_flight.try_acquire() else {
        batches("busy");
        return Err(ApiError::new(
            ErrorKind::Unavailable,
            "too many notification batches at once; deliver again later",
        )
        .with_retry_after(limits.retry_after));
    };
    let body = match tokio::time::timeout(limits.body_timeout, read_body(&req, payload)).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            batches(if e.kind() == ErrorKind::PayloadTooLarge { "too_large" } else { "unreadable" });
            return Err(e);
        }
        Err(_) => {
            batches("body_timeout");
            return Err(ApiError::new(ErrorKind::RequestTimeout, "the body did not arrive in time; deliver again"));
        }
    };
    let read = |body: &[u8]| {
        parse(body, |id| state.subscriptions.get(id), Utc::now()).map_err(|e| {
            batches("malformed");
            ApiError::new(ErrorKind::MalformedBody, e.message()).with_source(e)
        })
    };
    let mut parsed = read(&body)?;
    // Graph delivers to a new subscription as soon as it exists, and the index learns of it
    // from the log a moment after hcal recorded it: before an item is discarded as unknown,
    // the index is given the time to read what was appended before the batch arrived.
    if parsed.outcomes.contains(&Outcome::UnknownSubscription)
        && state.subscriptions.wait_caught_up(arrived, limits.catch_up_wait).await
    {
        parsed = read(&body)?;
    }
    for outcome in &parsed.outcomes {
        state.metrics.inc("hcal_webhook_items_total", "outcome", outcome.label());
    }
    if parsed.records.is_empty() {
        // Forged, stale or from a newer Graph: nothing to store, and nothing for Graph to
        // deliver again. The answer is the accepted one, so a forger learns nothing.
        batches("discarded");
        return Ok(HttpResponse::Accepted().finish());
    }
    if let Err(e) = state.inbox.append(&parsed.records).await {
        // Graph retries a 5xx; what was appended before is processed once more, harmlessly.
        batches("store_failed");
        return Err(ApiError::new(ErrorKind::Unavailable, "notifications could not be stored; deliver them again")
            .with_source(e));
    }
    batches("accepted");
    state.metrics.observe("hcal_webhook_ack_seconds", arrived.elapsed());
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

/// One item: its record, or why it is discarded. The credential (subscription and clientState)
/// and the tenant are checked before anything else, so an unauthentic item is counted as such
/// whatever else it carries.
fn check(
    item: &Item,
    lookup: &impl Fn(&str) -> Option<KnownSubscription>,
    now: DateTime<Utc>,
) -> Result<NotificationRecord, Outcome> {
    let subscription_id = item.subscription_id.as_deref().ok_or(Outcome::Malformed)?;
    let known = lookup(subscription_id).ok_or(Outcome::UnknownSubscription)?;
    let presented = item.client_state.as_deref().unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(known.client_state.as_bytes())) {
        return Err(Outcome::BadClientState);
    }
    let tenant_ok = item.tenant_id.as_deref().is_none_or(|t| t.eq_ignore_ascii_case(&known.mailbox.tenant.to_string()));
    if !tenant_ok {
        return Err(Outcome::TenantMismatch);
    }
    let kind = match (&item.lifecycle_event, &item.change_type) {
        (Some(event), _) => {
            NotificationKind::Lifecycle { lifecycle_event: lifecycle(event).ok_or(Outcome::UnknownLifecycleEvent)? }
        }
        (None, Some(change)) => {
            let change_type = match change.to_ascii_lowercase().as_str() {
                "created" => ChangeType::Created,
                "updated" => ChangeType::Updated,
                "deleted" => ChangeType::Deleted,
                _ => return Err(Outcome::UnknownChangeType),
            };
            let (resource_user, resource_event) = parse_resource(item.resource.as_deref().unwrap_or(""));
            if let Some(user) = resource_user
                && user != known.mailbox.user
            {
                return Err(Outcome::TenantMismatch);
            }
            let event_id =
                item.resource_data.as_ref().and_then(|d| d.id.clone()).or(resource_event).ok_or(Outcome::Malformed)?;
            NotificationKind::Change { change_type, event_id: GraphEventId::new(event_id) }
        }
        (None, None) => return Err(Outcome::Malformed),
    };
    Ok(NotificationRecord::new(known.mailbox, subscription_id.to_owned(), kind, now))
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
    use hcal_actors::ids::{MailboxId, TenantId};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    const SUB: &str = "sub-1";
    const STATE: &str = "the-client-state";
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const USER: &str = "00000000-0000-0000-0000-0000000000a1";

    fn mailbox() -> MailboxId {
        MailboxId { tenant: TenantId::parse(TENANT).unwrap(), user: UserObjectId::parse(USER).unwrap() }
    }

    fn index(id: &str) -> Option<KnownSubscription> {
        (id == SUB).then(|| KnownSubscription { mailbox: mailbox(), client_state: STATE.into() })
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn change() -> Value {
        json!({
            "subscriptionId": SUB, "clientState": STATE, "tenantId": TENANT, "changeType": "created",
            "resource": format!("Users/{USER}/Events/AAMk="), "resourceData": {"id": "AAMk="}
        })
    }

    fn lifecycle_item(event: &str) -> Value {
        json!({"subscriptionId": SUB, "clientState": STATE, "tenantId": TENANT, "lifecycleEvent": event})
    }

    fn with(mut item: Value, key: &str, value: Value) -> Value {
        item[key] = value;
        item
    }

    fn run(items: Vec<Value>) -> Parsed {
        parse(json!({ "value": items }).to_string().as_bytes(), index, now()).unwrap()
    }

    #[test]
    fn resources_parse_in_any_casing() {
        let (u, e) = parse_resource("Users/00000000-0000-0000-0000-0000000000a1/Events/AAMk=");
        assert_eq!(u, UserObjectId::parse("00000000-0000-0000-0000-0000000000a1").ok());
        assert_eq!(e.as_deref(), Some("AAMk="));
        let (u, _) = parse_resource("/users/00000000-0000-0000-0000-0000000000A1/events/x");
        assert!(u.is_some());
        assert_eq!(parse_resource("me/events"), (None, None));
    }

    #[test]
    fn every_item_is_judged_on_its_own_and_only_accepted_ones_become_records() {
        let parsed = run(vec![
            change(),
            with(change(), "clientState", json!("forged")),
            with(change(), "subscriptionId", json!("unknown")),
            with(change(), "tenantId", json!("00000000-0000-0000-0000-00000000f00d")),
            with(change(), "resource", json!("Users/00000000-0000-0000-0000-0000000000b2/Events/x")),
            with(change(), "subscriptionId", json!(7)),
            json!("not an object"),
            json!([SUB, STATE]),
            lifecycle_item("missed"),
        ]);
        use Outcome::*;
        assert_eq!(
            parsed.outcomes,
            [
                Accepted,
                BadClientState,
                UnknownSubscription,
                TenantMismatch,
                TenantMismatch,
                Malformed,
                Malformed,
                Malformed,
                Accepted
            ]
        );
        assert_eq!(parsed.records.len(), 2);
        assert!(parsed.records.iter().all(|r| r.mailbox() == mailbox() && r.received_at == now()));
        assert!(matches!(
            &parsed.records[1].kind,
            NotificationKind::Lifecycle { lifecycle_event: LifecycleEvent::Missed }
        ));
    }

    #[test]
    fn lifecycle_events_and_change_types_graph_may_add_are_ignored_once_authentic() {
        let parsed = run(vec![
            lifecycle_item("someFutureEvent"),
            with(change(), "changeType", json!("unknownFutureValue")),
            lifecycle_item("ReauthorizationRequired"),
        ]);
        use Outcome::*;
        assert_eq!(parsed.outcomes, [UnknownLifecycleEvent, UnknownChangeType, Accepted]);
        assert_eq!(parsed.records.len(), 1);
        // Authenticity first: a forged item with an unknown event is counted as forged.
        let forged = run(vec![with(lifecycle_item("someFutureEvent"), "clientState", json!("forged"))]);
        assert_eq!(forged.outcomes, [BadClientState]);
    }

    #[test]
    fn only_an_object_with_a_value_array_is_a_batch() {
        for body in [
            "",
            "{\"value\": [",
            "[1,2,3]",
            "[[{\"subscriptionId\": \"sub-1\"}]]",
            "{}",
            "{\"value\": {}}",
            "null",
            "\"x\"",
        ] {
            assert!(parse(body.as_bytes(), index, now()).is_err(), "{body:?} is not a batch");
        }
        let empty = parse(b"{\"value\": [], \"validationTokens\": []}", index, now()).unwrap();
        assert!(empty.outcomes.is_empty() && empty.records.is_empty());
        assert_eq!(
            parse(b"{\"value\": [", index, now()).unwrap_err().message(),
            "the body ends before its JSON does (line 1, column 11)"
        );
    }

    #[test]
    fn outcome_labels_are_distinct_snake_case() {
        let labels: std::collections::HashSet<_> = Outcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(labels.len(), Outcome::ALL.len());
        assert!(labels.iter().all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }

    /// Checks a parse against the body: a batch has one outcome per item and one record per
    /// accepted item; anything else is not a batch.
    fn consistent(body: &[u8]) -> Result<(), TestCaseError> {
        match parse(body, index, now()) {
            Ok(parsed) => {
                let items =
                    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["value"].as_array().map(Vec::len));
                prop_assert_eq!(Some(parsed.outcomes.len()), items);
                let accepted = parsed.outcomes.iter().filter(|o| **o == Outcome::Accepted).count();
                prop_assert_eq!(accepted, parsed.records.len());
            }
            Err(NotABatch::Json(_) | NotABatch::Shape) => {}
        }
        Ok(())
    }

    /// JSON values of any shape, with the strings an item's checks look for among the others.
    fn json_value() -> impl Strategy<Value = Value> {
        let strings = prop_oneof![
            Just(SUB.to_owned()),
            Just(STATE.to_owned()),
            Just(TENANT.to_owned()),
            Just(format!("Users/{USER}/Events/x")),
            Just("created".to_owned()),
            Just("missed".to_owned()),
            any::<String>(),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            strings.clone().prop_map(Value::from),
        ];
        let keys = prop_oneof![
            Just("value".to_owned()),
            Just("subscriptionId".to_owned()),
            Just("clientState".to_owned()),
            Just("tenantId".to_owned()),
            Just("changeType".to_owned()),
            Just("lifecycleEvent".to_owned()),
            Just("resource".to_owned()),
            Just("resourceData".to_owned()),
            Just("id".to_owned()),
            any::<String>(),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Items that are almost right: the valid change or lifecycle item with fields replaced or
    /// removed.
    fn near_item() -> impl Strategy<Value = Value> {
        let base = prop_oneof![Just(change()), Just(lifecycle_item("missed")), Just(lifecycle_item("x"))];
        let fields = prop::sample::select(vec![
            "subscriptionId",
            "clientState",
            "tenantId",
            "changeType",
            "lifecycleEvent",
            "resource",
            "resourceData",
        ]);
        (base, prop::collection::vec((fields, prop::option::of(json_value())), 0..4)).prop_map(|(mut item, edits)| {
            for (field, value) in edits {
                match (value, item.as_object_mut()) {
                    (Some(v), Some(map)) => {
                        map.insert(field.to_owned(), v);
                    }
                    (None, Some(map)) => {
                        map.remove(field);
                    }
                    _ => {}
                }
            }
            item
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
            consistent(&body)?;
        }

        #[test]
        fn arbitrary_json_never_panics(value in json_value()) {
            consistent(value.to_string().as_bytes())?;
            consistent(json!({ "value": [value] }).to_string().as_bytes())?;
        }

        #[test]
        fn near_miss_batches_are_judged_item_by_item(items in prop::collection::vec(near_item(), 0..6)) {
            let body = json!({ "value": items }).to_string();
            consistent(body.as_bytes())?;
            let parsed = parse(body.as_bytes(), index, now()).unwrap();
            for (item, outcome) in items.iter().zip(&parsed.outcomes) {
                // Nothing without the subscription's clientState is ever accepted.
                if *outcome == Outcome::Accepted {
                    prop_assert_eq!(&item["clientState"], &json!(STATE));
                    prop_assert_eq!(&item["subscriptionId"], &json!(SUB));
                }
            }
        }

        #[test]
        fn truncated_batches_are_not_batches(cut in 0usize..200) {
            let body = json!({ "value": [change(), lifecycle_item("missed")] }).to_string();
            let cut = cut.min(body.len().saturating_sub(1));
            prop_assert!(parse(&body.as_bytes()[..cut], index, now()).is_err());
        }
    }
}

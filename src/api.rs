//! The public API (meeting lists) and the admin API (enabling mailboxes), one error type at the
//! edge that maps each failure to a status and a JSON body.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Duration, Utc};
use hcal_actors::ids::{MailboxId, UserObjectId};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::app::AppState;
use crate::projection;
use hcal_actors::notification::AdminCommand;

/// Failures at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or wrong bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// Bad input.
    #[error("{0}")]
    BadRequest(String),
    /// Graph or the store failed; try again.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::Unauthorized => "unauthorized",
            Self::BadRequest(_) => "bad_request",
            Self::Unavailable(_) => "unavailable",
        };
        HttpResponse::build(self.status_code()).json(json!({"error": {"code": code, "message": self.to_string()}}))
    }
}

/// Checks the bearer token of the public and admin APIs, in constant time; no access at all
/// while no token is configured.
pub(crate) fn authorize(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let presented = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !state.api_token.is_empty() && bool::from(presented.as_bytes().ct_eq(state.api_token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn mailbox(state: &AppState, user: &str) -> Result<MailboxId, ApiError> {
    let user = UserObjectId::parse(user).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(MailboxId { tenant: state.tenant, user })
}

/// Query of the meeting list.
#[derive(Debug, Deserialize)]
pub struct Window {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// `GET /v1/users/{user}/meetings?from=&to=`: meetings overlapping the window (default: now to
/// four weeks ahead), by start, with their join target.
pub async fn meetings(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: web::Path<String>,
    window: web::Query<Window>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &req)?;
    let mailbox = mailbox(&state, &user)?;
    let from = window.from.unwrap_or_else(Utc::now);
    let to = window.to.unwrap_or(from + Duration::weeks(4));
    if to < from {
        return Err(ApiError::BadRequest("`to` is before `from`".into()));
    }
    let rows = projection::meetings(&state.store, &state.ring, &mailbox, from, to)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let value: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "eventId": r.event_id,
                "subject": r.private.subject,
                "start": r.start,
                "end": r.end,
                "isAllDay": r.is_all_day,
                "join": r.join.map(|j| json!({
                    "provider": j.provider,
                    "kind": j.kind,
                    "origin": j.origin,
                    "address": r.private.join_address,
                    "webLink": r.private.web_link,
                })),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"value": value})))
}

/// Body of `POST /admin/v1/mailboxes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnableRequest {
    user_id: String,
}

/// Appends an admin command to the mailbox's input log, so the process that owns the mailbox
/// applies it in order with the mailbox's notifications.
async fn command(state: &AppState, mailbox: MailboxId, command: AdminCommand) -> Result<(), ApiError> {
    state.inbox.command(mailbox, command, state.clock.now()).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(())
}

/// `POST /admin/v1/mailboxes`: enables a mailbox. Logs `EnableMailbox` and `RenewSubscription`
/// for the process that owns the mailbox, which reads the mailbox's language (proving it can
/// reach it), subscribes to its calendar and resyncs the window. Answers 202 `pending`; the
/// status turns `active`, or `error` with a reason (`not_in_scope`, `mailbox_not_enabled`,
/// `consent_missing`, `throttled`, `unavailable`). Enabling again retries at once.
pub async fn enable(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<EnableRequest>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &req)?;
    let mailbox = mailbox(&state, &body.user_id)?;
    command(&state, mailbox, AdminCommand::EnableMailbox { locale: None }).await?;
    command(&state, mailbox, AdminCommand::RenewSubscription).await?;
    state.metrics.inc("hcal_mailbox_commands_total", "command", "enable");
    Ok(HttpResponse::Accepted().json(json!({"userId": mailbox.user, "status": "pending"})))
}

/// `DELETE /admin/v1/mailboxes/{user}`: disables a mailbox (its subscription is deleted).
pub async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &req)?;
    let mailbox = mailbox(&state, &user)?;
    command(&state, mailbox, AdminCommand::DisableMailbox).await?;
    state.metrics.inc("hcal_mailbox_commands_total", "command", "disable");
    Ok(HttpResponse::Accepted().json(json!({"userId": mailbox.user, "status": "disabling"})))
}

/// `GET /admin/v1/mailboxes`: every known mailbox with its status.
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    authorize(&state, &req)?;
    let value: Vec<_> = state
        .subscriptions
        .mailboxes()
        .into_iter()
        .map(|(mailbox, entry)| {
            json!({
                "userId": mailbox.user,
                "status": entry.status(),
                "reason": entry.error.as_ref().filter(|_| entry.status() == "error").map(|(r, _)| r.clone()),
                "retryAt": entry.error.as_ref().filter(|_| entry.status() == "error").and_then(|(_, at)| *at),
                "subscriptionExpiresAt": entry.subscription.as_ref().map(|(_, at)| *at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"value": value})))
}

/// `GET /admin/v1/mailboxes/{user}`.
pub async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &req)?;
    let mailbox = mailbox(&state, &user)?;
    let s = state.registry.state(mailbox).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({
        "userId": mailbox.user,
        "status": s.status().0,
        "reason": s.status().1,
        "retryAt": s.setup_error.as_ref().and_then(|(_, at)| *at),
        "locale": s.locale,
        "subscription": s.subscription.map(|(id, exp)| json!({
            "id": id,
            "expiresAt": exp,
            // Whether this process's webhook already accepts the subscription's notifications.
            "webhookReady": state.subscriptions.get(&id).is_some(),
        })),
        "meetings": s.meetings.len(),
        "seq": s.seq,
    })))
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

/// `GET /healthz`.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Most records `GET /admin/v1/logs/{topic}` returns.
const MAX_LOG_RECORDS: usize = 100_000;

/// `GET /admin/v1/logs/{topic}`: the records of a log as stored (sensitive parts sealed), in
/// partition and offset order; for operators and for checking the downstream contract.
pub async fn log_records(
    state: web::Data<AppState>,
    req: HttpRequest,
    topic: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    use hcal_actors::log::{MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, NOTIFICATIONS};
    authorize(&state, &req)?;
    let topic = topic.into_inner();
    if ![NOTIFICATIONS, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS].contains(&topic.as_str()) {
        return Err(ApiError::BadRequest(format!("unknown log {topic}")));
    }
    let mut records = Vec::new();
    for partition in 0..state.log.partitions(&topic) {
        let mut from = 0;
        while records.len() < MAX_LOG_RECORDS {
            let batch = state
                .log
                .read(&topic, partition, from, 1000)
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            let Some(last) = batch.last() else { break };
            from = last.offset + 1;
            for r in batch {
                let value: serde_json::Value = serde_json::from_slice(&r.payload).unwrap_or(serde_json::Value::Null);
                records.push(json!({"partition": r.partition, "offset": r.offset, "key": r.key, "value": value}));
            }
        }
    }
    Ok(HttpResponse::Ok().json(json!({"topic": topic, "records": records})))
}

/// Body of `POST /admin/v1/testing/clock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Advance {
    advance_seconds: i64,
}

fn testing_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.testing.controllable_clock {
        Ok(())
    } else {
        Err(ApiError::BadRequest("the clock is not controllable in this installation".into()))
    }
}

/// `POST /admin/v1/testing/clock {"advanceSeconds"}` (only with `[testing] controllable_clock`).
pub async fn advance_clock(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Advance>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &req)?;
    testing_enabled(&state)?;
    state.clock.advance(Duration::seconds(body.advance_seconds));
    Ok(HttpResponse::Ok().json(json!({"now": state.clock.now()})))
}

/// `POST /admin/v1/testing/tick`: one scheduler round now (only with a controllable clock).
pub async fn tick(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    authorize(&state, &req)?;
    testing_enabled(&state)?;
    let requested = state.scheduler.tick().await;
    Ok(HttpResponse::Ok().json(json!({"renewalsRequested": requested})))
}

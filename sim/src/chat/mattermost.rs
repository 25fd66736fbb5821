//! A Mattermost API v4 simulator for custom statuses.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /api/v4/users/email/{email}` | 200 the user (`id`, `username`, `email`, …); 404 `app.user.missing_account.const` |
//! | `PUT /api/v4/users/{user_id}/status/custom` | `{"emoji", "text", "duration"?, "expires_at"?}`: 200 `{"status": "OK"}`; 400 `api.context.invalid_body_param.app_error`; 404 for an unknown user |
//! | `DELETE /api/v4/users/{user_id}/status/custom` | 200 `{"status": "OK"}` (also when none was set); 404 for an unknown user |
//!
//! Every request needs `Authorization: Bearer <token>` with a token added by
//! [`MattermostSim::add_token`]: 401 `api.context.session_expired.app_error` otherwise. A token
//! stands for a system admin (or a bot with the "edit other users" permission), so it may set
//! anyone's status. Errors have Mattermost's shape `{"id", "message", "detailed_error",
//! "request_id", "status_code"}`.
//!
//! The body is checked as Mattermost checks it: emoji and text may not both be empty;
//! `duration` is empty (with no `expires_at`, the status never clears) or one of
//! [`DURATIONS`], and `expires_at` (RFC 3339) may not be in the past. A status with an
//! `expires_at` and no `duration` gets `date_and_time`, as Mattermost's `PreSave` does.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike as _, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Fault, bearer, random_id, retry_after_secs, serve};

/// The `duration` values Mattermost accepts.
pub const DURATIONS: [&str; 6] = ["thirty_minutes", "one_hour", "four_hours", "today", "this_week", "date_and_time"];

/// Mattermost's ids: 26 characters of this alphabet.
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Configuration of one simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MattermostSimConfig {
    /// Worker threads of the HTTP server. Default 1: tests send a few requests.
    pub workers: usize,
}

impl Default for MattermostSimConfig {
    fn default() -> Self {
        Self { workers: 1 }
    }
}

/// A user's custom status as the simulator stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomStatus {
    /// Emoji name without colons, e.g. `palm_tree`.
    pub emoji: String,
    /// The text.
    pub text: String,
    /// One of [`DURATIONS`], or empty (never clears).
    pub duration: String,
    /// When it clears, when it does.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A user of the simulated server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// 26-character id.
    pub id: String,
    /// Username.
    pub username: String,
    /// E-mail address.
    pub email: String,
}

#[derive(Debug, Default)]
struct State {
    tokens: Vec<String>,
    users: BTreeMap<String, User>,
    statuses: BTreeMap<String, CustomStatus>,
    fault: Fault,
    email_lookups: u64,
    requests: u64,
}

type Shared = Arc<Mutex<State>>;

/// A running simulator; [`MattermostSim::stop`] stops it.
pub struct MattermostSim {
    state: Shared,
    url: String,
    server: ServerHandle,
}

impl MattermostSim {
    /// Starts a simulator on a free 127.0.0.1 port.
    pub async fn start(config: MattermostSimConfig) -> std::io::Result<Self> {
        let state = Shared::default();
        let (url, server) = serve(web::Data::new(state.clone()), config.workers, routes)?;
        Ok(Self { state, url, server })
    }

    /// Base URL (`http://127.0.0.1:PORT`), the server's address; the API is under `/api/v4`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server: connections are refused from then on.
    pub async fn stop(self) {
        self.server.stop(false).await;
    }

    /// Accepts `token` as a bearer token (a system admin's personal access token).
    pub fn add_token(&self, token: &str) {
        self.state.lock().tokens.push(token.to_owned());
    }

    /// Adds a user and returns their id.
    pub fn add_user(&self, username: &str, email: &str) -> String {
        let id = random_id(ID_ALPHABET, 26);
        let user = User { id: id.clone(), username: username.to_owned(), email: email.to_owned() };
        self.state.lock().users.insert(id.clone(), user);
        id
    }

    /// The custom status of user `user_id`, if one is set.
    pub fn custom_status(&self, user_id: &str) -> Option<CustomStatus> {
        self.state.lock().statuses.get(user_id).cloned()
    }

    /// Sets the fault every request meets from now on.
    pub fn set_fault(&self, fault: Fault) {
        self.state.lock().fault = fault;
    }

    /// Shorthand for [`Fault::Down`] (true) or [`Fault::None`] (false).
    pub fn set_down(&self, down: bool) {
        self.set_fault(if down { Fault::Down } else { Fault::None });
    }

    /// How many `GET /api/v4/users/email/{email}` requests were answered (any outcome).
    pub fn email_lookups(&self) -> u64 {
        self.state.lock().email_lookups
    }

    /// How many requests arrived, faults included.
    pub fn requests(&self) -> u64 {
        self.state.lock().requests
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v4/users/email/{email}").route(web::get().to(user_by_email)))
        .service(
            web::resource("/api/v4/users/{user_id}/status/custom")
                .route(web::put().to(put_custom_status))
                .route(web::delete().to(delete_custom_status)),
        )
        .default_service(web::to(not_found));
}

/// Mattermost's error body and status.
fn error(status: u16, id: &str, message: &str) -> HttpResponse {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(code).json(json!({
        "id": id,
        "message": message,
        "detailed_error": "",
        "request_id": random_id(ID_ALPHABET, 26),
        "status_code": status,
    }))
}

fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "OK"}))
}

async fn not_found() -> HttpResponse {
    error(404, "api.context.404.app_error", "Sorry, we could not find the page.")
}

/// Counts the request, applies the fault and checks the token.
fn admit(state: &Shared, http: &HttpRequest) -> Result<(), HttpResponse> {
    let mut s = state.lock();
    s.requests += 1;
    match s.fault {
        Fault::None => {}
        Fault::Down => return Err(HttpResponse::ServiceUnavailable().body("503 Service Unavailable")),
        Fault::RateLimited { retry_after } => {
            return Err(HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", retry_after_secs(retry_after).to_string()))
                .body("limit exceeded"));
        }
        Fault::Status(status) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(HttpResponse::build(code).finish());
        }
    }
    match bearer(http) {
        Some(token) if s.tokens.contains(&token) => Ok(()),
        _ => {
            Err(error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again."))
        }
    }
}

fn missing_account() -> HttpResponse {
    error(404, "app.user.missing_account.const", "Unable to find the user.")
}

async fn user_by_email(state: web::Data<Shared>, http: HttpRequest, email: web::Path<String>) -> HttpResponse {
    if let Err(refusal) = admit(&state, &http) {
        return refusal;
    }
    let mut s = state.lock();
    s.email_lookups += 1;
    let wanted = email.to_lowercase();
    match s.users.values().find(|u| u.email.to_lowercase() == wanted) {
        Some(user) => HttpResponse::Ok().json(json!({
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "create_at": 0,
            "update_at": 0,
            "delete_at": 0,
            "roles": "system_user",
            "locale": "en",
        })),
        None => missing_account(),
    }
}

/// A Go `time.Time` in JSON: RFC 3339; the zero time means none.
fn expiry(value: Option<&Value>) -> Result<Option<DateTime<Utc>>, ()> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let at = DateTime::parse_from_rfc3339(s).map_err(|_| ())?.with_timezone(&Utc);
            Ok((at.year() > 1).then_some(at))
        }
        Some(_) => Err(()),
    }
}

fn invalid_body() -> HttpResponse {
    error(400, "api.context.invalid_body_param.app_error", "Invalid or missing custom_status in request body.")
}

/// The checks of Mattermost's `updateUserCustomStatus`, `AreDurationAndExpirationTimeValid` and
/// `PreSave`.
fn parse_status(body: &[u8], now: DateTime<Utc>) -> Option<CustomStatus> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text_of = |key: &str| match value.get(key) {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => None,
    };
    let emoji = text_of("emoji")?;
    let text = text_of("text")?;
    let mut duration = text_of("duration")?;
    let expires_at = expiry(value.get("expires_at")).ok()?;
    if emoji.is_empty() && text.is_empty() {
        return None;
    }
    let not_past = expires_at.is_none_or(|at| at >= now);
    let valid = if duration.is_empty() { not_past } else { DURATIONS.contains(&duration.as_str()) && not_past };
    if !valid {
        return None;
    }
    if duration.is_empty() && expires_at.is_some() {
        duration = "date_and_time".to_owned();
    }
    // Mattermost keeps at most 100 characters of text.
    let text: String = text.chars().take(100).collect();
    Some(CustomStatus { emoji, text, duration, expires_at })
}

async fn put_custom_status(
    state: web::Data<Shared>,
    http: HttpRequest,
    user_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(refusal) = admit(&state, &http) {
        return refusal;
    }
    if user_id.len() != 26 {
        return error(
            400,
            "api.context.invalid_url_param.app_error",
            "Invalid or missing user_id parameter in request URL.",
        );
    }
    let Some(status) = parse_status(&body, Utc::now()) else { return invalid_body() };
    let mut s = state.lock();
    if !s.users.contains_key(user_id.as_str()) {
        return missing_account();
    }
    s.statuses.insert(user_id.into_inner(), status);
    ok()
}

async fn delete_custom_status(state: web::Data<Shared>, http: HttpRequest, user_id: web::Path<String>) -> HttpResponse {
    if let Err(refusal) = admit(&state, &http) {
        return refusal;
    }
    if user_id.len() != 26 {
        return error(
            400,
            "api.context.invalid_url_param.app_error",
            "Invalid or missing user_id parameter in request URL.",
        );
    }
    let mut s = state.lock();
    if !s.users.contains_key(user_id.as_str()) {
        return missing_account();
    }
    s.statuses.remove(user_id.as_str());
    ok()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_status_is_checked_as_mattermost_checks_it() {
        let future = (now() + Duration::hours(8)).to_rfc3339();
        let past = (now() - Duration::hours(1)).to_rfc3339();
        let parse = |v: Value| parse_status(v.to_string().as_bytes(), now());
        let s = parse(json!({"emoji": "palm_tree", "text": "Out", "duration": "date_and_time", "expires_at": future}));
        assert_eq!(s.map(|s| s.duration).as_deref(), Some("date_and_time"));
        let s = parse(json!({"emoji": "palm_tree", "text": "Out", "expires_at": future})).unwrap();
        assert_eq!(s.duration, "date_and_time", "PreSave fills in the duration");
        let s = parse(json!({"emoji": "palm_tree", "text": "Out"})).unwrap();
        assert_eq!((s.duration.as_str(), s.expires_at), ("", None), "no expiry");
        let s = parse(json!({"emoji": "x", "text": "y", "expires_at": "0001-01-01T00:00:00Z"})).unwrap();
        assert_eq!(s.expires_at, None, "Go's zero time is none");
        assert!(parse(json!({"emoji": "", "text": ""})).is_none());
        assert!(parse(json!({"emoji": "x", "duration": "forever"})).is_none());
        assert!(parse(json!({"emoji": "x", "duration": "date_and_time", "expires_at": past})).is_none());
        assert!(parse(json!({"emoji": "x", "expires_at": "tomorrow"})).is_none());
        assert!(parse_status(b"not json", now()).is_none());
    }
}

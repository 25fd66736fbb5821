//! A Slack Web API simulator for the two methods that set a user's status.
//!
//! | method and path | arguments | answer |
//! | --- | --- | --- |
//! | `GET /api/users.lookupByEmail?email=` | `email` | `{"ok": true, "user": {"id", "team_id", "name", "profile": {…, "email"}}}`; unknown: `{"ok": false, "error": "users_not_found"}` |
//! | `POST /api/users.profile.set` | JSON `{"user", "profile": {"status_text", "status_emoji", "status_expiration"}}` | `{"ok": true, "profile": {…}}`; unknown user: `user_not_found`; text over 100 characters: `too_long`; a body that is not JSON: `invalid_json` |
//!
//! As Slack does, every refusal is HTTP 200 with `{"ok": false, "error": CODE}`: no
//! `Authorization: Bearer` header is `not_authed`, a token not added with
//! [`SlackSim::add_token`] is `invalid_auth`. Throttling alone is HTTP 429, with `Retry-After`
//! in seconds and `{"ok": false, "error": "ratelimited"}` ([`super::Fault::RateLimited`]).
//! Tokens stand for an admin's user token on a paid workspace, which may set anyone's profile.
//! What the simulator chose where it is simpler than Slack: the arguments of
//! `users.profile.set` come as JSON only (not form-encoded), and a call without `user` (which
//! would change the token owner's own profile) is answered `user_not_found`; hcal always names
//! the user.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Fault, bearer, random_id, retry_after_secs, serve};

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The team every simulated user belongs to.
pub const TEAM_ID: &str = "T0HCALSIM1";

/// Configuration of one simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackSimConfig {
    /// Worker threads of the HTTP server. Default 1: tests send a few requests.
    pub workers: usize,
}

impl Default for SlackSimConfig {
    fn default() -> Self {
        Self { workers: 1 }
    }
}

/// The status fields of a user's profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackStatus {
    /// Status text (empty: none).
    pub status_text: String,
    /// Status emoji, e.g. `:palm_tree:` (empty: none).
    pub status_emoji: String,
    /// Unix seconds when Slack clears the status; 0 for never.
    pub status_expiration: i64,
}

#[derive(Debug, Clone)]
struct SlackUser {
    id: String,
    name: String,
    email: String,
    status: SlackStatus,
}

#[derive(Debug, Default)]
struct State {
    tokens: Vec<String>,
    users: BTreeMap<String, SlackUser>,
    fault: Fault,
    email_lookups: u64,
    profile_sets: u64,
}

type Shared = Arc<Mutex<State>>;

/// A running simulator; [`SlackSim::stop`] stops it.
pub struct SlackSim {
    state: Shared,
    url: String,
    server: ServerHandle,
}

impl SlackSim {
    /// Starts a simulator on a free 127.0.0.1 port.
    pub async fn start(config: SlackSimConfig) -> std::io::Result<Self> {
        let state = Shared::default();
        let (url, server) = serve(web::Data::new(state.clone()), config.workers, routes)?;
        Ok(Self { state, url, server })
    }

    /// Base URL of the Web API (`http://127.0.0.1:PORT/api`), what stands for
    /// `https://slack.com/api`: methods are `{url}/{method}`.
    pub fn url(&self) -> String {
        format!("{}/api", self.url)
    }

    /// Stops the server: connections are refused from then on.
    pub async fn stop(self) {
        self.server.stop(false).await;
    }

    /// Accepts `token` as a bearer token (an admin's user token).
    pub fn add_token(&self, token: &str) {
        self.state.lock().tokens.push(token.to_owned());
    }

    /// Adds a user with an empty status; returns their id (`U` and ten characters).
    pub fn add_user(&self, name: &str, email: &str) -> String {
        let id = format!("U{}", random_id(ID_ALPHABET, 10));
        let user = SlackUser {
            id: id.clone(),
            name: name.to_owned(),
            email: email.to_owned(),
            status: SlackStatus::default(),
        };
        self.state.lock().users.insert(id.clone(), user);
        id
    }

    /// User `user_id`'s current status fields.
    pub fn status(&self, user_id: &str) -> Option<SlackStatus> {
        self.state.lock().users.get(user_id).map(|u| u.status.clone())
    }

    /// Sets the fault every request meets from now on.
    pub fn set_fault(&self, fault: Fault) {
        self.state.lock().fault = fault;
    }

    /// Shorthand for [`Fault::Down`] (true) or [`Fault::None`] (false).
    pub fn set_down(&self, down: bool) {
        self.set_fault(if down { Fault::Down } else { Fault::None });
    }

    /// How many `users.lookupByEmail` calls were answered (any outcome but a fault).
    pub fn email_lookups(&self) -> u64 {
        self.state.lock().email_lookups
    }

    /// How many `users.profile.set` calls changed a profile.
    pub fn profile_sets(&self) -> u64 {
        self.state.lock().profile_sets
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/users.lookupByEmail").route(web::get().to(lookup_by_email)))
        .service(web::resource("/api/users.profile.set").route(web::post().to(profile_set)))
        // Slack answers an unknown method with HTTP 404 and `unknown_method`.
        .default_service(web::to(|| async {
            HttpResponse::NotFound().json(json!({"ok": false, "error": "unknown_method"}))
        }));
}

/// `{"ok": false, "error": code}` with HTTP 200, as Slack refuses.
fn refuse(code: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": false, "error": code}))
}

/// Applies the fault and checks the token.
fn admit(state: &Shared, http: &HttpRequest) -> Result<(), HttpResponse> {
    let s = state.lock();
    match s.fault {
        Fault::None => {}
        Fault::Down => return Err(HttpResponse::ServiceUnavailable().body("503 Service Unavailable")),
        Fault::RateLimited { retry_after } => {
            return Err(HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", retry_after_secs(retry_after).to_string()))
                .json(json!({"ok": false, "error": "ratelimited"})));
        }
        Fault::Status(status) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(HttpResponse::build(code).finish());
        }
    }
    match bearer(http) {
        None => Err(refuse("not_authed")),
        Some(token) if s.tokens.contains(&token) => Ok(()),
        Some(_) => Err(refuse("invalid_auth")),
    }
}

#[derive(Deserialize)]
struct LookupQuery {
    email: Option<String>,
}

async fn lookup_by_email(state: web::Data<Shared>, http: HttpRequest, query: web::Query<LookupQuery>) -> HttpResponse {
    if let Err(refusal) = admit(&state, &http) {
        return refusal;
    }
    let mut s = state.lock();
    s.email_lookups += 1;
    let Some(email) = query.email.as_deref().filter(|e| !e.is_empty()) else { return refuse("invalid_arguments") };
    let wanted = email.to_lowercase();
    match s.users.values().find(|u| u.email.to_lowercase() == wanted) {
        Some(user) => HttpResponse::Ok().json(json!({
            "ok": true,
            "user": {
                "id": user.id,
                "team_id": TEAM_ID,
                "name": user.name,
                "deleted": false,
                "profile": profile_json(&user.status, Some(&user.email)),
            },
        })),
        None => refuse("users_not_found"),
    }
}

fn profile_json(status: &SlackStatus, email: Option<&str>) -> Value {
    let mut profile = json!({
        "status_text": status.status_text,
        "status_emoji": status.status_emoji,
        "status_expiration": status.status_expiration,
    });
    if let (Some(email), Some(map)) = (email, profile.as_object_mut()) {
        map.insert("email".to_owned(), json!(email));
    }
    profile
}

async fn profile_set(state: web::Data<Shared>, http: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Err(refusal) = admit(&state, &http) {
        return refusal;
    }
    let Ok(args) = serde_json::from_slice::<Value>(&body) else { return refuse("invalid_json") };
    let Some(profile) = args.get("profile").and_then(Value::as_object) else { return refuse("invalid_profile") };
    let mut s = state.lock();
    let Some(user) = args.get("user").and_then(Value::as_str).and_then(|id| s.users.get_mut(id)) else {
        return refuse("user_not_found");
    };
    let mut status = user.status.clone();
    if let Some(text) = profile.get("status_text") {
        let Some(text) = text.as_str() else { return refuse("invalid_profile") };
        if text.chars().count() > 100 {
            return refuse("too_long");
        }
        status.status_text = text.to_owned();
    }
    if let Some(emoji) = profile.get("status_emoji") {
        let Some(emoji) = emoji.as_str() else { return refuse("invalid_profile") };
        status.status_emoji = emoji.to_owned();
    }
    if let Some(expiration) = profile.get("status_expiration") {
        let Some(expiration) = expiration.as_i64() else { return refuse("invalid_profile") };
        status.status_expiration = expiration;
    }
    user.status = status;
    let answer = profile_json(&user.status, None);
    s.profile_sets += 1;
    HttpResponse::Ok().json(json!({"ok": true, "profile": answer}))
}

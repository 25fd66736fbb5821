//! The Slack sink: the profile status while a user is out of office.
//!
//! - out of office: `POST {url}/users.profile.set` with `{"user", "profile": {"status_text",
//!   "status_emoji", "status_expiration"}}` (the window's end in unix seconds when it is known
//!   and ahead, so Slack clears the status by itself; otherwise 0, never);
//! - back: the same call with an empty text and emoji, which clears the status;
//! - users without an entry in `[presence.users]`: `GET {url}/users.lookupByEmail?email=`
//!   once, remembered in memory.
//!
//! The token is a user token of a workspace admin (`users.profile:write`, `users:read.email`):
//! only admins of paid workspaces may set other users' profiles. Slack answers refusals with
//! HTTP 200 and `{"ok": false, "error": CODE}`: `users_not_found` / `user_not_found` and body
//! errors skip the change; token errors (`not_authed`, `invalid_auth`, `token_revoked`,
//! `missing_scope`, …) are retried, as an operator can fix them; `ratelimited` (HTTP 429)
//! waits `Retry-After`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Answer, KnownUsers, base, exchange, judge};
use crate::presence::sink::{PresenceSink, PresenceStatus, PresenceUpdate, SinkFailure};

/// Slack's Web API.
pub const DEFAULT_URL: &str = "https://slack.com/api";

/// Error codes that name the token or the workspace, not this update.
const CREDENTIAL_ERRORS: [&str; 9] = [
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "team_access_not_granted",
];

/// A Slack workspace.
pub struct SlackSink {
    http: reqwest::Client,
    url: String,
    token: String,
    text: String,
    emoji: String,
    /// Slack user ids by e-mail address.
    ids: KnownUsers,
}

impl SlackSink {
    /// A sink calling the Web API at `url` with `token`.
    pub fn new(http: reqwest::Client, url: &str, token: &str, text: String, emoji: String) -> Result<Self, String> {
        let token = token.trim();
        if token.is_empty() {
            return Err("the Slack token is empty".to_owned());
        }
        Ok(Self { http, url: base(url)?, token: token.to_owned(), text, emoji, ids: KnownUsers::default() })
    }

    async fn user_id(&self, update: &PresenceUpdate) -> Result<String, SinkFailure> {
        self.ids
            .id(update, |address| async move {
                let request = self.http.get(format!("{}/users.lookupByEmail", self.url)).query(&[("email", &address)]);
                let value = judged(&exchange(request.bearer_auth(&self.token)).await?)?;
                value["user"]["id"].as_str().filter(|id| !id.is_empty()).map(str::to_owned).ok_or_else(|| {
                    SinkFailure::Retry {
                        reason: "users.lookupByEmail answered without a user id".to_owned(),
                        after: None,
                    }
                })
            })
            .await
    }
}

/// The arguments of `users.profile.set` for `update` at `now` (pure).
pub fn profile_set(user: &str, update: &PresenceUpdate, text: &str, emoji: &str, now: DateTime<Utc>) -> Value {
    match update.status {
        PresenceStatus::OutOfOffice => {
            let expiration = update.until.filter(|u| *u > now).map_or(0, |u| u.timestamp());
            json!({
                "user": user,
                "profile": {
                    "status_text": text,
                    "status_emoji": format!(":{emoji}:"),
                    "status_expiration": expiration,
                },
            })
        }
        PresenceStatus::Available => json!({
            "user": user,
            "profile": { "status_text": "", "status_emoji": "", "status_expiration": 0 },
        }),
    }
}

/// The body of a successful answer, or how the answer failed.
fn judged(answer: &Answer) -> Result<Value, SinkFailure> {
    let value: Option<Value> = serde_json::from_str(&answer.body).ok();
    let code = value.as_ref().and_then(|v| v["error"].as_str()).map(str::to_owned);
    if answer.status != 200 {
        return Err(judge(answer, code.as_deref()));
    }
    let Some(value) = value else {
        return Err(SinkFailure::Retry { reason: "Slack's answer is not JSON".to_owned(), after: None });
    };
    if value["ok"].as_bool() == Some(true) {
        return Ok(value);
    }
    let code = code.unwrap_or_else(|| "unknown_error".to_owned());
    if CREDENTIAL_ERRORS.contains(&code.as_str()) {
        Err(SinkFailure::Retry { reason: format!("{code}: credentials refused"), after: None })
    } else if code == "ratelimited"
        || code == "internal_error"
        || code == "fatal_error"
        || code == "service_unavailable"
    {
        Err(SinkFailure::Retry { reason: code, after: answer.retry_after })
    } else {
        Err(SinkFailure::Skip { reason: code })
    }
}

#[async_trait]
impl PresenceSink for SlackSink {
    async fn deliver(&self, update: &PresenceUpdate) -> Result<(), SinkFailure> {
        let user = self.user_id(update).await?;
        let body = profile_set(&user, update, &self.text, &self.emoji, Utc::now());
        let request = self.http.post(format!("{}/users.profile.set", self.url)).bearer_auth(&self.token).json(&body);
        judged(&exchange(request).await?).map(|_| ())
    }
}

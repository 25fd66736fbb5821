//! The Mattermost sink: a custom status while a user is out of office.
//!
//! - out of office: `PUT /api/v4/users/{user_id}/status/custom` with
//!   `{"emoji", "text", "expires_at"?}` (the window's end when it is known and still ahead, so
//!   Mattermost clears the status by itself even if hcal is down then);
//! - back: `DELETE /api/v4/users/{user_id}/status/custom` (also when none is set);
//! - users without an entry in `[presence.users]`: `GET /api/v4/users/email/{email}` once,
//!   remembered in memory.
//!
//! The token (`secret_env`) is a bot's or a system admin's personal access token with the
//! permission to edit other users. Errors are read from Mattermost's `{"id", "message", …}`:
//! `app.user.missing_account.const` (an unknown user) skips the change.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Answer, KnownUsers, base, exchange, judge, segment};
use crate::presence::sink::{PresenceSink, PresenceStatus, PresenceUpdate, SinkFailure};

/// A Mattermost server.
pub struct MattermostSink {
    http: reqwest::Client,
    url: String,
    token: String,
    text: String,
    emoji: String,
    /// Mattermost user ids by e-mail address.
    ids: KnownUsers,
}

impl MattermostSink {
    /// A sink for the server at `url`, authenticating with `token`.
    pub fn new(http: reqwest::Client, url: &str, token: &str, text: String, emoji: String) -> Result<Self, String> {
        let token = token.trim();
        if token.is_empty() {
            return Err("the Mattermost token is empty".to_owned());
        }
        Ok(Self { http, url: base(url)?, token: token.to_owned(), text, emoji, ids: KnownUsers::default() })
    }

    async fn user_id(&self, update: &PresenceUpdate) -> Result<String, SinkFailure> {
        self.ids
            .id(update, |address| async move {
                let url = format!("{}/api/v4/users/email/{}", self.url, segment(&address));
                let answer = exchange(self.http.get(url).bearer_auth(&self.token)).await?;
                if answer.status != 200 {
                    return Err(failure(&answer));
                }
                let user: Value = serde_json::from_str(&answer.body).map_err(|_| SinkFailure::Retry {
                    reason: "the user lookup's answer is not JSON".to_owned(),
                    after: None,
                })?;
                user["id"].as_str().filter(|id| !id.is_empty()).map(str::to_owned).ok_or_else(|| SinkFailure::Retry {
                    reason: "the user lookup's answer has no id".to_owned(),
                    after: None,
                })
            })
            .await
    }
}

/// The body of the custom status for `update` at `now` (pure).
pub fn custom_status(update: &PresenceUpdate, text: &str, emoji: &str, now: DateTime<Utc>) -> Value {
    let mut body = json!({ "emoji": emoji, "text": text });
    // Mattermost refuses an expiry in the past; a window already over gets none (the return
    // follows at once).
    if let (Some(until), Some(map)) = (update.until.filter(|u| *u > now), body.as_object_mut()) {
        map.insert("duration".to_owned(), json!("date_and_time"));
        map.insert("expires_at".to_owned(), json!(until.to_rfc3339_opts(SecondsFormat::Secs, true)));
    }
    body
}

fn failure(answer: &Answer) -> SinkFailure {
    let code = serde_json::from_str::<Value>(&answer.body).ok().and_then(|v| v["id"].as_str().map(str::to_owned));
    judge(answer, code.as_deref())
}

#[async_trait]
impl PresenceSink for MattermostSink {
    async fn deliver(&self, update: &PresenceUpdate) -> Result<(), SinkFailure> {
        let user = self.user_id(update).await?;
        let url = format!("{}/api/v4/users/{}/status/custom", self.url, segment(&user));
        let request = match update.status {
            PresenceStatus::OutOfOffice => {
                self.http.put(url).json(&custom_status(update, &self.text, &self.emoji, Utc::now()))
            }
            PresenceStatus::Available => self.http.delete(url),
        };
        let answer = exchange(request.bearer_auth(&self.token)).await?;
        if answer.status == 200 { Ok(()) } else { Err(failure(&answer)) }
    }
}

//! The Matrix sink: the user's presence on a homeserver.
//!
//! `PUT {url}/_matrix/client/v3/presence/{userId}/status` with
//! `{"presence": "unavailable", "status_msg": TEXT}` while the user is out of office and
//! `{"presence": "online", "status_msg": ""}` when they are back (their own clients then set
//! presence from their activity, as they always do).
//!
//! Matrix lets only a user set their own presence, so the secret is one of:
//! - access tokens per user, `@alice:example.org=TOKEN,@bob:example.org=TOKEN2`; a change of a
//!   user without a token is skipped;
//! - one application service token (`as_token` of a registration whose user namespace covers
//!   the users): each request then names its user with `?user_id=`, as the application service
//!   API allows.
//!
//! The user's Matrix id comes from `[presence.users]` or, with `server_name`, from the local
//! part of the user's e-mail address (`alice@contoso.com` → `@alice:{server_name}`). Errors
//! are read from Matrix's `{"errcode", "error"}`: `M_LIMIT_EXCEEDED` waits `retry_after_ms`;
//! what concerns one user skips that user's change, so it holds up nobody else: 403
//! `M_FORBIDDEN` (an application service not allowed to act for the user, or a token of
//! another user), a user's own token refused (401 `M_UNKNOWN_TOKEN`), `M_NOT_FOUND`,
//! `M_INVALID_PARAM`. The application service token refused (401) concerns every user and
//! is retried until the operator fixes it.
//!
//! Synapse keeps presence per device and shows the most available one: while one of the
//! user's own clients is active it shows `online`, with hcal's status message.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Answer, base, exchange, judge, segment};
use crate::presence::sink::{PresenceSink, PresenceStatus, PresenceUpdate, SinkFailure};

/// How the sink authenticates.
enum Tokens {
    /// One access token per Matrix user.
    PerUser(BTreeMap<String, String>),
    /// An application service token, masquerading with `?user_id=`.
    AppService(String),
}

/// A Matrix homeserver.
pub struct MatrixSink {
    http: reqwest::Client,
    url: String,
    tokens: Tokens,
    server_name: Option<String>,
    text: String,
}

impl MatrixSink {
    /// A sink for the homeserver at `url`; `secret` as the module describes.
    pub fn new(
        http: reqwest::Client,
        url: &str,
        secret: &str,
        server_name: Option<String>,
        text: String,
    ) -> Result<Self, String> {
        Ok(Self { http, url: base(url)?, tokens: tokens_of(secret)?, server_name, text })
    }

    fn user_id(&self, update: &PresenceUpdate) -> Result<String, SinkFailure> {
        if let Some(id) = &update.sink_user {
            return Ok(id.clone());
        }
        let skip = |reason: &str| SinkFailure::Skip { reason: reason.to_owned() };
        let server = self.server_name.as_deref().ok_or_else(|| skip("no mapped Matrix user and no server_name"))?;
        let address = update.address.as_deref().ok_or_else(|| skip("the user has no e-mail address"))?;
        user_id_of(address, server).ok_or_else(|| skip("the e-mail address makes no Matrix user id"))
    }
}

/// Reads the secret: `@user:server=token` pairs, or one application service token.
fn tokens_of(secret: &str) -> Result<Tokens, String> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Err("the Matrix secret is empty".to_owned());
    }
    if !secret.starts_with('@') {
        if secret.contains([',', '=', ' ']) {
            return Err("the Matrix secret is neither `@user:server=token` pairs nor one token".to_owned());
        }
        return Ok(Tokens::AppService(secret.to_owned()));
    }
    let mut tokens = BTreeMap::new();
    for (n, pair) in secret.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
        let Some((user, token)) = pair.split_once('=') else {
            return Err(format!("entry {} of the Matrix secret is not `@user:server=token`", n + 1));
        };
        let (user, token) = (user.trim(), token.trim());
        if !valid_user_id(user) || token.is_empty() {
            return Err(format!("entry {} of the Matrix secret is not `@user:server=token`", n + 1));
        }
        tokens.insert(user.to_owned(), token.to_owned());
    }
    Ok(Tokens::PerUser(tokens))
}

/// Whether `id` looks like a Matrix user id, `@localpart:server`.
fn valid_user_id(id: &str) -> bool {
    id.strip_prefix('@').and_then(|rest| rest.split_once(':')).is_some_and(|(local, server)| {
        !local.is_empty()
            && !server.is_empty()
            && local.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/+".contains(c))
    })
}

/// `@{local part}:{server}` of an e-mail address, lower case (pure); `None` when the local part
/// has characters Matrix user ids do not allow.
pub fn user_id_of(address: &str, server: &str) -> Option<String> {
    let (local, _) = address.rsplit_once('@')?;
    let id = format!("@{}:{server}", local.to_lowercase());
    valid_user_id(&id).then_some(id)
}

/// The body of the presence `PUT` (pure).
pub fn presence_body(status: PresenceStatus, text: &str) -> Value {
    match status {
        PresenceStatus::OutOfOffice => json!({ "presence": "unavailable", "status_msg": text }),
        PresenceStatus::Available => json!({ "presence": "online", "status_msg": "" }),
    }
}

/// How an answer failed. `per_user`: the token was this user's own, so its refusal concerns
/// this user alone and must not hold up the others.
fn failure(answer: &Answer, per_user: bool) -> SinkFailure {
    let body: Option<Value> = serde_json::from_str(&answer.body).ok();
    let code = body.as_ref().and_then(|v| v["errcode"].as_str()).map(str::to_owned);
    let mut failure = judge(answer, code.as_deref());
    if let (SinkFailure::Retry { after, .. }, Some(ms)) =
        (&mut failure, body.as_ref().and_then(|v| v["retry_after_ms"].as_u64()))
    {
        *after = after.or(Some(Duration::from_millis(ms)));
    }
    let about_this_user = match (answer.status, code.as_deref()) {
        (_, Some("M_INVALID_PARAM" | "M_NOT_FOUND")) => true,
        // An application service may not act for this user (not registered, outside its
        // namespace), or a user's own token belongs to someone else.
        (403, _) => true,
        // This user's own token is stale; the one application service token is everyone's.
        (401, _) => per_user,
        _ => false,
    };
    if about_this_user {
        let code = code.map(|c| format!(" {c}")).unwrap_or_default();
        return SinkFailure::Skip { reason: format!("HTTP {}{code} for this user", answer.status) };
    }
    failure
}

#[async_trait]
impl PresenceSink for MatrixSink {
    async fn deliver(&self, update: &PresenceUpdate) -> Result<(), SinkFailure> {
        let user = self.user_id(update)?;
        let url = format!("{}/_matrix/client/v3/presence/{}/status", self.url, segment(&user));
        let request = match &self.tokens {
            Tokens::PerUser(tokens) => {
                let Some(token) = tokens.get(&user) else {
                    return Err(SinkFailure::Skip { reason: "no access token for this Matrix user".to_owned() });
                };
                self.http.put(url).bearer_auth(token)
            }
            Tokens::AppService(token) => self.http.put(url).query(&[("user_id", &user)]).bearer_auth(token),
        };
        let answer = exchange(request.json(&presence_body(update.status, &self.text))).await?;
        let per_user = matches!(self.tokens, Tokens::PerUser(_));
        if answer.status == 200 { Ok(()) } else { Err(failure(&answer, per_user)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_pairs_or_one_application_service_token() {
        let Ok(Tokens::PerUser(pairs)) = tokens_of("@alex:example.org=syt_a, @sam:example.org=syt_b") else {
            panic!("pairs")
        };
        assert_eq!(pairs.get("@alex:example.org").map(String::as_str), Some("syt_a"));
        assert_eq!(pairs.len(), 2);
        assert!(matches!(tokens_of("as_token_123"), Ok(Tokens::AppService(t)) if t == "as_token_123"));
        for bad in ["", "@alex=", "@alex:example.org", "a=b,c=d", "@Alex:example.org=t"] {
            assert!(tokens_of(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_ids_come_from_the_local_part_of_the_address() {
        assert_eq!(
            user_id_of("Alex.Wilber@contoso.example", "matrix.example").as_deref(),
            Some("@alex.wilber:matrix.example")
        );
        assert_eq!(user_id_of("no address", "m"), None);
        assert_eq!(user_id_of("a b@contoso.example", "m"), None);
    }
}

//! App-only (client-credential) access tokens, one per tenant: cached, refreshed ahead of
//! expiry, and fetched by one caller at a time per tenant while the others wait for its result.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hcal_actors::ids::TenantId;
use hcal_actors::ports::GraphFailure;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::error::AadError;
use super::retry::{self, AttemptError, RetryKind, Retryable};

/// Refresh at least this long before expiry (and at least 10 % of the lifetime before), so a
/// token never expires between being handed out and reaching Graph, even with clock skew.
const REFRESH_MARGIN_MIN: Duration = Duration::from_secs(5 * 60);

/// After a failed refresh, wait this long before asking Entra ID again (using the old token
/// while it is valid, or repeating a final refusal), so an outage or a wrong secret does not
/// put a token request in front of every Graph call.
const REFRESH_RETRY_PAUSE: Duration = Duration::from_secs(10);

/// Lifetime assumed when the token endpoint omits `expires_in`: short, because a token used
/// past its real expiry costs a 401 and a second request.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// How long before expiry a token of `lifetime` is replaced: 5 minutes or 10 % of the
/// lifetime, whichever is longer, but never more than half the lifetime, so short-lived tokens
/// are still reused.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    REFRESH_MARGIN_MIN.max(lifetime / 10).min(lifetime / 2)
}

/// The client secret; never printed.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A bearer token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken(Arc<str>);

impl AccessToken {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// One tenant's token state.
#[derive(Default)]
struct TenantTokens {
    current: Mutex<Option<CachedToken>>,
    /// Held by the one caller that talks to Entra ID; the others queue here (single flight).
    refreshing: tokio::sync::Mutex<()>,
    /// The last refresh failure and when it ended, so callers that waited for that refresh
    /// get its answer instead of repeating it.
    last_failure: Mutex<Option<(Instant, AttemptError)>>,
}

impl TenantTokens {
    fn fresh(&self, now: Instant) -> Option<AccessToken> {
        self.current.lock().as_ref().filter(|c| now < c.refresh_at).map(|c| c.token.clone())
    }

    fn valid(&self, now: Instant) -> Option<AccessToken> {
        self.current.lock().as_ref().filter(|c| now < c.expires_at).map(|c| c.token.clone())
    }

    fn failure_since(&self, since: Instant) -> Option<AttemptError> {
        self.last_failure.lock().as_ref().filter(|(at, _)| *at >= since).map(|(_, e)| e.clone())
    }
}

/// Tokens of every tenant hcal serves. The map only grows with the number of tenants, which is
/// small and long-lived, so entries are never evicted.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    login_base: String,
    client_id: String,
    secret: Secret,
    scope: String,
    tenants: Mutex<HashMap<TenantId, Arc<TenantTokens>>>,
}

impl TokenSource {
    pub(crate) fn new(http: reqwest::Client, login_base: &str, client_id: &str, secret: Secret, scope: &str) -> Self {
        Self {
            http,
            login_base: login_base.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            secret,
            scope: scope.to_owned(),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    fn tenant(&self, tenant: TenantId) -> Arc<TenantTokens> {
        self.tenants.lock().entry(tenant).or_default().clone()
    }

    /// A token for `tenant`, from the cache while it is fresh. Otherwise one caller asks
    /// Entra ID and the others wait for its answer. While a refresh keeps failing with a
    /// retryable error, the old token is used until it really expires.
    pub(crate) async fn get(&self, tenant: TenantId) -> Result<AccessToken, AttemptError> {
        let slot = self.tenant(tenant);
        let now = Instant::now();
        if let Some(token) = slot.fresh(now) {
            return Ok(token);
        }
        if let Some(err) = slot.failure_since(now.checked_sub(REFRESH_RETRY_PAUSE).unwrap_or(now)) {
            // A refresh failed moments ago: do not ask again yet. Keep using a token that is
            // still valid; repeat a final refusal (wrong secret, no consent) without asking
            // Entra ID on every call.
            if let Some(token) = slot.valid(now) {
                return Ok(token);
            }
            if matches!(err, AttemptError::Final(_)) {
                return Err(err);
            }
        }
        let waiting_since = Instant::now();
        let _turn = slot.refreshing.lock().await;
        let now = Instant::now();
        if let Some(token) = slot.fresh(now) {
            return Ok(token);
        }
        if let Some(err) = slot.failure_since(waiting_since) {
            // The refresh we queued behind failed a moment ago: share its answer.
            return slot.valid(now).filter(|_| matches!(err, AttemptError::Retry(_))).ok_or(err);
        }
        match self.fetch(tenant).await {
            Ok(cached) => {
                let token = cached.token.clone();
                *slot.current.lock() = Some(cached);
                *slot.last_failure.lock() = None;
                Ok(token)
            }
            Err(err) => {
                *slot.last_failure.lock() = Some((Instant::now(), err.clone()));
                match &err {
                    AttemptError::Retry(r) => {
                        if let Some(token) = slot.valid(Instant::now()) {
                            tracing::warn!(%tenant, reason = %r.reason, "token refresh failed; using the current token until it expires");
                            return Ok(token);
                        }
                    }
                    // Consent withdrawn or credentials rejected: stop using what we had.
                    AttemptError::Final(_) => *slot.current.lock() = None,
                }
                Err(err)
            }
        }
    }

    /// Forgets the last refusal for `tenant` (an administrator has just granted consent): the
    /// next call asks Entra ID at once instead of repeating the refusal for the pause.
    pub(crate) fn forget_failure(&self, tenant: TenantId) {
        *self.tenant(tenant).last_failure.lock() = None;
    }

    /// Forgets `rejected` after Graph refused it, unless a newer token replaced it already.
    pub(crate) fn invalidate(&self, tenant: TenantId, rejected: &AccessToken) {
        let slot = self.tenant(tenant);
        let mut current = slot.current.lock();
        if current.as_ref().is_some_and(|c| &c.token == rejected) {
            *current = None;
        }
    }

    async fn fetch(&self, tenant: TenantId) -> Result<CachedToken, AttemptError> {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.login_base);
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.0.as_str()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        // Measure the lifetime from before the request: the token starts ageing at Entra ID.
        let requested = Instant::now();
        let resp = self.http.post(url).form(&form).send().await.map_err(|e| {
            // Nothing was issued that we know of; asking again is always safe.
            AttemptError::Retry(Retryable { unprocessed: true, ..retry::transport_failure(&e) })
        })?;
        let status = resp.status().as_u16();
        let retry_after = retry::retry_after_header(resp.headers());
        let body = resp.bytes().await.map_err(|e| AttemptError::Retry(retry::transport_failure(&e)))?;
        let retryable = |kind| {
            AttemptError::Retry(Retryable {
                kind,
                retry_after,
                unprocessed: true,
                reason: format!("token endpoint answered {status}"),
            })
        };
        match status {
            200..=299 => {
                let (token, lifetime) = parse_token(&body).ok_or_else(|| {
                    tracing::error!(%tenant, status, "token endpoint answered without a usable access_token");
                    AttemptError::Final(GraphFailure::Fatal { status, code: "InvalidTokenResponse".into() })
                })?;
                tracing::debug!(%tenant, lifetime_secs = lifetime.as_secs(), "obtained an access token");
                Ok(CachedToken {
                    token,
                    refresh_at: requested + lifetime - refresh_margin(lifetime),
                    expires_at: requested + lifetime,
                })
            }
            429 | 503 => Err(retryable(RetryKind::Throttled)),
            408 | 500..=599 => Err(retryable(RetryKind::Transient)),
            _ => {
                let aad = AadError::parse(&body);
                let failure = aad.failure(status);
                tracing::error!(%tenant, status, error = %aad.error, aadsts = ?aad.error_codes, ?failure, "token endpoint refused");
                Err(AttemptError::Final(failure))
            }
        }
    }
}

/// `access_token` and `expires_in` (a number, or a numeric string as older endpoints send).
fn parse_token(body: &[u8]) -> Option<(AccessToken, Duration)> {
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: String,
        #[serde(default)]
        expires_in: Option<Value>,
    }
    let parsed: TokenResponse = serde_json::from_slice(body).ok()?;
    if parsed.access_token.is_empty() {
        return None;
    }
    let secs = match parsed.expires_in {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Some((AccessToken(parsed.access_token.into()), secs.map_or(ASSUMED_LIFETIME, Duration::from_secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_is_five_minutes_or_ten_percent_but_at_most_half() {
        assert_eq!(refresh_margin(Duration::from_secs(3599)), Duration::from_millis(359_900));
        assert_eq!(refresh_margin(Duration::from_secs(1800)), Duration::from_secs(300));
        assert_eq!(refresh_margin(Duration::from_secs(86_400)), Duration::from_secs(8640));
        assert_eq!(refresh_margin(Duration::from_secs(60)), Duration::from_secs(30));
        assert_eq!(refresh_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn token_responses_are_parsed_tolerantly() {
        let (t, life) =
            parse_token(br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"abc"}"#)
                .unwrap();
        assert_eq!((t.as_str(), life), ("abc", Duration::from_secs(3599)));
        let (_, life) = parse_token(br#"{"expires_in":"3600","access_token":"abc"}"#).unwrap();
        assert_eq!(life, Duration::from_secs(3600));
        let (_, life) = parse_token(br#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(life, ASSUMED_LIFETIME);
        assert!(parse_token(br#"{"access_token":""}"#).is_none());
        assert!(parse_token(b"<html/>").is_none());
    }

    #[test]
    fn secrets_and_tokens_never_print() {
        let s = format!("{:?} {:?}", Secret::new("hunter2".into()), AccessToken("eyJ0".into()));
        assert!(!s.contains("hunter2") && !s.contains("eyJ0"), "{s}");
    }
}

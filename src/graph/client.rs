//! The Graph client: one request path (token, mailbox slot, send, classify, retry) shared by
//! every operation, the [`GraphApi`] port, and the service's subscription and settings calls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId, SubscriptionId, TenantId, UserObjectId};
use hcal_actors::ports::{GraphApi, GraphEvent, GraphFailure, Occurrence, PatchedEvent};
use rand::Rng;
use reqwest::Method;
use serde_json::{Value, json};
use tracing::Instrument;

use super::config::{GraphConfig, GraphSetupError, MAX_CONCURRENT_HARD_CAP};
use super::error::{self, Disposition};
use super::limiter::{Gate, MailboxLimiter};
use super::retry::{self, AttemptError, Backoff, Next, RetryKind, Retryable};
use super::token::{AccessToken, Secret, TokenSource};
use super::wire::{self, encode_component};
use super::{ListedSubscription, MailboxSettings, SubscriptionInfo};

/// Calls that keep Graph's answer in detail for callers that report to a person.
pub(super) mod detailed;

/// Change types hcal subscribes to on a mailbox's events.
const CHANGE_TYPES: &str = "created,updated,deleted";

/// Microsoft Graph over HTTP. Cheap to clone: clones share tokens and mailbox limits, and
/// they must, since Outlook's limits are per application, not per client object.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: GraphConfig,
    graph_base: String,
    http: reqwest::Client,
    tokens: TokenSource,
    limiter: MailboxLimiter,
    backoff: Backoff,
    marker_expand: String,
    /// Where requests, answers and retries are counted, once the service hands its metrics over.
    metrics: std::sync::OnceLock<Arc<crate::metrics::Metrics>>,
}

/// The label of an HTTP status in `hcal_graph_responses_total` (a fixed vocabulary).
fn status_label(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        410 => "410",
        412 => "412",
        429 => "429",
        503 => "503",
        504 => "504",
        500..=599 => "5xx",
        _ => "other",
    }
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// Whether a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Idempotent (GET, DELETE, PATCH of a value or guarded by `If-Match`).
    Always,
    /// Not idempotent (creating a subscription): repeat only what certainly had no effect,
    /// or a lost answer would leave a duplicate behind.
    OnlyUnprocessed,
}

/// Most requests Graph takes in one `$batch`.
pub const MAX_BATCH: usize = 20;

/// One logical Graph call.
struct Call {
    op: &'static str,
    method: Method,
    url: String,
    tenant: TenantId,
    mailbox: Option<MailboxId>,
    gated: bool,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
    replay: Replay,
    /// Retries allowed, when not the configured `max_retries` (callers that keep their own
    /// schedule and budget ask for none).
    max_retries: Option<u32>,
    /// Where callers that explain failures to a person get more of the last answer than its
    /// status and code.
    diagnostics: Option<detailed::DiagnosticsSink>,
}

impl Call {
    fn new(op: &'static str, method: Method, url: String, tenant: TenantId) -> Self {
        Self {
            op,
            method,
            url,
            tenant,
            mailbox: None,
            gated: false,
            headers: Vec::new(),
            body: None,
            replay: Replay::Always,
            max_retries: None,
            diagnostics: None,
        }
    }

    /// A call on a mailbox's resources: it takes one of the mailbox's slots.
    fn on_mailbox(op: &'static str, method: Method, url: String, mailbox: &MailboxId) -> Self {
        Self { mailbox: Some(*mailbox), gated: true, ..Self::new(op, method, url, mailbox.tenant) }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// The final answer of a call.
enum Reply {
    /// 2xx.
    Ok { status: u16, body: Vec<u8> },
    /// A non-retryable error answer, for the operation to interpret.
    Refused { status: u16, code: String },
}

/// The outcome of one attempt that reached Graph.
enum Attempt {
    Reply(Reply),
    /// 401 `InvalidAuthenticationToken` for this token.
    TokenRejected(AccessToken),
}

impl GraphClient {
    /// A client with the given secret (tests, or callers that read secrets themselves).
    pub fn new(config: GraphConfig, secret: String) -> Result<Self, GraphSetupError> {
        config.validate()?;
        if secret.is_empty() {
            return Err(GraphSetupError::MissingSecret(config.client_secret_env.clone()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            // Graph does not redirect these calls; following one could carry the bearer token
            // somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hcal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphSetupError::Http(e.to_string()))?;
        let tokens = TokenSource::new(
            http.clone(),
            &config.login_base,
            &config.client_id,
            Secret::new(secret),
            &config.token_scope,
        );
        let inner = Inner {
            graph_base: config.graph_base.trim_end_matches('/').to_owned(),
            tokens,
            limiter: MailboxLimiter::new(config.max_concurrent_per_mailbox.min(MAX_CONCURRENT_HARD_CAP)),
            backoff: Backoff { base: config.retry_base, cap: config.retry_cap },
            marker_expand: wire::marker_expand(&config.marker_property_id),
            metrics: std::sync::OnceLock::new(),
            http,
            config,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Counts every request to Graph in `metrics` from now on: `hcal_graph_requests_total` by
    /// operation, `hcal_graph_responses_total` by status (`transport` when no answer came),
    /// `hcal_graph_retries_total` by kind (`throttled`, `transient`). The first call wins.
    pub fn report_to(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.inner.metrics.set(metrics);
    }

    fn count(&self, name: &'static str, label: &'static str, value: &'static str) {
        if let Some(metrics) = self.inner.metrics.get() {
            metrics.inc(name, label, value);
        }
    }

    /// A client whose secret is read from the environment variable `config.client_secret_env`.
    pub fn from_env(config: GraphConfig) -> Result<Self, GraphSetupError> {
        let secret = std::env::var(&config.client_secret_env).unwrap_or_default();
        if secret.is_empty() {
            return Err(GraphSetupError::MissingSecret(config.client_secret_env));
        }
        Self::new(config, secret)
    }

    /// An administrator granted consent in `tenant`: a token refusal remembered from before
    /// (Entra ID's `unauthorized_client`) is forgotten, so the next call asks again at once.
    pub fn consent_granted(&self, tenant: TenantId) {
        self.inner.tokens.forget_failure(tenant);
    }

    /// The configuration in use.
    pub fn config(&self) -> &GraphConfig {
        &self.inner.config
    }

    /// Subscribes to created, updated and deleted events of `mailbox`, with lifecycle
    /// notifications when `lifecycle_url` is given (Graph cannot add one later). Graph
    /// validates every URL before it answers (hcal's webhook must echo `validationToken`). The
    /// `client_state` comes back with every notification; it is a secret and never logged.
    ///
    /// Not repeated after a timeout or a 5xx that may have created the subscription: the
    /// caller gets `Transient` and decides (a duplicate would deliver everything twice).
    pub async fn create_subscription(
        &self,
        mailbox: &MailboxId,
        notification_url: &str,
        lifecycle_url: Option<&str>,
        client_state: &str,
        expiration: DateTime<Utc>,
    ) -> Result<SubscriptionInfo, GraphFailure> {
        let mut body = json!({
            "changeType": CHANGE_TYPES,
            "notificationUrl": notification_url,
            "resource": format!("/users/{}/events", mailbox.user),
            "expirationDateTime": wire::format_instant(expiration),
            "clientState": client_state,
        });
        if let (Some(url), Some(fields)) = (lifecycle_url, body.as_object_mut()) {
            fields.insert("lifecycleNotificationUrl".into(), json!(url));
        }
        let url = format!("{}/subscriptions", self.inner.graph_base);
        let call = Call {
            mailbox: Some(*mailbox),
            replay: Replay::OnlyUnprocessed,
            ..Call::new("create_subscription", Method::POST, url, mailbox.tenant)
        }
        .json(body);
        match self.execute(call).await? {
            Reply::Ok { status, body } => wire::parse_subscription(&body).map_err(|e| invalid_answer(status, &e)),
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    /// Moves a subscription's expiry. `Ok(None)` when the subscription no longer exists
    /// (expired or removed by Graph): create a new one and resynchronise.
    pub async fn renew_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        expiration: DateTime<Utc>,
    ) -> Result<Option<SubscriptionInfo>, GraphFailure> {
        let url = format!("{}/subscriptions/{id}", self.inner.graph_base);
        let call = Call::new("renew_subscription", Method::PATCH, url, *tenant)
            .json(json!({"expirationDateTime": wire::format_instant(expiration)}));
        match self.execute(call).await? {
            Reply::Ok { status, body } => {
                wire::parse_subscription(&body).map(Some).map_err(|e| invalid_answer(status, &e))
            }
            Reply::Refused { status: 404, .. } => Ok(None),
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    /// Answers a `reauthorizationRequired` lifecycle notification. `Ok(false)` when the
    /// subscription no longer exists.
    pub async fn reauthorize_subscription(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<bool, GraphFailure> {
        let url = format!("{}/subscriptions/{id}/reauthorize", self.inner.graph_base);
        match self.execute(Call::new("reauthorize_subscription", Method::POST, url, *tenant)).await? {
            Reply::Ok { .. } => Ok(true),
            Reply::Refused { status: 404, .. } => Ok(false),
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    /// Deletes a subscription; one that is already gone counts as deleted.
    pub async fn delete_subscription(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<(), GraphFailure> {
        let url = format!("{}/subscriptions/{id}", self.inner.graph_base);
        match self.execute(Call::new("delete_subscription", Method::DELETE, url, *tenant)).await? {
            Reply::Ok { .. } | Reply::Refused { status: 404, .. } => Ok(()),
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    /// Every subscription this application created in `tenant` (an app-only caller sees those,
    /// for any user of the tenant, and no other application's), following `@odata.nextLink`
    /// to the last page. Graph lists them without their `clientState`. A next link that leaves
    /// the configured Graph base is refused rather than followed: the bearer token goes with it.
    pub async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<ListedSubscription>, GraphFailure> {
        // Far beyond any installation (Graph's pages hold many subscriptions each); a list that
        // never ends is an answer to stop at, not to follow for ever.
        const MAX_PAGES: usize = 10_000;
        let base = &self.inner.graph_base;
        let mut url = format!("{base}/subscriptions");
        let mut listed = Vec::new();
        for _ in 0..MAX_PAGES {
            let call = Call::new("list_subscriptions", Method::GET, url.clone(), *tenant);
            let (status, body) = match self.execute(call).await? {
                Reply::Ok { status, body } => (status, body),
                Reply::Refused { status, code } => return Err(error::refusal(status, &code)),
            };
            let (page, next) = wire::parse_subscription_page(&body).map_err(|e| invalid_answer(status, &e))?;
            listed.extend(page);
            match next {
                Some(next) if next.starts_with(&format!("{base}/")) => url = next,
                Some(_) => return Err(invalid_answer(status, "the next link leaves the Graph base URL")),
                None => return Ok(listed),
            }
        }
        Err(GraphFailure::Transient("the subscription list did not end".into()))
    }

    /// Whether hcal holds (or can get now) an access token for `tenant`: what readiness asks.
    pub async fn token_ready(&self, tenant: TenantId) -> Result<(), GraphFailure> {
        match self.inner.tokens.get(tenant).await {
            Ok(_) => Ok(()),
            Err(AttemptError::Final(failure)) => Err(failure),
            Err(AttemptError::Retry(retryable)) => Err(GraphFailure::Transient(retryable.reason)),
        }
    }

    /// Reads the mailbox's language, time zone and automatic replies.
    pub async fn mailbox_settings(&self, mailbox: &MailboxId) -> Result<MailboxSettings, GraphFailure> {
        let url = format!("{}/users/{}/mailboxSettings", self.inner.graph_base, mailbox.user);
        match self.execute(Call::on_mailbox("mailbox_settings", Method::GET, url, mailbox)).await? {
            Reply::Ok { status, body } => wire::parse_mailbox_settings(&body).map_err(|e| invalid_answer(status, &e)),
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    /// Reads the settings of up to 20 mailboxes of `tenant` in one `$batch`, without retrying
    /// (the caller keeps its own schedule and request budget). Answers each mailbox in
    /// `users`' order: its settings, or how its read failed (a throttled read carries the wait
    /// Graph asked for). Fails as a whole when the batch itself was refused or unreadable.
    pub async fn batch_mailbox_settings(
        &self,
        tenant: TenantId,
        users: &[UserObjectId],
    ) -> Result<Vec<Result<MailboxSettings, GraphFailure>>, GraphFailure> {
        if users.len() > MAX_BATCH {
            return Err(GraphFailure::Fatal { status: 400, code: "TooManyRequestsInBatch".into() });
        }
        let url = format!("{}/$batch", self.inner.graph_base);
        let mut call = Call::new("batch_mailbox_settings", Method::POST, url, tenant).json(wire::settings_batch(users));
        call.max_retries = Some(0);
        let body = match self.execute(call).await? {
            Reply::Ok { body, .. } => body,
            Reply::Refused { status, code } => return Err(error::refusal(status, &code)),
        };
        let answers = wire::parse_batch(&body, users.len()).map_err(|e| invalid_answer(200, &e))?;
        let mut results: Vec<Result<MailboxSettings, GraphFailure>> =
            users.iter().map(|_| Err(GraphFailure::Transient("no answer in the $batch response".into()))).collect();
        for answer in answers {
            let result = match answer.status {
                200..=299 => wire::parse_mailbox_settings(answer.body.to_string().as_bytes())
                    .map_err(|e| invalid_answer(answer.status, &e)),
                429 | 503 => Err(GraphFailure::Throttled { retry_after_secs: answer.retry_after.unwrap_or(1.0) }),
                500..=599 => Err(GraphFailure::Transient(format!("{} {}", answer.status, answer.code))),
                status => Err(error::refusal(status, &answer.code)),
            };
            if let Some(slot) = results.get_mut(answer.index) {
                *slot = result;
            }
        }
        Ok(results)
    }

    /// The user's e-mail address (`mail`, else `userPrincipalName`), `None` when it has none.
    pub async fn user_address(&self, mailbox: &MailboxId) -> Result<Option<String>, GraphFailure> {
        let url = format!("{}/users/{}?$select=mail,userPrincipalName", self.inner.graph_base, mailbox.user);
        match self.execute(Call::new("user_address", Method::GET, url, mailbox.tenant)).await? {
            Reply::Ok { status, body } => {
                let v: Value = serde_json::from_slice(&body).map_err(|e| invalid_answer(status, &e.to_string()))?;
                let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
                Ok(text("mail").or_else(|| text("userPrincipalName")))
            }
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    fn event_url(&self, mailbox: &MailboxId, id: &GraphEventId) -> String {
        format!("{}/users/{}/events/{}", self.inner.graph_base, mailbox.user, encode_component(id.as_str()))
    }

    /// Every event id of the mailbox's calendar view in `[start, end)` that a full
    /// `calendarView/delta` round reports, with whether it was reported removed. Follows
    /// `@odata.nextLink` pages until the `@odata.deltaLink` (a bounded number of pages).
    pub async fn changed_event_ids(
        &self,
        mailbox: &MailboxId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(GraphEventId, bool)>, GraphFailure> {
        const MAX_PAGES: usize = 10_000;
        let mut url = format!(
            "{}/users/{}/calendarView/delta?startDateTime={}&endDateTime={}",
            self.inner.graph_base,
            mailbox.user,
            encode_component(&start.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            encode_component(&end.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        let mut ids = Vec::new();
        for _ in 0..MAX_PAGES {
            let call = Call::on_mailbox("calendar_delta", Method::GET, url.clone(), mailbox)
                .header("Prefer", "odata.maxpagesize=100");
            let body = match self.execute(call).await? {
                Reply::Ok { body, .. } => body,
                Reply::Refused { status, code } => return Err(error::refusal(status, &code)),
            };
            let page: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| invalid_answer(200, &e.to_string()))?;
            for item in page["value"].as_array().into_iter().flatten() {
                if let Some(id) = item["id"].as_str() {
                    ids.push((GraphEventId::new(id), item.get("@removed").is_some()));
                }
            }
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_owned(),
                None => return Ok(ids),
            }
        }
        Err(GraphFailure::Transient("calendarView/delta did not finish".into()))
    }

    /// Runs a call to its final answer, retrying as the policy allows, inside a span that
    /// names the operation and the mailbox.
    async fn execute(&self, call: Call) -> Result<Reply, GraphFailure> {
        let client_request_id = new_request_id();
        let span = tracing::debug_span!(
            "graph",
            op = call.op,
            tenant = %call.tenant,
            user = tracing::field::Empty,
            client_request_id = %client_request_id,
        );
        if let Some(mailbox) = &call.mailbox {
            span.record("user", tracing::field::display(mailbox.user));
        }
        self.run(&call, &client_request_id).instrument(span).await
    }

    async fn run(&self, call: &Call, client_request_id: &str) -> Result<Reply, GraphFailure> {
        let inner = &self.inner;
        // Held across retries so a mailbox's throttling pause outlives each attempt.
        let gate = call.mailbox.filter(|_| call.gated).map(|m| inner.limiter.gate(m));
        let mut retries = 0;
        let mut reauthenticated = false;
        loop {
            let failed = match self.attempt(call, gate.as_deref(), client_request_id).await {
                Ok(Attempt::Reply(reply)) => return Ok(reply),
                Ok(Attempt::TokenRejected(token)) => {
                    inner.tokens.invalidate(call.tenant, &token);
                    if !reauthenticated {
                        reauthenticated = true;
                        tracing::info!("Graph rejected the access token; fetching a new one");
                        continue;
                    }
                    tracing::warn!("Graph rejected a freshly fetched access token as well");
                    return Ok(Reply::Refused { status: 401, code: "InvalidAuthenticationToken".into() });
                }
                Err(AttemptError::Final(failure)) => return Err(failure),
                Err(AttemptError::Retry(failed)) => failed,
            };
            let attempts = retries + 1;
            if call.replay == Replay::OnlyUnprocessed && !failed.unprocessed {
                tracing::warn!(reason = %failed.reason, attempts, "not repeated: the request may have taken effect");
                return Err(failed.into_failure(attempts, &inner.backoff));
            }
            let allowed = call.max_retries.unwrap_or(inner.config.max_retries);
            let next = retry::plan(&failed, retries, allowed, &inner.backoff, &mut rand::rng());
            match next {
                Next::GiveUp => {
                    tracing::warn!(reason = %failed.reason, attempts, "Graph call failed; giving up");
                    return Err(failed.into_failure(attempts, &inner.backoff));
                }
                Next::Wait(wait) => {
                    let kind = if failed.kind == RetryKind::Throttled { "throttled" } else { "transient" };
                    self.count("hcal_graph_retries_total", "kind", kind);
                    if failed.kind == RetryKind::Throttled
                        && let Some(gate) = &gate
                    {
                        gate.pause(wait);
                    }
                    tracing::info!(reason = %failed.reason, attempts, wait_ms = wait.as_millis(), "Graph call will be retried");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
            }
        }
    }

    /// One attempt: token, mailbox slot, request, answer read in full (the slot is held until
    /// then, as Graph counts the request until it has answered), classification.
    async fn attempt(
        &self,
        call: &Call,
        gate: Option<&Gate>,
        client_request_id: &str,
    ) -> Result<Attempt, AttemptError> {
        let inner = &self.inner;
        let token = inner.tokens.get(call.tenant).await?;
        let slot = match gate {
            Some(gate) => Some(gate.acquire().await.ok_or_else(|| {
                AttemptError::Final(GraphFailure::Transient("the mailbox limiter was shut down".into()))
            })?),
            None => None,
        };
        let mut request = inner
            .http
            .request(call.method.clone(), &call.url)
            .bearer_auth(token.as_str())
            .header("client-request-id", client_request_id);
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        self.count("hcal_graph_requests_total", "operation", call.op);
        let sent = std::time::Instant::now();
        let response = request.send().await.map_err(|e| {
            self.count("hcal_graph_responses_total", "status", "transport");
            send_failure(&e)
        })?;
        let status = response.status().as_u16();
        self.count("hcal_graph_responses_total", "status", status_label(status));
        if let Some(metrics) = self.inner.metrics.get() {
            metrics.observe("hcal_graph_request_seconds", sent.elapsed());
        }
        let retry_after = retry::retry_after_header(response.headers());
        let request_id =
            response.headers().get("request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = response.bytes().await.map_err(|e| AttemptError::Retry(retry::transport_failure(&e)))?.to_vec();
        drop(slot);
        let code = if (200..300).contains(&status) { String::new() } else { error::graph_error_code(&body) };
        if let Some(sink) = &call.diagnostics {
            detailed::record(sink, status, &request_id, &body);
        }
        match error::disposition(status, &code) {
            Disposition::Success => {
                tracing::debug!(status, "Graph answered");
                Ok(Attempt::Reply(Reply::Ok { status, body }))
            }
            Disposition::Reauthenticate => Ok(Attempt::TokenRejected(token)),
            Disposition::Retry(kind) => {
                tracing::debug!(status, code = %code, request_id = %request_id, "Graph answered with a retryable error");
                Err(AttemptError::Retry(Retryable {
                    kind,
                    retry_after,
                    // 429 and 503 are refusals before any work was done.
                    unprocessed: kind == RetryKind::Throttled,
                    reason: format!("{status} {code}"),
                }))
            }
            Disposition::Refused => {
                // Missing items and stale change keys are routine; other refusals are worth
                // noticing.
                if matches!(status, 404 | 412) {
                    tracing::debug!(status, code = %code, request_id = %request_id, "Graph refused");
                } else {
                    tracing::info!(status, code = %code, request_id = %request_id, "Graph refused");
                }
                Ok(Attempt::Reply(Reply::Refused { status, code }))
            }
        }
    }
}

#[async_trait]
impl GraphApi for GraphClient {
    async fn get_event(&self, mailbox: &MailboxId, id: &GraphEventId) -> Result<Option<GraphEvent>, GraphFailure> {
        let url = format!("{}?$expand={}", self.event_url(mailbox, id), encode_component(&self.inner.marker_expand));
        // Times stay in UTC (no `outlook.timezone` preference); the body must be HTML because
        // hcal rewrites it.
        let call = Call::on_mailbox("get_event", Method::GET, url, mailbox)
            .header("Prefer", r#"outlook.body-content-type="html""#);
        match self.execute(call).await? {
            Reply::Ok { status, body } => wire::parse_event(&body, &self.inner.config.marker_property_id)
                .map(Some)
                .map_err(|e| invalid_answer(status, &e)),
            Reply::Refused { status: 404, code } if code.eq_ignore_ascii_case("ErrorItemNotFound") => Ok(None),
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    /// A PATCH guarded by `If-Match`, so repeating it after a lost answer is safe: the repeat
    /// meets the new change key and answers `Conflict`, and the caller re-reads the event
    /// (finding its own marker). A deleted event answers `Fatal { 404, "ErrorItemNotFound" }`.
    async fn patch_join_info(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        expected_change_key: &str,
        body_html: &str,
        marker: &str,
    ) -> Result<PatchedEvent, GraphFailure> {
        let body = wire::patch_body(body_html, &self.inner.config.marker_property_id, marker);
        let call = Call::on_mailbox("patch_join_info", Method::PATCH, self.event_url(mailbox, id), mailbox)
            .header("If-Match", format!("W/\"{expected_change_key}\""))
            .json(body);
        match self.execute(call).await? {
            Reply::Ok { status, body } => wire::parse_change_key(&body)
                .map(|change_key| PatchedEvent { change_key })
                .map_err(|e| invalid_answer(status, &e)),
            Reply::Refused { status, code } => Err(error::refusal(status, &code)),
        }
    }

    /// `GET /users/{id}/events/{id}/instances?startDateTime&endDateTime`, every page (a next
    /// link that leaves the configured Graph base is refused: the token goes with it).
    async fn occurrences(
        &self,
        mailbox: &MailboxId,
        series_id: &GraphEventId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, GraphFailure> {
        const MAX_PAGES: usize = 100;
        let mut url = format!(
            "{}/instances?startDateTime={}&endDateTime={}&$select=id,start,end,isCancelled",
            self.event_url(mailbox, series_id),
            encode_component(&from.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            encode_component(&to.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let call = Call::on_mailbox("instances", Method::GET, url.clone(), mailbox)
                .header("Prefer", "odata.maxpagesize=100");
            let body = match self.execute(call).await? {
                Reply::Ok { body, .. } => body,
                Reply::Refused { status: 404, code } if code.eq_ignore_ascii_case("ErrorItemNotFound") => {
                    return Ok(Vec::new());
                }
                Reply::Refused { status, code } => return Err(error::refusal(status, &code)),
            };
            let (page, next) = wire::parse_occurrence_page(&body).map_err(|e| invalid_answer(200, &e))?;
            all.extend(page);
            match next {
                Some(next) if next.starts_with(&self.inner.graph_base) => url = next,
                Some(_) => return Err(invalid_answer(200, "the next page is not on the configured Graph base")),
                None => {
                    all.sort_by_key(|o| o.start);
                    return Ok(all);
                }
            }
        }
        Err(GraphFailure::Transient("instances did not finish".into()))
    }
}

/// A 2xx whose body does not have the shape we need: retrying would get the same answer.
fn invalid_answer(status: u16, problem: &str) -> GraphFailure {
    tracing::error!(status, problem, "Graph answered with an unusable body");
    GraphFailure::Fatal { status, code: "InvalidResponse".into() }
}

/// A failure to send: a request we could not even build (a header value with control
/// characters) is final; everything else is a transport problem worth retrying.
fn send_failure(err: &reqwest::Error) -> AttemptError {
    if err.is_builder() {
        tracing::error!("could not build the Graph request");
        AttemptError::Final(GraphFailure::Fatal { status: 0, code: "InvalidRequest".into() })
    } else {
        AttemptError::Retry(retry::transport_failure(err))
    }
}

/// A random GUID for `client-request-id`, echoed by Graph and quoted by its support.
fn new_request_id() -> String {
    let n: u128 = rand::rng().random();
    // Version 4, RFC 4122 variant.
    let n = (n & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{n:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn request_ids_are_version_4_guids() {
        let id = new_request_id();
        let parsed = hcal_actors::ids::TenantId::parse(&id).unwrap();
        assert_eq!(parsed.as_uuid().get_version_num(), 4);
        assert_ne!(id, new_request_id());
    }
}

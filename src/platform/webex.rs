//! Webex as hcal's meeting platform, over the Webex REST API with an admin or service-app
//! token: the organiser's personal room
//! (`GET /v1/meetingPreferences/personalMeetingRoom?userEmail=…`, in this file) and meetings
//! booked, moved and deleted for an invite (one-time meetings and meetings of a space, in
//! [`meetings`]).
//!
//! Two rules shape these files:
//! - **Host secrets never enter hcal.** Webex returns `hostPin` with a personal room and
//!   `hostKey`, `password` and `phoneAndVideoSystemPassword` with a meeting; the wire types have
//!   no field for them, so they are dropped while decoding and cannot reach an invite, a log
//!   line or an error. (A meeting's password is read once, to send it back when moving the
//!   meeting, which Webex requires; it stays in memory for that one request.)
//! - **Addresses and subjects are sensitive.** The organiser's and attendees' addresses and the
//!   invite's subject go to Webex and nowhere else: not into a log line, a span field or a
//!   [`PlatformFailure`] message. Webex's own error messages may echo them, so they are not
//!   passed on either; reqwest errors carry the URL (with an address in its query), so only
//!   their kind is reported. What is logged: status codes, attempts, delays and Webex's
//!   tracking id (which Webex support asks for).
//!
//! Failures are classified so retry policy is data: 429 and 423 (honouring `Retry-After`), 408,
//! 5xx, timeouts and connection errors are retried here with exponential backoff and jitter up
//! to [`WebexConfig::max_retries`], then reported as [`PlatformFailure::Transient`]; 400, 401,
//! 403, 404 and every other answer are [`PlatformFailure::Refused`] at once (unless the call
//! expects them, as a deletion expects 404 for a meeting already gone).

mod meetings;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::ports::{Booking, BookingRequest, DialIn, MeetingPlatform, MeetingRoom, PlatformFailure};
use rand::Rng as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Platform id written into [`MeetingRoom::platform`].
pub const PLATFORM: &str = "webex";

/// How hcal reaches Webex. Secrets are not part of it: the token is read from the environment
/// variable named by `token_env`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebexConfig {
    /// Base URL of the API, without `/v1`. Default `https://webexapis.com`; tests and the demo
    /// point it at the simulator.
    pub base_url: String,
    /// Name of the environment variable holding the bearer token: an admin integration or a
    /// service app, acting for the organisers of the site. It needs
    /// `meeting:admin_preferences_read` (personal rooms), `meeting:admin_schedule_read` and
    /// `meeting:admin_schedule_write` (one-time and space meetings scheduled for a user with
    /// `hostEmail`; the user-level `meeting:schedules_read` / `meeting:schedules_write` only
    /// reach the token's own meetings), and `spark:rooms_write` and `spark:memberships_write`
    /// (the spaces of `space` bookings). Default `HCAL_WEBEX_TOKEN`.
    pub token_env: String,
    /// Time allowed for one HTTP attempt, connect to last byte. Default `"10s"`:
    /// Webex answers in well under a second, and a hung call holds up a mailbox.
    #[serde(with = "crate::config::duration")]
    pub timeout: Duration,
    /// Retries after the first attempt for throttling, 5xx and network errors. Default 3, so a
    /// call makes at most 4 attempts before it reports a transient failure and the caller's
    /// own, slower retry takes over.
    pub max_retries: u32,
    /// Backoff before the first retry when Webex gives no `Retry-After`; doubled per retry.
    /// Default 0.5 s.
    #[serde(with = "crate::config::duration")]
    pub backoff_initial: Duration,
    /// Largest backoff between two attempts. Default 8 s.
    #[serde(with = "crate::config::duration")]
    pub backoff_max: Duration,
    /// Longest `Retry-After` waited for inside one call. Default 30 s. When Webex asks for
    /// longer, the call gives up at once with a transient failure rather than retrying early
    /// (an early retry only earns another 429) or blocking the caller for minutes.
    #[serde(with = "crate::config::duration")]
    pub max_retry_after: Duration,
}

impl Default for WebexConfig {
    fn default() -> Self {
        Self {
            base_url: "https://webexapis.com".to_owned(),
            token_env: "HCAL_WEBEX_TOKEN".to_owned(),
            timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl WebexConfig {
    /// Checks what can be checked before the first call: `base_url` must be an absolute
    /// `http` or `https` URL.
    pub fn validate(&self) -> Result<(), WebexConfigError> {
        match reqwest::Url::parse(&self.base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
            _ => Err(WebexConfigError::InvalidBaseUrl),
        }
    }
}

/// Why the Webex client cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebexConfigError {
    /// The token's environment variable is unset, empty or not Unicode.
    #[error("the Webex token is missing: set the environment variable {var}")]
    MissingToken {
        /// Name of the variable.
        var: String,
    },
    /// `base_url` is not an absolute `http://` or `https://` URL.
    #[error("webex.base_url must be an absolute http:// or https:// URL")]
    InvalidBaseUrl,
}

/// The Webex REST API as hcal's [`MeetingPlatform`].
#[derive(Clone)]
pub struct WebexClient {
    /// The HTTP client, or why it could not be built (reported on every call rather than
    /// panicking at start-up).
    http: Result<reqwest::Client, String>,
    /// `base_url` without a trailing slash.
    base_url: String,
    token: String,
    config: WebexConfig,
}

impl std::fmt::Debug for WebexClient {
    // Written out so the token can never be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebexClient").field("config", &self.config).field("token", &"<redacted>").finish()
    }
}

impl WebexClient {
    /// A client with the token given directly (the service reads it from the environment
    /// variable `config.token_env`; tests pass it in). It never fails: an empty token earns a
    /// 401 and an invalid `base_url` a refusal on every call, so check
    /// [`WebexConfig::validate`] when loading the configuration, or use
    /// [`WebexClient::from_env`], which does both checks.
    pub fn new(config: WebexConfig, token: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            // Webex does not redirect API calls; refusing redirects keeps the token on the
            // configured host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hcal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string());
        let base_url = config.base_url.trim().trim_end_matches('/').to_owned();
        Self { http, base_url, token: token.into().trim().to_owned(), config }
    }

    /// A client whose token comes from the environment variable named by `config.token_env`,
    /// after checking the configuration.
    pub fn from_env(config: WebexConfig) -> Result<Self, WebexConfigError> {
        Self::from_lookup(config, |var| std::env::var(var).ok())
    }

    /// Reads the token through `lookup` (the environment in production).
    fn from_lookup(config: WebexConfig, lookup: impl FnOnce(&str) -> Option<String>) -> Result<Self, WebexConfigError> {
        config.validate()?;
        match lookup(&config.token_env) {
            Some(token) if !token.trim().is_empty() => Ok(Self::new(config, token)),
            _ => Err(WebexConfigError::MissingToken { var: config.token_env.clone() }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &WebexConfig {
        &self.config
    }

    /// `base_url` with `segments` appended as path segments (each percent-encoded, so an
    /// opaque id cannot change the path).
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, PlatformFailure> {
        let invalid = || PlatformFailure::Refused("webex.base_url is not a valid URL".to_owned());
        let mut url = reqwest::Url::parse(&self.base_url).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(invalid());
        }
        url.path_segments_mut().map_err(|()| invalid())?.pop_if_empty().extend(segments);
        Ok(url)
    }

    /// One HTTP attempt, classified. A 2xx answer comes with its body; any other final status
    /// comes without (Webex's error text may echo an address), for the caller to judge.
    async fn attempt(&self, request: &Request<'_>) -> Outcome {
        let http = match &self.http {
            Ok(http) => http,
            Err(reason) => {
                tracing::error!(%reason, "no HTTP client for Webex");
                // Not the organiser's fault and not fixed by retrying now; transient so the
                // work is picked up again once an operator has fixed the host.
                return Outcome::Fail(PlatformFailure::Transient(format!(
                    "cannot build the HTTP client for Webex: {reason}"
                )));
            }
        };
        let mut url = match self.url(&request.path) {
            Ok(url) => url,
            Err(failure) => return Outcome::Fail(failure),
        };
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(request.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut builder = http
            .request(request.method.clone(), url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.config.timeout);
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let resp = match builder.send().await {
            Ok(resp) => resp,
            Err(err) if err.is_builder() => {
                return Outcome::Fail(PlatformFailure::Refused("webex.base_url is not a valid URL".to_owned()));
            }
            Err(err) => return Outcome::Retry { reason: network_reason(&err).to_owned(), retry_after: None },
        };
        let status = resp.status().as_u16();
        let tracking = tracking_id(resp.headers());
        let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
        match classify(status, retry_after) {
            Class::Success => match resp.bytes().await {
                Ok(body) => Outcome::Answer(Answer { status, tracking, body: body.to_vec() }),
                Err(err) if err.is_timeout() => {
                    Outcome::Retry { reason: "reading the answer from Webex timed out".to_owned(), retry_after: None }
                }
                Err(_) => {
                    Outcome::Retry { reason: "reading the answer from Webex failed".to_owned(), retry_after: None }
                }
            },
            Class::Retry { retry_after } => {
                tracing::debug!(status, tracking_id = %tracking, request = request.op.describe(), "Webex answered with a retryable status");
                Outcome::Retry { reason: format!("Webex answered {status}{}", tracking_suffix(&tracking)), retry_after }
            }
            Class::Refused => {
                tracing::debug!(status, tracking_id = %tracking, request = request.op.describe(), "Webex answered with a final status");
                Outcome::Answer(Answer { status, tracking, body: Vec::new() })
            }
        }
    }

    /// A request with retries: the answer (2xx or a final status), or why there is none.
    async fn call(&self, request: &Request<'_>) -> Result<Answer, PlatformFailure> {
        let mut retries = 0;
        loop {
            match self.attempt(request).await {
                Outcome::Answer(answer) => {
                    tracing::debug!(retries, request = request.op.describe(), "Webex answered");
                    return Ok(answer);
                }
                Outcome::Fail(failure) => return Err(failure),
                Outcome::Retry { reason, retry_after } => self.pause(retries, &reason, retry_after).await?,
            }
            retries += 1;
        }
    }

    /// Waits before retry number `retries + 1`, or gives up: after `max_retries` retries, or
    /// at once when Webex asks to wait longer than `max_retry_after`.
    async fn pause(&self, retries: u32, reason: &str, retry_after: Option<Duration>) -> Result<(), PlatformFailure> {
        if retries >= self.config.max_retries {
            tracing::warn!(attempts = retries + 1, "giving up on Webex for now");
            return Err(PlatformFailure::Transient(format!("{reason}; gave up after {} attempts", retries + 1)));
        }
        let delay = match retry_after {
            Some(wait) if wait > self.config.max_retry_after => {
                tracing::warn!(retry_after_ms = wait.as_millis(), "Webex asks to wait longer than allowed");
                return Err(PlatformFailure::Transient(format!(
                    "{reason}; Webex asks to retry after {} s",
                    wait.as_secs_f64().ceil()
                )));
            }
            Some(wait) => wait,
            None => backoff(&self.config, retries, rand::rng().random::<f64>()),
        };
        tracing::warn!(retry = retries + 1, delay_ms = delay.as_millis(), "retrying Webex after: {reason}");
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// The refusal an answer that is not 2xx means: logged (status and tracking id only) and
    /// worded for the organiser, no address in it.
    fn refused(&self, op: Op, answer: &Answer) -> PlatformFailure {
        tracing::warn!(status = answer.status, tracking_id = %answer.tracking, request = op.describe(), "Webex refused the request");
        PlatformFailure::Refused(format!(
            "{}{}",
            refusal(op, answer.status, &self.config.token_env),
            tracking_suffix(&answer.tracking)
        ))
    }

    /// The answer if it is 2xx, else its refusal.
    fn success(&self, op: Op, answer: Answer) -> Result<Answer, PlatformFailure> {
        if answer.is_success() { Ok(answer) } else { Err(self.refused(op, &answer)) }
    }
}

/// The platform id must be Webex's.
fn served(platform: &str) -> Result<(), PlatformFailure> {
    if platform == PLATFORM {
        Ok(())
    } else {
        Err(PlatformFailure::Refused(format!("hcal books no meetings on platform {platform:?}")))
    }
}

/// The organiser's address, trimmed; an empty one is refused without a call.
fn organizer(address: &str) -> Result<&str, PlatformFailure> {
    let address = address.trim();
    if address.is_empty() {
        Err(PlatformFailure::Refused("the organiser has no e-mail address".to_owned()))
    } else {
        Ok(address)
    }
}

#[async_trait]
impl MeetingPlatform for WebexClient {
    #[tracing::instrument(name = "webex.personal_room", skip_all)]
    async fn personal_room(&self, platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure> {
        served(platform)?;
        let address = organizer(organizer_address)?;
        let request =
            Request::new(Op::PersonalRoom, reqwest::Method::GET, &PERSONAL_ROOM_PATH).query("userEmail", address);
        let answer = self.success(Op::PersonalRoom, self.call(&request).await?)?;
        let room = decode::<PersonalRoomWire>(Op::PersonalRoom, &answer)?.into_meeting_room()?;
        tracing::debug!("read the organiser's Webex personal room");
        Ok(room)
    }

    #[tracing::instrument(name = "webex.book", skip_all, fields(kind = ?request.kind))]
    async fn book(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        self.book_meeting(request).await
    }

    #[tracing::instrument(name = "webex.reschedule", skip_all, fields(kind = ?request.kind))]
    async fn reschedule(&self, booking_id: &str, request: &BookingRequest) -> Result<(), PlatformFailure> {
        self.reschedule_meeting(booking_id, request).await
    }

    #[tracing::instrument(name = "webex.cancel", skip_all)]
    async fn cancel(&self, platform: &str, booking_id: &str, organizer_address: &str) -> Result<(), PlatformFailure> {
        self.cancel_meeting(platform, booking_id, organizer_address).await
    }
}

/// Path of the personal-room endpoint.
const PERSONAL_ROOM_PATH: [&str; 3] = ["v1", "meetingPreferences", "personalMeetingRoom"];

/// What a request is for; it names the request in log lines and failure messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `GET /v1/meetingPreferences/personalMeetingRoom`.
    PersonalRoom,
    /// `GET /v1/meetings?integrationTag=…`.
    FindMeeting,
    /// `POST /v1/meetings`.
    CreateMeeting,
    /// `GET /v1/meetings/{id}`.
    ReadMeeting,
    /// `PUT /v1/meetings/{id}`.
    UpdateMeeting,
    /// `DELETE /v1/meetings/{id}`.
    DeleteMeeting,
    /// `POST /v1/rooms`.
    CreateSpace,
    /// `POST /v1/memberships`.
    AddMember,
}

impl Op {
    /// The request, as log lines and messages name it.
    fn describe(self) -> &'static str {
        match self {
            Self::PersonalRoom => "personal-room request",
            Self::FindMeeting => "meeting lookup",
            Self::CreateMeeting => "meeting booking",
            Self::ReadMeeting => "meeting read",
            Self::UpdateMeeting => "meeting change",
            Self::DeleteMeeting => "meeting deletion",
            Self::CreateSpace => "space creation",
            Self::AddMember => "space membership",
        }
    }

    /// What a 2xx answer to it holds.
    fn answer(self) -> &'static str {
        match self {
            Self::PersonalRoom => "personal room",
            Self::FindMeeting => "meeting list",
            Self::CreateSpace => "space",
            Self::AddMember => "membership",
            Self::CreateMeeting | Self::ReadMeeting | Self::UpdateMeeting | Self::DeleteMeeting => "meeting",
        }
    }
}

/// One request to Webex: method, path under `base_url`, query and JSON body.
struct Request<'a> {
    op: Op,
    method: reqwest::Method,
    path: Vec<&'a str>,
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
}

impl<'a> Request<'a> {
    fn new(op: Op, method: reqwest::Method, path: &[&'a str]) -> Self {
        Self { op, method, path: path.to_vec(), query: Vec::new(), body: None }
    }

    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    fn body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A final answer: its status, Webex's tracking id and, for 2xx, the body.
struct Answer {
    status: u16,
    tracking: String,
    body: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    // Written out so a body (a meeting with its password, say) can never be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").field("status", &self.status).field("tracking", &self.tracking).finish_non_exhaustive()
    }
}

impl Answer {
    fn is_success(&self) -> bool {
        (200..=299).contains(&self.status)
    }
}

/// A 2xx answer's body as `T`; an unreadable one is transient (Webex answers in JSON).
fn decode<T: DeserializeOwned>(op: Op, answer: &Answer) -> Result<T, PlatformFailure> {
    serde_json::from_slice(&answer.body).map_err(|_| {
        tracing::warn!(status = answer.status, tracking_id = %answer.tracking, "Webex answered with an unreadable {}", op.answer());
        PlatformFailure::Transient(format!(
            "Webex answered with an unreadable {}{}",
            op.answer(),
            tracking_suffix(&answer.tracking)
        ))
    })
}

/// What one attempt came to.
#[derive(Debug)]
enum Outcome {
    /// A final answer.
    Answer(Answer),
    /// Worth another attempt: why (without any address), and how long Webex asked to wait.
    Retry { reason: String, retry_after: Option<Duration> },
    /// Final, without an answer.
    Fail(PlatformFailure),
}

/// How a status is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// 2xx: read the body.
    Success,
    /// Try again, after `Retry-After` if Webex sent one.
    Retry { retry_after: Option<Duration> },
    /// Do not try again.
    Refused,
}

/// Classifies a status. 423 ("temporarily unavailable") and 429 carry `Retry-After` on Webex;
/// 408 and 5xx are the server's trouble, not the request's.
fn classify(status: u16, retry_after: Option<&str>) -> Class {
    match status {
        200..=299 => Class::Success,
        423 | 429 => Class::Retry { retry_after: retry_after.and_then(parse_retry_after) },
        408 | 500..=599 => Class::Retry { retry_after: None },
        _ => Class::Refused,
    }
}

/// `Retry-After` in seconds (Webex sends integers; fractions are accepted). HTTP dates are not
/// used by Webex and fall back to the backoff.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// Exponential backoff with "equal jitter": half the step is fixed, half random (`jitter` in
/// `0.0..1.0`), so clients that failed together spread out without ever retrying at once.
fn backoff(config: &WebexConfig, retries: u32, jitter: f64) -> Duration {
    let step = config.backoff_initial.saturating_mul(2u32.saturating_pow(retries.min(16))).min(config.backoff_max);
    let half = step / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The refusal message for a status: what it means for the organiser, no address in it.
fn refusal(op: Op, status: u16, token_env: &str) -> String {
    let what = op.describe();
    match (op, status) {
        (_, 401) => format!("Webex rejected the token (401); check {token_env}"),
        (Op::PersonalRoom, 400) => "Webex rejected the personal-room request as invalid (400)".to_owned(),
        (Op::PersonalRoom, 403) => "the Webex token may not read this organiser's personal room (403)".to_owned(),
        (Op::PersonalRoom, 404) => "the organiser has no Webex account or no personal room (404)".to_owned(),
        (_, 400) => {
            format!("Webex rejected the {what} as invalid, or the organiser is not a Webex user of the site (400)")
        }
        (_, 403) => format!("the Webex token lacks the role or scope for this {what} (403)"),
        (Op::ReadMeeting | Op::UpdateMeeting | Op::DeleteMeeting, 404) => {
            "Webex no longer has the meeting (404)".to_owned()
        }
        (_, other) => format!("Webex refused the {what} ({other})"),
    }
}

/// What went wrong on the network, without reqwest's message (which holds the URL, and with it
/// the address in the query).
fn network_reason(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "the request to Webex timed out"
    } else if err.is_connect() {
        "could not connect to Webex"
    } else {
        "the request to Webex failed"
    }
}

/// Webex's `trackingid` header, kept to safe characters and a sane length since it ends up in
/// logs and messages.
fn tracking_id(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("trackingid")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).take(96).collect())
        .unwrap_or_default()
}

fn tracking_suffix(tracking: &str) -> String {
    if tracking.is_empty() { String::new() } else { format!(" (trackingId {tracking})") }
}

/// A text field that is present and not blank, trimmed.
fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The part of Webex's personal-room answer hcal uses. `hostPin` is deliberately absent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonalRoomWire {
    personal_meeting_room_link: Option<String>,
    sip_address: Option<String>,
    telephony: Option<TelephonyWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TelephonyWire {
    access_code: Option<String>,
    #[serde(default)]
    call_in_numbers: Vec<CallInWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallInWire {
    label: Option<String>,
    call_in_number: Option<String>,
}

/// `telephony.callInNumbers` as dial-in numbers (entries without a number left out, at most 5:
/// an invite is not a phone book).
pub(crate) fn dial_in(telephony: Option<&TelephonyWire>) -> Vec<DialIn> {
    telephony
        .into_iter()
        .flat_map(|t| &t.call_in_numbers)
        .filter_map(|c| {
            let number = c.call_in_number.as_deref().map(str::trim).filter(|n| !n.is_empty())?;
            Some(DialIn { label: c.label.as_deref().unwrap_or_default().trim().to_owned(), number: number.to_owned() })
        })
        .take(5)
        .collect()
}

impl PersonalRoomWire {
    fn into_meeting_room(self) -> Result<MeetingRoom, PlatformFailure> {
        let Some(web_link) = non_empty(self.personal_meeting_room_link) else {
            // Webex documents the link as never empty; a room without one cannot be joined.
            return Err(PlatformFailure::Refused("Webex returned a personal room without a link".to_owned()));
        };
        let dial_in = dial_in(self.telephony.as_ref());
        Ok(MeetingRoom {
            platform: PLATFORM.to_owned(),
            web_link,
            sip_address: non_empty(self.sip_address),
            meeting_number: non_empty(self.telephony.and_then(|t| t.access_code)),
            dial_in,
        })
    }
}

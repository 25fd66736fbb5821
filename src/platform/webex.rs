//! Webex as hcal's meeting platform: the organiser's personal room, read from the Webex REST API
//! (`GET /v1/meetingPreferences/personalMeetingRoom?userEmail=…`) with an admin or service-app
//! token.
//!
//! Two rules shape this file:
//! - **The host PIN never enters hcal.** Webex returns `hostPin` with the room; the wire type
//!   below has no field for it, so it is dropped while decoding and cannot reach an invite, a
//!   log line or an error.
//! - **Addresses are sensitive.** The organiser's address goes to Webex and nowhere else: not
//!   into a log line, a span field or a [`PlatformFailure`] message. Webex's own error messages
//!   may echo the address, so they are not passed on either; reqwest errors carry the URL (with
//!   the address in its query), so only their kind is reported. What is logged: status codes,
//!   attempts, delays and Webex's tracking id (which Webex support asks for).
//!
//! Failures are classified so retry policy is data: 429 and 423 (honouring `Retry-After`), 408,
//! 5xx, timeouts and connection errors are retried here with exponential backoff and jitter up
//! to [`WebexConfig::max_retries`], then reported as [`PlatformFailure::Transient`]; 400, 401,
//! 403, 404 and every other answer are [`PlatformFailure::Refused`] at once.

use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::ports::{Booking, BookingRequest, MeetingPlatform, MeetingRoom, PlatformFailure};
use rand::Rng as _;
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
    /// Name of the environment variable holding the bearer token (an admin integration or a
    /// service app with `meeting:admin_preferences_read`). Default `HCAL_WEBEX_TOKEN`.
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

    /// One HTTP attempt, classified.
    async fn attempt(&self, url: &str, organizer_address: &str) -> Outcome {
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
        let sent = http
            .get(url)
            .query(&[("userEmail", organizer_address)])
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.config.timeout)
            .send()
            .await;
        let resp = match sent {
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
            Class::Success => match resp.json::<PersonalRoomWire>().await {
                Ok(room) => room.into_meeting_room(),
                Err(err) if err.is_timeout() => {
                    Outcome::Retry { reason: "reading the answer from Webex timed out".to_owned(), retry_after: None }
                }
                Err(_) => {
                    tracing::warn!(status, tracking_id = %tracking, "Webex answered with an unreadable personal room");
                    Outcome::Fail(PlatformFailure::Transient(format!(
                        "Webex answered with an unreadable personal room{}",
                        tracking_suffix(&tracking)
                    )))
                }
            },
            Class::Retry { retry_after } => {
                tracing::debug!(status, tracking_id = %tracking, "Webex answered with a retryable status");
                Outcome::Retry { reason: format!("Webex answered {status}{}", tracking_suffix(&tracking)), retry_after }
            }
            Class::Refused => {
                tracing::warn!(status, tracking_id = %tracking, "Webex refused the personal-room request");
                Outcome::Fail(PlatformFailure::Refused(format!(
                    "{}{}",
                    refusal(status, &self.config.token_env),
                    tracking_suffix(&tracking)
                )))
            }
        }
    }
}

#[async_trait]
impl MeetingPlatform for WebexClient {
    #[tracing::instrument(name = "webex.personal_room", skip_all)]
    async fn personal_room(&self, platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure> {
        if platform != PLATFORM {
            return Err(PlatformFailure::Refused(format!("hcal books no meetings on platform {platform:?}")));
        }
        if organizer_address.trim().is_empty() {
            return Err(PlatformFailure::Refused("the organiser has no e-mail address".to_owned()));
        }
        let url = format!("{}/v1/meetingPreferences/personalMeetingRoom", self.base_url);
        let mut retries = 0;
        loop {
            let (reason, retry_after) = match self.attempt(&url, organizer_address.trim()).await {
                Outcome::Room(room) => {
                    tracing::debug!(retries, "read the organiser's Webex personal room");
                    return Ok(room);
                }
                Outcome::Fail(failure) => return Err(failure),
                Outcome::Retry { reason, retry_after } => (reason, retry_after),
            };
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
            retries += 1;
        }
    }
    async fn book(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        Err(PlatformFailure::Refused(format!("hcal does not book {:?} meetings on Webex yet", request.kind)))
    }

    async fn reschedule(&self, _booking_id: &str, request: &BookingRequest) -> Result<(), PlatformFailure> {
        Err(PlatformFailure::Refused(format!("hcal does not move {:?} meetings on Webex yet", request.kind)))
    }

    async fn cancel(&self, _platform: &str, _booking_id: &str, _organizer: &str) -> Result<(), PlatformFailure> {
        Err(PlatformFailure::Refused("hcal does not delete meetings on Webex yet".to_owned()))
    }
}

/// What one attempt came to.
#[derive(Debug)]
enum Outcome {
    /// The room.
    Room(MeetingRoom),
    /// Worth another attempt: why (without any address), and how long Webex asked to wait.
    Retry { reason: String, retry_after: Option<Duration> },
    /// Final.
    Fail(PlatformFailure),
}

/// How a status is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// 2xx: decode the room.
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
fn refusal(status: u16, token_env: &str) -> String {
    match status {
        400 => "Webex rejected the personal-room request as invalid (400)".to_owned(),
        401 => format!("Webex rejected the token (401); check {token_env}"),
        403 => "the Webex token may not read this organiser's personal room (403)".to_owned(),
        404 => "the organiser has no Webex account or no personal room (404)".to_owned(),
        other => format!("Webex refused the personal-room request ({other})"),
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
struct TelephonyWire {
    access_code: Option<String>,
}

impl PersonalRoomWire {
    fn into_meeting_room(self) -> Outcome {
        let non_empty = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let Some(web_link) = non_empty(self.personal_meeting_room_link) else {
            // Webex documents the link as never empty; a room without one cannot be joined.
            return Outcome::Fail(PlatformFailure::Refused("Webex returned a personal room without a link".to_owned()));
        };
        Outcome::Room(MeetingRoom {
            platform: PLATFORM.to_owned(),
            web_link,
            sip_address: non_empty(self.sip_address),
            meeting_number: non_empty(self.telephony.and_then(|t| t.access_code)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use hcal_sim::webex::{PersonalRoomSpec, WebexFaults, WebexSim, WebexSimConfig};

    use super::*;

    const TOKEN: &str = "test-admin-token";
    const ALICE: &str = "alice.adams@contoso.example";
    const ROOM_ENDPOINT: &str = "GET /v1/meetingPreferences/personalMeetingRoom";

    /// A simulator with a token and Alice, and a client with short backoffs.
    async fn setup() -> (WebexSim, WebexClient) {
        let sim = WebexSim::start(WebexSimConfig::default()).await.expect("simulator starts");
        sim.add_token(TOKEN);
        sim.add_person(ALICE, "Alice Adams");
        let client = WebexClient::new(fast(sim.url()), TOKEN);
        (sim, client)
    }

    fn fast(base_url: &str) -> WebexConfig {
        WebexConfig {
            base_url: base_url.to_owned(),
            timeout: Duration::from_secs(2),
            max_retries: 2,
            backoff_initial: Duration::from_millis(10),
            backoff_max: Duration::from_millis(40),
            ..WebexConfig::default()
        }
    }

    fn requests(sim: &WebexSim) -> u64 {
        sim.stats().by_endpoint.get(ROOM_ENDPOINT).copied().unwrap_or(0)
    }

    /// No address, nor its local part, in a failure message.
    fn assert_no_address(failure: &PlatformFailure) {
        let text = failure.to_string();
        assert!(!text.contains('@'), "{text}");
        assert!(!text.to_lowercase().contains("alice"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn personal_room_maps_link_sip_and_access_code_and_never_the_host_pin() {
        let (sim, client) = setup().await;
        let spec = sim.personal_room(ALICE).unwrap();
        let room = client.personal_room(PLATFORM, ALICE).await.unwrap();
        assert_eq!(
            room,
            MeetingRoom {
                platform: "webex".into(),
                web_link: spec.personal_meeting_room_link.clone(),
                sip_address: Some(spec.sip_address.clone()),
                meeting_number: Some(spec.access_code.clone()),
            }
        );
        assert_eq!(room.web_link, "https://hcal.webex.com/meet/alice.adams");

        // A PIN that cannot occur by chance elsewhere in the room, then look for it everywhere.
        let pin = "7395";
        sim.set_personal_room(
            ALICE,
            PersonalRoomSpec {
                host_pin: pin.into(),
                access_code: "2550001111".into(),
                personal_meeting_room_link: "https://hcal.webex.com/meet/alice".into(),
                ..spec
            },
        );
        let room = client.personal_room(PLATFORM, ALICE).await.unwrap();
        assert_eq!(room.meeting_number.as_deref(), Some("2550001111"));
        let json = serde_json::to_string(&room).unwrap();
        assert!(!json.contains(pin) && !format!("{room:?}").contains(pin), "{json}");
        assert!(!json.contains("hostPin"), "{json}");
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_user_is_refused_without_retry_and_without_the_address() {
        let (sim, client) = setup().await;
        let failure = client.personal_room(PLATFORM, "nobody@contoso.example").await.unwrap_err();
        assert!(matches!(failure, PlatformFailure::Refused(_)), "{failure:?}");
        assert!(failure.to_string().contains("404"), "{failure}");
        assert!(failure.to_string().contains("trackingId ROUTER_"), "{failure}");
        assert!(!failure.to_string().contains("nobody"), "{failure}");
        assert_no_address(&failure);
        assert_eq!(requests(&sim), 1, "refusals are not retried");

        // A user without a personal room reads the same.
        sim.remove_personal_room(ALICE);
        let failure = client.personal_room(PLATFORM, ALICE).await.unwrap_err();
        assert!(matches!(failure, PlatformFailure::Refused(_)), "{failure:?}");
        assert_no_address(&failure);
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rejected_token_is_refused_at_once() {
        let (sim, _) = setup().await;
        let client = WebexClient::new(fast(sim.url()), "not-a-token");
        let failure = client.personal_room(PLATFORM, ALICE).await.unwrap_err();
        assert!(matches!(&failure, PlatformFailure::Refused(m) if m.contains("401")), "{failure:?}");
        assert!(!failure.to_string().contains("not-a-token"), "{failure}");
        assert_no_address(&failure);
        assert_eq!(requests(&sim), 1);
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttling_is_retried_after_retry_after() {
        let (sim, client) = setup().await;
        sim.set_faults(WebexFaults { next_429: 1, retry_after_secs: 1, ..WebexFaults::default() });
        let began = Instant::now();
        let room = client.personal_room(PLATFORM, ALICE).await.unwrap();
        assert!(began.elapsed() >= Duration::from_secs(1), "Retry-After honoured: {:?}", began.elapsed());
        assert_eq!(room.platform, "webex");
        assert_eq!(requests(&sim), 2);
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_after_beyond_the_cap_gives_up_at_once() {
        let (sim, client) = setup().await;
        sim.set_faults(WebexFaults { rate_429: 1.0, retry_after_secs: 120, ..WebexFaults::default() });
        let began = Instant::now();
        let failure = client.personal_room(PLATFORM, ALICE).await.unwrap_err();
        assert!(began.elapsed() < Duration::from_secs(5));
        assert!(matches!(&failure, PlatformFailure::Transient(m) if m.contains("120")), "{failure:?}");
        assert_no_address(&failure);
        assert_eq!(requests(&sim), 1, "no early retry");
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn server_errors_are_retried_with_backoff() {
        let (sim, client) = setup().await;
        sim.set_faults(WebexFaults { next_5xx: 2, ..WebexFaults::default() });
        assert!(client.personal_room(PLATFORM, ALICE).await.is_ok());
        assert_eq!(requests(&sim), 3);
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn persistent_server_errors_become_transient_after_max_retries() {
        let (sim, client) = setup().await;
        sim.set_faults(WebexFaults { rate_5xx: 1.0, ..WebexFaults::default() });
        let failure = client.personal_room(PLATFORM, ALICE).await.unwrap_err();
        assert!(matches!(&failure, PlatformFailure::Transient(m) if m.contains("503")), "{failure:?}");
        assert!(failure.to_string().contains("gave up after 3 attempts"), "{failure}");
        assert_no_address(&failure);
        assert_eq!(requests(&sim), 3, "one attempt and max_retries = 2 retries");
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timeouts_are_retried_then_transient() {
        let (sim, _) = setup().await;
        sim.set_faults(WebexFaults { latency: Duration::from_millis(400), ..WebexFaults::default() });
        let config = WebexConfig { timeout: Duration::from_millis(100), max_retries: 1, ..fast(sim.url()) };
        let client = WebexClient::new(config, TOKEN);
        let failure = client.personal_room(PLATFORM, ALICE).await.unwrap_err();
        assert!(matches!(&failure, PlatformFailure::Transient(m) if m.contains("timed out")), "{failure:?}");
        assert_no_address(&failure);
        // The simulator counts a request when it arrives; give a loaded machine a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(requests(&sim), 2);
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_platform_is_transient() {
        let sim = WebexSim::start(WebexSimConfig::default()).await.unwrap();
        let url = sim.url().to_owned();
        sim.stop().await;
        let client = WebexClient::new(fast(&url), TOKEN);
        let failure = client.personal_room(PLATFORM, ALICE).await.unwrap_err();
        assert!(matches!(&failure, PlatformFailure::Transient(m) if m.contains("connect")), "{failure:?}");
        assert_no_address(&failure);
    }

    #[tokio::test]
    async fn an_empty_address_is_refused_without_a_call() {
        let client = WebexClient::new(fast("http://127.0.0.1:9"), TOKEN);
        assert!(matches!(client.personal_room(PLATFORM, "  ").await, Err(PlatformFailure::Refused(_))));
    }

    #[test]
    fn statuses_are_classified_for_retry_policy() {
        let after = |s| Class::Retry { retry_after: Some(Duration::from_secs(s)) };
        assert_eq!(classify(200, None), Class::Success);
        assert_eq!(classify(429, Some("7")), after(7));
        assert_eq!(classify(423, Some(" 2 ")), after(2));
        assert_eq!(classify(429, Some("Wed, 21 Oct 2026 07:28:00 GMT")), Class::Retry { retry_after: None });
        assert_eq!(classify(429, None), Class::Retry { retry_after: None });
        assert_eq!(classify(429, Some("-1")), Class::Retry { retry_after: None });
        assert_eq!(classify(429, Some("1.5")), Class::Retry { retry_after: Some(Duration::from_millis(1500)) });
        for s in [408, 500, 502, 503, 504] {
            assert_eq!(classify(s, Some("3")), Class::Retry { retry_after: None }, "{s}");
        }
        for s in [301, 400, 401, 403, 404, 405, 409, 410, 415] {
            assert_eq!(classify(s, None), Class::Refused, "{s}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_equal_jitter() {
        let config = WebexConfig::default();
        assert_eq!(backoff(&config, 0, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(&config, 0, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(&config, 1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(&config, 2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&config, 10, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(&config, 10, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(&config, u32::MAX, 0.5), Duration::from_secs(6));
    }

    #[test]
    fn configuration_has_documented_defaults_and_refuses_unknown_fields() {
        let config: WebexConfig =
            serde_json::from_value(serde_json::json!({"max_retries": 5, "timeout": "2500ms"})).unwrap();
        assert_eq!(config.max_retries, 5);
        assert_eq!(config.timeout, Duration::from_millis(2500));
        assert_eq!(config.base_url, "https://webexapis.com");
        assert_eq!(config.token_env, "HCAL_WEBEX_TOKEN");
        assert_eq!(config.max_retry_after, Duration::from_secs(30));
        let unknown = serde_json::from_value::<WebexConfig>(serde_json::json!({"token": "secret"}));
        assert!(unknown.is_err(), "a token never sits in the configuration file");
    }

    #[test]
    fn the_token_comes_from_the_named_variable_and_is_never_printed() {
        let config = WebexConfig { token_env: "HCAL_TEST_WEBEX".into(), ..WebexConfig::default() };
        let missing = WebexClient::from_lookup(config.clone(), |_| None).unwrap_err();
        assert_eq!(missing, WebexConfigError::MissingToken { var: "HCAL_TEST_WEBEX".into() });
        let blank = WebexClient::from_lookup(config.clone(), |_| Some(" ".into())).unwrap_err();
        assert!(matches!(blank, WebexConfigError::MissingToken { .. }));
        let client =
            WebexClient::from_lookup(config, |var| (var == "HCAL_TEST_WEBEX").then(|| "s3cret".into())).unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
        assert_eq!(client.config().token_env, "HCAL_TEST_WEBEX");
        let unset = WebexConfig { token_env: "HCAL_TEST_WEBEX_SURELY_UNSET_7F3A".into(), ..WebexConfig::default() };
        assert!(matches!(WebexClient::from_env(unset), Err(WebexConfigError::MissingToken { .. })));
    }

    #[test]
    fn base_urls_must_be_absolute_http_urls() {
        let with = |base_url: &str| WebexConfig { base_url: base_url.into(), ..WebexConfig::default() };
        assert_eq!(with("https://webexapis.com").validate(), Ok(()));
        assert_eq!(with("http://127.0.0.1:8080/").validate(), Ok(()));
        for bad in ["webexapis.com", "ftp://webexapis.com", "", "https://"] {
            assert_eq!(with(bad).validate(), Err(WebexConfigError::InvalidBaseUrl), "{bad:?}");
        }
        let found = WebexClient::from_lookup(with("webexapis.com"), |_| Some("t".into()));
        assert!(matches!(found, Err(WebexConfigError::InvalidBaseUrl)));
    }

    #[tokio::test]
    async fn a_client_built_with_an_invalid_base_url_refuses_without_retrying() {
        let client = WebexClient::new(WebexConfig { base_url: "webexapis.com".into(), ..fast("") }, TOKEN);
        let began = Instant::now();
        let failure = client.personal_room(PLATFORM, ALICE).await.unwrap_err();
        assert!(matches!(&failure, PlatformFailure::Refused(m) if m.contains("base_url")), "{failure:?}");
        assert!(began.elapsed() < Duration::from_millis(500), "not retried");
        assert_no_address(&failure);
    }
}

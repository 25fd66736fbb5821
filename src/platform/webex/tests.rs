//! Tests of the client machinery and personal rooms, against the simulator.

use std::time::Instant;

use hcal_sim::webex::{PersonalRoomSpec, WebexFaults, WebexSim, WebexSimConfig};

use super::*;

pub(super) const TOKEN: &str = "test-admin-token";
pub(super) const ALICE: &str = "alice.adams@contoso.example";
const ROOM_ENDPOINT: &str = "GET /v1/meetingPreferences/personalMeetingRoom";

/// A simulator with a token and Alice, and a client with short backoffs.
async fn setup() -> (WebexSim, WebexClient) {
    let sim = WebexSim::start(WebexSimConfig::default()).await.expect("simulator starts");
    sim.add_token(TOKEN);
    sim.add_person(ALICE, "Alice Adams");
    let client = WebexClient::new(fast(sim.url()), TOKEN);
    (sim, client)
}

pub(super) fn fast(base_url: &str) -> WebexConfig {
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
pub(super) fn assert_no_address(failure: &PlatformFailure) {
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
            dial_in: vec![hcal_actors::ports::DialIn {
                label: "United States Toll".into(),
                number: "+1-202-555-0100".into()
            }],
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
    let client = WebexClient::from_lookup(config, |var| (var == "HCAL_TEST_WEBEX").then(|| "s3cret".into())).unwrap();
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

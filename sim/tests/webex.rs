//! The Webex simulator over real HTTP: authentication and Webex's error shape, personal rooms,
//! scheduling, reading and deleting meetings, injected faults, statistics and the control
//! surface.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::future::join_all;
use hcal_sim::webex::{PersonalRoomSpec, WebexFaults, WebexSim, WebexSimConfig};
use serde_json::{Value, json};

const TOKEN: &str = "admin-token";
const ALICE: &str = "alice.adams@contoso.example";
const UNAUTHORIZED: &str = "The request requires a valid access token set in the Authorization request header.";

struct Fixture {
    sim: WebexSim,
    http: reqwest::Client,
}

impl Fixture {
    async fn new() -> Self {
        Self::with(WebexSimConfig::default()).await
    }

    async fn with(config: WebexSimConfig) -> Self {
        let sim = WebexSim::start(config).await.expect("simulator starts");
        sim.add_token(TOKEN);
        sim.add_person(ALICE, "Alice Adams");
        Self { sim, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    fn room(&self, email: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url("/v1/meetingPreferences/personalMeetingRoom"))
            .query(&[("userEmail", email)])
            .bearer_auth(TOKEN)
    }

    fn create(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http.post(self.url("/v1/meetings")).bearer_auth(TOKEN).json(body)
    }

    fn meeting(&self, method: reqwest::Method, id: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(&format!("/v1/meetings/{id}"))).bearer_auth(TOKEN)
    }
}

/// Sends a request; returns status, tracking id header, Retry-After and JSON body (Null when
/// empty). Every response must carry a tracking id.
async fn send(req: reqwest::RequestBuilder) -> (u16, String, Option<String>, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let tracking = header("trackingid").expect("every response has a trackingid header");
    let retry_after = header("retry-after");
    let bytes = resp.bytes().await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, tracking, retry_after, body)
}

/// Asserts Webex's error shape, with the tracking id of the header repeated in the body.
fn assert_webex_error(body: &Value, tracking: &str) {
    let message = body["message"].as_str().expect("message");
    assert!(!message.is_empty());
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["description"], message, "{body}");
    assert_eq!(body["trackingId"], tracking, "{body}");
    assert!(tracking.starts_with("ROUTER_"), "{tracking}");
}

fn meeting_body() -> Value {
    json!({"title": "Weekly sync", "start": "2026-05-04T10:00:00Z", "end": "2026-05-04T11:00:00Z"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_bearer_token_are_401_with_webex_error_shape() {
    let f = Fixture::new().await;
    let path = f.url("/v1/meetingPreferences/personalMeetingRoom");
    let cases = [
        ("no header", f.http.get(&path).query(&[("userEmail", ALICE)])),
        ("unknown token", f.http.get(&path).query(&[("userEmail", ALICE)]).bearer_auth("nope")),
        ("basic scheme", f.http.get(&path).query(&[("userEmail", ALICE)]).basic_auth("admin", Some(TOKEN))),
        ("empty bearer", f.http.get(&path).query(&[("userEmail", ALICE)]).header("Authorization", "Bearer ")),
        ("create", f.http.post(f.url("/v1/meetings")).json(&meeting_body())),
        ("delete", f.http.delete(f.url("/v1/meetings/abc")).bearer_auth("nope")),
    ];
    for (name, req) in cases {
        let (status, tracking, _, body) = send(req).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_webex_error(&body, &tracking);
        assert_eq!(body["message"], UNAUTHORIZED, "{name}");
    }
    assert_eq!(f.sim.stats().unauthorized, 6);

    // A revoked token stops working; the scheme is case-insensitive.
    let (status, ..) =
        send(f.http.get(&path).query(&[("userEmail", ALICE)]).header("Authorization", "bearer admin-token")).await;
    assert_eq!(status, 200);
    assert!(f.sim.revoke_token(TOKEN));
    let (status, ..) = send(f.room(ALICE)).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_room_has_webex_fields_including_the_host_pin() {
    let f = Fixture::new().await;
    let (status, tracking, _, body) = send(f.room(ALICE)).await;
    assert_eq!(status, 200, "{body}");
    assert!(tracking.starts_with("ROUTER_"));
    let spec = f.sim.personal_room(ALICE).unwrap();

    assert_eq!(body["topic"], "Alice Adams's Personal Room");
    assert_eq!(body["personalMeetingRoomLink"], "https://hcal.webex.com/meet/alice.adams");
    assert_eq!(body["sipAddress"], "alice.adams@hcal.webex.com");
    assert_eq!(body["dialInIpAddress"], "192.0.2.68");
    assert_eq!(body["supportCoHost"], false);
    assert_eq!(body["coHosts"], json!([]));
    let pin = body["hostPin"].as_str().unwrap();
    assert_eq!(pin, spec.host_pin);
    assert!(pin.len() == 4 && pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
    let telephony = &body["telephony"];
    let code = telephony["accessCode"].as_str().unwrap();
    assert!(code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(code, spec.access_code);
    assert_eq!(
        telephony["callInNumbers"],
        json!([{"label": "United States Toll", "callInNumber": "+1-202-555-0100", "tollType": "toll"}])
    );
    assert_eq!(telephony["links"][0]["rel"], "globalCallinNumbers");
    assert_eq!(telephony["links"][0]["method"], "GET");

    // Addresses match case-insensitively.
    let (status, _, _, upper) = send(f.room(&ALICE.to_uppercase())).await;
    assert_eq!(status, 200);
    assert_eq!(upper["personalMeetingRoomLink"], body["personalMeetingRoomLink"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_rooms_follow_the_site_and_stay_unique() {
    let f = Fixture::with(WebexSimConfig { site: "acme".into(), ..WebexSimConfig::default() }).await;
    f.sim.add_person("bob@one.example", "Bob One");
    f.sim.add_person("Bob@two.example", "Bob Two");
    let one = f.sim.personal_room("bob@one.example").unwrap();
    let two = f.sim.personal_room("bob@two.example").unwrap();
    assert_eq!(one.personal_meeting_room_link, "https://acme.webex.com/meet/bob");
    assert_eq!(one.sip_address, "bob@acme.webex.com");
    assert_eq!(two.personal_meeting_room_link, "https://acme.webex.com/meet/bob2");
    assert_eq!(two.sip_address, "bob2@acme.webex.com");

    // Adding an address again renames and keeps the id.
    let id = f.sim.add_person("carol@x.example", "Carol");
    assert_eq!(f.sim.add_person("CAROL@x.example", "Carol C."), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_room_of_unknown_user_or_user_without_room_is_404() {
    let f = Fixture::new().await;
    let (status, tracking, _, body) = send(f.room("nobody@contoso.example")).await;
    assert_eq!(status, 404, "{body}");
    assert_webex_error(&body, &tracking);

    assert!(f.sim.remove_personal_room(ALICE));
    let (status, tracking, _, body) = send(f.room(ALICE)).await;
    assert_eq!(status, 404);
    assert_webex_error(&body, &tracking);
    assert!(!f.sim.remove_personal_room("nobody@contoso.example"));

    // A service-app token has no room of its own: the user must be named.
    let req = f.http.get(f.url("/v1/meetingPreferences/personalMeetingRoom")).bearer_auth(TOKEN);
    let (status, tracking, _, body) = send(req).await;
    assert_eq!(status, 400);
    assert_webex_error(&body, &tracking);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_room_set_by_the_test_is_served() {
    let f = Fixture::with(WebexSimConfig { auto_personal_rooms: false, ..WebexSimConfig::default() }).await;
    assert_eq!(f.sim.personal_room(ALICE), None);
    let spec = PersonalRoomSpec {
        topic: "Alice's room".into(),
        host_pin: "8402".into(),
        personal_meeting_room_link: "https://hcal.webex.com/meet/alice".into(),
        sip_address: "alice@hcal.webex.com".into(),
        access_code: "2550001111".into(),
        call_in_numbers: vec![],
        support_co_host: true,
    };
    assert!(f.sim.set_personal_room(ALICE, spec.clone()));
    assert!(!f.sim.set_personal_room("nobody@x.example", spec.clone()));
    let (status, _, _, body) = send(f.room(ALICE)).await;
    assert_eq!(status, 200);
    assert_eq!(body["hostPin"], "8402");
    assert_eq!(body["telephony"]["accessCode"], "2550001111");
    assert_eq!(body["supportCoHost"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_are_created_read_and_deleted() {
    let f = Fixture::new().await;
    let (status, tracking, _, created) = send(f.create(&meeting_body())).await;
    assert_eq!(status, 200, "{created}");
    assert!(tracking.starts_with("ROUTER_"));
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    let number = created["meetingNumber"].as_str().unwrap();
    assert!(number.len() == 11 && number.bytes().all(|b| b.is_ascii_digit()), "{number}");
    assert_eq!(created["title"], "Weekly sync");
    assert_eq!(created["start"], "2026-05-04T10:00:00Z");
    assert_eq!(created["end"], "2026-05-04T11:00:00Z");
    assert_eq!(created["timezone"], "UTC");
    assert_eq!(created["sipAddress"], format!("{number}@hcal.webex.com"));
    assert!(created["webLink"].as_str().unwrap().starts_with("https://hcal.webex.com/hcal/j.php?MTID=m"));
    assert_eq!(created["password"].as_str().unwrap().len(), 8);
    let pv = created["phoneAndVideoSystemPassword"].as_str().unwrap();
    assert!(pv.len() == 8 && pv.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(created["hostEmail"], "webex-admin@example.com");
    assert_eq!(created["telephony"]["accessCode"], number);
    assert_eq!(f.sim.meeting_count(), 1);

    let (status, _, _, read) = send(f.meeting(reqwest::Method::GET, &id)).await;
    assert_eq!(status, 200);
    assert_eq!(read, created);

    let (status, tracking, _, body) = send(f.meeting(reqwest::Method::DELETE, &id)).await;
    assert_eq!((status, &body), (204, &Value::Null));
    assert!(tracking.starts_with("ROUTER_"));
    assert_eq!(f.sim.meeting_count(), 0);

    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, tracking, _, body) = send(f.meeting(method, &id)).await;
        assert_eq!(status, 404, "{body}");
        assert_webex_error(&body, &tracking);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_take_a_host_and_a_time_zone() {
    let f = Fixture::new().await;
    let alice_id = f.sim.add_person(ALICE, "Alice Adams");
    let body = json!({
        "title": "Planning", "start": "2026-05-04T10:00:00", "end": "2026-05-04T11:30:00",
        "timezone": "Europe/Berlin", "hostEmail": ALICE.to_uppercase(), "agenda": "Q3"
    });
    let (status, _, _, created) = send(f.create(&body)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["start"], "2026-05-04T10:00:00+02:00");
    assert_eq!(created["end"], "2026-05-04T11:30:00+02:00");
    assert_eq!(created["timezone"], "Europe/Berlin");
    assert_eq!(created["hostEmail"], ALICE);
    assert_eq!(created["hostUserId"], alice_id);
    assert_eq!(created["hostDisplayName"], "Alice Adams");
    assert_eq!(created["agenda"], "Q3");

    // No idempotency header exists: the same request schedules a second meeting.
    let (_, _, _, again) = send(f.create(&body).header("Idempotency-Key", "k1")).await;
    assert_ne!(again["id"], created["id"]);
    assert_ne!(again["meetingNumber"], created["meetingNumber"]);
    assert_eq!(f.sim.meeting_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_meetings_are_400_with_webex_error_shape() {
    let f = Fixture::new().await;
    let base = meeting_body();
    let without = |field: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    let cases = [
        ("no title", without("title")),
        ("no start", without("start")),
        ("no end", without("end")),
        ("blank title", with("title", json!("  "))),
        ("end before start", with("end", json!("2026-05-04T09:00:00Z"))),
        ("end equals start", with("end", json!("2026-05-04T10:00:00Z"))),
        ("bad start", with("start", json!("next monday"))),
        ("title not a string", with("title", json!(7))),
        ("unknown time zone", with("timezone", json!("Mars/Olympus"))),
        ("unknown host", with("hostEmail", json!("nobody@contoso.example"))),
        ("not an object", json!(["title"])),
    ];
    for (name, body) in cases {
        let (status, tracking, _, resp) = send(f.create(&body)).await;
        assert_eq!(status, 400, "{name}: {resp}");
        assert_webex_error(&resp, &tracking);
    }
    let raw = f
        .http
        .post(f.url("/v1/meetings"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body("{not json");
    let (status, tracking, _, resp) = send(raw).await;
    assert_eq!(status, 400);
    assert_webex_error(&resp, &tracking);
    let (status, ..) = send(f.http.post(f.url("/v1/meetings")).bearer_auth(TOKEN)).await;
    assert_eq!(status, 400, "empty body");
    assert_eq!(f.sim.meeting_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_answer_in_webex_shape() {
    let f = Fixture::new().await;
    let (status, tracking, _, body) = send(f.http.get(f.url("/v1/nothing")).bearer_auth(TOKEN)).await;
    assert_eq!(status, 404);
    assert_webex_error(&body, &tracking);
    let (status, tracking, _, body) = send(f.http.put(f.url("/v1/meetings")).bearer_auth(TOKEN)).await;
    assert_eq!(status, 405);
    assert_webex_error(&body, &tracking);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_answers_429_with_an_integer_retry_after() {
    let f = Fixture::new().await;
    f.sim.set_faults(WebexFaults { next_429: 2, retry_after_secs: 7, ..WebexFaults::default() });
    for _ in 0..2 {
        let (status, tracking, retry_after, body) = send(f.room(ALICE)).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(retry_after.as_deref(), Some("7"));
        assert_webex_error(&body, &tracking);
    }
    let (status, _, retry_after, _) = send(f.room(ALICE)).await;
    assert_eq!((status, retry_after), (200, None), "the counter ran out");
    assert_eq!(f.sim.faults().next_429, 0);

    // Every request, whatever the endpoint, at rate 1; a bad token still gets 401 first.
    f.sim.set_faults(WebexFaults { rate_429: 1.0, ..WebexFaults::default() });
    let (status, _, retry_after, _) = send(f.create(&meeting_body())).await;
    assert_eq!((status, retry_after.as_deref()), (429, Some("1")));
    let (status, ..) = send(f.http.get(f.url("/v1/meetings/x")).bearer_auth("nope")).await;
    assert_eq!(status, 401);
    let stats = f.sim.stats();
    assert_eq!(stats.faults_injected, 3, "{stats:?}");
    assert_eq!(stats.by_status.get(&429), Some(&3), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_injected_in_webex_shape() {
    let f = Fixture::new().await;
    f.sim.set_faults(WebexFaults { next_5xx: 1, ..WebexFaults::default() });
    let (status, tracking, retry_after, body) = send(f.room(ALICE)).await;
    assert_eq!((status, retry_after), (503, None));
    assert_webex_error(&body, &tracking);

    f.sim.set_faults(WebexFaults { rate_5xx: 1.0, status_5xx: 502, ..WebexFaults::default() });
    let (status, tracking, _, body) = send(f.meeting(reqwest::Method::GET, "abc")).await;
    assert_eq!(status, 502);
    assert_webex_error(&body, &tracking);
    f.sim.set_faults(WebexFaults::default());
    let (status, ..) = send(f.room(ALICE)).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_holds_requests_and_stats_count_per_endpoint_and_concurrency() {
    let f = Fixture::new().await;
    f.sim.set_faults(WebexFaults { latency: Duration::from_millis(300), ..WebexFaults::default() });
    let began = Instant::now();
    let results = join_all((0..4).map(|_| send(f.room(ALICE)))).await;
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert!(results.iter().all(|r| r.0 == 200));
    f.sim.set_faults(WebexFaults::default());

    let (_, _, _, created) = send(f.create(&meeting_body())).await;
    let id = created["id"].as_str().unwrap();
    send(f.meeting(reqwest::Method::GET, id)).await;
    send(f.meeting(reqwest::Method::DELETE, id)).await;
    send(f.meeting(reqwest::Method::DELETE, id)).await;

    let stats = f.sim.stats();
    assert_eq!(stats.requests, 8, "{stats:?}");
    assert_eq!(stats.max_concurrency, 4, "{stats:?}");
    let count = |k: &str| stats.by_endpoint.get(k).copied();
    assert_eq!(count("GET /v1/meetingPreferences/personalMeetingRoom"), Some(4));
    assert_eq!(count("POST /v1/meetings"), Some(1));
    assert_eq!(count("GET /v1/meetings/{id}"), Some(1));
    assert_eq!(count("DELETE /v1/meetings/{id}"), Some(2));
    assert_eq!(stats.by_status.get(&200), Some(&6));
    assert_eq!(stats.by_status.get(&204), Some(&1));
    assert_eq!(stats.by_status.get(&404), Some(&1));
    f.sim.reset_stats();
    assert_eq!(f.sim.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_surface_drives_a_simulator_from_another_process() {
    let sim = WebexSim::start(WebexSimConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", sim.url());

    let resp = http.post(url("/_sim/tokens")).json(&json!({"token": "t-1"})).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.headers().contains_key("trackingid"));
    let resp = http.post(url("/_sim/tokens")).json(&json!({"token": ""})).send().await.unwrap();
    assert_eq!(resp.status(), 400);

    let resp = http
        .post(url("/_sim/people"))
        .json(&json!({"email": "dana@contoso.example", "displayName": "Dana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let person: Value = resp.json().await.unwrap();
    assert!(person["id"].as_str().unwrap().starts_with("Y2lzY29zcGFyazovL3VzL1BFT1BM"), "{person}");
    assert_eq!(person["personalRoom"]["personalMeetingRoomLink"], "https://hcal.webex.com/meet/dana");
    let resp = http.post(url("/_sim/people")).json(&json!({"email": "x@y", "name": "X"})).send().await.unwrap();
    assert_eq!(resp.status(), 400, "unknown fields are refused");

    let room_url = url("/_sim/people/dana@contoso.example/personalRoom");
    let mut spec: Value = http.get(&room_url).send().await.unwrap().json().await.unwrap();
    spec["accessCode"] = json!("1112223334");
    assert_eq!(http.put(&room_url).json(&spec).send().await.unwrap().status(), 204);
    let api = http
        .get(url("/v1/meetingPreferences/personalMeetingRoom"))
        .query(&[("userEmail", "dana@contoso.example")])
        .bearer_auth("t-1");
    let body: Value = api.try_clone().unwrap().send().await.unwrap().json().await.unwrap();
    assert_eq!(body["telephony"]["accessCode"], "1112223334");
    assert_eq!(http.delete(&room_url).send().await.unwrap().status(), 204);
    assert_eq!(http.get(&room_url).send().await.unwrap().status(), 404);
    assert_eq!(api.try_clone().unwrap().send().await.unwrap().status(), 404);

    let faults = json!({"next_429": 1, "retry_after_secs": 3, "latency": 0.01});
    assert_eq!(http.put(url("/_sim/faults")).json(&faults).send().await.unwrap().status(), 204);
    let read: Value = http.get(url("/_sim/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!((read["next_429"].clone(), read["latency"].clone()), (json!(1), json!(0.01)));
    let resp = api.try_clone().unwrap().send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let bad = http.put(url("/_sim/faults")).json(&json!({"rate429": 1.0})).send().await.unwrap();
    assert_eq!(bad.status(), 400, "unknown fault knobs are refused");

    let stats: Value = http.get(url("/_sim/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["requests"], 3, "{stats}");
    assert_eq!(stats["byEndpoint"]["GET /v1/meetingPreferences/personalMeetingRoom"], 3);
    assert_eq!(stats["faultsInjected"], 1);
    assert_eq!(http.get(url("/_sim/nothing")).send().await.unwrap().status(), 404);
    sim.stop().await;
}

#[test]
fn configuration_refuses_unknown_fields_and_documents_defaults() {
    let config: WebexSimConfig = serde_json::from_value(json!({"site": "acme", "faults": {"rate_5xx": 0.5}})).unwrap();
    assert_eq!(config.site, "acme");
    assert_eq!(config.faults.rate_5xx, 0.5);
    assert_eq!(config.faults.retry_after_secs, 1);
    assert_eq!(config.faults.status_5xx, 503);
    assert!(config.auto_personal_rooms);
    assert!(serde_json::from_value::<WebexSimConfig>(json!({"sites": "acme"})).is_err());
    assert!(serde_json::from_value::<WebexFaults>(json!({"rate_404": 1.0})).is_err());
}

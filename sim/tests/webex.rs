//! The Webex simulator over real HTTP: authentication and Webex's error shape, personal rooms,
//! one-time meetings (schedule, list by tag, read, replace, delete), spaces with their members
//! and meeting, messages and the direct spaces they create, injected faults, statistics and
//! the control surface.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeZone as _, Utc};
use futures::future::join_all;
use hcal_sim::webex::{PersonalRoomSpec, RoomKind, WebexFaults, WebexSim, WebexSimConfig};
use serde_json::{Value, json};

const TOKEN: &str = "admin-token";
const ALEX: &str = "alex@contoso.example";
const DENIZ: &str = "deniz@contoso.example";
const MEGAN: &str = "megan@contoso.example";
const ADMIN: &str = "webex-admin@example.com";
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
        sim.add_person(ALEX, "Alex Wilber");
        sim.add_person(DENIZ, "Deniz Yılmaz");
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

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(TOKEN)
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(TOKEN).json(body)
    }

    fn put(&self, id: &str, body: &Value) -> reqwest::RequestBuilder {
        self.meeting(reqwest::Method::PUT, id).json(body)
    }

    fn list(&self, query: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.get("/v1/meetings").query(query)
    }

    /// `days` days after the simulated today, at `hour`:00 UTC.
    fn at(&self, days: i64, hour: u32) -> DateTime<Utc> {
        let day = (self.sim.now() + chrono::Duration::days(days)).date_naive();
        Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
    }

    /// A one-hour meeting tomorrow at 10:00 UTC.
    fn meeting_body(&self) -> Value {
        meeting_body(&iso(self.at(1, 10)), &iso(self.at(1, 11)))
    }

    /// Schedules `body`; panics unless Webex answers 200. Returns the meeting.
    async fn schedule(&self, body: &Value) -> Value {
        let (status, _, _, created) = send(self.create(body)).await;
        assert_eq!(status, 200, "{created}");
        created
    }
}

/// An instant as Webex writes UTC ones: seconds, `Z`.
fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn meeting_body(start: &str, end: &str) -> Value {
    json!({"title": "Weekly sync", "start": start, "end": end})
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(id_of).collect()
}

fn digits(v: &Value, len: usize) -> bool {
    v.as_str().is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
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

/// Sends a request and returns status, `Link` header and JSON body.
async fn send_page(req: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let link = resp.headers().get("link").map(|v| v.to_str().unwrap().to_owned());
    (status, link, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_bearer_token_are_401_with_webex_error_shape() {
    let f = Fixture::new().await;
    let path = f.url("/v1/meetingPreferences/personalMeetingRoom");
    let cases = [
        ("no header", f.http.get(&path).query(&[("userEmail", ALEX)])),
        ("unknown token", f.http.get(&path).query(&[("userEmail", ALEX)]).bearer_auth("nope")),
        ("basic scheme", f.http.get(&path).query(&[("userEmail", ALEX)]).basic_auth("admin", Some(TOKEN))),
        ("empty bearer", f.http.get(&path).query(&[("userEmail", ALEX)]).header("Authorization", "Bearer ")),
        ("create", f.http.post(f.url("/v1/meetings")).json(&f.meeting_body())),
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
        send(f.http.get(&path).query(&[("userEmail", ALEX)]).header("Authorization", "bearer admin-token")).await;
    assert_eq!(status, 200);
    assert!(f.sim.revoke_token(TOKEN));
    let (status, ..) = send(f.room(ALEX)).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_room_has_webex_fields_including_the_host_pin() {
    let f = Fixture::new().await;
    let (status, tracking, _, body) = send(f.room(ALEX)).await;
    assert_eq!(status, 200, "{body}");
    assert!(tracking.starts_with("ROUTER_"));
    let spec = f.sim.personal_room(ALEX).unwrap();

    assert_eq!(body["topic"], "Alex Wilber's Personal Room");
    assert_eq!(body["personalMeetingRoomLink"], "https://hcal.webex.com/meet/alex");
    assert_eq!(body["sipAddress"], "alex@hcal.webex.com");
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
    let (status, _, _, upper) = send(f.room(&ALEX.to_uppercase())).await;
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

    assert!(f.sim.remove_personal_room(ALEX));
    let (status, tracking, _, body) = send(f.room(ALEX)).await;
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
    assert_eq!(f.sim.personal_room(ALEX), None);
    let spec = PersonalRoomSpec {
        topic: "Alex's room".into(),
        host_pin: "8402".into(),
        personal_meeting_room_link: "https://hcal.webex.com/meet/alex".into(),
        sip_address: "alex@hcal.webex.com".into(),
        access_code: "2550001111".into(),
        call_in_numbers: vec![],
        support_co_host: true,
    };
    assert!(f.sim.set_personal_room(ALEX, spec.clone()));
    assert!(!f.sim.set_personal_room("nobody@x.example", spec.clone()));
    let (status, _, _, body) = send(f.room(ALEX)).await;
    assert_eq!(status, 200);
    assert_eq!(body["hostPin"], "8402");
    assert_eq!(body["telephony"]["accessCode"], "2550001111");
    assert_eq!(body["supportCoHost"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_are_created_read_and_deleted() {
    let f = Fixture::new().await;
    let (start, end) = (iso(f.at(1, 10)), iso(f.at(1, 11)));
    let (status, tracking, _, created) = send(f.create(&meeting_body(&start, &end))).await;
    assert_eq!(status, 200, "{created}");
    assert!(tracking.starts_with("ROUTER_"));
    let id = id_of(&created);
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let number = created["meetingNumber"].as_str().unwrap();
    assert!(digits(&created["meetingNumber"], 11), "{number}");
    assert_eq!(created["title"], "Weekly sync");
    assert_eq!(created["start"], start.as_str());
    assert_eq!(created["end"], end.as_str());
    assert_eq!(created["timezone"], "UTC");
    assert_eq!(created["meetingType"], "meetingSeries");
    assert_eq!(created["scheduledType"], "meeting");
    assert_eq!(created["state"], "active");
    assert_eq!(created["sipAddress"], format!("{number}@hcal.webex.com"));
    assert_eq!(created["siteUrl"], "hcal.webex.com");
    assert!(created["webLink"].as_str().unwrap().starts_with("https://hcal.webex.com/hcal/j.php?MTID=m"));
    assert_eq!(created["password"].as_str().unwrap().len(), 8);
    assert!(digits(&created["phoneAndVideoSystemPassword"], 8));
    assert!(digits(&created["hostKey"], 6));
    assert_eq!(created["hostEmail"], ADMIN);
    assert_eq!(created["hostDisplayName"], "Webex Admin");
    assert_eq!(created["telephony"]["accessCode"], number);
    assert_eq!(
        created["telephony"]["callInNumbers"],
        json!([{"label": "United States Toll", "callInNumber": "+1-202-555-0100", "tollType": "toll"}])
    );
    assert_eq!(created["telephony"]["links"][0]["rel"], "globalCallinNumbers");
    assert!(created.get("integrationTags").is_none(), "no tags, no field: {created}");
    assert!(created.get("roomId").is_none(), "not a space meeting: {created}");
    assert_eq!(f.sim.meeting_count(), 1);
    assert_eq!(f.sim.meeting(&id).unwrap().title, "Weekly sync");

    let (status, _, _, read) = send(f.meeting(reqwest::Method::GET, &id)).await;
    assert_eq!(status, 200);
    assert_eq!(read, created);

    let (status, tracking, _, body) = send(f.meeting(reqwest::Method::DELETE, &id)).await;
    assert_eq!((status, &body), (204, &Value::Null));
    assert!(tracking.starts_with("ROUTER_"));
    assert_eq!(f.sim.meeting_count(), 0);
    assert_eq!(f.sim.meeting(&id), None);
    assert_eq!(f.sim.deleted_meetings().iter().map(|m| m.id.clone()).collect::<Vec<_>>(), [id.as_str()]);

    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, tracking, _, body) = send(f.meeting(method, &id)).await;
        assert_eq!(status, 404, "{body}");
        assert_webex_error(&body, &tracking);
        assert_eq!(body["message"], "The requested resource could not be found.");
    }
    let stats = f.sim.stats();
    assert_eq!((stats.meetings_created, stats.meetings_updated, stats.meetings_deleted), (1, 0, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_carry_webex_settings_integration_tags_and_invitees() {
    let f = Fixture::new().await;
    let body = json!({
        "title": "Quarterly planning", "agenda": "Budget", "start": iso(f.at(2, 9)), "end": iso(f.at(2, 10)),
        "timezone": "UTC", "enabledAutoRecordMeeting": true, "enabledJoinBeforeHost": true,
        "joinBeforeHostMinutes": 5, "sendEmail": false, "password": "Qp7xLm2v",
        "integrationTags": ["hcal:AAMkAGI2", "tenant-7"],
        "invitees": [{"email": DENIZ}, {"email": "guest@fabrikam.example", "displayName": "Guest", "coHost": true},
                     {"email": DENIZ.to_uppercase()}]
    });
    let created = f.schedule(&body).await;
    assert_eq!(created["agenda"], "Budget");
    assert_eq!(created["enabledAutoRecordMeeting"], true);
    assert_eq!(created["enabledJoinBeforeHost"], true);
    assert_eq!(created["joinBeforeHostMinutes"], 5);
    assert_eq!(created["password"], "Qp7xLm2v");
    assert_eq!(created["integrationTags"], json!(["hcal:AAMkAGI2", "tenant-7"]));
    assert_eq!(created["reminderTime"], 10);
    assert_eq!(created["unlockedMeetingJoinSecurity"], "allowJoin");

    let stored = f.sim.meeting(&id_of(&created)).unwrap();
    assert_eq!(stored.invitees.len(), 2, "the same address twice is one invitee");
    assert_eq!((stored.invitees[0].email.as_str(), stored.invitees[0].display_name.as_str()), (DENIZ, "Deniz Yılmaz"));
    assert_eq!(stored.invitees[1].display_name, "Guest");
    assert!(stored.invitees[1].co_host);
    assert!(!stored.options.send_email);
    assert_eq!(f.sim.meetings_tagged("tenant-7").len(), 1);
    assert!(f.sim.meetings_tagged("tenant").is_empty(), "tags match whole");

    // Three 64-character tags are the most Webex takes.
    let tag = "t".repeat(64);
    let most =
        json!({"title": "x", "start": iso(f.at(3, 9)), "end": iso(f.at(3, 10)), "integrationTags": [tag, tag, tag]});
    f.schedule(&most).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_take_a_host_and_a_time_zone() {
    let f = Fixture::new().await;
    let alex_id = f.sim.add_person(ALEX, "Alex Wilber");
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let day = f.at(3, 0).date_naive();
    let local = |h: u32, m: u32| day.and_hms_opt(h, m, 0).unwrap();
    let offset =
        |h: u32, m: u32| berlin.from_local_datetime(&local(h, m)).unwrap().to_rfc3339_opts(SecondsFormat::Secs, true);
    let body = json!({
        "title": "Planning", "start": local(10, 0).format("%Y-%m-%dT%H:%M:%S").to_string(),
        "end": local(11, 30).format("%Y-%m-%d %H:%M:%S").to_string(),
        "timezone": "Europe/Berlin", "hostEmail": ALEX.to_uppercase(), "agenda": "Q3"
    });
    let created = f.schedule(&body).await;
    assert_eq!(created["start"], offset(10, 0));
    assert_eq!(created["end"], offset(11, 30));
    assert_eq!(created["timezone"], "Europe/Berlin");
    assert_eq!(created["hostEmail"], ALEX);
    assert_eq!(created["hostUserId"], alex_id);
    assert_eq!(created["hostDisplayName"], "Alex Wilber");
    assert_eq!(created["agenda"], "Q3");
    let id = id_of(&created);

    // The admin speaks for Alex with hostEmail; without it, Alex's meeting is not the admin's.
    let (status, tracking, _, body) = send(f.meeting(reqwest::Method::GET, &id)).await;
    assert_eq!(status, 404, "{body}");
    assert_webex_error(&body, &tracking);
    let (status, _, _, read) = send(f.meeting(reqwest::Method::GET, &id).query(&[("hostEmail", ALEX)])).await;
    assert_eq!(status, 200, "{read}");
    // Reads write times in the zone of the `timezone` header, UTC without one.
    let utc_start = berlin.from_local_datetime(&local(10, 0)).unwrap().with_timezone(&Utc);
    assert_eq!((read["timezone"].clone(), read["start"].clone()), (json!("UTC"), json!(iso(utc_start))));
    let req = f.meeting(reqwest::Method::GET, &id).query(&[("hostEmail", ALEX)]).header("timezone", "Europe/Berlin");
    let (_, _, _, zoned) = send(req).await;
    assert_eq!(zoned["start"], created["start"]);
    assert_eq!(zoned["timezone"], "Europe/Berlin");
    let req = f.meeting(reqwest::Method::GET, &id).query(&[("hostEmail", ALEX)]).header("timezone", "Mars/Base");
    assert_eq!(send(req).await.0, 400);

    // An offset must agree with the named zone.
    let mismatch = json!({"title": "x", "start": iso(f.at(3, 8)), "end": iso(f.at(3, 9)), "timezone": "Asia/Kolkata"});
    let (status, tracking, _, body) = send(f.create(&mismatch)).await;
    assert_eq!(status, 400, "{body}");
    assert_webex_error(&body, &tracking);
    assert_eq!(
        body["message"],
        format!("timezone 'Asia/Kolkata' and timezone offset in '{}' do not match", iso(f.at(3, 8)))
    );

    // No idempotency header exists: the same request schedules a second meeting.
    let (_, _, _, again) = send(f.create(&body_again(&f)).header("Idempotency-Key", "k1")).await;
    let (_, _, _, third) = send(f.create(&body_again(&f)).header("Idempotency-Key", "k1")).await;
    assert_ne!(again["id"], third["id"]);
    assert_ne!(again["meetingNumber"], third["meetingNumber"]);
    assert_eq!(f.sim.meeting_count(), 3);
    assert_eq!(f.sim.meetings().iter().filter(|m| m.host_email == ALEX).count(), 1);
}

fn body_again(f: &Fixture) -> Value {
    meeting_body(&iso(f.at(4, 10)), &iso(f.at(4, 11)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_is_replaced_with_put_and_keeps_its_id() {
    let f = Fixture::new().await;
    let created = f
        .schedule(&json!({
            "title": "Weekly sync", "start": iso(f.at(1, 10)), "end": iso(f.at(1, 11)), "hostEmail": ALEX,
            "agenda": "Status", "integrationTags": ["hcal:1"], "invitees": [{"email": DENIZ}],
            "enabledAutoRecordMeeting": true
        }))
        .await;
    let id = id_of(&created);
    let password = created["password"].as_str().unwrap().to_owned();
    let moved = json!({
        "title": "Weekly sync (moved)", "password": password, "start": iso(f.at(2, 14)), "end": iso(f.at(2, 15)),
        "hostEmail": ALEX, "integrationTags": ["hcal:1"]
    });
    let (status, _, _, updated) = send(f.put(&id, &moved)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["id"], id.as_str());
    for kept in ["meetingNumber", "webLink", "sipAddress", "hostKey", "phoneAndVideoSystemPassword", "hostEmail"] {
        assert_eq!(updated[kept], created[kept], "{kept}");
    }
    assert_eq!(updated["title"], "Weekly sync (moved)");
    assert_eq!(updated["start"], iso(f.at(2, 14)));
    assert_eq!(updated["end"], iso(f.at(2, 15)));
    // PUT is the whole meeting: what it leaves out takes its default again.
    assert_eq!(updated["agenda"], "");
    assert_eq!(updated["enabledAutoRecordMeeting"], false);
    assert_eq!(updated["integrationTags"], json!(["hcal:1"]));
    let stored = f.sim.meeting(&id).unwrap();
    assert_eq!((stored.updates, stored.invitees.len()), (1, 1), "invitees stay");
    assert_eq!(stored.start, f.at(2, 14));

    // Webex: an empty or missing integrationTags removes the meeting's tags.
    let mut untagged = moved.clone();
    untagged.as_object_mut().unwrap().remove("integrationTags");
    let (status, _, _, updated) = send(f.put(&id, &untagged)).await;
    assert_eq!(status, 200, "{updated}");
    assert!(updated.get("integrationTags").is_none(), "{updated}");
    assert!(f.sim.meetings_tagged("hcal:1").is_empty());

    let without = |field: &str| {
        let mut b = moved.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    for field in ["title", "password", "start", "end"] {
        let (status, tracking, _, body) = send(f.put(&id, &without(field))).await;
        assert_eq!(status, 400, "without {field}: {body}");
        assert_webex_error(&body, &tracking);
    }
    let mut past = moved.clone();
    past["start"] = json!(iso(f.sim.now() - chrono::Duration::hours(2)));
    assert_eq!(send(f.put(&id, &past)).await.0, 400, "start in the past");

    // Only the host's meeting, named by hostEmail, can be replaced.
    assert_eq!(send(f.put(&id, &without("hostEmail"))).await.0, 404, "the admin does not host it");
    let mut as_deniz = moved.clone();
    as_deniz["hostEmail"] = json!(DENIZ);
    let (status, tracking, _, body) = send(f.put(&id, &as_deniz)).await;
    assert_eq!(status, 403, "an invitee is not the host: {body}");
    assert_webex_error(&body, &tracking);
    assert_eq!(send(f.put("0123456789abcdef0123456789abcdef", &moved)).await.0, 404);

    // Delete names the host too.
    assert_eq!(send(f.meeting(reqwest::Method::DELETE, &id)).await.0, 404);
    let req = f.meeting(reqwest::Method::DELETE, &id).query(&[("hostEmail", ALEX), ("sendEmail", "false")]);
    assert_eq!(send(req).await.0, 204);
    let stats = f.sim.stats();
    assert_eq!((stats.meetings_created, stats.meetings_updated, stats.meetings_deleted), (1, 2, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_are_found_by_integration_tag_within_the_listing_window() {
    let f = Fixture::new().await;
    let tagged = |title: &str, days: i64, tag: &str, host: &str| {
        json!({"title": title, "start": iso(f.at(days, 10)), "end": iso(f.at(days, 11)),
               "integrationTags": [tag], "hostEmail": host})
    };
    let soon = f.schedule(&tagged("Soon", 1, "hcal:a", ALEX)).await;
    let later = f.schedule(&tagged("Later", 20, "hcal:a", ALEX)).await;
    let other = f.schedule(&tagged("Other", 2, "hcal:b", ALEX)).await;
    f.schedule(&tagged("Admin's", 2, "hcal:a", ADMIN)).await;

    // The default window is the next 7 days, and the tag does not widen it.
    let (status, link, page) = send_page(f.list(&[("integrationTag", "hcal:a"), ("hostEmail", ALEX)])).await;
    assert_eq!((status, link), (200, None), "{page}");
    assert_eq!(ids(&page), [id_of(&soon)]);
    assert_eq!(page["items"][0]["meetingType"], "meetingSeries");
    assert_eq!(page["items"][0]["integrationTags"], json!(["hcal:a"]));
    let window = [
        ("integrationTag", "hcal:a"),
        ("hostEmail", ALEX),
        ("from", &iso(f.sim.now()) as &str),
        ("to", &iso(f.at(30, 0))),
    ];
    let (_, _, page) = send_page(f.list(&window)).await;
    assert_eq!(ids(&page), [id_of(&soon), id_of(&later)], "earliest first");
    // Without hostEmail the admin sees the meetings the admin hosts or is invited to.
    let (_, _, page) = send_page(f.list(&[("integrationTag", "hcal:a")])).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["title"], "Admin's");
    // An invitee sees the meeting too.
    let invited = json!({"title": "Invited", "start": iso(f.at(1, 12)), "end": iso(f.at(1, 13)),
                         "hostEmail": ALEX, "invitees": [{"email": DENIZ}], "integrationTags": ["hcal:c"]});
    let invited = f.schedule(&invited).await;
    let (_, _, page) = send_page(f.list(&[("integrationTag", "hcal:c"), ("hostEmail", DENIZ)])).await;
    assert_eq!(ids(&page), [id_of(&invited)]);
    let (_, _, page) = send_page(f.list(&[("integrationTag", "nope"), ("hostEmail", ALEX)])).await;
    assert_eq!(page, json!({"items": []}));

    // Pages of `max`, linked with rel="next".
    let (_, link, first) = send_page(f.list(&[("hostEmail", ALEX), ("max", "2")])).await;
    assert_eq!(ids(&first), [id_of(&soon), id_of(&invited)]);
    let link = link.expect("a next link");
    assert!(link.starts_with(&format!("<{}/v1/meetings?", f.sim.url())) && link.ends_with(">; rel=\"next\""), "{link}");
    let next = link.trim_start_matches('<').split('>').next().unwrap().to_owned();
    let (status, link, second) = send_page(f.http.get(next).bearer_auth(TOKEN)).await;
    assert_eq!((status, link), (200, None));
    assert_eq!(ids(&second), [id_of(&other)]);

    // Lookups by number or link ignore the window; the one occurrence of a series; no instances.
    let number = later["meetingNumber"].as_str().unwrap();
    let (_, _, page) = send_page(f.list(&[("meetingNumber", number), ("hostEmail", ALEX)])).await;
    assert_eq!(ids(&page), [id_of(&later)]);
    let (_, _, page) = send_page(f.list(&[("webLink", later["webLink"].as_str().unwrap()), ("hostEmail", ALEX)])).await;
    assert_eq!(ids(&page), [id_of(&later)]);
    let (_, _, page) =
        send_page(f.list(&[("meetingType", "scheduledMeeting"), ("integrationTag", "hcal:b"), ("hostEmail", ALEX)]))
            .await;
    let occurrence = &page["items"][0];
    assert_eq!(occurrence["meetingSeriesId"], other["id"]);
    assert_eq!(occurrence["meetingType"], "scheduledMeeting");
    assert_eq!(occurrence["state"], "scheduled");
    assert!(occurrence["id"].as_str().unwrap().starts_with(&format!("{}_", id_of(&other))), "{occurrence}");
    let (_, _, page) = send_page(f.list(&[("meetingType", "meeting"), ("hostEmail", ALEX)])).await;
    assert_eq!(page, json!({"items": []}), "no simulated meeting ever ran");
    let (_, _, page) = send_page(f.list(&[("state", "expired"), ("hostEmail", ALEX)])).await;
    assert_eq!(page, json!({"items": []}));

    let bad: [&[(&str, &str)]; 7] = [
        &[("meetingType", "series")],
        &[("max", "0")],
        &[("max", "101")],
        &[("from", "2026-05-10"), ("to", "2026-05-01")],
        &[("from", "whenever")],
        &[("meetingNumber", "1"), ("webLink", "x")],
        &[("hostEmail", "nobody@contoso.example")],
    ];
    for query in bad {
        let (status, tracking, _, body) = send(f.list(query)).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert_webex_error(&body, &tracking);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_times_keep_whole_minutes_and_the_clock_decides_the_past() {
    let f = Fixture::new().await;
    // A start within the current minute moves to the next one; other times lose seconds.
    let now = f.sim.now();
    let minute = |at: DateTime<Utc>| DateTime::from_timestamp(at.timestamp() - at.timestamp() % 60, 0).unwrap();
    let end = minute(now) + chrono::Duration::minutes(40) + chrono::Duration::seconds(29);
    let created = f.schedule(&meeting_body(&iso(now), &iso(end))).await;
    assert_eq!(created["start"], iso(minute(now) + chrono::Duration::minutes(1)));
    assert_eq!(created["end"], iso(minute(end)));

    let id = id_of(&created);
    f.sim.advance_clock(Duration::from_secs(2 * 3600));
    let (_, _, _, read) = send(f.meeting(reqwest::Method::GET, &id)).await;
    assert_eq!(read["state"], "expired", "{read}");
    let (_, _, page) = send_page(f.list(&[])).await;
    assert_eq!(page, json!({"items": []}), "the default window starts now");
    let (_, _, page) = send_page(f.list(&[("state", "expired"), ("from", &iso(now))])).await;
    assert_eq!(ids(&page), [id.as_str()]);
    let (_, _, _, body) = send(f.create(&meeting_body(&iso(now + chrono::Duration::hours(1)), &iso(f.at(1, 0))))).await;
    assert_eq!(body["message"], "start cannot be before the current date and time.", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_meetings_are_400_with_webex_error_shape() {
    let f = Fixture::new().await;
    f.sim.add_person(MEGAN, "Megan Bowen");
    let base = f.meeting_body();
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
    let (start, end) = (f.at(1, 10), f.at(1, 11));
    let plus = |m: i64| json!(iso(start + chrono::Duration::minutes(m)));
    // Someone a message made Webex invite has an account but no licence to host.
    send(f.post("/v1/messages", &json!({"toPersonEmail": "guest@fabrikam.example", "text": "hi"}))).await;
    let cases = [
        ("no title", without("title")),
        ("no start", without("start")),
        ("no end", without("end")),
        ("blank title", with("title", json!("  "))),
        ("title too long", with("title", json!("t".repeat(129)))),
        ("agenda too long", with("agenda", json!("a".repeat(1301)))),
        ("end before start", with("end", plus(-60))),
        ("end equals start", with("end", plus(0))),
        ("shorter than 10 minutes", with("end", plus(9))),
        ("longer than 23:59", with("end", plus(24 * 60))),
        ("start in the past", with("start", json!(iso(f.sim.now() - chrono::Duration::minutes(5))))),
        (
            "ten years ahead",
            json!({"title": "x", "start": iso(start + chrono::Duration::days(3660)),
                                   "end": iso(end + chrono::Duration::days(3660))}),
        ),
        ("bad start", with("start", json!("next monday"))),
        ("title not a string", with("title", json!(7))),
        ("unknown time zone", with("timezone", json!("Mars/Olympus"))),
        ("zone and offset disagree", with("timezone", json!("America/New_York"))),
        ("unknown host", with("hostEmail", json!("nobody@contoso.example"))),
        ("unlicensed host", with("hostEmail", json!("guest@fabrikam.example"))),
        ("four tags", with("integrationTags", json!(["a", "b", "c", "d"]))),
        ("tag too long", with("integrationTags", json!(["t".repeat(65)]))),
        ("tags not strings", with("integrationTags", json!([1]))),
        ("invitee without email", with("invitees", json!([{"displayName": "X"}]))),
        ("invitee not an address", with("invitees", json!([{"email": "megan"}]))),
        ("join before host 7", with("joinBeforeHostMinutes", json!(7))),
        ("flag not a bool", with("enabledAutoRecordMeeting", json!("yes"))),
        ("recurrence", with("recurrence", json!("FREQ=DAILY;COUNT=3"))),
        ("webinar", with("scheduledType", json!("webinar"))),
        ("unknown space", with("roomId", json!("Y2lzY29zcGFyazovL3VzL1JPT00vbm9uZQ"))),
        ("not an object", json!(["title"])),
    ];
    for (name, body) in cases {
        let (status, tracking, _, resp) = send(f.create(&body)).await;
        let expected = if name == "unknown space" { 404 } else { 400 };
        assert_eq!(status, expected, "{name}: {resp}");
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
    assert_eq!(f.sim.stats().meetings_created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spaces_have_members_and_a_meeting() {
    let f = Fixture::new().await;
    let deniz_id = f.sim.add_person(DENIZ, "Deniz Yılmaz");
    let (status, tracking, _, room) = send(f.post("/v1/rooms", &json!({"title": "Quarterly planning"}))).await;
    assert_eq!(status, 200, "{room}");
    assert!(tracking.starts_with("ROUTER_"));
    let room_id = id_of(&room);
    assert!(room_id.starts_with("Y2lzY29zcGFyazovL3VzL1JPT00v"), "{room_id}");
    assert_eq!(room["title"], "Quarterly planning");
    assert_eq!(room["type"], "group");
    assert_eq!(room["isLocked"], false);
    assert_eq!(room["lastActivity"], room["created"]);
    let created = room["created"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "milliseconds in UTC: {created}");

    // The creator is the first member.
    let members = f.sim.room_members(&room_id).unwrap();
    assert_eq!(members.iter().map(|m| m.person_email.as_str()).collect::<Vec<_>>(), [ADMIN]);
    assert_eq!(room["creatorId"], members[0].person_id.as_str());

    let (status, _, _, by_email) =
        send(f.post("/v1/memberships", &json!({"roomId": room_id, "personEmail": ALEX}))).await;
    assert_eq!(status, 200, "{by_email}");
    assert!(by_email["id"].as_str().unwrap().starts_with("Y2lzY29zcGFyazovL3VzL01FTUJFUlNISVAv"));
    assert_eq!(by_email["roomId"], room_id.as_str());
    assert_eq!(by_email["personEmail"], ALEX);
    assert_eq!(by_email["personDisplayName"], "Alex Wilber");
    assert_eq!(by_email["isModerator"], false);
    assert_eq!(by_email["isMonitor"], false);
    assert_eq!(by_email["roomType"], "group");
    let body = json!({"roomId": room_id, "personId": deniz_id, "isModerator": true});
    let (status, _, _, by_id) = send(f.post("/v1/memberships", &body)).await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!((by_id["personEmail"].clone(), by_id["isModerator"].clone()), (json!(DENIZ), json!(true)));
    // An address Webex does not know is invited and becomes a member under its address.
    let (_, _, _, guest) =
        send(f.post("/v1/memberships", &json!({"roomId": room_id, "personEmail": "guest@fabrikam.example"}))).await;
    assert_eq!(guest["personDisplayName"], "guest@fabrikam.example");

    let (status, link, page) = send_page(f.get("/v1/memberships").query(&[("roomId", &room_id)])).await;
    assert_eq!((status, link), (200, None));
    let emails: Vec<_> = page["items"].as_array().unwrap().iter().map(|m| m["personEmail"].clone()).collect();
    assert_eq!(emails, [json!(ADMIN), json!(ALEX), json!(DENIZ), json!("guest@fabrikam.example")]);
    let (_, _, page) =
        send_page(f.get("/v1/memberships").query(&[("roomId", room_id.as_str()), ("personEmail", ALEX)])).await;
    assert_eq!(ids(&page), [id_of(&by_email)]);
    assert_eq!(f.sim.room_members(&room_id).unwrap().len(), 4);

    let conflicts = [
        (json!({"roomId": room_id, "personEmail": ALEX.to_uppercase()}), 409),
        (json!({"roomId": room_id, "personId": deniz_id}), 409),
        (json!({"roomId": room_id}), 400),
        (json!({"roomId": room_id, "personEmail": "megan"}), 400),
        (json!({"roomId": room_id, "personEmail": MEGAN, "personId": deniz_id}), 400),
        (json!({"personEmail": MEGAN}), 400),
        (json!({"roomId": "Y2lzY29zcGFyazovL3VzL1JPT00vbm9uZQ", "personEmail": MEGAN}), 404),
        (json!({"roomId": room_id, "personId": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ub25l"}), 404),
    ];
    for (body, expected) in conflicts {
        let (status, tracking, _, resp) = send(f.post("/v1/memberships", &body)).await;
        assert_eq!(status, expected, "{body}: {resp}");
        assert_webex_error(&resp, &tracking);
    }
    let (status, ..) = send(f.get("/v1/memberships").query(&[("personEmail", ALEX)])).await;
    assert_eq!(status, 400, "personEmail needs roomId");

    // The space's meeting.
    let (status, _, _, info) = send(f.get(&format!("/v1/rooms/{room_id}/meetingInfo"))).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["roomId"], room_id.as_str());
    let number = info["meetingNumber"].as_str().unwrap();
    assert!(digits(&info["meetingNumber"], 9), "{number}");
    assert_eq!(info["sipAddress"], format!("{number}@hcal.webex.com"));
    assert!(info["meetingLink"].as_str().unwrap().starts_with("https://hcal.webex.com/m/"), "{info}");
    let meeting_id = info["meetingId"].as_str().unwrap();
    assert!(meeting_id.len() == 32 && meeting_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(info["callInTollNumber"], "+1-202-555-0100");
    assert!(info.get("callInTollFreeNumber").is_none(), "the site has no toll-free number: {info}");
    let (_, _, _, again) = send(f.get(&format!("/v1/rooms/{room_id}/meetingInfo"))).await;
    assert_eq!(again, info, "a space keeps its meeting");
    assert_eq!(f.sim.room(&room_id).unwrap().meeting.meeting_number, number);

    let (status, _, _, read) = send(f.get(&format!("/v1/rooms/{room_id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(read["title"], "Quarterly planning");
    assert_ne!(read["lastActivity"], read["created"], "memberships are activity");
    let locked = json!({"title": "Board", "isLocked": true});
    let (_, _, _, board) = send(f.post("/v1/rooms", &locked)).await;
    assert_eq!(board["isLocked"], true);
    assert!(f.sim.room_members(&id_of(&board)).unwrap()[0].is_moderator, "the creator moderates a locked space");
    let (_, _, page) = send_page(f.get("/v1/rooms").query(&[("type", "group"), ("sortBy", "created")])).await;
    assert_eq!(ids(&page), [id_of(&board), room_id.clone()], "newest first");
    let (_, link, page) = send_page(f.get("/v1/rooms").query(&[("max", "1")])).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(link.unwrap().contains("rel=\"next\""));
    for (body, name) in
        [(json!({}), "no title"), (json!({"title": "x", "isPublic": true}), "public needs a description")]
    {
        let (status, tracking, _, resp) = send(f.post("/v1/rooms", &body)).await;
        assert_eq!(status, 400, "{name}: {resp}");
        assert_webex_error(&resp, &tracking);
    }
    assert_eq!(send(f.get("/v1/rooms").query(&[("type", "team")])).await.0, 400);

    // Deleting a space deletes its members and its meeting.
    let (status, _, _, body) = send(f.http.delete(f.url(&format!("/v1/rooms/{room_id}"))).bearer_auth(TOKEN)).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(f.sim.room(&room_id), None);
    assert_eq!(f.sim.room_members(&room_id), None);
    for path in [format!("/v1/rooms/{room_id}"), format!("/v1/rooms/{room_id}/meetingInfo")] {
        let (status, tracking, _, body) = send(f.get(&path)).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_webex_error(&body, &tracking);
    }
    let (status, ..) = send(f.http.delete(f.url(&format!("/v1/rooms/{room_id}"))).bearer_auth(TOKEN)).await;
    assert_eq!(status, 404);
    let stats = f.sim.stats();
    assert_eq!((stats.rooms_created, stats.rooms_deleted, stats.memberships_created), (2, 1, 5), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_can_be_read_and_removed() {
    let f = Fixture::new().await;
    let (_, _, _, room) = send(f.post("/v1/rooms", &json!({"title": "Sync"}))).await;
    let room_id = id_of(&room);
    let (_, _, _, member) = send(f.post("/v1/memberships", &json!({"roomId": room_id, "personEmail": DENIZ}))).await;
    let path = format!("/v1/memberships/{}", id_of(&member));
    let (status, _, _, read) = send(f.get(&path)).await;
    assert_eq!((status, &read), (200, &member));
    let (status, ..) = send(f.http.delete(f.url(&path)).bearer_auth(TOKEN)).await;
    assert_eq!(status, 204);
    assert_eq!(send(f.get(&path)).await.0, 404);
    assert_eq!(f.sim.room_members(&room_id).unwrap().len(), 1);
    assert_eq!(f.sim.stats().memberships_deleted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_person_creates_their_direct_space() {
    let f = Fixture::new().await;
    let deniz_id = f.sim.add_person(DENIZ, "Deniz Yılmaz");
    assert_eq!(f.sim.direct_room(DENIZ), None);
    let (status, tracking, _, body) = send(f.get("/v1/messages/direct").query(&[("personEmail", DENIZ)])).await;
    assert_eq!(status, 404, "no 1:1 space yet: {body}");
    assert_webex_error(&body, &tracking);

    let (status, _, _, first) = send(f.post("/v1/messages", &json!({"toPersonEmail": DENIZ, "text": "Hello"}))).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["id"].as_str().unwrap().starts_with("Y2lzY29zcGFyazovL3VzL01FU1NBR0Uv"));
    assert_eq!(first["roomType"], "direct");
    assert_eq!(first["toPersonEmail"], DENIZ);
    assert_eq!(first["text"], "Hello");
    assert_eq!(first["personEmail"], ADMIN);
    let room_id = first["roomId"].as_str().unwrap().to_owned();
    let room = f.sim.direct_room(DENIZ).unwrap();
    assert_eq!((room.id.as_str(), room.kind), (room_id.as_str(), RoomKind::Direct));
    let members = f.sim.room_members(&room_id).unwrap();
    assert_eq!(members.iter().map(|m| m.person_email.as_str()).collect::<Vec<_>>(), [ADMIN, DENIZ]);

    // Later messages, by address or by person id, go to the same space.
    let (_, _, _, second) = send(f.post("/v1/messages", &json!({"toPersonId": deniz_id, "markdown": "**Hi**"}))).await;
    assert_eq!(second["roomId"], room_id.as_str());
    assert_eq!(second["toPersonId"], deniz_id.as_str());
    let (_, _, _, third) = send(f.post("/v1/messages", &json!({"roomId": room_id, "text": "Third"}))).await;
    assert_eq!(third["roomType"], "direct");
    assert_eq!(f.sim.messages(&room_id).len(), 3);

    // How a client finds the 1:1 space with someone: their direct messages carry its roomId.
    let (status, _, page) = send_page(f.get("/v1/messages/direct").query(&[("personEmail", DENIZ)])).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), [id_of(&third), id_of(&second), id_of(&first)], "newest first");
    assert!(page["items"].as_array().unwrap().iter().all(|m| m["roomId"] == room_id.as_str()));
    let (_, _, by_id) = send_page(f.get("/v1/messages/direct").query(&[("personId", &deniz_id)])).await;
    assert_eq!(by_id, page);
    let both = [("personId", deniz_id.as_str()), ("personEmail", DENIZ)];
    let (status, tracking, _, body) = send(f.get("/v1/messages/direct").query(&both)).await;
    assert_eq!(status, 400, "{body}");
    assert_webex_error(&body, &tracking);
    assert_eq!(body["message"], "Provide only one destination in the personId and personEmail fields");

    // The space lists as direct, titled with the other person's name.
    let (_, _, page) = send_page(f.get("/v1/rooms").query(&[("type", "direct")])).await;
    assert_eq!(ids(&page), [room_id.as_str()]);
    assert_eq!(page["items"][0]["title"], "Deniz Yılmaz");
    assert_eq!(page["items"][0]["type"], "direct");
    let (_, _, page) = send_page(f.get("/v1/rooms").query(&[("type", "group")])).await;
    assert_eq!(page, json!({"items": []}));
    let (_, _, page) = send_page(f.get("/v1/messages").query(&[("roomId", room_id.as_str()), ("max", "2")])).await;
    assert_eq!(ids(&page), [id_of(&third), id_of(&second)]);

    // A 1:1 space takes no more members and is not deleted.
    let (status, ..) = send(f.post("/v1/memberships", &json!({"roomId": room_id, "personEmail": ALEX}))).await;
    assert_eq!(status, 400);
    let (status, ..) = send(f.http.delete(f.url(&format!("/v1/rooms/{room_id}"))).bearer_auth(TOKEN)).await;
    assert_eq!(status, 400);

    // An unknown address gets an invitation and a space of its own.
    let (_, _, _, invited) =
        send(f.post("/v1/messages", &json!({"toPersonEmail": "guest@fabrikam.example", "text": "hi"}))).await;
    assert_ne!(invited["roomId"], room_id.as_str());
    assert_eq!(f.sim.stats().rooms_created, 2);

    let invalid = [
        json!({"text": "nowhere"}),
        json!({"toPersonEmail": DENIZ, "roomId": room_id, "text": "two places"}),
        json!({"toPersonEmail": DENIZ}),
        json!({"toPersonEmail": DENIZ, "text": "x".repeat(7440)}),
        json!({"toPersonEmail": "deniz", "text": "hi"}),
        json!({"toPersonEmail": ADMIN, "text": "myself"}),
        json!({"toPersonEmail": DENIZ, "text": "file", "files": ["https://contoso.example/a.png"]}),
    ];
    for body in invalid {
        let (status, tracking, _, resp) = send(f.post("/v1/messages", &body)).await;
        assert_eq!(status, 400, "{body}: {resp}");
        assert_webex_error(&resp, &tracking);
    }
    let (_, _, _, body) = send(f.post("/v1/messages", &json!({"text": "nowhere"}))).await;
    assert_eq!(
        body["message"],
        "Message destination could not be determined. Provide only one destination in the roomId, toPersonEmail, or toPersonId field"
    );
    let unknown_id = json!({"toPersonId": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ub25l", "text": "hi"});
    assert_eq!(send(f.post("/v1/messages", &unknown_id)).await.0, 404);
    assert_eq!(send(f.get("/v1/messages")).await.0, 400, "roomId is required");
    assert_eq!(f.sim.stats().messages_created, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_meeting_is_scheduled_with_room_id() {
    let f = Fixture::new().await;
    let (_, _, _, room) = send(f.post("/v1/rooms", &json!({"title": "Design review"}))).await;
    let room_id = id_of(&room);
    send(f.post("/v1/memberships", &json!({"roomId": room_id, "personEmail": ALEX}))).await;
    send(f.post("/v1/memberships", &json!({"roomId": room_id, "personEmail": DENIZ}))).await;
    let body = json!({"title": "Design review", "start": iso(f.at(1, 15)), "end": iso(f.at(1, 16)),
                      "roomId": room_id, "hostEmail": ALEX});
    let created = f.schedule(&body).await;
    assert_eq!(created["roomId"], room_id.as_str());
    assert_eq!(created["hostEmail"], ADMIN, "hostEmail is ignored for a space meeting");
    let stored = f.sim.meeting(&id_of(&created)).unwrap();
    let invited: Vec<_> = stored.invitees.iter().map(|i| (i.email.as_str(), i.co_host)).collect();
    assert_eq!(invited, [(ALEX, true), (DENIZ, true)], "the other members, as co-hosts");
    let (_, _, page) = send_page(f.list(&[("roomId", &room_id)])).await;
    assert_eq!(ids(&page), [id_of(&created)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_answer_in_webex_shape() {
    let f = Fixture::new().await;
    let (status, tracking, _, body) = send(f.http.get(f.url("/v1/nothing")).bearer_auth(TOKEN)).await;
    assert_eq!(status, 404);
    assert_webex_error(&body, &tracking);
    let cases = [
        (reqwest::Method::PUT, "/v1/meetings"),
        (reqwest::Method::PATCH, "/v1/meetings/abc"),
        (reqwest::Method::PUT, "/v1/rooms/abc"),
        (reqwest::Method::POST, "/v1/rooms/abc/meetingInfo"),
        (reqwest::Method::POST, "/v1/messages/direct"),
    ];
    for (method, path) in cases {
        let (status, tracking, _, body) = send(f.http.request(method.clone(), f.url(path)).bearer_auth(TOKEN)).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_webex_error(&body, &tracking);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_answers_429_with_an_integer_retry_after() {
    let f = Fixture::new().await;
    f.sim.set_faults(WebexFaults { next_429: 2, retry_after_secs: 7, ..WebexFaults::default() });
    for _ in 0..2 {
        let (status, tracking, retry_after, body) = send(f.room(ALEX)).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(retry_after.as_deref(), Some("7"));
        assert_webex_error(&body, &tracking);
    }
    let (status, _, retry_after, _) = send(f.room(ALEX)).await;
    assert_eq!((status, retry_after), (200, None), "the counter ran out");
    assert_eq!(f.sim.faults().next_429, 0);

    // Every request, whatever the endpoint, at rate 1; a bad token still gets 401 first.
    f.sim.set_faults(WebexFaults { rate_429: 1.0, ..WebexFaults::default() });
    let (status, _, retry_after, _) = send(f.create(&f.meeting_body())).await;
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
    let (status, tracking, retry_after, body) = send(f.room(ALEX)).await;
    assert_eq!((status, retry_after), (503, None));
    assert_webex_error(&body, &tracking);

    f.sim.set_faults(WebexFaults { rate_5xx: 1.0, status_5xx: 502, ..WebexFaults::default() });
    let (status, tracking, _, body) = send(f.meeting(reqwest::Method::GET, "abc")).await;
    assert_eq!(status, 502);
    assert_webex_error(&body, &tracking);
    f.sim.set_faults(WebexFaults::default());
    let (status, ..) = send(f.room(ALEX)).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_holds_requests_and_stats_count_per_endpoint_and_concurrency() {
    let f = Fixture::new().await;
    f.sim.set_faults(WebexFaults { latency: Duration::from_millis(300), ..WebexFaults::default() });
    let began = Instant::now();
    let results = join_all((0..4).map(|_| send(f.room(ALEX)))).await;
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert!(results.iter().all(|r| r.0 == 200));
    f.sim.set_faults(WebexFaults::default());

    let (_, _, _, created) = send(f.create(&f.meeting_body())).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_apply_to_meetings_spaces_and_messages() {
    let f = Fixture::new().await;
    let created = f.schedule(&f.meeting_body()).await;
    let id = id_of(&created);
    f.sim.set_faults(WebexFaults { rate_429: 1.0, retry_after_secs: 4, ..WebexFaults::default() });
    let requests = [
        f.list(&[]),
        f.put(&id, &json!({})),
        f.meeting(reqwest::Method::DELETE, &id),
        f.post("/v1/rooms", &json!({"title": "x"})),
        f.get("/v1/rooms"),
        f.post("/v1/memberships", &json!({})),
        f.get("/v1/memberships"),
        f.post("/v1/messages", &json!({})),
        f.get("/v1/messages/direct"),
        f.get("/v1/rooms/x/meetingInfo"),
    ];
    for req in requests {
        let (status, tracking, retry_after, body) = send(req).await;
        assert_eq!((status, retry_after.as_deref()), (429, Some("4")), "{body}");
        assert_webex_error(&body, &tracking);
    }
    f.sim.set_faults(WebexFaults { next_5xx: 2, status_5xx: 500, ..WebexFaults::default() });
    let (status, tracking, retry_after, body) = send(f.post("/v1/rooms", &json!({"title": "x"}))).await;
    assert_eq!((status, retry_after), (500, None));
    assert_webex_error(&body, &tracking);
    assert_eq!(send(f.post("/v1/messages", &json!({"toPersonEmail": DENIZ, "text": "hi"}))).await.0, 500);
    // Nothing happened while Webex failed; then it works again.
    assert!(f.sim.rooms().is_empty());
    assert_eq!(f.sim.meeting(&id).unwrap().updates, 0);
    assert_eq!(send(f.post("/v1/rooms", &json!({"title": "x"}))).await.0, 200);
    let stats = f.sim.stats();
    assert_eq!(stats.faults_injected, 12, "{stats:?}");
    assert_eq!(
        (stats.meetings_created, stats.meetings_updated, stats.meetings_deleted, stats.rooms_created),
        (1, 0, 0, 1)
    );
    assert_eq!(stats.by_endpoint.get("PUT /v1/meetings/{id}"), Some(&1));
    assert_eq!(stats.by_endpoint.get("GET /v1/rooms/{id}/meetingInfo"), Some(&1));
    assert_eq!(stats.by_endpoint.get("GET /v1/messages/direct"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_surface_shows_meetings_spaces_and_moves_the_clock() {
    let f = Fixture::new().await;
    let body = json!({"title": "Planning", "start": iso(f.at(1, 9)), "end": iso(f.at(1, 10)), "hostEmail": ALEX,
                      "timezone": "UTC", "invitees": [{"email": DENIZ}], "integrationTags": ["hcal:9"]});
    let created = f.schedule(&body).await;
    let (_, _, _, room) = send(f.post("/v1/rooms", &json!({"title": "Planning"}))).await;
    send(f.post("/v1/memberships", &json!({"roomId": id_of(&room), "personEmail": DENIZ}))).await;

    let meetings: Value = f.http.get(f.url("/_sim/meetings")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meetings["items"][0]["id"], created["id"], "every meeting, whoever hosts it");
    assert_eq!(meetings["items"][0]["hostEmail"], ALEX);
    assert_eq!(
        meetings["items"][0]["invitees"],
        json!([{"email": DENIZ, "displayName": "Deniz Yılmaz", "coHost": false}])
    );
    let rooms: Value = f.http.get(f.url("/_sim/rooms")).send().await.unwrap().json().await.unwrap();
    assert_eq!(rooms["items"][0]["members"], json!([ADMIN, DENIZ]));
    assert_eq!(rooms["items"][0]["meetingInfo"]["roomId"], room["id"]);

    let before = f.sim.now();
    let resp = f.http.post(f.url("/_sim/clock/advance")).json(&json!({"seconds": 172800})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("trackingid"));
    let now: Value = resp.json().await.unwrap();
    let now = DateTime::parse_from_rfc3339(now["now"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    // The answer is in milliseconds, so allow for the one cut off.
    assert!(now - before >= chrono::Duration::days(2) - chrono::Duration::milliseconds(1), "{before} → {now}");
    assert_eq!(f.sim.meeting(&id_of(&created)).unwrap().state(f.sim.now()), "expired");
    let bad = f.http.post(f.url("/_sim/clock/advance")).json(&json!({"seconds": -1})).send().await.unwrap();
    assert_eq!(bad.status(), 400, "the clock does not go back");

    let stats: Value = f.http.get(f.url("/_sim/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!((stats["meetingsCreated"].clone(), stats["roomsCreated"].clone()), (json!(1), json!(1)), "{stats}");
    assert_eq!(stats["membershipsCreated"], 2, "{stats}");
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

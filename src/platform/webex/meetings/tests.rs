//! Booking, moving and deleting meetings against the Webex simulator, and the rules applied
//! on the way (times, titles, invitees).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, TimeDelta, Utc};
use hcal_actors::ports::{BookingKind, BookingRequest, EmailAddress, MeetingPlatform, PlatformFailure};
use hcal_sim::webex::{Meeting, WebexFaults, WebexSim, WebexSimConfig};
use tracing::instrument::WithSubscriber as _;

use super::{FALLBACK_TITLE, invitees, schedule, title};
use crate::platform::webex::tests::{ALICE, TOKEN, assert_no_address, fast};
use crate::platform::webex::{PLATFORM, WebexClient};

const BOB: &str = "bob.baker@contoso.example";
const CAROL: &str = "carol.clark@fabrikam.example";
/// The invite's subject: a word that occurs nowhere else, to look for in messages and logs.
const SUBJECT: &str = "Zanzibar budget review";

/// A simulator with a token, Alice (the organiser) and Bob; a client with short backoffs.
async fn setup() -> (WebexSim, WebexClient) {
    let sim = WebexSim::start(WebexSimConfig::default()).await.expect("simulator starts");
    sim.add_token(TOKEN);
    sim.add_person(ALICE, "Alice Adams");
    sim.add_person(BOB, "Bob Baker");
    let client = WebexClient::new(fast(sim.url()), TOKEN);
    (sim, client)
}

fn person(address: &str, name: &str) -> EmailAddress {
    EmailAddress { address: address.to_owned(), name: name.to_owned() }
}

/// The start of the simulated minute, `minutes` from now.
fn minutes_ahead(sim: &WebexSim, minutes: i64) -> DateTime<Utc> {
    let secs = sim.now().timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(60), 0).unwrap() + TimeDelta::minutes(minutes)
}

/// Alice's invite to Bob and Carol, an hour from now for an hour. The attendees also list
/// Alice herself and Bob a second time, in another case.
fn invite(sim: &WebexSim, kind: BookingKind, key: &str) -> BookingRequest {
    BookingRequest {
        platform: PLATFORM.to_owned(),
        kind,
        key: key.to_owned(),
        organizer: ALICE.to_owned(),
        title: SUBJECT.to_owned(),
        start: minutes_ahead(sim, 60),
        end: minutes_ahead(sim, 120),
        attendees: vec![
            person(BOB, "Bob Baker"),
            person(CAROL, "Carol Clark"),
            person(&ALICE.to_uppercase(), "Alice Adams"),
            person("Bob.Baker@Contoso.example", "Bob again"),
        ],
    }
}

fn endpoint(sim: &WebexSim, key: &str) -> u64 {
    sim.stats().by_endpoint.get(key).copied().unwrap_or(0)
}

/// No address, attendee, or word of the subject in `text`.
fn assert_clean(text: &str) {
    assert!(!text.contains('@'), "{text}");
    let lower = text.to_lowercase();
    for word in ["alice", "bob", "carol", "nobody", "zanzibar", "budget"] {
        assert!(!lower.contains(word), "{word} in {text}");
    }
}

/// [`assert_no_address`] and no subject.
fn assert_clean_failure(failure: &PlatformFailure) {
    assert_no_address(failure);
    assert_clean(&failure.to_string());
}

/// The only meeting the simulator has.
fn only_meeting(sim: &WebexSim) -> Meeting {
    let meetings = sim.meetings();
    assert_eq!(meetings.len(), 1, "{meetings:#?}");
    meetings.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_booking_schedules_one_tagged_meeting_for_the_organiser() {
    let (sim, client) = setup().await;
    let request = invite(&sim, BookingKind::OneTime, "inv-0001");
    let booking = client.book(&request).await.unwrap();

    let m = only_meeting(&sim);
    assert_eq!(booking.id, m.id);
    assert_eq!(m.integration_tags, ["inv-0001"]);
    assert_eq!(m.host_email, ALICE);
    assert_eq!(m.title, SUBJECT);
    assert_eq!((m.start, m.end), (request.start, request.end));
    assert_eq!(m.timezone.name(), "UTC");
    assert_eq!(m.room_id, None);
    assert!(!m.options.send_email, "hcal writes the invite; Webex sends none");
    let invited: Vec<(&str, &str, bool)> =
        m.invitees.iter().map(|i| (i.email.as_str(), i.display_name.as_str(), i.co_host)).collect();
    assert_eq!(invited, [(BOB, "Bob Baker", false), (CAROL, "Carol Clark", false)], "no organiser, no duplicate");
    assert_eq!(booking.room.platform, "webex");
    assert_eq!(booking.room.web_link, m.web_link);
    assert_eq!(booking.room.sip_address.as_deref(), Some(m.sip_address.as_str()));
    assert_eq!(booking.room.meeting_number.as_deref(), Some(m.meeting_number.as_str()));
    assert_eq!(sim.stats().meetings_created, 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_again_with_the_same_key_finds_the_first_meeting() {
    let (sim, client) = setup().await;
    let request = invite(&sim, BookingKind::OneTime, "inv-0002");
    let first = client.book(&request).await.unwrap();
    let again = client.book(&request).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(sim.stats().meetings_created, 1);
    assert_eq!(endpoint(&sim, "POST /v1/meetings"), 1);
    assert_eq!(sim.meetings_tagged("inv-0002").len(), 1);

    // Another key is another meeting.
    let other = client.book(&invite(&sim, BookingKind::OneTime, "inv-0003")).await.unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(sim.stats().meetings_created, 2);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_secrets_never_reach_the_meeting_room() {
    let (sim, client) = setup().await;
    let booking = client.book(&invite(&sim, BookingKind::OneTime, "inv-0004")).await.unwrap();
    let m = only_meeting(&sim);
    let json = serde_json::to_string(&booking).unwrap();
    let debug = format!("{booking:?}");
    for key in ["hostKey", "password", "Password", "hostPin"] {
        assert!(!json.contains(key), "{json}");
    }
    let public = format!("{} {} {}", m.web_link, m.sip_address, m.meeting_number);
    for secret in [&m.host_key, &m.password, &m.phone_and_video_system_password] {
        // A secret could only be in the room by being part of a public field by chance.
        assert!(public.contains(secret.as_str()) || !json.contains(secret.as_str()), "{secret} in {json}");
        assert!(public.contains(secret.as_str()) || !debug.contains(secret.as_str()), "{secret} in {debug}");
    }
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_in_the_past_books_from_now() {
    let (sim, client) = setup().await;
    let now = sim.now();
    let request = BookingRequest {
        start: now - TimeDelta::minutes(30),
        end: minutes_ahead(&sim, 30),
        ..invite(&sim, BookingKind::OneTime, "inv-0005")
    };
    let booking = client.book(&request).await.unwrap();
    let m = only_meeting(&sim);
    assert!(m.start > now && m.start <= now + TimeDelta::minutes(3), "{} vs now {now}", m.start);
    assert_eq!(m.end, request.end);
    // A meeting already running is found again as well.
    assert_eq!(client.book(&request).await.unwrap().id, booking.id);
    assert_eq!(sim.stats().meetings_created, 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_last_between_ten_minutes_and_a_day() {
    let (sim, client) = setup().await;
    let start = minutes_ahead(&sim, 60);
    let short =
        BookingRequest { start, end: start + TimeDelta::minutes(5), ..invite(&sim, BookingKind::OneTime, "short") };
    client.book(&short).await.unwrap();
    let m = &sim.meetings_tagged("short")[0];
    assert_eq!((m.start, m.end), (start, start + TimeDelta::minutes(10)));

    let long =
        BookingRequest { start, end: start + TimeDelta::hours(30), ..invite(&sim, BookingKind::OneTime, "long") };
    client.book(&long).await.unwrap();
    let m = &sim.meetings_tagged("long")[0];
    assert_eq!(m.end - m.start, TimeDelta::hours(23) + TimeDelta::minutes(59));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lookup_is_retried_and_books_once() {
    let (sim, client) = setup().await;
    sim.set_faults(WebexFaults { next_5xx: 2, ..WebexFaults::default() });
    client.book(&invite(&sim, BookingKind::OneTime, "inv-0006")).await.unwrap();
    assert_eq!(sim.meetings().len(), 1);
    assert_eq!(endpoint(&sim, "GET /v1/meetings"), 3);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_answered_with_a_server_error_is_retried_after_a_new_lookup_and_books_once() {
    let (sim, _) = setup().await;
    // The first POST meets a 503 from the simulator's faults, switched on just before it.
    let posts = AtomicU32::new(0);
    let proxy = Proxy::start(&sim, move |method, path, _| {
        let first = method == "POST" && path == "/v1/meetings" && posts.fetch_add(1, Ordering::SeqCst) == 0;
        if first { Tamper::Fault5xx } else { Tamper::Pass }
    })
    .await;
    let client = WebexClient::new(fast(&proxy.url), TOKEN);
    let booking = client.book(&invite(&sim, BookingKind::OneTime, "inv-0007")).await.unwrap();
    assert_eq!(only_meeting(&sim).id, booking.id);
    assert_eq!(endpoint(&sim, "POST /v1/meetings"), 2, "retried");
    assert_eq!(endpoint(&sim, "GET /v1/meetings"), 2, "looked up again before the retry");
    assert_eq!(sim.stats().faults_injected, 1);
    proxy.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_whose_answer_is_lost_is_found_by_its_tag_instead_of_booked_twice() {
    let (sim, _) = setup().await;
    // The first POST reaches Webex and schedules the meeting; its answer is lost.
    let posts = AtomicU32::new(0);
    let proxy = Proxy::start(&sim, move |method, path, _| {
        let first = method == "POST" && path == "/v1/meetings" && posts.fetch_add(1, Ordering::SeqCst) == 0;
        if first { Tamper::LoseAnswer } else { Tamper::Pass }
    })
    .await;
    let client = WebexClient::new(fast(&proxy.url), TOKEN);
    let booking = client.book(&invite(&sim, BookingKind::OneTime, "inv-0008")).await.unwrap();
    assert_eq!(only_meeting(&sim).id, booking.id);
    assert_eq!(sim.stats().meetings_created, 1, "never two meetings for one key");
    assert_eq!(endpoint(&sim, "POST /v1/meetings"), 1);
    proxy.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_errors_are_transient_and_name_nobody() {
    let (sim, client) = setup().await;
    sim.set_faults(WebexFaults { rate_5xx: 1.0, ..WebexFaults::default() });
    let failure = client.book(&invite(&sim, BookingKind::OneTime, "inv-0009")).await.unwrap_err();
    assert!(matches!(&failure, PlatformFailure::Transient(m) if m.contains("503")), "{failure:?}");
    assert_clean_failure(&failure);
    assert_eq!(sim.meeting_count(), 0);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_moves_the_meeting_and_keeps_its_id_and_tag() {
    let (sim, client) = setup().await;
    let request = invite(&sim, BookingKind::OneTime, "inv-0010");
    let booking = client.book(&request).await.unwrap();
    let moved = BookingRequest {
        title: "Moved".to_owned(),
        start: minutes_ahead(&sim, 180),
        end: minutes_ahead(&sim, 270),
        ..request.clone()
    };
    client.reschedule(&booking.id, &moved).await.unwrap();
    let m = only_meeting(&sim);
    assert_eq!(m.id, booking.id);
    assert_eq!((m.start, m.end), (moved.start, moved.end));
    assert_eq!(m.title, "Moved");
    assert_eq!(m.integration_tags, ["inv-0010"], "the tag survives the PUT");
    assert_eq!(m.host_email, ALICE);
    assert_eq!(m.invitees.len(), 2);
    assert_eq!(m.updates, 1);
    // Still found by its key at its new time.
    assert_eq!(client.book(&moved).await.unwrap().id, booking.id);
    assert_eq!(sim.stats().meetings_created, 1);

    // Moved into the past and shorter than Webex allows: from now, for ten minutes.
    let now = sim.now();
    let late = BookingRequest { start: now - TimeDelta::hours(1), end: now - TimeDelta::minutes(50), ..moved };
    client.reschedule(&booking.id, &late).await.unwrap();
    let m = only_meeting(&sim);
    assert!(m.start > now && m.end - m.start == TimeDelta::minutes(10), "{} – {}", m.start, m.end);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescheduling_a_meeting_webex_no_longer_has_is_refused_without_names() {
    let (sim, client) = setup().await;
    let request = invite(&sim, BookingKind::OneTime, "inv-0011");
    let failure = client.reschedule("0123456789abcdef0123456789abcdef", &request).await.unwrap_err();
    assert!(matches!(&failure, PlatformFailure::Refused(m) if m.contains("404")), "{failure:?}");
    assert_clean_failure(&failure);
    // An id is a path segment, whatever it holds.
    let failure = client.reschedule("../rooms?x=1", &request).await.unwrap_err();
    assert!(matches!(failure, PlatformFailure::Refused(_)), "{failure:?}");
    assert_eq!(endpoint(&sim, "PUT /v1/meetings/{id}"), 0);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_deletes_the_meeting_and_a_second_cancel_is_fine() {
    let (sim, client) = setup().await;
    let booking = client.book(&invite(&sim, BookingKind::OneTime, "inv-0012")).await.unwrap();
    client.cancel(PLATFORM, &booking.id, ALICE).await.unwrap();
    assert!(sim.meeting(&booking.id).is_none());
    assert_eq!(sim.deleted_meetings().iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [booking.id.as_str()]);
    client.cancel(PLATFORM, &booking.id, ALICE).await.unwrap();
    assert_eq!(sim.stats().meetings_deleted, 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_booking_creates_a_space_of_the_attendees_with_a_tagged_meeting_once() {
    let (sim, client) = setup().await;
    let request = invite(&sim, BookingKind::Space, "inv-0013");
    let booking = client.book(&request).await.unwrap();

    let rooms = sim.rooms();
    assert_eq!(rooms.len(), 1);
    let room = &rooms[0];
    assert_eq!(room.title, SUBJECT);
    let members: Vec<String> =
        sim.room_members(&room.id).unwrap().iter().map(|m| m.person_email.to_lowercase()).collect();
    assert_eq!(members, [sim.admin_email(), ALICE, BOB, CAROL], "the creator, the organiser, each attendee once");

    let m = only_meeting(&sim);
    assert_eq!(m.id, booking.id);
    assert_eq!(m.room_id.as_deref(), Some(room.id.as_str()));
    assert_eq!(m.integration_tags, ["inv-0013"]);
    assert_eq!((m.start, m.end), (request.start, request.end));
    assert_eq!(booking.room.web_link, m.web_link);
    assert_eq!(booking.room.sip_address.as_deref(), Some(m.sip_address.as_str()));

    let again = client.book(&request).await.unwrap();
    assert_eq!(again, booking);
    let stats = sim.stats();
    assert_eq!((stats.rooms_created, stats.meetings_created, stats.memberships_created), (1, 1, 4));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_meeting_is_moved_and_deleted_like_a_one_time_meeting() {
    let (sim, client) = setup().await;
    let request = invite(&sim, BookingKind::Space, "inv-0014");
    let booking = client.book(&request).await.unwrap();
    let moved = BookingRequest { start: minutes_ahead(&sim, 300), end: minutes_ahead(&sim, 330), ..request };
    client.reschedule(&booking.id, &moved).await.unwrap();
    let m = only_meeting(&sim);
    assert_eq!((m.start, m.end), (moved.start, moved.end));
    assert_eq!(m.integration_tags, ["inv-0014"]);

    client.cancel(PLATFORM, &booking.id, ALICE).await.unwrap();
    assert!(sim.meeting(&booking.id).is_none());
    client.cancel(PLATFORM, &booking.id, ALICE).await.unwrap();
    assert_eq!(sim.stats().meetings_deleted, 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_webex_will_not_add_to_a_space_is_left_out() {
    let (sim, _) = setup().await;
    let proxy = Proxy::start(&sim, |method, path, body| {
        let carol = method == "POST" && path == "/v1/memberships" && String::from_utf8_lossy(body).contains(CAROL);
        if carol { Tamper::Answer(404) } else { Tamper::Pass }
    })
    .await;
    let client = WebexClient::new(fast(&proxy.url), TOKEN);
    client.book(&invite(&sim, BookingKind::Space, "inv-0015")).await.unwrap();
    let room = &sim.rooms()[0];
    let members: Vec<String> = sim.room_members(&room.id).unwrap().iter().map(|m| m.person_email.clone()).collect();
    assert_eq!(members, [sim.admin_email(), ALICE, BOB]);
    assert_eq!(sim.meetings_tagged("inv-0015").len(), 1);
    proxy.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_who_is_no_webex_user_is_refused_without_names() {
    let (sim, client) = setup().await;
    let request = BookingRequest {
        organizer: "nobody@contoso.example".to_owned(),
        ..invite(&sim, BookingKind::OneTime, "inv-0016")
    };
    let failure = client.book(&request).await.unwrap_err();
    assert!(matches!(&failure, PlatformFailure::Refused(m) if m.contains("400")), "{failure:?}");
    assert_clean_failure(&failure);
    assert_eq!(sim.meeting_count(), 0);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_name_no_address_attendee_or_subject() {
    let (sim, client) = setup().await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("hcal=trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let one_time = invite(&sim, BookingKind::OneTime, "inv-0017");
    let space = invite(&sim, BookingKind::Space, "inv-0018");
    let nobody = BookingRequest { organizer: "nobody@contoso.example".to_owned(), ..one_time.clone() };
    async {
        // Tests running alongside may register a callsite while this subscriber is set up,
        // and tracing can then cache it as uninteresting; asking again settles it.
        tracing::callsite::rebuild_interest_cache();
        let booking = client.book(&one_time).await.unwrap();
        client.book(&one_time).await.unwrap();
        client.reschedule(&booking.id, &one_time).await.unwrap();
        client.cancel(PLATFORM, &booking.id, ALICE).await.unwrap();
        client.cancel(PLATFORM, &booking.id, ALICE).await.unwrap();
        let booking = client.book(&space).await.unwrap();
        client.cancel(PLATFORM, &booking.id, ALICE).await.unwrap();
        client.book(&nobody).await.unwrap_err();
        sim.set_faults(WebexFaults { next_5xx: 1, ..WebexFaults::default() });
        tracing::callsite::rebuild_interest_cache();
        client.book(&invite(&sim, BookingKind::OneTime, "inv-0019")).await.unwrap();
    }
    .with_subscriber(subscriber)
    .await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("booked a Webex meeting") && text.contains("retrying Webex"), "{text}");
    assert_clean(&text);
    sim.stop().await;
}

#[tokio::test]
async fn requests_are_checked_before_any_call() {
    let sim = WebexSim::start(WebexSimConfig::default()).await.unwrap();
    let client = WebexClient::new(fast(sim.url()), TOKEN);
    let request = invite(&sim, BookingKind::OneTime, "inv-0020");
    let refused = |r: Result<(), PlatformFailure>| assert!(matches!(r, Err(PlatformFailure::Refused(_))), "{r:?}");

    let jitsi = BookingRequest { platform: "jitsi".to_owned(), ..request.clone() };
    let failure = client.book(&jitsi).await.unwrap_err();
    assert!(matches!(&failure, PlatformFailure::Refused(m) if m.contains("jitsi")), "{failure:?}");
    refused(client.reschedule("m1", &jitsi).await);
    refused(client.cancel("jitsi", "m1", ALICE).await);

    let long_key = "k".repeat(65);
    for key in ["", "UPPER", "with space", long_key.as_str()] {
        let bad = BookingRequest { key: key.to_owned(), ..request.clone() };
        refused(client.book(&bad).await.map(|_| ()));
    }
    let no_organizer = BookingRequest { organizer: " ".to_owned(), ..request.clone() };
    refused(client.book(&no_organizer).await.map(|_| ()));
    refused(client.reschedule(" ", &request).await);
    refused(client.cancel(PLATFORM, "", ALICE).await);
    refused(client.cancel(PLATFORM, "..", ALICE).await);
    assert_eq!(sim.stats().requests, 0);
    sim.stop().await;
}

#[test]
fn times_are_whole_minutes_from_now_and_ten_minutes_to_a_day_long() {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let now = at("2026-03-01T10:32:16Z");
    // Ahead: whole minutes, unchanged otherwise.
    assert_eq!(
        schedule(at("2026-03-01T11:00:30Z"), at("2026-03-01T12:00:45Z"), now),
        (at("2026-03-01T11:00:00Z"), at("2026-03-01T12:00:00Z"))
    );
    // Already running, or about to: the minute after next.
    assert_eq!(
        schedule(at("2026-03-01T10:00:00Z"), at("2026-03-01T11:00:00Z"), now),
        (at("2026-03-01T10:34:00Z"), at("2026-03-01T11:00:00Z"))
    );
    assert_eq!(schedule(at("2026-03-01T10:33:40Z"), at("2026-03-01T11:00:00Z"), now).0, at("2026-03-01T10:34:00Z"));
    assert_eq!(schedule(at("2026-03-01T10:35:00Z"), at("2026-03-01T11:00:00Z"), now).0, at("2026-03-01T10:35:00Z"));
    // Too short, over, or too long.
    assert_eq!(schedule(at("2026-03-01T11:00:00Z"), at("2026-03-01T11:05:00Z"), now).1, at("2026-03-01T11:10:00Z"));
    assert_eq!(
        schedule(at("2026-03-01T09:00:00Z"), at("2026-03-01T09:30:00Z"), now),
        (at("2026-03-01T10:34:00Z"), at("2026-03-01T10:44:00Z"))
    );
    assert_eq!(schedule(at("2026-03-01T11:00:00Z"), at("2026-03-03T11:00:00Z"), now).1, at("2026-03-02T10:59:00Z"));
}

#[test]
fn titles_are_cut_on_character_boundaries_and_never_empty() {
    assert_eq!(title("  Weekly sync \n"), "Weekly sync");
    assert_eq!(title("Line one\nline two"), "Line one line two");
    assert_eq!(title(""), FALLBACK_TITLE);
    assert_eq!(title(" \t "), FALLBACK_TITLE);
    let long = "é".repeat(200);
    assert_eq!(title(&long), "é".repeat(128));
    let cut = title(&format!("{}ß{}", "a".repeat(127), "b".repeat(10)));
    assert_eq!(cut.chars().count(), 128);
    assert!(cut.ends_with('ß'));
}

#[test]
fn invitees_are_the_other_attendees_once_each() {
    let attendees = vec![
        person(BOB, "Bob Baker"),
        person("ALICE.ADAMS@contoso.example", "Alice"),
        person(" bob.baker@CONTOSO.example ", "Bob twice"),
        person("not an address", "Nobody"),
        person("room-1@contoso.example", " "),
        person(CAROL, &"C".repeat(200)),
    ];
    let invited = invitees(ALICE, &attendees);
    assert_eq!(invited.len(), 3, "{invited:?}");
    assert_eq!(invited[0], serde_json::json!({"email": BOB, "displayName": "Bob Baker"}));
    assert_eq!(invited[1], serde_json::json!({"email": "room-1@contoso.example"}));
    assert_eq!(invited[2]["displayName"].as_str().unwrap().chars().count(), 128);

    let many: Vec<EmailAddress> = (0..1200).map(|i| person(&format!("p{i}@contoso.example"), "")).collect();
    assert_eq!(invitees(ALICE, &many).len(), 1000);
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    /// Forward it and its answer.
    Pass,
    /// Switch on one 5xx fault of the simulator, then forward it: Webex answers 503.
    Fault5xx,
    /// Forward it, then answer 503 instead of Webex's answer: done, but the client cannot know.
    LoseAnswer,
    /// Answer with this status without forwarding.
    Answer(u16),
}

type Rule = dyn Fn(&str, &str, &[u8]) -> Tamper + Send + Sync;

struct ProxyState {
    target: String,
    core: Arc<hcal_sim::webex::core::Core>,
    http: reqwest::Client,
    rule: Box<Rule>,
}

/// A proxy in front of the simulator that tampers with the requests a rule picks (by method,
/// path and body), for failures no global fault can aim at.
struct Proxy {
    url: String,
    server: actix_web::dev::ServerHandle,
}

impl Proxy {
    async fn start(sim: &WebexSim, rule: impl Fn(&str, &str, &[u8]) -> Tamper + Send + Sync + 'static) -> Self {
        let state = web::Data::new(ProxyState {
            target: sim.url().to_owned(),
            core: sim.core().clone(),
            http: reqwest::Client::new(),
            rule: Box::new(rule),
        });
        let server = HttpServer::new(move || App::new().app_data(state.clone()).default_service(web::to(forward)))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://{addr}"), server: handle }
    }

    async fn stop(self) {
        self.server.stop(false).await;
    }
}

async fn forward(state: web::Data<ProxyState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let tamper = (state.rule)(req.method().as_str(), req.path(), &body);
    if let Tamper::Answer(status) = tamper {
        return HttpResponse::build(StatusCode::from_u16(status).unwrap())
            .json(serde_json::json!({"message": "tampered"}));
    }
    if tamper == Tamper::Fault5xx {
        *state.core.faults.write() = WebexFaults { next_5xx: 1, ..WebexFaults::default() };
    }
    let url = format!("{}{}", state.target, req.uri().path_and_query().map_or("/", |p| p.as_str()));
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = state.http.request(method, url).body(body.to_vec());
    for name in ["authorization", "content-type", "accept"] {
        if let Some(value) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
            out = out.header(name, value);
        }
    }
    let resp = out.send().await.unwrap();
    if tamper == Tamper::LoseAnswer {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({"message": "lost"}));
    }
    let mut answer = HttpResponse::build(StatusCode::from_u16(resp.status().as_u16()).unwrap());
    for name in ["trackingid", "retry-after", "content-type"] {
        if let Some(value) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            answer.insert_header((name, value.to_owned()));
        }
    }
    answer.body(resp.bytes().await.unwrap().to_vec())
}

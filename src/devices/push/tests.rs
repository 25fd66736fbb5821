//! `CiscoPush` against the device simulator and the Webex simulator, over real HTTP.

use std::time::Instant;

use chrono::{TimeZone as _, Utc};
use hcal_sim::device::{DeviceSim, DeviceSimConfig, DeviceSpec};
use hcal_sim::webex::{WebexSim, WebexSimConfig};
use serde_json::json;

use super::*;
use crate::devices::booking::{DeviceJoin, JoinPlatform, JoinProtocol};

const USER: &str = "admin";
const PASSWORD: &str = "device-password";
const CLOUD_DEVICE: &str = "Y2lzY29zcGFyazovL3VzL0RFVklDRS9yb29tLTM";

fn bookings() -> Vec<DeviceBooking> {
    let at = |h| Utc.with_ymd_and_hms(2026, 5, 4, h, 0, 0).single().unwrap_or_default();
    vec![
        DeviceBooking {
            id: "b-1".into(),
            title: "Budget <&> review".into(),
            organizer: Some("Alex Wilber".into()),
            start: at(10),
            end: at(11),
            private: false,
            join: Some(DeviceJoin {
                number: "room123@video.example.com".into(),
                protocol: JoinProtocol::Sip,
                platform: JoinPlatform::Webex,
                meeting_id: None,
            }),
        },
        DeviceBooking {
            id: "b-2".into(),
            title: "Focus time".into(),
            organizer: None,
            start: at(13),
            end: at(14),
            private: true,
            join: None,
        },
    ]
}

fn fast() -> CiscoPush {
    CiscoPush::new(&CiscoPushConfig {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_millis(500),
        ..CiscoPushConfig::default()
    })
}

async fn devices() -> DeviceSim {
    let sim = DeviceSim::start(DeviceSimConfig::default()).await.expect("simulator starts");
    sim.add_device(DeviceSpec::roomos("room-1", USER, PASSWORD));
    sim.add_device(DeviceSpec::legacy("room-2", USER, PASSWORD));
    sim
}

fn target(sim: &DeviceSim, id: &str, kind: DeviceKind, password: &str) -> DeviceTarget {
    DeviceTarget {
        id: id.into(),
        kind,
        address: url::Url::parse(&sim.url_of(id)).unwrap_or_else(|_| url::Url::parse("http://invalid").unwrap()),
        credentials: DeviceCredentials::Basic { username: USER.into(), password: password.into() },
        buffers: Buffers::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_roomos_put_lands_and_reads_back_equal() {
    let sim = devices().await;
    let push = fast();
    let room = target(&sim, "room-1", DeviceKind::RoomOs, PASSWORD);
    push.put(&room, &bookings()).await.expect("the push lands");
    let sent = roomos_json(&bookings(), Buffers::default());
    assert_eq!(sim.bookings("room-1").map(|b| json!({"Bookings": b})), Some(sent));
    // An empty list clears the device.
    push.put(&room, &[]).await.expect("the push lands");
    assert_eq!(sim.bookings("room-1"), Some(vec![]));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_legacy_put_lands_and_bookings_put_is_unsupported_there() {
    let sim = devices().await;
    let push = fast();
    push.put(&target(&sim, "room-2", DeviceKind::Legacy, PASSWORD), &bookings()).await.expect("the push lands");
    let stored = sim.bookings("room-2").unwrap_or_default();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["Title"], json!("Budget <&> review"));
    assert_eq!(stored[0]["Number"], json!("room123@video.example.com"));
    assert_eq!(stored[0]["Time"]["StartTimeBuffer"], json!(300));
    assert_eq!(stored[1]["Protocol"], json!("None"));
    assert_eq!(stored[1]["Privacy"], json!("Private"));

    let asked_wrongly = target(&sim, "room-2", DeviceKind::RoomOs, PASSWORD);
    assert_eq!(push.put(&asked_wrongly, &bookings()).await, Err(PushFailure::Unsupported));
    assert_eq!(sim.bookings("room-2").map(|b| b.len()), Some(2));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_wrong_password_is_refused_401_and_nothing_secret_is_printed() {
    let sim = devices().await;
    let push = fast();
    let room = target(&sim, "room-1", DeviceKind::RoomOs, "not-the-password");
    match push.put(&room, &bookings()).await {
        Err(PushFailure::Refused { status: 401, .. }) => {}
        other => panic!("expected Refused 401, got {other:?}"),
    }
    assert_eq!(sim.bookings("room-1"), Some(vec![]));
    let printed = format!("{room:?}");
    assert!(!printed.contains("not-the-password") && printed.contains("<redacted>"), "{printed}");
    let bearer = DeviceCredentials::Bearer { token: "secret-token".into(), device_id: CLOUD_DEVICE.into() };
    assert!(!format!("{bearer:?}").contains("secret-token"));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_offline_and_slow_devices_are_offline() {
    let sim = devices().await;
    let push = fast();
    let room = target(&sim, "room-1", DeviceKind::RoomOs, PASSWORD);
    sim.set_offline("room-1", true);
    match push.put(&room, &bookings()).await {
        Err(PushFailure::Offline(text)) => assert!(!text.contains("127.0.0.1"), "{text}"),
        other => panic!("expected Offline, got {other:?}"),
    }
    sim.set_offline("room-1", false);
    sim.set_delay("room-1", Duration::from_secs(3));
    let started = Instant::now();
    match push.put(&room, &bookings()).await {
        Err(PushFailure::Offline(text)) => assert!(text.starts_with("timed out"), "{text}"),
        other => panic!("expected Offline, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2), "the timeout cut the wait short");

    // Nothing listens on a port of a stopped simulator: a refused connect is Offline too.
    let gone = target(&sim, "room-1", DeviceKind::RoomOs, PASSWORD);
    sim.stop().await;
    assert!(matches!(push.put(&gone, &bookings()).await, Err(PushFailure::Offline(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_cloud_put_lands_on_the_simulated_cloud_device() {
    let webex = WebexSim::start(WebexSimConfig::default()).await.expect("simulator starts");
    webex.add_token_with_scopes("xapi-token", &["spark:xapi_commands"]);
    webex.add_token_with_scopes("status-only", &["spark:xapi_statuses"]);
    webex.add_device(CLOUD_DEVICE);
    let push = fast();
    let cloud = |token: &str, device_id: &str| DeviceTarget {
        id: "room-3".into(),
        kind: DeviceKind::WebexCloud,
        address: url::Url::parse(webex.url()).unwrap_or_else(|_| url::Url::parse("http://invalid").unwrap()),
        credentials: DeviceCredentials::Bearer { token: token.into(), device_id: device_id.into() },
        buffers: Buffers { join_before: Duration::from_secs(600), keep_after: Duration::ZERO },
    };
    push.put(&cloud("xapi-token", CLOUD_DEVICE), &bookings()).await.expect("the push lands");
    let sent = roomos_json(&bookings(), Buffers { join_before: Duration::from_secs(600), keep_after: Duration::ZERO });
    assert_eq!(webex.device_bookings(CLOUD_DEVICE).map(|b| json!({"Bookings": b})), Some(sent));

    let refused = |r: Result<(), PushFailure>| match r {
        Err(PushFailure::Refused { status, .. }) => status,
        other => panic!("expected Refused, got {other:?}"),
    };
    assert_eq!(refused(push.put(&cloud("unknown-token", CLOUD_DEVICE), &bookings()).await), 401);
    assert_eq!(refused(push.put(&cloud("status-only", CLOUD_DEVICE), &bookings()).await), 403);
    assert_eq!(refused(push.put(&cloud("xapi-token", "no-such-device"), &bookings()).await), 404);
    // Basic credentials cannot reach a cloud device.
    let mut mismatched = cloud("xapi-token", CLOUD_DEVICE);
    mismatched.credentials = DeviceCredentials::Basic { username: USER.into(), password: PASSWORD.into() };
    assert_eq!(push.put(&mismatched, &bookings()).await, Err(PushFailure::Unsupported));
    webex.stop().await;
}

#[test]
fn devices_answers_are_judged_by_their_status_attribute() {
    let ok = r#"<?xml version="1.0"?><Command><BookingsPutResult status="OK"/></Command>"#;
    assert_eq!(judge_xml(200, ok, true), Ok(()));
    let error = r#"<Command><BookingsPutResult status="Error"><Reason>Invalid &amp; odd</Reason></BookingsPutResult></Command>"#;
    assert_eq!(judge_xml(200, error, true), Err(PushFailure::Refused { status: 200, reason: "Invalid & odd".into() }));
    let unknown = r#"<Command><Result status="Error"><Reason>Unknown command</Reason></Result></Command>"#;
    assert_eq!(judge_xml(200, unknown, true), Err(PushFailure::Unsupported));
    assert_eq!(judge_xml(404, "", false), Err(PushFailure::Unsupported));
    assert_eq!(judge_xml(200, "", false), Ok(()));
    assert!(matches!(judge_xml(200, "", true), Err(PushFailure::Refused { status: 200, .. })));
    assert!(matches!(judge_xml(503, "", false), Err(PushFailure::Refused { status: 503, .. })));
    let base = url::Url::parse("https://device.example/devices/room-1").unwrap_or_else(|_| unreachable!());
    assert_eq!(
        endpoint(&base, &["putxml"]).map(|u| u.to_string()),
        Ok("https://device.example/devices/room-1/putxml".into())
    );
    let root = url::Url::parse("https://device.example/").unwrap_or_else(|_| unreachable!());
    assert_eq!(endpoint(&root, &["putxml"]).map(|u| u.to_string()), Ok("https://device.example/putxml".into()));
}

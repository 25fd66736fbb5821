//! The device simulator over real HTTP.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;

const USER: &str = "admin";
const PASSWORD: &str = "device-password";

async fn setup() -> (DeviceSim, reqwest::Client) {
    let sim = DeviceSim::start(DeviceSimConfig::default()).await.expect("simulator starts");
    sim.add_device(DeviceSpec::roomos("room-1", USER, PASSWORD));
    sim.add_device(DeviceSpec::legacy("room-2", USER, PASSWORD));
    (sim, reqwest::Client::new())
}

fn booking(id: &str, title: &str) -> Value {
    json!({"Id": id, "Title": title, "Number": "room@video.example.com", "Protocol": "SIP",
        "MeetingPlatform": "Webex", "Organizer": {"Name": "Alex Wilber"},
        "Time": {"StartTime": "2026-05-04T10:00:00Z", "Duration": 60, "StartTimeBuffer": 300, "EndTimeBuffer": 0}})
}

fn command(json: &Value) -> String {
    let escaped = json.to_string().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!("<Command><Bookings><Put><body>{escaped}</body></Put></Bookings></Command>")
}

async fn put(sim: &DeviceSim, http: &reqwest::Client, id: &str, body: String, password: &str) -> (u16, String) {
    let res = http
        .post(format!("{}/putxml", sim.url_of(id)))
        .basic_auth(USER, Some(password))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .expect("the device answers");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_put_replaces_the_whole_list_and_reads_back() {
    let (sim, http) = setup().await;
    let first = json!({"Bookings": [booking("1", "Weekly sync"), booking("2", "Budget <&> review")]});
    let (status, body) = put(&sim, &http, "room-1", command(&first), PASSWORD).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"<BookingsPutResult status="OK"/>"#), "{body}");
    assert_eq!(sim.bookings("room-1"), Some(vec![booking("1", "Weekly sync"), booking("2", "Budget <&> review")]));

    let second = json!({"Bookings": [booking("3", "Retro")]});
    put(&sim, &http, "room-1", command(&second), PASSWORD).await;
    assert_eq!(sim.bookings("room-1"), Some(vec![booking("3", "Retro")]));

    // The control surface reads back exactly what Bookings Put takes.
    let read: Value = http
        .get(format!("{}/_sim/devices/room-1/bookings", sim.url()))
        .send()
        .await
        .expect("control answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(read, second);
    assert_eq!(sim.puts("room-1"), Some(PutCounts { received: 2, accepted: 2, rejected: 0, unauthorized: 0 }));
    let missing = http.get(format!("{}/_sim/devices/nope/bookings", sim.url())).send().await.expect("answers");
    assert_eq!(missing.status(), 404);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_refuses_wrong_credentials_with_a_basic_challenge() {
    let (sim, http) = setup().await;
    let list = json!({"Bookings": [booking("1", "Weekly sync")]});
    let res = http.post(format!("{}/putxml", sim.url_of("room-1"))).body(command(&list)).send().await.expect("answers");
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Basic realm=\"RoomOS\""));
    let (status, _) = put(&sim, &http, "room-1", command(&list), "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(sim.bookings("room-1"), Some(vec![]));
    assert_eq!(sim.puts("room-1").map(|p| p.unauthorized), Some(2));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_answers_bad_xml_and_bad_json_with_its_error_and_keeps_the_list() {
    let (sim, http) = setup().await;
    let list = json!({"Bookings": [booking("1", "Weekly sync")]});
    put(&sim, &http, "room-1", command(&list), PASSWORD).await;

    let (status, body) = put(&sim, &http, "room-1", "<Command><Bookings><Put>".to_owned(), PASSWORD).await;
    assert_eq!(status, 400);
    assert!(body.contains(r#"status="Error""#) && body.contains("<Reason>"), "{body}");

    let bad_json = "<Command><Bookings><Put><body>{\"Bookings\": [</body></Put></Bookings></Command>".to_owned();
    let (status, body) = put(&sim, &http, "room-1", bad_json, PASSWORD).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"<BookingsPutResult status="Error"><Reason>Invalid JSON"#), "{body}");

    let mut incomplete = booking("2", "No number");
    incomplete.as_object_mut().map(|o| o.remove("Number"));
    let (_, body) = put(&sim, &http, "room-1", command(&json!({"Bookings": [incomplete]})), PASSWORD).await;
    assert!(body.contains("Bookings[0].Number: required"), "{body}");

    assert_eq!(sim.bookings("room-1"), Some(vec![booking("1", "Weekly sync")]));
    assert_eq!(sim.puts("room-1").map(|p| (p.accepted, p.rejected)), Some((1, 3)));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_legacy_takes_the_bookings_document_and_not_bookings_put() {
    let (sim, http) = setup().await;
    let list = json!({"Bookings": [booking("1", "Weekly sync")]});
    let (status, body) = put(&sim, &http, "room-2", command(&list), PASSWORD).await;
    assert_eq!(status, 200);
    assert!(body.contains("<Reason>Unknown command</Reason>"), "{body}");

    let doc = r#"<?xml version="1.0"?><Bookings status="OK"><Booking><Id>9</Id><Title>Design review</Title>
        <Privacy>Public</Privacy><Organizer><FirstName>Alex</FirstName><LastName>Wilber</LastName><Email/></Organizer>
        <Time><StartTime>2026-05-04T10:00:00Z</StartTime><StartTimeBuffer>300</StartTimeBuffer>
        <EndTime>2026-05-04T11:00:00Z</EndTime><EndTimeBuffer>0</EndTimeBuffer></Time>
        <DialInfo><Calls><Call><Number>room@video.example.com</Number><Protocol>SIP</Protocol>
        <CallRate>6000</CallRate><CallType>Video</CallType></Call></Calls><ConnectMode>OBTP</ConnectMode></DialInfo>
        </Booking></Bookings>"#;
    let res = http
        .post(format!("{}/bookingsputxml", sim.url_of("room-2")))
        .basic_auth(USER, Some(PASSWORD))
        .body(doc)
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200);
    let stored = sim.bookings("room-2").unwrap_or_default();
    assert_eq!(
        stored,
        vec![json!({"Id": "9", "Title": "Design review", "Number": "room@video.example.com", "Protocol": "SIP",
            "Privacy": "Public", "Organizer": {"Name": "Alex Wilber"},
            "Time": {"StartTime": "2026-05-04T10:00:00Z", "Duration": 60, "StartTimeBuffer": 300, "EndTimeBuffer": 0}})]
    );

    let res = http
        .post(format!("{}/bookingsputxml", sim.url_of("room-2")))
        .basic_auth(USER, Some(PASSWORD))
        .body("<Bookings><Booking><Title>no id</Title></Booking></Bookings>")
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 400);
    assert_eq!(sim.bookings("room-2"), Some(stored));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_offline_fails_at_the_transport_level_and_slow_devices_are_slow() {
    let (sim, http) = setup().await;
    let list = json!({"Bookings": [booking("1", "Weekly sync")]});
    assert!(sim.set_offline("room-1", true));
    for _ in 0..3 {
        let err = http
            .post(format!("{}/putxml", sim.url_of("room-1")))
            .basic_auth(USER, Some(PASSWORD))
            .body(command(&list))
            .send()
            .await
            .expect_err("an offline device does not answer");
        assert!(err.status().is_none(), "{err}");
    }
    assert_eq!(sim.puts("room-1").map(|p| p.received), Some(0));
    // The other device on the same listener is unaffected.
    let (status, _) = put(&sim, &http, "room-2", command(&list), PASSWORD).await;
    assert_eq!(status, 200);

    sim.set_offline("room-1", false);
    let (status, _) = put(&sim, &http, "room-1", command(&list), PASSWORD).await;
    assert_eq!(status, 200);

    sim.set_delay("room-1", Duration::from_millis(400));
    let started = std::time::Instant::now();
    let (status, _) = put(&sim, &http, "room-1", command(&list), PASSWORD).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    sim.stop().await;
}

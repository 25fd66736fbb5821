//! Room devices end to end: a room mailbox's invites reach its simulated Cisco device over real
//! HTTP (the device simulator), with number, protocol and platform; a moved invite moves on the
//! device, a cancelled one leaves it, a private one shows its organiser instead of its subject;
//! an offline device gets the right list when it is back; the device pull API serves the same
//! list to the device's token only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use hcal_sim::device::{DeviceSim, DeviceSimConfig, DeviceSpec};
use serde_json::{Value, json};
use support::{Backend, Env, eventually};

const WAIT: Duration = Duration::from_secs(30);

const TEAMS: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NDQ4%40thread.v2/0?context=%7b%7d";

fn at(days: i64, hour: u32) -> String {
    let day = (chrono::Utc::now() + chrono::Duration::days(days)).date_naive();
    day.and_hms_opt(hour, 0, 0).unwrap().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// An invite from alex to the room, `days` ahead at `hour` UTC.
fn room_invite(subject: &str, days: i64, hour: u32, body: &str) -> Value {
    json!({
        "subject": subject,
        "body": {"contentType": "html", "content": body},
        "start": {"dateTime": at(days, hour), "timeZone": "UTC"},
        "end": {"dateTime": at(days, hour + 1), "timeZone": "UTC"},
        "location": {"displayName": "Conf Room Rainier"},
        "attendees": [
            {"type": "resource", "emailAddress": {"name": "Conf Room Rainier", "address": "rainier@contoso.example"}}
        ]
    })
}

fn titled<'a>(list: &'a [Value], title: &str) -> Option<&'a Value> {
    list.iter().find(|b| b["Title"] == title)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_invite_reaches_its_device_moves_and_leaves_with_it() {
    room_device(Env::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_kafka_mode_the_room_bookings_reach_the_device_and_their_topic() {
    let Some(env) = Env::on(Backend::KafkaMock).await else { return };
    room_device(env).await;
}

async fn room_device(env: Env) {
    let devices = DeviceSim::start(DeviceSimConfig::default()).await.unwrap();
    devices.add_device(DeviceSpec::roomos("rainier-1", "admin", "device-secret-1"));
    let _hcal = env.start_with_sections("[devices]\nretry_first = \"200ms\"\nretry_max = \"1s\"").await;
    let (alex, room) = (env.user("alex"), env.user("rainier"));
    for user in [&alex, &room] {
        env.enable(user).await;
        env.wait_active(user).await;
    }

    // Registered with the CLI, the password from the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["devices", "add", "--url", &env.url(), "--room", &room, "--kind", "roomOs"])
        .args(["--address", &devices.url_of("rainier-1"), "--username", "admin"])
        .env("HCAL_API_TOKEN", &env.api_token)
        .env("HCAL_DEVICE_PASSWORD", "device-secret-1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let device_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // The room's (empty) list lands at once.
    eventually("the first push", WAIT, || async {
        devices.puts("rainier-1").is_some_and(|p| p.accepted >= 1).then_some(())
    })
    .await;

    // A Teams invite to the room.
    let teams_body = format!("<html><body><p><a href=\"{TEAMS}\">Join the meeting now</a></p></body></html>");
    let teams = env.graph.create_event(&alex, room_invite("Design review", 1, 9, &teams_body)).await.unwrap();
    let booking = eventually("the Teams meeting on the device", WAIT, || async {
        titled(&devices.bookings("rainier-1")?, "Design review").cloned()
    })
    .await;
    assert_eq!(booking["Number"], TEAMS);
    assert_eq!(booking["Protocol"], "WebRTC");
    assert_eq!(booking["MeetingPlatform"], "MicrosoftTeams");
    assert_eq!(booking["Time"]["Duration"], 60);
    assert_eq!(booking["Time"]["StartTime"], format!("{}Z", at(1, 9)));
    assert_eq!(booking["Time"]["StartTimeBuffer"], 300, "the Join button 5 minutes before");

    // Moved: the device follows, under the same booking id.
    let id = booking["Id"].clone();
    let teams_id = teams["id"].as_str().unwrap().to_owned();
    let moved =
        json!({"start": {"dateTime": at(1, 14), "timeZone": "UTC"}, "end": {"dateTime": at(1, 15), "timeZone": "UTC"}});
    env.graph.update_event(&alex, &teams_id, moved).await.unwrap();
    eventually("the move on the device", WAIT, || async {
        let list = devices.bookings("rainier-1")?;
        let b = titled(&list, "Design review")?;
        (b["Time"]["StartTime"] == format!("{}Z", at(1, 14)).as_str()).then(|| assert_eq!(b["Id"], id))
    })
    .await;

    // Private: the organiser's name, not the subject.
    let mut private = room_invite("Salary talks", 2, 10, "<p>Confidential</p>");
    private["sensitivity"] = json!("private");
    env.graph.create_event(&alex, private).await.unwrap();
    let organizer = env.demo.users.iter().find(|u| u.0 == alex).map(|u| u.1.clone()).unwrap();
    eventually("the private meeting under its organiser's name", WAIT, || async {
        let list = devices.bookings("rainier-1")?;
        assert!(titled(&list, "Salary talks").is_none(), "a private subject on the device: {list:?}");
        titled(&list, &organizer).map(|_| ())
    })
    .await;

    // Offline: what happens meanwhile is there when it is back.
    devices.set_offline("rainier-1", true);
    env.graph.delete_event(&alex, &teams_id).await.unwrap();
    env.graph.create_event(&alex, room_invite("Offsite planning", 3, 8, "<p>Room only</p>")).await.unwrap();
    let status = |who: &str| {
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(["devices", "status", "--url", &env.url(), who])
            .env("HCAL_API_TOKEN", &env.api_token)
            .output()
            .unwrap()
    };
    eventually("the device reported offline", WAIT, || async {
        let out = status(&device_id);
        String::from_utf8_lossy(&out.stdout).contains("push       offline").then_some(())
    })
    .await;
    assert!(titled(&devices.bookings("rainier-1").unwrap(), "Design review").is_some(), "nothing landed while off");
    devices.set_offline("rainier-1", false);
    let list = eventually("the current list once it is back", WAIT, || async {
        let list = devices.bookings("rainier-1")?;
        (titled(&list, "Design review").is_none() && titled(&list, "Offsite planning").is_some()).then_some(list)
    })
    .await;
    let offsite = titled(&list, "Offsite planning").unwrap();
    assert_eq!(offsite["Number"], "", "no join address: listed without a Join button");
    let out = status(&device_id);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("push       ok"), "{shown}");
    assert!(!shown.contains("device-secret-1"), "{shown}");

    // The pull API: the device's token reads the same list; nobody else does.
    let issue = |body: Value| {
        let env = &env;
        async move {
            let resp = env
                .http
                .post(format!("{}/admin/v1/tokens", env.url()))
                .bearer_auth(&env.api_token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
        }
    };
    let device_token = issue(json!({"deviceId": device_id})).await;
    let pull = |token: String, device: String| {
        let env = &env;
        async move {
            let url = format!("{}/v1/devices/{device}/bookings", env.url());
            let resp = env.http.get(url).bearer_auth(token).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status_code, pulled) = pull(device_token.clone(), device_id.clone()).await;
    assert_eq!(status_code, 200);
    assert_eq!(pulled["Bookings"].as_array().unwrap().len(), devices.bookings("rainier-1").unwrap().len());
    let other = "00000000-0000-4000-8000-00000000d0d0".to_owned();
    assert_eq!(pull(device_token, other).await.0, 403, "another device's bookings");
    let alex_token = env.user_token(&alex).await;
    assert_eq!(pull(alex_token, device_id.clone()).await.0, 403, "a user token");
    assert_eq!(pull(env.api_token.clone(), device_id.clone()).await.0, 403, "the admin token");
    assert_eq!(pull(String::new(), device_id.clone()).await.0, 401);

    // Listed, then removed: no more pushes.
    let listed: Value = env
        .http
        .get(format!("{}/admin/v1/devices", env.url()))
        .bearer_auth(&env.api_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"][0]["id"], device_id.as_str());
    assert!(!listed.to_string().contains("device-secret-1"), "{listed}");
    let resp = env
        .http
        .delete(format!("{}/admin/v1/devices/{device_id}", env.url()))
        .bearer_auth(&env.api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let pushes = devices.puts("rainier-1").unwrap().received;
    env.graph.create_event(&alex, room_invite("After removal", 4, 9, "<p>x</p>")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(devices.puts("rainier-1").unwrap().received, pushes, "a removed device gets nothing");
    // What was logged matches the published schemas.
    let schema = |path: &str| {
        let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(path))
            .unwrap();
        jsonschema::validator_for(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
    };
    let mut seen = Vec::new();
    for record in env.records("mailbox-events").await {
        let value = &record["value"];
        let kind = value["type"].as_str().unwrap().to_owned();
        let errors: Vec<String> =
            schema(&format!("events/{kind}.v1.json")).iter_errors(&value["data"]).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{kind}: {errors:?}");
        seen.push(kind);
    }
    for kind in ["DeviceRegistered", "DeviceRemoved", "TokenIssued"] {
        assert!(seen.iter().any(|k| k == kind), "no {kind} in {seen:?}");
    }
    let notification = schema("notification.v1.json");
    for record in env.records("notifications").await {
        let errors: Vec<String> = notification.iter_errors(&record["value"]).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}: {}", record["value"]);
    }
    // In kafka mode the room's lists are on their topic too, sealed, each fitting the schema.
    if let Some(records) = env.downstream_records("room-bookings") {
        let schema = schema("room-bookings.v1.json");
        assert!(!records.is_empty(), "no room-bookings record");
        for value in &records {
            let errors: Vec<String> = schema.iter_errors(value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}: {value}");
            assert_eq!(value["userId"], room.as_str());
            assert!(!value.to_string().contains("Design review"), "a title in clear: {value}");
        }
        assert!(records.iter().any(|v| v["count"].as_u64() >= Some(2)), "{records:?}");
    }
    // The device's password is nowhere on disk in clear.
    for entry in walk(env.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(15).any(|w| w == b"device-secret-1"), "{} holds the device password", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

//! The end-to-end scenarios of the walking skeleton, written once and run on every backend
//! (`tests/embedded.rs`, `tests/kafka_mock.rs`, `tests/kafka_broker.rs` instantiate them with
//! `scenario_tests!`): hcal as a real process, the simulators over real HTTP on 127.0.0.1.

#![allow(dead_code)]
// Scenario bodies are test code: a failed step fails the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod kills;
pub mod platforms;
pub mod series;

use std::time::Duration;

use crate::support::{self, Env, blocks, eventually, invite};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

pub async fn webex_keyword_is_decorated_once_listed_updated_and_cancelled(env: Env) {
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    let enabled = env.enable(&alex).await;
    assert_eq!(enabled["status"], "pending");
    let status = env.wait_active(&alex).await;
    assert_eq!(status["locale"], "en-US");
    assert!(env.graph.subscriptions().iter().any(|s| s["id"] == status["subscription"]["id"]));

    let created = env
        .graph
        .create_event(&alex, invite("Roadmap review", "@webex", "<html><body><p>Agenda</p></body></html>"))
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let ev = eventually("join details in the invite", WAIT, || async {
        let ev = env.graph_event(&alex, &id).await;
        (blocks(ev["body"]["content"].as_str().unwrap_or("")) > 0).then_some(ev)
    })
    .await;
    let body = ev["body"]["content"].as_str().unwrap();
    assert_eq!(blocks(body), 1);
    assert!(body.contains("<p>Agenda</p>"), "the existing body is kept");
    assert!(body.contains("https://hcal.webex.com/meet/alex") && body.contains("alex@hcal.webex.com"));
    let room = env.webex.personal_room("alex@contoso.example").unwrap();
    assert!(!body.contains(&room.host_pin), "the host PIN never goes into an invite");

    let row = eventually("the meeting in the list", WAIT, || async {
        env.meetings(&alex).await.into_iter().find(|m| m["eventId"] == id.as_str() && m["join"]["origin"] == "hcal")
    })
    .await;
    assert_eq!(row["subject"], "Roadmap review");
    assert_eq!(row["join"]["provider"], "webex");
    assert_eq!(row["join"]["address"], "sip:alex@hcal.webex.com");
    assert_eq!(row["join"]["webLink"], "https://hcal.webex.com/meet/alex");

    // The echo of hcal's own write, and a redelivery of every notification so far, change nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = env.records("mailbox-events").await.len();
    assert!(env.graph.redeliver().await > 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ev = env.graph_event(&alex, &id).await;
    assert_eq!(blocks(ev["body"]["content"].as_str().unwrap()), 1, "still exactly one block after replay");
    assert_eq!(env.records("mailbox-events").await.len(), before, "a replay decides nothing new");

    // Editing the subject updates the list.
    env.graph.update_event(&alex, &id, json!({"subject": "Roadmap review (moved)"})).await.unwrap();
    eventually("the new subject in the list", WAIT, || async {
        env.meetings(&alex).await.into_iter().find(|m| m["subject"] == "Roadmap review (moved)")
    })
    .await;
    let ev = env.graph_event(&alex, &id).await;
    assert_eq!(blocks(ev["body"]["content"].as_str().unwrap()), 1);

    // Cancelling removes it.
    env.graph.delete_event(&alex, &id).await.unwrap();
    eventually("the meeting to leave the list", WAIT, || async {
        (!env.meetings(&alex).await.iter().any(|m| m["eventId"] == id.as_str())).then_some(())
    })
    .await;
}

pub async fn an_invite_with_a_zoom_link_is_listed_and_not_rewritten(env: Env) {
    let _hcal = env.start("").await;
    let deniz = env.user("deniz");
    env.enable(&deniz).await;
    let body = "<html><body><p>Join Zoom Meeting</p><p><a href=\"https://us02web.zoom.us/j/85123456789?pwd=quota\">Click here</a></p></body></html>";
    let created = env.graph.create_event(&deniz, invite("Vendor sync", "Zoom", body)).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let row = eventually("the Zoom meeting in the list", WAIT, || async {
        env.meetings(&deniz).await.into_iter().find(|m| m["eventId"] == id.as_str())
    })
    .await;
    assert_eq!(row["join"]["provider"], "zoom");
    assert_eq!(row["join"]["origin"], "detected");
    assert_eq!(row["join"]["address"], "https://us02web.zoom.us/j/85123456789?pwd=quota");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ev = env.graph_event(&deniz, &id).await;
    assert_eq!(ev["changeKey"], created["changeKey"], "hcal did not write to the invite");
}

pub async fn sigkill_between_append_and_processing_loses_nothing(env: Env) {
    let first = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    first.kill();
    // Notifications are now accepted and logged but not processed until the next start.
    let hcal = env.start("hold_processing = true").await;
    let created = env.graph.create_event(&alex, invite("Held", "@webex", "<p>x</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    eventually("the notification in the log", WAIT, || async {
        env.records("notifications").await.iter().any(|r| r["value"]["kind"] == "change").then_some(())
    })
    .await;
    assert_eq!(blocks(env.graph_event(&alex, &id).await["body"]["content"].as_str().unwrap()), 0, "not processed yet");
    hcal.kill();

    let _hcal = env.start("").await;
    eventually("join details after the restart", WAIT, || async {
        (blocks(env.graph_event(&alex, &id).await["body"]["content"].as_str().unwrap()) > 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(blocks(env.graph_event(&alex, &id).await["body"]["content"].as_str().unwrap()), 1);
}

pub async fn a_crash_after_writing_join_details_does_not_write_them_twice(env: Env) {
    let mut hcal = env.start("crash_at = \"after_join_patch\"").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    let created = env.graph.create_event(&alex, invite("Crashy", "@webex", "<p>x</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(hcal.wait_exit(WAIT), "hcal should abort at the crash point");
    drop(hcal);
    let ev = env.graph_event(&alex, &id).await;
    assert_eq!(blocks(ev["body"]["content"].as_str().unwrap()), 1, "the write happened before the crash");

    let _hcal = env.start("").await;
    let row = eventually("the meeting listed with its join details", WAIT, || async {
        env.meetings(&alex).await.into_iter().find(|m| m["eventId"] == id.as_str() && m["join"]["origin"] == "hcal")
    })
    .await;
    assert_eq!(row["join"]["address"], "sip:alex@hcal.webex.com");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(blocks(env.graph_event(&alex, &id).await["body"]["content"].as_str().unwrap()), 1);
    let events = env.records("mailbox-events").await;
    let recovered = events.iter().filter(|r| r["value"]["type"] == "JoinInfoPatched").collect::<Vec<_>>();
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0]["value"]["data"]["recovered"], true);
}

pub async fn the_webhook_refuses_bad_input_and_stores_nothing(env: Env) {
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let sub = eventually("the subscription", WAIT, || async {
        env.graph.subscriptions().first().and_then(|s| s["id"].as_str().map(str::to_owned))
    })
    .await;
    let hook = format!("{}/webhook/graph", env.url());
    let logged = env.records("notifications").await.len();

    // The validation handshake echoes the decoded token as text/plain.
    let resp = env.http.post(format!("{hook}?validationToken=Validation%3A%20Testing%20%3Cb%3E")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(resp.text().await.unwrap(), "Validation: Testing <b>");

    let item = |sub: &str, state: &str| {
        json!({"value": [{
            "subscriptionId": sub, "clientState": state, "tenantId": env.demo.tenant_id, "changeType": "created",
            "resource": format!("Users/{alex}/Events/AAMkX"), "resourceData": {"id": "AAMkX"}
        }]})
    };
    let client_states = env.graph.subscription_client_states();
    assert_eq!(client_states.len(), 1, "alex's subscription only");
    let lifecycle = |event: &str| {
        json!({"value": [{
            "subscriptionId": sub, "clientState": client_states[0], "tenantId": env.demo.tenant_id,
            "lifecycleEvent": event
        }]})
    };
    let post = |body: String| env.http.post(&hook).header("content-type", "application/json").body(body).send();
    assert_eq!(post("{\"value\": [".into()).await.unwrap().status(), 400, "malformed JSON");
    assert_eq!(post("[1,2,3]".into()).await.unwrap().status(), 400, "not a batch");
    // Graph redelivers anything but a 2xx for hours: items that are not acceptable are
    // discarded, and the batch is answered as any other, with nothing to tell a forger.
    for (body, what) in [
        (item(&sub, "forged"), "forged clientState"),
        (item("00000000-0000-0000-0000-000000000000", "x"), "unknown subscription"),
        (lifecycle("someEventGraphAddsLater"), "unknown lifecycle event"),
        (json!({"value": [{"subscriptionId": 7}]}), "an item that is not a notification"),
        (json!({"value": []}), "no item at all"),
    ] {
        let resp = post(body.to_string()).await.unwrap();
        assert_eq!(resp.status(), 202, "{what}");
        assert_eq!(resp.text().await.unwrap(), "", "{what}: an empty answer");
    }
    let huge = format!("{{\"value\": [], \"pad\": \"{}\"}}", "x".repeat(70_000));
    assert_eq!(post(huge).await.unwrap().status(), 413, "oversized body");
    assert_eq!(env.records("notifications").await.len(), logged, "nothing reached the log");
    let metrics = env.metrics().await;
    for counted in [
        "hcal_webhook_items_total{outcome=\"bad_client_state\"} 1",
        "hcal_webhook_items_total{outcome=\"unknown_subscription\"} 1",
        "hcal_webhook_items_total{outcome=\"unknown_lifecycle_event\"} 1",
        "hcal_webhook_items_total{outcome=\"malformed\"} 1",
        "hcal_webhook_batches_total{outcome=\"discarded\"} 5",
        "hcal_webhook_batches_total{outcome=\"malformed\"} 2",
        "hcal_webhook_batches_total{outcome=\"too_large\"} 1",
    ] {
        assert!(metrics.contains(counted), "{counted} in {metrics}");
    }
    // A known lifecycle event from the same subscription is still stored.
    assert_eq!(post(lifecycle("reauthorizationRequired").to_string()).await.unwrap().status(), 202);
    let records = env.records("notifications").await;
    let stored = records.iter().filter(|r| r["value"]["lifecycleEvent"] == "reauthorizationRequired").count();
    assert_eq!((records.len(), stored), (logged + 1, 1), "the known lifecycle event is stored: {records:?}");
}

#[allow(clippy::unwrap_used)] // test helper: an unreadable schema must fail the test
fn validator(path: &str) -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(path)).unwrap();
    jsonschema::validator_for(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match its schema: {errors:?}\n{instance}");
}

pub async fn every_produced_message_matches_its_schema_and_no_sentinel_leaks(env: Env) {
    let _hcal = env.start("").await;
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    env.enable(&alex).await;
    env.enable(&deniz).await;
    let sentinel = format!("SENTINEL{}", uuid::Uuid::new_v4().simple());
    let mut body = invite(&format!("{sentinel} subject"), "@webex", &format!("<p>{sentinel} body</p>"));
    body["attendees"] =
        json!([{"emailAddress": {"name": format!("{sentinel} name"), "address": "deniz@contoso.example"}}]);
    let created = env.graph.create_event(&alex, body).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    env.graph
        .create_event(&deniz, invite("Zoom one", "Room", "<p>https://us02web.zoom.us/j/123456789</p>"))
        .await
        .unwrap();
    // Text typed after a keyword (a modifier hcal does not know) is free text too.
    let typed: String =
        uuid::Uuid::new_v4().simple().to_string().chars().map(|c| (b'a' + (c as u8 % 26)) as char).collect();
    let typed = format!("zq{typed}");
    let odd =
        env.graph.create_event(&deniz, invite("Typed modifier", &format!("@webex:{typed}"), "<p>x</p>")).await.unwrap();
    let odd = odd["id"].as_str().unwrap().to_owned();
    eventually("decoration", WAIT, || async {
        env.meetings(&alex).await.into_iter().find(|m| m["eventId"] == id.as_str() && m["join"]["origin"] == "hcal")
    })
    .await;
    env.graph.update_event(&alex, &id, json!({"subject": format!("{sentinel} moved")})).await.unwrap();
    let moved = format!("{sentinel} moved");
    eventually("the update", WAIT, || async {
        env.meetings(&alex).await.into_iter().find(|m| m["subject"] == moved.as_str())
    })
    .await;
    env.graph.delete_event(&alex, &id).await.unwrap();
    eventually("cancellation", WAIT, || async {
        (!env.meetings(&alex).await.iter().any(|m| m["eventId"] == id.as_str())).then_some(())
    })
    .await;

    eventually("the typed modifier's skip", WAIT, || async {
        env.records("mailbox-events")
            .await
            .into_iter()
            .find(|r| r["value"]["type"] == "MeetingSkipped" && r["value"]["data"]["eventId"] == odd.as_str())
    })
    .await;

    let envelope = validator("mailbox-event.envelope.v1.json");
    let events = env.records("mailbox-events").await;
    let mut types: Vec<String> = Vec::new();
    for record in &events {
        let value = &record["value"];
        assert_valid(&envelope, value, "envelope");
        let (kind, version) = (value["type"].as_str().unwrap(), value["version"].as_u64().unwrap());
        assert_valid(&validator(&format!("events/{kind}.v{version}.json")), &value["data"], kind);
        types.push(kind.to_owned());
    }
    for expected in [
        "MailboxEnabled",
        "SubscriptionCreated",
        "MeetingScheduled",
        "JoinInfoPatched",
        "MeetingUpdated",
        "MeetingCancelled",
        "MeetingSkipped",
        // The meeting lists were read with user tokens.
        "TokenIssued",
    ] {
        assert!(types.iter().any(|t| t == expected), "no {expected} produced: {types:?}");
    }
    // In kafka mode, downstream teams read the topics themselves: do exactly that.
    if let Some(downstream) = env.downstream_records("mailbox-events") {
        assert_eq!(downstream.len(), events.len(), "a plain consumer sees every event");
        for value in &downstream {
            assert_valid(&envelope, value, "envelope read by a downstream consumer");
            let (kind, version) = (value["type"].as_str().unwrap(), value["version"].as_u64().unwrap());
            assert_valid(&validator(&format!("events/{kind}.v{version}.json")), &value["data"], kind);
        }
    }
    // The meeting lists for downstream consumers (kafka mode): every record fits its schema,
    // carries nothing sensitive in clear, and the last state of the cancelled invite says so.
    if let Some(lists) = env.downstream_records("meeting-lists") {
        let schema = validator("meeting-list.v1.json");
        for value in &lists {
            assert_valid(&schema, value, "meeting-lists record");
            assert!(!value.to_string().contains(&sentinel), "{value}");
        }
        let last = lists.iter().rfind(|v| v["eventId"] == id.as_str()).unwrap();
        assert_eq!(last["change"], "cancelled", "{last}");
        assert!(lists.iter().any(|v| v["change"] == "created"), "{lists:?}");
    }
    let notification = validator("notification.v1.json");
    if let Some(downstream) = env.downstream_records("notifications") {
        for value in &downstream {
            assert_valid(&notification, value, "notification read by a downstream consumer");
        }
    }
    let notifications = env.records("notifications").await;
    assert!(!notifications.is_empty());
    for record in &notifications {
        assert_valid(&notification, &record["value"], "notification");
    }

    // Checkpoints ran (the test configuration takes one every few records): their snapshots
    // match their schema too, on the service's log view and for a plain consumer.
    let snapshot = validator("mailbox-snapshot.v1.json");
    let snapshots = env.records("mailbox-snapshots").await;
    assert!(!snapshots.is_empty(), "no checkpoint was written");
    for record in &snapshots {
        assert_valid(&snapshot, &record["value"], "snapshot");
    }
    if let Some(downstream) = env.downstream_records("mailbox-snapshots") {
        for value in &downstream {
            assert_valid(&snapshot, value, "snapshot read by a plain consumer");
        }
    }

    // Sealed everywhere: no sentinel or address in the logs, the store, the key directory,
    // the process output or the metrics.
    // The broker's own storage is "stored" too.
    let mut stored = support::files(&env.data_dir());
    if let Some(support::KafkaSide::Broker(broker)) = &env.kafka {
        stored.extend(support::files(broker.dir()));
    }
    let mut haystacks: Vec<(String, Vec<u8>)> =
        stored.into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect();
    haystacks.push(("process output".into(), env.logs().into_bytes()));
    haystacks.push(("metrics".into(), env.metrics().await.into_bytes()));
    haystacks.push(("log records".into(), serde_json::to_vec(&(events, notifications, snapshots)).unwrap()));
    // The subscriptions' client states are secrets too (the subscription index keeps them
    // sealed in its rows).
    let client_states = env.graph.subscription_client_states();
    assert!(!client_states.is_empty(), "hcal's subscriptions carry a clientState");
    let mut needles: Vec<(&str, &str)> =
        [sentinel.as_str(), "alex@contoso.example", "deniz@contoso.example", "Zoom one", typed.as_str()]
            .map(|n| (n, n))
            .into();
    needles.extend(client_states.iter().map(|c| ("a subscription's clientState", c.as_str())));
    for (what, bytes) in &haystacks {
        let text = String::from_utf8_lossy(bytes);
        for (name, needle) in &needles {
            assert!(!text.contains(needle), "{name} found in {what}");
        }
    }
}

/// Graph throttles one mailbox for minutes (its request budget is spent by another client):
/// the invites of a mailbox on another partition are decorated meanwhile, and the throttled
/// one is decorated, once, when its budget is back.
pub async fn a_throttled_mailbox_does_not_hold_up_the_others(env: Env) {
    let _hcal = env.start("").await;
    let key = |user: &str| format!("{}/{user}", env.demo.tenant_id);
    let partition = |user: &str| hcal_actors::log::partition_for(&key(user), 8);
    let users: Vec<String> = ["alex", "deniz", "megan"].iter().map(|u| env.user(u)).collect();
    let throttled = users[0].clone();
    let other = users.iter().find(|u| partition(u) != partition(&throttled)).expect("two partitions").clone();
    for u in [&throttled, &other] {
        env.enable(u).await;
        env.wait_active(u).await;
        env.wait_resynced(u).await;
    }
    env.graph.exhaust_budget(&env.demo.client_id, &throttled);
    let held = env.graph.create_event(&throttled, invite("Throttled", "@webex", "<p>x</p>")).await.unwrap();
    let held = held["id"].as_str().unwrap().to_owned();
    // Let hcal meet the 429 first, so the other mailbox's change comes while it waits.
    eventually("hcal throttled", WAIT, || async {
        env.metrics().await.contains("hcal_notifications_total{outcome=\"retried\"}").then_some(())
    })
    .await;
    let free = env.graph.create_event(&other, invite("Not throttled", "@webex", "<p>x</p>")).await.unwrap();
    let free = free["id"].as_str().unwrap().to_owned();
    eventually("the other mailbox decorated", WAIT, || async {
        let ev = env.graph_event(&other, &free).await;
        (blocks(ev["body"]["content"].as_str().unwrap_or("")) == 1).then_some(())
    })
    .await;
    let ev = env.graph_event(&throttled, &held).await;
    assert_eq!(blocks(ev["body"]["content"].as_str().unwrap_or("")), 0, "still throttled, so not written yet");

    env.graph.restore_budget(&env.demo.client_id, &throttled);
    // hcal tries again at most 30 s after the last 429.
    eventually("the throttled mailbox decorated", WAIT * 2, || async {
        let ev = env.graph_event(&throttled, &held).await;
        (blocks(ev["body"]["content"].as_str().unwrap_or("")) == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (user, id) in [(&throttled, &held), (&other, &free)] {
        let ev = env.graph_event(user, id).await;
        assert_eq!(blocks(ev["body"]["content"].as_str().unwrap_or("")), 1, "exactly one block");
    }
}

pub async fn replay_rebuilds_identical_meeting_lists(env: Env) {
    let hcal = env.start("").await;
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    for u in [&alex, &deniz] {
        env.enable(u).await;
        env.wait_active(u).await;
    }
    let webex = env.graph.create_event(&alex, invite("Replayed", "@webex", "<p>x</p>")).await.unwrap();
    let webex_id = webex["id"].as_str().unwrap().to_owned();
    env.graph.create_event(&deniz, invite("Zoom", "Room", "<p>https://us02web.zoom.us/j/123456789</p>")).await.unwrap();
    let gone = env.graph.create_event(&alex, invite("Gone", "Room", "<p>x</p>")).await.unwrap();
    eventually("decoration", WAIT, || async {
        env.meetings(&alex)
            .await
            .into_iter()
            .find(|m| m["eventId"] == webex_id.as_str() && m["join"]["origin"] == "hcal")
    })
    .await;
    env.graph.update_event(&alex, &webex_id, json!({"subject": "Replayed (moved)"})).await.unwrap();
    env.graph.delete_event(&alex, gone["id"].as_str().unwrap()).await.unwrap();
    let users = vec![alex.clone(), deniz.clone()];
    eventually("the lists to settle", WAIT, || async {
        let a = env.meetings(&alex).await;
        let d = env.meetings(&deniz).await;
        (a.len() == 1 && a[0]["subject"] == "Replayed (moved)" && d.len() == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let live = env.lists(&users).await;
    hcal.kill();

    let from = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let mailbox = format!("{}/{alex}", env.demo.tenant_id);
    for args in [vec!["replay"], vec!["replay", "--mailbox", mailbox.as_str()], vec!["replay", "--from", from.as_str()]]
    {
        let out = env.cli(&args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("replayed"), "{args:?}");
        // Served with processing held, the lists are exactly what the replay rebuilt.
        let hcal = env.start("hold_processing = true").await;
        assert_eq!(env.lists(&users).await, live, "after {args:?}");
        hcal.kill();
    }
}

/// A mailbox whose state outgrows a log record (two dozen invites of 500 attendees each) is
/// left out of checkpoints; after a restart its state comes back whole from its history, an
/// edit is taken in and nothing is decorated twice.
pub async fn a_mailbox_too_large_to_snapshot_recovers_from_its_history(env: Env) {
    let first = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let attendees: Vec<Value> = (0..500)
        .map(|i| {
            json!({"type": "required", "emailAddress": {
                "name": format!("Attendee number {i}"),
                "address": format!("attendee.number.{i}@fabrikam.example"),
            }})
        })
        .collect();
    let mut ids = Vec::new();
    for n in 0..24 {
        let mut all_hands = invite(&format!("All hands {n}"), "@webex", "<p>x</p>");
        all_hands["attendees"] = Value::Array(attendees.clone());
        ids.push(env.graph.create_event(&alex, all_hands).await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let count_blocks = |id: String| {
        let env = &env;
        let alex = alex.clone();
        async move { blocks(env.graph_event(&alex, &id).await["body"]["content"].as_str().unwrap_or("")) }
    };
    for id in &ids {
        eventually("every invite decorated", WAIT, || async { (count_blocks(id.clone()).await == 1).then_some(()) })
            .await;
    }
    let patched = || async {
        let records = env.records("mailbox-events").await;
        records
            .iter()
            .filter(|r| r["value"]["type"] == "JoinInfoPatched")
            .map(|r| r["value"].clone())
            .collect::<Vec<_>>()
    };
    // The invites carry their join details before the events saying so are in the log.
    eventually("every decoration recorded", WAIT, || async { (patched().await.len() == 24).then_some(()) }).await;
    eventually("a checkpoint leaving the mailbox out", WAIT, || async {
        env.logs().contains("snapshot too large for the log").then_some(())
    })
    .await;
    // In its place a record without the state, matching the schema.
    let schema = validator("mailbox-snapshot.v1.json");
    let left_out: Vec<Value> = env
        .records("mailbox-snapshots")
        .await
        .into_iter()
        .map(|r| r["value"].clone())
        .filter(|v| v["leftOut"] == "too_large" && v["userId"] == alex.as_str())
        .collect();
    assert!(!left_out.is_empty(), "no left-out record");
    for value in &left_out {
        assert_valid(&schema, value, "left-out snapshot");
        // Sealed, but only to bind its fields: far smaller than the state it stands for.
        assert!(value["sealed"]["c"].as_str().is_some_and(|c| c.len() < 100), "{value}");
    }
    let metrics = env.metrics().await;
    assert!(!metrics.contains("hcal_snapshots_total{outcome=\"too_large\"} 0\n"), "{metrics}");
    assert!(metrics.contains("hcal_snapshots_total{outcome=\"too_large\"} "), "{metrics}");
    first.kill();

    let _hcal = env.start("").await;
    env.graph.update_event(&alex, &ids[0], json!({"subject": "All hands 0 (moved)"})).await.unwrap();
    eventually("the edit in the list", WAIT, || async {
        env.meetings(&alex).await.into_iter().find(|m| m["subject"] == "All hands 0 (moved)")
    })
    .await;
    assert!(env.graph.redeliver().await > 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = env.mailbox_status(&alex).await.unwrap();
    assert_eq!(status["meetings"], 24, "the state came back whole");
    for id in &ids {
        assert_eq!(count_blocks(id.clone()).await, 1, "decorated once");
    }
    let after = patched().await;
    assert_eq!(after.len(), 24, "nothing decorated or recorded again");
    assert!(after.iter().all(|e| e["data"]["recovered"] == false));
}

/// How many change notifications of each user the notifications log holds (records come in
/// partition order, so they are counted rather than sliced).
async fn change_notifications(env: &Env, users: &[String]) -> Vec<usize> {
    let records = env.records("notifications").await;
    let change_of = |r: &&Value, user: &str| r["value"]["kind"] == "change" && r["value"]["userId"] == user;
    users.iter().map(|user| records.iter().filter(|r| change_of(r, user)).count()).collect()
}

/// A restarted hcal knows its subscriptions at once: the subscription index comes back from
/// its stored rows and the events after its positions before the webhook answers, so Graph's
/// first notifications after the restart are accepted, and the admin list is complete, even
/// with processing held (no mailbox recovered, nothing new appended).
pub async fn a_restarted_hcal_accepts_notifications_for_its_existing_subscriptions(env: Env) {
    let first = env.start("").await;
    let users = [env.user("alex"), env.user("deniz")];
    for user in &users {
        env.enable(user).await;
    }
    for user in &users {
        env.wait_resynced(user).await;
    }
    first.kill();

    let _hcal = env.start("hold_processing = true").await;
    let listed = env.mailboxes().await;
    for user in &users {
        assert!(listed.iter().any(|m| m["userId"] == user.as_str() && m["status"] == "active"), "{listed:?}");
    }
    let before = change_notifications(&env, &users).await;
    for user in &users {
        env.graph.create_event(user, invite("After the restart", "Room", "<p>x</p>")).await.unwrap();
    }
    eventually("a new notification per mailbox in the log", WAIT, || async {
        let now = change_notifications(&env, &users).await;
        now.iter().zip(&before).all(|(now, before)| now > before).then_some(())
    })
    .await;
    let metrics = env.metrics().await;
    assert!(!metrics.contains("outcome=\"unknown_subscription\""), "{metrics}");
    assert!(!metrics.contains("outcome=\"bad_client_state\""), "{metrics}");
}

/// Instantiates every scenario as a test on one backend.
#[macro_export]
macro_rules! scenario_tests {
    ($backend:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn webex_keyword_is_decorated_once_listed_updated_and_cancelled() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::webex_keyword_is_decorated_once_listed_updated_and_cancelled(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_invite_with_a_zoom_link_is_listed_and_not_rewritten() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::an_invite_with_a_zoom_link_is_listed_and_not_rewritten(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sigkill_between_append_and_processing_loses_nothing() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::sigkill_between_append_and_processing_loses_nothing(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_crash_after_writing_join_details_does_not_write_them_twice() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::a_crash_after_writing_join_details_does_not_write_them_twice(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_webhook_refuses_bad_input_and_stores_nothing() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::the_webhook_refuses_bad_input_and_stores_nothing(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_throttled_mailbox_does_not_hold_up_the_others() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::a_throttled_mailbox_does_not_hold_up_the_others(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn replay_rebuilds_identical_meeting_lists() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::replay_rebuilds_identical_meeting_lists(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_mailbox_too_large_to_snapshot_recovers_from_its_history() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::a_mailbox_too_large_to_snapshot_recovers_from_its_history(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_onetime_meeting_is_booked_once_moved_with_its_invite_and_deleted_with_its_keyword() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::platforms::a_onetime_meeting_is_booked_once_moved_with_its_invite_and_deleted_with_its_keyword(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn meet_books_a_space_of_the_attendees_and_cancelling_deletes_its_meeting() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::platforms::meet_books_a_space_of_the_attendees_and_cancelling_deletes_its_meeting(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_kill_after_a_booking_before_it_is_recorded_books_nothing_more() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::platforms::a_kill_after_a_booking_before_it_is_recorded_books_nothing_more(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn jitsi_and_template_keywords_get_their_platforms_rooms() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::platforms::jitsi_and_template_keywords_get_their_platforms_rooms(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn organiser_and_attendee_list_the_same_join_target() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::platforms::organiser_and_attendee_list_the_same_join_target(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_typo_in_the_keyword_gets_a_notice_that_the_block_replaces_once_fixed() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::platforms::a_typo_in_the_keyword_gets_a_notice_that_the_block_replaces_once_fixed(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_weekly_series_is_listed_per_occurrence_with_its_moves_and_cancellations() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::series::a_weekly_series_is_listed_per_occurrence_with_its_moves_and_cancellations(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_keyword_on_one_occurrence_decorates_that_occurrence_only() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::series::a_keyword_on_one_occurrence_decorates_that_occurrence_only(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_kill_at_any_step_of_recreating_a_subscription_loses_no_invite() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::kills::a_kill_at_any_step_of_recreating_a_subscription_loses_no_invite(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_kill_during_the_resync_of_missed_notifications_loses_no_invite() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::kills::a_kill_during_the_resync_of_missed_notifications_loses_no_invite(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_restarted_hcal_accepts_notifications_for_its_existing_subscriptions() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::a_restarted_hcal_accepts_notifications_for_its_existing_subscriptions(env).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_produced_message_matches_its_schema_and_no_sentinel_leaks() {
            if let Some(env) = support::Env::on($backend).await {
                scenarios::every_produced_message_matches_its_schema_and_no_sentinel_leaks(env).await;
            }
        }
    };
}

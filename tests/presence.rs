//! Out of office as presence, end to end: automatic replies set in the Graph simulator become
//! presence in hcal (`GET /v1/users/{id}/presence`) at a scheduled window's edges on the
//! controllable clock, and within a cadence when turned on or off; the reply text never
//! reaches anything hcal wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Env;

/// A short cadence, so a read follows a change within seconds.
const PRESENCE: &str = "\n[presence]\ncadence = \"10s\"\nsoon_cadence = \"10s\"\n";

async fn presence(env: &Env, user: &str, token: &str) -> Value {
    let resp = env.http.get(format!("{}/v1/users/{user}/presence", env.url())).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn presence_becomes(env: &Env, user: &str, token: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let now = presence(env, user, token).await;
        if now["status"] == status {
            return now;
        }
        assert!(Instant::now() < deadline, "presence stayed {now} instead of {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn advance(env: &Env, seconds: i64) {
    let resp = env
        .http
        .post(format!("{}/admin/v1/testing/clock", env.url()))
        .bearer_auth(&env.api_token)
        .json(&json!({"advanceSeconds": seconds}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

fn local(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_set_before_enabling_turns_presence_at_its_edges_and_on_and_off_follow_within_a_cadence() {
    let env = Env::new().await;
    let megan = env.user("megan");
    let start = chrono::Utc::now() + chrono::Duration::hours(1);
    let end = start + chrono::Duration::hours(2);
    env.graph
        .set_automatic_replies(
            &megan,
            json!({
                "status": "scheduled",
                "internalReplyMessage": "SENTINEL-REPLY-TEXT",
                "externalReplyMessage": "SENTINEL-REPLY-TEXT",
                "scheduledStartDateTime": {"dateTime": local(start), "timeZone": "UTC"},
                "scheduledEndDateTime": {"dateTime": local(end), "timeZone": "UTC"},
            }),
        )
        .await
        .unwrap();
    let _hcal = env.start_full("", PRESENCE, "controllable_clock = true").await;
    env.enable(&megan).await;
    env.wait_active(&megan).await;
    let token = env.user_token(&megan).await;
    let known = presence(&env, &megan, &token).await;
    assert_eq!(known["status"], "available", "{known}");
    assert_eq!(known["automaticReplies"]["status"], "scheduled", "{known}");
    // Another user's presence is not this token's.
    let alex = env.user("alex");
    let other =
        env.http.get(format!("{}/v1/users/{alex}/presence", env.url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(other.status(), 403);

    // The window's start: out of office, until its end; then available again.
    advance(&env, 3600).await;
    let away = presence_becomes(&env, &megan, &token, "outOfOffice").await;
    let since: chrono::DateTime<chrono::Utc> = away["since"].as_str().unwrap().parse().unwrap();
    assert!((since - start).num_seconds().abs() <= 1, "{away}");
    assert!(away["until"].as_str().is_some(), "{away}");
    advance(&env, 7200).await;
    let back = presence_becomes(&env, &megan, &token, "available").await;
    let since: chrono::DateTime<chrono::Utc> = back["since"].as_str().unwrap().parse().unwrap();
    assert!((since - end).num_seconds().abs() <= 1, "{back}");

    // Turned on in Outlook (no notification exists for that): noticed by the next read.
    env.graph.set_automatic_replies(&megan, json!({"status": "alwaysEnabled"})).await.unwrap();
    presence_becomes(&env, &megan, &token, "outOfOffice").await;
    env.graph.set_automatic_replies(&megan, json!({"status": "disabled"})).await.unwrap();
    presence_becomes(&env, &megan, &token, "available").await;

    // The reply text is nowhere hcal wrote: not in the event log, not in the logs.
    let events = env.records("mailbox-events").await;
    assert!(events.iter().any(|e| e["value"]["type"] == "PresenceChanged"), "presence changes are events");
    assert!(events.iter().any(|e| e["value"]["type"] == "OOOChanged"));
    assert!(!serde_json::to_string(&events).unwrap().contains("SENTINEL-REPLY-TEXT"));
    assert!(!env.logs().contains("SENTINEL-REPLY-TEXT"));
}

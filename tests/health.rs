//! Subscriptions that stay healthy on their own (issue 6): renewal before they lapse over a
//! long simulated run, recreation after they vanish, and resync after missed notifications.

// Test helpers: a failed admin call must fail the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hcal_sim::graph::{FaultConfig, GraphSimConfig, LifecycleEvent};
use serde_json::{Value, json};
use support::{Env, blocks, eventually, invite};

const WAIT: Duration = Duration::from_secs(30);

async fn admin(env: &Env, path: &str, body: Value) -> Value {
    let resp =
        env.http.post(format!("{}{path}", env.url())).bearer_auth(&env.api_token).json(&body).send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

/// Moves the simulator's and hcal's clocks forward together.
async fn advance(env: &Env, by: Duration) {
    env.graph.advance_clock(by);
    admin(env, "/admin/v1/testing/clock", json!({"advanceSeconds": by.as_secs()})).await;
}

fn subscription_of(env: &Env, user: &str) -> Option<Value> {
    env.graph.subscriptions().into_iter().find(|s| s["userId"] == user)
}

async fn decorated(env: &Env, user: &str, id: &str) -> usize {
    blocks(env.graph_event(user, id).await["body"]["content"].as_str().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_subscriptions_are_renewed_before_they_lapse() {
    let env = Env::with_graph(GraphSimConfig { max_subscription_minutes: 180, ..Default::default() }).await;
    let _hcal = env.start_with("subscription_lifetime = \"180m\"", "controllable_clock = true").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let first = subscription_of(&env, &alex).expect("a subscription");
    // Two simulated days in half-hour steps: far beyond the three-hour lifetime.
    for _ in 0..96 {
        advance(&env, Duration::from_secs(1800)).await;
        admin(&env, "/admin/v1/testing/tick", json!({})).await;
        let now = env.graph.now();
        eventually("a live subscription well ahead of expiry", WAIT, || async {
            let sub = subscription_of(&env, &alex)?;
            let expires = chrono::DateTime::parse_from_rfc3339(sub["expirationDateTime"].as_str()?).ok()?;
            (expires > now + chrono::Duration::minutes(60)).then_some(())
        })
        .await;
    }
    assert_eq!(subscription_of(&env, &alex).unwrap()["id"], first["id"], "renewed, never recreated");
    assert_eq!(env.graph.stats().subscriptions_expired, 0);
    // And it still delivers.
    let created = env.graph.create_event(&alex, invite("After two days", "@webex", "<p>x</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    eventually("decoration", WAIT, || async { (decorated(&env, &alex, &id).await == 1).then_some(()) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_deleted_behind_hcals_back_is_recreated_by_the_daily_sweep() {
    let env = Env::new().await;
    let _hcal = env.start("controllable_clock = true").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    admin(&env, "/admin/v1/testing/tick", json!({})).await; // the first sweep
    let old = subscription_of(&env, &alex).unwrap()["id"].as_str().unwrap().to_owned();
    assert!(env.graph.remove_subscription(&old));
    // While it is gone, an invite is made: nobody is told.
    let created = env.graph.create_event(&alex, invite("While unsubscribed", "@webex", "<p>x</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    advance(&env, Duration::from_secs(25 * 3600)).await;
    admin(&env, "/admin/v1/testing/tick", json!({})).await;
    let new = eventually("a new subscription", WAIT, || async {
        subscription_of(&env, &alex).and_then(|s| s["id"].as_str().map(str::to_owned)).filter(|id| *id != old)
    })
    .await;
    assert_ne!(new, old);
    // The resync after recreation found the invite made meanwhile.
    eventually("the missed invite decorated", WAIT, || async {
        (decorated(&env, &alex, &id).await == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_notifications_are_recovered_by_a_resync_and_nothing_twice() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let before = env.graph.create_event(&alex, invite("Before the gap", "@webex", "<p>x</p>")).await.unwrap();
    let before_id = before["id"].as_str().unwrap().to_owned();
    eventually("first decoration", WAIT, || async { (decorated(&env, &alex, &before_id).await == 1).then_some(()) })
        .await;

    env.graph.set_faults(FaultConfig { drop_notifications: true, ..Default::default() });
    let mut gap = Vec::new();
    for n in 0..3 {
        let ev = env.graph.create_event(&alex, invite(&format!("In the gap {n}"), "@webex", "<p>x</p>")).await.unwrap();
        gap.push(ev["id"].as_str().unwrap().to_owned());
    }
    env.graph.delete_event(&alex, &gap[2]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(env.graph.stats().notifications_dropped >= 4);
    assert_eq!(decorated(&env, &alex, &gap[0]).await, 0);
    env.graph.set_faults(FaultConfig::default());

    let sub = subscription_of(&env, &alex).unwrap()["id"].as_str().unwrap().to_owned();
    env.graph.trigger_lifecycle(&sub, LifecycleEvent::Missed).unwrap();
    for id in &gap[..2] {
        eventually("a gap invite decorated", WAIT, || async { (decorated(&env, &alex, id).await == 1).then_some(()) })
            .await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for id in [&before_id, &gap[0], &gap[1]] {
        assert_eq!(decorated(&env, &alex, id).await, 1, "exactly one block");
    }
    let rows = env.meetings(&alex).await;
    assert_eq!(rows.iter().filter(|r| r["subject"].as_str().unwrap_or("").starts_with("In the gap")).count(), 2);
    let events = env.records("mailbox-events").await;
    assert!(events.iter().any(|r| r["value"]["type"] == "ResyncCompleted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_removed_is_recreated_and_reauthorization_renews() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let old = subscription_of(&env, &alex).unwrap()["id"].as_str().unwrap().to_owned();
    env.graph.trigger_lifecycle(&old, LifecycleEvent::ReauthorizationRequired).unwrap();
    eventually("a renewal", WAIT, || async {
        env.records("mailbox-events").await.iter().any(|r| r["value"]["type"] == "SubscriptionRenewed").then_some(())
    })
    .await;
    assert_eq!(subscription_of(&env, &alex).unwrap()["id"], old.as_str());

    env.graph.trigger_lifecycle(&old, LifecycleEvent::SubscriptionRemoved).unwrap();
    let new = eventually("a new subscription", WAIT, || async {
        subscription_of(&env, &alex).and_then(|s| s["id"].as_str().map(str::to_owned)).filter(|id| *id != old)
    })
    .await;
    let status = env.wait_active(&alex).await;
    assert_eq!(status["subscription"]["id"], new.as_str());
    let created = env.graph.create_event(&alex, invite("After recreation", "@webex", "<p>x</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    eventually("decoration", WAIT, || async { (decorated(&env, &alex, &id).await == 1).then_some(()) }).await;
}

async fn known_meetings(env: &Env, user: &str) -> Option<u64> {
    env.mailbox_status(user).await?["meetings"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_over_for_a_month_is_forgotten_by_its_mailbox_but_stays_listed_and_decorated_once() {
    let env = Env::new().await;
    let _hcal = env.start("controllable_clock = true").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let created = env.graph.create_event(&alex, invite("Soon over", "@webex", "<p>x</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    eventually("decoration", WAIT, || async { (decorated(&env, &alex, &id).await == 1).then_some(()) }).await;
    assert_eq!(known_meetings(&env, &alex).await, Some(1));

    // The invite is a week ahead; 39 simulated days later it ended more than 30 days ago.
    // Renewals come due on the way, and each forgets what has been over long enough.
    // Each step waits for the renewal it made due, so the next jump does not outrun it.
    for _ in 0..13 {
        advance(&env, Duration::from_secs(3 * 24 * 3600)).await;
        admin(&env, "/admin/v1/testing/tick", json!({})).await;
        let now = env.graph.now();
        eventually("a subscription that lives past the next step", WAIT, || async {
            let sub = subscription_of(&env, &alex)?;
            let expires = chrono::DateTime::parse_from_rfc3339(sub["expirationDateTime"].as_str()?).ok()?;
            (expires > now + chrono::Duration::days(3)).then_some(())
        })
        .await;
    }
    eventually("the meeting forgotten", WAIT, || async {
        (known_meetings(&env, &alex).await == Some(0)).then_some(())
    })
    .await;
    let forgotten: Vec<Value> =
        env.records("mailbox-events").await.into_iter().filter(|r| r["value"]["type"] == "MeetingForgotten").collect();
    assert_eq!(forgotten.len(), 1, "{forgotten:?}");
    assert_eq!(forgotten[0]["value"]["data"]["eventId"], id.as_str());
    assert!(env.meetings(&alex).await.iter().any(|m| m["eventId"] == id.as_str()), "still listed");

    // A late edit of the forgotten meeting makes it known again; the marker in the invite
    // keeps it from being decorated a second time.
    env.graph.update_event(&alex, &id, json!({"subject": "Soon over (notes added)"})).await.unwrap();
    eventually("the edit seen", WAIT, || async { (known_meetings(&env, &alex).await == Some(1)).then_some(()) }).await;
    assert_eq!(decorated(&env, &alex, &id).await, 1);
    let patches = env
        .records("mailbox-events")
        .await
        .into_iter()
        .filter(|r| r["value"]["type"] == "JoinInfoPatched" && r["value"]["data"]["eventId"] == id.as_str())
        .map(|r| r["value"]["data"]["recovered"].as_bool())
        .collect::<Vec<_>>();
    // Written once; after the edit only recorded from the marker.
    assert_eq!(patches, vec![Some(false), Some(true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_its_checks_and_liveness_is_separate() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let resp = env.http.get(format!("{}/readyz", env.url())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    let checks = body["checks"].as_object().unwrap();
    assert_eq!(checks["log"], "ok");
    assert_eq!(checks["store"], "ok");
    let token = format!("graphToken/{}", env.demo.tenant_id);
    assert_eq!(checks[&token], "ok", "{body}");

    // Graph's requests are counted by operation and by status.
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let metrics = env.metrics().await;
    for line in [
        "hcal_graph_requests_total{operation=\"create_subscription\"}",
        "hcal_graph_requests_total{operation=\"mailbox_settings\"}",
        "hcal_graph_responses_total{status=\"2xx\"}",
        "# TYPE hcal_graph_request_seconds histogram",
        "hcal_graph_request_seconds_bucket{le=\"+Inf\"}",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_span_of_each_mailbox_input() {
    let env = Env::new().await;
    env.set_var("HCAL_LOG_FORMAT", "json");
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let logs = env.logs();
    let lines: Vec<Value> = logs.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "no JSON log lines: {logs}");
    let in_input = lines.iter().find(|l| l["span"]["name"] == "mailbox_input");
    let line = in_input.unwrap_or_else(|| panic!("no line inside a mailbox input: {logs}"));
    assert!(line["span"]["mailbox"].as_str().is_some_and(|m| m.ends_with(&alex)), "{line}");
    assert!(line["span"]["record"].is_string(), "{line}");
}

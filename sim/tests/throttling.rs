//! Outlook throttling (concurrency and request budget per mailbox), injected faults, access
//! policy and licences, and `$batch`.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use futures::future::join_all;
use hcal_sim::graph::{FaultConfig, GraphSimConfig, ThrottleConfig, encode};
use serde_json::{Value, json};
use support::{Fixture, assert_graph_error, event};

const CONCURRENCY_MESSAGE: &str = "Application is over its MailboxConcurrency limit.";
const RAOP_MESSAGE: &str =
    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.";

fn events(user: &str) -> String {
    format!("/users/{user}/events")
}

fn retry_after(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned())
}

/// Sends GETs of `paths` at once; returns (status, Retry-After, body) in order.
async fn concurrently(f: &Fixture, paths: &[String]) -> Vec<(u16, Option<String>, Value)> {
    let requests = paths.iter().map(|p| async move {
        let resp = f.get(p).send().await.unwrap();
        let status = resp.status().as_u16();
        let after = retry_after(&resp);
        (status, after, resp.json::<Value>().await.unwrap())
    });
    join_all(requests).await
}

fn with_throttle(throttle: ThrottleConfig) -> GraphSimConfig {
    GraphSimConfig { throttle, token_lifetime_secs: 86_400, ..GraphSimConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_four_concurrent_requests_to_a_mailbox_are_throttled() {
    let f = Fixture::new().await;
    f.sim.set_faults(FaultConfig { latency: Duration::from_millis(300), ..FaultConfig::default() });

    // Five at once to Alice, and one to Bob meanwhile.
    let mut paths = vec![events(&f.alice); 5];
    paths.push(events(&f.bob));
    let results = concurrently(&f, &paths).await;
    let (alice, bob) = results.split_at(5);
    assert_eq!(bob[0].0, 200, "another mailbox is not affected: {:?}", bob[0]);
    let throttled: Vec<_> = alice.iter().filter(|r| r.0 == 429).collect();
    assert!(!throttled.is_empty(), "{alice:?}");
    assert!(alice.iter().all(|r| r.0 == 200 || r.0 == 429), "{alice:?}");
    for (_, after, body) in throttled {
        assert_eq!(after.as_deref(), Some("2"), "Retry-After in whole seconds, as Graph sends it");
        assert_eq!(body["error"]["code"], "ApplicationThrottled");
        assert_eq!(body["error"]["message"], CONCURRENCY_MESSAGE);
    }
    let stats = f.sim.stats();
    assert_eq!(stats.max_concurrency.get(&f.alice), Some(&5), "{stats:?}");
    assert_eq!(stats.max_concurrency.get(&f.bob), Some(&1), "{stats:?}");
    assert!(stats.throttled >= 1);

    // Four at once are within the limit.
    let results = concurrently(&f, &vec![events(&f.alice); 4]).await;
    assert!(results.iter().all(|r| r.0 == 200), "{results:?}");
    assert_eq!(f.sim.stats().max_concurrency.get(&f.alice), Some(&5));

    // A throttled response carries the full error envelope.
    let results = join_all((0..5).map(|_| f.get(&events(&f.alice)).send())).await;
    let mut saw_429 = false;
    for resp in results {
        let resp = resp.unwrap();
        if resp.status() == 429 {
            saw_429 = true;
            assert_graph_error(resp, 429, "ApplicationThrottled").await;
        }
    }
    assert!(saw_429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_budget_resets_with_its_window() {
    let throttle = ThrottleConfig { budget: 3, window_secs: 600, ..ThrottleConfig::default() };
    let f = Fixture::with(with_throttle(throttle)).await;
    for _ in 0..3 {
        assert_eq!(f.get(&events(&f.alice)).send().await.unwrap().status(), 200);
    }
    let resp = f.get(&events(&f.alice)).send().await.unwrap();
    let after: u64 = retry_after(&resp).expect("Retry-After").parse().expect("whole seconds by default");
    assert!(after > 0 && after <= 600, "Retry-After {after}");
    assert_graph_error(resp, 429, "ApplicationThrottled").await;
    // The budget is per mailbox.
    assert_eq!(f.get(&events(&f.bob)).send().await.unwrap().status(), 200);
    // Still throttled until the window has passed.
    f.sim.advance_clock(Duration::from_secs(300));
    assert_eq!(f.get(&events(&f.alice)).send().await.unwrap().status(), 429);
    f.sim.advance_clock(Duration::from_secs(301));
    for _ in 0..3 {
        assert_eq!(f.get(&events(&f.alice)).send().await.unwrap().status(), 200);
    }
    assert_eq!(f.get(&events(&f.alice)).send().await.unwrap().status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_can_spend_one_mailboxs_budget_as_another_client_would() {
    let f = Fixture::new().await;
    f.sim.exhaust_budget(&f.client_id, &f.alice);
    let resp = f.get(&events(&f.alice)).send().await.unwrap();
    let header = retry_after(&resp).expect("Retry-After");
    let after: u64 = header.parse().expect("whole seconds by default");
    assert!(after > 590 && after <= 600, "the rest of the 600 s window: {after}");
    let body = assert_graph_error(resp, 429, "ApplicationThrottled").await;
    assert_eq!(body["error"]["message"], "Application is over its MailboxRequestLimit limit.");
    assert_eq!(f.get(&events(&f.bob)).send().await.unwrap().status(), 200, "other mailboxes keep their budget");
    f.sim.restore_budget(&f.client_id, &f.alice);
    assert_eq!(f.get(&events(&f.alice)).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_fractional_only_when_configured() {
    let throttle = ThrottleConfig { retry_after_secs: 0.5, max_concurrent: 1, ..ThrottleConfig::default() };
    let f = Fixture::with(with_throttle(throttle)).await;
    f.sim.set_faults(FaultConfig { rate_429: 1.0, ..FaultConfig::default() });
    let resp = f.get(&events(&f.alice)).send().await.unwrap();
    assert_eq!(retry_after(&resp).as_deref(), Some("0.5"));
    assert_graph_error(resp, 429, "TooManyRequests").await;

    f.sim.set_faults(FaultConfig { latency: Duration::from_millis(200), ..FaultConfig::default() });
    let results = concurrently(&f, &vec![events(&f.alice); 2]).await;
    let throttled: Vec<_> = results.iter().filter(|r| r.0 == 429).collect();
    assert_eq!(throttled.len(), 1, "{results:?}");
    assert_eq!(throttled[0].1.as_deref(), Some("0.5"));

    // With a fractional value configured, the rest of a spent window keeps its fraction too.
    f.sim.set_faults(FaultConfig::default());
    f.sim.exhaust_budget(&f.client_id, &f.alice);
    f.sim.advance_clock(Duration::from_millis(250));
    let resp = f.get(&events(&f.alice)).send().await.unwrap();
    // The simulated clock also runs with real time, so only bounds are certain.
    let after: f64 = retry_after(&resp).expect("Retry-After").parse().unwrap();
    assert!(after.fract() != 0.0 && after > 598.0 && after <= 599.75, "Retry-After {after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_defaults_to_whole_seconds_everywhere() {
    let f = Fixture::new().await;
    assert_eq!(ThrottleConfig::default().retry_after_secs, 2.0);
    // The rest of a spent window is rounded up to whole seconds.
    f.sim.exhaust_budget(&f.client_id, &f.alice);
    f.sim.advance_clock(Duration::from_millis(250));
    let resp = f.get(&events(&f.alice)).send().await.unwrap();
    assert_eq!(retry_after(&resp).as_deref(), Some("600"));
    // Inner 429s of a batch carry the same header.
    let out = batch_ok(&f, json!([{"id": "1", "method": "GET", "url": events(&f.alice)}])).await;
    assert_eq!(out["1"]["status"], 429);
    assert_eq!(out["1"]["headers"]["Retry-After"], "600");
    f.sim.restore_budget(&f.client_id, &f.alice);
    f.sim.set_faults(FaultConfig { rate_503: 1.0, ..FaultConfig::default() });
    let out = batch_ok(&f, json!([{"id": "1", "method": "GET", "url": events(&f.alice)}])).await;
    assert_eq!(out["1"]["status"], 503);
    assert_eq!(out["1"]["headers"]["Retry-After"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults() {
    let f = Fixture::new().await;
    let ev = f.create(&f.alice, event("Faulty", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await;
    let path = format!("{}/{}", events(&f.alice), encode(ev["id"].as_str().unwrap()));

    f.sim.set_faults(FaultConfig { rate_429: 1.0, ..FaultConfig::default() });
    let resp = f.get(&path).send().await.unwrap();
    assert_eq!(retry_after(&resp).as_deref(), Some("2"));
    assert_graph_error(resp, 429, "TooManyRequests").await;

    f.sim.set_faults(FaultConfig { rate_503: 1.0, ..FaultConfig::default() });
    let resp = f.get(&path).send().await.unwrap();
    assert_eq!(retry_after(&resp).as_deref(), Some("2"), "Retry-After on 503");
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");

    f.sim.set_faults(FaultConfig { rate_timeout: 1.0, hang: Duration::from_millis(200), ..FaultConfig::default() });
    let started = Instant::now();
    let resp = f.get(&path).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200), "hangs first: {:?}", started.elapsed());
    assert_eq!(resp.status(), 504);
    assert!(resp.headers().contains_key("request-id"));
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    assert!(f.sim.stats().faults_injected >= 3);

    // Another writer touches the event just before the next read, and only that one.
    f.sim.set_faults(FaultConfig::default());
    let before: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(before["changeKey"], ev["changeKey"], "no fault, no change");
    f.sim.set_faults(FaultConfig { change_key_bumps_on_read: 1, ..FaultConfig::default() });
    let bumped: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_ne!(bumped["changeKey"], before["changeKey"]);
    assert_ne!(bumped["@odata.etag"], before["@odata.etag"]);
    assert_eq!(bumped["@odata.etag"], format!("W/\"{}\"", bumped["changeKey"].as_str().unwrap()));
    let stable: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(stable["changeKey"], bumped["changeKey"]);
    assert_eq!(stable["@odata.etag"], bumped["@odata.etag"]);
    assert_eq!(f.sim.faults().change_key_bumps_on_read, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_policy_and_licences() {
    let f = Fixture::new().await;
    f.sim.set_in_policy(&f.alice, false);
    let body = assert_graph_error(f.get(&events(&f.alice)).send().await.unwrap(), 403, "ErrorAccessDenied").await;
    assert_eq!(body["error"]["message"], RAOP_MESSAGE);
    assert_eq!(f.get(&events(&f.bob)).send().await.unwrap().status(), 200, "other mailboxes stay reachable");
    f.sim.set_in_policy(&f.alice, true);
    assert_eq!(f.get(&events(&f.alice)).send().await.unwrap().status(), 200);

    f.sim.set_licensed(&f.bob, false);
    let calendar_view =
        format!("/users/{}/calendarView?startDateTime=2026-01-01T00:00:00Z&endDateTime=2026-02-01T00:00:00Z", f.bob);
    for path in [events(&f.bob), calendar_view] {
        assert_graph_error(f.get(&path).send().await.unwrap(), 404, "MailboxNotEnabledForRESTAPI").await;
    }
}

async fn batch(f: &Fixture, requests: Value) -> reqwest::Response {
    f.post("/$batch", &json!({"requests": requests})).send().await.unwrap()
}

/// Inner responses by id.
async fn batch_ok(f: &Fixture, requests: Value) -> std::collections::BTreeMap<String, Value> {
    let resp = batch(f, requests).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["responses"].as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap().to_owned(), r.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_runs_dependencies_and_reports_each_status() {
    let f = Fixture::new().await;
    let ev = f.create(&f.alice, event("Batched", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await;
    let url = format!("{}/{}", events(&f.alice), encode(ev["id"].as_str().unwrap()));
    let missing = format!("{}/{}", events(&f.alice), encode("AAMkAdoesnotexist="));
    let out = batch_ok(
        &f,
        json!([
            {"id": "1", "method": "GET", "url": url},
            {"id": "2", "method": "PATCH", "url": url, "dependsOn": ["1"],
             "headers": {"Content-Type": "application/json"}, "body": {"subject": "Batched, renamed"}},
            {"id": "3", "method": "GET", "url": missing},
            {"id": "4", "method": "GET", "url": url, "dependsOn": ["3"]},
            {"id": "5", "method": "PATCH", "url": url, "body": {"subject": "no content type"}},
        ]),
    )
    .await;
    let statuses: Vec<(&str, u64)> = out.iter().map(|(id, r)| (id.as_str(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(statuses, [("1", 200), ("2", 200), ("3", 404), ("4", 424), ("5", 400)]);
    assert_eq!(out["1"]["body"]["subject"], "Batched");
    assert_eq!(out["2"]["body"]["subject"], "Batched, renamed");
    assert_eq!(out["3"]["body"]["error"]["code"], "ErrorItemNotFound");
    assert!(out["4"]["body"]["error"]["code"].is_string());
    assert!(out["5"]["body"]["error"]["code"].is_string());
    // The item without Content-Type was not applied.
    let now: Value = f.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["subject"], "Batched, renamed");

    // Every answer with a body says what it is, as Graph's do.
    let odata_json =
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
    assert_eq!(out["1"]["headers"]["Content-Type"], odata_json);
    assert_eq!(out["2"]["headers"]["Content-Type"], odata_json);
    for id in ["3", "4", "5"] {
        assert_eq!(out[id]["headers"]["Content-Type"], "application/json", "{}", out[id]);
    }

    // At most 20 requests.
    let too_many: Vec<Value> = (0..21).map(|i| json!({"id": i.to_string(), "method": "GET", "url": url})).collect();
    assert_graph_error(batch(&f, json!(too_many)).await, 400, "BadRequest").await;
    let twenty: Vec<Value> = (0..20).map(|i| json!({"id": i.to_string(), "method": "GET", "url": url})).collect();
    let out = batch_ok(&f, json!(twenty)).await;
    assert_eq!(out.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_ids_are_not_case_sensitive() {
    let f = Fixture::new().await;
    let ev = f.create(&f.alice, event("Cased", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await;
    let url = format!("{}/{}", events(&f.alice), encode(ev["id"].as_str().unwrap()));
    let missing = format!("{}/{}", events(&f.alice), encode("AAMkAdoesnotexist="));
    // dependsOn finds its request whatever the case; answers echo ids as the client wrote them.
    let out = batch_ok(
        &f,
        json!([
            {"id": "Read", "method": "GET", "url": url},
            {"id": "rename", "method": "PATCH", "url": url, "dependsOn": ["READ"],
             "headers": {"Content-Type": "application/json"}, "body": {"subject": "Renamed"}},
            {"id": "Gone", "method": "GET", "url": missing, "dependsOn": ["RENAME"]},
            {"id": "after", "method": "GET", "url": url, "dependsOn": ["gone"]},
        ]),
    )
    .await;
    let statuses: Vec<(&str, u64)> = out.iter().map(|(id, r)| (id.as_str(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(statuses, [("Gone", 404), ("Read", 200), ("after", 424), ("rename", 200)]);
    // Ids that differ only in case are the same id: the batch is refused.
    let dup = batch(
        &f,
        json!([
            {"id": "a", "method": "GET", "url": url},
            {"id": "A", "method": "GET", "url": url},
        ]),
    )
    .await;
    assert_graph_error(dup, 400, "BadRequest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_items_are_throttled_per_mailbox() {
    let throttle = ThrottleConfig { budget: 2, ..ThrottleConfig::default() };
    let f = Fixture::with(with_throttle(throttle)).await;
    let out = batch_ok(
        &f,
        json!([
            {"id": "a1", "method": "GET", "url": events(&f.alice)},
            {"id": "a2", "method": "GET", "url": events(&f.alice), "dependsOn": ["a1"]},
            {"id": "a3", "method": "GET", "url": events(&f.alice), "dependsOn": ["a2"]},
            {"id": "b1", "method": "GET", "url": events(&f.bob)},
        ]),
    )
    .await;
    let statuses: Vec<(&str, u64)> = out.iter().map(|(id, r)| (id.as_str(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(statuses, [("a1", 200), ("a2", 200), ("a3", 429), ("b1", 200)]);
    assert_eq!(out["a3"]["body"]["error"]["code"], "ApplicationThrottled");
    assert!(out["a3"]["headers"]["Retry-After"].is_string(), "{}", out["a3"]);
    // Direct requests share the budget with batched ones.
    assert_eq!(f.get(&events(&f.alice)).send().await.unwrap().status(), 429);
}

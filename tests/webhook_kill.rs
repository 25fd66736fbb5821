//! Group commit under a kill: many notification batches posted at once (as Graph does for a busy
//! tenant) wait on shared commits of the embedded log, and hcal is SIGKILLed while they are in
//! flight. Every batch answered 202 must be in the notifications log after the restart; every
//! batch that got anything else (no answer, a reset connection, a 5xx) is posted again, as Graph
//! retries, and then is there too. Processing is held, so the log is exactly what was accepted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::Env;

/// Batches posted at once, and notifications in each.
const BATCHES: usize = 400;
const PER_BATCH: usize = 4;

fn batch(subscription: &Value, client_state: &str, tenant: &str, n: usize) -> Value {
    let user = subscription["userId"].as_str().unwrap();
    let value: Vec<Value> = (0..PER_BATCH)
        .map(|i| {
            let id = format!("kill-{n}-{i}");
            let resource = format!("Users/{user}/Events/{id}");
            json!({
                "subscriptionId": subscription["id"],
                "subscriptionExpirationDateTime": "2099-01-01T00:00:00+00:00",
                "changeType": "updated",
                "resource": resource,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource, "id": id},
                "clientState": client_state,
                "tenantId": tenant,
            })
        })
        .collect();
    json!({ "value": value })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_answered_202_survives_a_kill_and_the_others_come_again() {
    let env = Env::new().await;
    let hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let subscription = env.graph.subscriptions().into_iter().find(|s| s["userId"] == alex.as_str()).unwrap();
    let client_state = env.graph.subscription_client_states().pop().unwrap();
    let tenant = env.demo.tenant_id.clone();
    hcal.kill();
    let hcal = env.start("hold_processing = true").await;

    let url = format!("{}/webhook/graph", env.url());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let first_202 = Arc::new(tokio::sync::Notify::new());
    let posts = (0..BATCHES).map(|n| {
        let (http, url, first) = (http.clone(), url.clone(), first_202.clone());
        let body = batch(&subscription, &client_state, &tenant, n);
        tokio::spawn(async move {
            let status = http.post(&url).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            if status == 202 {
                first.notify_one();
            }
            (n, status)
        })
    });
    let posts: Vec<_> = posts.collect();
    // Kill once answers have begun: later batches are still reading, appending or waiting on
    // a commit.
    first_202.notified().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    hcal.kill();
    let mut acked = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for post in posts {
        let (n, status) = post.await.unwrap();
        if status == 202 {
            acked.insert(n)
        } else {
            refused.insert(n)
        };
    }
    println!("{} batches answered 202 before the kill, {} not", acked.len(), refused.len());
    assert!(!acked.is_empty());

    let _hcal = env.start("hold_processing = true").await;
    // Graph retries what was not answered 202.
    for &n in &refused {
        let body = batch(&subscription, &client_state, &tenant, n);
        let status = http.post(&url).json(&body).send().await.unwrap().status();
        assert_eq!(status, 202, "batch {n} again");
    }
    let logged: BTreeSet<String> = env
        .records("notifications")
        .await
        .iter()
        .filter_map(|r| r["value"]["eventId"].as_str().filter(|id| id.starts_with("kill-")).map(str::to_owned))
        .collect();
    for n in 0..BATCHES {
        for i in 0..PER_BATCH {
            let id = format!("kill-{n}-{i}");
            let why = if acked.contains(&n) { "answered 202 before the kill" } else { "posted again" };
            assert!(logged.contains(&id), "{id} ({why}) is not in the notifications log");
        }
    }
}

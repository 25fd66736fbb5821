//! Orphaned subscriptions: hcal killed between Graph creating a mailbox's subscription and
//! recording it leaves a subscription that delivers to the webhook for days; the sweep at start
//! deletes it once its grace period has passed, and leaves the mailbox's real subscription and
//! another installation's alone.

// Test helpers: a failed set-up call must fail the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Balancer, Env, eventually};

const WAIT: Duration = Duration::from_secs(30);

/// Subscribes to `user`'s events as hcal's application would, delivering to `url`.
async fn subscribe_as_the_app(env: &Env, user: &str, url: &str, client_state: &str) -> String {
    let token: Value = env
        .http
        .post(format!("{}/{}/oauth2/v2.0/token", env.graph.url(), env.demo.tenant_id))
        .form(&[
            ("client_id", env.demo.client_id.as_str()),
            ("client_secret", env.demo.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({
        "changeType": "created,updated,deleted",
        "notificationUrl": url,
        "resource": format!("/users/{user}/events"),
        "expirationDateTime": (env.graph.now() + chrono::Duration::days(3)).to_rfc3339(),
        "clientState": client_state,
    });
    let resp = env
        .http
        .post(format!("{}/subscriptions", env.graph.graph_url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "subscription to {url}");
    resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

fn live_ids(env: &Env) -> Vec<String> {
    let mut ids: Vec<String> = env.graph.subscriptions().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

/// The value of an unlabelled series in `/metrics`.
async fn metric(env: &Env, name: &str) -> Option<u64> {
    let text = env.metrics().await;
    text.lines().find_map(|line| line.strip_prefix(&format!("{name} ")).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orphan_of_a_kill_after_graph_created_the_subscription_is_deleted_and_nothing_else() {
    let env = Env::new().await;
    let alex = env.user("alex");
    let hook = format!("{}/webhook/graph", env.url());
    // A process that aborts once Graph has created the mailbox's subscription, before it is
    // recorded. While it runs, two more subscriptions of the same application exist: another
    // installation's (its own URL; the balancer stands in for its webhook) and one for this
    // webhook with a client state hcal never made.
    let mut armed = env.start(r#"crash_at = "after_subscription_create""#).await;
    let balancer = Balancer::start(vec![env.url()]).await;
    let elsewhere = subscribe_as_the_app(&env, &alex, &format!("{}/webhook/graph", balancer.url), "theirs").await;
    let stray = subscribe_as_the_app(&env, &alex, &hook, "never-hcals").await;
    env.enable(&alex).await;
    assert!(armed.wait_exit(WAIT), "hcal should abort after creating the subscription: {}", env.logs());
    drop(armed);
    let orphan = live_ids(&env).into_iter().find(|id| *id != elsewhere && *id != stray).unwrap();

    // Restarted with the default grace period: the start sweep sees the unknown subscriptions
    // but deletes none of them yet (one of them could be a moment old).
    let hcal = env.start("").await;
    let status = env.wait_active(&alex).await;
    let current = status["subscription"]["id"].as_str().unwrap().to_owned();
    assert_ne!(current, orphan, "the restart finished the set-up with a subscription of its own");
    eventually("the start sweep to suspect the unknown ones", WAIT, || async {
        (metric(&env, "hcal_orphan_subscriptions_suspected").await? >= 2).then_some(())
    })
    .await;
    let live = live_ids(&env);
    for id in [&orphan, &stray, &elsewhere, &current] {
        assert!(live.contains(id), "{id} is still at Graph within the grace period");
    }
    hcal.kill();

    // Restarted with a grace period of a second: the orphan and the stray go, the mailbox's
    // subscription and the other installation's stay.
    let hcal = env.start_with("orphan_grace = \"1s\"", "").await;
    let mut expected = vec![current.clone(), elsewhere.clone()];
    expected.sort();
    eventually("the orphans deleted", WAIT, || async { (live_ids(&env) == expected).then_some(()) }).await;
    assert_eq!(metric(&env, "hcal_orphan_subscriptions_deleted_total").await, Some(2));
    // A while later nothing more went, and the mailbox still works through its subscription.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(live_ids(&env), expected);
    let status = env.wait_active(&alex).await;
    assert_eq!(status["subscription"]["id"], current.as_str());
    let logs = env.logs();
    assert!(logs.contains(&orphan) && logs.contains("deleted an orphaned subscription"), "{logs}");
    assert!(!logs.contains("never-hcals"), "client states are never logged");
    hcal.kill();
}

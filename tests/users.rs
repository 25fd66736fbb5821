//! Users: statuses pending → active or error with a reason; "not in scope" is a state, not a
//! retry loop; passing failures retried on the 60-minute / daily schedule; disable; bulk
//! enable from a CSV with the CLI.

// Test helpers: a failed set-up call must fail the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use hcal_sim::graph::{FaultConfig, GraphSimConfig, ThrottleConfig};
use serde_json::{Value, json};
use support::{Env, eventually};

const WAIT: Duration = Duration::from_secs(30);

async fn status(env: &Env, user: &str) -> Value {
    env.mailbox_status(user).await.unwrap()
}

async fn wait_status(env: &Env, user: &str, wanted: &str) -> Value {
    eventually(&format!("status {wanted}"), WAIT, || async {
        let s = status(env, user).await;
        (s["status"] == wanted).then_some(s)
    })
    .await
}

async fn post(env: &Env, path: &str, body: Value) {
    let resp =
        env.http.post(format!("{}{path}", env.url())).bearer_auth(&env.api_token).json(&body).send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

async fn count(env: &Env, user: &str, kind: &str) -> usize {
    env.records("mailbox-events")
        .await
        .iter()
        .filter(|r| r["value"]["userId"] == user && r["value"]["type"] == kind)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_policy_is_a_state_until_the_policy_is_fixed() {
    let env = Env::new().await;
    let _hcal = env.start("controllable_clock = true").await;
    let bob = env.user("megan");
    env.graph.set_in_policy(&bob, false);
    env.enable(&bob).await;
    let s = wait_status(&env, &bob, "error").await;
    assert_eq!(s["reason"], "not_in_scope");
    assert_eq!(s["retryAt"], Value::Null);
    // Days pass; the scheduler does not retry a state an admin must fix.
    for _ in 0..3 {
        env.graph.advance_clock(Duration::from_secs(25 * 3600));
        post(&env, "/admin/v1/testing/clock", json!({"advanceSeconds": 25 * 3600})).await;
        post(&env, "/admin/v1/testing/tick", json!({})).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&env, &bob, "MailboxSetupFailed").await, 1, "no retry loop");
    assert_eq!(status(&env, &bob).await["status"], "error");
    // The admin fixes the access policy and enables again.
    env.graph.set_in_policy(&bob, true);
    env.enable(&bob).await;
    wait_status(&env, &bob, "active").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlicensed_mailboxes_report_mailbox_not_enabled() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let megan = env.user("megan");
    env.graph.set_licensed(&megan, false);
    env.enable(&megan).await;
    let s = wait_status(&env, &megan, "error").await;
    assert_eq!(s["reason"], "mailbox_not_enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_set_up_is_retried_after_an_hour() {
    let config = GraphSimConfig {
        throttle: ThrottleConfig { retry_after_secs: 0.01, ..Default::default() },
        ..Default::default()
    };
    let env = Env::with_graph(config).await;
    let _hcal = env.start("controllable_clock = true").await;
    let alex = env.user("alex");
    env.graph.set_faults(FaultConfig { rate_429: 1.0, ..Default::default() });
    env.enable(&alex).await;
    let s = wait_status(&env, &alex, "error").await;
    assert_eq!(s["reason"], "throttled");
    assert!(s["retryAt"].is_string());
    env.graph.set_faults(FaultConfig::default());
    // Not before the retry time…
    post(&env, "/admin/v1/testing/tick", json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&env, &alex).await["status"], "error");
    // …but after it.
    env.graph.advance_clock(Duration::from_secs(61 * 60));
    post(&env, "/admin/v1/testing/clock", json!({"advanceSeconds": 61 * 60})).await;
    post(&env, "/admin/v1/testing/tick", json!({})).await;
    wait_status(&env, &alex, "active").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_deletes_the_subscription() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    assert!(env.graph.subscriptions().iter().any(|s| s["userId"] == alex.as_str()));
    let resp = env
        .http
        .delete(format!("{}/admin/v1/mailboxes/{alex}", env.url()))
        .bearer_auth(&env.api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    wait_status(&env, &alex, "disabled").await;
    assert!(!env.graph.subscriptions().iter().any(|s| s["userId"] == alex.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_enable_from_csv_and_status_with_the_cli() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let users: Vec<String> = ["alex", "deniz", "megan"].iter().map(|u| env.user(u)).collect();
    let csv = env.dir.path().join("users.csv");
    let rows: Vec<String> =
        users.iter().zip(["alex", "deniz", "megan"]).map(|(id, n)| format!("{n}@contoso.example,{id}")).collect();
    std::fs::write(&csv, format!("mail,userId\n{}\n", rows.join("\n"))).unwrap();
    let hcal = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(args)
            .args(["--url", &env.url()])
            .env("HCAL_API_TOKEN", &env.api_token)
            .output()
            .unwrap()
    };
    let out = hcal(&["users", "enable", "--csv", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 of 3"));
    for user in &users {
        wait_status(&env, user, "active").await;
    }
    // The list comes from the subscription index, which follows the mailbox events a little
    // behind the per-mailbox status waited for above.
    let listed = |table: &str| {
        users.iter().all(|user| table.lines().any(|l| l.starts_with(user.as_str()) && l.contains("active")))
    };
    eventually("every user listed as active", WAIT, || async {
        let out = hcal(&["users", "status"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        listed(&String::from_utf8_lossy(&out.stdout)).then_some(())
    })
    .await;
    // A refused request says what the service said, not only its status.
    let out = hcal(&["users", "enable", "not-a-user-id"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed: not-a-user-id: 400 Bad Request: "), "{stderr}");
}

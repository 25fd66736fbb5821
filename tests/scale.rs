//! A thousand mailboxes under Outlook throttling and a 20 % fault rate: every mailbox becomes
//! active, every change is processed exactly once, and no mailbox ever sees more than four
//! concurrent Graph requests. `HCAL_SCALE_MAILBOXES` changes the count (default 1,000);
//! `HCAL_SCALE_BACKEND=kafka_mock` (or `kafka_broker`) runs it in kafka mode. It prints how long
//! each phase took, for BENCHMARKS.md; nothing about time is asserted.

// Test helpers: a failed set-up call must fail the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hcal_sim::graph::{FaultConfig, GraphSimConfig, ThrottleConfig, UserSpec};
use serde_json::Value;
use support::{Backend, Env, blocks, eventually, invite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_mailboxes_with_throttling_and_faults() {
    let n: usize = std::env::var("HCAL_SCALE_MAILBOXES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let config = GraphSimConfig {
        throttle: ThrottleConfig { retry_after_secs: 0.05, ..Default::default() },
        workers: 2,
        ..Default::default()
    };
    let backend = match std::env::var("HCAL_SCALE_BACKEND").as_deref() {
        Ok("kafka_mock") => Backend::KafkaMock,
        Ok("kafka_broker") => Backend::KafkaBroker,
        _ => Backend::Embedded,
    };
    let Some(env) = Env::on_with_graph(backend, config).await else { return };
    let users: Vec<String> = (0..n)
        .map(|i| {
            let mail = format!("user{i:04}@contoso.example");
            env.webex.add_person(&mail, &format!("User {i}"));
            env.graph.add_user(&UserSpec::new(&env.demo.tenant_id, &format!("User {i}"), &mail)).unwrap()
        })
        .collect();
    // Retries are what carries hcal through a 20 % fault rate; give it room.
    // Checkpoints as often as a busy installation would take them (every 100 records of a
    // partition), not every few records as the other tests do.
    let _hcal =
        env.start_full("snapshot_every = 100", "max_retries = 12\nretry_base = \"50ms\"\nretry_cap = \"2s\"", "").await;
    env.graph.set_faults(FaultConfig { rate_429: 0.1, rate_503: 0.1, ..Default::default() });

    let started = std::time::Instant::now();
    for chunk in users.chunks(50) {
        let requests = chunk.iter().map(|u| env.enable(u));
        futures::future::join_all(requests).await;
    }
    let long = Duration::from_secs(600);
    eventually("every mailbox active", long, || async {
        let list: Value = env
            .http
            .get(format!("{}/admin/v1/mailboxes", env.url()))
            .bearer_auth(&env.api_token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let active = list["value"].as_array()?.iter().filter(|m| m["status"] == "active").count();
        (active == n).then_some(())
    })
    .await;

    let enabled_in = started.elapsed();
    let started = std::time::Instant::now();
    let mut ids = Vec::with_capacity(n);
    for (i, user) in users.iter().enumerate() {
        let created = loop {
            // The script is the user in Outlook: not throttled, but the simulator still injects
            // nothing into it, so this succeeds.
            if let Ok(ev) = env.graph.create_event(user, invite(&format!("Meeting {i}"), "@webex", "<p>x</p>")).await {
                break ev;
            }
        };
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    for (user, id) in users.iter().zip(&ids) {
        eventually("decoration", long, || async {
            let ev = env.graph_event(user, id).await;
            (blocks(ev["body"]["content"].as_str().unwrap_or("")) > 0).then_some(())
        })
        .await;
    }
    let decorated_in = started.elapsed();
    println!(
        "{backend:?}: {n} mailboxes enabled and active in {:.1} s; {n} invites created and decorated in {:.1} s",
        enabled_in.as_secs_f64(),
        decorated_in.as_secs_f64()
    );
    env.graph.set_faults(FaultConfig::default());
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (user, id) in users.iter().zip(&ids) {
        assert_eq!(blocks(env.graph_event(user, id).await["body"]["content"].as_str().unwrap()), 1, "exactly once");
    }
    let stats = env.graph.stats();
    let worst = stats.max_concurrency.values().copied().max().unwrap_or(0);
    assert!(worst <= 4, "a mailbox saw {worst} concurrent requests");
    assert!(stats.faults_injected > 0, "faults were injected");
}

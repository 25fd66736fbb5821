//! Kafka mode with more than one process and against a real broker process:
//! - two hcal processes of one installation share the mailboxes through the consumer group;
//!   one is killed, and the other takes over its mailboxes and finishes its work (librdkafka's
//!   mock cluster, which expires dead group members);
//! - a second process joining while the first is in the middle of a record takes its share,
//!   and nothing is written twice (the first stops recording as soon as the rebalance starts);
//! - a broker restart in the middle of a run (tansu, installed by `.ci/run`) loses nothing and
//!   decorates nothing twice.

// Test helpers: a failed set-up call must fail the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hcal_sim::graph::{FaultConfig, UserSpec};
use support::{Backend, Balancer, Env, blocks, eventually, invite};

const WAIT: Duration = Duration::from_secs(60);

async fn decorated(env: &Env, user: &str, id: &str) -> usize {
    blocks(env.graph_event(user, id).await["body"]["content"].as_str().unwrap_or(""))
}

/// `n` more mailboxes with Webex accounts, `{prefix}NN@contoso.example`.
fn mailboxes(env: &Env, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (mail, name) = (format!("{prefix}{i:02}@contoso.example"), format!("{prefix} {i}"));
            env.webex.add_person(&mail, &name);
            env.graph.add_user(&UserSpec::new(&env.demo.tenant_id, &name, &mail)).unwrap()
        })
        .collect()
}

/// Creates one `@webex` invite per user; returns `(user, event id)` pairs.
async fn invites(env: &Env, users: &[String], round: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, user) in users.iter().enumerate() {
        let ev = env.graph.create_event(user, invite(&format!("{round} {n}"), "@webex", "<p>x</p>")).await.unwrap();
        out.push((user.clone(), ev["id"].as_str().unwrap().to_owned()));
    }
    out
}

/// How many notification records a member processed, from its `/metrics`.
async fn processed(env: &Env, url: &str) -> u64 {
    let text = env.http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("hcal_notifications_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A metric without labels of a member (a gauge or a plain counter).
async fn plain_metric(env: &Env, url: &str, name: &str) -> Option<i64> {
    let text = env.http.get(format!("{url}/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survivor_of_two_processes_takes_over_the_dead_ones_mailboxes() {
    let Some(mut env) = Env::on(Backend::KafkaMock).await else { return };
    // Enough mailboxes that both members own some of them (8 partitions, range assignment).
    let users = mailboxes(&env, "member", 12);
    let (port_a, port_b) = (env.port, support::port());
    let (url_a, url_b) = (format!("http://127.0.0.1:{port_a}"), format!("http://127.0.0.1:{port_b}"));
    // Graph reaches the installation through a balancer that forwards to the first live member.
    let balancer = Balancer::start(vec![url_a.clone(), url_b.clone()]).await;
    let a = env.start_member("a", port_a, &balancer.url).await;
    let _b = env.start_member("b", port_b, &balancer.url).await;

    for user in &users {
        env.enable(user).await;
    }
    for user in &users {
        env.wait_resynced(user).await;
    }
    let shared = invites(&env, &users, "Shared").await;
    for (user, id) in &shared {
        eventually("decoration while both run", WAIT, || async {
            (decorated(&env, user, id).await == 1).then_some(())
        })
        .await;
    }
    // Both members did part of the work: the group split the partitions between them.
    let (done_a, done_b) = (processed(&env, &url_a).await, processed(&env, &url_b).await);
    assert!(done_a > 0 && done_b > 0, "work shared: a processed {done_a}, b processed {done_b}");
    let owned = (
        plain_metric(&env, &url_a, "hcal_partitions_owned").await,
        plain_metric(&env, &url_b, "hcal_partitions_owned").await,
    );
    assert!(matches!(owned, (Some(a), Some(b)) if a > 0 && b > 0 && a + b == 8), "partitions owned: {owned:?}");

    // A accepts a round of changes and dies before (all of) them are processed; then Graph
    // keeps delivering to the survivor.
    let accepted = invites(&env, &users, "Accepted by a").await;
    a.kill();
    let after = invites(&env, &users, "After a died").await;

    env.port = port_b;
    let long = Duration::from_secs(120);
    for (user, id) in accepted.iter().chain(&after) {
        eventually("decoration by the survivor", long, || async {
            (decorated(&env, user, id).await == 1).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (user, id) in shared.iter().chain(&accepted).chain(&after) {
        assert_eq!(decorated(&env, user, id).await, 1, "exactly one block");
    }
    assert_eq!(plain_metric(&env, &url_b, "hcal_partitions_owned").await, Some(8), "the survivor owns them all");
    assert!(plain_metric(&env, &url_b, "hcal_rebalances_total").await >= Some(2));
    // With everything done, no record is left behind (librdkafka reports every 5 s).
    eventually("no lag left", WAIT, || async {
        (plain_metric(&env, &url_b, "hcal_notifications_lag").await == Some(0)).then_some(())
    })
    .await;
    // The survivor lists every meeting of every mailbox.
    for user in &users {
        let rows = env.meetings(user).await;
        assert_eq!(rows.len(), 3, "{user}: {rows:?}");
    }
}

/// Counter `hcal_notifications_total{outcome=…}` of a member.
async fn outcome(env: &Env, url: &str, outcome: &str) -> u64 {
    let text = env.http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    let prefix = format!("hcal_notifications_total{{outcome=\"{outcome}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)?.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joining_mid_record_takes_its_share_without_a_double_write() {
    let Some(env) = Env::on(Backend::KafkaMock).await else { return };
    let users = mailboxes(&env, "joiner", 12);
    let (port_a, port_b) = (env.port, support::port());
    let (url_a, url_b) = (format!("http://127.0.0.1:{port_a}"), format!("http://127.0.0.1:{port_b}"));
    let balancer = Balancer::start(vec![url_a.clone(), url_b.clone()]).await;
    let _a = env.start_member("a", port_a, &balancer.url).await;
    for user in &users {
        env.enable(user).await;
    }
    for user in &users {
        env.wait_resynced(user).await;
    }
    // Graph turns slow, so every record takes seconds: the second member joins while the
    // first is in the middle of one. The rebalance lapses the first member's leases; what it
    // abandons is redone by whoever owns the mailbox next.
    env.graph.set_faults(FaultConfig { latency: Duration::from_millis(700), ..Default::default() });
    let mut round = Vec::new();
    for n in 0..3 {
        round.extend(invites(&env, &users, &format!("During the join {n}")).await);
    }
    eventually("a at work", WAIT, || async { (outcome(&env, &url_a, "processed").await > 0).then_some(()) }).await;
    let _b = env.start_member("b", port_b, &balancer.url).await;
    let long = Duration::from_secs(180);
    for (user, id) in &round {
        eventually("decoration", long, || async { (decorated(&env, user, id).await >= 1).then_some(()) }).await;
    }
    env.graph.set_faults(FaultConfig::default());
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (user, id) in &round {
        assert_eq!(decorated(&env, user, id).await, 1, "exactly one block");
    }
    let (abandoned, done_b) = (outcome(&env, &url_a, "abandoned").await, processed(&env, &url_b).await);
    println!("a abandoned {abandoned} records at the rebalance; b processed {done_b}");
    assert!(done_b > 0, "the joining member took a share of the work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_loses_nothing_and_decorates_nothing_twice() {
    let Some(mut env) = Env::on(Backend::KafkaBroker).await else { return };
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let first = env.graph.create_event(&alex, invite("Before the restart", "@webex", "<p>x</p>")).await.unwrap();
    let first = first["id"].as_str().unwrap().to_owned();
    eventually("first decoration", WAIT, || async { (decorated(&env, &alex, &first).await == 1).then_some(()) }).await;

    let (http, readyz) = (env.http.clone(), format!("{}/readyz", env.url()));
    let readiness = || async {
        let resp = http.get(&readyz).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<serde_json::Value>().await.unwrap())
    };
    assert_eq!(readiness().await.0, 200, "ready before the outage: {:?}", readiness().await.1);
    env.broker().unwrap().kill();
    // Unready while the log is unreachable (the process itself stays alive).
    let unready = eventually("readiness to say the log is unreachable", WAIT, || async {
        let (status, body) = readiness().await;
        (status == 503 && body["checks"]["log"] != "ok").then_some(body)
    })
    .await;
    assert_eq!(unready["checks"]["store"], "ok", "{unready}");
    assert_eq!(env.http.get(format!("{}/healthz", env.url())).send().await.unwrap().status(), 200);
    // Graph keeps delivering while the broker is down: hcal answers 503 and Graph retries.
    let mut during = Vec::new();
    for n in 0..3 {
        let ev = env
            .graph
            .create_event(&alex, invite(&format!("During the outage {n}"), "@webex", "<p>x</p>"))
            .await
            .unwrap();
        during.push(ev["id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.broker().unwrap().restart().unwrap();
    eventually("readiness once the broker is back", WAIT, || async { (readiness().await.0 == 200).then_some(()) })
        .await;

    for id in &during {
        eventually("decoration after the restart", WAIT, || async {
            (decorated(&env, &alex, id).await == 1).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in during.iter().chain([&first]) {
        assert_eq!(decorated(&env, &alex, id).await, 1, "exactly one block");
    }
}

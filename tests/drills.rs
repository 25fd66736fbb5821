//! Fault drills: hcal SIGKILLed at random moments (during a burst of invite changes, and while
//! it is still starting up and recovering), with Graph failing a fifth of hcal's requests (429
//! with `Retry-After`, 503, requests that hang), notifications to a dead hcal retried and then
//! dropped (so Graph reports them `missed`), subscriptions removed by Graph and announced late
//! (so hcal must recreate and resync), and in kafka mode the broker restarted mid-run.
//! Afterwards every change must have been taken in: each keyword invite carries exactly one join
//! block, each meeting is listed with its last subject, each cancelled one is gone, nothing else
//! was rewritten and nothing was booked on the platform.
//!
//! Seeded and bounded: the seed is printed, and `HCAL_DRILL_SEED=<seed>` replays the same
//! choices (the processes' own timing still varies). `HCAL_DRILL_KILLS` changes the number of
//! kills per drill (default 20).

// Drill steps are test code: a failed step fails the drill loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use hcal_sim::graph::{FaultConfig, GraphSimConfig};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;
use support::{Backend, Env, Hcal, blocks, invite, within};

/// How long the system gets to settle after the last kill.
const SETTLE: Duration = Duration::from_secs(240);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `@webex` in Location: hcal writes join details.
    Keyword,
    /// A Zoom link in the body: listed, left alone.
    Zoom,
    /// Neither: listed without a join target.
    Plain,
}

/// An invite the drill made, as it should end up.
#[derive(Debug, Clone)]
struct Tracked {
    user: String,
    id: String,
    kind: Kind,
    subject: String,
    cancelled: bool,
}

fn seed() -> u64 {
    std::env::var("HCAL_DRILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random)
}

fn kills() -> usize {
    std::env::var("HCAL_DRILL_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(20)
}

fn graph_config(seed: u64) -> GraphSimConfig {
    GraphSimConfig {
        seed,
        // Deliveries to a dead hcal are retried briefly, then dropped and reported missed.
        retry_initial: Duration::from_millis(200),
        retry_max: Duration::from_secs(2),
        retry_window: Duration::from_secs(15),
        ..GraphSimConfig::default()
    }
}

/// A fifth of hcal's Graph requests fail.
fn faults() -> FaultConfig {
    FaultConfig {
        rate_429: 0.1,
        rate_503: 0.05,
        rate_timeout: 0.05,
        hang: Duration::from_secs(1),
        ..FaultConfig::default()
    }
}

/// Creates, edits and cancels invites of `users` for about `length`, choices drawn from `rng`.
async fn burst(env: &Env, users: &[String], rng: &mut StdRng, length: Duration, tracked: &mut Vec<Tracked>) {
    let end = Instant::now() + length;
    while Instant::now() < end {
        let live: Vec<usize> = (0..tracked.len()).filter(|i| !tracked[*i].cancelled).collect();
        let roll = rng.random_range(0..100);
        if roll < 60 || live.is_empty() {
            let user = users[rng.random_range(0..users.len())].clone();
            let n = tracked.len();
            let (kind, location, body) = match rng.random_range(0..10) {
                0..5 => (Kind::Keyword, "@webex", "<p>Agenda</p>".to_owned()),
                5..7 => (
                    Kind::Zoom,
                    "Zoom",
                    format!("<p><a href=\"https://us02web.zoom.us/j/85{n:09}?pwd=x\">Join Zoom Meeting</a></p>"),
                ),
                _ => (Kind::Plain, "Room 4", "<p>Notes</p>".to_owned()),
            };
            let subject = format!("Drill {n}");
            let created = env.graph.create_event(&user, invite(&subject, location, &body)).await.unwrap();
            tracked.push(Tracked {
                user,
                id: created["id"].as_str().unwrap().to_owned(),
                kind,
                subject,
                cancelled: false,
            });
        } else if roll < 62 {
            // Graph removes a subscription and says so late; what the user does meanwhile
            // sends no notification, and a kill may land anywhere in hcal's recreate-and-resync.
            let user = users[rng.random_range(0..users.len())].clone();
            let Some(sub) = env.graph.subscriptions().into_iter().find(|s| s["userId"] == user.as_str()) else {
                continue;
            };
            let removed = env.graph.remove_subscription_quietly(sub["id"].as_str().unwrap()).unwrap();
            for _ in 0..2 {
                let subject = format!("Drill {} (made while unsubscribed)", tracked.len());
                let created = env.graph.create_event(&user, invite(&subject, "@webex", "<p>Agenda</p>")).await.unwrap();
                let id = created["id"].as_str().unwrap().to_owned();
                tracked.push(Tracked { user: user.clone(), id, kind: Kind::Keyword, subject, cancelled: false });
            }
            removed.announce().unwrap();
        } else if roll < 85 {
            let t = &mut tracked[live[rng.random_range(0..live.len())]];
            t.subject = format!("{} (edited)", t.subject);
            env.graph.update_event(&t.user, &t.id, json!({"subject": t.subject})).await.unwrap();
        } else {
            let t = &mut tracked[live[rng.random_range(0..live.len())]];
            env.graph.delete_event(&t.user, &t.id).await.unwrap();
            t.cancelled = true;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(30..300))).await;
    }
}

/// Kills hcal `n` times at random moments (sometimes before it has even answered), starting
/// it again after each kill; returns the process left running.
async fn killer(env: &Env, mut hcal: Hcal, n: usize, rng: &mut StdRng) -> Hcal {
    for _ in 0..n {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..2500))).await;
        hcal.kill();
        if rng.random_bool(0.25) {
            // Killed while starting up: recovering its partitions, catching up projections.
            let starting = env.spawn_full("", "", "");
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
            starting.kill();
        }
        hcal = env.start("").await;
    }
    hcal
}

/// Waits until every invite ended up as it should, then checks nothing was written twice.
async fn settled(env: &Env, tracked: &[Tracked]) {
    let started = Instant::now();
    for t in tracked {
        let limit = SETTLE.saturating_sub(started.elapsed()).max(Duration::from_secs(5));
        let done = within(limit, || async {
            let listed = env.meetings(&t.user).await.into_iter().find(|m| m["eventId"] == t.id.as_str());
            if t.cancelled {
                return listed.is_none().then_some(());
            }
            let row = listed?;
            if row["subject"] != t.subject.as_str() {
                return None;
            }
            let body = env.graph_event(&t.user, &t.id).await["body"]["content"].as_str().unwrap_or("").to_owned();
            match t.kind {
                Kind::Keyword => (blocks(&body) == 1 && row["join"]["origin"] == "hcal").then_some(()),
                Kind::Zoom => (blocks(&body) == 0 && row["join"]["provider"] == "zoom").then_some(()),
                Kind::Plain => (blocks(&body) == 0 && row["join"].is_null()).then_some(()),
            }
        })
        .await;
        if done.is_none() {
            // What hcal says of its webhook and of the mailbox tells a discarded notification
            // from one never processed.
            let metrics = env.metrics().await;
            let webhook: Vec<&str> = metrics.lines().filter(|l| l.starts_with("hcal_webhook_items_total")).collect();
            let status = env.mailbox_status(&t.user).await;
            let listed = env.meetings(&t.user).await.into_iter().find(|m| m["eventId"] == t.id.as_str());
            panic!(
                "invite {} ({:?}, cancelled {}) did not settle: listed {listed:?}\nwebhook {webhook:#?}\nmailbox {status:#?}",
                t.subject, t.kind, t.cancelled
            );
        }
    }
    // Replays and late retries may still be in flight: nothing may add a second block.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for t in tracked.iter().filter(|t| !t.cancelled) {
        let body = env.graph_event(&t.user, &t.id).await["body"]["content"].as_str().unwrap_or("").to_owned();
        let expected = usize::from(t.kind == Kind::Keyword);
        assert_eq!(blocks(&body), expected, "invite {} carries {} blocks", t.subject, blocks(&body));
    }
    assert_eq!(env.webex.meeting_count(), 0, "hcal books no meeting for a personal-room keyword");
}

async fn drill(backend: Backend) {
    let seed = seed();
    let kills = kills();
    println!("drill on {backend:?}: seed {seed} (HCAL_DRILL_SEED={seed} repeats its choices), {kills} kills");
    let Some(mut env) = Env::on_with_graph(backend, graph_config(seed)).await else { return };
    let mut rng = StdRng::seed_from_u64(seed);
    let users: Vec<String> = ["alex", "deniz", "megan"].iter().map(|u| env.user(u)).collect();
    let hcal = env.start("").await;
    for user in &users {
        env.enable(user).await;
    }
    for user in &users {
        env.wait_resynced(user).await;
    }
    env.graph.set_faults(faults());
    let started = Instant::now();
    let mut tracked = Vec::new();
    // Two rounds of a burst with kills; between them, in kafka mode, the broker restarts.
    let first = kills / 2;
    let (mut kill_rng, mut more_kill_rng) = (StdRng::seed_from_u64(seed ^ 1), StdRng::seed_from_u64(seed ^ 2));
    let (hcal, ()) = tokio::join!(
        killer(&env, hcal, first, &mut kill_rng),
        burst(&env, &users, &mut rng, Duration::from_secs(20), &mut tracked),
    );
    if let Some(broker) = env.broker() {
        broker.kill();
        tokio::time::sleep(Duration::from_secs(1)).await;
        broker.restart().unwrap();
    }
    let (hcal, ()) = tokio::join!(
        killer(&env, hcal, kills - first, &mut more_kill_rng),
        burst(&env, &users, &mut rng, Duration::from_secs(20), &mut tracked),
    );
    println!(
        "drill on {backend:?}: {} invites, {} edited or cancelled, {kills} kills in {:.0} s",
        tracked.len(),
        tracked.iter().filter(|t| t.cancelled || t.subject.ends_with("(edited)")).count(),
        started.elapsed().as_secs_f64()
    );
    env.graph.set_faults(FaultConfig::default());
    settled(&env, &tracked).await;
    println!("drill on {backend:?}: settled {:.0} s after the start", started.elapsed().as_secs_f64());
    drop(hcal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_drill_loses_nothing_and_writes_nothing_twice() {
    drill(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_drill_on_a_real_broker_loses_nothing_and_writes_nothing_twice() {
    drill(Backend::KafkaBroker).await;
}

//! hcal killed at each step of the subscription-lost → recreate → resync path and of the
//! missed → resync path, then started again: every invite made while hcal heard nothing of it
//! gets its join details, exactly once.

use std::time::Duration;

use hcal_sim::graph::{FaultConfig, LifecycleEvent};

use crate::support::{Env, blocks, eventually, invite};

const WAIT: Duration = Duration::from_secs(60);

/// Invites made while hcal hears nothing of them.
const GAP: usize = 6;

/// A first process enables the mailbox and is killed; the scenario's processes take it from there.
async fn enabled(env: &Env, user: &str) {
    let first = env.start("").await;
    env.enable(user).await;
    env.wait_resynced(user).await;
    first.kill();
}

async fn make_invites(env: &Env, user: &str, round: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 1..=GAP {
        let subject = format!("Gap {round} {n}");
        let created = env.graph.create_event(user, invite(&subject, "@webex", "<p>Agenda</p>")).await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn body(env: &Env, user: &str, id: &str) -> String {
    env.graph_event(user, id).await["body"]["content"].as_str().unwrap_or("").to_owned()
}

/// Waits until every invite carries join details, then checks, a moment later, that each
/// carries exactly one block.
async fn each_decorated_once(env: &Env, user: &str, ids: &[String], step: &str) {
    for id in ids {
        eventually(&format!("join details after a kill {step}"), WAIT, || async {
            (blocks(&body(env, user, id).await) > 0).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for id in ids {
        assert_eq!(blocks(&body(env, user, id).await), 1, "a kill {step}: one block in {id}");
    }
}

pub async fn a_kill_at_any_step_of_recreating_a_subscription_loses_no_invite(env: Env) {
    let alex = env.user("alex");
    enabled(&env, &alex).await;
    let points = [
        ("after SubscriptionLost is recorded", r#"crash_at = { after_event = "SubscriptionLost" }"#),
        ("after Graph created the new subscription", r#"crash_at = "after_subscription_create""#),
        ("after SubscriptionCreated is recorded", r#"crash_at = { after_event = "SubscriptionCreated" }"#),
        ("after the resync fed the window back", r#"crash_at = "after_redelivery""#),
    ];
    let mut all: Vec<String> = Vec::new();
    for (round, (step, point)) in points.into_iter().enumerate() {
        // A process that will crash at the point, with the mailbox active.
        let mut armed = env.start(point).await;
        let status = env.wait_active(&alex).await;
        let sub = status["subscription"]["id"].as_str().unwrap().to_owned();
        // Graph removes the subscription and tells hcal late; the invites made meanwhile send
        // no notification.
        let removed = env.graph.remove_subscription_quietly(&sub).unwrap();
        let ids = make_invites(&env, &alex, &round.to_string()).await;
        // A meeting of an earlier round is cancelled in the gap too: a resync does not name
        // what no longer exists, yet it must leave the list.
        let cancelled = all.pop();
        if let Some(id) = &cancelled {
            env.graph.delete_event(&alex, id).await.unwrap();
        }
        removed.announce().unwrap();
        assert!(armed.wait_exit(WAIT), "hcal should abort {step}: {}", env.logs());
        drop(armed);
        let hcal = env.start("").await;
        each_decorated_once(&env, &alex, &ids, step).await;
        if let Some(id) = &cancelled {
            eventually(&format!("a meeting cancelled in the gap to leave the list ({step})"), WAIT, || async {
                (!env.meetings(&alex).await.iter().any(|m| m["eventId"] == id.as_str())).then_some(())
            })
            .await;
        }
        let status = env.wait_active(&alex).await;
        let current = status["subscription"]["id"].as_str().unwrap();
        assert!(
            env.graph.subscriptions().iter().any(|s| s["id"] == current),
            "{step}: the subscription lives at Graph"
        );
        all.extend(ids);
        hcal.kill();
    }
    // Nothing decorated in an earlier round was written again in a later one.
    let _hcal = env.start("").await;
    each_decorated_once(&env, &alex, &all, "in an earlier round").await;
}

pub async fn a_kill_during_the_resync_of_missed_notifications_loses_no_invite(env: Env) {
    let alex = env.user("alex");
    enabled(&env, &alex).await;
    let points = [
        ("after ResyncRequested is recorded", r#"crash_at = { after_event = "ResyncRequested" }"#),
        ("after the resync fed the window back", r#"crash_at = "after_redelivery""#),
    ];
    for (round, (step, point)) in points.into_iter().enumerate() {
        let mut armed = env.start(point).await;
        let status = env.wait_active(&alex).await;
        let sub = status["subscription"]["id"].as_str().unwrap().to_owned();
        // Graph drops the notifications of the invites, then reports them missed.
        let dropped = env.graph.stats().notifications_dropped;
        env.graph.set_faults(FaultConfig { drop_notifications: true, ..Default::default() });
        let ids = make_invites(&env, &alex, &format!("missed {round}")).await;
        eventually("the notifications to be dropped", WAIT, || async {
            (env.graph.stats().notifications_dropped >= dropped + GAP as u64).then_some(())
        })
        .await;
        env.graph.set_faults(FaultConfig::default());
        env.graph.trigger_lifecycle(&sub, LifecycleEvent::Missed).unwrap();
        assert!(armed.wait_exit(WAIT), "hcal should abort {step}: {}", env.logs());
        drop(armed);
        let hcal = env.start("").await;
        each_decorated_once(&env, &alex, &ids, step).await;
        hcal.kill();
    }
}

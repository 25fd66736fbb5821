//! Out of office as presence, end to end: automatic replies set in the Graph simulator become
//! presence in hcal (`GET /v1/users/{id}/presence`) at a scheduled window's edges on the
//! controllable clock, and within a cadence when turned on or off; the reply text never
//! reaches anything hcal wrote. The sinks: a Standard Webhooks receiver hears each change at
//! its time and, when it was down, every change in order once it is back; Mattermost, Slack
//! (simulators) and a real Synapse homeserver show the status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use hcal_sim::chat::hook::{HookSim, HookSimConfig};
use hcal_sim::chat::mattermost::{MattermostSim, MattermostSimConfig};
use hcal_sim::chat::slack::{SlackSim, SlackSimConfig};
use hcal_sim::synapse::Homeserver;
use serde_json::{Value, json};
use support::{Env, eventually};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CADENCE: Duration = Duration::from_secs(10);

/// A webhook sink posting to `hook`.
fn webhook_sink(env: &Env, hook: &HookSim) -> String {
    env.set_var("HCAL_PRESENCE_WEBHOOK_SECRET", SECRET);
    format!(
        "\n[[presence.sinks]]\nkind = \"webhook\"\nurl = \"{}/presence\"\nsecret_env = \"HCAL_PRESENCE_WEBHOOK_SECRET\"\n",
        hook.url()
    )
}

/// The statuses `hook` verified, with their `since` and `until`, in arrival order.
fn heard(hook: &HookSim) -> Vec<(String, String, Option<String>)> {
    hook.deliveries()
        .iter()
        .map(|d| {
            let data = &d.body["data"];
            (
                data["status"].as_str().unwrap().to_owned(),
                data["since"].as_str().unwrap().to_owned(),
                data["until"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn statuses(hook: &HookSim) -> Vec<String> {
    heard(hook).into_iter().map(|h| h.0).collect()
}

async fn hook_hears(hook: &HookSim, expected: &[&str], within: Duration) {
    eventually(&format!("the webhook to hear {expected:?}"), within, || async {
        (statuses(hook) == expected).then_some(())
    })
    .await;
}

fn secs(at: &str) -> i64 {
    at.parse::<chrono::DateTime<chrono::Utc>>().unwrap().timestamp()
}

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
    let hook = HookSim::start(HookSimConfig::new(SECRET)).await.unwrap();
    let sinks = webhook_sink(&env, &hook);
    let _hcal = env.start_full("", &format!("{PRESENCE}{sinks}"), "controllable_clock = true").await;
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

    // The window's start: out of office, until its end; then available again. The webhook
    // hears each edge at its time (on hcal's clock), with no read between the edges beyond
    // the cadence's.
    let reads = || env.graph.stats().settings_reads.get(&megan).copied().unwrap_or(0);
    advance(&env, 3600).await;
    let away = presence_becomes(&env, &megan, &token, "outOfOffice").await;
    let since: chrono::DateTime<chrono::Utc> = away["since"].as_str().unwrap().parse().unwrap();
    assert!((since - start).num_seconds().abs() <= 1, "{away}");
    assert!(away["until"].as_str().is_some(), "{away}");
    hook_hears(&hook, &["outOfOffice"], CADENCE).await;
    let (reads_at_start, between) = (reads(), Instant::now());
    advance(&env, 7200).await;
    let back = presence_becomes(&env, &megan, &token, "available").await;
    let since: chrono::DateTime<chrono::Utc> = back["since"].as_str().unwrap().parse().unwrap();
    assert!((since - end).num_seconds().abs() <= 1, "{back}");
    hook_hears(&hook, &["outOfOffice", "available"], CADENCE).await;
    let cadence_reads = between.elapsed().as_secs() / CADENCE.as_secs() + 1;
    assert!(reads() - reads_at_start <= cadence_reads, "{} reads between the edges", reads() - reads_at_start);
    let edges = heard(&hook);
    assert!((secs(&edges[0].1) - start.timestamp()).abs() <= 1, "{edges:?}");
    assert!((secs(edges[0].2.as_deref().unwrap()) - end.timestamp()).abs() <= 1, "{edges:?}");
    assert!((secs(&edges[1].1) - end.timestamp()).abs() <= 1, "{edges:?}");

    // Turned on in Outlook (no notification exists for that): noticed by the next read.
    env.graph.set_automatic_replies(&megan, json!({"status": "alwaysEnabled"})).await.unwrap();
    presence_becomes(&env, &megan, &token, "outOfOffice").await;
    env.graph.set_automatic_replies(&megan, json!({"status": "disabled"})).await.unwrap();
    presence_becomes(&env, &megan, &token, "available").await;
    hook_hears(&hook, &["outOfOffice", "available", "outOfOffice", "available"], CADENCE).await;
    let ids: std::collections::BTreeSet<String> = hook.deliveries().into_iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), 4, "each change has its own webhook-id");

    // The reply text is nowhere hcal wrote: not in the event log, not in the logs.
    let events = env.records("mailbox-events").await;
    assert!(events.iter().any(|e| e["value"]["type"] == "PresenceChanged"), "presence changes are events");
    assert!(events.iter().any(|e| e["value"]["type"] == "OOOChanged"));
    assert!(!serde_json::to_string(&events).unwrap().contains("SENTINEL-REPLY-TEXT"));
    assert!(!env.logs().contains("SENTINEL-REPLY-TEXT"));
    assert!(!format!("{:?}", hook.deliveries()).contains("SENTINEL-REPLY-TEXT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sink_shows_out_of_office_and_back_and_a_sink_that_was_down_hears_every_change_in_order() {
    let env = Env::new().await;
    let megan = env.user("megan");
    let address = env.address("megan");
    let hook = HookSim::start(HookSimConfig::new(SECRET)).await.unwrap();
    let mattermost = MattermostSim::start(MattermostSimConfig::default()).await.unwrap();
    mattermost.add_token("mm-bot-token");
    let mm_user = mattermost.add_user("megan", &address);
    let slack = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    slack.add_token("xoxp-admin");
    let slack_user = slack.add_user("megan", &address);
    env.set_var("HCAL_MATTERMOST_TOKEN", "mm-bot-token");
    env.set_var("HCAL_SLACK_TOKEN", "xoxp-admin");
    let mut sinks = webhook_sink(&env, &hook);
    sinks.push_str(&format!(
        "\n[[presence.sinks]]\nkind = \"mattermost\"\nurl = \"{}\"\nsecret_env = \"HCAL_MATTERMOST_TOKEN\"\n\
         \n[[presence.sinks]]\nkind = \"slack\"\nurl = \"{}\"\nsecret_env = \"HCAL_SLACK_TOKEN\"\n",
        mattermost.url(),
        slack.url()
    ));
    // Synapse: Megan's Matrix id from her address's local part, with her own access token.
    let synapse = if Homeserver::usable_for("presence sinks: matrix") {
        let hs = tokio::task::spawn_blocking(Homeserver::start).await.unwrap().unwrap();
        let local = address.split('@').next().unwrap().to_lowercase();
        let token = hs.register(&local, "a long test password").await.unwrap();
        let matrix_id = hs.user_id(&local);
        env.set_var("HCAL_MATRIX_TOKENS", &format!("{matrix_id}={token}"));
        sinks.push_str(&format!(
            "\n[[presence.sinks]]\nkind = \"matrix\"\nurl = \"{}\"\nserver_name = \"{}\"\nsecret_env = \"HCAL_MATRIX_TOKENS\"\n",
            hs.url(),
            hs.server_name()
        ));
        Some((hs, token, matrix_id))
    } else {
        None
    };

    // The webhook receiver is down from the start.
    hook.set_down(true);
    let _hcal = env.start_full("", &format!("{PRESENCE}{sinks}"), "").await;
    env.enable(&megan).await;
    env.wait_active(&megan).await;
    let token = env.user_token(&megan).await;

    env.graph.set_automatic_replies(&megan, json!({"status": "alwaysEnabled"})).await.unwrap();
    let within = CADENCE + Duration::from_secs(10);
    eventually("Mattermost to show out of office", within, || async {
        mattermost.custom_status(&mm_user).filter(|s| s.emoji == "palm_tree").map(|_| ())
    })
    .await;
    eventually("Slack to show out of office", within, || async {
        slack.status(&slack_user).filter(|s| s.status_emoji == ":palm_tree:").map(|_| ())
    })
    .await;
    if let Some((hs, token, id)) = &synapse {
        eventually("Synapse to show unavailable", within, || async {
            let seen = hs.presence(token, id).await.ok()?;
            (seen["presence"] == "unavailable" && seen["status_msg"] == "Out of office").then_some(())
        })
        .await;
    }
    presence_becomes(&env, &megan, &token, "outOfOffice").await;

    env.graph.set_automatic_replies(&megan, json!({"status": "disabled"})).await.unwrap();
    eventually("Mattermost to clear the status", within, || async {
        mattermost.custom_status(&mm_user).is_none().then_some(())
    })
    .await;
    eventually("Slack to clear the status", within, || async {
        slack.status(&slack_user).filter(|s| s.status_emoji.is_empty() && s.status_text.is_empty()).map(|_| ())
    })
    .await;
    if let Some((hs, token, id)) = &synapse {
        eventually("Synapse to show online", within, || async {
            (hs.presence(token, id).await.ok()?["presence"] == "online").then_some(())
        })
        .await;
    }
    env.graph.set_automatic_replies(&megan, json!({"status": "alwaysEnabled"})).await.unwrap();
    presence_becomes(&env, &megan, &token, "outOfOffice").await;
    assert!(hook.deliveries().is_empty(), "the receiver was down");

    // Back: it hears all three changes, in order, each once.
    hook.set_down(false);
    hook_hears(&hook, &["outOfOffice", "available", "outOfOffice"], Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(statuses(&hook), ["outOfOffice", "available", "outOfOffice"], "nothing more, nothing twice");
    let users: Vec<Value> = hook.deliveries().iter().map(|d| d.body["data"]["userId"].clone()).collect();
    assert!(users.iter().all(|u| *u == json!(megan)), "{users:?}");
    // The address went to the tools that look users up by it, never into the webhook.
    assert!(!format!("{:?}", hook.deliveries()).contains(&address));
    assert_eq!((mattermost.email_lookups(), slack.email_lookups()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_kafka_mode_presence_changes_are_on_their_own_topic_in_order() {
    let env = Env::on(support::Backend::KafkaMock).await.unwrap();
    let megan = env.user("megan");
    let _hcal = env.start_full("", PRESENCE, "").await;
    env.enable(&megan).await;
    env.wait_active(&megan).await;
    let token = env.user_token(&megan).await;
    env.graph.set_automatic_replies(&megan, json!({"status": "alwaysEnabled"})).await.unwrap();
    presence_becomes(&env, &megan, &token, "outOfOffice").await;
    env.graph.set_automatic_replies(&megan, json!({"status": "disabled"})).await.unwrap();
    presence_becomes(&env, &megan, &token, "available").await;

    let schema: Value = serde_json::from_str(&std::fs::read_to_string("schemas/presence.v1.json").unwrap()).unwrap();
    let schema = jsonschema::validator_for(&schema).unwrap();
    let records = eventually("both changes on the presence topic", Duration::from_secs(20), || async {
        let records = env.downstream_records("presence").unwrap();
        (records.len() >= 2).then_some(records)
    })
    .await;
    for record in &records {
        let errors: Vec<String> = schema.iter_errors(record).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}: {record}");
        assert_eq!(record["userId"], json!(megan));
    }
    let statuses: Vec<&str> = records.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["outOfOffice", "available"]);
    // The same change written by the mailbox-events topic: its event id.
    let events = env.records("mailbox-events").await;
    let changes: Vec<&Value> = events.iter().filter(|e| e["value"]["type"] == "PresenceChanged").collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(records[0]["changeId"], changes[0]["value"]["eventId"], "{:?}", changes[0]);
}

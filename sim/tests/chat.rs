//! The chat simulators over real HTTP: Mattermost's custom statuses, Slack's status methods and
//! the Standard Webhooks receiver, each with its authentication errors, unknown users, faults
//! and what it recorded.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use hcal_sim::chat::Fault;
use hcal_sim::chat::hook::{HookSim, HookSimConfig};
use hcal_sim::chat::mattermost::{MattermostSim, MattermostSimConfig};
use hcal_sim::chat::slack::{SlackSim, SlackSimConfig};
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

const TOKEN: &str = "admin-token";
const ALEX: &str = "alex@contoso.example";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

// ---- Mattermost ----

async fn mattermost() -> (MattermostSim, String) {
    let sim = MattermostSim::start(MattermostSimConfig::default()).await.unwrap();
    sim.add_token(TOKEN);
    let id = sim.add_user("alex", ALEX);
    (sim, id)
}

#[tokio::test]
async fn mattermost_refuses_requests_without_a_valid_token_with_its_error_shape() {
    let (sim, _) = mattermost().await;
    let url = format!("{}/api/v4/users/email/{ALEX}", sim.url());
    for request in [http().get(&url), http().get(&url).bearer_auth("wrong")] {
        let (status, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(body["id"], "api.context.session_expired.app_error");
        assert_eq!(body["status_code"], 401);
        for key in ["message", "detailed_error", "request_id"] {
            assert!(body[key].is_string(), "{key} in {body}");
        }
    }
}

#[tokio::test]
async fn mattermost_finds_users_by_email_and_sets_and_clears_their_custom_status() {
    let (sim, id) = mattermost().await;
    let (status, user) = json_of(
        http().get(format!("{}/api/v4/users/email/{ALEX}", sim.url())).bearer_auth(TOKEN).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, user["id"].as_str()), (200, Some(id.as_str())));
    let (status, body) = json_of(
        http()
            .get(format!("{}/api/v4/users/email/nobody@contoso.example", sim.url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["id"].as_str()), (404, Some("app.user.missing_account.const")));
    assert_eq!(sim.email_lookups(), 2);

    let status_url = format!("{}/api/v4/users/{id}/status/custom", sim.url());
    let until = (Utc::now() + chrono::Duration::hours(8)).to_rfc3339();
    let body = json!({"emoji": "palm_tree", "text": "Out of office", "duration": "date_and_time", "expires_at": until});
    let (status, answer) = json_of(http().put(&status_url).bearer_auth(TOKEN).json(&body).send().await.unwrap()).await;
    assert_eq!((status, answer), (200, json!({"status": "OK"})));
    let stored = sim.custom_status(&id).unwrap();
    assert_eq!(
        (stored.emoji.as_str(), stored.text.as_str(), stored.duration.as_str()),
        ("palm_tree", "Out of office", "date_and_time")
    );
    assert_eq!(stored.expires_at.map(|t| t.to_rfc3339()), Some(until));

    let (status, answer) = json_of(http().delete(&status_url).bearer_auth(TOKEN).send().await.unwrap()).await;
    assert_eq!((status, answer), (200, json!({"status": "OK"})));
    assert_eq!(sim.custom_status(&id), None);
}

#[tokio::test]
async fn mattermost_refuses_bad_statuses_and_unknown_users() {
    let (sim, id) = mattermost().await;
    let status_url = format!("{}/api/v4/users/{id}/status/custom", sim.url());
    let past = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    for body in [
        json!({"emoji": "", "text": ""}),
        json!({"emoji": "palm_tree", "text": "Out", "duration": "forever"}),
        json!({"emoji": "palm_tree", "text": "Out", "duration": "date_and_time", "expires_at": past}),
    ] {
        let (status, answer) =
            json_of(http().put(&status_url).bearer_auth(TOKEN).json(&body).send().await.unwrap()).await;
        assert_eq!((status, answer["id"].as_str()), (400, Some("api.context.invalid_body_param.app_error")), "{body}");
    }
    let unknown = format!("{}/api/v4/users/{}/status/custom", sim.url(), "a".repeat(26));
    let (status, _) = json_of(
        http().put(&unknown).bearer_auth(TOKEN).json(&json!({"emoji": "x", "text": "y"})).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = json_of(http().delete(&unknown).bearer_auth(TOKEN).send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(sim.custom_status(&id), None);
}

#[tokio::test]
async fn mattermost_faults_come_before_anything_else_and_a_stopped_server_refuses() {
    let (sim, id) = mattermost().await;
    let url = format!("{}/api/v4/users/{id}/status/custom", sim.url());
    sim.set_down(true);
    assert_eq!(http().delete(&url).bearer_auth(TOKEN).send().await.unwrap().status().as_u16(), 503);
    sim.set_fault(Fault::RateLimited { retry_after: Duration::from_secs(7) });
    let response = http().delete(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    sim.set_down(false);
    assert_eq!(http().delete(&url).bearer_auth(TOKEN).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(sim.requests(), 3);
    sim.stop().await;
    assert!(http().delete(&url).send().await.unwrap_err().is_connect());
}

// ---- Slack ----

async fn slack() -> (SlackSim, String) {
    let sim = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    sim.add_token(TOKEN);
    let id = sim.add_user("alex", ALEX);
    (sim, id)
}

#[tokio::test]
async fn slack_answers_refusals_with_http_200_and_an_error_code() {
    let (sim, id) = slack().await;
    let set = format!("{}/users.profile.set", sim.url());
    let body = json!({"user": id, "profile": {"status_text": "Out"}});
    let cases = [
        (http().post(&set).json(&body), "not_authed"),
        (http().post(&set).bearer_auth("xoxp-wrong").json(&body), "invalid_auth"),
        (http().post(&set).bearer_auth(TOKEN).json(&json!({"user": "UNOBODY0000", "profile": {}})), "user_not_found"),
        (http().post(&set).bearer_auth(TOKEN).body("not json"), "invalid_json"),
        (
            http().get(format!("{}/users.lookupByEmail?email=nobody@contoso.example", sim.url())).bearer_auth(TOKEN),
            "users_not_found",
        ),
    ];
    for (request, code) in cases {
        let (status, answer) = json_of(request.send().await.unwrap()).await;
        assert_eq!((status, answer), (200, json!({"ok": false, "error": code})));
    }
    assert_eq!(sim.status(&id).unwrap().status_text, "");
}

#[tokio::test]
async fn slack_looks_users_up_by_email_and_records_their_status() {
    let (sim, id) = slack().await;
    let (status, answer) = json_of(
        http()
            .get(format!("{}/users.lookupByEmail", sim.url()))
            .query(&[("email", ALEX)])
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &answer["ok"], answer["user"]["id"].as_str()), (200, &json!(true), Some(id.as_str())));
    assert_eq!(answer["user"]["profile"]["email"], ALEX);

    let set = format!("{}/users.profile.set", sim.url());
    let profile =
        json!({"status_text": "Out of office", "status_emoji": ":palm_tree:", "status_expiration": 1_780_000_000});
    let (status, answer) = json_of(
        http().post(&set).bearer_auth(TOKEN).json(&json!({"user": id, "profile": profile})).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, answer["ok"].as_bool()), (200, Some(true)));
    let recorded = sim.status(&id).unwrap();
    assert_eq!(
        (recorded.status_text.as_str(), recorded.status_emoji.as_str(), recorded.status_expiration),
        ("Out of office", ":palm_tree:", 1_780_000_000)
    );
    let clear = json!({"user": id, "profile": {"status_text": "", "status_emoji": "", "status_expiration": 0}});
    http().post(&set).bearer_auth(TOKEN).json(&clear).send().await.unwrap();
    assert_eq!(sim.status(&id).unwrap(), Default::default());
    assert_eq!((sim.email_lookups(), sim.profile_sets()), (1, 2));
}

#[tokio::test]
async fn slack_rate_limits_with_http_429_and_retry_after() {
    let (sim, id) = slack().await;
    let set = format!("{}/users.profile.set", sim.url());
    sim.set_fault(Fault::RateLimited { retry_after: Duration::from_secs(30) });
    let response = http().post(&set).bearer_auth(TOKEN).json(&json!({"user": id, "profile": {}})).send().await.unwrap();
    assert_eq!(response.headers()["retry-after"], "30");
    assert_eq!(json_of(response).await, (429, json!({"ok": false, "error": "ratelimited"})));
    sim.set_down(true);
    assert_eq!(http().post(&set).bearer_auth(TOKEN).send().await.unwrap().status().as_u16(), 503);
    assert_eq!(sim.profile_sets(), 0);
}

// ---- Standard Webhooks receiver ----

fn sign(id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

async fn post(url: &str, id: &str, timestamp: i64, signature: &str, body: &str) -> u16 {
    http()
        .post(url)
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_receiver_keeps_verified_deliveries_in_order_and_refuses_the_rest() {
    let sim = HookSim::start(HookSimConfig::new(SECRET)).await.unwrap();
    let now = Utc::now().timestamp();
    let first = r#"{"type":"presence.changed","n":1}"#;
    let second = r#"{"type":"presence.changed","n":2}"#;
    assert_eq!(post(sim.url(), "msg_1", now, &sign("msg_1", now, first), first).await, 204);
    assert_eq!(post(sim.url(), "msg_2", now, &format!("v1,AAAA {}", sign("msg_2", now, second)), second).await, 204);
    // Signed for another body, signed with another id, too old, too far ahead, unsigned.
    assert_eq!(post(sim.url(), "msg_3", now, &sign("msg_3", now, first), second).await, 401);
    assert_eq!(post(sim.url(), "msg_3", now, &sign("msg_4", now, first), first).await, 401);
    assert_eq!(post(sim.url(), "msg_3", now - 301, &sign("msg_3", now - 301, first), first).await, 401);
    assert_eq!(post(sim.url(), "msg_3", now + 301, &sign("msg_3", now + 301, first), first).await, 401);
    let unsigned = http().post(sim.url()).body(first).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 400);
    assert_eq!(sim.rejected(), 5);
    let kept: Vec<(String, Value)> = sim.deliveries().into_iter().map(|d| (d.id, d.body["n"].clone())).collect();
    assert_eq!(kept, vec![("msg_1".to_owned(), json!(1)), ("msg_2".to_owned(), json!(2))]);
}

#[tokio::test]
async fn the_receiver_can_be_down_and_back_or_answer_any_status() {
    let sim = HookSim::start(HookSimConfig::new(SECRET)).await.unwrap();
    let now = Utc::now().timestamp();
    let body = r#"{"type":"presence.changed"}"#;
    sim.set_down(true);
    assert_eq!(post(sim.url(), "msg_1", now, &sign("msg_1", now, body), body).await, 503);
    sim.set_fault(Fault::Status(410));
    assert_eq!(post(sim.url(), "msg_1", now, &sign("msg_1", now, body), body).await, 410);
    sim.set_down(false);
    assert_eq!(post(sim.url(), "msg_1", now, &sign("msg_1", now, body), body).await, 204);
    assert_eq!(sim.deliveries().len(), 1);
    assert!(HookSim::start(HookSimConfig::new("whsec_not base64!")).await.is_err());
}

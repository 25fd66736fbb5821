//! A real Synapse homeserver (`hcal_sim::synapse`): presence set and read back over the
//! client-server API, and what Synapse answers when a user sets someone else's presence, reads
//! the presence of a user it shares no room with, or sends a token it never issued. Skipped
//! where Synapse is not installed, except under CI (`.ci/install-synapse.sh` installs it).

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use hcal_sim::synapse::{Homeserver, SynapseError};
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// PUTs `body` as `user_id`'s presence with `token`: the status and the JSON body.
async fn put_presence(hs: &Homeserver, token: &str, user_id: &str, body: &Value) -> (u16, Value) {
    let response = http().put(hs.presence_url(user_id).unwrap()).bearer_auth(token).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The status and `errcode` of a refusal.
fn refusal(result: Result<Value, SynapseError>) -> (u16, Option<String>) {
    match result {
        Err(SynapseError::Refused { status, errcode, .. }) => (status, errcode),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn presence_is_set_read_back_and_guarded() {
    if !Homeserver::usable_for("presence_is_set_read_back_and_guarded") {
        return;
    }
    let started = Instant::now();
    let hs = Homeserver::start().unwrap();
    println!("synapse answered on {} after {:?}", hs.url(), started.elapsed());
    assert_eq!(hs.server_name(), "localhost");

    let registered = Instant::now();
    let alice_token = hs.register("alice", "alice-password").await.unwrap();
    let bob_token = hs.register("bob", "bob-password").await.unwrap();
    println!("two users registered and logged in after {:?}", registered.elapsed());
    assert_ne!(alice_token, bob_token);
    let alice = hs.user_id("alice");
    let bob = hs.user_id("bob");
    assert_eq!(alice, "@alice:localhost");

    // Her own presence: 200 with an empty object, and read back as set. Two updates in a row
    // both take effect (by default Synapse's rate limiter would answer the second with 429).
    let (status, body) = put_presence(&hs, &alice_token, &alice, &json!({"presence": "online"})).await;
    println!("PUT online: {status} {body}");
    assert_eq!((status, &body), (200, &json!({})));
    let got = hs.presence(&alice_token, &alice).await.unwrap();
    println!("GET after online: {got}");
    assert_eq!(got["presence"], "online");
    let meeting = json!({"presence": "unavailable", "status_msg": "In a meeting until 15:00"});
    let (status, body) = put_presence(&hs, &alice_token, &alice, &meeting).await;
    println!("PUT unavailable: {status} {body}");
    assert_eq!((status, &body), (200, &json!({})));
    let got = hs.presence(&alice_token, &alice).await.unwrap();
    println!("GET after unavailable: {got}");
    assert_eq!(got["presence"], "unavailable");
    assert_eq!(got["status_msg"], "In a meeting until 15:00");

    // Someone else's presence cannot be set: 403 M_FORBIDDEN, and Bob's stays as it was.
    let (status, body) = put_presence(&hs, &alice_token, &bob, &json!({"presence": "unavailable"})).await;
    println!("PUT for bob with alice's token: {status} {body}");
    assert_eq!(status, 403);
    assert_eq!(body["errcode"], "M_FORBIDDEN");
    let bobs = hs.presence(&bob_token, &bob).await.unwrap();
    println!("bob's own GET: {bobs}");
    assert_ne!(bobs["presence"], "unavailable");

    // Nor read without a shared room: 403 M_FORBIDDEN.
    let (status, errcode) = refusal(hs.presence(&alice_token, &bob).await);
    println!("GET bob's with alice's token (no shared room): {status} {errcode:?}");
    assert_eq!((status, errcode.as_deref()), (403, Some("M_FORBIDDEN")));

    // A token the server never issued: 401 M_UNKNOWN_TOKEN, for reading and for setting.
    let (status, errcode) = refusal(hs.presence("syt_not_a_token", &alice).await);
    println!("GET with a bad token: {status} {errcode:?}");
    assert_eq!((status, errcode.as_deref()), (401, Some("M_UNKNOWN_TOKEN")));
    let (status, body) = put_presence(&hs, "syt_not_a_token", &alice, &json!({"presence": "online"})).await;
    println!("PUT with a bad token: {status} {body}");
    assert_eq!(status, 401);
    assert_eq!(body["errcode"], "M_UNKNOWN_TOKEN");
    let got = hs.presence(&alice_token, &alice).await.unwrap();
    assert_eq!(got["presence"], "unavailable");

    // Registering a taken localpart fails with what the script printed.
    match hs.register("alice", "other").await {
        Err(SynapseError::Register { localpart, output, .. }) => {
            println!("registering alice again: {output:?}");
            assert_eq!(localpart, "alice");
        }
        other => panic!("expected a registration failure, got {other:?}"),
    }
}

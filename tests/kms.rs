//! The end-to-end sentinel scenario with the keys from a real OpenBao Transit engine (embedded
//! mode): every produced message fits its schema, and nothing planted in an invite (subject,
//! body, attendee, text typed after a keyword) is found in the data directory, the logs, the
//! metrics or the admin endpoints; each mailbox has its key-encryption key at the KMS.

#[macro_use]
#[allow(unused_macros)]
mod scenarios;
mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_openbao_keys_every_produced_message_matches_its_schema_and_no_sentinel_leaks() {
    if !hcal_sim::openbao::Server::usable_for("with_openbao_keys_every_produced_message_matches_its_schema") {
        return;
    }
    let bao = hcal_sim::openbao::Server::start().unwrap();
    let env = support::Env::new().await;
    env.set_var("HCAL_KMS_TOKEN", bao.root_token());
    env.add_sections(&format!("[keys]\nkms = \"transit\"\n\n[keys.transit]\nurl = \"{}\"\n", bao.url()));
    scenarios::every_produced_message_matches_its_schema_and_no_sentinel_leaks(env).await;
    let keys = bao.transit_keys().unwrap();
    assert!(keys.iter().filter(|k| k.starts_with("hcal-mbx-")).count() >= 2, "a key per mailbox: {keys:?}");
}

/// While the KMS is away, mailboxes whose keys are cached go on; a mailbox that needs a new key
/// waits (pending, not failed) and loses nothing: once the KMS is back it is enabled and its
/// invite decorated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_kms_is_away_cached_mailboxes_go_on_and_the_others_resume_when_it_is_back() {
    use std::time::Duration;

    use support::{eventually, invite};
    if !hcal_sim::openbao::Server::usable_for("while_the_kms_is_away_cached_mailboxes_go_on") {
        return;
    }
    let mut bao = hcal_sim::openbao::Server::start().unwrap();
    let env = support::Env::new().await;
    env.set_var("HCAL_KMS_TOKEN", bao.root_token());
    env.add_sections(&format!("[keys]\nkms = \"transit\"\n\n[keys.transit]\nurl = \"{}\"\n", bao.url()));
    let _hcal = env.start("").await;
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    env.user_token(&alex).await;

    bao.stop();
    let decorated = |user: String, id: String| {
        let env = &env;
        async move {
            env.meetings(&user).await.into_iter().find(|m| m["eventId"] == id.as_str() && m["join"]["origin"] == "hcal")
        }
    };
    let cached = env.graph.create_event(&alex, invite("While away", "@webex", "<p>x</p>")).await.unwrap();
    let cached = cached["id"].as_str().unwrap().to_owned();
    eventually("alex's invite with cached keys", Duration::from_secs(30), || decorated(alex.clone(), cached.clone()))
        .await;
    env.enable(&deniz).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let status = env.mailbox_status(&deniz).await.map(|s| s["status"].clone());
    assert_ne!(status, Some(serde_json::json!("active")), "deniz cannot be enabled without a key");
    assert!(env.logs().contains("key service unavailable"), "the logs say why");

    bao.resume().unwrap();
    env.wait_active(&deniz).await;
    let later = env.graph.create_event(&deniz, invite("After", "@webex", "<p>x</p>")).await.unwrap();
    let later = later["id"].as_str().unwrap().to_owned();
    eventually("deniz's invite once the KMS is back", Duration::from_secs(60), || {
        decorated(deniz.clone(), later.clone())
    })
    .await;
}

//! Keys per mailbox, rotation and erasure (crypto-shredding), on the local key file and on a
//! real OpenBao Transit engine: a rotated installation seals new events under new keys and still
//! opens the old ones; an erased user's meetings leave every list, a replay cannot bring them
//! back, its status says `erased`, and with OpenBao its key-encryption key is gone from the KMS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Env, eventually};

fn invite(subject: &str, day: i64) -> Value {
    let at = |h: u32| {
        (chrono::Utc::now() + chrono::Duration::days(day)).format(&format!("%Y-%m-%dT{h:02}:00:00")).to_string()
    };
    json!({
        "subject": subject,
        "body": {"contentType": "html", "content": "<p>Agenda</p>"},
        "start": {"dateTime": at(9), "timeZone": "UTC"},
        "end": {"dateTime": at(10), "timeZone": "UTC"},
        "location": {"displayName": "Room 4"},
        "attendees": [{"type": "required", "emailAddress": {"name": "Deniz", "address": "deniz@contoso.example"}}]
    })
}

/// The hcal binary with the test's configuration and `vars`.
fn hcal(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hcal"));
    command.args(args).env("RUST_LOG", "warn").env("HCAL_API_TOKEN", &env.api_token);
    for (name, value) in vars {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Key ids of `user`'s sealed events in the `mailbox-events` log.
async fn key_ids(env: &Env, user: &str) -> Vec<String> {
    env.records("mailbox-events")
        .await
        .iter()
        .filter(|r| r["value"]["userId"] == user)
        .filter_map(|r| r["value"]["keyId"].as_str().map(str::to_owned))
        .collect()
}

async fn subjects(env: &Env, user: &str) -> BTreeSet<String> {
    env.meetings(user).await.iter().filter_map(|m| m["subject"].as_str().map(str::to_owned)).collect()
}

async fn status(env: &Env, user: &str) -> String {
    env.mailbox_status(user).await.map(|s| s["status"].as_str().unwrap_or_default().to_owned()).unwrap_or_default()
}

/// Rotation, then erasure of alex; deniz (an attendee, with a copy of alex's invite in their own
/// calendar) keeps theirs.
async fn rotate_and_erase(env: &Env, vars: &[(&str, &str)], sections: &str, erased: impl Fn()) {
    let server = env.start_with_sections(sections).await;
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    for user in [&alex, &deniz] {
        env.enable(user).await;
        env.wait_active(user).await;
    }
    env.graph.create_event(&alex, invite("Budget before rotation", 1)).await.unwrap();
    let before: BTreeSet<String> = ["Budget before rotation".to_owned()].into();
    eventually("alex's first meeting", Duration::from_secs(30), || async {
        (subjects(env, &alex).await == before).then_some(())
    })
    .await;
    let old_keys: BTreeSet<String> = key_ids(env, &alex).await.into_iter().collect();
    let deniz_keys: BTreeSet<String> = key_ids(env, &deniz).await.into_iter().collect();
    assert_eq!(old_keys.len(), 1, "one data key for alex's events so far: {old_keys:?}");
    assert!(old_keys.is_disjoint(&deniz_keys), "each mailbox has keys of its own");

    let config = env.dir.path().join("hcal.toml");
    let config = config.to_str().unwrap();
    let (ok, out) = hcal(env, vars, &["keys", "rotate", "--config", config]);
    assert!(ok, "{out}");
    assert!(out.contains("rotated"), "{out}");
    // The running service notices the rotation within two seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.graph.create_event(&alex, invite("Budget after rotation", 2)).await.unwrap();
    let both: BTreeSet<String> = ["Budget before rotation".to_owned(), "Budget after rotation".to_owned()].into();
    eventually("both meetings, old and new keys", Duration::from_secs(30), || async {
        (subjects(env, &alex).await == both).then_some(())
    })
    .await;
    let keys_now: BTreeSet<String> = key_ids(env, &alex).await.into_iter().collect();
    assert!(keys_now.len() >= 2 && keys_now.is_superset(&old_keys), "rotation took a new key: {keys_now:?}");

    let (ok, out) = hcal(env, vars, &["users", "disable", "--erase", "--url", &env.url(), &alex]);
    assert!(ok, "{out}");
    eventually("alex erased", Duration::from_secs(30), || async {
        (status(env, &alex).await == "erased").then_some(())
    })
    .await;
    erased();
    // The erasure revoked alex's tokens; a new one shows an empty list.
    let revoked = env.forget_user_token(&alex).unwrap();
    let list = format!("{}/v1/users/{alex}/meetings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", env.url());
    eventually("alex's token revoked", Duration::from_secs(30), || async {
        let status = env.http.get(&list).bearer_auth(&revoked).send().await.ok()?.status();
        (status == 401).then_some(())
    })
    .await;
    eventually("alex's list empty", Duration::from_secs(30), || async {
        subjects(env, &alex).await.is_empty().then_some(())
    })
    .await;
    assert_eq!(subjects(env, &deniz).await.len(), 2, "deniz keeps the copies in their own calendar");

    // A rebuild of every projection from the log cannot bring alex's meetings back.
    server.kill();
    let (ok, out) = hcal(env, vars, &["replay", "--config", config]);
    assert!(ok, "{out}");
    let _server = env.start_with_sections(sections).await;
    eventually("deniz's list after the replay", Duration::from_secs(30), || async {
        (subjects(env, &deniz).await.len() == 2).then_some(())
    })
    .await;
    assert!(subjects(env, &alex).await.is_empty(), "replay restored an erased user's meetings");
    assert_eq!(status(env, &alex).await, "erased");
    let (ok, out) = hcal(env, vars, &["keys", "status", "--config", config]);
    assert!(ok, "{out}");
    assert!(!out.contains("(0 erased)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_local_key_file_rotation_keeps_old_events_and_erasure_forgets_the_user() {
    let env = Env::new().await;
    rotate_and_erase(&env, &[], "", || {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_openbao_rotation_keeps_old_events_and_erasure_destroys_the_key_at_the_kms() {
    if !hcal_sim::openbao::Server::usable_for(
        "with_openbao_rotation_keeps_old_events_and_erasure_destroys_the_key_at_the_kms",
    ) {
        return;
    }
    let bao = hcal_sim::openbao::Server::start().unwrap();
    let env = Env::new().await;
    env.set_var("HCAL_KMS_TOKEN", bao.root_token());
    let sections = format!("[keys]\nkms = \"transit\"\n[keys.transit]\nurl = \"{}\"\n", bao.url());
    let vars = [("HCAL_KMS_TOKEN", bao.root_token())];
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    let tenant = env.demo.tenant_id.clone();
    rotate_and_erase(&env, &vars, &sections, || {
        let keys = bao.transit_keys().unwrap();
        assert!(!keys.contains(&format!("hcal-mbx-{tenant}-{alex}")), "alex's key is still at the KMS: {keys:?}");
        assert!(keys.contains(&format!("hcal-mbx-{tenant}-{deniz}")), "{keys:?}");
    })
    .await;
    // No data key in clear anywhere in the data directory: the key store holds wrapped ones.
    let store = std::fs::read(env.data_dir().join("keys").join("keys.db")).unwrap();
    assert!(String::from_utf8_lossy(&store).contains("vault:v1:"), "wrapped by Transit");
}

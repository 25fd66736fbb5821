//! The sinks against the chat simulators over real HTTP on 127.0.0.1.

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use hcal_actors::ids::{TenantId, UserObjectId};
use hcal_sim::chat::Fault;
use hcal_sim::chat::hook::{HookSim, HookSimConfig};
use hcal_sim::chat::mattermost::{MattermostSim, MattermostSimConfig};
use hcal_sim::chat::slack::{SlackSim, SlackSimConfig};
use serde_json::json;

use super::*;
use crate::presence::sink::{PresenceStatus, PresenceUpdate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "admin-token";
const ADDRESS: &str = "Alex.Wilber@contoso.example";

fn update(status: PresenceStatus) -> PresenceUpdate {
    PresenceUpdate {
        id: "0d3c5a8e-0000-4000-8000-000000000001".to_owned(),
        tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
        user: UserObjectId::parse("6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01").unwrap(),
        status,
        since: Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap(),
        until: Some(Utc::now() + chrono::Duration::days(2)),
        sink_user: None,
        address: Some(ADDRESS.to_owned()),
    }
}

fn make_sink(kind: SinkKind, url: &str, secret: &str) -> Arc<dyn PresenceSink> {
    let config = SinkConfig {
        name: None,
        kind,
        url: Some(url.to_owned()),
        secret_env: "UNUSED".to_owned(),
        server_name: None,
        text: None,
        emoji: None,
    };
    build(&config, secret.to_owned()).unwrap()
}

#[tokio::test]
async fn the_webhook_sink_signs_what_a_standard_webhooks_receiver_verifies() {
    let hook = HookSim::start(HookSimConfig::new(SECRET)).await.unwrap();
    let sink = make_sink(SinkKind::Webhook, &format!("{}/presence", hook.url()), SECRET);
    sink.deliver(&update(PresenceStatus::OutOfOffice)).await.unwrap();
    let mut back = update(PresenceStatus::Available);
    back.id = "0d3c5a8e-0000-4000-8000-000000000002".to_owned();
    back.until = None;
    sink.deliver(&back).await.unwrap();
    let got = hook.deliveries();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].id, "0d3c5a8e-0000-4000-8000-000000000001");
    let data = &got[0].body["data"];
    assert_eq!(got[0].body["type"], "presence.changed");
    assert_eq!(data["userId"], "6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01");
    assert_eq!(data["status"], "outOfOffice");
    assert_eq!(data["since"], "2026-12-02T09:00:00Z");
    assert!(data["until"].is_string());
    assert_eq!(got[1].body["data"]["status"], "available");
    assert!(got[1].body["data"]["until"].is_null());
    // The address never leaves hcal through a webhook.
    assert!(!got[0].body.to_string().to_lowercase().contains("alex"));

    // A receiver with another secret refuses (401): retried, as the operator can fix it.
    let other = HookSim::start(HookSimConfig::new("whsec_bm90IHRoZSBzYW1lIHNlY3JldCBhdCBhbGwh")).await.unwrap();
    let wrong = make_sink(SinkKind::Webhook, other.url(), SECRET);
    assert!(matches!(wrong.deliver(&update(PresenceStatus::OutOfOffice)).await, Err(SinkFailure::Retry { .. })));
    assert_eq!(other.rejected(), 1);

    hook.set_fault(Fault::RateLimited { retry_after: Duration::from_secs(7) });
    let failure = sink.deliver(&back).await.unwrap_err();
    assert_eq!(failure, SinkFailure::Retry { reason: "HTTP 429".into(), after: Some(Duration::from_secs(7)) });
    hook.set_fault(Fault::Status(410));
    assert!(matches!(sink.deliver(&back).await, Err(SinkFailure::Skip { .. })));
    hook.stop().await;
    let failure = sink.deliver(&back).await.unwrap_err();
    // A pooled connection may be the one that breaks, rather than a new one being refused.
    assert!(matches!(&failure, SinkFailure::Retry { after: None, .. }), "{failure:?}");
}

#[test]
fn a_webhook_secret_must_be_whsec_base64_of_24_to_64_bytes() {
    assert!(webhook::key_of(SECRET).is_ok());
    assert!(webhook::key_of("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    for bad in ["", "whsec_", "whsec_not base64!", "whsec_c2hvcnQ="] {
        assert!(webhook::key_of(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn the_mattermost_sink_finds_the_user_by_address_once_and_sets_and_clears_the_status() {
    let sim = MattermostSim::start(MattermostSimConfig::default()).await.unwrap();
    sim.add_token(TOKEN);
    let id = sim.add_user("alex", "alex.wilber@contoso.example");
    let sink = make_sink(SinkKind::Mattermost, sim.url(), TOKEN);
    let away = update(PresenceStatus::OutOfOffice);
    sink.deliver(&away).await.unwrap();
    let status = sim.custom_status(&id).expect("a custom status");
    assert_eq!((status.emoji.as_str(), status.text.as_str()), ("palm_tree", DEFAULT_TEXT));
    assert_eq!(status.expires_at.map(|t| t.timestamp()), away.until.map(|t| t.timestamp()));
    sink.deliver(&update(PresenceStatus::Available)).await.unwrap();
    assert_eq!(sim.custom_status(&id), None);
    assert_eq!(sim.email_lookups(), 1, "the user id is remembered");

    // A window already over gets no expiry (Mattermost refuses one in the past).
    let mut late = update(PresenceStatus::OutOfOffice);
    late.until = Some(Utc::now() - chrono::Duration::hours(1));
    sink.deliver(&late).await.unwrap();
    assert_eq!(sim.custom_status(&id).and_then(|s| s.expires_at), None);

    let mut stranger = update(PresenceStatus::OutOfOffice);
    stranger.address = Some("nobody@contoso.example".into());
    assert_eq!(
        sink.deliver(&stranger).await,
        Err(SinkFailure::Skip { reason: "HTTP 404 app.user.missing_account.const".into() })
    );
    let mut mapped = update(PresenceStatus::OutOfOffice);
    mapped.sink_user = Some(id.clone());
    mapped.address = None;
    sink.deliver(&mapped).await.unwrap();
    assert_eq!(sim.email_lookups(), 2);

    let refused = make_sink(SinkKind::Mattermost, sim.url(), "wrong-token");
    assert!(matches!(refused.deliver(&mapped).await, Err(SinkFailure::Retry { reason, .. }) if reason.contains("401")));
    sim.set_down(true);
    assert!(matches!(sink.deliver(&mapped).await, Err(SinkFailure::Retry { reason, .. }) if reason == "HTTP 503"));
}

#[tokio::test]
async fn the_slack_sink_sets_the_profile_status_and_reads_slacks_ok_false_errors() {
    let sim = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    sim.add_token(TOKEN);
    let id = sim.add_user("alex", "alex.wilber@contoso.example");
    let sink = make_sink(SinkKind::Slack, &sim.url(), TOKEN);
    let away = update(PresenceStatus::OutOfOffice);
    sink.deliver(&away).await.unwrap();
    let status = sim.status(&id).unwrap();
    assert_eq!(status.status_text, DEFAULT_TEXT);
    assert_eq!(status.status_emoji, ":palm_tree:");
    assert_eq!(Some(status.status_expiration), away.until.map(|t| t.timestamp()));
    sink.deliver(&update(PresenceStatus::Available)).await.unwrap();
    let cleared = sim.status(&id).unwrap();
    assert_eq!((cleared.status_text.as_str(), cleared.status_emoji.as_str(), cleared.status_expiration), ("", "", 0));
    assert_eq!((sim.email_lookups(), sim.profile_sets()), (1, 2));

    let mut stranger = update(PresenceStatus::OutOfOffice);
    stranger.address = Some("nobody@contoso.example".into());
    assert_eq!(sink.deliver(&stranger).await, Err(SinkFailure::Skip { reason: "users_not_found".into() }));
    let refused = make_sink(SinkKind::Slack, &sim.url(), "xoxp-wrong");
    assert_eq!(
        refused.deliver(&away).await,
        Err(SinkFailure::Retry { reason: "invalid_auth: credentials refused".into(), after: None })
    );
    sim.set_fault(Fault::RateLimited { retry_after: Duration::from_secs(30) });
    assert_eq!(
        sink.deliver(&away).await,
        Err(SinkFailure::Retry { reason: "HTTP 429 ratelimited".into(), after: Some(Duration::from_secs(30)) })
    );
}

#[test]
fn build_refuses_what_cannot_work() {
    let config = |kind, url: Option<&str>| SinkConfig {
        name: None,
        kind,
        url: url.map(str::to_owned),
        secret_env: "X".into(),
        server_name: None,
        text: None,
        emoji: None,
    };
    let https = Some("https://tools.example.org");
    assert!(build(&config(SinkKind::Webhook, https), "not a secret".into()).is_err());
    assert!(build(&config(SinkKind::Mattermost, https), " ".into()).is_err());
    assert!(build(&config(SinkKind::Matrix, None), "@a:b=c".into()).is_err());
    assert!(build(&config(SinkKind::Matrix, Some("ftp://x")), "@a:b=c".into()).is_err());
    assert!(build(&config(SinkKind::Slack, None), "xoxp-1".into()).is_ok(), "Slack has a default URL");
    assert!(build(&config(SinkKind::Matrix, https), "@a:b=c".into()).is_ok());
}

#[tokio::test]
async fn the_matrix_sink_sets_presence_on_a_real_synapse() {
    use hcal_sim::synapse::Homeserver;
    if !Homeserver::usable_for("the_matrix_sink_sets_presence_on_a_real_synapse") {
        return;
    }
    let hs = tokio::task::spawn_blocking(Homeserver::start).await.unwrap().unwrap();
    let alex = hs.register("alex.wilber", "correct horse battery").await.unwrap();
    let sam = hs.register("sam", "staple battery horse").await.unwrap();
    let (alex_id, sam_id) = (hs.user_id("alex.wilber"), hs.user_id("sam"));
    let config = SinkConfig {
        name: None,
        kind: SinkKind::Matrix,
        url: Some(hs.url()),
        secret_env: "UNUSED".into(),
        server_name: Some(hs.server_name().to_owned()),
        text: Some("Away until Friday".into()),
        emoji: None,
    };
    let sink = build(&config, format!("{alex_id}={alex}")).unwrap();

    // Alex has no map entry: the id comes from the address's local part and the server name.
    sink.deliver(&update(PresenceStatus::OutOfOffice)).await.unwrap();
    let seen = hs.presence(&alex, &alex_id).await.unwrap();
    assert_eq!(seen["presence"], "unavailable", "{seen}");
    assert_eq!(seen["status_msg"], "Away until Friday", "{seen}");
    sink.deliver(&update(PresenceStatus::Available)).await.unwrap();
    let seen = hs.presence(&alex, &alex_id).await.unwrap();
    assert_eq!(seen["presence"], "online", "{seen}");
    assert!(seen["status_msg"].as_str().unwrap_or_default().is_empty(), "{seen}");

    // A user the secret holds no token for is skipped; a token Synapse never issued is retried.
    let mut other = update(PresenceStatus::OutOfOffice);
    other.sink_user = Some(sam_id.clone());
    assert!(matches!(sink.deliver(&other).await, Err(SinkFailure::Skip { .. })));
    // A user's own token that Synapse does not know concerns that user only: skipped.
    let stale = build(&config, format!("{sam_id}=syt_not_a_token")).unwrap();
    assert_eq!(
        stale.deliver(&other).await,
        Err(SinkFailure::Skip { reason: "HTTP 401 M_UNKNOWN_TOKEN for this user".into() })
    );
    // Sam's own token sets Sam's presence through the map entry.
    let sams = build(&config, format!("{sam_id}={sam}")).unwrap();
    sams.deliver(&other).await.unwrap();
    assert_eq!(hs.presence(&sam, &sam_id).await.unwrap()["presence"], "unavailable");

    // One application service token acts for every user, naming each with ?user_id=.
    let service = build(&config, hs.appservice_token().to_owned()).unwrap();
    let mut back = update(PresenceStatus::Available);
    back.sink_user = Some(sam_id.clone());
    service.deliver(&back).await.unwrap();
    assert_eq!(hs.presence(&sam, &sam_id).await.unwrap()["presence"], "online");
    let casey = hs.register("casey", "a third long password").await.unwrap();
    let mut away = update(PresenceStatus::OutOfOffice);
    away.sink_user = Some(hs.user_id("casey"));
    service.deliver(&away).await.unwrap();
    let seen = hs.presence(&casey, &hs.user_id("casey")).await.unwrap();
    assert_eq!((&seen["presence"], &seen["status_msg"]), (&json!("unavailable"), &json!("Away until Friday")));
    // Synapse shows the most available of a user's devices: Alex's own session said online
    // a moment ago, so Alex shows online, with hcal's status message.
    service.deliver(&update(PresenceStatus::OutOfOffice)).await.unwrap();
    let seen = hs.presence(&alex, &alex_id).await.unwrap();
    assert_eq!((&seen["presence"], &seen["status_msg"]), (&json!("online"), &json!("Away until Friday")));
    // A user the homeserver does not know is skipped, not retried forever.
    let mut stranger = update(PresenceStatus::OutOfOffice);
    stranger.address = Some("nobody@contoso.example".into());
    assert_eq!(
        service.deliver(&stranger).await,
        Err(SinkFailure::Skip { reason: "HTTP 403 M_FORBIDDEN for this user".into() })
    );
    // The application service token refused concerns everyone: retried.
    let broken = build(&config, "as_not_registered".into()).unwrap();
    assert!(matches!(broken.deliver(&away).await, Err(SinkFailure::Retry { reason, .. }) if reason.contains("401")));
}

//! Subscriptions and change notifications: the validation handshake, input checks, renew /
//! reauthorize / delete / expiry, batched deliveries with Graph's item shape, retries, drops
//! with `missed`, lifecycle notifications and the notification faults.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hcal_sim::graph::{FaultConfig, GraphSim, GraphSimConfig, LifecycleEvent, ResourceCasing, Stats};
use serde_json::{Value, json};
use support::{Answer, Fixture, Receiver, assert_graph_error, event, subscribe};

/// Knobs shortened so deliveries, retries and drops happen within milliseconds.
fn fast() -> GraphSimConfig {
    GraphSimConfig {
        batch_delay: Duration::from_millis(50),
        retry_initial: Duration::from_millis(100),
        retry_max: Duration::from_millis(200),
        ..GraphSimConfig::default()
    }
}

fn expiry_in(sim: &GraphSim, minutes: i64) -> String {
    (sim.now() + chrono::Duration::minutes(minutes)).to_rfc3339()
}

/// A subscription body on `user`'s events.
fn sub_body(f: &Fixture, notification_url: &str, lifecycle_url: Option<&str>, user: &str) -> Value {
    let mut body = json!({
        "changeType": "created,updated,deleted",
        "notificationUrl": notification_url,
        "resource": format!("/users/{user}/events"),
        "expirationDateTime": expiry_in(&f.sim, 4000),
        "clientState": "secret-client-state",
    });
    if let Some(url) = lifecycle_url {
        body["lifecycleNotificationUrl"] = json!(url);
    }
    body
}

fn instant(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("date-time string expected, got {v}"));
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&Utc)
}

fn assert_close(a: DateTime<Utc>, b: DateTime<Utc>) {
    assert!((a - b).num_milliseconds().abs() <= 1, "{a} != {b}");
}

/// Asserts the headers Graph puts on every JSON answer.
fn assert_json_headers(resp: &reqwest::Response) {
    assert!(resp.headers().contains_key("request-id"), "request-id header");
    assert!(resp.headers().contains_key("client-request-id"), "client-request-id header");
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(ct.starts_with("application/json"), "content type {ct}");
}

/// Asserts the 400 of a failed validation handshake.
async fn assert_validation_failed(resp: reqwest::Response) {
    let body = assert_graph_error(resp, 400, "InvalidRequest").await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Subscription validation request failed."), "{message}");
}

async fn wait_stats(sim: &GraphSim, timeout: Duration, pred: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + timeout;
    loop {
        let stats = sim.stats();
        if pred(&stats) || Instant::now() >= deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts one change notification item against Graph's documented shape.
fn assert_change_item(item: &Value, sub: &Value, tenant: &str, user: &str, event_id: &str, change_type: &str) {
    let keys: Vec<&str> = item.as_object().into_iter().flat_map(|o| o.keys().map(String::as_str)).collect();
    for key in [
        "subscriptionId",
        "subscriptionExpirationDateTime",
        "changeType",
        "resource",
        "resourceData",
        "clientState",
        "tenantId",
    ] {
        assert!(keys.contains(&key), "{key} missing in {item}");
    }
    assert_eq!(item["subscriptionId"], sub["id"]);
    assert_close(instant(&item["subscriptionExpirationDateTime"]), instant(&sub["expirationDateTime"]));
    assert_eq!(item["changeType"], change_type);
    let resource = format!("Users/{user}/Events/{event_id}");
    assert_eq!(item["resource"], resource);
    assert_eq!(item["clientState"], "secret-client-state");
    assert_eq!(item["tenantId"], tenant);
    let data = &item["resourceData"];
    assert_eq!(data["@odata.type"], "#Microsoft.Graph.Event");
    assert_eq!(data["@odata.id"], resource);
    assert_eq!(data["id"], event_id);
    if change_type != "deleted" {
        let etag = data["@odata.etag"].as_str().unwrap_or_default();
        assert!(etag.starts_with("W/\"") && etag.ends_with('"') && etag.len() > 4, "{etag}");
    }
}

// ---------------------------------------------------------------------------------------------
// Creation and the validation handshake
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_handshake_then_201_with_the_subscription() {
    let f = Fixture::new().await;
    let rx = Receiver::start().await;
    let notification_url = format!("{}/notify?tenant=t1", rx.url);
    let lifecycle_url = format!("{}/lifecycle", rx.url);
    let body = sub_body(&f, &notification_url, Some(&lifecycle_url), &f.alice);
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_json_headers(&resp);
    let sub: Value = resp.json().await.unwrap();

    // Both URLs were validated, the notification URL first, with its query string kept.
    let got = rx.all();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].path, "/notify");
    assert!(got[0].query.contains(&("tenant".into(), "t1".into())), "{:?}", got[0].query);
    assert_eq!(got[1].path, "/lifecycle");
    for validation in &got {
        let token = validation.validation_token().expect("validationToken parameter");
        assert!(token.starts_with("Validation:") && token.contains(' '), "decoded token: {token}");
        assert_eq!(validation.content_type, "text/plain; charset=utf-8");
        assert!(validation.body.is_empty(), "validation body: {}", validation.body);
    }
    assert_ne!(got[0].validation_token(), got[1].validation_token(), "a fresh token per validation");
    assert_eq!(f.sim.stats().validations, 2);

    let id = sub["id"].as_str().unwrap();
    assert!(uuid_like(id), "{id}");
    assert_eq!(sub["resource"], format!("/users/{}/events", f.alice));
    assert_eq!(sub["applicationId"], f.client_id);
    assert_eq!(sub["changeType"], "created,updated,deleted");
    assert_eq!(sub["clientState"], "secret-client-state");
    assert_eq!(sub["notificationUrl"], notification_url);
    assert_eq!(sub["lifecycleNotificationUrl"], lifecycle_url);
    let expiration = sub["expirationDateTime"].as_str().unwrap();
    assert!(expiration.ends_with('Z'), "{expiration}");
    assert_close(instant(&sub["expirationDateTime"]), instant(&body["expirationDateTime"]));
    assert!(sub["creatorId"].as_str().is_some_and(|c| !c.is_empty()), "{sub}");
    assert_eq!(sub["includeResourceData"], false);
    assert_eq!(sub["latestSupportedTlsVersion"], "v1_2");
    assert!(sub.as_object().unwrap().contains_key("encryptionCertificate"), "{sub}");
    assert!(sub.as_object().unwrap().contains_key("encryptionCertificateId"), "{sub}");

    let live = f.sim.subscriptions();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["id"], id);
    assert_eq!(live[0]["userId"], f.alice);
}

fn uuid_like(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_url_equal_to_notification_url_is_validated_twice() {
    let f = Fixture::new().await;
    let rx = Receiver::start().await;
    let url = format!("{}/hook?x=1", rx.url);
    let resp = f.post("/subscriptions", &sub_body(&f, &url, Some(&url), &f.alice)).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();
    assert_eq!(sub["notificationUrl"], url);
    assert_eq!(sub["lifecycleNotificationUrl"], url);
    let got = rx.all();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|r| r.path == "/hook" && r.validation_token().is_some()));
    assert_eq!(f.sim.stats().validations, 2);

    // Without a lifecycle URL only the notification URL is validated.
    let rx2 = Receiver::start().await;
    let resp = f.post("/subscriptions", &sub_body(&f, &format!("{}/n", rx2.url), None, &f.alice)).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();
    assert_eq!(sub["lifecycleNotificationUrl"], Value::Null);
    assert_eq!(rx2.all().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validations_answer_400_and_create_nothing() {
    let config = GraphSimConfig { validation_timeout: Duration::from_millis(300), ..GraphSimConfig::default() };
    let f = Fixture::with(config).await;

    // The receiver echoes the wrong token.
    let rx = Receiver::with_plan(vec![Answer::WrongToken]).await;
    let resp = f.post("/subscriptions", &sub_body(&f, &format!("{}/n", rx.url), None, &f.alice)).send().await.unwrap();
    assert_validation_failed(resp).await;
    assert_eq!(rx.all().len(), 1);

    // The receiver answers the token as JSON instead of text/plain.
    let rx = Receiver::with_plan(vec![Answer::JsonToken]).await;
    let resp = f.post("/subscriptions", &sub_body(&f, &format!("{}/n", rx.url), None, &f.alice)).send().await.unwrap();
    assert_validation_failed(resp).await;

    // The receiver answers after the validation timeout.
    let rx = Receiver::with_plan(vec![Answer::Slow(Duration::from_millis(1000))]).await;
    let started = Instant::now();
    let resp = f.post("/subscriptions", &sub_body(&f, &format!("{}/n", rx.url), None, &f.alice)).send().await.unwrap();
    let took = started.elapsed();
    assert_validation_failed(resp).await;
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1000), "took {took:?}");

    // Nobody listens on the URL.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let resp =
        f.post("/subscriptions", &sub_body(&f, &format!("http://127.0.0.1:{closed}/n"), None, &f.alice)).send().await;
    assert_validation_failed(resp.unwrap()).await;

    // The notification URL validates, the lifecycle URL does not.
    let rx = Receiver::with_plan(vec![Answer::Correct, Answer::WrongToken]).await;
    let body = sub_body(&f, &format!("{}/n", rx.url), Some(&format!("{}/l", rx.url)), &f.alice);
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    assert_validation_failed(resp).await;
    assert_eq!(rx.all().len(), 2);

    assert!(f.sim.subscriptions().is_empty(), "{:?}", f.sim.subscriptions());
    let list: Value = f.get("/subscriptions").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["value"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_refused_before_any_validation() {
    let f = Fixture::new().await;
    let rx = Receiver::start().await;
    let url = format!("{}/n", rx.url);
    let base = sub_body(&f, &url, None, &f.alice);

    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            with("expirationDateTime", json!(expiry_in(&f.sim, 10_071))),
            400,
            "InvalidRequest",
            Some("Subscription expiration can only be 10070 minutes in the future."),
        ),
        (with("expirationDateTime", json!(expiry_in(&f.sim, -5))), 400, "InvalidRequest", None),
        (with("expirationDateTime", json!("not a date")), 400, "InvalidRequest", None),
        (with("clientState", json!("x".repeat(129))), 400, "InvalidRequest", None),
        (with("changeType", json!("created,moved")), 400, "InvalidRequest", None),
        (with("notificationUrl", json!("http://hooks.example.com/n")), 400, "InvalidRequest", None),
        (with("lifecycleNotificationUrl", json!("http://hooks.example.com/l")), 400, "InvalidRequest", None),
        (with("includeResourceData", json!(true)), 400, "InvalidRequest", None),
        (with("resource", json!("/me/events")), 400, "BadRequest", None),
    ];
    for (body, status, code, message) in cases {
        let resp = f.post("/subscriptions", &body).send().await.unwrap();
        let err = assert_graph_error(resp, status, code).await;
        if let Some(message) = message {
            assert_eq!(err["error"]["message"], message, "for {body}");
        }
    }
    assert!(rx.all().is_empty(), "no validation for refused input: {:?}", rx.all());
    assert_eq!(f.sim.stats().validations, 0);
    assert!(f.sim.subscriptions().is_empty());

    // The limits themselves are accepted: 128 characters of clientState, 10,070 minutes.
    let mut ok = with("clientState", json!("x".repeat(128)));
    ok["expirationDateTime"] = json!(expiry_in(&f.sim, 10_069));
    let resp = f.post("/subscriptions", &ok).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();
    assert_eq!(sub["clientState"].as_str().unwrap().len(), 128);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_outside_the_access_policy_is_refused() {
    let f = Fixture::new().await;
    let rx = Receiver::start().await;
    f.sim.set_in_policy(&f.alice, false);
    let resp = f.post("/subscriptions", &sub_body(&f, &format!("{}/n", rx.url), None, &f.alice)).send().await.unwrap();
    let err = assert_graph_error(resp, 403, "ErrorAccessDenied").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("[RAOP]"), "{err}");
    assert!(rx.all().is_empty());
    assert!(f.sim.subscriptions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rich_notifications_are_limited_to_1440_minutes() {
    let f = Fixture::new().await;
    let rx = Receiver::start().await;
    let mut body = sub_body(&f, &format!("{}/n", rx.url), None, &f.alice);
    body["includeResourceData"] = json!(true);
    body["encryptionCertificate"] = json!("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA");
    body["encryptionCertificateId"] = json!("hcal-cert-1");
    body["expirationDateTime"] = json!(expiry_in(&f.sim, 1500));
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    let err = assert_graph_error(resp, 400, "InvalidRequest").await;
    assert_eq!(err["error"]["message"], "Subscription expiration can only be 1440 minutes in the future.");

    body["expirationDateTime"] = json!(expiry_in(&f.sim, 1400));
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();
    assert_eq!(sub["includeResourceData"], true);
    assert_eq!(sub["encryptionCertificateId"], "hcal-cert-1");
    let id = sub["id"].as_str().unwrap();
    let resp =
        f.patch(&format!("/subscriptions/{id}"), &json!({"expirationDateTime": expiry_in(&f.sim, 2000)})).send().await;
    assert_graph_error(resp.unwrap(), 400, "InvalidRequest").await;
}

// ---------------------------------------------------------------------------------------------
// Renew, reauthorize, list, delete, expiry
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_reauthorize_list_and_delete() {
    let f = Fixture::new().await;
    let rx = Receiver::start().await;
    let sub = subscribe(&f, &rx, &f.alice, false).await;
    let id = sub["id"].as_str().unwrap();
    let path = format!("/subscriptions/{id}");

    // Renew.
    let renewed_to = expiry_in(&f.sim, 10_000);
    let resp = f.patch(&path, &json!({"expirationDateTime": renewed_to})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_json_headers(&resp);
    let renewed: Value = resp.json().await.unwrap();
    assert_eq!(renewed["id"], id);
    assert_close(instant(&renewed["expirationDateTime"]), instant(&json!(renewed_to)));
    assert_eq!(renewed["notificationUrl"], sub["notificationUrl"]);
    assert_eq!(renewed["clientState"], "secret-client-state");
    let got: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["expirationDateTime"], renewed["expirationDateTime"]);

    // Beyond the cap, and in the past.
    let resp = f.patch(&path, &json!({"expirationDateTime": expiry_in(&f.sim, 10_071)})).send().await.unwrap();
    let err = assert_graph_error(resp, 400, "InvalidRequest").await;
    assert_eq!(err["error"]["message"], "Subscription expiration can only be 10070 minutes in the future.");
    let resp = f.patch(&path, &json!({"expirationDateTime": expiry_in(&f.sim, -1)})).send().await.unwrap();
    assert_graph_error(resp, 400, "InvalidRequest").await;

    // A lifecycle URL cannot be added afterwards.
    let body =
        json!({"expirationDateTime": expiry_in(&f.sim, 5000), "lifecycleNotificationUrl": format!("{}/l", rx.url)});
    let resp = f.patch(&path, &body).send().await.unwrap();
    assert_graph_error(resp, 400, "InvalidRequest").await;
    let got: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["lifecycleNotificationUrl"], Value::Null);
    assert_eq!(got["expirationDateTime"], renewed["expirationDateTime"], "a refused PATCH changes nothing");

    // Reauthorize.
    let resp = f.http.post(f.url(&format!("{path}/reauthorize"))).bearer_auth(&f.token).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.headers().contains_key("request-id"));
    assert!(resp.bytes().await.unwrap().is_empty());

    // List.
    let resp = f.get("/subscriptions").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_json_headers(&resp);
    let list: Value = resp.json().await.unwrap();
    let value = list["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["id"], id);
    assert_eq!(value[0]["resource"], sub["resource"]);

    // Delete, then it is gone.
    let resp = f.delete(&path).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_graph_error(f.get(&path).send().await.unwrap(), 404, "ResourceNotFound").await;
    assert_graph_error(f.delete(&path).send().await.unwrap(), 404, "ResourceNotFound").await;
    let resp = f.patch(&path, &json!({"expirationDateTime": expiry_in(&f.sim, 100)})).send().await.unwrap();
    assert_graph_error(resp, 404, "ResourceNotFound").await;
    let list: Value = f.get("/subscriptions").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["value"], json!([]));
    assert!(f.sim.subscriptions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_subscription_disappears_silently() {
    let f = Fixture::with(fast()).await;
    let rx = Receiver::start().await;
    let mut body = sub_body(&f, &format!("{}/notify", rx.url), Some(&format!("{}/lifecycle", rx.url)), &f.alice);
    body["expirationDateTime"] = json!(expiry_in(&f.sim, 5));
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();
    let id = sub["id"].as_str().unwrap();

    f.sim.advance_clock(Duration::from_secs(6 * 60));
    assert!(f.sim.subscriptions().is_empty());
    assert_graph_error(f.get(&format!("/subscriptions/{id}")).send().await.unwrap(), 404, "ResourceNotFound").await;
    assert_eq!(f.sim.stats().subscriptions_expired, 1);

    f.sim.create_event(&f.alice, event("After expiry", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Only the two validations: no change notification, no lifecycle notification.
    assert_eq!(rx.all().len(), 2, "{:?}", rx.all());
    let stats = f.sim.stats();
    assert_eq!((stats.notifications_delivered, stats.lifecycle_delivered, stats.notifications_dropped), (0, 0, 0));
}

/// Follows `@odata.nextLink` from `GET /subscriptions` with `token`; returns every page.
async fn list_pages(f: &Fixture, token: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut url = f.url("/subscriptions");
    loop {
        let resp = f.http.get(&url).bearer_auth(token).send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.status(), 200, "{url}");
        assert_json_headers(&resp);
        let page: Value = resp.json().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let next = page["@odata.nextLink"].as_str().map(str::to_owned);
        pages.push(page);
        match next {
            Some(next) => url = next,
            None => return pages,
        }
        assert!(pages.len() < 100, "the next links never end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_only_the_callers_own_subscriptions_in_its_tenant_paged_and_without_client_states() {
    let f = Fixture::with(GraphSimConfig { subscription_page_size: 2, ..GraphSimConfig::default() }).await;
    let rx = Receiver::start().await;
    let mut own = Vec::new();
    for user in [&f.alice, &f.bob, &f.alice, &f.room, &f.bob] {
        own.push(subscribe(&f, &rx, user, true).await["id"].as_str().unwrap().to_owned());
    }
    own.sort();
    // Another application of the same tenant subscribes to alice too.
    let (other_app, other_secret) = f.sim.add_app(None, None, vec![]);
    f.sim.consent(&other_app, &f.tenant).unwrap();
    let other_token = support::token(&f.http, f.sim.url(), &f.tenant, &other_app, &other_secret).await;
    let body = sub_body(&f, &format!("{}/notify", rx.url), None, &f.alice);
    let resp = f.http.post(f.url("/subscriptions")).bearer_auth(&other_token).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let foreign_app: Value = resp.json().await.unwrap();
    // The same application in another tenant.
    let fabrikam = f.sim.add_tenant("fabrikam.example");
    f.sim.consent(&f.client_id, &fabrikam).unwrap();
    let erin = f.sim.add_user(&hcal_sim::graph::UserSpec::new(&fabrikam, "Erin Ek", "erin@fabrikam.example")).unwrap();
    let fabrikam_token = support::token(&f.http, f.sim.url(), &fabrikam, &f.client_id, &f.secret).await;
    let body = sub_body(&f, &format!("{}/notify", rx.url), None, &erin);
    let resp = f.http.post(f.url("/subscriptions")).bearer_auth(&fabrikam_token).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let foreign_tenant: Value = resp.json().await.unwrap();

    // Five of the app's own in pages of two, in the documented shape.
    let pages = list_pages(&f, &f.token).await;
    assert_eq!(pages.iter().map(|p| p["value"].as_array().unwrap().len()).collect::<Vec<_>>(), vec![2, 2, 1]);
    let mut listed = Vec::new();
    for page in &pages {
        assert_eq!(page["@odata.context"], format!("{}/v1.0/$metadata#subscriptions", f.sim.url()));
        for item in page["value"].as_array().unwrap() {
            assert!(item.get("@odata.context").is_none(), "no context per item: {item}");
            assert_eq!(item["clientState"], Value::Null, "the client state is never listed");
            assert_eq!(item["applicationId"], f.client_id.as_str());
            assert_eq!(item["notificationUrl"], format!("{}/notify?tenant=t1", rx.url));
            assert_eq!(item["lifecycleNotificationUrl"], format!("{}/lifecycle", rx.url));
            assert_eq!(item["changeType"], "created,updated,deleted");
            assert!(item["resource"].as_str().unwrap().ends_with("/events"), "{item}");
            assert!(item["creatorId"].is_string() && item["expirationDateTime"].is_string(), "{item}");
            listed.push(item["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(listed, own, "each once, in order");
    assert!(!listed.iter().any(|id| *id == foreign_app["id"] || *id == foreign_tenant["id"]));
    // A GET of one still has its client state.
    let got: Value = f.get(&format!("/subscriptions/{}", own[0])).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["clientState"], "secret-client-state");

    // The other app and the other tenant see theirs alone.
    let theirs = list_pages(&f, &other_token).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["value"].as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["value"][0]["id"], foreign_app["id"]);
    let theirs = list_pages(&f, &fabrikam_token).await;
    assert_eq!(theirs[0]["value"].as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["value"][0]["id"], foreign_tenant["id"]);

    // A subscription deleted between two pages does not make the next page skip one.
    let first: Value = f.get("/subscriptions").send().await.unwrap().json().await.unwrap();
    let next = first["@odata.nextLink"].as_str().unwrap().to_owned();
    assert_eq!(f.delete(&format!("/subscriptions/{}", own[1])).send().await.unwrap().status(), 204);
    let second: Value = f.http.get(&next).bearer_auth(&f.token).send().await.unwrap().json().await.unwrap();
    assert_eq!(second["value"][0]["id"], own[2].as_str());

    // No OData query options.
    for query in ["$top=1", "$select=id", "$filter=resource%20eq%20'x'"] {
        let resp = f.get(&format!("/subscriptions?{query}")).send().await.unwrap();
        let err = assert_graph_error(resp, 400, "BadRequest").await;
        assert!(err["error"]["message"].as_str().unwrap().contains("is not allowed"), "{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Change notifications
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_arrive_batched_with_graph_item_shape() {
    let config = GraphSimConfig { batch_delay: Duration::from_millis(200), ..fast() };
    let f = Fixture::with(config).await;
    let rx = Receiver::start().await;
    let sub = subscribe(&f, &rx, &f.alice, false).await;

    let mut ids = Vec::new();
    for n in 0..3 {
        let ev = f
            .sim
            .create_event(&f.alice, event(&format!("Batch {n}"), "2026-12-01T09:00:00", "2026-12-01T10:00:00"))
            .await
            .unwrap();
        ids.push((ev["id"].as_str().unwrap().to_owned(), ev["@odata.etag"].as_str().unwrap().to_owned()));
    }
    assert!(rx.wait(Duration::from_secs(3), |r| r.items("/notify").len() >= 3).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let posts = rx.notifications("/notify");
    assert_eq!(posts.len(), 1, "one POST for the three changes: {posts:?}");
    let post = &posts[0];
    assert!(post.content_type.starts_with("application/json"), "{}", post.content_type);
    assert_eq!(post.query, vec![("tenant".to_owned(), "t1".to_owned())], "query string preserved");
    let body = post.json();
    assert_eq!(body.as_object().unwrap().len(), 1, "only `value`: {body}");
    let items = body["value"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for (id, etag) in &ids {
        let item = items.iter().find(|i| i["resourceData"]["id"] == id.as_str()).expect("item per event");
        assert_change_item(item, &sub, &f.tenant, &f.alice, id, "created");
        assert_eq!(item["resourceData"]["@odata.etag"], etag.as_str(), "etag of the created event");
        assert!(item.get("lifecycleEvent").is_none());
    }

    // The user edits and deletes.
    let (first, _) = &ids[0];
    let (second, _) = &ids[1];
    let updated = f.sim.update_event(&f.alice, first, json!({"subject": "Renamed"})).await.unwrap();
    f.sim.delete_event(&f.alice, second).await.unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| r.items("/notify").len() >= 5).await);
    let items = rx.items("/notify");
    let update = items.iter().find(|i| i["changeType"] == "updated").expect("updated item");
    assert_change_item(update, &sub, &f.tenant, &f.alice, first, "updated");
    assert_eq!(update["resourceData"]["@odata.etag"], updated["@odata.etag"]);
    let delete = items.iter().find(|i| i["changeType"] == "deleted").expect("deleted item");
    assert_change_item(delete, &sub, &f.tenant, &f.alice, second, "deleted");

    // hcal's own PATCH through the API is notified too (its echo).
    let path = format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(first));
    let resp = f.patch(&path, &json!({"subject": "Renamed by hcal"})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let patched: Value = resp.json().await.unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| r.items("/notify").len() >= 6).await);
    let items = rx.items("/notify");
    let echo = items.last().unwrap();
    assert_change_item(echo, &sub, &f.tenant, &f.alice, first, "updated");
    assert_eq!(echo["resourceData"]["@odata.etag"], patched["@odata.etag"]);

    let stats = wait_stats(&f.sim, Duration::from_secs(2), |s| s.notifications_delivered >= 6).await;
    assert_eq!(stats.notifications_delivered, 6);
    assert_eq!(stats.delivery_failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_post_carries_notifications_of_several_subscriptions() {
    let config = GraphSimConfig { batch_delay: Duration::from_millis(200), ..fast() };
    let f = Fixture::with(config).await;
    let rx = Receiver::start().await;
    let for_alice = subscribe(&f, &rx, &f.alice, false).await;
    let for_bob = subscribe(&f, &rx, &f.bob, false).await;
    let a = f.sim.create_event(&f.alice, event("A", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    let b = f.sim.create_event(&f.bob, event("B", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| r.items("/notify").len() >= 2).await);
    let posts = rx.notifications("/notify");
    assert_eq!(posts.len(), 1, "{posts:?}");
    let items = posts[0].json()["value"].as_array().cloned().unwrap();
    let a_item = items.iter().find(|i| i["subscriptionId"] == for_alice["id"]).unwrap();
    let b_item = items.iter().find(|i| i["subscriptionId"] == for_bob["id"]).unwrap();
    assert_change_item(a_item, &for_alice, &f.tenant, &f.alice, a["id"].as_str().unwrap(), "created");
    assert_change_item(b_item, &for_bob, &f.tenant, &f.bob, b["id"].as_str().unwrap(), "created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_subscribed_change_types_are_notified_with_the_current_expiry() {
    let f = Fixture::with(fast()).await;
    let rx = Receiver::start().await;
    let mut body = sub_body(&f, &format!("{}/notify", rx.url), None, &f.alice);
    body["changeType"] = json!("updated");
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();
    assert_eq!(sub["changeType"], "updated");
    let id = sub["id"].as_str().unwrap();
    let renewed: Value = f
        .patch(&format!("/subscriptions/{id}"), &json!({"expirationDateTime": expiry_in(&f.sim, 9000)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let ev = f.sim.create_event(&f.alice, event("Typed", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    let eid = ev["id"].as_str().unwrap();
    f.sim.update_event(&f.alice, eid, json!({"subject": "Typed again"})).await.unwrap();
    f.sim.delete_event(&f.alice, eid).await.unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| !r.items("/notify").is_empty()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let items = rx.items("/notify");
    assert_eq!(items.len(), 1, "only the update: {items:?}");
    assert_change_item(&items[0], &renewed, &f.tenant, &f.alice, eid, "updated");
    assert_close(instant(&items[0]["subscriptionExpirationDateTime"]), instant(&renewed["expirationDateTime"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_resource_casing() {
    let config = GraphSimConfig { resource_casing: ResourceCasing::Lower, ..fast() };
    let f = Fixture::with(config).await;
    let rx = Receiver::start().await;
    subscribe(&f, &rx, &f.alice, false).await;
    let ev = f.sim.create_event(&f.alice, event("Lower", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    let id = ev["id"].as_str().unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| !r.items("/notify").is_empty()).await);
    let item = &rx.items("/notify")[0];
    let resource = format!("users/{}/events/{id}", f.alice);
    assert_eq!(item["resource"], resource);
    assert_eq!(item["resourceData"]["@odata.id"], resource);
    assert_eq!(item["resourceData"]["id"], id);
}

// ---------------------------------------------------------------------------------------------
// Delivery failures
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_is_retried_after_a_500() {
    let f = Fixture::with(fast()).await;
    // Validation, then 500 to the first notification, then 202.
    let rx = Receiver::with_plan(vec![Answer::Correct, Answer::Status(500)]).await;
    let sub = subscribe(&f, &rx, &f.alice, false).await;
    let ev = f.sim.create_event(&f.alice, event("Retry", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    let id = ev["id"].as_str().unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| r.notifications("/notify").len() >= 2).await);
    let stats = wait_stats(&f.sim, Duration::from_secs(2), |s| s.notifications_delivered >= 1).await;
    let posts = rx.notifications("/notify");
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[1].at.duration_since(posts[0].at) >= Duration::from_millis(90), "backoff before the retry");
    let items = rx.items("/notify");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], items[1], "the same item is delivered again");
    assert_change_item(&items[1], &sub, &f.tenant, &f.alice, id, "created");
    assert!(stats.delivery_failures >= 1, "{stats:?}");
    assert_eq!(stats.notifications_delivered, 1, "{stats:?}");
    assert_eq!(stats.notifications_dropped, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_receiver_is_retried() {
    let config = GraphSimConfig { delivery_timeout: Duration::from_millis(300), ..fast() };
    let f = Fixture::with(config).await;
    let rx = Receiver::with_plan(vec![Answer::Correct, Answer::Slow(Duration::from_millis(600))]).await;
    let sub = subscribe(&f, &rx, &f.alice, false).await;
    let ev = f.sim.create_event(&f.alice, event("Slow", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    let stats = wait_stats(&f.sim, Duration::from_secs(3), |s| s.notifications_delivered >= 1).await;
    assert_eq!(stats.notifications_delivered, 1, "{stats:?}");
    assert!(stats.delivery_failures >= 1, "{stats:?}");
    let items = rx.items("/notify");
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], items[1]);
    assert_change_item(&items[1], &sub, &f.tenant, &f.alice, ev["id"].as_str().unwrap(), "created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_after_the_retry_window_with_a_missed_lifecycle_notification() {
    let config = GraphSimConfig { retry_window: Duration::from_millis(500), ..fast() };
    let f = Fixture::with(config).await;
    // The notification receiver validates, then fails every delivery.
    let mut plan = vec![Answer::Correct];
    plan.extend(std::iter::repeat_n(Answer::Status(500), 100));
    let failing = Receiver::with_plan(plan).await;
    let lifecycle = Receiver::start().await;
    let body =
        sub_body(&f, &format!("{}/notify", failing.url), Some(&format!("{}/lifecycle", lifecycle.url)), &f.alice);
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();

    f.sim.create_event(&f.alice, event("Lost", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    assert!(lifecycle.wait(Duration::from_secs(5), |r| !r.items("/lifecycle").is_empty()).await);
    let stats = wait_stats(&f.sim, Duration::from_secs(1), |s| s.lifecycle_delivered >= 1).await;
    assert!(stats.notifications_dropped >= 1, "{stats:?}");
    assert_eq!(stats.notifications_delivered, 0, "{stats:?}");
    assert!(stats.delivery_failures >= 2, "{stats:?}");
    assert_eq!(stats.lifecycle_delivered, 1, "{stats:?}");
    assert!(failing.notifications("/notify").len() >= 2, "retried before dropping");

    let items = lifecycle.items("/lifecycle");
    assert_eq!(items.len(), 1, "{items:?}");
    let missed = &items[0];
    assert_eq!(missed["lifecycleEvent"], "missed");
    assert_eq!(missed["subscriptionId"], sub["id"]);
    assert_close(instant(&missed["subscriptionExpirationDateTime"]), instant(&sub["expirationDateTime"]));
    assert_eq!(missed["tenantId"], f.tenant);
    assert_eq!(missed["clientState"], "secret-client-state");
    assert!(missed.get("resource").is_none() && missed.get("resourceData").is_none(), "{missed}");
    // The subscription itself lives on.
    assert_eq!(f.sim.subscriptions().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle notifications
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggered_lifecycle_notifications() {
    let f = Fixture::with(fast()).await;
    let rx = Receiver::start().await;
    let sub = subscribe(&f, &rx, &f.alice, true).await;
    let id = sub["id"].as_str().unwrap();

    let mut expected = Vec::new();
    for event in [LifecycleEvent::ReauthorizationRequired, LifecycleEvent::Missed, LifecycleEvent::SubscriptionRemoved]
    {
        f.sim.trigger_lifecycle(id, event).unwrap();
        expected.push(event.as_str());
        let n = expected.len();
        assert!(rx.wait(Duration::from_secs(3), |r| r.items("/lifecycle").len() >= n).await, "{event:?}");
    }
    let items = rx.items("/lifecycle");
    let events: Vec<&str> = items.iter().map(|i| i["lifecycleEvent"].as_str().unwrap()).collect();
    assert_eq!(events, expected);
    for item in &items {
        let mut keys: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["clientState", "lifecycleEvent", "subscriptionExpirationDateTime", "subscriptionId", "tenantId"],
            "{item}"
        );
        assert_eq!(item["subscriptionId"], id);
        assert_eq!(item["tenantId"], f.tenant);
        assert_eq!(item["clientState"], "secret-client-state");
        assert_close(instant(&item["subscriptionExpirationDateTime"]), instant(&sub["expirationDateTime"]));
    }
    assert!(rx.notifications("/notify").is_empty());
    assert_eq!(f.sim.stats().lifecycle_delivered, 3);

    // subscriptionRemoved removed it.
    assert_graph_error(f.get(&format!("/subscriptions/{id}")).send().await.unwrap(), 404, "ResourceNotFound").await;
    assert!(f.sim.subscriptions().is_empty());
    assert!(f.sim.trigger_lifecycle(id, LifecycleEvent::Missed).is_err());

    // Without a lifecycle URL nothing can be sent, and a refused trigger changes nothing.
    let plain = subscribe(&f, &rx, &f.alice, false).await;
    let plain_id = plain["id"].as_str().unwrap();
    assert!(f.sim.trigger_lifecycle(plain_id, LifecycleEvent::SubscriptionRemoved).is_err());
    assert_eq!(f.sim.subscriptions().len(), 1, "a refused trigger leaves the subscription alone");
    assert_eq!(f.get(&format!("/subscriptions/{plain_id}")).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_and_change_notifications_to_one_url_are_posted_apart() {
    let config = GraphSimConfig { batch_delay: Duration::from_millis(200), ..fast() };
    let f = Fixture::with(config).await;
    let rx = Receiver::start().await;
    let url = format!("{}/hook", rx.url);
    let resp = f.post("/subscriptions", &sub_body(&f, &url, Some(&url), &f.alice)).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let sub: Value = resp.json().await.unwrap();
    let id = sub["id"].as_str().unwrap();

    f.sim.create_event(&f.alice, event("Both", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    f.sim.trigger_lifecycle(id, LifecycleEvent::ReauthorizationRequired).unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| r.items("/hook").len() >= 2).await);
    let stats = wait_stats(&f.sim, Duration::from_secs(1), |s| s.lifecycle_delivered >= 1).await;
    assert_eq!((stats.notifications_delivered, stats.lifecycle_delivered), (1, 1), "{stats:?}");
    for post in rx.notifications("/hook") {
        let items = post.json()["value"].as_array().cloned().unwrap();
        let lifecycle = items.iter().filter(|i| i.get("lifecycleEvent").is_some()).count();
        assert!(lifecycle == 0 || lifecycle == items.len(), "lifecycle and change items mixed in one POST: {items:?}");
    }

    // With deliveries dropped by the fault switch the lifecycle notification still arrives.
    f.sim.set_faults(FaultConfig { drop_notifications: true, ..FaultConfig::default() });
    f.sim.create_event(&f.alice, event("Dropped", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    f.sim.trigger_lifecycle(id, LifecycleEvent::Missed).unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| r.items("/hook").len() >= 3).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let items = rx.items("/hook");
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[2]["lifecycleEvent"], "missed");
    let stats = f.sim.stats();
    assert_eq!((stats.notifications_delivered, stats.notifications_dropped, stats.lifecycle_delivered), (1, 1, 2));
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_notifications_fault() {
    let f = Fixture::with(fast()).await;
    let rx = Receiver::start().await;
    subscribe(&f, &rx, &f.alice, false).await;
    f.sim.set_faults(FaultConfig { drop_notifications: true, ..FaultConfig::default() });
    assert!(f.sim.faults().drop_notifications);
    for n in 0..2 {
        f.sim
            .create_event(&f.alice, event(&format!("D{n}"), "2026-12-01T09:00:00", "2026-12-01T10:00:00"))
            .await
            .unwrap();
    }
    let stats = wait_stats(&f.sim, Duration::from_secs(2), |s| s.notifications_dropped >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.notifications("/notify").is_empty(), "{:?}", rx.all());
    assert_eq!(stats.notifications_dropped, 2, "{stats:?}");
    assert_eq!(f.sim.stats().notifications_delivered, 0);

    // Switched off again, deliveries resume.
    f.sim.set_faults(FaultConfig::default());
    f.sim.create_event(&f.alice, event("After", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    assert!(rx.wait(Duration::from_secs(3), |r| r.items("/notify").len() == 1).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_delay_fault() {
    let f = Fixture::with(fast()).await;
    let rx = Receiver::start().await;
    subscribe(&f, &rx, &f.alice, false).await;
    let delay = Duration::from_millis(700);
    f.sim.set_faults(FaultConfig { notification_delay: delay, ..FaultConfig::default() });
    let started = Instant::now();
    f.sim.create_event(&f.alice, event("Late", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(rx.notifications("/notify").is_empty(), "delivered before the delay");
    assert!(rx.wait(Duration::from_secs(3), |r| !r.notifications("/notify").is_empty()).await);
    let post = &rx.notifications("/notify")[0];
    assert!(post.at.duration_since(started) >= delay, "{:?}", post.at.duration_since(started));
    assert_eq!(
        wait_stats(&f.sim, Duration::from_secs(1), |s| s.notifications_delivered == 1).await.notifications_delivered,
        1
    );
}

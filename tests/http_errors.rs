//! Every endpoint's failing answers, against the `hcal` binary over real HTTP: for each
//! endpoint the requests it can get wrong (no token, wrong token, malformed body, unknown
//! fields, bad path ids, bad query, oversized body, wrong method), each answered with the right
//! status and the one JSON error shape
//! (`{"error": {"code", "message"}}`, `Content-Type: application/json`), none quoting the
//! sentinel planted in the request, and without a token always 401 before anything of the
//! request is parsed. The webhook's batches of forged or unreadable items are not failures: they
//! get an empty 202 like any other batch, and nothing of them is stored.

// Test scaffolding: a failed request should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

use support::{Env, eventually};

/// Planted in paths, queries, bodies, field names, tokens and clientStates.
const SENTINEL: &str = "Sentinel-q7Zk2";

/// Which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// No `Authorization` header.
    None,
    /// A bearer token that is not the API token (the sentinel).
    Wrong,
    /// The API token under another scheme.
    Basic,
    /// The admin token.
    Valid,
    /// The user token issued to the test's first user (alex).
    User,
}

/// One failing request and the answer it must get.
#[derive(Debug, Clone)]
struct Case {
    method: Method,
    path: String,
    auth: Auth,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
}

fn case(method: Method, path: impl Into<String>) -> Case {
    Case { method, path: path.into(), auth: Auth::Valid, content_type: None, body: None, status: 0, code: "" }
}

impl Case {
    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    fn json(mut self, body: impl Into<String>) -> Self {
        self.content_type = Some("application/json");
        self.body = Some(body.into().into_bytes());
        self
    }

    fn raw(mut self, content_type: Option<&'static str>, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = content_type;
        self.body = Some(body.into());
        self
    }

    fn expect(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
}

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with('_')
        && !s.ends_with('_')
}

/// Sends the case and checks status, content type, shape and that nothing sensitive comes back.
async fn check(env: &Env, c: &Case, secrets: &[&str]) -> Value {
    let mut req = env.http.request(c.method.clone(), format!("{}{}", env.url(), c.path));
    req = match c.auth {
        Auth::None => req,
        Auth::Wrong => req.bearer_auth(SENTINEL),
        Auth::Basic => req.header("Authorization", format!("Basic {}", env.api_token)),
        Auth::Valid => req.bearer_auth(&env.api_token),
        Auth::User => req.bearer_auth(env.user_tokens.lock().values().next().cloned().expect("alex's token")),
    };
    if let Some(ct) = c.content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(body) = &c.body {
        req = req.body(body.clone());
    }
    let what = format!("{} {} ({:?}, {} body bytes)", c.method, c.path, c.auth, c.body.as_ref().map_or(0, Vec::len));
    let resp = req.send().await.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    let status = resp.status().as_u16();
    let headers = format!("{:?}", resp.headers());
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    assert_eq!(status, c.status, "{what}: {text}");
    assert_eq!(content_type.as_deref(), Some("application/json"), "{what}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
    let error = body["error"].as_object().unwrap_or_else(|| panic!("{what}: no error object: {text}"));
    let code = error.get("code").and_then(Value::as_str).unwrap_or_default();
    assert!(is_snake_case(code), "{what}: code {code:?}");
    assert_eq!(code, c.code, "{what}: {text}");
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    assert!(!message.trim().is_empty(), "{what}: empty message: {text}");
    assert!(body.as_object().unwrap().len() == 1, "{what}: only `error` at the top: {text}");
    for secret in secrets.iter().chain([&SENTINEL]) {
        let lower = secret.to_lowercase();
        assert!(!text.to_lowercase().contains(&lower), "{what}: the answer quotes {secret:?}: {text}");
        assert!(!headers.to_lowercase().contains(&lower), "{what}: a header quotes {secret:?}: {headers}");
    }
    body
}

/// The cases every endpoint behind the API token shares: without the token, even a request
/// that is wrong in every other way gets 401.
fn unauthorized(method: Method, path: &str, body: Option<&str>) -> Vec<Case> {
    let mut cases = Vec::new();
    for auth in [Auth::None, Auth::Wrong, Auth::Basic] {
        let base = case(method.clone(), path).auth(auth);
        cases.push(match body {
            Some(b) => base.json(b),
            None => base,
        });
        // A broken body, unknown fields, a bad query and an oversized body are not looked at.
        cases.push(case(method.clone(), path).auth(auth).json("{\"userId\": "));
        cases.push(case(method.clone(), path).auth(auth).json(format!("{{\"{SENTINEL}\": \"{SENTINEL}\"}}")));
        cases.push(case(method.clone(), format!("{path}?from={SENTINEL}&to={SENTINEL}")).auth(auth));
        cases.push(case(method.clone(), path).auth(auth).json(oversized()));
        cases.push(case(method.clone(), path).auth(auth).raw(Some("text/plain"), SENTINEL));
    }
    cases.into_iter().map(|c| c.expect(401, "unauthorized")).collect()
}

/// A JSON body over the test configuration's `max_body_bytes` (65 536).
fn oversized() -> String {
    format!("{{\"value\": [], \"pad\": \"{}\"}}", SENTINEL.repeat(70_000 / SENTINEL.len()))
}

/// The body-reading cases of an endpoint with a JSON body: syntax, shape, unknown fields,
/// content type, size.
fn bad_bodies(method: Method, path: &str) -> Vec<Case> {
    vec![
        case(method.clone(), path).json(format!("{{\"{SENTINEL}\": ")).expect(400, "malformed_body"),
        // serde reads a struct from an array too, so the array's items must be wrong as well.
        case(method.clone(), path).json(format!("[true, \"{SENTINEL}\"]")).expect(400, "malformed_body"),
        case(method.clone(), path).json(format!("{{\"{SENTINEL}\": 1}}")).expect(400, "malformed_body"),
        case(method.clone(), path).json("").expect(400, "malformed_body"),
        case(method.clone(), path)
            .raw(Some("text/plain"), format!("{{\"{SENTINEL}\": 1}}"))
            .expect(415, "unsupported_media_type"),
        case(method.clone(), path).raw(None, format!("{{\"{SENTINEL}\": 1}}")).expect(415, "unsupported_media_type"),
        case(method.clone(), path).json(oversized()).expect(413, "payload_too_large"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_fails_in_the_one_shape_and_quotes_nothing() {
    let env = Env::new().await;
    let hcal = env.start("controllable_clock = true").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let sub = env.graph.subscriptions().first().and_then(|s| s["id"].as_str().map(str::to_owned)).unwrap();
    let other_tenant = "00000000-0000-0000-0000-00000000f00d";
    let meetings = format!("/v1/users/{alex}/meetings");
    let mailbox = format!("/admin/v1/mailboxes/{alex}");

    let megan = env.user("megan");
    env.enable(&megan).await;
    env.wait_active(&megan).await;
    env.user_token(&alex).await;
    let mut cases = Vec::new();

    // The user API: alex's token opens alex's list only; the admin token opens no user's, and
    // neither is told more than that before the request is parsed.
    cases.extend(unauthorized(Method::GET, &meetings, None));
    cases.extend(unauthorized(Method::GET, &format!("/v1/users/{SENTINEL}/meetings"), None));
    cases.extend(
        unauthorized(Method::GET, &format!("/v1/users/{SENTINEL}/meetings"), None)
            .into_iter()
            .filter(|c| c.auth == Auth::None)
            .map(|c| c.auth(Auth::Valid).expect(403, "forbidden")),
    );
    cases.extend(unauthorized(Method::GET, &format!("{meetings}/stream"), None));
    cases.extend([
        case(Method::GET, format!("{meetings}/stream")).expect(403, "forbidden"),
        case(Method::GET, format!("/v1/users/{megan}/meetings/stream")).auth(Auth::User).expect(403, "forbidden"),
        case(Method::GET, format!("/v1/users/{SENTINEL}/meetings/stream"))
            .auth(Auth::User)
            .expect(400, "invalid_user_id"),
        case(Method::GET, &meetings).expect(403, "forbidden"),
        case(Method::GET, format!("/v1/users/{megan}/meetings")).auth(Auth::User).expect(403, "forbidden"),
    ]);
    cases.extend(
        [
            case(Method::GET, format!("/v1/users/{SENTINEL}/meetings")).expect(400, "invalid_user_id"),
            case(Method::GET, "/v1/users/00000000-0000-0000-0000/meetings").expect(400, "invalid_user_id"),
            case(Method::GET, format!("{meetings}?from={SENTINEL}")).expect(400, "invalid_query"),
            case(Method::GET, format!("{meetings}?to=2025-13-01T00:00:00Z")).expect(400, "invalid_query"),
            case(Method::GET, format!("{meetings}?from=2025-01-01T00:00:00Z&from=2025-01-02T00:00:00Z"))
                .expect(400, "invalid_query"),
            // Four weeks after the last date chrono holds used to overflow and drop the connection.
            case(Method::GET, format!("{meetings}?from=%2B262142-12-31T23:59:59Z")).expect(400, "invalid_window"),
            // Unescaped, the `+` reads as a space: not a time at all.
            case(Method::GET, format!("{meetings}?from=+262142-12-31T23:59:59Z")).expect(400, "invalid_query"),
            case(Method::GET, format!("{meetings}?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z"))
                .expect(400, "invalid_window"),
            case(Method::GET, format!("{meetings}?from=1000-01-01T00:00:00Z&to=9000-01-01T00:00:00Z"))
                .expect(400, "invalid_window"),
            case(Method::POST, &meetings).json("{}").expect(405, "method_not_allowed"),
        ]
        .into_iter()
        .map(|c| c.auth(Auth::User)),
    );

    // Devices: the registry (admin) and the bookings (device token).
    let device_body = format!(
        "{{\"roomUserId\": \"{alex}\", \"kind\": \"roomOs\", \"address\": \"https://10.0.0.9\", \"username\": \"admin\", \"password\": \"{SENTINEL}\"}}"
    );
    let no_device = "00000000-0000-0000-0000-00000000d0d0";
    cases.extend(unauthorized(Method::POST, "/admin/v1/devices", Some(&device_body)));
    cases.extend(unauthorized(Method::GET, "/admin/v1/devices", None));
    cases.extend(unauthorized(Method::GET, &format!("/admin/v1/devices/{SENTINEL}"), None));
    cases.extend(unauthorized(Method::DELETE, &format!("/admin/v1/devices/{SENTINEL}"), None));
    cases.extend(unauthorized(Method::GET, &format!("/v1/devices/{SENTINEL}/bookings"), None));
    cases.extend(bad_bodies(Method::POST, "/admin/v1/devices"));
    let with = |field: &str, value: &str| {
        let mut body: Value = serde_json::from_str(&device_body).unwrap();
        body[field] = json!(value);
        body.to_string()
    };
    cases.extend([
        case(Method::POST, "/admin/v1/devices").json(with("kind", SENTINEL)).expect(400, "invalid_device"),
        case(Method::POST, "/admin/v1/devices").json(with("address", SENTINEL)).expect(400, "invalid_device"),
        case(Method::POST, "/admin/v1/devices").json(with("address", "ftp://10.0.0.9")).expect(400, "invalid_device"),
        case(Method::POST, "/admin/v1/devices").json(with("kind", "webexCloud")).expect(400, "invalid_device"),
        case(Method::POST, "/admin/v1/devices").json(with("password", "")).expect(400, "invalid_device"),
        case(Method::POST, "/admin/v1/devices").json(with("roomUserId", SENTINEL)).expect(400, "invalid_user_id"),
        case(Method::POST, "/admin/v1/devices").json(with("roomUserId", no_device)).expect(404, "unknown_user"),
        case(Method::POST, "/admin/v1/devices").json(with("deviceId", no_device)).expect(404, "unknown_device"),
        case(Method::GET, format!("/admin/v1/devices/{SENTINEL}")).expect(404, "unknown_device"),
        case(Method::GET, format!("/admin/v1/devices/{no_device}")).expect(404, "unknown_device"),
        case(Method::DELETE, format!("/admin/v1/devices/{no_device}")).expect(404, "unknown_device"),
        case(Method::GET, format!("/v1/devices/{no_device}/bookings")).expect(403, "forbidden"),
        case(Method::GET, format!("/v1/devices/{no_device}/bookings")).auth(Auth::User).expect(403, "forbidden"),
        case(Method::POST, "/admin/v1/tokens")
            .json(format!("{{\"deviceId\": \"{no_device}\"}}"))
            .expect(404, "unknown_device"),
        case(Method::POST, "/admin/v1/tokens")
            .json(format!("{{\"deviceId\": \"{no_device}\", \"userId\": \"{alex}\"}}"))
            .expect(400, "invalid_request"),
    ]);

    // The admin API: tokens. A user token is no admin token.
    cases.extend(unauthorized(Method::POST, "/admin/v1/tokens", Some(&format!("{{\"userId\": \"{alex}\"}}"))));
    cases.extend(unauthorized(Method::GET, "/admin/v1/tokens", None));
    cases.extend(unauthorized(Method::DELETE, &format!("/admin/v1/tokens/{SENTINEL}"), None));
    cases.extend(bad_bodies(Method::POST, "/admin/v1/tokens"));
    cases.extend([
        case(Method::GET, "/admin/v1/tokens").auth(Auth::User).expect(401, "unauthorized"),
        case(Method::POST, "/admin/v1/tokens")
            .auth(Auth::User)
            .json(format!("{{\"userId\": \"{alex}\"}}"))
            .expect(401, "unauthorized"),
        case(Method::POST, "/admin/v1/tokens")
            .json(format!("{{\"userId\": \"{SENTINEL}\"}}"))
            .expect(400, "invalid_user_id"),
        case(Method::POST, "/admin/v1/tokens")
            .json("{\"userId\": \"00000000-0000-0000-0000-00000000beef\"}")
            .expect(404, "unknown_user"),
        case(Method::GET, format!("/admin/v1/tokens?userId={SENTINEL}")).expect(400, "invalid_user_id"),
        case(Method::DELETE, format!("/admin/v1/tokens/{SENTINEL}")).expect(404, "unknown_token"),
        case(Method::DELETE, "/admin/v1/tokens/00000000-0000-0000-0000-00000000beef").expect(404, "unknown_token"),
        case(Method::PUT, "/admin/v1/tokens").json("{}").expect(405, "method_not_allowed"),
    ]);

    // The admin API: mailboxes.
    cases.extend(unauthorized(Method::POST, "/admin/v1/mailboxes", Some(&format!("{{\"userId\": \"{alex}\"}}"))));
    cases.extend(unauthorized(Method::GET, "/admin/v1/mailboxes", None));
    cases.extend(unauthorized(Method::GET, &mailbox, None));
    cases.extend(unauthorized(Method::DELETE, &mailbox, None));
    cases.extend(unauthorized(Method::GET, &format!("/admin/v1/mailboxes/{SENTINEL}"), None));
    cases.extend(bad_bodies(Method::POST, "/admin/v1/mailboxes"));
    cases.extend([
        case(Method::POST, "/admin/v1/mailboxes")
            .json(format!("{{\"userId\": \"{SENTINEL}\"}}"))
            .expect(400, "invalid_user_id"),
        case(Method::POST, "/admin/v1/mailboxes").json("{\"userId\": 7}").expect(400, "malformed_body"),
        case(Method::POST, "/admin/v1/mailboxes")
            .json(format!("{{\"userId\": \"{alex}\", \"{SENTINEL}\": true}}"))
            .expect(400, "malformed_body"),
        case(Method::POST, "/admin/v1/mailboxes").json("{}").expect(400, "malformed_body"),
        case(Method::GET, format!("/admin/v1/mailboxes/{SENTINEL}")).expect(400, "invalid_user_id"),
        case(Method::DELETE, format!("/admin/v1/mailboxes/{SENTINEL}")).expect(400, "invalid_user_id"),
        case(Method::PUT, "/admin/v1/mailboxes").json("{}").expect(405, "method_not_allowed"),
        case(Method::POST, &mailbox).json("{}").expect(405, "method_not_allowed"),
    ]);

    // The admin API: logs.
    cases.extend(unauthorized(Method::GET, "/admin/v1/logs/notifications", None));
    cases.extend(unauthorized(Method::GET, &format!("/admin/v1/logs/{SENTINEL}"), None));
    cases.extend([
        case(Method::GET, format!("/admin/v1/logs/{SENTINEL}")).expect(400, "unknown_log"),
        case(Method::GET, "/admin/v1/logs/hcal.notifications").expect(400, "unknown_log"),
        case(Method::DELETE, "/admin/v1/logs/notifications").expect(405, "method_not_allowed"),
    ]);

    // The admin API: the testing clock and tick.
    cases.extend(unauthorized(Method::POST, "/admin/v1/testing/clock", Some("{\"advanceSeconds\": 60}")));
    cases.extend(unauthorized(Method::POST, "/admin/v1/testing/tick", Some("{}")));
    cases.extend(bad_bodies(Method::POST, "/admin/v1/testing/clock"));
    cases.extend([
        case(Method::POST, "/admin/v1/testing/clock")
            .json(format!("{{\"advanceSeconds\": \"{SENTINEL}\"}}"))
            .expect(400, "malformed_body"),
        // Seconds beyond what a duration holds used to panic in the handler.
        case(Method::POST, "/admin/v1/testing/clock")
            .json(format!("{{\"advanceSeconds\": {}}}", i64::MAX))
            .expect(400, "invalid_request"),
        case(Method::POST, "/admin/v1/testing/clock").json("{\"advanceSeconds\": -60}").expect(400, "invalid_request"),
        case(Method::POST, "/admin/v1/testing/clock").json("{\"advanceSeconds\": 1e400}").expect(400, "malformed_body"),
        case(Method::GET, "/admin/v1/testing/clock").expect(405, "method_not_allowed"),
        case(Method::GET, "/admin/v1/testing/tick").expect(405, "method_not_allowed"),
    ]);

    // Tenant onboarding.
    cases.extend(unauthorized(Method::POST, "/admin/v1/tenant/consent-url", Some("{}")));
    cases.extend(unauthorized(Method::POST, "/admin/v1/tenant/test", Some(&format!("{{\"mailbox\": \"{alex}\"}}"))));
    cases.extend(bad_bodies(Method::POST, "/admin/v1/tenant/consent-url"));
    cases.extend(bad_bodies(Method::POST, "/admin/v1/tenant/test"));
    let callback = "/admin/consent/callback";
    cases.extend([
        case(Method::POST, "/admin/v1/tenant/consent-url")
            .json(format!("{{\"tenant\": \"{SENTINEL}\"}}"))
            .expect(400, "invalid_tenant"),
        case(Method::POST, "/admin/v1/tenant/consent-url")
            .json(format!("{{\"tenant\": \"{other_tenant}\"}}"))
            .expect(400, "tenant_not_configured"),
        case(Method::POST, "/admin/v1/tenant/consent-url")
            .json(format!("{{\"redirectUri\": \"{SENTINEL}\"}}"))
            .expect(400, "invalid_redirect_uri"),
        case(Method::POST, "/admin/v1/tenant/consent-url")
            .json(format!("{{\"redirectUri\": \"https://hcal.example/cb#{SENTINEL}\"}}"))
            .expect(400, "invalid_redirect_uri"),
        case(Method::POST, "/admin/v1/tenant/test")
            .json(format!("{{\"mailbox\": \"{SENTINEL}\"}}"))
            .expect(400, "invalid_mailbox"),
        case(Method::POST, "/admin/v1/tenant/test")
            .json(format!("{{\"mailbox\": \"{SENTINEL}@contoso.example\", \"tenant\": \"{other_tenant}\"}}"))
            .expect(400, "tenant_not_configured"),
        case(Method::POST, "/admin/v1/tenant/test")
            .json(format!("{{\"mailbox\": \"{alex}\", \"tenant\": \"{SENTINEL}\"}}"))
            .expect(400, "malformed_body"),
        case(Method::GET, "/admin/v1/tenant/test").expect(405, "method_not_allowed"),
        // The callback takes no token: its sealed state is the credential, and nothing of the
        // request is reflected before that state is verified.
        case(Method::GET, callback).expect(400, "invalid_consent_state"),
        case(Method::GET, format!("{callback}?state={SENTINEL}&error=access_denied&error_description={SENTINEL}"))
            .expect(400, "invalid_consent_state"),
        case(Method::GET, format!("{callback}?admin_consent=True&tenant={SENTINEL}&state=local.{SENTINEL}.{SENTINEL}"))
            .auth(Auth::None)
            .expect(400, "invalid_consent_state"),
        case(Method::GET, format!("{callback}?state={SENTINEL}&state={SENTINEL}")).expect(400, "invalid_query"),
        case(Method::POST, callback).json("{}").expect(405, "method_not_allowed"),
    ]);

    // The webhooks: no token; the items' clientState is checked instead.
    let forged = json!({"value": [{
        "subscriptionId": sub, "clientState": SENTINEL, "tenantId": env.demo.tenant_id, "changeType": "created",
        "resource": format!("Users/{alex}/Events/{SENTINEL}"), "resourceData": {"id": SENTINEL}
    }]})
    .to_string();
    let unknown = forged.replace(&sub, "00000000-0000-0000-0000-000000000000");
    // Batches whose items are all discarded are not failures: Graph would deliver them again for
    // hours. They get the same empty 202 as accepted ones (checked below), not an error.
    let mut discarded = Vec::new();
    for hook in ["/webhook/graph", "/webhook/graph/lifecycle"] {
        discarded.extend([
            case(Method::POST, hook).json(forged.clone()).auth(Auth::None),
            case(Method::POST, hook).json(unknown.clone()).auth(Auth::None),
            case(Method::POST, hook)
                .json(format!("{{\"value\": [{{\"subscriptionId\": 7, \"clientState\": \"{SENTINEL}\"}}]}}")),
            case(Method::POST, hook).json(format!("{{\"value\": [\"{SENTINEL}\", [\"{SENTINEL}\"]]}}")),
        ]);
        cases.extend([
            case(Method::POST, hook).json(format!("{{\"value\": [\"{SENTINEL}\"")).expect(400, "malformed_body"),
            case(Method::POST, hook).json(format!("[\"{SENTINEL}\"]")).expect(400, "malformed_body"),
            // serde reads a struct from an array; a batch must still be an object.
            case(Method::POST, hook).json(format!("[[\"{SENTINEL}\"]]")).expect(400, "malformed_body"),
            case(Method::POST, hook).json(format!("{{\"{SENTINEL}\": []}}")).expect(400, "malformed_body"),
            case(Method::POST, hook)
                .json(format!("{{\"value\": {{\"{SENTINEL}\": 1}}}}"))
                .expect(400, "malformed_body"),
            case(Method::POST, hook).json(oversized()).expect(413, "payload_too_large"),
            case(Method::POST, hook)
                .raw(Some("application/json"), SENTINEL.repeat(70_000 / SENTINEL.len()))
                .auth(Auth::None)
                .expect(413, "payload_too_large"),
            case(Method::POST, format!("{hook}?validationToken=")).expect(400, "invalid_validation_token"),
            case(Method::POST, format!("{hook}?validationToken=%01{SENTINEL}")).expect(400, "invalid_validation_token"),
            case(Method::POST, format!("{hook}?validationToken={}", "x".repeat(3000)))
                .expect(400, "invalid_validation_token"),
            case(Method::GET, hook).expect(405, "method_not_allowed"),
        ]);
    }

    // Operations and unknown paths.
    cases.extend([
        case(Method::POST, "/healthz").json("{}").expect(405, "method_not_allowed"),
        case(Method::DELETE, "/metrics").expect(405, "method_not_allowed"),
        case(Method::GET, format!("/{SENTINEL}")).auth(Auth::None).expect(404, "not_found"),
        case(Method::GET, format!("/admin/v1/{SENTINEL}")).expect(404, "not_found"),
        case(Method::POST, format!("/v1/users/{alex}/{SENTINEL}")).json("{}").expect(404, "not_found"),
        case(Method::GET, "/admin/v1/mailboxes/").expect(404, "not_found"),
    ]);

    let user_token = env.user_token(&alex).await;
    let secrets =
        [env.api_token.as_str(), env.demo.client_secret.as_str(), env.webex_token.as_str(), user_token.as_str()];
    for c in &cases {
        check(&env, c, &secrets).await;
    }
    println!("{} failing requests checked", cases.len());
    for c in &discarded {
        let resp = env.http.post(format!("{}{}", env.url(), c.path)).header("Content-Type", "application/json");
        let resp = resp.body(c.body.clone().unwrap()).send().await.unwrap();
        let (status, headers) = (resp.status(), format!("{:?}", resp.headers()));
        let text = resp.text().await.unwrap();
        assert_eq!((status.as_u16(), text.as_str()), (202, ""), "{}: discarded, answered as accepted", c.path);
        assert!(!headers.contains(SENTINEL), "{headers}");
    }

    // Wrong methods say which methods there are.
    let resp = env.http.put(format!("{}/admin/v1/mailboxes", env.url())).send().await.unwrap();
    assert_eq!(resp.headers()["allow"], "POST, GET");
    // Nothing of the forged batches reached the log, and hcal still works.
    assert!(env.records("notifications").await.iter().all(|r| !r.to_string().contains(SENTINEL)));
    assert_eq!(env.mailbox_status(&alex).await.unwrap()["status"], "active");
    assert!(!env.logs().contains(SENTINEL), "hcal's output quotes the sentinel");

    // Without a controllable clock the testing endpoints refuse, still after the token check.
    drop(hcal);
    let _hcal = env.start("").await;
    for path in ["/admin/v1/testing/clock", "/admin/v1/testing/tick"] {
        let body = "{\"advanceSeconds\": 60}";
        check(&env, &case(Method::POST, path).json(body).expect(400, "testing_disabled"), &secrets).await;
        check(&env, &case(Method::POST, path).json(body).auth(Auth::None).expect(401, "unauthorized"), &secrets).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_successful_answers_keep_their_shape() {
    // The error paths above must not have cost the happy ones their wire format.
    let env = Env::new().await;
    let _hcal = env.start("controllable_clock = true").await;
    let alex = env.user("alex");
    let enabled = env.enable(&alex).await;
    assert_eq!(enabled, json!({"userId": alex, "status": "pending"}));
    let status = env.wait_active(&alex).await;
    for field in ["userId", "status", "reason", "retryAt", "locale", "subscription", "meetings", "seq"] {
        assert!(status.get(field).is_some(), "{field} in {status}");
    }
    for field in ["id", "expiresAt", "webhookReady"] {
        assert!(status["subscription"].get(field).is_some(), "{field} in {status}");
    }
    let token = &env.api_token;
    // The list is the subscription index's, which may read the mailbox's events a moment
    // after its owner applied them.
    let list: Value = eventually("the mailbox in the admin list", Duration::from_secs(10), || async {
        let resp = env.http.get(format!("{}/admin/v1/mailboxes", env.url())).bearer_auth(token).send().await.ok()?;
        let list: Value = resp.json().await.ok()?;
        list["value"][0].is_object().then_some(list)
    })
    .await;
    let row = &list["value"][0];
    for field in ["userId", "status", "reason", "retryAt", "subscriptionExpiresAt"] {
        assert!(row.get(field).is_some(), "{field} in {row}");
    }
    let user_token = env.user_token(&alex).await;
    let resp =
        env.http.get(format!("{}/v1/users/{alex}/meetings", env.url())).bearer_auth(&user_token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"value": []}), "the default window, no meetings yet");
    let clock: Value = env
        .http
        .post(format!("{}/admin/v1/testing/clock", env.url()))
        .bearer_auth(token)
        .json(&json!({"advanceSeconds": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(clock["now"].is_string(), "{clock}");
    let tick: Value = env
        .http
        .post(format!("{}/admin/v1/testing/tick", env.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tick["renewalsRequested"].is_u64(), "{tick}");
    let logs: Value = env
        .http
        .get(format!("{}/admin/v1/logs/mailbox-events", env.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs["topic"], "mailbox-events");
    let record = &logs["records"][0];
    for field in ["partition", "offset", "key", "value"] {
        assert!(record.get(field).is_some(), "{field} in {record}");
    }
    let health: Value = env.http.get(format!("{}/healthz", env.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    // The validation handshake stays exactly what Graph requires.
    let resp = env
        .http
        .post(format!("{}/webhook/graph?validationToken=Validation%3A%20Testing", env.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), "Validation: Testing");
}

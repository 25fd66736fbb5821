//! Entra ID tokens and admin consent, the error envelope, users, mailbox settings, access
//! policy and the `/_sim` control surface.

// Helpers of a test crate: a failed request should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hcal_sim::graph::{GraphSim, GraphSimConfig, Permission, UserSpec};
use serde_json::{Value, json};
use support::{Fixture, assert_graph_error, token};

async fn token_request(f: &Fixture, tenant: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    f.http.post(format!("{}/{tenant}/oauth2/v2.0/token", f.sim.url())).form(fields).send().await.unwrap()
}

fn creds<'a>(f: &'a Fixture, secret: &'a str, scope: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![("client_id", &f.client_id), ("client_secret", secret), ("scope", scope), ("grant_type", "client_credentials")]
}

async fn assert_aad_error(resp: reqwest::Response, status: u16, error: &str, aadsts: u64) {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], error);
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with(&format!("AADSTS{aadsts}: ")), "{description}");
    assert_eq!(body["error_codes"], json!([aadsts]));
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[key].is_string(), "{key} in {body}");
    }
    // Entra ID's timestamp: a space, whole seconds, Z (2016-01-09 02:02:12Z).
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%SZ").is_ok(), "{timestamp}");
    let trailer = format!(
        "\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {timestamp}",
        body["trace_id"].as_str().unwrap(),
        body["correlation_id"].as_str().unwrap()
    );
    assert!(description.ends_with(&trailer), "{description}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_issues_bearer_tokens_without_refresh_tokens() {
    let f = Fixture::new().await;
    let resp = token_request(&f, &f.tenant, &creds(&f, &f.secret, "https://graph.microsoft.com/.default")).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 40));
    assert!(body.get("refresh_token").is_none());
    // The tenant may also be named by its domain.
    let resp =
        token_request(&f, "contoso.example", &creds(&f, &f.secret, "https://graph.microsoft.com/.default")).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refuses_like_entra_id() {
    let f = Fixture::new().await;
    let scope = "https://graph.microsoft.com/.default";
    assert_aad_error(token_request(&f, &f.tenant, &creds(&f, "wrong", scope)).await, 401, "invalid_client", 7000215)
        .await;
    let us_gov = "https://graph.microsoft.us/.default";
    assert_aad_error(token_request(&f, &f.tenant, &creds(&f, &f.secret, us_gov)).await, 400, "invalid_scope", 1002012)
        .await;
    assert_aad_error(
        token_request(&f, "00000000-0000-0000-0000-00000000beef", &creds(&f, &f.secret, scope)).await,
        400,
        "invalid_request",
        90002,
    )
    .await;
    let mut fields = creds(&f, &f.secret, scope);
    fields[3] = ("grant_type", "password");
    assert_aad_error(token_request(&f, &f.tenant, &fields).await, 400, "unsupported_grant_type", 70003).await;
    // An app nobody in the tenant consented to does not exist there.
    let other = f.sim.add_tenant("fabrikam.example");
    assert_aad_error(token_request(&f, &other, &creds(&f, &f.secret, scope)).await, 400, "unauthorized_client", 700016)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_requires_a_valid_unexpired_token() {
    let f = Fixture::new().await;
    let path = format!("/users/{}", f.alice);
    let resp = f.http.get(f.url(&path)).send().await.unwrap();
    assert_graph_error(resp, 401, "InvalidAuthenticationToken").await;
    let resp = f.http.get(f.url(&path)).bearer_auth("garbage").send().await.unwrap();
    assert_graph_error(resp, 401, "InvalidAuthenticationToken").await;
    assert_eq!(f.get(&path).send().await.unwrap().status(), 200);
    f.sim.advance_clock(Duration::from_secs(3600));
    let body = assert_graph_error(f.get(&path).send().await.unwrap(), 401, "InvalidAuthenticationToken").await;
    assert_eq!(body["error"]["message"], "Lifetime validation failed, the token is expired.");
    let fresh = token(&f.http, f.sim.url(), &f.tenant, &f.client_id, &f.secret).await;
    assert_eq!(f.http.get(f.url(&path)).bearer_auth(fresh).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_envelope_echoes_client_request_id() {
    let f = Fixture::new().await;
    let resp = f
        .get(&format!("/users/{}/events/AAMkAnope", f.alice))
        .header("client-request-id", "0b4c8f7e-1111-2222-3333-444455556666")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["client-request-id"], "0b4c8f7e-1111-2222-3333-444455556666");
    let body = assert_graph_error(resp, 404, "ErrorItemNotFound").await;
    assert_eq!(body["error"]["message"], "The specified object was not found in the store.");
    assert_eq!(body["error"]["innerError"]["client-request-id"], "0b4c8f7e-1111-2222-3333-444455556666");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_consent_redirects_with_tenant_or_error() {
    let f = Fixture::new().await;
    let fabrikam = f.sim.add_tenant("fabrikam.example");
    let redirect = "http://127.0.0.1:9/callback";
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consent_url = |tenant: &str, redirect: &str| {
        format!(
            "{}/{tenant}/adminconsent?client_id={}&state=xyz%20123&redirect_uri={}",
            f.sim.url(),
            f.client_id,
            hcal_sim::graph::encode(redirect)
        )
    };
    f.sim.set_consent_admin(&fabrikam, true);
    let resp = no_redirects.get(consent_url("common", redirect)).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert!(location.as_str().starts_with(redirect));
    assert_eq!(q["admin_consent"], "True");
    assert_eq!(q["tenant"], fabrikam);
    assert_eq!(q["state"], "xyz 123");
    // Consent makes the app exist in that tenant.
    token(&f.http, f.sim.url(), &fabrikam, &f.client_id, &f.secret).await;

    f.sim.set_consent_admin(&fabrikam, false);
    let resp = no_redirects.get(consent_url("organizations", redirect)).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "permission_denied");
    assert!(q["error_description"].starts_with("AADSTS"));
    assert_eq!(q["state"], "xyz 123");

    let resp = no_redirects.get(consent_url("common", "https://evil.example/cb")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().starts_with("AADSTS50011"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_resolve_by_id_or_address_within_the_tenant() {
    let f = Fixture::new().await;
    let by_id: Value = f.get(&format!("/users/{}", f.alice)).send().await.unwrap().json().await.unwrap();
    assert_eq!(by_id["mail"], "alice@contoso.example");
    assert_eq!(by_id["userPrincipalName"], "alice@contoso.example");
    let by_upn: Value = f.get("/users/ALICE@contoso.example").send().await.unwrap().json().await.unwrap();
    assert_eq!(by_upn["id"], f.alice);
    let body =
        assert_graph_error(f.get("/users/nobody@contoso.example").send().await.unwrap(), 404, "ErrorInvalidUser").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("nobody@contoso.example"));
    let list: Value = f.get("/users?$top=2").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    assert!(
        list["@odata.nextLink"].as_str().unwrap().contains("%24skip=2")
            || list["@odata.nextLink"].as_str().unwrap().contains("$skip=2")
    );
    let body = assert_graph_error(f.get("/me/events").send().await.unwrap(), 400, "BadRequest").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("delegated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_settings_read_and_patch_partially() {
    let f = Fixture::new().await;
    let path = format!("/users/{}/mailboxSettings", f.alice);
    let settings: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["language"]["locale"], "en-US");
    assert_eq!(settings["timeZone"], "UTC");
    assert_eq!(settings["userPurpose"], "user");
    assert_eq!(settings["automaticRepliesSetting"]["status"], "disabled");
    let room: Value = f.get(&format!("/users/{}/mailboxSettings", f.room)).send().await.unwrap().json().await.unwrap();
    assert_eq!(room["userPurpose"], "room");

    // Docs mix "Scheduled" and "scheduled": accepted either way, emitted camelCase.
    let patch = json!({"automaticRepliesSetting": {
        "status": "Scheduled",
        "scheduledStartDateTime": {"dateTime": "2026-12-01T08:00:00", "timeZone": "UTC"},
        "scheduledEndDateTime": {"dateTime": "2026-12-05T17:00:00", "timeZone": "UTC"}
    }});
    let resp = f.patch(&path, &patch).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["automaticRepliesSetting"]["status"], "scheduled");
    assert_eq!(changed["automaticRepliesSetting"]["scheduledStartDateTime"]["dateTime"], "2026-12-01T08:00:00.0000000");
    assert!(changed.get("language").is_none(), "PATCH answers only what changed: {changed}");
    let settings: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["automaticRepliesSetting"]["status"], "scheduled");
    assert_eq!(settings["language"]["locale"], "en-US");

    let resp = f.patch(&path, &json!({"language": {"locale": "tr-TR"}})).send().await.unwrap();
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["language"]["displayName"], "Turkish (Türkiye)");

    let bad = f.patch(&path, &json!({"automaticRepliesSetting": {"status": "sometimes"}})).send().await.unwrap();
    assert_graph_error(bad, 400, "ErrorInvalidArgument").await;
    let bad = f.patch(&path, &json!({"timeZone": "Mars/Olympus"})).send().await.unwrap();
    assert_graph_error(bad, 400, "TimeZoneNotSupportedException").await;
    let bad = f.patch(&path, &json!({"favouriteColour": "green"})).send().await.unwrap();
    assert_graph_error(bad, 400, "RequestBodyRead").await;
}

async fn setting(f: &Fixture, url: String) -> Value {
    let resp = f.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_mailbox_settings_are_read_by_path() {
    let f = Fixture::new().await;
    let base = format!("/users/{}/mailboxSettings", f.alice);
    let context = |name: &str| format!("{}/v1.0/$metadata#users('{}')/mailboxSettings/{name}", f.sim.url(), f.alice);
    let f = &f;
    let get = |name: &str| setting(f, format!("{base}/{name}"));
    // A complex setting answers with its own properties.
    let replies = get("automaticRepliesSetting").await;
    assert_eq!(replies["@odata.context"], context("automaticRepliesSetting"));
    assert_eq!(replies["status"], "disabled");
    assert_eq!(replies["externalAudience"], "all");
    assert!(replies.get("automaticRepliesSetting").is_none() && replies.get("language").is_none(), "{replies}");
    let language = get("language").await;
    assert_eq!(language["locale"], "en-US");
    assert_eq!(language["@odata.context"], context("language"));
    let hours = get("workingHours").await;
    assert_eq!(hours["startTime"], "08:00:00.0000000");
    assert_eq!(hours["@odata.context"], context("workingHours"));
    // A string setting answers as {"value": …}; names match in any case.
    for (name, value) in
        [("timeZone", "UTC"), ("dateFormat", "M/d/yyyy"), ("timeFormat", "h:mm tt"), ("userPurpose", "user")]
    {
        let got = get(name).await;
        assert_eq!(got, json!({"@odata.context": context(name), "value": value}), "{name}");
    }
    let got = get("TIMEZONE").await;
    assert_eq!(got["value"], "UTC");
    let room: Value =
        f.get(&format!("/users/{}/mailboxSettings/userPurpose", f.room)).send().await.unwrap().json().await.unwrap();
    assert_eq!(room["value"], "room");
    // What a PATCH of the whole settings changes shows up by path too.
    let patch = json!({"automaticRepliesSetting": {"status": "alwaysEnabled", "internalReplyMessage": "Away"}});
    assert_eq!(f.patch(&base, &patch).send().await.unwrap().status(), 200);
    let replies = get("automaticRepliesSetting").await;
    assert_eq!(
        (replies["status"].clone(), replies["internalReplyMessage"].clone()),
        (json!("alwaysEnabled"), json!("Away"))
    );

    // Unknown settings are refused; writing one setting by its path is not documented.
    let unknown = f.get(&format!("{base}/favouriteColour")).send().await.unwrap();
    assert_graph_error(unknown, 400, "BadRequest").await;
    let by_path =
        f.patch(&format!("{base}/automaticRepliesSetting"), &json!({"status": "disabled"})).send().await.unwrap();
    assert_graph_error(by_path, 405, "ErrorInvalidRequest").await;
    // Reading by path needs the same permission as the whole settings.
    f.sim.consent_with(&f.client_id, &f.tenant, &[hcal_sim::graph::Permission::CalendarsReadWrite]).unwrap();
    let denied = f.get(&format!("{base}/timeZone")).send().await.unwrap();
    assert_graph_error(denied, 403, "ErrorAccessDenied").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_purpose_can_be_emitted_as_an_object() {
    let f = Fixture::with(GraphSimConfig { user_purpose_as_object: true, ..Default::default() }).await;
    let settings: Value =
        f.get(&format!("/users/{}/mailboxSettings", f.room)).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["userPurpose"], json!({"value": "room"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_policy_licence_and_permissions_are_enforced() {
    let f = Fixture::new().await;
    let events = |u: &str| format!("/users/{u}/events");
    f.sim.set_in_policy(&f.bob, false);
    let body = assert_graph_error(f.get(&events(&f.bob)).send().await.unwrap(), 403, "ErrorAccessDenied").await;
    assert_eq!(
        body["error"]["message"],
        "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."
    );
    f.sim.set_in_policy(&f.bob, true);
    assert_eq!(f.get(&events(&f.bob)).send().await.unwrap().status(), 200);

    f.sim.set_licensed(&f.bob, false);
    assert_graph_error(f.get(&events(&f.bob)).send().await.unwrap(), 404, "MailboxNotEnabledForRESTAPI").await;

    // An app granted only User.Read.All cannot read calendars.
    let other = f.sim.add_tenant("fabrikam.example");
    let (client, secret) = f.sim.add_app(None, None, vec![]);
    f.sim.consent_with(&client, &other, &[Permission::UserReadAll]).unwrap();
    let carol = f.sim.add_user(&UserSpec::new(&other, "Carol", "carol@fabrikam.example")).unwrap();
    let tok = token(&f.http, f.sim.url(), &other, &client, &secret).await;
    let resp = f.http.get(f.url(&events(&carol))).bearer_auth(&tok).send().await.unwrap();
    let body = assert_graph_error(resp, 403, "ErrorAccessDenied").await;
    assert_eq!(body["error"]["message"], "Access is denied. Check credentials and try again.");
    // And a tenant's token never reaches another tenant's mailboxes.
    let resp = f.http.get(f.url(&events(&f.alice))).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_surface_sets_up_and_scripts_over_http() {
    let sim = GraphSim::start(GraphSimConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let ctl = |p: &str| format!("{}/_sim{p}", sim.url());
    let tenant: Value = http
        .post(ctl("/tenants"))
        .json(&json!({"domain": "contoso.example"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = tenant["id"].as_str().unwrap().to_owned();
    let app: Value = http.post(ctl("/apps")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let (client, secret) = (app["clientId"].as_str().unwrap(), app["secret"].as_str().unwrap());
    let resp = http.post(ctl("/consents")).json(&json!({"clientId": client, "tenantId": tenant})).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let user: Value = http
        .post(ctl("/users"))
        .json(&json!({"tenantId": tenant, "displayName": "Dana", "mail": "dana@contoso.example", "locale": "de-DE"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dana = user["id"].as_str().unwrap();
    // The user creates an event in "Outlook": no token needed, same validation as the API.
    let created = http
        .post(ctl(&format!("/as/users/{dana}/events")))
        .json(&support::event("Planning", "2026-12-01T09:00:00", "2026-12-01T10:00:00"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let bad =
        http.post(ctl(&format!("/as/users/{dana}/events"))).json(&json!({"subject": "no times"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let tok = token(&http, sim.url(), &tenant, client, secret).await;
    let list: Value = http
        .get(format!("{}/v1.0/users/{dana}/events", sim.url()))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"][0]["subject"], "Planning");
    let resp = http.put(ctl("/faults")).json(&json!({"rate_429": 0.25})).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(sim.faults().rate_429, 0.25);
    let stats: Value = http.get(ctl("/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["requests"], 1);
    let bad = http.put(ctl("/faults")).json(&json!({"rate_four_two_nine": 1})).send().await.unwrap();
    assert_eq!(bad.status(), 400, "unknown fault knobs are refused");
}

//! Tenant onboarding end to end against the Graph simulator over real HTTP: the admin test for
//! a healthy mailbox and for each failure an administrator meets (unlicensed, outside the
//! access policy, missing permission, wrong secret, no consent), through the library, the admin
//! API and the `hcal tenant` commands; and the admin-consent flow from the link through the
//! simulator's consent page to the recorded tenant, declined, forged and foreign.

// Test scaffolding: a failed set-up step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use actix_web::{App, test, web};
use chrono::Utc;
use hcal::graph::{GraphClient, GraphConfig};
use hcal::service::{self, Running, Secrets};
use hcal::tenant::Onboarding;
use hcal::tenant::consent::{self, LinkTenant};
use hcal::tenant::mailbox_check::{self, MailboxCheckReport, MailboxRef, Reason, Source, Step};
use hcal::tenant::store::{FILE_NAME, TenantsFile};
use hcal_actors::ids::TenantId;
use hcal_sim::graph::{GraphSim, GraphSimConfig, Permission, UserSpec};
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://hcal.contoso.example";
const REDIRECT_URI: &str = "https://hcal.contoso.example/admin/consent/callback";
const API_TOKEN: &str = "tenant-e2e-api-token";
const MARKER: &str = "String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name hcal.joinInfo";

/// A simulated organisation: a tenant, hcal's app registration (redirect URI registered) and
/// mailboxes.
struct Org {
    sim: GraphSim,
    tenant: String,
    client_id: String,
    secret: String,
}

impl Org {
    /// With `permissions` consented, or none (`None`: consent not granted yet).
    async fn new(permissions: Option<&[Permission]>) -> Self {
        let sim = GraphSim::start(GraphSimConfig::default()).await.unwrap();
        let tenant = sim.add_tenant("contoso.example");
        let (client_id, secret) = sim.add_app(None, None, vec![REDIRECT_URI.to_owned()]);
        if let Some(permissions) = permissions {
            sim.consent_with(&client_id, &tenant, permissions).unwrap();
        }
        Self { sim, tenant, client_id, secret }
    }

    fn user(&self, local: &str, licensed: bool, in_policy: bool) -> String {
        let spec =
            UserSpec { licensed, in_policy, ..UserSpec::new(&self.tenant, local, &format!("{local}@contoso.example")) };
        self.sim.add_user(&spec).unwrap()
    }

    fn tenant_id(&self) -> TenantId {
        TenantId::parse(&self.tenant).unwrap()
    }

    fn graph_config(&self) -> GraphConfig {
        let mut config = GraphConfig::new(self.client_id.clone());
        config.login_base = self.sim.url().to_owned();
        config.graph_base = self.sim.graph_url();
        config.retry_base = std::time::Duration::from_millis(10);
        config
    }

    fn client(&self, secret: &str) -> GraphClient {
        GraphClient::new(self.graph_config(), secret.to_owned()).unwrap()
    }

    async fn admin_test(&self, secret: &str, mailbox: &str) -> MailboxCheckReport {
        let mailbox = MailboxRef::parse(mailbox).unwrap();
        mailbox_check::run(&self.client(secret), self.tenant_id(), &mailbox, MARKER, Utc::now()).await
    }

    /// Events left in a mailbox, read as its owner.
    async fn events_of(&self, user: &str) -> Vec<Value> {
        let resp = self.sim.act("GET", &format!("/users/{user}/events"), None).await;
        assert_eq!(resp.status, 200);
        resp.body.unwrap()["value"].as_array().cloned().unwrap()
    }

    fn config_toml(&self, data_dir: &Path) -> String {
        format!(
            r#"[service]
listen = "127.0.0.1:0"
public_url = "{PUBLIC_URL}"
data_dir = "{data}"

[tenant]
id = "{tenant}"

[graph]
client_id = "{client}"
login_base = "{login}"
graph_base = "{graph}"

[webex]
base_url = "http://127.0.0.1:9"

[testing]
hold_processing = true
"#,
            data = data_dir.display(),
            tenant = self.tenant,
            client = self.client_id,
            login = self.sim.url(),
            graph = self.sim.graph_url(),
        )
    }

    /// hcal in this process (needs an actix System), with the configuration written to
    /// `dir/hcal.toml` for the CLI too.
    async fn start_hcal(&self, dir: &Path) -> Running {
        let path = dir.join("hcal.toml");
        std::fs::write(&path, self.config_toml(&dir.join("data"))).unwrap();
        let config = hcal::config::load(&path).unwrap();
        let secrets = Secrets {
            graph_client_secret: self.secret.clone(),
            webex_token: "unused".into(),
            api_token: API_TOKEN.into(),
            platforms: Default::default(),
            presence: Default::default(),
            kms_token: None,
        };
        service::start(config, secrets).await.unwrap()
    }
}

fn failure(report: &MailboxCheckReport) -> (Step, Source, Option<u16>, &str, Reason) {
    let f = report.failure.as_ref().unwrap_or_else(|| panic!("the test should fail: {report:#?}"));
    (f.step, f.source, f.status, f.code.as_str(), f.reason)
}

fn passed(report: &MailboxCheckReport) -> Vec<Step> {
    report.steps.iter().filter(|s| s.ok).map(|s| s.step).collect()
}

// ---------------------------------------------------------------------------------------------
// The admin test, through the library.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licensed_mailbox_in_policy_passes_every_step_and_keeps_no_test_event() {
    let org = Org::new(Some(&Permission::ALL)).await;
    let alex = org.user("alex", true, true);

    let by_address = org.admin_test(&org.secret, "alex@contoso.example").await;
    assert!(by_address.ok, "{}", by_address.render());
    assert_eq!(passed(&by_address), [Step::Token, Step::Resolve, Step::Create, Step::Read, Step::Patch, Step::Delete]);
    assert_eq!(by_address.user_id.map(|u| u.to_string()), Some(alex.clone()));

    let by_id = org.admin_test(&org.secret, &alex).await;
    assert!(by_id.ok, "{}", by_id.render());
    assert_eq!(passed(&by_id), [Step::Token, Step::Create, Step::Read, Step::Patch, Step::Delete]);

    assert!(org.events_of(&alex).await.is_empty(), "the test events are gone");
    let json = serde_json::to_string(&by_address).unwrap();
    assert!(!json.contains(mailbox_check::TEST_SUBJECT), "the report quotes no event data: {json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlicensed_mailbox_fails_at_create_with_mailbox_not_enabled() {
    let org = Org::new(Some(&Permission::ALL)).await;
    let user = org.user("lee", false, true);
    let report = org.admin_test(&org.secret, &user).await;
    assert_eq!(
        failure(&report),
        (Step::Create, Source::Graph, Some(404), "MailboxNotEnabledForRESTAPI", Reason::MailboxNotEnabled)
    );
    assert_eq!(passed(&report), [Step::Token]);
    assert!(report.failure.as_ref().unwrap().request_id.is_some(), "Graph's request-id is kept for support");
    assert_eq!(report.cleanup, None, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_outside_the_access_policy_fails_at_create_with_raop() {
    let org = Org::new(Some(&Permission::ALL)).await;
    let user = org.user("kim", true, false);
    let report = org.admin_test(&org.secret, &user).await;
    assert_eq!(
        failure(&report),
        (Step::Create, Source::Graph, Some(403), "ErrorAccessDenied", Reason::NotInAccessPolicy)
    );
    assert!(report.render().contains("not in scope"), "{}", report.render());
    // Back inside the policy, the same mailbox passes.
    org.sim.set_in_policy(&user, true);
    assert!(org.admin_test(&org.secret, &user).await.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_fails_with_access_denied_at_the_step_that_needs_it() {
    let org = Org::new(Some(&[Permission::MailboxSettingsReadWrite, Permission::UserReadAll])).await;
    let user = org.user("sam", true, true);
    let report = org.admin_test(&org.secret, "sam@contoso.example").await;
    assert_eq!(
        failure(&report),
        (Step::Create, Source::Graph, Some(403), "ErrorAccessDenied", Reason::MissingPermission)
    );
    assert_eq!(report.user_id.map(|u| u.to_string()), Some(user));
    assert!(report.failure.as_ref().unwrap().explanation.contains("Calendars.ReadWrite"));

    let org = Org::new(Some(&[Permission::CalendarsReadWrite, Permission::MailboxSettingsReadWrite])).await;
    let user = org.user("sam", true, true);
    let report = org.admin_test(&org.secret, "sam@contoso.example").await;
    assert_eq!(
        failure(&report),
        (Step::Resolve, Source::Graph, Some(403), "ErrorAccessDenied", Reason::MissingPermission)
    );
    assert!(report.failure.as_ref().unwrap().explanation.contains("User.Read.All"));
    assert!(org.admin_test(&org.secret, &user).await.ok, "with the object id no resolution is needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_fails_at_the_token_step_with_invalid_client() {
    let org = Org::new(Some(&Permission::ALL)).await;
    org.user("alex", true, true);
    let report = org.admin_test("not-the-secret", "alex@contoso.example").await;
    assert_eq!(
        failure(&report),
        (Step::Token, Source::TokenEndpoint, Some(401), "invalid_client", Reason::WrongSecret)
    );
    assert_eq!(report.steps.len(), 1, "nothing runs after the token step");
    assert!(report.render().contains("client_secret_env"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_consent_fails_at_the_token_step_with_unauthorized_client() {
    let org = Org::new(None).await;
    org.user("alex", true, true);
    let report = org.admin_test(&org.secret, "alex@contoso.example").await;
    let (step, source, _, code, reason) = failure(&report);
    assert_eq!(
        (step, source, code, reason),
        (Step::Token, Source::TokenEndpoint, "unauthorized_client", Reason::ConsentMissing)
    );
    assert!(report.render().contains("hcal tenant consent-url"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_fails_at_resolve() {
    let org = Org::new(Some(&Permission::ALL)).await;
    let report = org.admin_test(&org.secret, "nobody@contoso.example").await;
    let (step, _, status, _, reason) = failure(&report);
    assert_eq!((step, status, reason), (Step::Resolve, Some(404), Reason::UserNotFound));
}

// ---------------------------------------------------------------------------------------------
// The admin API and the consent flow, through hcal's handlers.

macro_rules! hcal_app {
    ($running:expr, $onboarding:expr) => {
        test::init_service(
            App::new()
                .app_data($running.state.clone())
                .app_data($onboarding.clone())
                .configure(|cfg| hcal::http::routes(cfg, $running.state.config.service.max_body_bytes)),
        )
        .await
    };
}

fn onboarding(running: &Running) -> web::Data<Onboarding> {
    web::Data::new(Onboarding::from_config(&running.state.config).unwrap())
}

/// Follows a consent link on the simulator without following its redirect; returns the path
/// and query of the callback it points at.
async fn open_consent_page(url: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302, "the consent page redirects");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let location = url::Url::parse(&location).unwrap();
    format!("{}?{}", location.path(), location.query().unwrap_or_default())
}

fn recorded(dir: &Path) -> Option<TenantsFile> {
    let text = std::fs::read_to_string(dir.join("data").join(FILE_NAME)).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

#[actix_web::test]
async fn the_consent_link_leads_through_the_consent_page_to_a_recorded_tenant_and_a_passing_test() {
    let org = Org::new(None).await;
    let alex = org.user("alex", true, true);
    let dir = tempfile::tempdir().unwrap();
    let running = org.start_hcal(dir.path()).await;
    let onboarding = onboarding(&running);
    let app = hcal_app!(running, onboarding);

    // The admin API hands out the link.
    let req = test::TestRequest::post()
        .uri("/admin/v1/tenant/consent-url")
        .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
        .set_json(json!({}))
        .to_request();
    let link: Value = test::call_and_read_body_json(&app, req).await;
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/{}/adminconsent?client_id=", org.sim.url(), org.tenant)), "{url}");
    assert_eq!(link["redirectUri"], REDIRECT_URI);

    let callback = open_consent_page(url).await;
    assert!(callback.contains("admin_consent=True") && callback.contains(&org.tenant), "{callback}");
    let resp = test::call_service(&app, test::TestRequest::get().uri(&callback).to_request()).await;
    assert_eq!(resp.status(), 200);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!((body["tenant"].as_str(), body["status"].as_str()), (Some(org.tenant.as_str()), Some("consented")));
    let file = recorded(dir.path()).expect("tenants.json written");
    assert_eq!(file.tenants.iter().map(|t| t.id).collect::<Vec<_>>(), [org.tenant_id()]);

    // The same redirect again is refused.
    let resp = test::call_service(&app, test::TestRequest::get().uri(&callback).to_request()).await;
    assert_eq!(resp.status(), 400);
    let body: Value = test::read_body_json(resp).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("already used"), "{body}");
    // And after a restart (a new onboarding state over the same data directory).
    {
        let restarted = self::onboarding(&running);
        let app = hcal_app!(running, restarted);
        let resp = test::call_service(&app, test::TestRequest::get().uri(&callback).to_request()).await;
        assert_eq!(resp.status(), 400, "a used link works once, across restarts");
    }

    // Consent granted, the admin test passes through the admin API.
    let req = test::TestRequest::post()
        .uri("/admin/v1/tenant/test")
        .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
        .set_json(json!({"mailbox": "alex@contoso.example"}))
        .to_request();
    let report: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["userId"], alex.as_str());
    assert_eq!(running.state.metrics.get("hcal_tenant_admin_tests_total", "outcome", "ok"), 1);

    // Without the API token, no test.
    let req = test::TestRequest::post().uri("/admin/v1/tenant/test").set_json(json!({"mailbox": alex})).to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 401);
    running.stop().await;
}

#[actix_web::test]
async fn the_admin_api_reports_the_failing_step_and_code() {
    let org = Org::new(Some(&Permission::ALL)).await;
    let kim = org.user("kim", true, false);
    let dir = tempfile::tempdir().unwrap();
    let running = org.start_hcal(dir.path()).await;
    let onboarding = onboarding(&running);
    let app = hcal_app!(running, onboarding);
    let req = test::TestRequest::post()
        .uri("/admin/v1/tenant/test")
        .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
        .set_json(json!({"mailbox": kim}))
        .to_request();
    let report: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(report["ok"], false);
    assert_eq!(report["failure"]["step"], "create");
    assert_eq!(report["failure"]["status"], 403);
    assert_eq!(report["failure"]["code"], "ErrorAccessDenied");
    assert_eq!(report["failure"]["reason"], "not_in_access_policy");

    let req = test::TestRequest::post()
        .uri("/admin/v1/tenant/test")
        .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
        .set_json(json!({"mailbox": "not a mailbox"}))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 400);
    running.stop().await;
}

#[actix_web::test]
async fn without_the_api_token_the_body_is_not_read() {
    let org = Org::new(Some(&Permission::ALL)).await;
    let dir = tempfile::tempdir().unwrap();
    let running = org.start_hcal(dir.path()).await;
    let onboarding = onboarding(&running);
    let app = hcal_app!(running, onboarding);
    for path in ["/admin/v1/tenant/test", "/admin/v1/tenant/consent-url"] {
        for token in [None, Some("Bearer wrong")] {
            for body in ["{\"mailbox\": ", "{\"unknownField\": 1}", "[]"] {
                let mut req = test::TestRequest::post().uri(path).insert_header(("Content-Type", "application/json"));
                if let Some(token) = token {
                    req = req.insert_header(("Authorization", token));
                }
                let resp = test::call_service(&app, req.set_payload(body).to_request()).await;
                assert_eq!(resp.status(), 401, "{path} {token:?} {body}");
                let answer: Value = test::read_body_json(resp).await;
                assert_eq!(answer["error"]["code"], "unauthorized", "{answer}");
            }
        }
        // With the token, the same body is a 400 that names no field.
        let req = test::TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{\"unknownField\": 1}")
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), 400, "{path}");
        let answer: Value = test::read_body_json(resp).await;
        assert_eq!(answer["error"]["code"], "malformed_body", "{answer}");
        assert!(!answer.to_string().contains("unknownField"), "{answer}");
    }
    running.stop().await;
}

#[actix_web::test]
async fn a_declined_consent_is_reported_and_nothing_recorded() {
    let org = Org::new(None).await;
    org.sim.set_consent_admin(&org.tenant, false);
    let dir = tempfile::tempdir().unwrap();
    let running = org.start_hcal(dir.path()).await;
    let onboarding = onboarding(&running);
    let app = hcal_app!(running, onboarding);
    let link = consent::make_link(&onboarding, &running.state.ring, LinkTenant::Configured, None, Utc::now()).unwrap();

    let callback = open_consent_page(&link.url).await;
    assert!(callback.contains("error=permission_denied"), "{callback}");
    let resp = test::call_service(&app, test::TestRequest::get().uri(&callback).to_request()).await;
    assert_eq!(resp.status(), 400);
    let body: Value = test::read_body_json(resp).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("not granted") && message.contains("permission_denied"), "{message}");
    assert!(message.contains("AADSTS65004"), "Entra ID's explanation is passed on: {message}");
    // No tenant; the used link is remembered (it works once).
    assert_eq!(recorded(dir.path()).map(|f| f.tenants), Some(vec![]));
    assert_eq!(running.state.metrics.get("hcal_tenant_consent_callbacks_total", "outcome", "not_granted"), 1);
    running.stop().await;
}

#[actix_web::test]
async fn forged_expired_and_foreign_callbacks_are_refused() {
    let org = Org::new(None).await;
    let dir = tempfile::tempdir().unwrap();
    let running = org.start_hcal(dir.path()).await;
    let onboarding = onboarding(&running);
    let app = hcal_app!(running, onboarding);

    // A forged state, with a description an attacker would like shown: not reflected.
    let forged = format!(
        "/admin/consent/callback?admin_consent=True&tenant={}&state=local-x.AAAA.BBBB&error_description=call+us",
        org.tenant
    );
    let resp = test::call_service(&app, test::TestRequest::get().uri(&forged).to_request()).await;
    assert_eq!(resp.status(), 400);
    let body: Value = test::read_body_json(resp).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("not issued by this hcal installation") && !message.contains("call us"), "{message}");
    let missing = format!("/admin/consent/callback?admin_consent=True&tenant={}", org.tenant);
    let resp = test::call_service(&app, test::TestRequest::get().uri(&missing).to_request()).await;
    assert_eq!(resp.status(), 400);

    // A state that has expired.
    let (state, _) = consent::issue_state(
        &running.state.ring,
        None,
        Utc::now() - chrono::Duration::hours(2),
        chrono::Duration::minutes(30),
    )
    .unwrap();
    let expired = format!("/admin/consent/callback?admin_consent=True&tenant={}&state={state}", org.tenant);
    let resp = test::call_service(&app, test::TestRequest::get().uri(&expired).to_request()).await;
    assert_eq!(resp.status(), 400);
    let body: Value = test::read_body_json(resp).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");

    // An administrator of another tenant consents through an `organizations` link: refused,
    // since this installation serves one tenant.
    let other = org.sim.add_tenant("fabrikam.example");
    org.sim.set_consent_admin(&other, true);
    let link =
        consent::make_link(&onboarding, &running.state.ring, LinkTenant::Organizations, None, Utc::now()).unwrap();
    assert!(link.url.contains("/organizations/adminconsent?"), "{}", link.url);
    let callback = open_consent_page(&link.url).await;
    assert!(callback.contains(&other), "{callback}");
    let resp = test::call_service(&app, test::TestRequest::get().uri(&callback).to_request()).await;
    assert_eq!(resp.status(), 400);
    let body: Value = test::read_body_json(resp).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("not configured"), "{body}");
    assert!(recorded(dir.path()).is_none_or(|f| f.tenants.is_empty()), "no tenant recorded");
    running.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The `hcal tenant` commands.

fn hcal_cli(args: &[&str], secret: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(args)
        .env("HCAL_GRAPH_CLIENT_SECRET", secret)
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

#[actix_web::test]
async fn the_cli_makes_links_the_service_accepts_and_runs_the_admin_test() {
    let org = Org::new(None).await;
    org.user("alex", true, true);
    let dir = tempfile::tempdir().unwrap();
    let running = org.start_hcal(dir.path()).await;
    let onboarding = onboarding(&running);
    let app = hcal_app!(running, onboarding);
    let config = dir.path().join("hcal.toml").display().to_string();

    // Another process makes the link; the service accepts its state (same data directory).
    let cli_config = config.clone();
    let out = tokio::task::spawn_blocking(move || hcal_cli(&["tenant", "consent-url", "--config", &cli_config], ""))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let callback = open_consent_page(&url).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri(&callback).to_request()).await;
    assert_eq!(resp.status(), 200);
    assert!(recorded(dir.path()).is_some());

    let (cli_config, secret) = (config.clone(), org.secret.clone());
    let out = tokio::task::spawn_blocking(move || {
        hcal_cli(&["tenant", "test", "--config", &cli_config, "--mailbox", "alex@contoso.example"], &secret)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Success"), "{stdout}");

    let cli_config = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        hcal_cli(&["tenant", "test", "--config", &cli_config, "--mailbox", "alex@contoso.example", "--json"], "wrong")
    })
    .await
    .unwrap();
    assert!(!out.status.success(), "a failed test exits non-zero");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["failure"]["step"].as_str(), report["failure"]["code"].as_str()),
        (Some("token"), Some("invalid_client"))
    );
    assert_eq!(report["failure"]["status"], 401);
    running.stop().await;
}

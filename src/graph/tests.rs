//! The client against the Graph simulator over real HTTP on 127.0.0.1: tokens, mapping,
//! classification, retries, the per-mailbox limit, subscriptions, settings and log hygiene.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DurationRound, TimeDelta, TimeZone, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};
use hcal_actors::ports::{EventType, GraphApi, GraphFailure};
use hcal_actors::presence::AutoReplyStatus;
use hcal_sim::graph::{FaultConfig, GraphSim, GraphSimConfig, ThrottleConfig, UserSpec};
use serde_json::{Value, json};

use super::{GraphClient, GraphConfig};

/// A simulator with one consented app and two mailboxes.
struct Env {
    sim: GraphSim,
    tenant: String,
    client_id: String,
    secret: String,
    alice_id: String,
    alice: MailboxId,
    bob_id: String,
    bob: MailboxId,
}

impl Env {
    async fn start() -> Self {
        Self::with(fast_throttle()).await
    }

    async fn with(config: GraphSimConfig) -> Self {
        capture::install();
        let sim = GraphSim::start(config).await.unwrap();
        let tenant = sim.add_tenant("contoso.example");
        let (client_id, secret) = sim.add_app(None, None, vec![]);
        sim.consent(&client_id, &tenant).unwrap();
        let alice_id = sim.add_user(&UserSpec::new(&tenant, "Alice Adams", "alice@contoso.example")).unwrap();
        let bob_id = sim.add_user(&UserSpec::new(&tenant, "Bob Brown", "bob@contoso.example")).unwrap();
        let (alice, bob) = (mailbox(&tenant, &alice_id), mailbox(&tenant, &bob_id));
        Self { sim, tenant, client_id, secret, alice_id, alice, bob_id, bob }
    }

    fn config(&self) -> GraphConfig {
        GraphConfig {
            login_base: self.sim.url().to_owned(),
            graph_base: self.sim.graph_url(),
            retry_base: Duration::from_millis(10),
            retry_cap: Duration::from_secs(2),
            ..GraphConfig::new(&self.client_id)
        }
    }

    fn client(&self) -> GraphClient {
        self.client_with(|_| {})
    }

    fn client_with(&self, adjust: impl FnOnce(&mut GraphConfig)) -> GraphClient {
        let mut config = self.config();
        adjust(&mut config);
        GraphClient::new(config, self.secret.clone()).unwrap()
    }

    /// Access tokens the simulator has issued so far.
    fn tokens_issued(&self) -> usize {
        self.sim.core().store.lock().tokens.len()
    }

    /// The user creates an event in Outlook.
    async fn event(&self, user_id: &str, body: Value) -> GraphEventId {
        let created = self.sim.create_event(user_id, body).await.unwrap();
        GraphEventId::new(created["id"].as_str().unwrap())
    }

    fn faults(&self, faults: FaultConfig) {
        self.sim.set_faults(faults);
    }
}

fn mailbox(tenant: &str, user: &str) -> MailboxId {
    MailboxId { tenant: TenantId::parse(tenant).unwrap(), user: UserObjectId::parse(user).unwrap() }
}

/// Default simulator, but throttling answers `Retry-After: 0.05` so retries are quick.
fn fast_throttle() -> GraphSimConfig {
    GraphSimConfig {
        throttle: ThrottleConfig { retry_after_secs: 0.05, ..ThrottleConfig::default() },
        ..Default::default()
    }
}

fn meeting(subject: &str) -> Value {
    json!({
        "subject": subject,
        "body": {"contentType": "html", "content": "<p>Agenda</p>"},
        "start": {"dateTime": "2030-01-02T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2030-01-02T11:00:00", "timeZone": "W. Europe Standard Time"},
    })
}

/// A notification receiver that passes Graph's validation handshake: it echoes
/// `validationToken` as text/plain and accepts everything else with 202.
async fn webhook() -> (String, actix_web::dev::ServerHandle) {
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|req: HttpRequest| async move {
            let token = url::form_urlencoded::parse(req.query_string().as_bytes())
                .find(|(k, _)| k == "validationToken")
                .map(|(_, v)| v.into_owned());
            match token {
                Some(token) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(token),
                None => HttpResponse::Accepted().finish(),
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}"), handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_cached_shared_and_replaced_when_graph_rejects_them() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Tokens")).await;
    let client = env.client();
    for _ in 0..5 {
        assert!(client.get_event(&env.alice, &id).await.unwrap().is_some());
    }
    let concurrent: Vec<_> = (0..10)
        .map(|_| {
            let (client, mailbox, id) = (client.clone(), env.alice, id.clone());
            tokio::spawn(async move { client.get_event(&mailbox, &id).await })
        })
        .collect();
    for task in concurrent {
        assert!(task.await.unwrap().unwrap().is_some());
    }
    assert_eq!(env.tokens_issued(), 1, "one token for fifteen calls");

    // Two simulated hours later the cached token is expired for Graph but not for the client's
    // clock: Graph answers 401, the client drops it and fetches one new token for everyone.
    env.sim.advance_clock(Duration::from_secs(2 * 3600));
    let concurrent: Vec<_> = (0..10)
        .map(|_| {
            let (client, mailbox, id) = (client.clone(), env.alice, id.clone());
            tokio::spawn(async move { client.get_event(&mailbox, &id).await })
        })
        .collect();
    for task in concurrent {
        assert!(task.await.unwrap().unwrap().is_some());
    }
    assert_eq!(env.tokens_issued(), 2);
    client.get_event(&env.alice, &id).await.unwrap();
    assert_eq!(env.tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_refreshed_before_they_expire() {
    let env = Env::with(GraphSimConfig { token_lifetime_secs: 2, ..fast_throttle() }).await;
    let id = env.event(&env.alice_id, meeting("Refresh")).await;
    let client = env.client();
    client.get_event(&env.alice, &id).await.unwrap();
    client.get_event(&env.alice, &id).await.unwrap();
    assert_eq!(env.tokens_issued(), 1);
    // Past the refresh point (half of a 2 s lifetime) but before expiry: a new token is fetched
    // although Graph would still accept the old one.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.get_event(&env.alice, &id).await.unwrap();
    assert_eq!(env.tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_event_maps_the_event_and_reads_back_the_marker_after_a_patch() {
    let env = Env::start().await;
    let mut body = meeting("Design review");
    body["location"] = json!({"displayName": "Room Rainier"});
    body["sensitivity"] = json!("private");
    body["attendees"] = json!([
        {"type": "required", "emailAddress": {"name": "Bob Brown", "address": "bob@contoso.example"}},
        {"type": "optional", "emailAddress": {"name": "Guest", "address": "guest@fabrikam.example"}},
    ]);
    body["onlineMeeting"] = json!({"joinUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x"});
    let id = env.event(&env.alice_id, body).await;
    let client = env.client();

    let ev = client.get_event(&env.alice, &id).await.unwrap().unwrap();
    assert_eq!(ev.id, id);
    assert_eq!(ev.subject, "Design review");
    assert!(ev.body_html.contains("Agenda"), "{}", ev.body_html);
    assert_eq!(ev.location, "Room Rainier");
    // 10:00 in Berlin in winter is 09:00 UTC.
    assert_eq!(ev.start, Utc.with_ymd_and_hms(2030, 1, 2, 9, 0, 0).unwrap());
    assert_eq!(ev.end, Utc.with_ymd_and_hms(2030, 1, 2, 10, 0, 0).unwrap());
    assert!(!ev.is_all_day && !ev.is_cancelled && ev.is_organizer);
    assert_eq!(ev.event_type, EventType::SingleInstance);
    assert_eq!(ev.series_master_id, None);
    assert_eq!(ev.organizer.as_ref().map(|o| o.address.as_str()), Some("alice@contoso.example"));
    let attendees: Vec<&str> = ev.attendees.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(attendees, ["bob@contoso.example", "guest@fabrikam.example"]);
    assert_eq!(ev.online_meeting_url.as_deref(), Some("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x"));
    assert_eq!(ev.sensitivity, "private");
    assert_eq!(ev.marker, None);

    let html = "<html><body><p>Agenda</p><p>Join: https://meet.example/j/123</p></body></html>";
    let patched = client.patch_join_info(&env.alice, &id, &ev.change_key, html, "v1:meet.example/123").await.unwrap();
    assert_ne!(patched.change_key, ev.change_key);
    let after = client.get_event(&env.alice, &id).await.unwrap().unwrap();
    assert_eq!(after.change_key, patched.change_key);
    assert_eq!(after.marker.as_deref(), Some("v1:meet.example/123"));
    assert!(after.body_html.contains("https://meet.example/j/123"));
    assert_eq!(after.subject, "Design review", "the PATCH touched body and marker only");

    // Someone else's change makes hcal's change key stale: If-Match fails.
    env.sim.update_event(&env.alice_id, id.as_str(), json!({"subject": "Design review (moved)"})).await.unwrap();
    let stale = client.patch_join_info(&env.alice, &id, &patched.change_key, html, "v1:x").await;
    assert_eq!(stale, Err(GraphFailure::Conflict));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurrences_carry_their_series_master() {
    let env = Env::start().await;
    let mut body = meeting("Weekly");
    body["recurrence"] = json!({
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["wednesday"]},
        "range": {"type": "numbered", "startDate": "2030-01-02", "numberOfOccurrences": 3},
    });
    let master = env.event(&env.alice_id, body).await;
    let path = format!(
        "/users/{}/events/{}/instances?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-02-01T00:00:00Z",
        env.alice_id,
        super::wire::encode_component(master.as_str())
    );
    let page = env.sim.act("GET", &path, None).await;
    let first = page.body.unwrap()["value"][0]["id"].as_str().unwrap().to_owned();
    let client = env.client();
    let occurrence = client.get_event(&env.alice, &GraphEventId::new(first)).await.unwrap().unwrap();
    assert_eq!(occurrence.event_type, EventType::Occurrence);
    assert_eq!(occurrence.series_master_id, Some(master.clone()));
    let series = client.get_event(&env.alice, &master).await.unwrap().unwrap();
    assert_eq!(series.event_type, EventType::SeriesMaster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_events_read_as_none_and_ids_are_encoded() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Gone soon")).await;
    assert!(id.as_str().ends_with('='), "Graph ids carry padding: {}", id.as_str());
    let client = env.client();
    assert!(client.get_event(&env.alice, &id).await.unwrap().is_some());
    env.sim.delete_event(&env.alice_id, id.as_str()).await.unwrap();
    assert_eq!(client.get_event(&env.alice, &id).await, Ok(None));
    // `/` and `+` must stay inside the one path segment, or the route changes (400).
    let odd = GraphEventId::new("AAMkAD+/x_y-z==");
    assert_eq!(client.get_event(&env.alice, &odd).await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes_outside_the_policy_or_unlicensed_are_not_in_scope() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Scope")).await;
    let client = env.client();
    env.sim.set_in_policy(&env.alice_id, false);
    let raop = GraphFailure::NotInScope { code: "ErrorAccessDenied".into() };
    assert_eq!(client.get_event(&env.alice, &id).await, Err(raop.clone()));
    assert_eq!(client.mailbox_settings(&env.alice).await, Err(raop));
    env.sim.set_in_policy(&env.alice_id, true);
    env.sim.set_licensed(&env.alice_id, false);
    let unlicensed = GraphFailure::NotInScope { code: "MailboxNotEnabledForRESTAPI".into() };
    assert_eq!(client.get_event(&env.alice, &id).await, Err(unlicensed.clone()));
    assert_eq!(client.patch_join_info(&env.alice, &id, "ck", "<p/>", "m").await, Err(unlicensed));
    let stranger = mailbox(&env.tenant, "00000000-0000-0000-0000-00000000dead");
    assert_eq!(
        client.get_event(&stranger, &id).await,
        Err(GraphFailure::NotInScope { code: "ErrorInvalidUser".into() })
    );
    assert!(!GraphFailure::NotInScope { code: String::new() }.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refusals_are_final() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Auth")).await;
    let wrong = GraphClient::new(env.config(), "not-the-secret".into()).unwrap();
    let started = Instant::now();
    assert_eq!(
        wrong.get_event(&env.alice, &id).await,
        Err(GraphFailure::Fatal { status: 401, code: "invalid_client".into() })
    );
    assert!(started.elapsed() < Duration::from_millis(500), "a wrong secret is not retried");
    // A tenant that never consented to the app: that tenant's state, not hcal's.
    let other = env.sim.add_tenant("fabrikam.example");
    let dave = env.sim.add_user(&UserSpec::new(&other, "Dave", "dave@fabrikam.example")).unwrap();
    let client = env.client();
    assert_eq!(
        client.get_event(&mailbox(&other, &dave), &id).await,
        Err(GraphFailure::NotInScope { code: "unauthorized_client".into() })
    );
    // The consented tenant is unaffected.
    assert!(client.get_event(&env.alice, &id).await.unwrap().is_some());
    assert_eq!(env.sim.stats().requests, 1);
}

/// A stand-in token endpoint that counts requests and answers every one with `status` and
/// `body` after 50 ms.
async fn fake_login(status: u16, body: Value) -> (String, Arc<AtomicUsize>, actix_web::dev::ServerHandle) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let server = HttpServer::new(move || {
        let (seen, body) = (seen.clone(), body.clone());
        App::new().default_service(web::to(move || {
            let (seen, body) = (seen.clone(), body.clone());
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                let status = actix_web::http::StatusCode::from_u16(status).unwrap();
                HttpResponse::build(status).insert_header(("Retry-After", "0.01")).json(body)
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}"), count, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_failures_are_shared_by_waiting_callers() {
    let env = Env::start().await;
    let id = GraphEventId::new("AAMk=");
    let concurrent = |client: GraphClient| {
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (client, mailbox, id) = (client.clone(), env.alice, id.clone());
                tokio::spawn(async move { client.get_event(&mailbox, &id).await })
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        }
    };

    let refusal = json!({"error": "invalid_client", "error_codes": [7_000_215]});
    let (login, count, server) = fake_login(401, refusal).await;
    let client = env.client_with(|c| c.login_base = login);
    let fatal = Err(GraphFailure::Fatal { status: 401, code: "invalid_client".into() });
    assert!(concurrent(client.clone()).await.iter().all(|r| *r == fatal));
    assert_eq!(client.get_event(&env.alice, &id).await, fatal);
    assert_eq!(count.load(Ordering::SeqCst), 1, "one refusal answers everyone for a while");
    server.stop(false).await;

    let (login, count, server) = fake_login(503, json!({"error": "temporarily_unavailable"})).await;
    let client = env.client_with(|c| {
        c.login_base = login;
        c.max_retries = 0;
    });
    let throttled = Err(GraphFailure::Throttled { retry_after_secs: 0.01 });
    assert!(concurrent(client).await.iter().all(|r| *r == throttled));
    assert_eq!(count.load(Ordering::SeqCst), 1, "callers queued behind a failed refresh share its answer");
    server.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_faults_are_ridden_out_through_retries() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Busy")).await;
    let client = env.client_with(|c| c.max_retries = 8);
    env.faults(FaultConfig { rate_429: 0.5, ..FaultConfig::default() });
    for _ in 0..10 {
        assert!(client.get_event(&env.alice, &id).await.unwrap().is_some());
    }
    let ev = client.get_event(&env.alice, &id).await.unwrap().unwrap();
    client.patch_join_info(&env.alice, &id, &ev.change_key, "<p>x</p>", "m").await.unwrap();
    assert!(env.sim.stats().faults_injected >= 3, "{:?}", env.sim.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_throttling_and_outages_end_in_classified_failures() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Outage")).await;
    let client = env.client_with(|c| c.max_retries = 2);
    client.get_event(&env.alice, &id).await.unwrap();

    env.faults(FaultConfig { rate_503: 1.0, ..FaultConfig::default() });
    assert_eq!(client.get_event(&env.alice, &id).await, Err(GraphFailure::Throttled { retry_after_secs: 0.05 }));
    assert_eq!(env.sim.stats().faults_injected, 3, "one attempt and two retries");

    env.faults(FaultConfig { rate_timeout: 1.0, hang: Duration::from_millis(10), ..FaultConfig::default() });
    match client.mailbox_settings(&env.alice).await {
        Err(GraphFailure::Transient(reason)) => assert_eq!(reason, "504 UnknownError (after 3 attempts)"),
        other => panic!("expected Transient, got {other:?}"),
    }
    assert_eq!(env.sim.stats().faults_injected, 6);

    // Creating a subscription is not idempotent: a 504 may hide a created subscription, so it
    // is not repeated.
    let expiration = env.sim.now() + TimeDelta::days(1);
    let created =
        client.create_subscription(&env.alice, "http://127.0.0.1:9/n", Some("http://127.0.0.1:9/l"), "s", expiration);
    assert!(matches!(created.await, Err(GraphFailure::Transient(_))));
    assert_eq!(env.sim.stats().faults_injected, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_after_is_handed_back_at_once() {
    let config = GraphSimConfig {
        throttle: ThrottleConfig { retry_after_secs: 5.0, ..ThrottleConfig::default() },
        ..Default::default()
    };
    let env = Env::with(config).await;
    let id = env.event(&env.alice_id, meeting("Later")).await;
    let client = env.client_with(|c| c.retry_cap = Duration::from_secs(1));
    env.faults(FaultConfig { rate_429: 1.0, ..FaultConfig::default() });
    let started = Instant::now();
    assert_eq!(client.get_event(&env.alice, &id).await, Err(GraphFailure::Throttled { retry_after_secs: 5.0 }));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(env.sim.stats().faults_injected, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_time_out_as_transient() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Slow")).await;
    let client = env.client_with(|c| {
        c.request_timeout = Duration::from_millis(150);
        c.max_retries = 1;
    });
    client.get_event(&env.alice, &id).await.unwrap();
    env.faults(FaultConfig { latency: Duration::from_millis(600), ..FaultConfig::default() });
    assert_eq!(
        client.get_event(&env.alice, &id).await,
        Err(GraphFailure::Transient("timed out (after 2 attempts)".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_reads_stay_within_four_per_mailbox() {
    let env = Env::start().await;
    let id = env.event(&env.alice_id, meeting("Popular")).await;
    let bobs = env.event(&env.bob_id, meeting("Elsewhere")).await;
    let client = env.client();
    env.faults(FaultConfig { latency: Duration::from_millis(100), ..FaultConfig::default() });
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, mailbox, id) = (client.clone(), env.alice, id.clone());
            tokio::spawn(async move { client.get_event(&mailbox, &id).await })
        })
        .collect();
    // Alice's queue does not hold up Bob.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let bob_started = Instant::now();
    assert!(client.get_event(&env.bob, &bobs).await.unwrap().is_some());
    assert!(bob_started.elapsed() < Duration::from_millis(350), "bob waited {:?}", bob_started.elapsed());
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_some());
    }
    // Twenty requests of 100 ms, four at a time: at least five rounds.
    assert!(started.elapsed() >= Duration::from_millis(500));
    let stats = env.sim.stats();
    let peak = stats.max_concurrency.get(&env.alice_id).copied().unwrap_or(0);
    assert!((2..=4).contains(&peak), "peak concurrency {peak}");
    assert_eq!(stats.throttled, 0, "never over Outlook's limit");
    assert_eq!(env.tokens_issued(), 1, "concurrent first calls share one token request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_round_trip() {
    let env = Env::start().await;
    let (hook, server) = webhook().await;
    let client = env.client();
    let tenant = env.alice.tenant;
    let expiration = (env.sim.now() + TimeDelta::days(3)).duration_trunc(TimeDelta::seconds(1)).unwrap();
    let created = client
        .create_subscription(
            &env.alice,
            &format!("{hook}/notify?m=1"),
            Some(&format!("{hook}/lifecycle")),
            "state",
            expiration,
        )
        .await
        .unwrap();
    assert_eq!(created.expiration, expiration);
    let live = env.sim.subscriptions();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["id"], created.id.to_string());
    assert_eq!(live[0]["userId"], env.alice_id.as_str());
    assert!(env.sim.stats().validations >= 2, "both URLs were validated");

    let later = expiration + TimeDelta::days(2);
    let renewed = client.renew_subscription(&tenant, &created.id, later).await.unwrap().unwrap();
    assert_eq!((renewed.id, renewed.expiration), (created.id, later));
    assert!(client.reauthorize_subscription(&tenant, &created.id).await.unwrap());

    client.delete_subscription(&tenant, &created.id).await.unwrap();
    assert!(env.sim.subscriptions().is_empty());
    assert_eq!(client.renew_subscription(&tenant, &created.id, later).await, Ok(None), "gone: recreate");
    assert_eq!(client.reauthorize_subscription(&tenant, &created.id).await, Ok(false));
    client.delete_subscription(&tenant, &created.id).await.unwrap();

    // Without a lifecycle URL only the notification URL is validated.
    let validations = env.sim.stats().validations;
    let plain =
        client.create_subscription(&env.alice, &format!("{hook}/notify"), None, "state", expiration).await.unwrap();
    assert_eq!(env.sim.stats().validations, validations + 1);
    client.delete_subscription(&tenant, &plain.id).await.unwrap();

    // A receiver that cannot be reached fails Graph's validation: a 400 to report, not retry.
    let dead =
        client.create_subscription(&env.alice, "http://127.0.0.1:9/n", Some("http://127.0.0.1:9/l"), "s", expiration);
    assert_eq!(dead.await, Err(GraphFailure::Fatal { status: 400, code: "InvalidRequest".into() }));
    server.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_list_follows_every_page_and_rides_out_throttling() {
    let env = Env::with(GraphSimConfig { subscription_page_size: 2, ..fast_throttle() }).await;
    let (hook, server) = webhook().await;
    let client = env.client();
    let tenant = env.alice.tenant;
    let expiration = env.sim.now() + TimeDelta::days(3);
    let mut created = Vec::new();
    for (n, mailbox) in [&env.alice, &env.bob, &env.alice, &env.bob, &env.alice].into_iter().enumerate() {
        let url = format!("{hook}/notify/{n}");
        created.push(client.create_subscription(mailbox, &url, None, "state", expiration).await.unwrap().id);
    }
    created.sort();
    let listed = client.list_subscriptions(&tenant).await.unwrap();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), created, "three pages, each entry once");
    assert_eq!(listed[0].expiration.map(|at| (at - expiration).num_seconds().abs() <= 1), Some(true));
    assert!(listed.iter().all(|s| s.notification_url.starts_with(&format!("{hook}/notify/"))));
    let users: Vec<String> = listed.iter().filter_map(|s| s.user.map(|u| u.to_string())).collect();
    assert_eq!(users.len(), 5);
    assert!(users.iter().all(|u| *u == env.alice_id || *u == env.bob_id));

    // Throttled and unavailable pages are retried like every other read.
    env.faults(FaultConfig { rate_429: 0.3, ..Default::default() });
    for _ in 0..10 {
        assert_eq!(client.list_subscriptions(&tenant).await.unwrap(), listed);
        if env.sim.stats().faults_injected > 0 {
            break;
        }
    }
    env.faults(FaultConfig::default());
    assert!(env.sim.stats().faults_injected > 0, "some pages were refused first");
    server.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_settings_are_read() {
    let env = Env::start().await;
    let carol_id = env
        .sim
        .add_user(&UserSpec {
            locale: "de-DE".into(),
            time_zone: "W. Europe Standard Time".into(),
            ..UserSpec::new(&env.tenant, "Carol", "carol@contoso.example")
        })
        .unwrap();
    env.sim
        .set_automatic_replies(&carol_id, json!({"status": "alwaysEnabled", "internalReplyMessage": "Away"}))
        .await
        .unwrap();
    let client = env.client();
    let settings = client.mailbox_settings(&mailbox(&env.tenant, &carol_id)).await.unwrap();
    assert_eq!(settings.locale, "de-DE");
    assert_eq!(settings.time_zone, "W. Europe Standard Time");
    assert_eq!(settings.automatic_replies.map(|r| r.status), Some(AutoReplyStatus::AlwaysEnabled));
    let alice = client.mailbox_settings(&env.alice).await.unwrap();
    assert_eq!((alice.locale.as_str(), alice.time_zone.as_str()), ("en-US", "UTC"));
    assert_eq!(alice.automatic_replies.map(|r| r.status), Some(AutoReplyStatus::Disabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_carry_sensitive_values() {
    let env = Env::start().await;
    let mut body = meeting("CANARY-SUBJECT");
    body["body"] = json!({"contentType": "html", "content": "<p>CANARY-BODY</p>"});
    body["attendees"] = json!([{"emailAddress": {"name": "CANARY-NAME", "address": "canary@fabrikam.example"}}]);
    let id = env.event(&env.alice_id, body).await;
    env.sim
        .set_automatic_replies(
            &env.alice_id,
            json!({"status": "alwaysEnabled", "internalReplyMessage": "CANARY-REPLY"}),
        )
        .await
        .unwrap();
    let client = env.client_with(|c| c.max_retries = 1);
    let ev = client.get_event(&env.alice, &id).await.unwrap().unwrap();
    client.patch_join_info(&env.alice, &id, &ev.change_key, "<p>CANARY-HTML</p>", "CANARY-MARKER").await.unwrap();
    assert_eq!(
        client.patch_join_info(&env.alice, &id, "stale", "<p/>", "CANARY-MARKER").await,
        Err(GraphFailure::Conflict)
    );
    client.mailbox_settings(&env.alice).await.unwrap();
    let expiration = env.sim.now() + TimeDelta::days(1);
    let hook = "http://127.0.0.1:9/CANARY-HOOK";
    client.create_subscription(&env.alice, hook, Some(hook), "CANARY-STATE", expiration).await.unwrap_err();
    env.faults(FaultConfig { rate_429: 1.0, ..FaultConfig::default() });
    client.get_event(&env.alice, &id).await.unwrap_err();
    let wrong = GraphClient::new(env.config(), "CANARY-SECRET".into()).unwrap();
    wrong.get_event(&env.alice, &id).await.unwrap_err();

    let logs = capture::lines();
    assert!(logs.iter().any(|l| l.contains("patch_join_info")), "the client does log");
    let tokens: Vec<String> = env.sim.core().store.lock().tokens.keys().cloned().collect();
    let mut forbidden: Vec<&str> = vec![
        "CANARY",
        "alice@contoso.example",
        "canary@fabrikam.example",
        env.secret.as_str(),
        id.as_str(),
        &ev.change_key,
    ];
    forbidden.extend(tokens.iter().map(String::as_str));
    for line in &logs {
        for bad in &forbidden {
            assert!(!line.contains(bad), "log line leaks {bad:?}: {line}");
        }
    }
}

/// A process-wide tracing subscriber that records what the graph module logs (events and span
/// fields), so tests can assert what never reaches a log line.
mod capture {
    use std::fmt::{Debug, Write as _};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use parking_lot::Mutex;
    use tracing::field::{Field, Visit};
    use tracing::level_filters::LevelFilter;
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// Only this module's logs: the simulator logs whatever it likes.
    fn ours(meta: &Metadata<'_>) -> bool {
        let prefix = module_path!().trim_end_matches("::tests::capture");
        meta.target().starts_with(prefix)
    }

    struct Line<'a>(&'a mut String);

    impl Visit for Line<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    struct Capture {
        next_id: AtomicU64,
    }

    impl Subscriber for Capture {
        fn enabled(&self, meta: &Metadata<'_>) -> bool {
            ours(meta)
        }

        fn max_level_hint(&self) -> Option<LevelFilter> {
            Some(LevelFilter::TRACE)
        }

        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut line = format!("span {}", span.metadata().name());
            span.record(&mut Line(&mut line));
            LINES.lock().push(line);
            Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
        }

        fn record(&self, _: &Id, values: &Record<'_>) {
            let mut line = "record".to_owned();
            values.record(&mut Line(&mut line));
            LINES.lock().push(line);
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut line = format!("{} {}", event.metadata().level(), event.metadata().target());
            event.record(&mut Line(&mut line));
            LINES.lock().push(line);
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }

    pub fn install() {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            let _ = tracing::subscriber::set_global_default(Capture { next_id: AtomicU64::new(0) });
        });
    }

    pub fn lines() -> Vec<String> {
        LINES.lock().clone()
    }
}

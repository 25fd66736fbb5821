//! Shared fixtures of the simulator's tests: a started simulator with a consented app and a
//! few mailboxes, an authenticated client, and a recording notification receiver.

#![allow(dead_code)]
// Test scaffolding: a failed set-up step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hcal_sim::graph::{GraphSim, GraphSimConfig, MailboxKind, UserSpec};
use parking_lot::Mutex;
use serde_json::Value;

/// A simulator with tenant, app, token and mailboxes.
pub struct Fixture {
    pub sim: GraphSim,
    pub tenant: String,
    pub client_id: String,
    pub secret: String,
    pub alice: String,
    pub bob: String,
    pub room: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::with(GraphSimConfig::default()).await
    }

    pub async fn with(config: GraphSimConfig) -> Self {
        let sim = GraphSim::start(config).await.expect("simulator starts");
        let tenant = sim.add_tenant("contoso.example");
        let (client_id, secret) = sim.add_app(None, None, vec!["http://127.0.0.1:9/callback".into()]);
        sim.consent(&client_id, &tenant).unwrap();
        let alice = sim.add_user(&UserSpec::new(&tenant, "Alice Adams", "alice@contoso.example")).unwrap();
        let bob = sim.add_user(&UserSpec::new(&tenant, "Bob Brown", "bob@contoso.example")).unwrap();
        let room = sim
            .add_user(&UserSpec {
                kind: MailboxKind::Room,
                ..UserSpec::new(&tenant, "Room Rainier", "rainier@contoso.example")
            })
            .unwrap();
        let http = reqwest::Client::new();
        let token = token(&http, sim.url(), &tenant, &client_id, &secret).await;
        Self { sim, tenant, client_id, secret, alice, bob, room, token, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v1.0{path}", self.sim.url())
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(&self.token).json(body)
    }

    pub fn patch(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http.patch(self.url(path)).bearer_auth(&self.token).json(body)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(&self.token)
    }

    /// Creates an event through the API as the app; returns the rendered event.
    pub async fn create(&self, user: &str, body: Value) -> Value {
        let resp = self.post(&format!("/users/{user}/events"), &body).send().await.unwrap();
        assert_eq!(resp.status(), 201, "create failed");
        resp.json().await.unwrap()
    }
}

/// Requests a client-credential token.
pub async fn token(http: &reqwest::Client, base: &str, tenant: &str, client_id: &str, secret: &str) -> String {
    let resp = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A simple event body.
pub fn event(subject: &str, start: &str, end: &str) -> Value {
    serde_json::json!({
        "subject": subject,
        "body": {"contentType": "html", "content": "<html><body><p>Agenda</p></body></html>"},
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
        "location": {"displayName": "@webex"},
    })
}

/// Asserts Graph's error envelope and returns it.
pub async fn assert_graph_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    assert!(resp.headers().contains_key("request-id"), "request-id header");
    assert!(resp.headers().contains_key("client-request-id"), "client-request-id header");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "message in {body}");
    let inner = &body["error"]["innerError"];
    assert!(inner["request-id"].is_string() && inner["client-request-id"].is_string(), "innerError in {body}");
    // Graph writes `innerError.date` as UTC seconds without an offset: 2025-02-13T10:17:06.
    let date = inner["date"].as_str().unwrap_or_default();
    assert!(chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(), "innerError.date {date}");
    body
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: String,
    pub body: String,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn validation_token(&self) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == "validationToken").map(|(_, v)| v.as_str())
    }
}

/// How a receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Echo validation tokens correctly, 202 to notifications.
    Correct,
    /// This status to everything that is not a validation.
    Status(u16),
    /// Wait, then answer correctly.
    Slow(Duration),
    /// Echo validation tokens with the wrong body.
    WrongToken,
    /// Echo validation tokens as JSON instead of text/plain.
    JsonToken,
}

/// A notification receiver on 127.0.0.1 that records every request. Answers follow a script:
/// the first entries of `plan` are used in turn, then `Answer::Correct`.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<Vec<Answer>>>,
    server: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::with_plan(Vec::new()).await
    }

    pub async fn with_plan(plan: Vec<Answer>) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let plan = Arc::new(Mutex::new(plan));
        let state = web::Data::new((received.clone(), plan.clone()));
        let server = HttpServer::new(move || App::new().app_data(state.clone()).default_service(web::to(receive)))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://{addr}"), received, plan, server: handle }
    }

    /// Replaces the remaining plan.
    pub fn plan(&self, plan: Vec<Answer>) {
        *self.plan.lock() = plan;
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().clone()
    }

    /// Notification POSTs (not validations) to `path`.
    pub fn notifications(&self, path: &str) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.validation_token().is_none() && r.path == path).collect()
    }

    /// Items of all notification POSTs to `path`.
    pub fn items(&self, path: &str) -> Vec<Value> {
        self.notifications(path)
            .iter()
            .flat_map(|r| r.json()["value"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Waits until `pred` holds or the timeout passes; returns whether it held.
    pub async fn wait(&self, timeout: Duration, pred: impl Fn(&Receiver) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if pred(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        pred(self)
    }
}

/// What the receiver shares between its workers: what it received, and the answers to give.
type ReceiverState = (Arc<Mutex<Vec<Received>>>, Arc<Mutex<Vec<Answer>>>);

async fn receive(state: web::Data<ReceiverState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    let rec = Received {
        path: req.path().to_owned(),
        query: query.clone(),
        content_type: req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    };
    state.0.lock().push(rec);
    let answer = {
        let mut plan = state.1.lock();
        if plan.is_empty() { Answer::Correct } else { plan.remove(0) }
    };
    let token = query.iter().find(|(k, _)| k == "validationToken").map(|(_, v)| v.clone());
    match (answer, token) {
        (Answer::Slow(d), token) => {
            tokio::time::sleep(d).await;
            correct(token)
        }
        (Answer::WrongToken, Some(_)) => HttpResponse::Ok().content_type("text/plain").body("not-the-token"),
        (Answer::JsonToken, Some(t)) => HttpResponse::Ok().json(serde_json::json!({"validationToken": t})),
        (Answer::Status(s), None) => HttpResponse::build(actix_web::http::StatusCode::from_u16(s).unwrap()).finish(),
        (_, token) => correct(token),
    }
}

fn correct(token: Option<String>) -> HttpResponse {
    match token {
        Some(t) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(t),
        None => HttpResponse::Accepted().finish(),
    }
}

/// Creates a subscription on `user`'s events pointing at the receiver; returns its JSON.
pub async fn subscribe(f: &Fixture, rx: &Receiver, user: &str, lifecycle: bool) -> Value {
    let expiration = (f.sim.now() + chrono::Duration::minutes(4000)).to_rfc3339();
    let mut body = serde_json::json!({
        "changeType": "created,updated,deleted",
        "notificationUrl": format!("{}/notify?tenant=t1", rx.url),
        "resource": format!("/users/{user}/events"),
        "expirationDateTime": expiration,
        "clientState": "secret-client-state",
    });
    if lifecycle {
        body["lifecycleNotificationUrl"] = Value::String(format!("{}/lifecycle", rx.url));
    }
    let resp = f.post("/subscriptions", &body).send().await.unwrap();
    assert_eq!(resp.status(), 201, "subscription created");
    resp.json().await.unwrap()
}

//! End-to-end harness: the Graph and Webex simulators in the test process, the `hcal` binary in
//! a child process, real HTTP on 127.0.0.1 both ways, real files in a temporary directory.

#![allow(dead_code)]
// Test scaffolding: a failed set-up step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hcal_sim::graph::{DemoTenant, GraphSim, GraphSimConfig, MailboxKind};
use hcal_sim::webex::{WebexSim, WebexSimConfig};
use serde_json::{Value, json};

/// Which event log hcal runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The local SQLite store.
    Embedded,
    /// librdkafka's in-process mock cluster (lives in the test process; hcal connects over TCP).
    KafkaMock,
    /// A real Kafka-protocol broker process (tansu), installed by `.ci/run`.
    KafkaBroker,
}

/// The tansu broker harness the kafka-mode tests share with hcal's own Kafka log tests.
pub use hcal_sim::tansu::Broker;

/// The Kafka side of a test.
pub enum KafkaSide {
    Mock(rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
    Broker(Broker),
}

/// Simulators, a demo tenant and a data directory for one test.
pub struct Env {
    pub backend: Backend,
    pub kafka: Option<KafkaSide>,
    pub graph: GraphSim,
    pub webex: WebexSim,
    pub demo: DemoTenant,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub api_token: String,
    pub webex_token: String,
    pub http: reqwest::Client,
    /// User tokens issued so far, by user (see [`Env::user_token`]).
    pub user_tokens: parking_lot::Mutex<std::collections::HashMap<String, String>>,
    /// Environment variables every hcal process of this test gets besides the usual secrets
    /// (see [`Env::set_var`]).
    pub vars: parking_lot::Mutex<Vec<(String, String)>>,
    /// Whole sections every configuration of this test ends with (see [`Env::add_sections`]).
    pub sections: parking_lot::Mutex<String>,
}

/// A running hcal process; killed when dropped.
pub struct Hcal {
    pub child: Child,
    pub url: String,
}

impl Drop for Hcal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Hcal {
    /// SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the process exits on its own (a configured crash point); returns whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

impl Env {
    pub async fn new() -> Self {
        Self::with_graph(GraphSimConfig::default()).await
    }

    /// An environment on `backend`; `None` (after saying so) when its broker is not installed.
    pub async fn on(backend: Backend) -> Option<Self> {
        Self::on_with_graph(backend, GraphSimConfig::default()).await
    }

    /// [`Env::on`] with a Graph simulator configured as given.
    pub async fn on_with_graph(backend: Backend, config: GraphSimConfig) -> Option<Self> {
        let mut env = Self::with_graph(config).await;
        env.backend = backend;
        env.kafka = match backend {
            Backend::Embedded => None,
            Backend::KafkaMock => {
                let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
                for topic in [
                    "hcal.notifications",
                    "hcal.mailbox-events",
                    "hcal.mailbox-snapshots",
                    "hcal.meeting-lists",
                    "hcal.room-bookings",
                    "hcal.presence",
                ] {
                    cluster.create_topic(topic, 8, 1).unwrap();
                }
                Some(KafkaSide::Mock(cluster))
            }
            Backend::KafkaBroker => {
                if !Broker::usable_for("this kafka_broker test") {
                    return None;
                }
                Some(KafkaSide::Broker(Broker::start().unwrap()))
            }
        };
        Some(env)
    }

    /// The `[log]` section for the backend: the Kafka settings live in it, next to the backend.
    fn log_sections(&self) -> String {
        match &self.kafka {
            None => String::new(),
            Some(KafkaSide::Mock(cluster)) => format!(
                "[log]\nbackend = \"kafka\"\nbootstrap_servers = \"{}\"\ncreate_topics = false\nrequest_timeout = \"10s\"\n",
                cluster.bootstrap_servers()
            ),
            Some(KafkaSide::Broker(broker)) => format!(
                "[log]\nbackend = \"kafka\"\nbootstrap_servers = \"{}\"\nrequest_timeout = \"10s\"\nstatic_membership = true\n",
                broker.bootstrap()
            ),
        }
    }

    /// The broker process, for restart tests.
    pub fn broker(&mut self) -> Option<&mut Broker> {
        match &mut self.kafka {
            Some(KafkaSide::Broker(b)) => Some(b),
            _ => None,
        }
    }

    pub async fn with_graph(config: GraphSimConfig) -> Self {
        let graph = GraphSim::start(config).await.unwrap();
        let webex = WebexSim::start(WebexSimConfig::default()).await.unwrap();
        let webex_token = format!("e2e-{}", uuid::Uuid::new_v4().simple());
        webex.add_token(&webex_token);
        let demo = graph.seed_demo("http://127.0.0.1/consent").unwrap();
        for (_, name, mail, kind) in &demo.users {
            if *kind == MailboxKind::User {
                webex.add_person(mail, name);
            }
        }
        Self {
            backend: Backend::Embedded,
            kafka: None,
            graph,
            webex,
            demo,
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            api_token: format!("api-{}", uuid::Uuid::new_v4().simple()),
            webex_token,
            http: reqwest::Client::new(),
            user_tokens: parking_lot::Mutex::default(),
            vars: parking_lot::Mutex::default(),
            sections: parking_lot::Mutex::default(),
        }
    }

    /// Ends every configuration written from now on with `sections` (`[keys]`, say).
    #[allow(dead_code)]
    pub fn add_sections(&self, sections: &str) {
        self.sections.lock().push_str(sections);
    }

    /// Gives hcal processes started from now on `name=value` (a sink's secret, say).
    pub fn set_var(&self, name: &str, value: &str) {
        self.vars.lock().push((name.to_owned(), value.to_owned()));
    }

    /// The e-mail address of the demo user whose address starts with `local`.
    pub fn address(&self, local: &str) -> String {
        self.demo.users.iter().find(|u| u.2.starts_with(local)).map(|u| u.2.clone()).unwrap()
    }

    pub fn user(&self, local: &str) -> String {
        self.demo.users.iter().find(|u| u.2.starts_with(local)).map(|u| u.0.clone()).unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn config(&self, service: &str, graph: &str, testing: &str) -> String {
        self.config_for(self.port, &self.data_dir(), service, graph, testing)
    }

    fn config_for(&self, port: u16, data: &Path, service: &str, graph: &str, testing: &str) -> String {
        format!(
            r#"[service]
listen = "127.0.0.1:{port}"
data_dir = "{data}"
max_body_bytes = 65536
{snapshots}{service}

[tenant]
id = "{tenant}"

[graph]
client_id = "{client}"
login_base = "{login}"
graph_base = "{graph}"
{graph_extra}

[webex]
base_url = "{webex}"

{log}
[testing]
{testing}

{sections}
"#,
            data = data.display(),
            // Checkpoints every few records, so every test recovers through snapshots, unless
            // the test sets its own.
            snapshots = if service.contains("snapshot_every") { "" } else { "snapshot_every = 3\n" },
            tenant = self.demo.tenant_id,
            client = self.demo.client_id,
            login = self.graph.url(),
            graph = self.graph.graph_url(),
            graph_extra = graph,
            log = self.log_sections(),
            sections = self.sections.lock(),
            webex = self.webex.url(),
        )
    }

    /// Starts hcal with `[testing]` lines; stdout and stderr go to files in the test directory.
    pub async fn start(&self, testing: &str) -> Hcal {
        self.start_with("", testing).await
    }

    /// Starts hcal with extra `[service]` and `[testing]` lines.
    pub async fn start_with(&self, service: &str, testing: &str) -> Hcal {
        self.start_full(service, "", testing).await
    }

    /// Starts hcal with whole sections of its own (`[[platforms]]`, `[[domain.keywords]]`, …),
    /// written after `[graph]`.
    pub async fn start_with_sections(&self, sections: &str) -> Hcal {
        self.start_full("", &format!("\n{sections}"), "").await
    }

    /// Starts hcal with extra `[service]`, `[graph]` and `[testing]` lines.
    pub async fn start_full(&self, service: &str, graph: &str, testing: &str) -> Hcal {
        let hcal = self.spawn_full(service, graph, testing);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = self.http.get(format!("{}/healthz", hcal.url)).send().await
                && r.status().is_success()
            {
                return hcal;
            }
            assert!(Instant::now() < deadline, "hcal did not start: {}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts hcal with extra `[service]`, `[graph]` and `[testing]` lines and returns at once,
    /// without waiting for it to answer (to kill it while it is still starting up).
    pub fn spawn_full(&self, service: &str, graph: &str, testing: &str) -> Hcal {
        let config = self.dir.path().join("hcal.toml");
        std::fs::write(&config, self.config(service, graph, testing)).unwrap();
        let n = std::fs::read_dir(self.dir.path()).unwrap().count();
        let out = std::fs::File::create(self.dir.path().join(format!("stdout-{n}.log"))).unwrap();
        let err = std::fs::File::create(self.dir.path().join(format!("stderr-{n}.log"))).unwrap();
        let child = self.serve(&config, out, err);
        Hcal { child, url: self.url() }
    }

    /// Everything the hcal processes printed.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                let mut s = String::new();
                let _ = std::fs::File::open(entry.path()).and_then(|mut f| f.read_to_string(&mut s));
                all.push_str(&s);
            }
        }
        all
    }

    pub async fn enable(&self, user: &str) -> Value {
        let resp = self
            .http
            .post(format!("{}/admin/v1/mailboxes", self.url()))
            .bearer_auth(&self.api_token)
            .json(&json!({"userId": user}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "enable failed");
        resp.json().await.unwrap()
    }

    /// The admin view of a mailbox (`GET /admin/v1/mailboxes/{user}`); `None` while hcal
    /// does not answer.
    pub async fn mailbox_status(&self, user: &str) -> Option<Value> {
        let resp = self
            .http
            .get(format!("{}/admin/v1/mailboxes/{user}", self.url()))
            .bearer_auth(&self.api_token)
            .send()
            .await
            .ok()?;
        resp.json().await.ok()
    }

    /// Waits until the mailbox's owner has applied the enable commands.
    pub async fn wait_active(&self, user: &str) -> Value {
        eventually("the mailbox to become active", Duration::from_secs(30), || async {
            let body = self.mailbox_status(user).await?;
            (body["status"] == "active" && body["subscription"]["webhookReady"] == true).then_some(body)
        })
        .await
    }

    /// Waits until the mailbox is active and its first resync is recorded.
    pub async fn wait_resynced(&self, user: &str) {
        self.wait_active(user).await;
        eventually("the first resync", Duration::from_secs(30), || async {
            self.records("mailbox-events")
                .await
                .iter()
                .any(|r| r["value"]["type"] == "ResyncCompleted" && r["value"]["userId"] == user)
                .then_some(())
        })
        .await;
    }

    /// GETs an admin API path with the admin token; the array under `field` of the 200 answer.
    async fn get_list(&self, path: &str, field: &str) -> Vec<Value> {
        self.get_list_as(path, field, &self.api_token).await
    }

    /// GETs an API path with `token`; the array under `field` of the 200 answer. A 401 is
    /// asked again for a while: a user token issued through one process of a cluster reaches
    /// the others' access index a moment later, and one issued while its mailbox is still being
    /// recovered (202) works once the mailbox has recorded the grant.
    async fn get_list_as(&self, path: &str, field: &str, token: &str) -> Vec<Value> {
        self.get_page_as(path, token).await[field].as_array().cloned().unwrap()
    }

    /// The 200 answer of a GET with `token`, a 401 asked again as [`Env::get_list_as`] says.
    async fn get_page_as(&self, path: &str, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let resp = self.http.get(format!("{}{path}", self.url())).bearer_auth(token).send().await.unwrap();
            if resp.status() == 401 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            assert_eq!(resp.status(), 200, "{path}");
            return resp.json().await.unwrap();
        }
    }

    /// A token that reads `user`'s meeting list, issued through the admin API on first use.
    #[allow(dead_code)]
    pub async fn user_token(&self, user: &str) -> String {
        if let Some(token) = self.user_tokens.lock().get(user) {
            return token.clone();
        }
        let body = eventually("a user token", Duration::from_secs(30), || async {
            let resp = self
                .http
                .post(format!("{}/admin/v1/tokens", self.url()))
                .bearer_auth(&self.api_token)
                .json(&json!({"userId": user}))
                .send()
                .await
                .ok()?;
            // 404 while the mailbox's enable is not in the index yet; 503 during a restart.
            resp.status().is_success().then_some(())?;
            resp.json::<Value>().await.ok()
        })
        .await;
        let token = body["token"].as_str().unwrap().to_owned();
        self.user_tokens.lock().insert(user.to_owned(), token.clone());
        token
    }

    /// Forgets the token [`Env::user_token`] issued for `user` (it was revoked), so the next
    /// read issues a new one.
    #[allow(dead_code)]
    pub fn forget_user_token(&self, user: &str) -> Option<String> {
        self.user_tokens.lock().remove(user)
    }

    /// Every meeting of the user's list, page after page (`nextLink`).
    pub async fn meetings(&self, user: &str) -> Vec<Value> {
        let token = self.user_token(user).await;
        let mut path = format!("/v1/users/{user}/meetings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z");
        let mut all = Vec::new();
        loop {
            let page = self.get_page_as(&path, &token).await;
            all.extend(page["value"].as_array().cloned().unwrap());
            match page["nextLink"].as_str() {
                Some(next) => path = next.to_owned(),
                None => return all,
            }
        }
    }

    /// The admin list of mailboxes (`GET /admin/v1/mailboxes`), which the subscription index
    /// serves.
    pub async fn mailboxes(&self) -> Vec<Value> {
        self.get_list("/admin/v1/mailboxes", "value").await
    }

    pub async fn records(&self, topic: &str) -> Vec<Value> {
        self.get_list(&format!("/admin/v1/logs/{topic}"), "records").await
    }

    pub async fn metrics(&self) -> String {
        self.http.get(format!("{}/metrics", self.url())).send().await.unwrap().text().await.unwrap()
    }

    /// The event as the organiser sees it in Graph.
    pub async fn graph_event(&self, user: &str, id: &str) -> Value {
        self.graph.get_event(user, id, &[]).await.unwrap()
    }
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    match within(timeout, check).await {
        Some(v) => v,
        None => panic!("timed out waiting for {what}"),
    }
}

/// Polls `check` until it returns `Some` or `timeout` passes; `None` when it never did, for a
/// caller that reports more before it fails.
#[allow(dead_code)]
pub async fn within<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many join blocks a body carries (in any language).
pub fn blocks(body: &str) -> usize {
    body.matches("class=\"hcal-join\"").count()
}

/// An invite a week ahead.
pub fn invite(subject: &str, location: &str, body_html: &str) -> Value {
    let day = (chrono::Utc::now() + chrono::Duration::days(7)).date_naive();
    json!({
        "subject": subject,
        "body": {"contentType": "html", "content": body_html},
        "start": {"dateTime": format!("{day}T09:00:00"), "timeZone": "UTC"},
        "end": {"dateTime": format!("{day}T10:00:00"), "timeZone": "UTC"},
        "location": {"displayName": location},
        "attendees": [{"type": "required", "emailAddress": {"name": "Deniz", "address": "deniz@contoso.example"}}]
    })
}

/// Every file below `dir`, recursively.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out
}

impl Drop for Env {
    fn drop(&mut self) {
        // A failed test shows what the hcal processes said.
        if std::thread::panicking() {
            eprintln!("---- hcal output ----\n{}", self.logs());
        }
    }
}

impl Env {
    /// Runs the hcal binary with the test's configuration file (written by the last start).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let config = self.dir.path().join("hcal.toml");
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// Every user's meeting list as canonical JSON text, sorted, for comparisons.
    pub async fn lists(&self, users: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for user in users {
            let mut rows: Vec<String> = self.meetings(user).await.iter().map(|r| r.to_string()).collect();
            rows.sort();
            out.push(format!("{user}: {}", rows.join("\n")));
        }
        out
    }
}

impl Env {
    /// Starts another hcal process of the same installation (same Kafka, own port and local
    /// store), reachable by Graph through `public_url`.
    pub async fn start_member(&self, name: &str, port: u16, public_url: &str) -> Hcal {
        let data = self.dir.path().join(format!("data-{name}"));
        let config = self.dir.path().join(format!("hcal-{name}.toml"));
        // The members of one installation share its key file.
        let key = self.dir.path().join("shared.key");
        let service = format!("public_url = \"{public_url}\"\nkey_file = \"{}\"", key.display());
        std::fs::write(&config, self.config_for(port, &data, &service, "", "")).unwrap();
        let out = std::fs::File::create(self.dir.path().join(format!("member-{name}.log"))).unwrap();
        let child = self.serve(&config, out.try_clone().unwrap(), out);
        let hcal = Hcal { child, url: format!("http://127.0.0.1:{port}") };
        eventually("a member to start", Duration::from_secs(30), || async {
            let r = self.http.get(format!("{}/healthz", hcal.url)).send().await.ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        hcal
    }
}

/// What a load balancer in front of several hcal processes does for Graph: forwards each
/// webhook request to the first member that answers.
pub struct Balancer {
    pub url: String,
    server: actix_web::dev::ServerHandle,
}

impl Balancer {
    pub async fn start(members: Vec<String>) -> Self {
        use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
        let members = web::Data::new(members);
        let client = web::Data::new(reqwest::Client::new());
        async fn forward(
            members: web::Data<Vec<String>>,
            client: web::Data<reqwest::Client>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
            for member in members.iter() {
                let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
                let mut r = client.request(method, format!("{member}{target}")).body(body.clone());
                if let Some(ct) = req.headers().get("content-type") {
                    r = r.header("content-type", ct.as_bytes());
                }
                if let Ok(resp) = r.send().await {
                    let status = actix_web::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
                    let ct = resp.headers().get("content-type").map(|v| v.as_bytes().to_vec());
                    let bytes = resp.bytes().await.unwrap_or_default();
                    let mut out = HttpResponse::build(status);
                    if let Some(ct) = ct {
                        out.insert_header(("content-type", ct));
                    }
                    return out.body(bytes);
                }
            }
            HttpResponse::BadGateway().finish()
        }
        let server = HttpServer::new(move || {
            App::new().app_data(members.clone()).app_data(client.clone()).default_service(web::to(forward))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://{addr}"), server: handle }
    }
}

pub fn port() -> u16 {
    free_port()
}

impl Env {
    /// Reads a topic as a downstream consumer would: a plain Kafka consumer of its own, every
    /// partition from the beginning up to the high watermark, committed records only. `None`
    /// on the embedded backend.
    pub fn downstream_records(&self, logical: &str) -> Option<Vec<Value>> {
        use rdkafka::ClientConfig;
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::{Message, Offset, TopicPartitionList};
        let bootstrap = match &self.kafka {
            None => return None,
            Some(KafkaSide::Mock(cluster)) => cluster.bootstrap_servers(),
            Some(KafkaSide::Broker(broker)) => broker.bootstrap(),
        };
        let topic = format!("hcal.{logical}");
        tokio::task::block_in_place(|| {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", "downstream-contract-test")
                .set("enable.auto.commit", "false")
                .set("isolation.level", "read_committed")
                .create()
                .unwrap();
            let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).unwrap();
            let partitions = metadata.topics()[0].partitions().len() as i32;
            let mut list = TopicPartitionList::new();
            let mut remaining = std::collections::HashMap::new();
            for p in 0..partitions {
                list.add_partition_offset(&topic, p, Offset::Beginning).unwrap();
                let (low, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10)).unwrap();
                if high > low {
                    remaining.insert(p, high);
                }
            }
            consumer.assign(&list).unwrap();
            let mut out = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while !remaining.is_empty() && Instant::now() < deadline {
                if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                    if let Some(payload) = message.payload() {
                        out.push(serde_json::from_slice(payload).unwrap());
                    }
                    if remaining.get(&message.partition()).is_some_and(|high| message.offset() + 1 >= *high) {
                        remaining.remove(&message.partition());
                    }
                }
            }
            assert!(remaining.is_empty(), "{topic}: partitions not read to their end: {remaining:?}");
            Some(out)
        })
    }
}

impl Env {
    /// `hcal serve --config <config>` with the test's secrets, output to the given files.
    fn serve(&self, config: &Path, out: std::fs::File, err: std::fs::File) -> Child {
        self.serve_command(config).stdout(out).stderr(err).spawn().unwrap()
    }

    /// `hcal serve --config <config>` with the test's secrets, not started yet (for a test
    /// that adds options, or watches a process that should not start).
    pub fn serve_command(&self, config: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hcal"));
        command
            .args(["serve", "--config"])
            .arg(config)
            .env("HCAL_GRAPH_CLIENT_SECRET", &self.demo.client_secret)
            .env("HCAL_WEBEX_TOKEN", &self.webex_token)
            .env("HCAL_API_TOKEN", &self.api_token)
            .env("RUST_LOG", "info")
            .envs(self.vars.lock().iter().cloned())
            .stdin(Stdio::null());
        command
    }
}

//! What the benches that run the `hcal` binary share: settings from the environment, the child
//! process, its memory and CPU time from `/proc`, percentiles, and the admin API calls that
//! enable mailboxes.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hcal_sim::graph::{DemoTenant, GraphSim};
use hcal_sim::webex::WebexSim;
use serde_json::{Value, json};

/// A numeric setting from the environment.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The child process; killed when dropped.
pub struct Hcal(pub Child);

impl Drop for Hcal {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Memory of a process from `/proc/{pid}/status`: `VmRSS` and `VmHWM`, in KiB.
pub fn memory(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User plus system CPU time of a process, in clock ticks (`/proc/{pid}/stat` fields 14, 15).
pub fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are counted from its `)`.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let at = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    at(11) + at(12)
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The `p`th percentile of sorted durations (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A GET (no body) or POST (body) of the admin API; `None` unless it succeeded.
pub async fn admin(http: &reqwest::Client, url: &str, token: &str, path: &str, body: Option<Value>) -> Option<Value> {
    let request = match body {
        Some(body) => http.post(format!("{url}{path}")).json(&body),
        None => http.get(format!("{url}{path}")),
    };
    let resp = request.bearer_auth(token).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// Polls `check` until it answers, panicking after `limit`.
pub async fn until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running `hcal serve` and how to reach it.
pub struct Running {
    pub hcal: Hcal,
    pub pid: String,
    pub url: String,
    pub api_token: String,
    pub http: reqwest::Client,
}

/// The simulators a bench runs hcal against.
pub struct Sims<'a> {
    pub graph: &'a GraphSim,
    pub webex: &'a WebexSim,
    pub webex_token: &'a str,
    pub demo: &'a DemoTenant,
}

/// Starts `hcal serve` (embedded mode, data in `dir`) against the simulators, with `service`
/// lines in `[service]`, `sections` after `[webex]` and `vars` in its environment; waits until
/// it answers.
pub async fn start_hcal(dir: &Path, sims: Sims<'_>, service: &str, sections: &str, vars: &[(&str, &str)]) -> Running {
    let Sims { graph, webex, webex_token, demo } = sims;
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let api_token = format!("api-{}", uuid::Uuid::new_v4().simple());
    let config = format!(
        r#"[service]
listen = "127.0.0.1:{port}"
data_dir = "{data}"
{service}

[tenant]
id = "{tenant}"

[graph]
client_id = "{client}"
login_base = "{login}"
graph_base = "{graph_base}"

[webex]
base_url = "{webex}"
{sections}
"#,
        data = dir.join("data").display(),
        tenant = demo.tenant_id,
        client = demo.client_id,
        login = graph.url(),
        graph_base = graph.graph_url(),
        webex = webex.url(),
    );
    let config_path = dir.join("hcal.toml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(dir.join("hcal.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("HCAL_GRAPH_CLIENT_SECRET", &demo.client_secret)
        .env("HCAL_WEBEX_TOKEN", webex_token)
        .env("HCAL_API_TOKEN", &api_token)
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let hcal = Hcal(child);
    let pid = hcal.0.id().to_string();
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    until("hcal to start", Duration::from_secs(30), || async {
        http.get(format!("{url}/healthz")).send().await.ok().filter(|r| r.status().is_success())
    })
    .await;
    Running { hcal, pid, url, api_token, http }
}

impl Running {
    /// Enables `users` (50 at a time) and waits until each is active with its subscription
    /// ready; how long that took.
    pub async fn enable_all(&self, users: &[String]) -> Duration {
        let started = Instant::now();
        let (http, url, token) = (&self.http, &self.url, &self.api_token);
        for chunk in users.chunks(50) {
            let enables =
                chunk.iter().map(|u| admin(http, url, token, "/admin/v1/mailboxes", Some(json!({"userId": u}))));
            for answer in futures::future::join_all(enables).await {
                assert!(answer.is_some(), "enabling a mailbox");
            }
        }
        for chunk in users.chunks(50) {
            let ready = chunk.iter().map(|u| {
                until("a mailbox to become active", Duration::from_secs(1800), move || async move {
                    let s = admin(http, url, token, &format!("/admin/v1/mailboxes/{u}"), None).await?;
                    (s["status"] == "active" && s["subscription"]["webhookReady"] == true).then_some(())
                })
            });
            futures::future::join_all(ready).await;
        }
        started.elapsed()
    }
}

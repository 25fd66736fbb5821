//! Open meeting-list event streams under load: the `hcal` binary in embedded mode as a child
//! process (as the end-to-end tests run it), the Graph and Webex simulators in this process,
//! `HCAL_BENCH_USERS` mailboxes enabled (default 200) and `HCAL_BENCH_STREAMS` Server-Sent
//! Events connections (default 10,000) spread evenly over them. Then meetings are created in
//! Graph, first one at a time (`HCAL_BENCH_CHANGES`, default 40, each waited for on every
//! stream of its user), then one in every mailbox at once, and each `created` event's arrival
//! on each stream is timed from just before the Graph call. hcal's memory (`VmRSS`, `VmHWM` of
//! the child) is read before and after the streams open, and its CPU time while they are
//! idle. Prints its own results; nothing is asserted about time.
//!
//! hcal runs as its own process so that it holds the server sockets and this process the
//! client ones: each stays under its open-file limit, and the memory read is hcal's alone.
//!
//! Run: `cargo bench --bench streams`.

// A bench's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use hcal_sim::graph::{GraphSim, GraphSimConfig, UserSpec};
use hcal_sim::webex::{WebexSim, WebexSimConfig};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Notify;

mod support;

use support::{
    Running, Sims, admin, clock_ticks_per_second, cpu_ticks, memory, mib, percentile, setting, start_hcal, until,
};

/// What every created meeting's subject starts with; the change's number follows.
const MARK: &str = "bench-change-";

/// The soft open-file limit of this process.
fn open_file_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// Arrivals of each change (by number) on the streams, as (stream, when).
#[derive(Default)]
struct Arrivals {
    by_change: Mutex<HashMap<usize, Vec<Instant>>>,
    arrived: Notify,
}

impl Arrivals {
    fn record(&self, change: usize, at: Instant) {
        self.by_change.lock().entry(change).or_default().push(at);
        self.arrived.notify_waiters();
    }

    /// Waits until each of `changes` (change, streams expected) reached its streams, or `limit`
    /// passed; what arrived.
    async fn wait(&self, changes: &[(usize, usize)], limit: Duration) -> HashMap<usize, Vec<Instant>> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.arrived.notified();
            let done = {
                let all = self.by_change.lock();
                changes.iter().all(|(c, n)| all.get(c).is_some_and(|v| v.len() >= *n))
            };
            if done || tokio::time::Instant::now() >= deadline {
                let all = self.by_change.lock();
                return changes.iter().map(|(c, _)| (*c, all.get(c).cloned().unwrap_or_default())).collect();
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

/// Reads one stream's events until it ends, recording each `created` of a bench change.
async fn follow(mut resp: reqwest::Response, arrivals: Arc<Arrivals>) {
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.lines().any(|l| l == "event: created") {
                continue;
            }
            let number = block.find(MARK).and_then(|i| {
                let digits: String = block[i + MARK.len()..].chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            });
            if let Some(change) = number {
                arrivals.record(change, at);
            }
        }
    }
}

/// A one-hour meeting two days from now, named after change `n`, with no attendees (only its
/// organiser's list changes).
fn meeting(n: usize) -> Value {
    let start = chrono::Utc::now() + chrono::Duration::days(2);
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    json!({
        "subject": format!("{MARK}{n}"),
        "body": {"contentType": "html", "content": "<p>Agenda</p>"},
        "start": {"dateTime": at(start), "timeZone": "UTC"},
        "end": {"dateTime": at(start + chrono::Duration::hours(1)), "timeZone": "UTC"},
        "location": {"displayName": "Room 4"}
    })
}

/// Latencies of every (change, stream) arrival from the change's start.
fn latencies(arrived: &HashMap<usize, Vec<Instant>>, started: &HashMap<usize, Instant>) -> Vec<Duration> {
    let mut all: Vec<Duration> = arrived
        .iter()
        .flat_map(|(change, ats)| ats.iter().map(move |at| at.saturating_duration_since(started[change])))
        .collect();
    all.sort();
    all
}

/// The latest arrival of each change from its start: when every stream of the user had it.
fn every_stream(arrived: &HashMap<usize, Vec<Instant>>, started: &HashMap<usize, Instant>) -> Vec<Duration> {
    let mut all: Vec<Duration> = arrived
        .iter()
        .filter_map(|(change, ats)| ats.iter().max().map(|at| at.saturating_duration_since(started[change])))
        .collect();
    all.sort();
    all
}

fn row(name: &str, sorted: &[Duration]) {
    println!(
        "  {name:<44} {:>7} {:>10.1?} {:>10.1?} {:>10.1?}",
        sorted.len(),
        percentile(sorted, 50.0),
        percentile(sorted, 99.0),
        sorted.last().copied().unwrap_or_default()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let users_wanted = setting("HCAL_BENCH_USERS", 200).max(1);
    let streams_wanted = setting("HCAL_BENCH_STREAMS", 10_000).max(1);
    let sequential = setting("HCAL_BENCH_CHANGES", 40);
    // This process holds the client sockets plus the simulators' own; keep 1,000 in hand.
    let limit = open_file_limit();
    let streams = streams_wanted.min(limit.saturating_sub(1000));
    if streams < streams_wanted {
        println!("open-file limit {limit}: measuring {streams} streams instead of {streams_wanted}");
    }

    let graph = GraphSim::start(GraphSimConfig::default()).await.unwrap();
    let webex = WebexSim::start(WebexSimConfig::default()).await.unwrap();
    let webex_token = format!("bench-{}", uuid::Uuid::new_v4().simple());
    webex.add_token(&webex_token);
    let demo = graph.seed_demo("http://127.0.0.1/consent").unwrap();
    let users: Vec<String> = (0..users_wanted)
        .map(|i| {
            let mail = format!("stream{i:05}@contoso.example");
            graph.add_user(&UserSpec::new(&demo.tenant_id, &format!("Stream User {i}"), &mail)).unwrap()
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let running = start_hcal(
        dir.path(),
        Sims { graph: &graph, webex: &webex, webex_token: &webex_token, demo: &demo },
        &format!("max_connections = {}", streams + 1024),
        "",
        &[],
    )
    .await;
    let enabled_in = running.enable_all(&users).await;
    let Running { hcal, pid, url, api_token, http } = running;
    let mut tokens = Vec::with_capacity(users.len());
    for u in &users {
        let token = until("a user token", Duration::from_secs(60), || async {
            let body = admin(&http, &url, &api_token, "/admin/v1/tokens", Some(json!({"userId": u}))).await?;
            body["token"].as_str().map(str::to_owned)
        })
        .await;
        tokens.push(token);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_before, hwm_before) = memory(&pid);
    let (client_before, _) = memory("self");

    // Open the streams, stream i for user i % users; each is counted once its first line came.
    let arrivals = Arc::new(Arrivals::default());
    let opened = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let streams_http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut owners: Vec<usize> = Vec::with_capacity(streams);
    let open = futures::stream::iter(0..streams)
        .map(|i| {
            let user = i % users.len();
            let request = streams_http
                .get(format!("{url}/v1/users/{}/meetings/stream", users[user]))
                .bearer_auth(&tokens[user])
                .send();
            async move { (user, request.await) }
        })
        .buffer_unordered(200);
    let mut open = std::pin::pin!(open);
    let mut failed = 0;
    while let Some((user, answer)) = open.next().await {
        match answer {
            Ok(resp) if resp.status() == 200 => {
                owners.push(user);
                opened.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(follow(resp, arrivals.clone()));
            }
            Ok(resp) => {
                failed += 1;
                if failed <= 3 {
                    println!("a stream was refused: {}", resp.status());
                }
            }
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    println!("a stream could not be opened: {e}");
                }
            }
        }
    }
    let open_in = started.elapsed();
    let open_count = opened.load(Ordering::Relaxed);
    let mut streams_of = vec![0usize; users.len()];
    for user in &owners {
        streams_of[*user] += 1;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (rss_open, hwm_open) = memory(&pid);
    let (client_open, _) = memory("self");

    // CPU while every stream is open and nothing changes (the streams' timers and keep-alives).
    let ticks = clock_ticks_per_second();
    let idle_window = Duration::from_secs(10);
    let cpu_before = cpu_ticks(&pid);
    tokio::time::sleep(idle_window).await;
    let idle_cpu = (cpu_ticks(&pid) - cpu_before) as f64 / ticks as f64 / idle_window.as_secs_f64();

    // One change at a time, each waited for on every stream of its user.
    let mut started_at: HashMap<usize, Instant> = HashMap::new();
    let mut one_at_a_time: HashMap<usize, Vec<Instant>> = HashMap::new();
    for n in 0..sequential {
        let user = n % users.len();
        started_at.insert(n, Instant::now());
        graph.create_event(&users[user], meeting(n)).await.unwrap();
        one_at_a_time.extend(arrivals.wait(&[(n, streams_of[user])], Duration::from_secs(60)).await);
    }
    // Then one change in every mailbox at once.
    let burst: Vec<usize> = (sequential..sequential + users.len()).collect();
    let creates = burst.iter().map(|n| {
        let (graph, user) = (&graph, &users[n - sequential]);
        let n = *n;
        async move {
            let at = Instant::now();
            graph.create_event(user, meeting(n)).await.unwrap();
            (n, at)
        }
    });
    started_at.extend(futures::future::join_all(creates).await);
    let burst_started = burst.iter().map(|n| started_at[n]).min().unwrap_or_else(Instant::now);
    let expected: Vec<(usize, usize)> = burst.iter().map(|n| (*n, streams_of[n - sequential])).collect();
    let in_burst = arrivals.wait(&expected, Duration::from_secs(120)).await;
    let burst_all_in = in_burst.values().flatten().max().map(|at| at.saturating_duration_since(burst_started));
    let (rss_after, hwm_after) = memory(&pid);

    let expected_seq: usize = (0..sequential).map(|n| streams_of[n % users.len()]).sum();
    let got_seq: usize = one_at_a_time.values().map(Vec::len).sum();
    let got_burst: usize = in_burst.values().map(Vec::len).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\nhcal (embedded, release build, child process); Graph and Webex simulators and the clients in this process, {cores} cores shared"
    );
    println!("  users enabled                 {} (active with webhooks ready in {:.1?})", users.len(), enabled_in);
    println!(
        "  streams open                  {open_count} of {streams} ({failed} failed), {} to {} per user, opened in {:.1?} (200 at a time)",
        streams_of.iter().min().unwrap_or(&0),
        streams_of.iter().max().unwrap_or(&0),
        open_in
    );
    println!("  hcal's max_connections        {}", streams + 1024);
    println!("\nhcal's memory                   VmRSS      VmHWM");
    println!("  before the streams        {:>8.1} MiB {:>8.1} MiB", mib(rss_before), mib(hwm_before));
    println!("  with the streams open     {:>8.1} MiB {:>8.1} MiB", mib(rss_open), mib(hwm_open));
    println!("  after the changes         {:>8.1} MiB {:>8.1} MiB", mib(rss_after), mib(hwm_after));
    println!(
        "  per open stream           {:>8.1} KiB  (VmRSS difference / streams open)",
        (rss_open.saturating_sub(rss_before)) as f64 / open_count.max(1) as f64
    );
    println!(
        "  this process (clients)    {:>8.1} MiB before, {:.1} MiB with the streams open",
        mib(client_before),
        mib(client_open)
    );
    println!("  hcal's CPU with the streams idle: {:.1} % of one core (over {idle_window:?})", idle_cpu * 100.0);
    println!("\nchange in Graph to the event on a stream      arrivals        p50        p99        max");
    row(&format!("one at a time ({sequential} changes), each stream"), &latencies(&one_at_a_time, &started_at));
    row("one at a time, the user's last stream", &every_stream(&one_at_a_time, &started_at));
    row(&format!("burst ({} at once), each stream", burst.len()), &latencies(&in_burst, &started_at));
    row("burst, the user's last stream", &every_stream(&in_burst, &started_at));
    println!(
        "  arrivals: {got_seq} of {expected_seq} one at a time, {got_burst} of {open_count} in the burst; \
         the whole burst delivered {:.1?} after its first change",
        burst_all_in.unwrap_or_default()
    );
    drop(hcal);
    graph.stop().await;
    webex.stop().await;
}

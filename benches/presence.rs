//! Out of office at scale: `HCAL_BENCH_MAILBOXES` mailboxes (default 10,000) enabled in one
//! tenant of the Graph simulator, the `hcal` binary in embedded mode with the default
//! `[presence]` section (5-minute cadence, 2,400 Graph requests per tenant per minute) and a
//! webhook sink pointing at the Standard Webhooks receiver simulator in this process.
//!
//! After every mailbox is enabled, the bench watches `HCAL_BENCH_MINUTES` minutes (default
//! 16). During the first `HCAL_BENCH_MINUTES - 6` of them it turns automatic replies on for
//! `HCAL_BENCH_CHANGES` mailboxes (default 400) at uniformly random moments, as users do in
//! Outlook, without a notification; each change's delay is from the simulator's change to the
//! receiver's verified delivery. Every second it reads the simulator's count of
//! mailbox-settings reads and of all Graph requests, so the reads in every 60-second window
//! are known: they must stay under the configured budget. Prints its own results; nothing is
//! asserted about time.
//!
//! Run: `cargo bench --bench presence` (about 30 minutes with the defaults: enabling 10,000
//! mailboxes is paced by Graph's limit on subscription creations, 500 per 20 seconds).

// A bench's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use hcal_sim::chat::hook::{HookSim, HookSimConfig};
use hcal_sim::graph::{GraphSim, GraphSimConfig, UserSpec};
use hcal_sim::webex::{WebexSim, WebexSimConfig};
use rand::Rng as _;
use serde_json::json;
use support::{Sims, clock_ticks_per_second, cpu_ticks, memory, mib, percentile, setting, start_hcal};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// hcal's defaults, which this bench measures.
const CADENCE: Duration = Duration::from_secs(300);
const BUDGET_PER_MINUTE: u64 = 2400;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let mailboxes = setting("HCAL_BENCH_MAILBOXES", 10_000).max(1);
    let minutes = setting("HCAL_BENCH_MINUTES", 16).max(7);
    let changes = setting("HCAL_BENCH_CHANGES", 400).min(mailboxes);

    // Throttling stays on (the bench must not rely on a lenient Graph); the per-mailbox
    // budget is Graph's, the subscription-creation pace is Graph's.
    let graph = GraphSim::start(GraphSimConfig { workers: 2, ..GraphSimConfig::default() }).await.unwrap();
    let webex = WebexSim::start(WebexSimConfig::default()).await.unwrap();
    let webex_token = format!("bench-{}", uuid::Uuid::new_v4().simple());
    webex.add_token(&webex_token);
    let hook = HookSim::start(HookSimConfig { workers: 2, ..HookSimConfig::new(SECRET) }).await.unwrap();
    let demo = graph.seed_demo("http://127.0.0.1/consent").unwrap();
    let users: Vec<String> = (0..mailboxes)
        .map(|i| {
            let mail = format!("ooo{i:05}@contoso.example");
            graph.add_user(&UserSpec::new(&demo.tenant_id, &format!("Presence User {i}"), &mail)).unwrap()
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        "\n[[presence.sinks]]\nkind = \"webhook\"\nurl = \"{}/presence\"\nsecret_env = \"HCAL_PRESENCE_WEBHOOK_SECRET\"\n",
        hook.url()
    );
    let hcal = start_hcal(
        dir.path(),
        Sims { graph: &graph, webex: &webex, webex_token: &webex_token, demo: &demo },
        "",
        &sink,
        &[("HCAL_PRESENCE_WEBHOOK_SECRET", SECRET)],
    )
    .await;
    let enabled_in = hcal.enable_all(&users).await;
    println!("{mailboxes} mailboxes enabled in {enabled_in:.1?}");

    // The watch: a sample per second of (when, settings reads, all Graph requests).
    let reads_now = || graph.stats().settings_reads.values().sum::<u64>();
    let watch = Duration::from_secs(60 * minutes as u64);
    let changing = watch - Duration::from_secs(6 * 60);
    let mut rng = rand::rng();
    let mut plan: Vec<(Duration, usize)> = (0..changes)
        .map(|i| {
            (Duration::from_millis(rng.random_range(0..changing.as_millis() as u64)), i * (mailboxes / changes.max(1)))
        })
        .collect();
    plan.sort();
    let mut plan: VecDeque<(Duration, usize)> = plan.into();
    let cpu_before = cpu_ticks(&hcal.pid);
    let started = Instant::now();
    let mut samples: Vec<(Instant, u64, u64)> = Vec::new();
    let mut changed: HashMap<String, Instant> = HashMap::new();
    let mut heard: HashMap<String, Instant> = HashMap::new();
    let mut next_sample = Instant::now();
    let first_reads = reads_now();
    while started.elapsed() < watch {
        while plan.front().is_some_and(|(at, _)| started.elapsed() >= *at) {
            let (_, i) = plan.pop_front().unwrap();
            let user = users[i].clone();
            graph.set_automatic_replies(&user, json!({"status": "alwaysEnabled"})).await.unwrap();
            changed.insert(user, Instant::now());
        }
        let now = Instant::now();
        for delivery in hook.deliveries() {
            let data = &delivery.body["data"];
            if data["status"] == "outOfOffice" {
                let user = data["userId"].as_str().unwrap_or_default().to_owned();
                heard.entry(user).or_insert(now);
            }
        }
        if now >= next_sample {
            let stats = graph.stats();
            samples.push((now, stats.settings_reads.values().sum(), stats.requests));
            next_sample += Duration::from_secs(1);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu = (cpu_ticks(&hcal.pid) - cpu_before) as f64 / clock_ticks_per_second() as f64;
    let (rss, hwm) = memory(&hcal.pid);

    // Reads in every 60-second window of the watch (after the first minute).
    let mut most_reads = 0;
    let mut most_requests = 0;
    for (i, (at, reads, requests)) in samples.iter().enumerate() {
        if let Some((_, r0, q0)) =
            samples[..i].iter().rev().find(|(t, _, _)| at.duration_since(*t) >= Duration::from_secs(60))
        {
            most_reads = most_reads.max(reads - r0);
            most_requests = most_requests.max(requests - q0);
        }
    }
    let total_reads = reads_now() - first_reads;
    let hours = started.elapsed().as_secs_f64() / 3600.0;
    let mut delays: Vec<Duration> =
        changed.iter().filter_map(|(u, at)| heard.get(u).map(|h| h.saturating_duration_since(*at))).collect();
    delays.sort();
    let missing = changed.len() - delays.len();

    println!(
        "presence bench: {mailboxes} mailboxes, cadence {CADENCE:?}, budget {BUDGET_PER_MINUTE}/min, watched {minutes} min"
    );
    println!(
        "  mailbox-settings reads        {total_reads} ({:.2} per mailbox per hour)",
        total_reads as f64 / mailboxes as f64 / hours
    );
    println!("  most settings reads in 60 s   {most_reads} (budget {BUDGET_PER_MINUTE})");
    println!("  most Graph requests in 60 s   {most_requests} (every kind, $batch items counted singly)");
    println!(
        "  unscheduled change → sink     n={} p50={:.1?} p99={:.1?} max={:.1?} (not heard: {missing})",
        delays.len(),
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
        delays.last().copied().unwrap_or_default()
    );
    println!("  hcal CPU during the watch     {cpu:.1} s of {:.0} s", started.elapsed().as_secs_f64());
    println!("  hcal memory                   RSS {:.1} MiB, peak {:.1} MiB", mib(rss), mib(hwm));
    println!("  receiver refused              {}", hook.rejected());
    drop(hcal);
    hook.stop().await;
    webex.stop().await;
    graph.stop().await;
}

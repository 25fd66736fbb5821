//! Durable appends to the embedded log (`SqliteStore`, `synchronous = FULL`): the same number
//! of appends (each a webhook-sized batch of notifications) made one after another, each waiting
//! for its fsync, and from many tasks at once, which group commit coalesces into shared
//! transactions. Both in one run, so the ratio is what to read on a noisy machine. Prints its
//! own results; nothing is asserted.
//!
//! Run: `cargo bench --bench ingest` (`HCAL_BENCH_APPENDS`, default 4,000;
//! `HCAL_BENCH_WRITERS`, default 64).

// A bench's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use hcal::log::sqlite::SqliteStore;
use hcal_actors::log::NOTIFICATIONS;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A webhook request's worth of records: 4 notifications of ~600 bytes under 4 mailboxes.
fn batch(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..4).map(|i| (format!("tenant/user-{}", (n * 4 + i) % 1000), vec![b'x'; 600])).collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let appends = setting("HCAL_BENCH_APPENDS", 4000).max(1);
    let writers = setting("HCAL_BENCH_WRITERS", 64).max(1);
    println!("ingest bench: {appends} appends of 4 records (~2.4 KB), embedded store, synchronous = FULL");

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), 8).unwrap();
    let commits = store.append_commits();
    let started = Instant::now();
    for n in 0..appends {
        store.append_many(NOTIFICATIONS, batch(n)).await.unwrap();
    }
    let one_by_one = started.elapsed();
    let sequential_commits = store.append_commits() - commits;
    report("one writer, each append awaited", appends, one_by_one, sequential_commits, &mut Vec::new());

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), 8).unwrap();
    let commits = store.append_commits();
    let started = Instant::now();
    let tasks = (0..writers).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in (w..appends).step_by(writers) {
                let at = Instant::now();
                store.append_many(NOTIFICATIONS, batch(n)).await.unwrap();
                latencies.push(at.elapsed());
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> =
        futures::future::join_all(tasks).await.into_iter().flat_map(|r| r.unwrap()).collect();
    let concurrent = started.elapsed();
    let grouped_commits = store.append_commits() - commits;
    report(&format!("{writers} writers at once (group commit)"), appends, concurrent, grouped_commits, &mut latencies);
    println!(
        "  ratio: {:.1}x the appends per second of one writer",
        one_by_one.as_secs_f64() / concurrent.as_secs_f64()
    );
}

fn report(what: &str, appends: usize, took: Duration, commits: u64, latencies: &mut [Duration]) {
    latencies.sort();
    let at = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)));
    print!(
        "  {what:<40} {:>8.0} appends/s ({:>6.0} notifications/s), {commits} transactions ({:.1} appends each)",
        appends as f64 / took.as_secs_f64(),
        4.0 * appends as f64 / took.as_secs_f64(),
        appends as f64 / commits.max(1) as f64
    );
    match (at(0.5), at(0.99)) {
        (Some(p50), Some(p99)) => println!(", latency p50 {p50:.1?} p99 {p99:.1?}"),
        _ => println!(),
    }
}

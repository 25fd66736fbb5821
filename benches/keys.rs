//! Sealing and opening with the key store: a fixed in-memory key (the old single key file's
//! path, as the baseline), data keys per mailbox wrapped by the local key file, and data keys
//! per mailbox wrapped by a real OpenBao Transit engine. For each: sealing and opening an
//! event-sized private part with the mailbox's key cached (the steady state), and the cold
//! path — a mailbox's first seal (a new data key: Transit's `datakey`, a key-store insert) and
//! a process's first open of it (an unwrap: Transit's `decrypt`). All in one run, so the ratios
//! are what to read on a noisy machine. Prints its own results; nothing is asserted.
//!
//! Run: `cargo bench --bench keys` (`HCAL_BENCH_OPS`, default 20,000; `HCAL_BENCH_MAILBOXES`,
//! default 200). The OpenBao rows need `.ci/install-openbao.sh`; without it they are skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hcal::keys::config::TransitConfig;
use hcal::keys::kms::{Kms, LocalKms};
use hcal::keys::ring::StoredKeys;
use hcal::keys::store::KeyStore;
use hcal::keys::transit::Transit;
use hcal_actors::ids::{MailboxId, TenantId, UserObjectId};
use hcal_actors::seal::{self, DataKey, KeyRing, KeyScope};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn mailbox(n: usize) -> MailboxId {
    MailboxId {
        tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
        user: UserObjectId::parse(&format!("00000000-0000-4000-8000-{n:012x}")).unwrap(),
    }
}

/// A meeting's private part: subject, organiser, attendees, about 1 KB of JSON.
fn private() -> serde_json::Value {
    let attendees: Vec<_> = (0..8)
        .map(
            |i| serde_json::json!({"name": format!("Attendee {i}"), "address": format!("attendee{i}@contoso.example")}),
        )
        .collect();
    serde_json::json!({"subject": "Quarterly planning with the regional teams", "organizer": {"name": "Alex", "address": "alex@contoso.example"}, "attendees": attendees, "location": "Room 4 @webex"})
}

fn per_op(elapsed: Duration, n: usize) -> String {
    format!("{:.2} µs", elapsed.as_secs_f64() * 1e6 / n as f64)
}

fn warm(name: &str, ring: &KeyRing, ops: usize) -> f64 {
    let value = private();
    let scope = KeyScope::Mailbox(mailbox(0));
    let sealed = seal::seal_for(ring, &scope, b"aad", &value).unwrap();
    let started = Instant::now();
    for _ in 0..ops {
        std::hint::black_box(seal::seal_for(ring, &scope, b"aad", &value).unwrap());
    }
    let sealing = started.elapsed();
    let started = Instant::now();
    for _ in 0..ops {
        std::hint::black_box(seal::open::<serde_json::Value>(ring, b"aad", &sealed).unwrap());
    }
    let opening = started.elapsed();
    println!("  {name:<28} warm: seal {} / open {} per op", per_op(sealing, ops), per_op(opening, ops));
    sealing.as_secs_f64() / ops as f64
}

fn cold(name: &str, make: &dyn Fn() -> Arc<StoredKeys>, mailboxes: usize) {
    let first = KeyRing::from_source(make());
    let value = private();
    let started = Instant::now();
    let sealed: Vec<_> = (0..mailboxes)
        .map(|n| seal::seal_for(&first, &KeyScope::Mailbox(mailbox(n + 1)), b"aad", &value).unwrap())
        .collect();
    let creating = started.elapsed();
    // Another process over the same key store: every open unwraps.
    let second = KeyRing::from_source(make());
    let started = Instant::now();
    for s in &sealed {
        std::hint::black_box(seal::open::<serde_json::Value>(&second, b"aad", s).unwrap());
    }
    let unwrapping = started.elapsed();
    println!(
        "  {name:<28} cold: first seal of a mailbox {:.2} ms, first open in a new process {:.2} ms ({mailboxes} mailboxes)",
        creating.as_secs_f64() * 1e3 / mailboxes as f64,
        unwrapping.as_secs_f64() * 1e3 / mailboxes as f64
    );
}

fn stored(kms: Arc<dyn Kms>, path: &std::path::Path) -> Arc<StoredKeys> {
    let store = KeyStore::open(path).unwrap();
    Arc::new(StoredKeys::new(kms, store, None, Duration::from_secs(900), Duration::from_secs(90 * 86_400)))
}

fn main() {
    let ops = setting("HCAL_BENCH_OPS", 20_000).max(1);
    let mailboxes = setting("HCAL_BENCH_MAILBOXES", 200).max(1);
    println!("keys bench: {ops} seals and opens of a ~1 KB private part; cold paths over {mailboxes} mailboxes");

    let baseline = warm("fixed key (baseline)", &KeyRing::new(DataKey::generate("k").unwrap()), ops);

    let dir = tempfile::tempdir().unwrap();
    let master = DataKey::generate("local-bench").unwrap();
    let local: Arc<dyn Kms> = Arc::new(LocalKms::new(master));
    let path = dir.path().join("local.db");
    let local_warm = warm("local key file", &KeyRing::from_source(stored(local.clone(), &path)), ops);
    cold("local key file", &|| stored(local.clone(), &path), mailboxes);

    if !hcal_sim::openbao::Server::available() {
        println!("  OpenBao rows skipped: OpenBao is not installed (.ci/install-openbao.sh)");
        println!("ratio warm seal: local {:.2}x of the baseline", local_warm / baseline);
        return;
    }
    let bao = hcal_sim::openbao::Server::start().unwrap();
    let config = TransitConfig {
        url: bao.url(),
        mount: "transit".into(),
        key_prefix: "bench".into(),
        token_env: "UNUSED".into(),
        timeout: Duration::from_secs(5),
    };
    let transit: Arc<dyn Kms> = Transit::new(&config, bao.root_token().to_owned()).unwrap();
    let path = dir.path().join("transit.db");
    let transit_warm = warm("OpenBao Transit (cached)", &KeyRing::from_source(stored(transit.clone(), &path)), ops);
    cold("OpenBao Transit", &|| stored(transit.clone(), &path), mailboxes);
    println!(
        "ratio warm seal: local {:.2}x, OpenBao {:.2}x of the baseline",
        local_warm / baseline,
        transit_warm / baseline
    );
}

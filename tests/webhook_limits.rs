//! The webhook takes no token, so anybody can open connections to it: against the `hcal` binary
//! over raw TCP, clients that announce a body and never send it, or never finish their head,
//! are answered 408 and disconnected within the configured timeouts while real notification
//! batches still get in, and batches beyond `webhook_max_in_flight` get 503 with
//! `Retry-After` before any of their body is read.

// Test scaffolding: a failed request should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Env, Hcal, eventually};

/// Under the test configuration's `max_body_bytes` (65 536), so only the missing body stops it.
const ANNOUNCED: usize = 60_000;

/// Far more than any timeout of these tests; a connection still open then is held forever.
const GENEROUS: Duration = Duration::from_secs(30);

/// What a raw client saw: the status line's code, the whole answer, and how long after it
/// connected the server closed the connection.
#[derive(Debug)]
struct Seen {
    status: u16,
    answer: String,
    closed_after: Duration,
}

/// A head announcing a body, and no body.
fn announce(port: u16) -> String {
    format!(
        "POST /webhook/graph HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {ANNOUNCED}\r\n\r\n"
    )
}

/// Half a head: the request line and one header, never the blank line that ends it.
fn half_head(port: u16) -> String {
    format!("POST /webhook/graph HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n")
}

/// Opens a connection, sends `head`, says so on `sent`, then only reads until the server
/// closes (or `GENEROUS` passes, which fails the test).
fn stall(port: u16, head: String, sent: mpsc::Sender<()>) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(GENEROUS)).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let _ = sent.send(());
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                // A reset after the answer is a close too.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the connection stayed open ({e}) after {:?}", started.elapsed()),
            }
        }
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Seen { status, answer, closed_after: started.elapsed() }
    })
}

/// The resident memory of the hcal process, in kB (`VmRSS` of `/proc/{pid}/status`); `None`
/// where there is no procfs.
fn rss_kb(hcal: &Hcal) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", hcal.child.id())).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A notification batch hcal accepts: alex's subscription, its clientState, a new event id.
async fn real_batch(env: &Env, alex: &str, event: &str) -> Value {
    let sub = env.graph.subscriptions().first().and_then(|s| s["id"].as_str().map(str::to_owned)).unwrap();
    let states = env.graph.subscription_client_states();
    assert_eq!(states.len(), 1, "alex's subscription only");
    json!({"value": [{
        "subscriptionId": sub, "clientState": states[0], "tenantId": env.demo.tenant_id, "changeType": "created",
        "resource": format!("Users/{alex}/Events/{event}"), "resourceData": {"id": event}
    }]})
}

async fn post(env: &Env, body: &Value) -> reqwest::Response {
    env.http.post(format!("{}/webhook/graph", env.url())).json(body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_cut_off_in_time_while_real_batches_get_in() {
    let env = Env::new().await;
    // Long enough that the real batch below is answered well before it, even on a busy machine.
    let body_timeout = Duration::from_secs(5);
    let hcal = env
        .start_with("request_head_timeout = \"2s\"\nwebhook_body_timeout = \"5s\"\nwebhook_max_in_flight = 200", "")
        .await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let logged = env.records("notifications").await.len();
    let batch = real_batch(&env, &alex, "AAMk-during-the-flood").await;
    let before = rss_kb(&hcal);

    // 150 clients announce a body and send none; 20 never finish their head.
    let (sent, all_sent) = mpsc::channel();
    let bodies: Vec<_> = (0..150).map(|_| stall(env.port, announce(env.port), sent.clone())).collect();
    let heads: Vec<_> = (0..20).map(|_| stall(env.port, half_head(env.port), sent.clone())).collect();
    for _ in 0..170 {
        all_sent.recv_timeout(GENEROUS).unwrap();
    }
    // Meanwhile Graph's batches are stored and answered, and hcal answers everything else.
    let resp = post(&env, &batch).await;
    assert_eq!(resp.status(), 202, "a real batch during the flood");
    assert_eq!(env.http.get(format!("{}/healthz", env.url())).send().await.unwrap().status(), 200);
    assert!(bodies.iter().all(|h| !h.is_finished()), "answered while the stalled bodies were still held");
    let during = rss_kb(&hcal);

    let bodies: Vec<Seen> = bodies.into_iter().map(|h| h.join().unwrap()).collect();
    let heads: Vec<Seen> = heads.into_iter().map(|h| h.join().unwrap()).collect();
    for seen in &bodies {
        assert_eq!(seen.status, 408, "a body that never came: {seen:?}");
        assert!(seen.answer.contains("\"code\":\"request_timeout\""), "the one error shape: {seen:?}");
        // Never before the deadline (the client's clock starts first), and long before GENEROUS.
        assert!(seen.closed_after >= body_timeout, "closed by the body timeout: {seen:?}");
    }
    for seen in &heads {
        // actix-web's own answer: the request never got as far as hcal's routes.
        assert_eq!(seen.status, 408, "a head that never ended: {seen:?}");
    }
    let after = rss_kb(&hcal);
    println!("hcal VmRSS before, during and after 170 stalled connections: {before:?} {during:?} {after:?} kB");
    if let (Some(before), Some(during)) = (before, during) {
        // Generous: bounded by the buffers of 170 connections, not by what they announce.
        assert!(during < before + 100 * 1024, "{before} kB before, {during} kB during the flood");
    }

    // Only the real batch was stored; every stalled body was counted.
    assert_eq!(env.records("notifications").await.len(), logged + 1);
    let metrics = env.metrics().await;
    assert!(metrics.contains("hcal_webhook_batches_total{outcome=\"body_timeout\"} 150"), "{metrics}");
    assert!(metrics.contains("hcal_webhook_batches_total{outcome=\"accepted\"} 1"), "{metrics}");
    // And hcal still takes batches.
    assert_eq!(post(&env, &real_batch(&env, &alex, "AAMk-after-the-flood").await).await.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_over_the_cap_get_503_with_retry_after_and_get_in_later() {
    let env = Env::new().await;
    let _hcal = env.start_with("webhook_body_timeout = \"3s\"\nwebhook_max_in_flight = 4", "").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;

    let (sent, _) = mpsc::channel();
    let stalled: Vec<_> = (0..4).map(|_| stall(env.port, announce(env.port), sent.clone())).collect();
    // Once the four hold every slot, a real batch is turned away before its body is read.
    let batch = real_batch(&env, &alex, "AAMk-over-the-cap").await;
    let empty = json!({"value": []});
    let busy = eventually("the cap to be reached", Duration::from_secs(3), || async {
        let resp = post(&env, &empty).await;
        (resp.status() == 503).then_some(resp)
    })
    .await;
    assert_eq!(busy.headers()["retry-after"], "3", "a slot is free again after one body timeout");
    assert_eq!(busy.headers()["content-type"], "application/json");
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let resp = post(&env, &batch).await;
    assert_eq!(resp.status(), 503, "the real batch too, while the slots are held");

    for seen in stalled.into_iter().map(|h| h.join().unwrap()) {
        assert_eq!(seen.status, 408, "{seen:?}");
    }
    // Graph's next delivery gets in.
    assert_eq!(post(&env, &batch).await.status(), 202);
    let metrics = env.metrics().await;
    assert!(metrics.contains("hcal_webhook_batches_total{outcome=\"busy\"}"), "{metrics}");
    assert!(metrics.contains("hcal_webhook_batches_total{outcome=\"body_timeout\"} 4"), "{metrics}");
}

//! hcal terminating TLS itself (`[service.tls]`): the API over https with the configured
//! certificate, a new certificate taken on SIGHUP and when the files change, a broken file
//! keeping the one in use, and a start refused when the files cannot work. Certificates are
//! made with the `openssl` command; the served one is read back with `openssl s_client`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{Env, eventually};

/// Whether the test can run: the `openssl` command is there. Under CI (`CI=true`) a missing
/// one fails the test (`.ci/run` installs it); elsewhere the test says it was skipped.
fn openssl_usable(what: &str) -> bool {
    if Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    assert!(!ci, "{what}: openssl is not installed, and under CI a test may not be skipped");
    println!("{what}: skipped: openssl is not installed");
    false
}

fn make_certificate(dir: &Path, name: &str) {
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", &format!("/CN={name}"), "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
}

/// The subject of the certificate the server at `port` presents.
fn served_subject(port: u16) -> String {
    let script = format!(
        "echo | openssl s_client -connect 127.0.0.1:{port} 2>/dev/null | openssl x509 -noout -subject 2>/dev/null"
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn https() -> reqwest::Client {
    // The test's certificate is self-signed; what is checked is which one is served.
    reqwest::Client::builder().danger_accept_invalid_certs(true).timeout(Duration::from_secs(5)).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hcal_serves_https_and_takes_a_new_certificate_without_a_restart() {
    if !openssl_usable("hcal_serves_https") {
        return;
    }
    let env = Env::new().await;
    let tls_dir = env.dir.path().join("tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    make_certificate(&tls_dir, "first.hcal.test");
    let section = format!(
        "[service.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        tls_dir.join("cert.pem").display(),
        tls_dir.join("key.pem").display()
    );
    let hcal = env.spawn_full(&section, "", "");
    let url = format!("https://127.0.0.1:{}", env.port);
    eventually("hcal to answer over https", Duration::from_secs(20), || async {
        https().get(format!("{url}/healthz")).send().await.ok().filter(|r| r.status().is_success())
    })
    .await;
    assert!(served_subject(env.port).contains("first.hcal.test"), "{}", served_subject(env.port));
    // Plain HTTP is not served on the TLS port.
    assert!(reqwest::Client::new().get(format!("http://127.0.0.1:{}/healthz", env.port)).send().await.is_err());

    // A renewal written in place, then SIGHUP: the new certificate, no restart.
    make_certificate(&tls_dir, "second.hcal.test");
    let pid = hcal.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    eventually("the renewed certificate", Duration::from_secs(30), || async {
        served_subject(env.port).contains("second.hcal.test").then_some(())
    })
    .await;

    // A broken key file keeps the certificate in use.
    std::fs::write(tls_dir.join("key.pem"), "not a key").unwrap();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(https().get(format!("{url}/healthz")).send().await.unwrap().status().is_success());
    assert!(served_subject(env.port).contains("second.hcal.test"));
    assert!(env.logs().contains("TLS certificate not replaced"), "{}", env.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_cannot_work_stops_the_start_naming_the_file() {
    if !openssl_usable("a_certificate_that_cannot_work") {
        return;
    }
    let env = Env::new().await;
    let tls_dir = env.dir.path().join("tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    make_certificate(&tls_dir, "a.hcal.test");
    std::fs::write(tls_dir.join("key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
    let section = format!(
        "[service.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        tls_dir.join("cert.pem").display(),
        tls_dir.join("key.pem").display()
    );
    let mut hcal = env.spawn_full(&section, "", "");
    let status = tokio::task::spawn_blocking(move || hcal.child.wait().unwrap()).await.unwrap();
    assert!(!status.success());
    let logs = env.logs();
    assert!(logs.contains("[service.tls]") && logs.contains("key.pem"), "{logs}");
}

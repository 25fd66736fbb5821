//! The `hcal` binary: `--help` lists the subcommands, `hcal sim graph` serves a working Graph
//! simulator with a demo tenant whose printed credentials obtain a token (generated or pinned
//! with flags), and `hcal sim webex` serves a Webex simulator that accepts the token it was
//! given and answers anything else with Webex's 401.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn field<'a>(lines: &'a [String], label: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no line starting with {label:?} in {lines:#?}"))
}

#[test]
fn help_lists_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_hcal")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("sim"), "{text}");
}

/// Starts `hcal sim …` with the given arguments and environment (nothing inherited for the
/// variables the simulators read) and returns it with its output up to "Press Ctrl-C".
async fn start_sim(args: &[&str], env: &[(&str, &str)]) -> (Killed, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hcal"));
    command
        .arg("sim")
        .args(args)
        .env_remove("HCAL_WEBEX_TOKEN")
        .env_remove("HCAL_GRAPH_CLIENT_SECRET")
        .env_remove("HCAL_DEVICE_PASSWORD")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Killed(command.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("Press Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    assert!(lines.last().is_some_and(|l| l.starts_with("Press Ctrl-C")), "the simulator did not start: {lines:#?}");
    (child, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_graph_serves_a_demo_tenant() {
    let (_child, lines) = start_sim(&["graph", "--listen", "127.0.0.1:0"], &[]).await;
    let graph = field(&lines, "Graph API").to_owned();
    let base = graph.trim_end_matches("/v1.0").to_owned();
    let tenant_line = lines.iter().find(|l| l.starts_with("Demo tenant")).unwrap();
    let tenant = tenant_line.rsplit('(').next().unwrap().trim_end_matches(')').to_owned();
    let client_id = field(&lines, "client id").to_owned();
    let secret = field(&lines, "client secret").to_owned();

    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let users: Value =
        http.get(format!("{graph}/users")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let mails: Vec<&str> = users["value"].as_array().unwrap().iter().filter_map(|u| u["mail"].as_str()).collect();
    assert_eq!(mails.len(), 4, "{users}");
    assert!(mails.contains(&"rainier@contoso.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_graph_pins_the_demo_ids_it_is_given() {
    const TENANT: &str = "0c0ffee0-0000-4000-8000-000000000001";
    let (_child, lines) = start_sim(
        &["graph", "--listen", "127.0.0.1:0", "--tenant-id", TENANT, "--client-id", "compose-client"],
        &[("HCAL_GRAPH_CLIENT_SECRET", "pinned-secret")],
    )
    .await;
    assert!(lines.iter().any(|l| l == &format!("Demo tenant contoso.example ({TENANT})")), "{lines:#?}");
    assert_eq!(field(&lines, "client id"), "compose-client");
    assert_eq!(field(&lines, "client secret"), "pinned-secret");
    let base = field(&lines, "Graph API").trim_end_matches("/v1.0").to_owned();
    let token = reqwest::Client::new()
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("client_id", "compose-client"),
            ("client_secret", "pinned-secret"),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_webex_accepts_its_token_and_answers_others_with_webex_401() {
    const TOKEN: &str = "webex-token-from-env";
    let (_child, lines) = start_sim(
        &["webex", "--listen", "127.0.0.1:0", "--person", "frontdesk@fabrikam.example=Front Desk"],
        &[("HCAL_WEBEX_TOKEN", TOKEN)],
    )
    .await;
    let base = field(&lines, "base URL").to_owned();
    assert_eq!(field(&lines, "Webex API"), format!("{base}/v1"));
    assert!(!lines.iter().any(|l| l.contains(TOKEN)), "a given token is not printed: {lines:#?}");
    for person in [
        "Alex Wilber <alex@contoso.example>",
        "Megan Bowen <megan@contoso.example>",
        "Front Desk <frontdesk@fabrikam.example>",
    ] {
        assert!(lines.iter().any(|l| l.contains(person)), "{person} missing in {lines:#?}");
    }

    let http = reqwest::Client::new();
    let room = |email: &str| {
        http.get(format!("{base}/v1/meetingPreferences/personalMeetingRoom")).query(&[("userEmail", email)])
    };
    // Authenticated: the demo people and the added one have personal rooms.
    for (email, local) in [("alex@contoso.example", "alex"), ("frontdesk@fabrikam.example", "frontdesk")] {
        let resp = room(email).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{email}");
        let body: Value = resp.json().await.unwrap();
        let link = body["personalMeetingRoomLink"].as_str().unwrap();
        assert!(link.ends_with(&format!("/meet/{local}")), "{body}");
        assert!(body["sipAddress"].as_str().unwrap().starts_with(&format!("{local}@")), "{body}");
    }
    let unknown = room("nobody@contoso.example").bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // Without a token, or with another one: Webex's 401 and error shape, tracking id included.
    for request in [room("alex@contoso.example"), room("alex@contoso.example").bearer_auth("not-the-token")] {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let tracking = resp.headers().get("trackingid").unwrap().to_str().unwrap().to_owned();
        let body: Value = resp.json().await.unwrap();
        let message = "The request requires a valid access token set in the Authorization request header.";
        assert_eq!(body["message"], message, "{body}");
        assert_eq!(body["errors"], serde_json::json!([{"description": message}]), "{body}");
        assert_eq!(body["trackingId"], tracking.as_str(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_webex_generates_and_prints_a_token_when_given_none() {
    let (_child, lines) = start_sim(&["webex", "--listen", "127.0.0.1:0", "--empty"], &[]).await;
    let base = field(&lines, "base URL").to_owned();
    let token = field(&lines, "bearer token").to_owned();
    assert!(!lines.iter().any(|l| l.contains("@contoso.example")), "--empty adds nobody: {lines:#?}");
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/meetings"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "title": "Sync", "start": "2030-05-06T10:00:00Z", "end": "2030-05-06T11:00:00Z"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_device_serves_its_devices_with_the_printed_account() {
    let (_child, lines) =
        start_sim(&["device", "--listen", "127.0.0.1:0", "--device", "room-7", "--device", "old-1=legacy"], &[]).await;
    let base = field(&lines, "base URL").to_owned();
    let account = field(&lines, "admin account").to_owned();
    let (username, password) = account.split_once(" / ").unwrap();
    let address = |id: &str| {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(id).map(|rest| rest.split_whitespace().last().unwrap().to_owned()))
    };
    let room = address("room-7").unwrap();
    assert!(address("old-1").is_some_and(|a| a.ends_with("/devices/old-1")), "{lines:#?}");
    let json = r#"{"Bookings":[{"Id":"1","Title":"Sync","Number":"room@video.example.com","Protocol":"SIP","Organizer":{"Name":"Facilities"},"Time":{"StartTime":"2030-05-06T10:00:00Z","Duration":30}}]}"#;
    let command = format!("<Command><Bookings><Put><body>{json}</body></Put></Bookings></Command>");
    let http = reqwest::Client::new();
    let put = |password: String| {
        http.post(format!("{room}/putxml")).basic_auth(username, Some(password)).body(command.clone()).send()
    };
    assert_eq!(put("wrong".into()).await.unwrap().status(), 401);
    let resp = put(password.to_owned()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("status=\"OK\""));
    let held: serde_json::Value =
        http.get(format!("{base}/_sim/devices/room-7/bookings")).send().await.unwrap().json().await.unwrap();
    assert_eq!(held["Bookings"][0]["Title"], "Sync");
}

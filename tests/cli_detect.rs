//! `hcal detect`: a Graph event on standard input or fields as options in, one JSON object out;
//! status 0 whether or not something was found, 2 on unreadable input.

// Helpers of a test: a failure to spawn or read the binary must fail the test.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn hcal(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .arg("detect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "one JSON object on one line: {text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_graph_event_on_stdin() {
    let event = serde_json::json!({
        "subject": "Design review",
        "location": {"displayName": "Board room; @webex:onetime"},
        "body": {
            "contentType": "html",
            "content": "<html><head><style>p{}</style></head><body><p>Join Zoom Meeting<br><a href=\"https://nam02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fus02web.zoom.us%2Fj%2F85123456789%3Fpwd%3Dabc&amp;data=05\">Click here</a></p><p>Join by SIP: 85123456789@zoomcrc.com</p><p><a href=\"https://aka.ms/JoinTeamsMeeting\">Help</a></p></body></html>"
        },
        "onlineMeeting": null
    });
    let v = json(&hcal(&[], &event.to_string()));
    assert_eq!(v["keyword"], serde_json::json!({"name": "webex", "modifier": "onetime"}));
    assert_eq!(
        v["join"],
        serde_json::json!({"provider": "zoom", "kind": "url", "address": "https://us02web.zoom.us/j/85123456789?pwd=abc", "source": "body"})
    );
    let candidates = v["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2, "{candidates:?}");
    assert_eq!(candidates[1]["address"], "sip:85123456789@zoomcrc.com");
    let explain = v["explain"].as_array().unwrap();
    assert!(explain.iter().any(|l| l["step"] == "ignored" && l["message"].as_str().unwrap().contains("aka.ms")));
    assert_eq!(explain.last().unwrap()["step"], "chosen");
}

#[test]
fn fields_as_options_and_the_structured_url_first() {
    let v = json(&hcal(
        &[
            "--location",
            "https://meet.google.com/abc-defg-hij",
            "--body",
            "see sip:alice@acme.webex.com",
            "--online-meeting-url",
            "https://teams.microsoft.com/meet/2345678901234?p=x",
        ],
        "",
    ));
    assert_eq!(v["join"]["provider"], "teams");
    assert_eq!(v["join"]["source"], "online_meeting");
    let sources: Vec<&str> =
        v["candidates"].as_array().unwrap().iter().map(|c| c["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["online_meeting", "location", "body"]);
}

#[test]
fn nothing_found_is_still_success() {
    let v = json(&hcal(&["--location", "Room 4", "--body-html", "<p>Agenda</p>"], ""));
    assert_eq!(v["join"], Value::Null);
    assert_eq!(v["keyword"], Value::Null);
    assert_eq!(v["candidates"], serde_json::json!([]));
    assert!(!v["explain"].as_array().unwrap().is_empty());
}

#[test]
fn unreadable_input_exits_2_with_a_message() {
    let out = hcal(&[], "this is not JSON");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("hcal detect: not a JSON Graph event"), "{err}");
}

#[test]
fn admin_rules_from_a_file_and_refused_rules() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("rules.toml");
    std::fs::write(
        &good,
        "[[rule]]\nname = \"room alias\"\npriority = 10\npattern = '(?i)room (\\d{3})'\nreplacement = \"room$1@video.contoso.com\"\n",
    )
    .unwrap();
    let v = json(&hcal(&["--location", "Room 101", "--rules", good.to_str().unwrap()], ""));
    assert_eq!(
        v["join"],
        serde_json::json!({"provider": "custom", "kind": "sip", "address": "sip:room101@video.contoso.com", "source": "location"})
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"name":"broken","priority":1,"pattern":"(unclosed","replacement":"x"}]"#).unwrap();
    let out = hcal(&["--location", "x", "--rules", bad.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("detection rule \"broken\": invalid pattern"));
}

#[test]
fn the_services_configuration_gives_its_keywords_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hcal.toml");
    std::fs::write(
        &config,
        r#"[service]
data_dir = "data"

[tenant]
id = "72f988bf-86f1-41af-91ab-2d7cd011db47"

[graph]
client_id = "0b1e9c1c-3a5d-4f7e-8c2a-6d9f0e1b2c3d"

[domain]
keywords = [{ keyword = "video", platform = "webex", default_mode = "myroom" }]

[[domain.rules]]
name = "vmr"
priority = 1
pattern = 'VMR (\d{6})'
replacement = "$1@vc.contoso.example"
"#,
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let v = json(&hcal(&["--location", "@video", "--config", path], ""));
    assert_eq!(v["keyword"]["name"], "video", "{v}");
    let v = json(&hcal(&["--location", "@webex", "--config", path], ""));
    assert!(v["keyword"].is_null(), "webex is not a keyword of this configuration: {v}");
    let v = json(&hcal(&["--location", "VMR 123456", "--config", path], ""));
    assert_eq!(v["join"]["address"], "sip:123456@vc.contoso.example", "{v}");
    let out = hcal(&["--location", "x", "--config", dir.path().join("missing.toml").to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
}

//! The `hcal` binary: `--help` lists the subcommands, and `hcal sim graph` serves a working
//! Graph simulator with a demo tenant whose printed credentials obtain a token.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_graph_serves_a_demo_tenant() {
    let child = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["sim", "graph", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
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

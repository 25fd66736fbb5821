//! `hcal config check`: a good file with its secrets passes (warning about a plain-http public
//! URL); a bad one is refused with every problem on its own line, missing secrets all at once.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

const GOOD: &str = r#"
[service]
data_dir = "data"
public_url = "https://hcal.contoso.example"

[tenant]
id = "72f988bf-86f1-41af-91ab-2d7cd011db47"

[graph]
client_id = "0b1e9c1c-3a5d-4f7e-8c2a-6d9f0e1b2c3d"
"#;

fn check(text: &str, vars: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hcal.toml");
    std::fs::write(&file, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["config", "check"])
        .arg(&file)
        .env_remove("HCAL_GRAPH_CLIENT_SECRET")
        .env_remove("HCAL_WEBEX_TOKEN")
        .env_remove("HCAL_API_TOKEN")
        .env_remove("HCAL_KMS_TOKEN")
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

const SECRETS: [(&str, &str); 3] =
    [("HCAL_GRAPH_CLIENT_SECRET", "s"), ("HCAL_WEBEX_TOKEN", "t"), ("HCAL_API_TOKEN", "a")];

#[test]
fn a_good_file_with_its_secrets_passes() {
    let out = check(GOOD, &SECRETS);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok (0 warnings)"), "{stdout}");
}

#[test]
fn every_missing_secret_is_named_at_once_and_plain_http_is_warned_about() {
    let text = GOOD.replace("https://hcal.contoso.example", "http://hcal.contoso.example");
    let out = check(&text, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for name in ["HCAL_GRAPH_CLIENT_SECRET", "HCAL_WEBEX_TOKEN", "HCAL_API_TOKEN"] {
        assert!(stderr.contains(&format!("environment variable {name} is not set")), "{name}: {stderr}");
    }
    assert!(stderr.contains("warning: service.public_url is http://"), "{stderr}");
    assert!(stderr.contains("3 problems"), "{stderr}");
}

#[test]
fn every_bad_value_is_named_on_its_own_line() {
    let text = format!(
        "{GOOD}\n[presence]\ncadence = \"1s\"\nbatch_size = 40\n\n[[presence.sinks]]\nkind = \"webhook\"\nurl = \"https://hooks.example.org\"\nsecret_env = \"HOOK\"\n"
    );
    let out = check(&text, &SECRETS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.iter().any(|l| l.contains("cadence must be")), "{stderr}");
    assert!(lines.iter().any(|l| l.contains("batch_size must be")), "{stderr}");

    // Values fixed: the sink's secret is missing, then present but not a signing secret.
    let text = text.replace("cadence = \"1s\"\nbatch_size = 40\n", "");
    let out = check(&text, &SECRETS);
    assert!(String::from_utf8_lossy(&out.stderr).contains("environment variable HOOK is not set"));
    let mut vars = SECRETS.to_vec();
    vars.push(("HOOK", "not-a-secret"));
    let out = check(&text, &vars);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[[presence.sinks]] webhook (HOOK): the signing secret"), "{stderr}");
    assert!(!stderr.contains("not-a-secret"), "a secret is never printed: {stderr}");

    // Not TOML for hcal: the line and the field are named.
    let out = check(&format!("{GOOD}\n[servce]\nx = 1\n"), &SECRETS);
    assert!(String::from_utf8_lossy(&out.stderr).contains("servce"));
}

#[test]
fn a_transit_key_service_is_checked_and_its_token_is_a_secret_like_the_others() {
    let text = format!("{GOOD}\n[keys]\nkms = \"transit\"\nrotate_every = \"1m\"\n");
    let out = check(&text, &SECRETS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("keys.transit: kms = \"transit\" needs a [keys.transit] section"), "{stderr}");
    assert!(stderr.contains("keys.rotate_every: must be at least an hour"), "{stderr}");

    let text =
        format!("{GOOD}\n[keys]\nkms = \"transit\"\n\n[keys.transit]\nurl = \"https://bao.contoso.example:8200\"\n");
    let out = check(&text, &SECRETS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("environment variable HCAL_KMS_TOKEN is not set"), "{stderr}");
    let mut vars = SECRETS.to_vec();
    vars.push(("HCAL_KMS_TOKEN", "t"));
    let out = check(&text, &vars);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

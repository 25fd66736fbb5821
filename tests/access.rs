//! Who reads what: user tokens issued with `hcal tokens`, each opening its own user's meeting
//! list only; the admin token opening no user's list; revoked tokens opening nothing, also after
//! a restart; and no token or digest of one in the log or the store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Env, eventually};

const MEETINGS: &str = "meetings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

async fn status_of(env: &Env, user: &str, token: &str) -> u16 {
    let url = format!("{}/v1/users/{user}/{MEETINGS}", env.url());
    env.http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_token_reads_its_own_list_only_until_it_is_revoked() {
    let env = Env::new().await;
    let hcal = env.start("").await;
    let (alex, megan) = (env.user("alex"), env.user("megan"));
    for user in [&alex, &megan] {
        env.enable(user).await;
        env.wait_active(user).await;
    }
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(args)
            .args(["--url", &env.url()])
            .env("HCAL_API_TOKEN", &env.api_token)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Issued with the CLI: the token on stdout alone, its id on stderr.
    let (ok, stdout, stderr) = cli(&["tokens", "issue", "--user", &alex]);
    assert!(ok, "{stderr}");
    let alex_token = stdout.trim().to_owned();
    assert!(alex_token.starts_with("hcal_"), "{stdout}");
    assert!(stderr.contains("shows it only once"), "{stderr}");
    // Issued through the API: 201, and the token works at once.
    let resp = env
        .http
        .post(format!("{}/admin/v1/tokens", env.url()))
        .bearer_auth(&env.api_token)
        .json(&json!({"userId": megan}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let issued: Value = resp.json().await.unwrap();
    for field in ["id", "userId", "holder", "issuedAt", "revokedAt", "token"] {
        assert!(issued.get(field).is_some(), "{field} in {issued}");
    }
    assert_eq!(issued["holder"], json!({"kind": "user"}));
    let megan_token = issued["token"].as_str().unwrap().to_owned();

    // Each reads its own list; another user's is 403; the admin token reads none; no token,
    // a made-up one, or one cut short is 401.
    assert_eq!(status_of(&env, &alex, &alex_token).await, 200);
    assert_eq!(status_of(&env, &megan, &megan_token).await, 200);
    assert_eq!(status_of(&env, &megan, &alex_token).await, 403);
    assert_eq!(status_of(&env, &alex, &megan_token).await, 403);
    assert_eq!(status_of(&env, &alex, &env.api_token).await, 403);
    assert_eq!(status_of(&env, &alex, "").await, 401);
    assert_eq!(status_of(&env, &alex, &alex_token[..alex_token.len() - 1]).await, 401);
    let forged = format!("{}{}", &alex_token[..38], &megan_token[38..]);
    assert_eq!(status_of(&env, &alex, &forged).await, 401, "alex's id with megan's secret");
    // A user token is no admin token.
    let resp = env.http.get(format!("{}/admin/v1/tokens", env.url())).bearer_auth(&alex_token).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // Listed without the tokens.
    let (ok, table, stderr) = cli(&["tokens", "list", "--user", &alex]);
    assert!(ok, "{stderr}");
    let alex_id = table.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().to_owned();
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(!table.contains(&alex_token[38..]), "{table}");
    let (ok, listed, _) = cli(&["tokens", "list", "--json"]);
    assert!(ok);
    assert!(!listed.contains(&alex_token[38..]) && !listed.contains(&megan_token[38..]), "{listed}");
    assert_eq!(serde_json::from_str::<Value>(&listed).unwrap()["value"].as_array().unwrap().len(), 2);

    // Revoked: 401 at once; megan's still works.
    let (ok, out, stderr) = cli(&["tokens", "revoke", &alex_id]);
    assert!(ok, "{stderr}");
    assert!(out.contains("revoked at 20"), "{out}");
    assert_eq!(status_of(&env, &alex, &alex_token).await, 401);
    assert_eq!(status_of(&env, &megan, &megan_token).await, 200);
    // Errors name the server's reason.
    let (ok, _, stderr) = cli(&["tokens", "issue", "--user", "00000000-0000-0000-0000-00000000beef"]);
    assert!(!ok);
    assert!(stderr.contains("unknown_user"), "{stderr}");

    // After a restart: still revoked, still granted.
    drop(hcal);
    let _hcal = env.start("").await;
    assert_eq!(status_of(&env, &alex, &alex_token).await, 401);
    eventually("megan's token after the restart", Duration::from_secs(10), || async {
        (status_of(&env, &megan, &megan_token).await == 200).then_some(())
    })
    .await;

    // Neither secret is anywhere on disk: the log and the store hold digests, sealed.
    for token in [&alex_token, &megan_token] {
        let secret = &token[38..];
        for entry in walk(env.dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(!contains(&bytes, secret.as_bytes()), "{} holds a token's secret", entry.display());
        }
    }
    let events = env.records("mailbox-events").await;
    let issued: Vec<&Value> = events.iter().filter(|r| r["value"]["type"] == "TokenIssued").collect();
    assert_eq!(issued.len(), 2);
    assert!(issued.iter().all(|r| !r.to_string().contains("sha256:")), "the digest is sealed");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

//! `hcal explain`: the story of one invite, told from its mailbox's events through the admin
//! API, with its subject opened for the operator; another invite's events are not in it, and
//! only the admin token opens it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Env, blocks, eventually, invite};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_of_an_invite_says_what_was_detected_written_and_skipped() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_resynced(&alex).await;
    let decorated = env.graph.create_event(&alex, invite("Roadmap review", "@webex", "<p>x</p>")).await.unwrap();
    let decorated = decorated["id"].as_str().unwrap().to_owned();
    let typo = env.graph.create_event(&alex, invite("Budget", "@webex:onetim", "<p>x</p>")).await.unwrap();
    let typo = typo["id"].as_str().unwrap().to_owned();
    eventually("decoration", WAIT, || async {
        (blocks(env.graph_event(&alex, &decorated).await["body"]["content"].as_str().unwrap_or("")) == 1).then_some(())
    })
    .await;

    let explain = |event: &str, token: &str| {
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(["explain", "--url", &env.url(), "--user", &alex, "--event", event])
            .env("HCAL_API_TOKEN", token)
            .output()
            .unwrap()
    };
    let story = eventually("the skip in the typo's story", WAIT, || async {
        let out = explain(&typo, &env.api_token);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("MeetingSkipped").then_some(text)
    })
    .await;
    assert!(story.contains("reason unknown_modifier"), "{story}");
    assert!(story.contains("keyword @webex:?"), "{story}");
    assert!(story.contains("subject \"Budget\""), "{story}");

    let out = explain(&decorated, &env.api_token);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let story = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = story.lines().collect();
    assert!(lines[0].contains("MeetingScheduled") && lines[0].contains("subject \"Roadmap review\""), "{story}");
    assert!(lines.iter().any(|l| l.contains("JoinInfoPatched") && l.contains("platform webex")), "{story}");
    assert!(!story.contains("Budget"), "another invite's events: {story}");

    // Only the admin token; a mailbox hcal never saw is named as such.
    let out = explain(&decorated, "not-the-token");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["explain", "--url", &env.url(), "--user", &env.user("megan"), "--event", &decorated])
        .env("HCAL_API_TOKEN", &env.api_token)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no events of this mailbox"));
}

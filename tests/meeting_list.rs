//! The meeting list as an app reads it: organiser, the user's own response, the organiser's
//! time zone, the private flag, and pages that follow each other through `nextLink`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Env, eventually};

fn invite(subject: &str, day: i64, private: bool) -> Value {
    let date = (chrono::Utc::now() + chrono::Duration::days(day)).date_naive();
    let at = |h: u32| date.and_hms_opt(h, 0, 0).unwrap().format("%Y-%m-%dT%H:%M:%S").to_string();
    json!({
        "subject": subject,
        "body": {"contentType": "html", "content": "<p>Notes</p>"},
        "start": {"dateTime": at(9), "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": at(10), "timeZone": "Pacific Standard Time"},
        "location": {"displayName": "Room 4"},
        "sensitivity": if private { "private" } else { "normal" },
        "attendees": [{"type": "required", "emailAddress": {"name": "Deniz Yılmaz", "address": "deniz@contoso.example"}}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_say_who_organises_how_the_user_answered_and_come_a_page_at_a_time() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    for user in [&alex, &deniz] {
        env.enable(user).await;
        env.wait_active(user).await;
    }
    for (n, private) in [(1, false), (2, true), (3, false)] {
        env.graph.create_event(&alex, invite(&format!("Planning {n}"), n, private)).await.unwrap();
    }
    let listed = |user: String| {
        let env = &env;
        async move {
            let rows = env.meetings(&user).await;
            (rows.len() == 3).then_some(rows)
        }
    };
    let alex_rows = eventually("alex's three meetings", Duration::from_secs(30), || listed(alex.clone())).await;
    let deniz_rows = eventually("deniz's copies", Duration::from_secs(30), || listed(deniz.clone())).await;
    let first = &alex_rows[0];
    assert_eq!(first["subject"], "Planning 1");
    assert_eq!(first["isOrganizer"], true);
    assert_eq!(first["responseStatus"], "organizer");
    assert_eq!(first["timeZone"], "Pacific Standard Time");
    assert_eq!(first["organizer"]["address"], "alex@contoso.example");
    assert_eq!(first["isPrivate"], false);
    assert_eq!(alex_rows[1]["isPrivate"], true);
    let copy = &deniz_rows[0];
    assert_eq!(copy["isOrganizer"], false);
    assert_eq!(copy["responseStatus"], "notResponded");
    assert_eq!(copy["organizer"]["address"], "alex@contoso.example");

    // A page at a time: limit 2, then the nextLink as given.
    let token = env.user_token(&alex).await;
    let get = |path: String| {
        let (env, token) = (&env, token.clone());
        async move {
            let resp = env.http.get(format!("{}{path}", env.url())).bearer_auth(token).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            resp.json::<Value>().await.unwrap()
        }
    };
    let one = get(format!("/v1/users/{alex}/meetings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&limit=2")).await;
    assert_eq!(one["value"].as_array().unwrap().len(), 2);
    let next = one["nextLink"].as_str().unwrap().to_owned();
    assert!(next.starts_with(&format!("/v1/users/{alex}/meetings?")), "{next}");
    let two = get(next).await;
    assert_eq!(two["value"].as_array().unwrap().len(), 1);
    assert_eq!(two["value"][0]["subject"], "Planning 3");
    assert!(two.get("nextLink").is_none(), "{two}");
}

/// One Server-Sent Event: its id, name and data.
#[derive(Debug, Clone)]
struct Frame {
    id: Option<u64>,
    event: String,
    data: Value,
}

/// Reads a stream's events into a channel until the connection ends.
fn follow(mut resp: reqwest::Response) -> tokio::sync::mpsc::UnboundedReceiver<Frame> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), Value::Null);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).unwrap();
                    }
                }
                if !event.is_empty() && tx.send(Frame { id, event, data }).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

async fn next(frames: &mut tokio::sync::mpsc::UnboundedReceiver<Frame>) -> Frame {
    tokio::time::timeout(Duration::from_secs(30), frames.recv())
        .await
        .expect("an event in time")
        .expect("the stream open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_tells_changes_in_order_a_join_notice_on_time_and_resumes_from_the_last_id() {
    let env = Env::new().await;
    let _hcal = env.start("controllable_clock = true").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let token = env.user_token(&alex).await;
    let open = |last: Option<u64>| {
        let (env, token, alex) = (&env, token.clone(), alex.clone());
        async move {
            let mut request = env.http.get(format!("{}/v1/users/{alex}/meetings/stream", env.url())).bearer_auth(token);
            if let Some(last) = last {
                request = request.header("Last-Event-ID", last.to_string());
            }
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            follow(resp)
        }
    };
    // Another user's stream, or no token: refused before anything is streamed.
    let megan = env.user("megan");
    let url = format!("{}/v1/users/{megan}/meetings/stream", env.url());
    assert_eq!(env.http.get(&url).bearer_auth(&token).send().await.unwrap().status(), 403);
    assert_eq!(env.http.get(&url).send().await.unwrap().status(), 401);

    let mut frames = open(None).await;
    let at = |minutes: i64| {
        (chrono::Utc::now() + chrono::Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M:%S").to_string()
    };
    let soon = |subject: &str, minutes: i64| {
        json!({
            "subject": subject,
            "body": {"contentType": "html", "content": "<p>x</p>"},
            "start": {"dateTime": at(minutes), "timeZone": "UTC"},
            "end": {"dateTime": at(minutes + 30), "timeZone": "UTC"},
            "location": {"displayName": "Room 4"}
        })
    };
    let created = env.graph.create_event(&alex, soon("Later today", 180)).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let first = next(&mut frames).await;
    assert_eq!((first.event.as_str(), first.data["subject"].as_str()), ("created", Some("Later today")));
    env.graph.update_event(&alex, &id, json!({"subject": "Later today (moved)"})).await.unwrap();
    let second = next(&mut frames).await;
    assert_eq!((second.event.as_str(), second.data["subject"].as_str()), ("updated", Some("Later today (moved)")));
    env.graph.delete_event(&alex, &id).await.unwrap();
    let third = next(&mut frames).await;
    assert_eq!((third.event.as_str(), third.data["eventId"].as_str()), ("cancelled", Some(id.as_str())));
    assert!(first.id < second.id && second.id < third.id, "ids grow: {first:?} {second:?} {third:?}");

    // Starting in ten minutes: nothing yet; six minutes on, the join notice.
    env.graph.create_event(&alex, soon("Stand-up", 10)).await.unwrap();
    let fourth = next(&mut frames).await;
    assert_eq!(fourth.event, "created");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(frames.try_recv().is_err(), "no join notice fifteen minutes early");
    let resp = env
        .http
        .post(format!("{}/admin/v1/testing/clock", env.url()))
        .bearer_auth(&env.api_token)
        .json(&json!({"advanceSeconds": 360}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let join = next(&mut frames).await;
    assert_eq!((join.event.as_str(), join.data["subject"].as_str(), join.id), ("join", Some("Stand-up"), None));

    // Reconnected after the first change: the rest again, in order, then the join notice of a
    // meeting already inside its notice time.
    let mut again = open(first.id).await;
    let names: Vec<(String, Option<u64>)> = {
        let mut names = Vec::new();
        for _ in 0..4 {
            let f = next(&mut again).await;
            names.push((f.event, f.id));
        }
        names
    };
    assert_eq!(
        names,
        vec![
            ("updated".to_owned(), second.id),
            ("cancelled".to_owned(), third.id),
            ("created".to_owned(), fourth.id),
            ("join".to_owned(), None),
        ]
    );
}

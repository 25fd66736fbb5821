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
